// The CPU loop over a Philox draw (core/philox.h layout: one block gives the values of 4 consecutive elements), for
// rng.cc and the dropout mask in act.cc. Full blocks take a fixed 4-lane path (a variable trip count costs 3x in
// branch mispredictions); the tail uses the next block's first lanes.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/parallel.h"
#include "core/philox.h"

namespace mrigan::cpu {

// Calls emit(block, element index, lane) for every element of an n-element draw; each block is computed once.
template <typename Emit>
inline void philox_for_each(size_t n, uint64_t seed, uint32_t stream, uint64_t offset, Emit emit) {
  constexpr int64_t kChunkBlocks = 1 << 12;
  const int64_t full = (int64_t)(n / 4);
  parallel_chunks(full, kChunkBlocks, [=](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      Philox4 r = philox_block(seed, stream, offset + (uint64_t)b);
      for (int l = 0; l < 4; ++l) emit(r, (size_t)b * 4 + l, l);
    }
  });
  if (n % 4) {
    Philox4 r = philox_block(seed, stream, offset + (uint64_t)full);
    for (size_t i = (size_t)full * 4; i < n; ++i) emit(r, i, (int)(i % 4));
  }
}

}  // namespace mrigan::cpu
