// Shared test utilities: seeded random inputs (independent of the engine's RNG) and tolerance checks.
import { expect } from 'chai';

/** Mulberry32: a tiny seeded generator for test inputs. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n uniform values in [lo, hi) as a Float32Array. */
export function randArray(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = rng(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * r();
  return a;
}

/**
 * Asserts |got − want| <= atol + rtol·|want| elementwise, reporting the worst index.
 * For float32 kernels against float64 references, rtol ~1e-5 and atol scaled to the sum's magnitude.
 */
export function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, rtol: number, atol: number, what = 'value'): void {
  expect(got.length, `${what}: length`).to.equal(want.length);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < got.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    const excess = err - (atol + rtol * Math.abs(want[i]));
    if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    expect.fail(`${what}[${worst}]: got ${got[worst]}, want ${want[worst]} (|err| ${Math.abs(got[worst] - want[worst])} > ${atol} + ${rtol}·|want|)`);
  }
}

/** Max |a| of an array (to scale absolute tolerances). */
export const maxAbs = (a: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
};
