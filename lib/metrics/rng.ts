// A small seeded generator for the metrics' random subsets (KID): splitmix64 on BigInt would be slow, so
// mulberry32, a 32-bit generator good enough for sampling indices; the same seed gives the same subsets everywhere.
export class SubsetRng {
  private s: number;
  constructor(seed: number) { this.s = seed >>> 0; }
  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** k distinct indices from 0..n-1 (partial Fisher–Yates), in draw order. */
  sample(n: number, k: number): Int32Array {
    const idx = Int32Array.from({ length: n }, (_, i) => i);
    for (let i = 0; i < k; i++) {
      const j = i + Math.floor(this.next() * (n - i));
      const t = idx[i]; idx[i] = idx[j]; idx[j] = t;
    }
    return idx.slice(0, k);
  }
}
