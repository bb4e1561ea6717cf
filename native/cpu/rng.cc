// Philox draws into a tensor. Element i of a draw at (seed, stream, offset) is philox_uniform / philox_normal of
// core/philox.h at index i; one Philox block feeds 4 consecutive elements, so the loops run over blocks (a fixed
// 4-lane path for full blocks, the tail separately) and parallel chunks start on block boundaries.
#include <cmath>

#include "core/parallel.h"
#include "core/philox.h"
#include "cpu/ops.h"
#include "cpu/philox_blocks.h"

namespace mrigan::cpu {

static constexpr int64_t kChunkBlocks = 1 << 12;

void rand_uniform(float* y, size_t n, uint64_t seed, uint32_t stream, uint64_t offset) {
  philox_for_each(n, seed, stream, offset, [=](const Philox4& r, size_t i, int l) { y[i] = philox_u01(r.v[l]); });
}

// Box-Muller exactly as philox_normal (same double expressions, so the same floats), but each pair's log, sqrt
// and angle are computed once for its two lanes: lanes (0, 1) use words (0, 1), lanes (2, 3) words (2, 3).
struct NormalPair { double rad, t; };
static inline NormalPair normal_pair(uint32_t a, uint32_t b) {
  double u1 = ((double)a + 1.0) * (1.0 / 4294967296.0);
  double u2 = (double)b * (1.0 / 4294967296.0);
  return {sqrt(-2.0 * log(u1)), 6.283185307179586476925286766559 * u2};
}

void rand_normal(float* y, size_t n, uint64_t seed, uint32_t stream, uint64_t offset) {
  const int64_t full = (int64_t)(n / 4);
  parallel_chunks(full, kChunkBlocks / 4, [=](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      Philox4 r = philox_block(seed, stream, offset + (uint64_t)b);
      NormalPair p = normal_pair(r.v[0], r.v[1]), q = normal_pair(r.v[2], r.v[3]);
      float* o = y + b * 4;
      o[0] = (float)(p.rad * cos(p.t));
      o[1] = (float)(p.rad * sin(p.t));
      o[2] = (float)(q.rad * cos(q.t));
      o[3] = (float)(q.rad * sin(q.t));
    }
  });
  if (n % 4) {
    Philox4 r = philox_block(seed, stream, offset + (uint64_t)full);
    for (size_t i = (size_t)full * 4; i < n; ++i) {
      int l = (int)(i % 4), pair = l & 2;
      NormalPair p = normal_pair(r.v[pair], r.v[pair + 1]);
      y[i] = (float)((l & 1) ? p.rad * sin(p.t) : p.rad * cos(p.t));
    }
  }
}

}  // namespace mrigan::cpu
