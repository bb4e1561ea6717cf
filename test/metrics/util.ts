// Helpers for the metrics tests: seeded Gaussian-ish data, naive float64 matrix loops, and the system Python
// (/usr/bin/python3 with numpy/scipy) used as an independent reference when it is installed.
import { spawnSync } from 'child_process';
import { rng } from '../helpers';

export const PY = '/usr/bin/python3';

/** True when /usr/bin/python3 can import every module named. */
export function pythonHas(...mods: string[]): boolean {
  const r = spawnSync(PY, ['-c', mods.map((m) => `import ${m}`).join('; ')], { encoding: 'utf8' });
  return r.status === 0;
}

/** Runs a Python snippet with the given argv; returns stdout (throws with stderr on failure). */
export function runPython(code: string, args: string[] = []): string {
  const r = spawnSync(PY, ['-c', code, ...args], { encoding: 'utf8', maxBuffer: 1 << 28, env: { ...process.env, OPENBLAS_NUM_THREADS: '1' } });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
  return r.stdout;
}

/** Standard normal values (Box–Muller on the seeded uniform generator). */
export function gaussian(n: number, seed: number): Float64Array {
  const r = rng(seed), out = new Float64Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(r(), 1e-300), v = r();
    const m = Math.sqrt(-2 * Math.log(u));
    out[i] = m * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = m * Math.sin(2 * Math.PI * v);
  }
  return out;
}

/** C = A (m×k) · B (k×n), naive triple loop. */
export function matmul(a: Float64Array, b: Float64Array, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) { let s = 0; for (let p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j]; c[i * n + j] = s; }
  return c;
}

export function transpose(a: Float64Array, m: number, n: number): Float64Array {
  const t = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) t[j * m + i] = a[i * n + j];
  return t;
}

/** A random orthogonal d×d matrix (Gram–Schmidt on Gaussian columns, done twice for accuracy). */
export function randomOrthogonal(d: number, seed: number): Float64Array {
  const g = gaussian(d * d, seed);
  const q = new Float64Array(d * d);
  for (let j = 0; j < d; j++) {
    const v = new Float64Array(d);
    for (let i = 0; i < d; i++) v[i] = g[i * d + j];
    for (let pass = 0; pass < 2; pass++) {
      for (let p = 0; p < j; p++) {
        let s = 0;
        for (let i = 0; i < d; i++) s += q[i * d + p] * v[i];
        for (let i = 0; i < d; i++) v[i] -= s * q[i * d + p];
      }
    }
    let nrm = 0;
    for (let i = 0; i < d; i++) nrm += v[i] * v[i];
    nrm = Math.sqrt(nrm);
    for (let i = 0; i < d; i++) q[i * d + j] = v[i] / nrm;
  }
  return q;
}

/** Q diag(λ) Qᵀ */
export function fromEigen(q: Float64Array, lam: ArrayLike<number>, d: number): Float64Array {
  const a = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) { let s = 0; for (let k = 0; k < d; k++) s += q[i * d + k] * lam[k] * q[j * d + k]; a[i * d + j] = s; }
  return a;
}

/** Rows × d samples: x = z·M + shift, z standard normal (so the covariance is MᵀM). */
export function samples(rows: number, d: number, seed: number, scale = 1, shift = 0): Float64Array {
  const z = gaussian(rows * d, seed), m = gaussian(d * d, seed + 1000);
  const x = matmul(z, m, rows, d, d);
  for (let i = 0; i < x.length; i++) x[i] = x[i] * scale / Math.sqrt(d) + shift + 0.01 * (i % d);
  return x;
}
