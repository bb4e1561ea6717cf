// CPU parallelism: OpenMP underneath, one knob (MRIGAN_THREADS, default the cores this process may run on). Kernels
// call parallel_for over independent work items; nesting is off, so a parallel kernel inside a parallel loop runs
// serially.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>
#include <omp.h>

namespace mrigan {

int num_threads();
void set_num_threads(int n);  // also marks the count as chosen, so share_cores leaves it
// A data-parallel rank whose CPUs (its affinity mask) overlap those of `sharing` ranks of its node, itself included:
// unless MRIGAN_THREADS or set_num_threads chose the count, take its CPUs / sharing threads (at least 1), so that
// ranks never oversubscribe the node's cores.
void share_cores(int sharing);

template <typename F>
inline void parallel_for(int64_t n, F&& f) {
  if (n <= 0) return;
  if (n == 1 || omp_in_parallel()) {
    for (int64_t i = 0; i < n; ++i) f(i);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) f(i);
}

// Splits [0, n) into contiguous chunks, one per thread: f(begin, end). For reductions with per-thread partials.
template <typename F>
inline void parallel_chunks(int64_t n, int64_t min_chunk, F&& f) {
  if (n <= 0) return;
  int64_t t = num_threads();
  if (omp_in_parallel() || n < 2 * min_chunk) t = 1;
  if (t > 1 && n / t < min_chunk) t = n / min_chunk;
  if (t <= 1) { f(int64_t(0), n); return; }

#pragma omp parallel for schedule(static) num_threads((int)t)
  for (int64_t c = 0; c < t; ++c) f(n * c / t, n * (c + 1) / t);
}

// f(lo, hi) over [0, n) in blocks of kParallelBlock elements (elementwise kernels: big enough to amortise the
// dispatch, small enough to balance).
constexpr int64_t kParallelBlock = 1 << 15;
template <typename F>
inline void parallel_blocks(size_t n, F&& f) {
  constexpr int64_t kBlock = kParallelBlock;
  int64_t nb = ((int64_t)n + kBlock - 1) / kBlock;
  parallel_for(nb, [&](int64_t b) {
    size_t lo = (size_t)b * kBlock, hi = lo + kBlock < n ? lo + kBlock : n;
    f(lo, hi);
  });
}

// Pieces of at most `chunk` elements over several tensors, so that many small tensors (BN) and a few large ones
// (conv weights) balance across threads as one parallel_for (adam_step, first_non_finite).
struct Piece {
  int64_t t, lo, hi;  // tensor index, element range
};
inline std::vector<Piece> tensor_pieces(const int64_t* sizes, int64_t count, int64_t chunk) {
  std::vector<Piece> pieces;
  for (int64_t t = 0; t < count; ++t)
    for (int64_t lo = 0; lo < sizes[t]; lo += chunk) pieces.push_back({t, lo, std::min(sizes[t], lo + chunk)});
  return pieces;
}

}  // namespace mrigan
