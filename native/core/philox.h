// Philox4x32-10 counter-based RNG (Salmon et al., SC'11; Random123), identical on CPU and GPU.
// A draw is addressed by (seed, stream, offset): element i of a tensor uses counter block
// c = (lo32(offset + i/4), hi32(offset + i/4), stream, 0) with key (lo32(seed), hi32(seed)), and takes lane i%4.
// So a tensor of n elements drawn at `offset` consumes ceil(n/4) blocks: the next draw starts at offset + ceil(n/4).
// uniform: (u >> 8) * 2^-24 in [0, 1).  normal: Box-Muller in double on lanes (0,1) and (2,3), rounded to float.
#pragma once
#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define MRIGAN_HD __host__ __device__ __forceinline__
#else
#define MRIGAN_HD inline
#endif

namespace mrigan {

struct Philox4 { uint32_t v[4]; };

MRIGAN_HD uint32_t mulhilo32(uint32_t a, uint32_t b, uint32_t* hi) {
  uint64_t p = (uint64_t)a * (uint64_t)b;
  *hi = (uint32_t)(p >> 32);
  return (uint32_t)p;
}

// Ten rounds of Philox4x32 on counter ctr with key (k0, k1).
MRIGAN_HD Philox4 philox4x32_10(Philox4 ctr, uint32_t k0, uint32_t k1) {
  const uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  for (int r = 0; r < 10; ++r) {
    uint32_t hi0, hi1;
    uint32_t lo0 = mulhilo32(M0, ctr.v[0], &hi0);
    uint32_t lo1 = mulhilo32(M1, ctr.v[2], &hi1);
    Philox4 n;
    n.v[0] = hi1 ^ ctr.v[1] ^ k0;
    n.v[1] = lo1;
    n.v[2] = hi0 ^ ctr.v[3] ^ k1;
    n.v[3] = lo0;
    ctr = n;
    k0 += W0;
    k1 += W1;
  }
  return ctr;
}

// The block for counter index `block` of (seed, stream).
MRIGAN_HD Philox4 philox_block(uint64_t seed, uint32_t stream, uint64_t block) {
  Philox4 c;
  c.v[0] = (uint32_t)block;
  c.v[1] = (uint32_t)(block >> 32);
  c.v[2] = stream;
  c.v[3] = 0;
  return philox4x32_10(c, (uint32_t)seed, (uint32_t)(seed >> 32));
}

MRIGAN_HD float philox_u01(uint32_t u) { return (float)(u >> 8) * (1.0f / 16777216.0f); }

// Element i of a uniform [0,1) draw.
MRIGAN_HD float philox_uniform(uint64_t seed, uint32_t stream, uint64_t offset, uint64_t i) {
  Philox4 b = philox_block(seed, stream, offset + i / 4);
  return philox_u01(b.v[i % 4]);
}

// Element i of a standard normal draw (Box-Muller in double so both devices round to the same float).
MRIGAN_HD float philox_normal(uint64_t seed, uint32_t stream, uint64_t offset, uint64_t i) {
  Philox4 b = philox_block(seed, stream, offset + i / 4);
  int lane = (int)(i % 4), pair = lane & 2;
  // u1 in (0, 1] so the log is finite; u2 in [0, 1).
  double u1 = ((double)b.v[pair] + 1.0) * (1.0 / 4294967296.0);
  double u2 = (double)b.v[pair + 1] * (1.0 / 4294967296.0);
  double r = sqrt(-2.0 * log(u1));
  double t = 6.283185307179586476925286766559 * u2;
  return (float)((lane & 1) ? r * sin(t) : r * cos(t));
}

// Blocks consumed by a draw of n elements.
MRIGAN_HD uint64_t philox_blocks(uint64_t n) { return (n + 3) / 4; }

}  // namespace mrigan
