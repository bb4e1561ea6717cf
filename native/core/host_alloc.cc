#include "core/host_alloc.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <unordered_map>

#include "core/error.h"

#if defined(__SANITIZE_ADDRESS__)
#define MRIGAN_HOST_CACHE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MRIGAN_HOST_CACHE 0
#endif
#endif
#ifndef MRIGAN_HOST_CACHE
#define MRIGAN_HOST_CACHE 1
#endif

namespace mrigan {
namespace {

constexpr size_t kHuge = size_t(2) << 20;  // transparent huge page size

size_t round_up(size_t a, size_t m) { return (a + m - 1) / m * m; }

struct HostCache {
  std::mutex mu;
  std::multimap<size_t, void*> free_blocks;      // real size → block
  std::unordered_map<void*, size_t> large_live;  // large blocks handed out → real size
  size_t live = 0, peak = 0, cached = 0, limit = 0;
  int64_t system_allocs = 0, hits = 0;

  HostCache() {
    const char* e = std::getenv("MRIGAN_HOST_CACHE_MB");
    char* end = nullptr;
    const double mb = e ? std::strtod(e, &end) : -1;
    if (e && end != e && mb >= 0) {
      limit = (size_t)(mb * 1048576.0);
    } else {
      const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
      limit = pages > 0 && page > 0 ? (size_t)pages * (size_t)page / 4 : size_t(1) << 30;
    }
    if (!MRIGAN_HOST_CACHE) limit = 0;
  }
  ~HostCache() { release_all(); }

  void release_all() {
    for (auto& [size, p] : free_blocks) std::free(p);
    free_blocks.clear();
    cached = 0;
  }
  void note_live(size_t bytes) {
    live += bytes;
    if (live > peak) peak = live;
  }
};

HostCache& cache() {
  static HostCache* c = new HostCache();  // never destroyed: tensors may be freed during static destruction
  return *c;
}

void* system_alloc(size_t real) {
  const size_t align = real >= 2 * kHuge ? kHuge : 64;
  void* p = std::aligned_alloc(align, real);
  MRIGAN_CHECK(p, "out of host memory allocating ", real, " bytes");
#ifdef MADV_HUGEPAGE
  if (align == kHuge) madvise(p, real, MADV_HUGEPAGE);  // advisory: ignored where THP is off
#endif
  return p;
}

}  // namespace

void* host_alloc(size_t bytes) {
  HostCache& c = cache();
  if (bytes < kHostCacheMin) {
    void* p = std::aligned_alloc(64, round_up(bytes ? bytes : 1, 64));
    MRIGAN_CHECK(p, "out of host memory allocating ", bytes, " bytes");
    std::lock_guard<std::mutex> g(c.mu);
    c.note_live(round_up(bytes ? bytes : 1, 64));
    return p;
  }
  const size_t real = round_up(bytes, bytes >= 2 * kHuge ? kHuge : 4096);
  {
    std::lock_guard<std::mutex> g(c.mu);
    auto it = c.free_blocks.lower_bound(real);  // smallest cached block that fits, if it wastes at most 1/8
    if (it != c.free_blocks.end() && it->first <= real + real / 8) {
      void* p = it->second;
      const size_t size = it->first;
      c.free_blocks.erase(it);
      c.cached -= size;
      c.large_live[p] = size;
      c.note_live(size);
      ++c.hits;
      return p;
    }
  }
  void* p = system_alloc(real);
  std::lock_guard<std::mutex> g(c.mu);
  c.large_live[p] = real;
  c.note_live(real);
  ++c.system_allocs;
  return p;
}

void host_free(void* p, size_t bytes) {
  if (!p) return;
  HostCache& c = cache();
  std::unique_lock<std::mutex> g(c.mu);
  if (bytes < kHostCacheMin) {
    c.live -= round_up(bytes ? bytes : 1, 64);
    g.unlock();
    std::free(p);
    return;
  }
  auto it = c.large_live.find(p);
  const size_t size = it != c.large_live.end() ? it->second : round_up(bytes, 4096);
  if (it != c.large_live.end()) c.large_live.erase(it);
  c.live -= size;
  if (c.cached + size <= c.limit) {
    c.free_blocks.emplace(size, p);
    c.cached += size;
    return;
  }
  g.unlock();
  std::free(p);
}

HostMemStats host_mem_stats() {
  HostCache& c = cache();
  std::lock_guard<std::mutex> g(c.mu);
  return {c.live, c.peak, c.cached, c.limit, c.system_allocs, c.hits};
}

void host_empty_cache() {
  HostCache& c = cache();
  std::lock_guard<std::mutex> g(c.mu);
  c.release_all();
}

void host_reset_peak() {
  HostCache& c = cache();
  std::lock_guard<std::mutex> g(c.mu);
  c.peak = c.live;
}

}  // namespace mrigan
