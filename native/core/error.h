// Errors thrown by the native library. The addon turns every mrigan::Error into a JS Error with the same text;
// nothing in native/ may abort the process on bad input.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace mrigan {

struct Error : std::runtime_error {
  explicit Error(const std::string& m) : std::runtime_error(m) {}
};

template <typename... A>
std::string cat(const A&... a) {
  std::ostringstream s;
  (s << ... << a);
  return s.str();
}

}  // namespace mrigan

#define MRIGAN_CHECK(cond, ...) \
  do { if (!(cond)) throw ::mrigan::Error(::mrigan::cat(__VA_ARGS__)); } while (0)
