// Winograd convolution for 4×4 stride-2 layers (the DCGAN convs and conv-transposes).
//
// Forward. A 4×4 stride-2 conv is four 2×2 stride-1 convs, one per input phase (row and column parity): with
// r = 2a + i and s = 2b + j, y[p, q] = Σ_{c, i, j} Σ_{a, b ∈ {0, 1}} w[c, 2a+i, 2b+j] · x[2p − pt + 2a + i, 2q − pl + 2b + j],
// so the 4·C (phase, channel) pairs are the input channels of one 2×2 conv.
// Backward-data. Each phase of dx is one 2×2 conv of dy: for dx rows with (y + pt) = 2u + i (and columns alike),
// dx[u, v] = Σ_{o, a, b} w[o, 2(1−a)+i, 2(1−b)+j] · dy[o, u − 1 + a, v − 1 + b], so the 4·C (phase, channel) pairs
// are the output channels of one 2×2 conv over dy's K channels.
// Either 2×2 conv runs as Winograd F(M×M, 2×2), M = 3 or 4 (tile_for picks per pass): an M×M output tile from an
// (M+1)² input tile with NT = (M+1)² products instead of 4M² (16 for 36, or 25 for 64), i.e. NT GEMMs carry 2.25× or
// 2.56× fewer multiply-adds than the direct kernel. F(3×3)'s transforms (points 0, 1, −1, ∞) hold only 0, ±1 and ½;
// F(4×4) needs a fifth point (2) and with it ⅙ in G, which no choice of dyadic points avoids — so an output whose own
// terms are all zero (one that reads only padding) comes out at rounding level of its tile's values, not exactly 0.
// The matrices are in Fm below; the tests bound the error against float64.
// Per t the GEMM is M_t[R × tiles] = U_t[R × X] · V_t[X × tiles] (forward: R = K filters, X = 4·Cp; backward-data:
// R = 4·Cp, X = Kp; Cp, Kp = C, K rounded up to 16; phase-major rows ph·Cp + c), on the register tile of
// gemm_kernel.h with both operands already in its packed layouts:
//   U_t  A strips of MR rows per KC slice (the weight transform, once per call);
//   V_t  one B strip of NR tiles, written by the input transform: it works on 16 channels a vector (the input in the
//        channel-blocked layout of blocked.h), 16 tiles at a time, and turns each 16 tiles × 16 channels block into
//        channel rows of 16 tiles with one in-register transpose;
//   M_t  [R][NR], read back 16 tiles × 16 rows at a time and transposed for the output transform, which writes a
//        blocked output that is reordered to NCHW (with the bias and the activation).
// Each thread takes whole strips of NR tiles through all three steps, so V and M stay near (in L2 for F(3×3) up to
// D3); each output is summed in a fixed order, whatever the batch around it or the thread count. AVX-512 only (the
// transposes); elsewhere the direct and GEMM kernels take these layers.
#include <algorithm>
#include <cstring>
#include <type_traits>

#include "core/parallel.h"
#include "cpu/blocked.h"
#include "cpu/conv_wino.h"
#include "cpu/gemm.h"
#include "cpu/gemm_kernel.h"

namespace mrigan::cpu {

namespace {

// Scratch slots: past those of conv.cc (0–5), conv_direct (8–13) and gemm.cc (14, 15).
enum Slot { kIn = 16, kOut = 17, kU = 18, kV = 19, kM = 20, kSlotGemmA = 21, kSlotGemmB = 22, kPack = 23 };

int64_t round_up(int64_t a, int64_t m) { return (a + m - 1) / m * m; }

#if defined(__AVX512F__)
typedef __m512 V16;
inline V16 ld(const float* p) { return _mm512_load_ps(p); }
inline void st(float* p, V16 v) { _mm512_store_ps(p, v); }
inline V16 add(V16 a, V16 b) { return _mm512_add_ps(a, b); }
inline V16 sub(V16 a, V16 b) { return _mm512_sub_ps(a, b); }

// The transforms of F(M×M, 2×2) along one axis: tile size M = 3 or 4, window A = M + 1, A² products per tile.
//   M = 3 (points 0, 1, −1, ∞)            M = 4 (points 0, 1, −1, 2, ∞)
//   Bᵀ = [1 0 −1 0; 0 1 1 0;               Bᵀ = [2 −1 −2 1 0; 0 2 1 −1 0; 0 2 −3 1 0; 0 −1 0 1 0; 0 2 −1 −2 1]
//         0 −1 1 0; 0 −1 0 1]
//   G  = [1 0; ½ ½; ½ −½; 0 1]             G  = [½ 0; ½ ½; −⅙ ⅙; ⅙ ⅓; 0 1]
//   Aᵀ = [1 1 1 0; 0 1 −1 0; 0 1 1 1]      Aᵀ = [1 1 1 1 0; 0 1 −1 2 0; 0 1 1 4 0; 0 1 −1 8 1]
template <int M>
struct Fm {
  static constexpr int A = M + 1, NT = A * A;
  // Bᵀ d
  static void bt(const V16 d[A], V16 o[A]) {
    if constexpr (M == 3) {
      o[0] = sub(d[0], d[2]);
      o[1] = add(d[1], d[2]);
      o[2] = sub(d[2], d[1]);
      o[3] = sub(d[3], d[1]);
    } else {
      const V16 t = sub(d[3], d[1]);
      o[0] = _mm512_fmadd_ps(_mm512_set1_ps(2.0f), sub(d[0], d[2]), t);
      o[1] = sub(add(d[1], d[2]), t);
      o[2] = _mm512_fmadd_ps(_mm512_set1_ps(3.0f), sub(d[1], d[2]), t);
      o[3] = t;
      o[4] = _mm512_fnmadd_ps(_mm512_set1_ps(2.0f), t, sub(d[4], d[2]));
    }
  }
  // Aᵀ m (A → M)
  static void at(const V16 m[A], V16 o[M]) {
    const V16 s = add(m[1], m[2]);
    if constexpr (M == 3) {
      o[0] = add(m[0], s);
      o[1] = sub(m[1], m[2]);
      o[2] = add(s, m[3]);
    } else {
      const V16 d = sub(m[1], m[2]);
      o[0] = add(add(m[0], s), m[3]);
      o[1] = _mm512_fmadd_ps(_mm512_set1_ps(2.0f), m[3], d);
      o[2] = _mm512_fmadd_ps(_mm512_set1_ps(4.0f), m[3], s);
      o[3] = add(_mm512_fmadd_ps(_mm512_set1_ps(8.0f), m[3], d), m[4]);
    }
  }
  // A y (M → A): the weight gradient's transform of a dy tile
  static void ay(const V16 y[M], V16 o[A]) {
    if constexpr (M == 3) {
      o[0] = y[0]; o[1] = add(add(y[0], y[1]), y[2]); o[2] = add(sub(y[0], y[1]), y[2]); o[3] = y[2];
    } else {
      const V16 e = add(y[0], y[2]), f = add(y[1], y[3]);
      o[0] = y[0]; o[1] = add(e, f); o[2] = sub(e, f);
      o[3] = _mm512_fmadd_ps(_mm512_set1_ps(8.0f), y[3], _mm512_fmadd_ps(_mm512_set1_ps(4.0f), y[2], _mm512_fmadd_ps(_mm512_set1_ps(2.0f), y[1], y[0])));
      o[4] = y[3];
    }
  }
  // G g (2 → A), on the weights
  static void g2(const float g[2], float u[A]) {
    if constexpr (M == 3) {
      u[0] = g[0]; u[1] = 0.5f * (g[0] + g[1]); u[2] = 0.5f * (g[0] - g[1]); u[3] = g[1];
    } else {
      u[0] = 0.5f * g[0]; u[1] = 0.5f * (g[0] + g[1]); u[2] = (g[1] - g[0]) / 6.0f; u[3] = g[0] / 6.0f + g[1] / 3.0f; u[4] = g[1];
    }
  }
  // Gᵀ m (A → 2), on the weight gradient (16 channels a vector)
  static void gt(const V16 m[A], V16 o[2]) {
    if constexpr (M == 3) {
      o[0] = m[0] + 0.5f * (m[1] + m[2]);
      o[1] = 0.5f * (m[1] - m[2]) + m[3];
    } else {
      o[0] = 0.5f * (m[0] + m[1]) + (m[3] - m[2]) / 6.0f;
      o[1] = 0.5f * m[1] + m[2] / 6.0f + m[3] / 3.0f + m[4];
    }
  }
};

// U_t for t < NT, each rows × X packed as A strips (element (r, x) of slice pc at pc·Rq + (r / MR)·MR·kc +
// (x − pc)·MR + r % MR). g_of(r, x, g) fills the 2×2 kernel g[a][b] of row r, column x, or returns false for zeros.
// An item is one strip of MR rows over one KC slice: its NT runs of MR·kc floats are built in a local buffer and
// copied out whole (stored straight, the NT streams lie a multiple of 4 KB apart and fight over one L1 set: a third
// of D4's time).
template <int M, class G>
void pack_weights(float* U, int64_t rows, int64_t X, G&& g_of) {
  using F = Fm<M>;
  const int64_t Rq = round_up(rows, MR), strips = Rq / MR, slices = (X + KC - 1) / KC;
  parallel_for(slices * strips, [&](int64_t it) {
    const int64_t pc = it / strips * KC, kc = std::min<int64_t>(KC, X - pc), r0 = it % strips * MR;
    float* buf = scratch(kPack, F::NT * MR * KC);  // this thread's
    for (int64_t x = pc; x < pc + kc; ++x)
      for (int64_t r = r0; r < r0 + MR; ++r) {
        float g[2][2], u[F::NT] = {};
        if (r < rows && g_of(r, x, g)) {
          float t[F::A][2];  // G g, then (G g) Gᵀ
          for (int b = 0; b < 2; ++b) {
            const float col[2] = {g[0][b], g[1][b]};
            float o[F::A];
            F::g2(col, o);
            for (int a = 0; a < F::A; ++a) t[a][b] = o[a];
          }
          for (int a = 0; a < F::A; ++a) F::g2(t[a], u + a * F::A);
        }
        for (int e = 0; e < F::NT; ++e) buf[e * MR * kc + (x - pc) * MR + (r - r0)] = u[e];
      }
    for (int e = 0; e < F::NT; ++e)
      std::memcpy(U + e * X * Rq + pc * Rq + r0 * kc, buf + e * MR * kc, sizeof(float) * (size_t)(MR * kc));
  });
}

// Bᵀ d B of one tile, 16 channels a vector: d[α][β] = win[(step·α + i)·row + (step·β + j)·16].
template <int M>
inline void tile_in(const float* win, int64_t row, int step, int i, int j, V16 out[Fm<M>::NT]) {
  using F = Fm<M>;
  V16 t[F::A][F::A];
  for (int b = 0; b < F::A; ++b) {
    V16 d[F::A], o[F::A];
    for (int a = 0; a < F::A; ++a) d[a] = _mm512_loadu_ps(win + (step * a + i) * row + (step * b + j) * 16);
    F::bt(d, o);
    for (int a = 0; a < F::A; ++a) t[a][b] = o[a];
  }
  for (int a = 0; a < F::A; ++a) F::bt(t[a], out + F::A * a);
}

// Input transform of 16 tiles × 16 channels (win[l] null: a tile past the end, zeros) into channel rows of 16 tiles
// at vdst + t·tstride + ch·NR.
template <int M>
void transform_in(const float* const win[16], int64_t row, int step, int i, int j, float* vdst, int64_t tstride) {
  constexpr int NT = Fm<M>::NT;
  alignas(64) float tmp[NT][16][16];  // [t][tile][channel]
  for (int l = 0; l < 16; ++l) {
    V16 o[NT];
    if (win[l]) tile_in<M>(win[l], row, step, i, j, o);
    else for (int e = 0; e < NT; ++e) o[e] = _mm512_setzero_ps();
    for (int e = 0; e < NT; ++e) st(tmp[e][l], o[e]);
  }
  for (int e = 0; e < NT; ++e) {
    __m512 r[16];
    for (int l = 0; l < 16; ++l) r[l] = ld(tmp[e][l]);
    transpose16x16(r);  // r[ch] = channel ch of the 16 tiles
    for (int ch = 0; ch < 16; ++ch) st(vdst + e * tstride + ch * NR, r[ch]);
  }
}

// Output transform of 16 tiles × 16 rows of M (rows at ms + t·tstride + r·NR, 16 tiles each; rows ≥ nrows are
// zeros): put(l, y) takes tile l's M×M outputs, 16 rows a vector.
template <int M, class Put>
void transform_out(const float* ms, int64_t tstride, int nrows, int tiles, Put&& put) {
  using F = Fm<M>;
  alignas(64) float tmp[F::NT][16][16];  // [t][tile][row]
  for (int e = 0; e < F::NT; ++e) {
    __m512 r[16];
    for (int k = 0; k < 16; ++k) r[k] = k < nrows ? ld(ms + e * tstride + k * NR) : _mm512_setzero_ps();
    transpose16x16(r);
    for (int l = 0; l < 16; ++l) st(tmp[e][l], r[l]);
  }
  for (int l = 0; l < tiles; ++l) {
    V16 u[M][F::A], y[M][M];
    for (int b = 0; b < F::A; ++b) {
      V16 col[F::A], o[M];
      for (int a = 0; a < F::A; ++a) col[a] = ld(tmp[a * F::A + b][l]);
      F::at(col, o);
      for (int a = 0; a < M; ++a) u[a][b] = o[a];
    }
    for (int a = 0; a < M; ++a) F::at(u[a], y[a]);
    put(l, y);
  }
}

// The NT planes of V and M (a strip's, or the weight gradient's blocks) lie tplane(size) floats apart: 1 KB more than
// their size (a multiple of 4 KB), so that the NT runs the transforms walk side by side do not all fall into the same
// L1 sets (no gain was measurable on D4; it rules the conflict out).
inline int64_t tplane(int64_t floats) { return floats + 256; }
inline int64_t tstride(int64_t rows) { return tplane(rows * NR); }

// M_t = U_t · V_t for t < NT on one strip: U as pack_weights leaves it (rows × X), V_t at vs + t·tstride(X), M_t at
// ms + t·tstride(rows).
template <int M>
void strip_gemm(const float* U, int64_t rows, int64_t X, const float* vs, float* ms) {
  const int64_t Rq = round_up(rows, MR);
  for (int t = 0; t < Fm<M>::NT; ++t) {
    const float* Ut = U + t * X * Rq;
    const float* Vt = vs + t * tstride(X);
    auto pa = [&](int64_t ic, int64_t, int64_t pc, int64_t kc, float*) { return Ut + pc * Rq + ic * kc; };
    auto pb = [&](int64_t pc, int64_t, int64_t, int64_t, float*) { return Vt + pc * NR; };
    gemm_serial(rows, NR, X, NR, pa, pb, store_into(ms + t * tstride(rows), NR, 0.0f), nullptr, nullptr);
  }
}

// The grid of M×M output tiles over n images of rows × cols: tile index ↔ (sample, tile row, tile column).
struct Tiles {
  int64_t n, rows, cols;  // tiles per image: rows × cols
  int64_t count() const { return n * rows * cols; }
  void at(int64_t tile, int64_t& b, int64_t& r, int64_t& c) const {
    b = tile / (rows * cols);
    r = tile / cols % rows;
    c = tile % cols;
  }
};

// x blocked with the conv's zero padding and room for every tile's (2M + 2)² window (forward and weight gradient).
template <int M>
BlockedGeom input_geom(const ConvShape& s, const Tiles& g) {
  return {s.n, s.c, s.h, s.w, s.pad_t, s.pad_l, std::max(2 * M * g.rows + 2, s.pad_t + s.h), std::max(2 * M * g.cols + 2, s.pad_l + s.w)};
}

// ---------------------------------------------------------------- the three passes, per tile size M
template <int M>
void forward_m(const float* x, const float* w, const float* bias, float* y, const ConvShape& s, bool leaky, float slope) {
  constexpr int NT = Fm<M>::NT;
  const Tiles grid{s.n, (s.p + M - 1) / M, (s.q + M - 1) / M};
  const int64_t T = grid.count(), strips = (T + NR - 1) / NR;
  const int64_t cb = (s.c + 15) / 16, Cp = cb * 16, X = 4 * Cp, kb = (s.k + 15) / 16;
  float* U = scratch(kU, NT * X * round_up(s.k, MR));
  pack_weights<M>(U, s.k, X, [&](int64_t k, int64_t cx, float g[2][2]) {
    const int64_t ph = cx / Cp, c = cx % Cp, i = ph / 2, j = ph % 2;
    if (c >= s.c) return false;
    for (int a = 0; a < 2; ++a)
      for (int b = 0; b < 2; ++b) g[a][b] = w[((k * s.c + c) * 4 + 2 * a + i) * 4 + 2 * b + j];
    return true;
  });
  // y blocked over whole tiles
  const BlockedGeom gx = input_geom<M>(s, grid), gy{s.n, s.k, s.p, s.q, 0, 0, M * grid.rows, M * grid.cols};
  float* xb = scratch(kIn, gx.floats());
  float* yb = scratch(kOut, gy.floats());
  to_blocked(x, gx, xb, num_threads() > 1);
  const int64_t xrow = gx.wp * 16, yrow = gy.wp * 16;
  parallel_for(strips, [&](int64_t sp) {
    float* vs = scratch(kV, NT * tstride(X));
    float* ms = scratch(kM, NT * tstride(s.k));
    for (int h = 0; h < NR / 16; ++h)
      for (int64_t blk = 0; blk < cb; ++blk) {
        const float* win[16];
        for (int l = 0; l < 16; ++l) {
          const int64_t tile = sp * NR + h * 16 + l;
          int64_t b, tp, tq;
          grid.at(tile, b, tp, tq);
          win[l] = tile < T ? xb + (b * cb + blk) * gx.plane() + 2 * M * (tp * xrow + tq * 16) : nullptr;
        }
        for (int ph = 0; ph < 4; ++ph) transform_in<M>(win, xrow, 2, ph / 2, ph % 2, vs + (ph * Cp + blk * 16) * NR + h * 16, tstride(X));
      }
    strip_gemm<M>(U, s.k, X, vs, ms);
    for (int h = 0; h < NR / 16; ++h)
      for (int64_t blk = 0; blk < kb; ++blk) {
        const int64_t tile0 = sp * NR + h * 16;
        transform_out<M>(ms + blk * 16 * NR + h * 16, tstride(s.k), (int)std::min<int64_t>(16, s.k - blk * 16),
                         (int)std::max<int64_t>(0, std::min<int64_t>(16, T - tile0)), [&](int l, V16 o[M][M]) {
          int64_t b, tp, tq;
          grid.at(tile0 + l, b, tp, tq);
          float* at = yb + (b * kb + blk) * gy.plane() + M * (tp * yrow + tq * 16);
          for (int a = 0; a < M; ++a)
            for (int c = 0; c < M; ++c) st(at + a * yrow + c * 16, o[a][c]);
        });
      }
  });
  from_blocked(yb, gy, y, num_threads() > 1, bias, leaky, slope);
}

template <int M>
void backward_data_m(const float* dy, const float* w, float* dx, const ConvShape& s) {
  constexpr int NT = Fm<M>::NT;
  // Phase-grid rows u cover dx rows y = 2u + i − pt in [0, h) for both i: u ∈ [⌊pt/2⌋, ⌊(h − 1 + pt)/2⌋].
  const int64_t u0 = s.pad_t / 2, v0 = s.pad_l / 2;
  const Tiles grid{s.n, ((s.h - 1 + s.pad_t) / 2 - u0 + M) / M, ((s.w - 1 + s.pad_l) / 2 - v0 + M) / M};
  const int64_t T = grid.count(), strips = (T + NR - 1) / NR;
  const int64_t cb = (s.c + 15) / 16, Cp = cb * 16, R = 4 * Cp, kb = (s.k + 15) / 16, X = kb * 16;
  float* U = scratch(kU, NT * X * round_up(R, MR));
  pack_weights<M>(U, R, X, [&](int64_t f, int64_t o, float g[2][2]) {
    const int64_t ph = f / Cp, c = f % Cp, i = ph / 2, j = ph % 2;
    if (c >= s.c || o >= s.k) return false;
    for (int a = 0; a < 2; ++a)
      for (int b = 0; b < 2; ++b) g[a][b] = w[((o * s.c + c) * 4 + 2 * (1 - a) + i) * 4 + 2 * (1 - b) + j];
    return true;
  });
  // dy blocked with one zero row / column before it (window rows u − 1 .. u + M) and room for the last tiles;
  // plane row of dy row r is r + 1, so tile (tu, tv) reads rows from u0 + M·tu.
  const BlockedGeom gd{s.n, s.k, s.p, s.q, 1, 1, std::max(u0 + M * grid.rows + 1, s.p + 1), std::max(v0 + M * grid.cols + 1, s.q + 1)};
  const BlockedGeom gx{s.n, s.c, s.h, s.w, 0, 0, s.h, s.w};
  float* db = scratch(kIn, gd.floats());
  float* xb = scratch(kOut, gx.floats());
  to_blocked(dy, gd, db, num_threads() > 1);
  const int64_t drow = gd.wp * 16, xrow = gx.wp * 16;
  parallel_for(strips, [&](int64_t sp) {
    float* vs = scratch(kV, NT * tstride(X));
    float* ms = scratch(kM, NT * tstride(R));
    for (int h = 0; h < NR / 16; ++h)
      for (int64_t blk = 0; blk < kb; ++blk) {
        const float* win[16];
        for (int l = 0; l < 16; ++l) {
          const int64_t tile = sp * NR + h * 16 + l;
          int64_t b, tu, tv;
          grid.at(tile, b, tu, tv);
          win[l] = tile < T ? db + (b * kb + blk) * gd.plane() + (u0 + M * tu) * drow + (v0 + M * tv) * 16 : nullptr;
        }
        transform_in<M>(win, drow, 1, 0, 0, vs + blk * 16 * NR + h * 16, tstride(X));
      }
    strip_gemm<M>(U, R, X, vs, ms);
    for (int h = 0; h < NR / 16; ++h)
      for (int ph = 0; ph < 4; ++ph)
        for (int64_t blk = 0; blk < cb; ++blk) {
          const int64_t tile0 = sp * NR + h * 16, i = ph / 2, j = ph % 2;
          transform_out<M>(ms + (ph * Cp + blk * 16) * NR + h * 16, tstride(R), 16, (int)std::max<int64_t>(0, std::min<int64_t>(16, T - tile0)),
                           [&](int l, V16 o[M][M]) {
            int64_t b, tu, tv;
            grid.at(tile0 + l, b, tu, tv);
            float* plane = xb + (b * cb + blk) * gx.plane();
            for (int a = 0; a < M; ++a) {
              const int64_t yy = 2 * (u0 + M * tu + a) + i - s.pad_t;
              if (yy < 0 || yy >= s.h) continue;
              for (int c = 0; c < M; ++c) {
                const int64_t xx = 2 * (v0 + M * tv + c) + j - s.pad_l;
                if (xx >= 0 && xx < s.w) st(plane + yy * xrow + xx * 16, o[a][c]);
              }
            }
          });
        }
  });
  from_blocked(xb, gx, dx, num_threads() > 1);
}

template <int M>
void backward_weight_m(const float* dy, const float* x, float* dw, const ConvShape& s) {
  // dw[k, c, 2a+i, 2b+j] = Σ_tiles Σ_{α,β} dy[M·tp+α, M·tq+β] · x_ij[M·tp+α+a, M·tq+β+b]: per tile the transpose of
  // the forward's linear map in g, dg = Gᵀ [(A dy Aᵀ) ⊙ (Bᵀ d B)] G, so per t one GEMM over the tiles,
  // S_t[K × 4·Cp] = Y_t[K × tiles] · V_tᵀ[tiles × 4·Cp], then dw += Gᵀ S G. Tiles go in blocks of TB through L3;
  // each S_t is summed by one thread in tile order, so the result does not depend on the thread count.
  using F = Fm<M>;
  constexpr int NT = F::NT, A = F::A;
  constexpr int64_t TB = 128;
  const Tiles grid{s.n, (s.p + M - 1) / M, (s.q + M - 1) / M};
  const int64_t T = grid.count();
  const int64_t cb = (s.c + 15) / 16, Cp = cb * 16, X = 4 * Cp, kb = (s.k + 15) / 16, Kp = kb * 16;
  const BlockedGeom gx = input_geom<M>(s, grid), gd{s.n, s.k, s.p, s.q, 0, 0, M * grid.rows, M * grid.cols};
  float* xb = scratch(kIn, gx.floats());
  float* db = scratch(kOut, gd.floats());
  to_blocked(x, gx, xb, num_threads() > 1);
  to_blocked(dy, gd, db, num_threads() > 1);
  const int64_t vt = tplane(TB * X), yt = tplane(TB * Kp);
  float* V = scratch(kV, NT * vt);  // [t][tile][4·Cp]
  float* Y = scratch(kU, NT * yt);  // [t][tile][Kp]
  float* S = scratch(kM, NT * s.k * X);   // [t][K][4·Cp]
  std::memset(S, 0, sizeof(float) * NT * s.k * X);
  const int64_t xrow = gx.wp * 16, drow = gd.wp * 16;
  for (int64_t t0 = 0; t0 < T; t0 += TB) {
    const int64_t nt = std::min(TB, T - t0), groups = (nt + 15) / 16;
    parallel_for(groups * (cb + kb), [&](int64_t it) {
      const int64_t g = it / (cb + kb), blk = it % (cb + kb);
      for (int l = 0; l < 16 && g * 16 + l < nt; ++l) {
        const int64_t tl = g * 16 + l;
        int64_t b, tp, tq;
        grid.at(t0 + tl, b, tp, tq);
        V16 o[NT];
        if (blk < cb) {  // x: four phases
          const float* win = xb + (b * cb + blk) * gx.plane() + 2 * M * (tp * xrow + tq * 16);
          for (int ph = 0; ph < 4; ++ph) {
            tile_in<M>(win, xrow, 2, ph / 2, ph % 2, o);
            for (int e = 0; e < NT; ++e) _mm512_storeu_ps(V + e * vt + tl * X + ph * Cp + blk * 16, o[e]);
          }
        } else {  // dy: A y Aᵀ of the M×M tile
          const int64_t kblk = blk - cb;
          const float* win = db + (b * kb + kblk) * gd.plane() + M * (tp * drow + tq * 16);
          V16 u[A][M];
          for (int c = 0; c < M; ++c) {
            V16 col[M], o2[A];
            for (int a = 0; a < M; ++a) col[a] = _mm512_loadu_ps(win + a * drow + c * 16);
            F::ay(col, o2);
            for (int a = 0; a < A; ++a) u[a][c] = o2[a];
          }
          for (int a = 0; a < A; ++a) {
            V16 m[A];
            F::ay(u[a], m);
            for (int c = 0; c < A; ++c) _mm512_storeu_ps(Y + (a * A + c) * yt + tl * Kp + kblk * 16, m[c]);
          }
        }
      }
    });
    parallel_for(NT, [&](int64_t t) {
      const float* Yt = Y + t * yt;
      const float* Vt = V + t * vt;
      float* abuf = scratch(kSlotGemmA, MC * TB);
      float* bbuf = scratch(kSlotGemmB, round_up(X, NR) * TB);
      auto pa = [&](int64_t ic, int64_t mc, int64_t pc, int64_t kc, float* buf) {
        pack_a(true, Yt, Kp, ic, mc, pc, kc, buf);
        return (const float*)buf;
      };
      auto pb = [&](int64_t pc, int64_t kc, int64_t jc, int64_t nc, float* buf) {
        for (int64_t j = 0; j < nc; j += NR) pack_b_strip(false, Vt, X, pc, kc, jc + j, (int)std::min<int64_t>(NR, nc - j), buf + j * kc);
        return (const float*)buf;
      };
      gemm_serial(s.k, X, nt, X, pa, pb, store_into(S + t * s.k * X, X, 1.0f), abuf, bbuf, TB);
    });
  }
  // dw += Gᵀ S G per (filter, phase, channel), 16 channels of one phase a vector
  parallel_for(s.k, [&](int64_t k) {
    for (int64_t cx0 = 0; cx0 < X; cx0 += 16) {
      const int64_t ph = cx0 / Cp, c0 = cx0 % Cp, i = ph / 2, j = ph % 2;
      if (c0 >= s.c) continue;
      V16 h[2][A];  // Gᵀ S along rows, per column b
      for (int b = 0; b < A; ++b) {
        V16 col[A], o[2];
        for (int a = 0; a < A; ++a) col[a] = ld(S + ((a * A + b) * s.k + k) * X + cx0);
        F::gt(col, o);
        h[0][b] = o[0];
        h[1][b] = o[1];
      }
      alignas(64) float out[2][2][16];  // [a][b][channel]
      for (int a = 0; a < 2; ++a) {
        V16 o[2];
        F::gt(h[a], o);
        st(out[a][0], o[0]);
        st(out[a][1], o[1]);
      }
      const int64_t nc = std::min<int64_t>(16, s.c - c0);
      for (int64_t l = 0; l < nc; ++l) {
        float* d = dw + (k * s.c + c0 + l) * 16;
        for (int a = 0; a < 2; ++a) {
          d[(2 * a + i) * 4 + j] += out[a][0][l];
          d[(2 * a + i) * 4 + 2 + j] += out[a][1][l];
        }
      }
    }
  });
}

#endif

}  // namespace

bool wino_applies(const ConvShape& s) {
#if defined(__AVX512F__)
  return s.r == 4 && s.s == 4 && s.stride_h == 2 && s.stride_w == 2 && s.n > 0 && s.c > 0 && s.k > 0 && s.p > 0 && s.q > 0 &&
         s.h > 0 && s.w > 0;
#else
  (void)s;
  return false;
#endif
}

// 4·Cp·K, the size of the 2×2 conv's weights (times NT once transformed).
static int64_t weight_floats(const ConvShape& s) { return 4 * round_up(s.c, 16) * s.k; }

// Where it pays (bench/ops, one thread, batch 8, bench/NOTES.md): full channel blocks both ways, at least two strips
// of tiles, and 4·C·K ≤ 131072 — the D2–D4 and G4–G6 shapes, 1.05–1.45× the direct kernel in every pass. From D5 / G3
// on (4·C·K = 524288) the transformed weights (34 MB for F(3×3)) are streamed from memory for every strip and it runs
// 1.5× slower than direct.
static bool wino_pays(const ConvShape& s) {
  const int64_t tiles = s.n * ((s.p + 2) / 3) * ((s.q + 2) / 3);
  return s.c >= 16 && s.k >= 16 && tiles >= 2 * NR && weight_floats(s) <= 131072;
}

bool wino_chosen(const ConvShape& s) {
  const int64_t k = conv_tuning().kernel;
  if (k == kConvGemm || k == kConvDirect || !wino_applies(s)) return false;
  return k == kConvWino || wino_pays(s);
}

#if defined(__AVX512F__)
enum Pass { kForward, kBackwardData, kWeightGrad };

// The tile per pass (same bench): F(4×4) does 25 products per 16 outputs against F(3×3)'s 16 per 9 and fits the
// 16×16…128×128 outputs without cut tiles, but its strip is 25/16 the size. It wins the forward pass where the
// weights are small (D2, D3: 15.5 / 12.6 ms against 16.9 / 13.6) and every weight gradient (D2–D4, G4–G6: 3–8 %);
// backward-data keeps F(3×3) (D4 15.1 ms against 22.1: its larger strip no longer fits in L2).
static int tile_for(const ConvShape& s, Pass pass) {
  const int64_t forced = conv_tuning().wino_tile;
  if (forced == 3 || forced == 4) return (int)forced;
  if (pass == kWeightGrad) return 4;
  return pass == kForward && weight_floats(s) <= 32768 ? 4 : 3;
}

// f(std::integral_constant<int, M>) for the tile M of this pass.
template <class F>
void with_tile(const ConvShape& s, Pass pass, F&& f) {
  if (tile_for(s, pass) == 4) f(std::integral_constant<int, 4>{});
  else f(std::integral_constant<int, 3>{});
}

bool conv_wino_forward(const float* x, const float* w, const float* bias, float* y, const ConvShape& s, bool leaky, float slope) {
  if (!wino_chosen(s)) return false;
  with_tile(s, kForward, [&](auto m) { forward_m<decltype(m)::value>(x, w, bias, y, s, leaky, slope); });
  return true;
}
bool conv_wino_backward_data(const float* dy, const float* w, float* dx, const ConvShape& s) {
  if (!wino_chosen(s)) return false;
  with_tile(s, kBackwardData, [&](auto m) { backward_data_m<decltype(m)::value>(dy, w, dx, s); });
  return true;
}
bool conv_wino_backward_weight(const float* dy, const float* x, float* dw, const ConvShape& s) {
  if (!wino_chosen(s)) return false;
  with_tile(s, kWeightGrad, [&](auto m) { backward_weight_m<decltype(m)::value>(dy, x, dw, s); });
  return true;
}
#else  // no AVX-512: the direct and GEMM kernels take every layer
bool conv_wino_forward(const float*, const float*, const float*, float*, const ConvShape&, bool, float) { return false; }
bool conv_wino_backward_data(const float*, const float*, float*, const ConvShape&) { return false; }
bool conv_wino_backward_weight(const float*, const float*, float*, const ConvShape&) { return false; }
#endif

}  // namespace mrigan::cpu
