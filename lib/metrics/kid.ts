// Kernel Inception Distance (Bińkowski et al. 2018): the unbiased estimate of MMD² with the cubic polynomial
// kernel k(x, y) = (xᵀy/d + 1)³, averaged over random subsets (default 100 subsets of min(1000, m, n) samples
// drawn without replacement, as in torch-fidelity / clean-fid); mean ± standard deviation (population, ddof 0)
// over the subsets.
//   MMD²_u = Σ_{i≠j} k(x_i, x_j)/(s(s−1)) + Σ_{i≠j} k(y_i, y_j)/(s(s−1)) − 2 Σ_{i,j} k(x_i, y_j)/s²
import { gemm, view } from './linalg';
import { SubsetRng } from './rng';

export interface KidOptions { subsets?: number; subsetSize?: number; seed?: number }
export interface KidResult { kid: number; std: number; subsets: number; subsetSize: number; seed: number; values: Float64Array }

/** Largest m + n for which the whole Gram matrix of both sets is computed once (m+n)² doubles. */
const GRAM_ONCE = 5000;

function toF64(x: Float32Array | Float64Array, rows: number, d: number, name: string): Float64Array {
  if (!Number.isInteger(rows) || x.length !== rows * d) throw new Error(`kid: ${name} has ${x.length} values, not a multiple of d = ${d}`);
  const out = Float64Array.from(x);
  for (let i = 0; i < out.length; i++) if (!Number.isFinite(out[i])) throw new Error(`kid: ${name} row ${Math.floor(i / d)} feature ${i % d} is ${out[i]}`);
  return out;
}

/** KID between feature sets x (rows × d) and y (rows × d), row-major. */
export function kernelInceptionDistance(x: Float32Array | Float64Array, y: Float32Array | Float64Array, d: number, opts: KidOptions = {}): KidResult {
  const m = x.length / d, n = y.length / d;
  const xs = toF64(x, m, d, 'first set'), ys = toF64(y, n, d, 'second set');
  const subsets = opts.subsets ?? 100, seed = opts.seed ?? 0;
  const s = Math.min(opts.subsetSize ?? 1000, m, n);
  if (s < 2) throw new Error(`kid: each subset needs at least 2 samples (sets have ${m} and ${n})`);
  if (!(subsets >= 1)) throw new Error(`kid: subsets must be ≥ 1, got ${subsets}`);
  const k3 = (g: number): number => { const t = g / d + 1; return t * t * t; };
  const rng = new SubsetRng(seed);
  const values = new Float64Array(subsets);
  let gram: ((a: number, b: number) => number) | null = null;
  if (m + n <= GRAM_ONCE) {
    // rows 0..m-1 are x, m..m+n-1 are y
    const z = new Float64Array((m + n) * d);
    z.set(xs); z.set(ys, m * d);
    const g = new Float64Array((m + n) * (m + n));
    gemm(m + n, m + n, d, view(z, d), view(z, d, 0, true), g, m + n);
    const N = m + n;
    gram = (a, b) => g[a * N + b];
  }
  const pick = (src: Float64Array, idx: Int32Array): Float64Array => {
    const out = new Float64Array(idx.length * d);
    for (let i = 0; i < idx.length; i++) out.set(src.subarray(idx[i] * d, idx[i] * d + d), i * d);
    return out;
  };
  for (let t = 0; t < subsets; t++) {
    const ix = rng.sample(m, s), iy = rng.sample(n, s);
    let kxx = 0, kyy = 0, kxy = 0;
    if (gram) {
      for (let i = 0; i < s; i++) {
        for (let j = 0; j < s; j++) {
          if (i !== j) { kxx += k3(gram(ix[i], ix[j])); kyy += k3(gram(m + iy[i], m + iy[j])); }
          kxy += k3(gram(ix[i], m + iy[j]));
        }
      }
    } else {
      const a = pick(xs, ix), b = pick(ys, iy);
      const gxx = new Float64Array(s * s), gyy = new Float64Array(s * s), gxy = new Float64Array(s * s);
      gemm(s, s, d, view(a, d), view(a, d, 0, true), gxx, s);
      gemm(s, s, d, view(b, d), view(b, d, 0, true), gyy, s);
      gemm(s, s, d, view(a, d), view(b, d, 0, true), gxy, s);
      for (let i = 0; i < s; i++) {
        for (let j = 0; j < s; j++) {
          if (i !== j) { kxx += k3(gxx[i * s + j]); kyy += k3(gyy[i * s + j]); }
          kxy += k3(gxy[i * s + j]);
        }
      }
    }
    values[t] = (kxx + kyy) / (s * (s - 1)) - (2 * kxy) / (s * s);
  }
  let mean = 0;
  for (const v of values) mean += v;
  mean /= subsets;
  let vr = 0;
  for (const v of values) vr += (v - mean) * (v - mean);
  return { kid: mean, std: Math.sqrt(vr / subsets), subsets, subsetSize: s, seed, values };
}
