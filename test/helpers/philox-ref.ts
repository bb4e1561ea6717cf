// Philox-addressed draws recomputed in TypeScript from the raw philox4x32 block (itself checked against Random123's
// known-answer vectors in rng.test.ts), following the layout written in native/core/philox.h: element i of a draw
// at (seed, stream, offset) takes lane i % 4 of the block with counter (lo32, hi32 of offset + ⌊i/4⌋, stream, 0)
// and key (lo32, hi32 of seed).
import { philox4x32 } from '../../lib/engine';

const M32 = 0xffffffffn;

/** The 4 words of block `block` (a bigint so offsets beyond 2^32 keep their high word). */
export function philoxBlock(seed: number | bigint, stream: number, block: bigint): number[] {
  const s = BigInt(seed);
  return philox4x32([Number(block & M32), Number((block >> 32n) & M32), stream, 0], [Number(s & M32), Number((s >> 32n) & M32)]);
}

/** The n words of a draw, word i being lane i % 4 of block offset + ⌊i/4⌋. */
export function philoxWords(n: number, seed: number | bigint, stream: number, offset: number | bigint): number[] {
  const out: number[] = [];
  for (let b = 0; out.length < n; b++) {
    const w = philoxBlock(seed, stream, BigInt(offset) + BigInt(b));
    for (let l = 0; l < 4 && out.length < n; l++) out.push(w[l]);
  }
  return out;
}

/** uniform [0, 1): the top 24 bits of the word times 2^-24 (exact in float32). */
export const u01 = (w: number): number => (w >>> 8) / 16777216;

/** Box-Muller of philox_normal, in float64, rounded to float32: lanes (0, 1) from words (0, 1), (2, 3) from (2, 3). */
export function philoxNormals(n: number, seed: number | bigint, stream: number, offset: number | bigint): number[] {
  const w = philoxWords(Math.ceil(n / 4) * 4, seed, stream, offset);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const base = i - (i % 4) + ((i % 4) & 2);
    const u1 = (w[base] + 1) / 4294967296;
    const u2 = w[base + 1] / 4294967296;
    const r = Math.sqrt(-2 * Math.log(u1));
    const t = 2 * Math.PI * u2;
    out.push(Math.fround(i % 2 ? r * Math.sin(t) : r * Math.cos(t)));
  }
  return out;
}
