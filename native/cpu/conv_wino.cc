// Winograd convolution for 4×4 stride-2 layers (every DCGAN conv and conv-transpose between 8×8 and 128×128).
//
// A 4×4 stride-2 conv is four 2×2 stride-1 convs, one per input phase (row and column parity): with r = 2a + i and
// s = 2b + j, y[p, q] = Σ_{c, i, j} Σ_{a, b ∈ {0, 1}} w[c, 2a+i, 2b+j] · x[2p − pt + 2a + i, 2q − pl + 2b + j], so the
// 4·C (channel, phase) pairs are the input channels of one 2×2 conv. That conv runs as Winograd F(3×3, 2×2):
// a 3×3 output tile from a 4×4 input tile with 16 products instead of 36, i.e. 16 GEMMs [tiles × 4C]·[4C × K]
// carry 2.25× fewer multiply-adds than the direct kernel. The transforms (points 0, 1, −1, ∞) hold only 0, ±1 and ½,
// so every transformed value is a sum of at most 4·4 exact products: the error stays within a few float32 roundings
// of the direct sum (the tests bound it against float64).
//   input   V = Bᵀ d B     Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 −1 0 1]
//   weight  U = G g Gᵀ     G  = [1 0; ½ ½; ½ −½; 0 1]
//   output  Y = Aᵀ M A     Aᵀ = [1 1 1 0; 0 1 −1 0; 0 1 1 1]
// Per t the GEMM is M_t[K × tiles] = U_tᵀ[K × 4·Cp] · V_t[4·Cp × tiles] (Cp = C rounded up to 16; row ph·Cp + c for
// phase ph = 2i + j), on the register tile of gemm_kernel.h with both operands already in its packed layouts:
//   V_t  B strips of NR tiles per KC slice, written by the input transform: it works on 16 channels a vector (x in
//        the channel-blocked layout of blocked.h), 16 tiles at a time, and turns each 16 tiles × 16 channels block
//        into channel rows of 16 tiles with one in-register transpose;
//   U_t  A strips of MR filters per KC slice (the weight transform, once per call);
//   M_t  [K][tiles], read back 16 tiles × 16 filters at a time and transposed for the output transform, which writes
//        a blocked y that is reordered to NCHW with the bias.
// AVX-512 only (the transposes); elsewhere the direct and GEMM kernels take these layers. Threads: (16 tiles, channel
// block) for the transforms, (t, tile range) for the GEMMs.
#include <algorithm>
#include <cstring>

#include "core/parallel.h"
#include "cpu/blocked.h"
#include "cpu/conv_wino.h"
#include "cpu/gemm.h"
#include "cpu/gemm_kernel.h"

namespace mrigan::cpu {

namespace {

// Scratch slots: past those of conv.cc (0–5), conv_direct (8–13) and gemm.cc (14, 15; the GEMM workers below pack A
// into their own slot 14).
enum Slot { kIn = 16, kV = 17, kU = 18, kM = 19, kMs = 20 };

int64_t round_up(int64_t a, int64_t m) { return (a + m - 1) / m * m; }

#if defined(__AVX512F__)
typedef __m512 V16;
inline V16 ld(const float* p) { return _mm512_loadu_ps(p); }
inline void st(float* p, V16 v) { _mm512_storeu_ps(p, v); }
inline V16 add(V16 a, V16 b) { return _mm512_add_ps(a, b); }
inline V16 sub(V16 a, V16 b) { return _mm512_sub_ps(a, b); }
inline V16 mul(V16 a, float s) { return _mm512_mul_ps(a, _mm512_set1_ps(s)); }
#else
struct V16 { float v[16]; };
inline V16 ld(const float* p) { V16 r; std::memcpy(r.v, p, sizeof(r.v)); return r; }
inline void st(float* p, V16 v) { std::memcpy(p, v.v, sizeof(v.v)); }
inline V16 add(V16 a, V16 b) { for (int l = 0; l < 16; ++l) a.v[l] += b.v[l]; return a; }
inline V16 sub(V16 a, V16 b) { for (int l = 0; l < 16; ++l) a.v[l] -= b.v[l]; return a; }
inline V16 mul(V16 a, float s) { for (int l = 0; l < 16; ++l) a.v[l] *= s; return a; }
#endif

// Bᵀ d (one column of 4): the input transform's 1-D step.
inline void bt4(const V16 d[4], V16 o[4]) {
  o[0] = sub(d[0], d[2]);
  o[1] = add(d[1], d[2]);
  o[2] = sub(d[2], d[1]);
  o[3] = sub(d[3], d[1]);
}
// Aᵀ m (4 → 3).
inline void at4(const V16 m[4], V16 o[3]) {
  const V16 s = add(m[1], m[2]);
  o[0] = add(m[0], s);
  o[1] = sub(m[1], m[2]);
  o[2] = add(s, m[3]);
}
// G g (2 → 4).
inline void g2(V16 g0, V16 g1, V16 o[4]) {
  o[0] = g0;
  o[1] = mul(add(g0, g1), 0.5f);
  o[2] = mul(sub(g0, g1), 0.5f);
  o[3] = g1;
}

}  // namespace

bool wino_applies(const ConvShape& s) {
#if defined(__AVX512F__)
  return s.r == 4 && s.s == 4 && s.stride_h == 2 && s.stride_w == 2 && s.n > 0 && s.c > 0 && s.k > 0 && s.p > 0 && s.q > 0;
#else
  (void)s;
  return false;
#endif
}

// Where it pays (bench/ops, one thread, bench/NOTES.md): full channel blocks both ways, at least two strips of tiles,
// and transformed weights (16·4C·K floats, re-read from L3 for every strip) of at most 2 MB — D2/D3 and the
// conv-transpose backward-data of G5/G6 (1.2–1.3× the direct kernel); from D4 / G4 on the weights dominate.
static bool wino_pays(const ConvShape& s) {
  const int64_t tiles = s.n * ((s.p + 2) / 3) * ((s.q + 2) / 3), cx = 4 * round_up(s.c, 16);
  return s.c >= 16 && s.k >= 16 && tiles >= 2 * NR && cx * s.k <= 32768;
}

bool wino_chosen(const ConvShape& s) {
  const int64_t k = conv_tuning().kernel;
  if (k == kConvGemm || k == kConvDirect || !wino_applies(s)) return false;
  return k == kConvWino || wino_pays(s);
}

bool conv_wino_forward(const float* x, const float* w, const float* bias, float* y, const ConvShape& s, bool leaky, float slope) {
#if !defined(__AVX512F__)
  (void)x; (void)w; (void)bias; (void)y; (void)s; (void)leaky; (void)slope;
  return false;
#else
  if (!wino_chosen(s)) return false;
  const int64_t TP = (s.p + 2) / 3, TQ = (s.q + 2) / 3, T = s.n * TP * TQ, strips = (T + NR - 1) / NR;
  const int64_t cb = (s.c + 15) / 16, Cp = cb * 16, Cx = 4 * Cp, Kq = round_up(s.k, MR), kb = (s.k + 15) / 16;
  const bool par = num_threads() > 1;
  auto tile_at = [&](int64_t tile, int64_t& b, int64_t& tp, int64_t& tq) {
    b = tile / (TP * TQ);
    tp = (tile / TQ) % TP;
    tq = tile % TQ;
  };

  // U_t: A strips of MR filters per KC slice, element (k, cx) at pc·Kq + (k / MR)·MR·kc + (cx − pc)·MR + k % MR.
  float* U = scratch(kU, 16 * Cx * Kq);
  parallel_for(Cp, [&](int64_t c) {
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j) {
        const int64_t cx = (2 * i + j) * Cp + c, pc = cx / KC * KC, kc = std::min<int64_t>(KC, Cx - pc);
        for (int64_t k = 0; k < Kq; ++k) {
          float u[16] = {};
          if (c < s.c && k < s.k) {
            const float* g = w + (k * s.c + c) * 16;
            float t[4][2];
            for (int bb = 0; bb < 2; ++bb) {
              const float g0 = g[i * 4 + 2 * bb + j], g1 = g[(2 + i) * 4 + 2 * bb + j];
              t[0][bb] = g0; t[1][bb] = 0.5f * (g0 + g1); t[2][bb] = 0.5f * (g0 - g1); t[3][bb] = g1;
            }
            for (int a = 0; a < 4; ++a) {
              u[a * 4] = t[a][0]; u[a * 4 + 1] = 0.5f * (t[a][0] + t[a][1]); u[a * 4 + 2] = 0.5f * (t[a][0] - t[a][1]); u[a * 4 + 3] = t[a][1];
            }
          }
          float* dst = U + pc * Kq + (k / MR) * MR * kc + (cx - pc) * MR + k % MR;
          for (int e = 0; e < 16; ++e) dst[e * Cx * Kq] = u[e];
        }
      }
  });

  // x blocked with the conv's zero padding and room for the last tiles' windows; y blocked over whole tiles.
  BlockedGeom gx{s.n, s.c, s.h, s.w, s.pad_t, s.pad_l, std::max(6 * TP + 2, s.pad_t + s.h), std::max(6 * TQ + 2, s.pad_l + s.w)};
  BlockedGeom gy{s.n, s.k, s.p, s.q, 0, 0, 3 * TP, 3 * TQ};
  float* xb = scratch(kIn, gx.floats());
  float* yb = scratch(kV, gy.floats());
  to_blocked(x, gx, xb, par);

  // Per strip of NR tiles: V (16 × Cx × NR, row cx of t at (t·Cx + cx)·NR), the 16 GEMMs into M (16 × K × NR),
  // the output transform; V and M stay in the thread's L2.
  parallel_for(strips, [&](int64_t sp) {
    float* Vs = scratch(kM, 16 * Cx * NR);
    float* Ms = scratch(kMs, 16 * s.k * NR);
    for (int h = 0; h < NR / 16; ++h)
      for (int64_t blk = 0; blk < cb; ++blk) {
        const int64_t row = gx.wp * 16;
        const float* win[16];  // each tile's 8×8 window (null past the last tile)
        for (int l = 0; l < 16; ++l) {
          const int64_t tile = sp * NR + h * 16 + l;
          int64_t b, tp, tq;
          tile_at(tile, b, tp, tq);
          win[l] = tile < T ? xb + (b * cb + blk) * gx.plane() + (6 * tp) * row + (6 * tq) * 16 : nullptr;
        }
        alignas(64) float tmp[16][16][16];  // [t][tile][channel] of one phase
        for (int i = 0; i < 2; ++i)
          for (int j = 0; j < 2; ++j) {
            for (int l = 0; l < 16; ++l) {
              if (!win[l]) {
                for (int e = 0; e < 16; ++e) std::memset(tmp[e][l], 0, 64);
                continue;
              }
              V16 t[4][4];
              for (int bb = 0; bb < 4; ++bb) {
                V16 d[4], o[4];
                for (int a = 0; a < 4; ++a) d[a] = ld(win[l] + (2 * a + i) * row + (2 * bb + j) * 16);
                bt4(d, o);
                for (int a = 0; a < 4; ++a) t[a][bb] = o[a];
              }
              for (int a = 0; a < 4; ++a) {
                V16 o[4];
                bt4(t[a], o);
                for (int bb = 0; bb < 4; ++bb) st(tmp[a * 4 + bb][l], o[bb]);
              }
            }
            const int64_t cx0 = (2 * i + j) * Cp + blk * 16;
            for (int t = 0; t < 16; ++t) {
              __m512 r[16];
              for (int l = 0; l < 16; ++l) r[l] = _mm512_load_ps(tmp[t][l]);
              transpose16x16(r);  // r[ch] = channel ch of the 16 tiles
              float* dst = Vs + (t * Cx + cx0) * NR + h * 16;
              for (int ch = 0; ch < 16; ++ch) _mm512_store_ps(dst + ch * NR, r[ch]);
            }
          }
      }
    // padded channels c ≥ C: their V rows are zero (blocked lanes) and so are their U rows
    for (int t = 0; t < 16; ++t) {
      const float* Ut = U + t * Cx * Kq;
      const float* Vt = Vs + t * Cx * NR;
      auto pa = [&](int64_t ic, int64_t, int64_t pc, int64_t kc, float*) { return Ut + pc * Kq + ic * kc; };
      auto pb = [&](int64_t pc, int64_t, int64_t, int64_t, float*) { return Vt + pc * NR; };
      gemm_serial(s.k, NR, Cx, NR, pa, pb, store_into(Ms + t * s.k * NR, NR, 0.0f), nullptr, nullptr);
    }
    const int64_t row = gy.wp * 16;
    for (int h = 0; h < NR / 16; ++h)
      for (int64_t blk = 0; blk < kb; ++blk) {
        alignas(64) float tmp[16][16][16];  // [t][tile][filter]
        for (int t = 0; t < 16; ++t) {
          __m512 r[16];
          for (int kk = 0; kk < 16; ++kk) {
            const int64_t k = blk * 16 + kk;
            r[kk] = k < s.k ? _mm512_load_ps(Ms + (t * s.k + k) * NR + h * 16) : _mm512_setzero_ps();
          }
          transpose16x16(r);
          for (int l = 0; l < 16; ++l) _mm512_store_ps(tmp[t][l], r[l]);
        }
        for (int l = 0; l < 16; ++l) {
          const int64_t tile = sp * NR + h * 16 + l;
          if (tile >= T) break;
          int64_t b, tp, tq;
          tile_at(tile, b, tp, tq);
          float* plane = yb + (b * kb + blk) * gy.plane();
          V16 u[3][4];
          for (int bb = 0; bb < 4; ++bb) {
            V16 col[4] = {ld(tmp[0 + bb][l]), ld(tmp[4 + bb][l]), ld(tmp[8 + bb][l]), ld(tmp[12 + bb][l])}, o[3];
            at4(col, o);
            for (int a = 0; a < 3; ++a) u[a][bb] = o[a];
          }
          for (int a = 0; a < 3; ++a) {
            V16 o[3];
            at4(u[a], o);
            for (int bb = 0; bb < 3; ++bb) st(plane + (3 * tp + a) * row + (3 * tq + bb) * 16, o[bb]);
          }
        }
      }
  });
  const int64_t pq = s.p * s.q;
  parallel_for(s.n * kb, [&](int64_t it) {
    const int64_t b = it / kb, blk = it % kb;
    const int nk = (int)std::min<int64_t>(16, s.k - blk * 16);
    const float* src = yb + it * gy.plane();
    for (int64_t yy = 0; yy < s.p; ++yy)
      pixels_to_rows(src + yy * gy.wp * 16, 16, s.q, nk, y + (b * s.k + blk * 16) * pq + yy * s.q, pq, bias ? bias + blk * 16 : nullptr, leaky, slope);
  });
  return true;
#endif
}

}  // namespace mrigan::cpu
