// Seeded host-side randomness for the metrics (which images, which patches, which directions): mulberry32, the
// generator lib/data's permutation() uses, plus Box–Muller normals. Metrics are reproducible for a given seed.

export class HostRng {
  private a: number;
  private spare: number | null = null;
  constructor(seed: number) { this.a = seed >>> 0; }

  /** Uniform in [0, 1). */
  next(): number {
    this.a = (this.a + 0x6d2b79f5) >>> 0;
    let t = this.a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [lo, hi). */
  int(lo: number, hi: number): number { return lo + Math.floor(this.next() * (hi - lo)); }

  /** Standard normal (Box–Muller, the second value kept for the next call). */
  normal(): number {
    if (this.spare !== null) { const s = this.spare; this.spare = null; return s; }
    const u = 1 - this.next(), v = this.next(), r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** k distinct indices of 0..n-1 (partial Fisher–Yates); k ≥ n gives a permutation of all n. */
  sample(n: number, k: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    k = Math.min(k, n);
    for (let i = 0; i < k; i++) {
      const j = this.int(i, n), t = p[i];
      p[i] = p[j]; p[j] = t;
    }
    return p.slice(0, k);
  }
}
