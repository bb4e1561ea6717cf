// Shared test utilities: seeded random inputs (independent of the engine's RNG) and tolerance checks.
import { expect } from 'chai';
import { mulberry32 } from '../../lib/util/prng';

/** rng(seed): Mulberry32 (lib/util/prng.ts), a tiny seeded generator for test inputs. */
export { mulberry32 as rng };

/** n uniform values in [lo, hi) as a Float32Array. */
export function randArray(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = mulberry32(seed);
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

/** A float64 reference: the values, and per element Σ|terms| of its sum (the scale of float32 rounding in it). */
export interface Ref { v: Float64Array; mag: Float64Array }

/**
 * Asserts got ≈ base + times·want.v elementwise within rel·times·mag + abs·(1 + |base|): a float32 sum against its
 * float64 reference (base: the start of an accumulating op, called `times` times).
 */
export function expectRef(got: Float32Array, want: Ref, what: string, base?: Float32Array, times = 1, rel = 1e-5, abs = 1e-7): void {
  expect(got.length, `${what}: length`).to.equal(want.v.length);
  for (let i = 0; i < got.length; i++) {
    const w = (base ? base[i] : 0) + times * want.v[i];
    const tol = rel * times * want.mag[i] + abs * (1 + (base ? Math.abs(base[i]) : 0));
    if (!(Math.abs(got[i] - w) <= tol)) expect.fail(`${what}[${i}]: got ${got[i]}, want ${w} (tolerance ${tol})`);
  }
}

/** op(a)[m, k] · op(b)[k, n] in float64 with per-element Σ|terms|; a is [m, k] or, transposed, [k, m]; b [k, n] or [n, k]. */
export function matmulRef(a: ArrayLike<number>, b: ArrayLike<number>, m: number, n: number, k: number, ta: boolean, tb: boolean): Ref {
  const v = new Float64Array(m * n), mag = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0, t = 0;
      for (let p = 0; p < k; p++) {
        const u = (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
        s += u;
        t += Math.abs(u);
      }
      v[i * n + j] = s;
      mag[i * n + j] = t;
    }
  return { v, mag };
}

/** Runs a CLI command module in-process, capturing what it prints. */
export async function runCommand(run: (argv: string[]) => Promise<number>, argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const ow = process.stdout.write, ew = process.stderr.write;
  let out = '', err = '';
  process.stdout.write = ((s: string) => { out += s; return true; }) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => { err += s; return true; }) as typeof process.stderr.write;
  try {
    return { code: await run(argv), out, err };
  } finally {
    process.stdout.write = ow;
    process.stderr.write = ew;
  }
}

/** n smooth random s×s "images" in [-1, 1] (a Gaussian blob per image, seeded), so a discriminator has something to learn. */
export function blobImages(n: number, seed: number, s: number): Float32Array {
  const r = randArray(3 * n, seed, 0.2, 0.8), d = new Float32Array(n * s * s);
  for (let i = 0; i < n; i++)
    for (let y = 0; y < s; y++)
      for (let x = 0; x < s; x++) {
        const dx = x / s - r[3 * i], dy = y / s - r[3 * i + 1];
        d[i * s * s + y * s + x] = 2 * Math.exp(-(dx * dx + dy * dy) / (0.05 * r[3 * i + 2])) - 1;
      }
  return d;
}
