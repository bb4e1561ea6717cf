// Winograd convolution for 4×4 stride-2 layers (the DCGAN convs and conv-transposes).
//
// Forward. A 4×4 stride-2 conv is four 2×2 stride-1 convs, one per input phase (row and column parity): with
// r = 2a + i and s = 2b + j, y[p, q] = Σ_{c, i, j} Σ_{a, b ∈ {0, 1}} w[c, 2a+i, 2b+j] · x[2p − pt + 2a + i, 2q − pl + 2b + j],
// so the 4·C (phase, channel) pairs are the input channels of one 2×2 conv.
// Backward-data. Each phase of dx is one 2×2 conv of dy: for dx rows with (y + pt) = 2u + i (and columns alike),
// dx[u, v] = Σ_{o, a, b} w[o, 2(1−a)+i, 2(1−b)+j] · dy[o, u − 1 + a, v − 1 + b], so the 4·C (phase, channel) pairs
// are the output channels of one 2×2 conv over dy's K channels.
// Either 2×2 conv runs as Winograd F(3×3, 2×2): a 3×3 output tile from a 4×4 input tile with 16 products instead of
// 36, i.e. 16 GEMMs carry 2.25× fewer multiply-adds than the direct kernel. The transforms (points 0, 1, −1, ∞) hold
// only 0, ±1 and ½, so every transformed value is a short sum with exact coefficients and the error stays at the
// scale of the direct sum (the tests bound it against float64).
//   input   V = Bᵀ d B     Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 −1 0 1]
//   weight  U = G g Gᵀ     G  = [1 0; ½ ½; ½ −½; 0 1]
//   output  Y = Aᵀ M A     Aᵀ = [1 1 1 0; 0 1 −1 0; 0 1 1 1]
// Per t the GEMM is M_t[R × tiles] = U_t[R × X] · V_t[X × tiles] (forward: R = K filters, X = 4·Cp; backward-data:
// R = 4·Cp, X = Kp; Cp, Kp = C, K rounded up to 16; phase-major rows ph·Cp + c), on the register tile of
// gemm_kernel.h with both operands already in its packed layouts:
//   U_t  A strips of MR rows per KC slice (the weight transform, once per call);
//   V_t  one B strip of NR tiles, written by the input transform: it works on 16 channels a vector (the input in the
//        channel-blocked layout of blocked.h), 16 tiles at a time, and turns each 16 tiles × 16 channels block into
//        channel rows of 16 tiles with one in-register transpose;
//   M_t  [R][NR], read back 16 tiles × 16 rows at a time and transposed for the output transform, which writes a
//        blocked output that is reordered to NCHW (with the bias and the activation).
// Each thread takes whole strips of NR tiles through all three steps, so V and M stay in its L2; each output is
// summed in a fixed order, whatever the batch around it or the thread count. AVX-512 only (the transposes);
// elsewhere the direct and GEMM kernels take these layers.
#include <algorithm>
#include <cstring>

#include "core/parallel.h"
#include "cpu/blocked.h"
#include "cpu/conv_wino.h"
#include "cpu/gemm.h"
#include "cpu/gemm_kernel.h"

namespace mrigan::cpu {

namespace {

// Scratch slots: past those of conv.cc (0–5), conv_direct (8–13) and gemm.cc (14, 15).
enum Slot { kIn = 16, kOut = 17, kU = 18, kV = 19, kM = 20, kSlotGemmA = 21, kSlotGemmB = 22 };

int64_t round_up(int64_t a, int64_t m) { return (a + m - 1) / m * m; }

#if defined(__AVX512F__)
typedef __m512 V16;
inline V16 ld(const float* p) { return _mm512_load_ps(p); }
inline void st(float* p, V16 v) { _mm512_store_ps(p, v); }
inline V16 add(V16 a, V16 b) { return _mm512_add_ps(a, b); }
inline V16 sub(V16 a, V16 b) { return _mm512_sub_ps(a, b); }

// Bᵀ d along one axis.
inline void bt4(const V16 d[4], V16 o[4]) {
  o[0] = sub(d[0], d[2]);
  o[1] = add(d[1], d[2]);
  o[2] = sub(d[2], d[1]);
  o[3] = sub(d[3], d[1]);
}
// Aᵀ m along one axis (4 → 3).
inline void at4(const V16 m[4], V16 o[3]) {
  const V16 s = add(m[1], m[2]);
  o[0] = add(m[0], s);
  o[1] = sub(m[1], m[2]);
  o[2] = add(s, m[3]);
}

// U_t for t = 0..15, each rows × X packed as A strips (element (r, x) of slice pc at pc·Rq + (r / MR)·MR·kc +
// (x − pc)·MR + r % MR). g_of(r, x, g) fills the 2×2 kernel g[a][b] of row r, column x, or returns false for zeros.
template <class G>
void pack_weights(float* U, int64_t rows, int64_t X, G&& g_of) {
  const int64_t Rq = round_up(rows, MR);
  parallel_for(X, [&](int64_t x) {
    const int64_t pc = x / KC * KC, kc = std::min<int64_t>(KC, X - pc);
    for (int64_t r = 0; r < Rq; ++r) {
      float g[2][2], u[16] = {};
      if (r < rows && g_of(r, x, g)) {
        float t[4][2];  // G g, then (G g) Gᵀ
        for (int b = 0; b < 2; ++b) {
          t[0][b] = g[0][b]; t[1][b] = 0.5f * (g[0][b] + g[1][b]); t[2][b] = 0.5f * (g[0][b] - g[1][b]); t[3][b] = g[1][b];
        }
        for (int a = 0; a < 4; ++a) {
          u[a * 4] = t[a][0]; u[a * 4 + 1] = 0.5f * (t[a][0] + t[a][1]); u[a * 4 + 2] = 0.5f * (t[a][0] - t[a][1]); u[a * 4 + 3] = t[a][1];
        }
      }
      float* dst = U + pc * Rq + (r / MR) * MR * kc + (x - pc) * MR + r % MR;
      for (int e = 0; e < 16; ++e) dst[e * X * Rq] = u[e];
    }
  });
}

// Bᵀ d B of one tile, 16 channels a vector: d[α][β] = win[(step·α + i)·row + (step·β + j)·16].
inline void tile_in(const float* win, int64_t row, int step, int i, int j, V16 out[16]) {
  V16 t[4][4];
  for (int b = 0; b < 4; ++b) {
    V16 d[4], o[4];
    for (int a = 0; a < 4; ++a) d[a] = _mm512_loadu_ps(win + (step * a + i) * row + (step * b + j) * 16);
    bt4(d, o);
    for (int a = 0; a < 4; ++a) t[a][b] = o[a];
  }
  for (int a = 0; a < 4; ++a) bt4(t[a], out + 4 * a);
}

// Input transform of 16 tiles × 16 channels (win[l] null: a tile past the end, zeros) into channel rows of 16 tiles
// at vdst + t·tstride + ch·NR.
void transform_in(const float* const win[16], int64_t row, int step, int i, int j, float* vdst, int64_t tstride) {
  alignas(64) float tmp[16][16][16];  // [t][tile][channel]
  for (int l = 0; l < 16; ++l) {
    V16 o[16];
    if (win[l]) tile_in(win[l], row, step, i, j, o);
    else for (int e = 0; e < 16; ++e) o[e] = _mm512_setzero_ps();
    for (int e = 0; e < 16; ++e) st(tmp[e][l], o[e]);
  }
  for (int e = 0; e < 16; ++e) {
    __m512 r[16];
    for (int l = 0; l < 16; ++l) r[l] = ld(tmp[e][l]);
    transpose16x16(r);  // r[ch] = channel ch of the 16 tiles
    for (int ch = 0; ch < 16; ++ch) st(vdst + e * tstride + ch * NR, r[ch]);
  }
}

// Output transform of 16 tiles × 16 rows of M (rows at ms + t·tstride + r·NR, 16 tiles each; rows ≥ nrows are
// zeros): put(l, y) takes tile l's 3×3 outputs, 16 rows a vector.
template <class Put>
void transform_out(const float* ms, int64_t tstride, int nrows, int tiles, Put&& put) {
  alignas(64) float tmp[16][16][16];  // [t][tile][row]
  for (int e = 0; e < 16; ++e) {
    __m512 r[16];
    for (int k = 0; k < 16; ++k) r[k] = k < nrows ? ld(ms + e * tstride + k * NR) : _mm512_setzero_ps();
    transpose16x16(r);
    for (int l = 0; l < 16; ++l) st(tmp[e][l], r[l]);
  }
  for (int l = 0; l < tiles; ++l) {
    V16 u[3][4], y[3][3];
    for (int b = 0; b < 4; ++b) {
      const V16 col[4] = {ld(tmp[0 + b][l]), ld(tmp[4 + b][l]), ld(tmp[8 + b][l]), ld(tmp[12 + b][l])};
      V16 o[3];
      at4(col, o);
      for (int a = 0; a < 3; ++a) u[a][b] = o[a];
    }
    for (int a = 0; a < 3; ++a) at4(u[a], y[a]);
    put(l, y);
  }
}

// M_t = U_t · V_t for t = 0..15 on one strip: U as pack_weights leaves it (rows × X), V_t at vs + t·X·NR.
void strip_gemm(const float* U, int64_t rows, int64_t X, const float* vs, float* ms) {
  const int64_t Rq = round_up(rows, MR);
  for (int t = 0; t < 16; ++t) {
    const float* Ut = U + t * X * Rq;
    const float* Vt = vs + t * X * NR;
    auto pa = [&](int64_t ic, int64_t, int64_t pc, int64_t kc, float*) { return Ut + pc * Rq + ic * kc; };
    auto pb = [&](int64_t pc, int64_t, int64_t, int64_t, float*) { return Vt + pc * NR; };
    gemm_serial(rows, NR, X, NR, pa, pb, store_into(ms + t * rows * NR, NR, 0.0f), nullptr, nullptr);
  }
}

// The grid of 3×3 output tiles over n images of rows × cols: tile index ↔ (sample, tile row, tile column).
struct Tiles {
  int64_t n, rows, cols;  // tiles per image: rows × cols
  int64_t count() const { return n * rows * cols; }
  void at(int64_t tile, int64_t& b, int64_t& r, int64_t& c) const {
    b = tile / (rows * cols);
    r = tile / cols % rows;
    c = tile % cols;
  }
};

// x blocked with the conv's zero padding and room for every tile's 8×8 window (forward and weight gradient).
BlockedGeom input_geom(const ConvShape& s, const Tiles& g) {
  return {s.n, s.c, s.h, s.w, s.pad_t, s.pad_l, std::max(6 * g.rows + 2, s.pad_t + s.h), std::max(6 * g.cols + 2, s.pad_l + s.w)};
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

// Where it pays (bench/ops, one thread, bench/NOTES.md): full channel blocks both ways, at least two strips of tiles,
// and transformed weights (16·4C·K floats, re-read from L3 for every strip) of at most 2 MB — the D2/D3 and G5/G6
// shapes (1.2–1.5× the direct kernel); from D4 / G4 on the weights dominate. The weight gradient only from 4C·K ≥
// 16384 (D3, G5): on the D2 / G6 shape its passes over the 16 MB input cost what the GEMM saves.
static bool wino_pays(const ConvShape& s, bool wgrad) {
  const int64_t tiles = s.n * ((s.p + 2) / 3) * ((s.q + 2) / 3), cxk = 4 * round_up(s.c, 16) * s.k;
  return s.c >= 16 && s.k >= 16 && tiles >= 2 * NR && cxk <= 32768 && (!wgrad || cxk >= 16384);
}

bool wino_chosen(const ConvShape& s, bool wgrad) {
  const int64_t k = conv_tuning().kernel;
  if (k == kConvGemm || k == kConvDirect || !wino_applies(s)) return false;
  return k == kConvWino || wino_pays(s, wgrad);
}

bool conv_wino_forward(const float* x, const float* w, const float* bias, float* y, const ConvShape& s, bool leaky, float slope) {
#if !defined(__AVX512F__)
  (void)x; (void)w; (void)bias; (void)y; (void)s; (void)leaky; (void)slope;
  return false;
#else
  if (!wino_chosen(s)) return false;
  const Tiles grid{s.n, (s.p + 2) / 3, (s.q + 2) / 3};
  const int64_t T = grid.count(), strips = (T + NR - 1) / NR;
  const int64_t cb = (s.c + 15) / 16, Cp = cb * 16, X = 4 * Cp, kb = (s.k + 15) / 16;
  float* U = scratch(kU, 16 * X * round_up(s.k, MR));
  pack_weights(U, s.k, X, [&](int64_t k, int64_t cx, float g[2][2]) {
    const int64_t ph = cx / Cp, c = cx % Cp, i = ph / 2, j = ph % 2;
    if (c >= s.c) return false;
    for (int a = 0; a < 2; ++a)
      for (int b = 0; b < 2; ++b) g[a][b] = w[((k * s.c + c) * 4 + 2 * a + i) * 4 + 2 * b + j];
    return true;
  });
  // y blocked over whole tiles
  const BlockedGeom gx = input_geom(s, grid), gy{s.n, s.k, s.p, s.q, 0, 0, 3 * grid.rows, 3 * grid.cols};
  float* xb = scratch(kIn, gx.floats());
  float* yb = scratch(kOut, gy.floats());
  to_blocked(x, gx, xb, num_threads() > 1);
  const int64_t xrow = gx.wp * 16, yrow = gy.wp * 16;
  parallel_for(strips, [&](int64_t sp) {
    float* vs = scratch(kV, 16 * X * NR);
    float* ms = scratch(kM, 16 * s.k * NR);
    for (int h = 0; h < NR / 16; ++h)
      for (int64_t blk = 0; blk < cb; ++blk) {
        const float* win[16];
        for (int l = 0; l < 16; ++l) {
          const int64_t tile = sp * NR + h * 16 + l;
          int64_t b, tp, tq;
          grid.at(tile, b, tp, tq);
          win[l] = tile < T ? xb + (b * cb + blk) * gx.plane() + 6 * tp * xrow + 6 * tq * 16 : nullptr;
        }
        for (int ph = 0; ph < 4; ++ph) transform_in(win, xrow, 2, ph / 2, ph % 2, vs + (ph * Cp + blk * 16) * NR + h * 16, X * NR);
      }
    strip_gemm(U, s.k, X, vs, ms);
    for (int h = 0; h < NR / 16; ++h)
      for (int64_t blk = 0; blk < kb; ++blk) {
        const int64_t tile0 = sp * NR + h * 16;
        transform_out(ms + blk * 16 * NR + h * 16, s.k * NR, (int)std::min<int64_t>(16, s.k - blk * 16),
                      (int)std::max<int64_t>(0, std::min<int64_t>(16, T - tile0)), [&](int l, V16 o[3][3]) {
          int64_t b, tp, tq;
          grid.at(tile0 + l, b, tp, tq);
          float* at = yb + (b * kb + blk) * gy.plane() + 3 * tp * yrow + 3 * tq * 16;
          for (int a = 0; a < 3; ++a)
            for (int c = 0; c < 3; ++c) st(at + a * yrow + c * 16, o[a][c]);
        });
      }
  });
  from_blocked(yb, gy, y, num_threads() > 1, bias, leaky, slope);
  return true;
#endif
}

bool conv_wino_backward_data(const float* dy, const float* w, float* dx, const ConvShape& s) {
#if !defined(__AVX512F__)
  (void)dy; (void)w; (void)dx; (void)s;
  return false;
#else
  if (!wino_chosen(s)) return false;
  // Phase-grid rows u cover dx rows y = 2u + i − pt in [0, h) for both i: u ∈ [⌊pt/2⌋, ⌊(h − 1 + pt)/2⌋].
  const int64_t u0 = s.pad_t / 2, v0 = s.pad_l / 2;
  const Tiles grid{s.n, ((s.h - 1 + s.pad_t) / 2 - u0 + 3) / 3, ((s.w - 1 + s.pad_l) / 2 - v0 + 3) / 3};
  const int64_t T = grid.count(), strips = (T + NR - 1) / NR;
  const int64_t cb = (s.c + 15) / 16, Cp = cb * 16, R = 4 * Cp, kb = (s.k + 15) / 16, X = kb * 16;
  float* U = scratch(kU, 16 * X * round_up(R, MR));
  pack_weights(U, R, X, [&](int64_t f, int64_t o, float g[2][2]) {
    const int64_t ph = f / Cp, c = f % Cp, i = ph / 2, j = ph % 2;
    if (c >= s.c || o >= s.k) return false;
    for (int a = 0; a < 2; ++a)
      for (int b = 0; b < 2; ++b) g[a][b] = w[((o * s.c + c) * 4 + 2 * (1 - a) + i) * 4 + 2 * (1 - b) + j];
    return true;
  });
  // dy blocked with one zero row / column before it (window rows u − 1 .. u + 2) and room for the last tiles;
  // plane row of dy row r is r + 1, so tile (tu, tv) reads rows from u0 + 3tu.
  const BlockedGeom gd{s.n, s.k, s.p, s.q, 1, 1, std::max(u0 + 3 * grid.rows + 1, s.p + 1), std::max(v0 + 3 * grid.cols + 1, s.q + 1)};
  const BlockedGeom gx{s.n, s.c, s.h, s.w, 0, 0, s.h, s.w};
  float* db = scratch(kIn, gd.floats());
  float* xb = scratch(kOut, gx.floats());
  to_blocked(dy, gd, db, num_threads() > 1);
  const int64_t drow = gd.wp * 16, xrow = gx.wp * 16;
  parallel_for(strips, [&](int64_t sp) {
    float* vs = scratch(kV, 16 * X * NR);
    float* ms = scratch(kM, 16 * R * NR);
    for (int h = 0; h < NR / 16; ++h)
      for (int64_t blk = 0; blk < kb; ++blk) {
        const float* win[16];
        for (int l = 0; l < 16; ++l) {
          const int64_t tile = sp * NR + h * 16 + l;
          int64_t b, tu, tv;
          grid.at(tile, b, tu, tv);
          win[l] = tile < T ? db + (b * kb + blk) * gd.plane() + (u0 + 3 * tu) * drow + (v0 + 3 * tv) * 16 : nullptr;
        }
        transform_in(win, drow, 1, 0, 0, vs + blk * 16 * NR + h * 16, X * NR);
      }
    strip_gemm(U, R, X, vs, ms);
    for (int h = 0; h < NR / 16; ++h)
      for (int ph = 0; ph < 4; ++ph)
        for (int64_t blk = 0; blk < cb; ++blk) {
          const int64_t tile0 = sp * NR + h * 16, i = ph / 2, j = ph % 2;
          transform_out(ms + (ph * Cp + blk * 16) * NR + h * 16, R * NR, 16, (int)std::max<int64_t>(0, std::min<int64_t>(16, T - tile0)),
                        [&](int l, V16 o[3][3]) {
            int64_t b, tu, tv;
            grid.at(tile0 + l, b, tu, tv);
            float* plane = xb + (b * cb + blk) * gx.plane();
            for (int a = 0; a < 3; ++a) {
              const int64_t yy = 2 * (u0 + 3 * tu + a) + i - s.pad_t;
              if (yy < 0 || yy >= s.h) continue;
              for (int c = 0; c < 3; ++c) {
                const int64_t xx = 2 * (v0 + 3 * tv + c) + j - s.pad_l;
                if (xx >= 0 && xx < s.w) st(plane + yy * xrow + xx * 16, o[a][c]);
              }
            }
          });
        }
  });
  from_blocked(xb, gx, dx, num_threads() > 1);
  return true;
#endif
}

bool conv_wino_backward_weight(const float* dy, const float* x, float* dw, const ConvShape& s) {
#if !defined(__AVX512F__)
  (void)dy; (void)x; (void)dw; (void)s;
  return false;
#else
  if (!wino_chosen(s, true)) return false;
  // dw[k, c, 2a+i, 2b+j] = Σ_tiles Σ_{α,β} dy[3tp+α, 3tq+β] · x_ij[3tp+α+a, 3tq+β+b]: per tile the transpose of the
  // forward's linear map in g, dg = Gᵀ [(A dy Aᵀ) ⊙ (Bᵀ d B)] G, so per t one GEMM over the tiles,
  // S_t[K × 4·Cp] = Y_t[K × tiles] · V_tᵀ[tiles × 4·Cp], then dw += Gᵀ S G. Tiles go in blocks of TB through L3;
  // each S_t is summed by one thread in tile order, so the result does not depend on the thread count.
  constexpr int64_t TB = 128;
  const Tiles grid{s.n, (s.p + 2) / 3, (s.q + 2) / 3};
  const int64_t T = grid.count();
  const int64_t cb = (s.c + 15) / 16, Cp = cb * 16, X = 4 * Cp, kb = (s.k + 15) / 16, Kp = kb * 16;
  const BlockedGeom gx = input_geom(s, grid), gd{s.n, s.k, s.p, s.q, 0, 0, 3 * grid.rows, 3 * grid.cols};
  float* xb = scratch(kIn, gx.floats());
  float* db = scratch(kOut, gd.floats());
  to_blocked(x, gx, xb, num_threads() > 1);
  to_blocked(dy, gd, db, num_threads() > 1);
  float* V = scratch(kV, 16 * TB * X);    // [t][tile][4·Cp]
  float* Y = scratch(kU, 16 * TB * Kp);   // [t][tile][Kp]
  float* S = scratch(kM, 16 * s.k * X);   // [t][K][4·Cp]
  std::memset(S, 0, sizeof(float) * 16 * s.k * X);
  const int64_t xrow = gx.wp * 16, drow = gd.wp * 16;
  for (int64_t t0 = 0; t0 < T; t0 += TB) {
    const int64_t nt = std::min(TB, T - t0), groups = (nt + 15) / 16;
    parallel_for(groups * (cb + kb), [&](int64_t it) {
      const int64_t g = it / (cb + kb), blk = it % (cb + kb);
      for (int l = 0; l < 16 && g * 16 + l < nt; ++l) {
        const int64_t tl = g * 16 + l;
        int64_t b, tp, tq;
        grid.at(t0 + tl, b, tp, tq);
        V16 o[16];
        if (blk < cb) {  // x: four phases
          const float* win = xb + (b * cb + blk) * gx.plane() + 6 * tp * xrow + 6 * tq * 16;
          for (int ph = 0; ph < 4; ++ph) {
            tile_in(win, xrow, 2, ph / 2, ph % 2, o);
            for (int e = 0; e < 16; ++e) _mm512_storeu_ps(V + (e * TB + tl) * X + ph * Cp + blk * 16, o[e]);
          }
        } else {  // dy: A y Aᵀ of the 3×3 tile (A = [1 0 0; 1 1 1; 1 −1 1; 0 0 1])
          const int64_t kblk = blk - cb;
          const float* win = db + (b * kb + kblk) * gd.plane() + 3 * tp * drow + 3 * tq * 16;
          V16 u[4][3];
          for (int c = 0; c < 3; ++c) {
            const V16 y0 = _mm512_loadu_ps(win + c * 16), y1 = _mm512_loadu_ps(win + drow + c * 16), y2 = _mm512_loadu_ps(win + 2 * drow + c * 16);
            u[0][c] = y0; u[1][c] = add(add(y0, y1), y2); u[2][c] = add(sub(y0, y1), y2); u[3][c] = y2;
          }
          for (int a = 0; a < 4; ++a) {
            const V16 m[4] = {u[a][0], add(add(u[a][0], u[a][1]), u[a][2]), add(sub(u[a][0], u[a][1]), u[a][2]), u[a][2]};
            for (int c = 0; c < 4; ++c) _mm512_storeu_ps(Y + ((a * 4 + c) * TB + tl) * Kp + kblk * 16, m[c]);
          }
        }
      }
    });
    parallel_for(16, [&](int64_t t) {
      const float* Yt = Y + t * TB * Kp;
      const float* Vt = V + t * TB * X;
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
  // dw += Gᵀ S G per (filter, phase, channel): Gᵀ = [1 ½ ½ 0; 0 ½ −½ 1]
  parallel_for(s.k, [&](int64_t k) {
    for (int64_t cx = 0; cx < X; ++cx) {
      const int64_t ph = cx / Cp, c = cx % Cp, i = ph / 2, j = ph % 2;
      if (c >= s.c) continue;
      float m[4][4], h[2][4];
      for (int e = 0; e < 16; ++e) m[e / 4][e % 4] = S[(e * s.k + k) * X + cx];
      for (int b = 0; b < 4; ++b) {
        h[0][b] = m[0][b] + 0.5f * (m[1][b] + m[2][b]);
        h[1][b] = 0.5f * (m[1][b] - m[2][b]) + m[3][b];
      }
      float* d = dw + (k * s.c + c) * 16;
      for (int a = 0; a < 2; ++a) {
        d[(2 * a + i) * 4 + j] += h[a][0] + 0.5f * (h[a][1] + h[a][2]);
        d[(2 * a + i) * 4 + 2 + j] += 0.5f * (h[a][1] - h[a][2]) + h[a][3];
      }
    }
  });
  return true;
#endif
}

}  // namespace mrigan::cpu
