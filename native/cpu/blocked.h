// Channel-blocked image layout for the direct convolution kernels (private to native/cpu), and the reorders between
// it and NCHW.
//
// Blocked: [n][cb = ⌈c/16⌉][hp][wp][16]: channel ci of sample b is lane ci % 16 of block ci / 16, and image pixel
// (y, x) sits at (top + y, left + x) of its block's hp × wp plane. Everything else is zero: the border (the conv's
// zero padding, stored, so kernels never test bounds) and the lanes of channels ≥ c in the last block. One pixel of
// one block is 16 consecutive floats (one 64-byte line), so a kernel that broadcasts the 16 channels of a pixel in
// turn reads one cache line.
//
// The reorders move 16 pixels × 16 channels at a time through an in-register transpose (AVX-512; a scalar loop
// elsewhere), threads over (sample, channel block) when `parallel`.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "core/parallel.h"

namespace mrigan::cpu {

struct BlockedGeom {
  int64_t n, c, h, w;  // the NCHW tensor
  int64_t top, left;   // zero rows above / columns left of the image in each plane
  int64_t hp, wp;      // plane rows / columns (≥ top + h, left + w)
  int64_t cb() const { return (c + 15) / 16; }
  int64_t plane() const { return hp * wp * 16; }  // floats per (sample, channel block)
  int64_t floats() const { return n * cb() * plane(); }
};

#if defined(__AVX512F__)
// r[i] lane j ↔ r[j] lane i. Two-source permutes only (vpermt2ps): GCC 12's unpack / shuffle_f32x4 intrinsics start
// from an "undefined" vector and draw -Wmaybe-uninitialized warnings wherever they are inlined.
inline void transpose16x16(__m512 r[16]) {
  // Index vectors: lane e takes element idx[e] of (a, b), b's elements numbered 16..31.
  const __m512i lo32 = _mm512_setr_epi32(0, 16, 1, 17, 4, 20, 5, 21, 8, 24, 9, 25, 12, 28, 13, 29);    // unpacklo_ps
  const __m512i hi32 = _mm512_setr_epi32(2, 18, 3, 19, 6, 22, 7, 23, 10, 26, 11, 27, 14, 30, 15, 31);  // unpackhi_ps
  const __m512i lo64 = _mm512_setr_epi32(0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29);    // unpacklo_pd
  const __m512i hi64 = _mm512_setr_epi32(2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31);  // unpackhi_pd
  const __m512i l01 = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);      // lanes a0 a1 b0 b1
  const __m512i l23 = _mm512_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);  // a2 a3 b2 b3
  const __m512i l02 = _mm512_setr_epi32(0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27);      // a0 a2 b0 b2
  const __m512i l13 = _mm512_setr_epi32(4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);    // a1 a3 b1 b3
  __m512 t[16];
  for (int i = 0; i < 8; ++i) {  // lane L of t[2i], t[2i+1]: (a4L, b4L, a4L+1, b4L+1), (a4L+2, b4L+2, a4L+3, b4L+3)
    t[2 * i] = _mm512_permutex2var_ps(r[2 * i], lo32, r[2 * i + 1]);
    t[2 * i + 1] = _mm512_permutex2var_ps(r[2 * i], hi32, r[2 * i + 1]);
  }
  __m512 u[16];  // u[4g + k], 128-bit lane L: column 4L + k of rows 4g .. 4g + 3
  for (int g = 0; g < 4; ++g) {
    u[4 * g] = _mm512_permutex2var_ps(t[4 * g], lo64, t[4 * g + 2]);
    u[4 * g + 1] = _mm512_permutex2var_ps(t[4 * g], hi64, t[4 * g + 2]);
    u[4 * g + 2] = _mm512_permutex2var_ps(t[4 * g + 1], lo64, t[4 * g + 3]);
    u[4 * g + 3] = _mm512_permutex2var_ps(t[4 * g + 1], hi64, t[4 * g + 3]);
  }
  for (int k = 0; k < 4; ++k) {  // 4×4 transpose of 128-bit lanes across u[k], u[4 + k], u[8 + k], u[12 + k]
    const __m512 v0 = _mm512_permutex2var_ps(u[k], l01, u[4 + k]), v1 = _mm512_permutex2var_ps(u[k], l23, u[4 + k]);
    const __m512 v2 = _mm512_permutex2var_ps(u[8 + k], l01, u[12 + k]), v3 = _mm512_permutex2var_ps(u[8 + k], l23, u[12 + k]);
    r[k] = _mm512_permutex2var_ps(v0, l02, v2);
    r[4 + k] = _mm512_permutex2var_ps(v0, l13, v2);
    r[8 + k] = _mm512_permutex2var_ps(v1, l02, v3);
    r[12 + k] = _mm512_permutex2var_ps(v1, l13, v3);
  }
}
#endif

// dst[ch·dst_ld + p] = src[p·src_ld + ch] (+ add[ch] when add) for p < np, ch < nc ≤ 16: pixel-major 16-channel
// vectors to channel rows.
inline void pixels_to_rows(const float* src, int64_t src_ld, int64_t np, int nc, float* dst, int64_t dst_ld,
                           const float* add = nullptr, bool leaky = false, float slope = 0.0f) {
  // leaky: then v > 0 ? v : slope·v, as act.cc's leaky_relu_forward (ReLU is slope 0), bit for bit
#if defined(__AVX512F__)
  const __m512 zero = _mm512_setzero_ps(), sl = _mm512_set1_ps(slope);
  for (int64_t p0 = 0; p0 < np; p0 += 16) {
    const int m = (int)std::min<int64_t>(16, np - p0);
    __m512 r[16];
    for (int p = 0; p < 16; ++p) r[p] = p < m ? _mm512_loadu_ps(src + (p0 + p) * src_ld) : _mm512_setzero_ps();
    transpose16x16(r);
    const __mmask16 k = (__mmask16)((1u << m) - 1);
    for (int ch = 0; ch < nc; ++ch) {
      __m512 v = add ? _mm512_add_ps(r[ch], _mm512_set1_ps(add[ch])) : r[ch];
      if (leaky) v = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, zero, _CMP_GT_OQ), _mm512_mul_ps(v, sl), v);
      _mm512_mask_storeu_ps(dst + ch * dst_ld + p0, k, v);
    }
  }
#else
  for (int ch = 0; ch < nc; ++ch)
    for (int64_t p = 0; p < np; ++p) {
      const float v = src[p * src_ld + ch] + (add ? add[ch] : 0.0f);
      dst[ch * dst_ld + p] = leaky && !(v > 0.0f) ? slope * v : v;
    }
#endif
}

// dst[p·dst_ld + ch] = src[ch·src_ld + p] for p < np, ch < 16, with 0 for ch ≥ nc: channel rows to pixel-major
// 16-channel vectors.
inline void rows_to_pixels(const float* src, int64_t src_ld, int64_t np, int nc, float* dst, int64_t dst_ld) {
#if defined(__AVX512F__)
  for (int64_t p0 = 0; p0 < np; p0 += 16) {
    const int m = (int)std::min<int64_t>(16, np - p0);
    const __mmask16 k = (__mmask16)((1u << m) - 1);
    __m512 r[16];
    for (int ch = 0; ch < 16; ++ch) r[ch] = ch < nc ? _mm512_maskz_loadu_ps(k, src + ch * src_ld + p0) : _mm512_setzero_ps();
    transpose16x16(r);
    for (int p = 0; p < m; ++p) _mm512_storeu_ps(dst + (p0 + p) * dst_ld, r[p]);
  }
#else
  for (int64_t p = 0; p < np; ++p)
    for (int ch = 0; ch < 16; ++ch) dst[p * dst_ld + ch] = ch < nc ? src[ch * src_ld + p] : 0.0f;
#endif
}

// dst (blocked, geometry g) = x [n, c, h, w] with its zero border and lanes.
inline void to_blocked(const float* x, const BlockedGeom& g, float* dst, bool parallel = true) {
  const int64_t cb = g.cb(), hw = g.h * g.w, row = g.wp * 16;
  auto plane = [&](int64_t it) {
    const int64_t b = it / cb, blk = it % cb;
    const int nc = (int)std::min<int64_t>(16, g.c - blk * 16);
    const float* src = x + (b * g.c + blk * 16) * hw;
    float* d = dst + it * g.plane();
    std::memset(d, 0, (size_t)(g.top * row) * sizeof(float));
    for (int64_t y = 0; y < g.h; ++y) {
      float* dr = d + (g.top + y) * row;
      std::memset(dr, 0, (size_t)(g.left * 16) * sizeof(float));
      rows_to_pixels(src + y * g.w, hw, g.w, nc, dr + g.left * 16, 16);
      std::memset(dr + (g.left + g.w) * 16, 0, (size_t)((g.wp - g.left - g.w) * 16) * sizeof(float));
    }
    std::memset(d + (g.top + g.h) * row, 0, (size_t)((g.hp - g.top - g.h) * row) * sizeof(float));
  };
  if (parallel) parallel_for(g.n * cb, plane);
  else for (int64_t it = 0; it < g.n * cb; ++it) plane(it);
}

// y [n, c, h, w] = the image part of src (blocked, geometry g), plus bias[c] and then (leaky) ReLU when given, as
// pixels_to_rows applies them.
inline void from_blocked(const float* src, const BlockedGeom& g, float* y, bool parallel = true, const float* bias = nullptr,
                         bool leaky = false, float slope = 0.0f) {
  const int64_t cb = g.cb(), hw = g.h * g.w, row = g.wp * 16;
  auto plane = [&](int64_t it) {
    const int64_t b = it / cb, blk = it % cb;
    const int nc = (int)std::min<int64_t>(16, g.c - blk * 16);
    const float* s = src + it * g.plane();
    for (int64_t yy = 0; yy < g.h; ++yy)
      pixels_to_rows(s + (g.top + yy) * row + g.left * 16, 16, g.w, nc, y + (b * g.c + blk * 16) * hw + yy * g.w, hw,
                     bias ? bias + blk * 16 : nullptr, leaky, slope);
  };
  if (parallel) parallel_for(g.n * cb, plane);
  else for (int64_t it = 0; it < g.n * cb; ++it) plane(it);
}

}  // namespace mrigan::cpu
