// Procedural brain phantoms in the BraTS layout (240×240×155 at 1 mm by default; t1, t1ce, t2, flair, seg).
//
// So that the demo, the tests and new users have realistic data without a download. Per subject (deterministic
// from (seed, subject index), independent of how many subjects are asked for):
//   anatomy  head = scalp, skull, subarachnoid CSF around a brain made of a cerebrum ellipsoid (with a per-subject
//            wobbly surface), a cerebellum and a brainstem; cortex folds = thin CSF sulci along the zero set of
//            a sum of random plane waves (λ ≈ 16-26 mm), a 2.5-3 mm grey ribbon around every CSF surface, white
//            matter beneath; interhemispheric fissure; lateral and third ventricles, caudate, putamen, thalamus;
//            a small random head rotation.
//   tumour   one irregular lesion in a hemisphere: necrotic core (seg 1), enhancing rim (seg 4), surrounding
//            edema (seg 2) that spreads in white matter; it pushes nearby tissue away (mass effect).
//   contrast per-tissue intensities for T1 (dark CSF, bright WM), T1ce (bright enhancing rim), T2 (bright CSF and
//            edema) and FLAIR (suppressed CSF, bright edema), a per-subject gain, tissue texture, a smooth bias
//            field, a 3-tap blur (partial volume) and Gaussian noise; background stays exactly 0.
// Cost: one pass computes a tissue label per voxel (plane waves advanced by rotation recurrences along each row,
// no trig per voxel; only the head's bounding span of each row is visited); each contrast is then a table
// lookup, a separable blur and table-driven noise. Only the asked-for contrasts are made.
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { encodeNifti } from './nifti';
import { Contrast, CONTRASTS } from './brats';
import { mulberry32 } from '../util/prng';

// Tissue labels (internal; seg uses BraTS labels 1 = necrotic core, 2 = edema, 4 = enhancing tumour).
const BG = 0, SCALP = 1, SKULL = 2, CSF = 3, GM = 4, WM = 5, DEEP = 6, EDEMA = 7, NCR = 8, ET = 9, VENT = 10, STEM = 11;
const NLAB = 12;
const SEG_OF = new Uint8Array([0, 0, 0, 0, 0, 0, 0, 2, 1, 4, 0, 0]);

// Mean intensity per label (int16 units, BraTS-like ranges) and texture amplitude per label.
//                       BG  SCALP SKULL CSF   GM   WM  DEEP EDEMA NCR  ET  VENT STEM
const BASE: Record<Exclude<Contrast, 'seg'>, number[]> = {
  t1: /*        */ [0, 880, 140, 230, 560, 820, 640, 500, 290, 600, 210, 760],
  t1ce: /*      */ [0, 900, 150, 250, 580, 830, 660, 520, 270, 1350, 230, 780],
  t2: /*        */ [0, 620, 110, 1650, 880, 600, 800, 1330, 1500, 1000, 1700, 680],
  flair: /*     */ [0, 560, 90, 170, 720, 540, 660, 1250, 620, 930, 150, 600],
};
const TEXTURE = [0, 0.08, 0.15, 0.04, 0.06, 0.05, 0.05, 0.1, 0.15, 0.14, 0.03, 0.05];

export const PHANTOM_CONTRASTS = CONTRASTS;

const rng = mulberry32;
const hash = (a: number, b: number) => {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x632be5ab, 0xc2b2ae35);
  h ^= h >>> 16; h = Math.imul(h, 0x7feb352d); h ^= h >>> 15;
  return h >>> 0;
};

/** Sum of plane waves Σ A cos(k·p + φ), advanced along a row by rotating (cos, sin) pairs. */
class Waves {
  readonly n: number;
  readonly amp: Float64Array; readonly k: Float64Array; readonly ph: Float64Array;
  private c: Float64Array; private s: Float64Array; private dc: Float64Array; private ds: Float64Array;
  constructor(r: () => number, n: number, lambdaMin: number, lambdaMax: number) {
    this.n = n;
    this.amp = new Float64Array(n); this.k = new Float64Array(3 * n); this.ph = new Float64Array(n);
    this.c = new Float64Array(n); this.s = new Float64Array(n); this.dc = new Float64Array(n); this.ds = new Float64Array(n);
    let norm = 0;
    for (let w = 0; w < n; w++) {
      // uniform direction on the sphere
      const z = 2 * r() - 1, t = 2 * Math.PI * r(), q = Math.sqrt(1 - z * z);
      const kk = (2 * Math.PI) / (lambdaMin + (lambdaMax - lambdaMin) * r());
      this.k[3 * w] = kk * q * Math.cos(t); this.k[3 * w + 1] = kk * q * Math.sin(t); this.k[3 * w + 2] = kk * z;
      this.ph[w] = 2 * Math.PI * r();
      this.amp[w] = 0.6 + 0.8 * r();
      norm += this.amp[w] ** 2 / 2;
    }
    for (let w = 0; w < n; w++) this.amp[w] /= Math.sqrt(norm); // unit variance
  }
  /** Start a row at p with step dp per voxel. */
  start(px: number, py: number, pz: number, dx: number, dy: number, dz: number): void {
    for (let w = 0; w < this.n; w++) {
      const kx = this.k[3 * w], ky = this.k[3 * w + 1], kz = this.k[3 * w + 2];
      const a = kx * px + ky * py + kz * pz + this.ph[w];
      const d = kx * dx + ky * dy + kz * dz;
      this.c[w] = Math.cos(a); this.s[w] = Math.sin(a); this.dc[w] = Math.cos(d); this.ds[w] = Math.sin(d);
    }
  }
  value(): number {
    let v = 0;
    for (let w = 0; w < this.n; w++) v += this.amp[w] * this.c[w];
    return v;
  }
  step(): void {
    for (let w = 0; w < this.n; w++) {
      const c = this.c[w], s = this.s[w];
      this.c[w] = c * this.dc[w] - s * this.ds[w];
      this.s[w] = s * this.dc[w] + c * this.ds[w];
    }
  }
  /** Direct evaluation at a point (for the few voxels that need it off-row). */
  at(px: number, py: number, pz: number): number {
    let v = 0;
    for (let w = 0; w < this.n; w++) v += this.amp[w] * Math.cos(this.k[3 * w] * px + this.k[3 * w + 1] * py + this.k[3 * w + 2] * pz + this.ph[w]);
    return v;
  }
}

/** Approximate signed distance (mm, negative inside) to an axis-aligned ellipsoid centred at the origin. */
function ellDist(x: number, y: number, z: number, a: number, b: number, c: number): number {
  const xa = x / a, yb = y / b, zc = z / c;
  const r = Math.sqrt(xa * xa + yb * yb + zc * zc);
  if (r < 1e-9) return -Math.min(a, b, c);
  return ((r - 1) * Math.sqrt(x * x + y * y + z * z)) / r;
}
function inEll(x: number, y: number, z: number, a: number, b: number, c: number): boolean {
  const xa = x / a, yb = y / b, zc = z / c;
  return xa * xa + yb * yb + zc * zc < 1;
}

export interface PhantomSubjectParams {
  index: number;
  brain: [number, number, number];
  center: [number, number, number];
  yaw: number; pitch: number;
  ventricles: number;
  tumour: { center: [number, number, number]; radius: number; necrosis: number; edema: number; push: number };
  gain: number;
}

export interface PhantomSubject {
  shape: [number, number, number];
  spacing: [number, number, number];
  /** BraTS-like affine (LPS voxel order). */
  affine: number[][];
  params: PhantomSubjectParams;
  /** Internal tissue label per voxel (file order). */
  labels: Uint8Array;
  /** Per-voxel texture in [-1, 1] (scaled to int8). */
  texture: Int8Array;
  /** BraTS segmentation (0, 1, 2, 4). */
  seg(): Uint8Array;
  /** One contrast as int16. */
  contrast(c: Exclude<Contrast, 'seg'>): Int16Array;
}

export const BRATS_SHAPE: [number, number, number] = [240, 240, 155];
const FOV = [240, 240, 155]; // mm, kept whatever the voxel grid

/** Builds subject `index` of the phantom family `seed` on a grid of `shape` voxels (FOV 240×240×155 mm). */
export function phantomSubject(index: number, seed: number, shape: [number, number, number] = BRATS_SHAPE, o: { skull?: boolean } = {}): PhantomSubject {
  const [nx, ny, nz] = shape;
  const vx = FOV[0] / nx, vy = FOV[1] / ny, vz = FOV[2] / nz;
  const sseed = hash(seed, index);
  const r = rng(sseed);
  const u = (lo: number, hi: number) => lo + (hi - lo) * r();
  const skull = o.skull ?? true;

  // ---- per-subject shape parameters (mm)
  const A = u(63, 70), B = u(80, 89), C = u(58, 65); // cerebrum semi-axes
  const zc = u(76, 82), yc = u(-4, 4); // head centre: height above the FOV floor, A-P shift
  const yaw = u(-0.06, 0.06), pitch = u(-0.08, 0.08);
  const vs = u(0.75, 1.45); // ventricle size (atrophy)
  const hemi = r() < 0.5 ? -1 : 1;
  const tc: [number, number, number] = [hemi * u(18, 38), u(-40, 45), u(-5, 32)];
  const tR = u(9, 20), necro = u(0.2, 0.6), edema = u(1.5, 2.3), push = u(0.15, 0.35);
  const gain = u(0.85, 1.15);
  const tilt = [u(-0.12, 0.12), u(-0.12, 0.12), u(-0.1, 0.1)]; // bias field gradients per 100 mm
  const folds = new Waves(r, 10, 10, 18);
  const wobble = new Waves(r, 4, 70, 120);
  const folia = new Waves(r, 6, 6, 9);
  const tumourDirs = Array.from({ length: 4 }, () => {
    const z = 2 * r() - 1, t = 2 * Math.PI * r(), q = Math.sqrt(1 - z * z);
    return [q * Math.cos(t), q * Math.sin(t), z, u(2, 4), 2 * Math.PI * r(), u(0.05, 0.12)];
  });
  const sulcusW = u(0.6, 1.0), gmT = u(2.4, 3.1), sulcusDepth = u(12, 20);
  const fold0 = u(-0.15, 0.15); // shifts the zero set: more or fewer sulci
  const params: PhantomSubjectParams = {
    index, brain: [A, B, C], center: [0, yc, zc], yaw, pitch, ventricles: vs,
    tumour: { center: tc, radius: tR, necrosis: necro, edema, push }, gain,
  };

  // rotation (yaw about S, then pitch about R) of anatomical coordinates
  const cy = Math.cos(yaw), sy = Math.sin(yaw), cp = Math.cos(pitch), sp = Math.sin(pitch);
  const R = [
    [cy, -sy * cp, sy * sp],
    [sy, cy * cp, -cy * sp],
    [0, sp, cp],
  ];
  const HA = A + 17, HB = B + 17, HC = C + 19; // head (scalp surface) semi-axes
  // RMS gradient of the unit-variance fold field: |fold| / foldGrad ≈ distance (mm) to its zero set
  let g2 = 0;
  for (let w = 0; w < folds.n; w++) g2 += (folds.amp[w] ** 2 * (folds.k[3 * w] ** 2 + folds.k[3 * w + 1] ** 2 + folds.k[3 * w + 2] ** 2)) / 2;
  const foldGrad = Math.sqrt(g2);

  const N = nx * ny * nz;
  const labels = new Uint8Array(N);
  const texture = new Int8Array(N);
  const tR3 = tR * edema * 1.35;

  for (let k = 0; k < nz; k++) {
    const Z = vz * (k + 0.5) - zc;
    for (let j = 0; j < ny; j++) {
      const Y = vy * ((ny - 1) / 2 - j) - yc;
      const X0 = vx * ((nx - 1) / 2);
      // P = R·(X, Y, Z) with X = X0 - vx·i
      const px0 = R[0][0] * X0 + R[0][1] * Y + R[0][2] * Z, dpx = -vx * R[0][0];
      const py0 = R[1][0] * X0 + R[1][1] * Y + R[1][2] * Z, dpy = -vx * R[1][0];
      const pz0 = R[2][0] * X0 + R[2][1] * Y + R[2][2] * Z, dpz = -vx * R[2][0];
      // span of i inside the head ellipsoid: |(p0 + t dp)/H|² <= 1
      const qa = (dpx / HA) ** 2 + (dpy / HB) ** 2 + (dpz / HC) ** 2;
      const qb = 2 * ((px0 * dpx) / HA ** 2 + (py0 * dpy) / HB ** 2 + (pz0 * dpz) / HC ** 2);
      const qc = (px0 / HA) ** 2 + (py0 / HB) ** 2 + (pz0 / HC) ** 2 - 1;
      const disc = qb * qb - 4 * qa * qc;
      if (disc <= 0) continue;
      const i0 = Math.max(0, Math.ceil((-qb - Math.sqrt(disc)) / (2 * qa)));
      const i1 = Math.min(nx - 1, Math.floor((-qb + Math.sqrt(disc)) / (2 * qa)));
      if (i1 < i0) continue;
      folds.start(px0 + i0 * dpx, py0 + i0 * dpy, pz0 + i0 * dpz, dpx, dpy, dpz);
      const row = (k * ny + j) * nx;
      for (let i = i0; i <= i1; i++, folds.step()) {
        let x = px0 + i * dpx, y = py0 + i * dpy, z = pz0 + i * dpz;
        // mass effect: push tissue away from the tumour centre
        const tx0 = x - tc[0], ty0 = y - tc[1], tz0 = z - tc[2];
        const t2 = tx0 * tx0 + ty0 * ty0 + tz0 * tz0;
        let tdist = Math.sqrt(t2);
        const sig = 1.6 * tR;
        if (t2 < 9 * sig * sig) {
          const f = push * Math.exp(-t2 / (2 * sig * sig));
          x -= f * tx0; y -= f * ty0; z -= f * tz0;
        }
        const fold = folds.value() + fold0;
        const tex = fold * 0.5;
        // brain = cerebrum ∪ cerebellum ∪ brainstem
        let dCere = ellDist(x, y - 2, z, A, B, C);
        if (dCere > -5 && dCere < 5) dCere += 3 * wobble.at(x, y, z); // a wobbly surface (only the shell needs it)
        const dCbl = z < -0.3 * C && y < 0 ? ellDist(x, y + 0.55 * B, z + 0.72 * C, 0.75 * A, 0.38 * B, 0.36 * C) : 1e9;
        const sy2 = y + 12, sz = z < -1.2 * C ? -1.2 * C : z > -0.2 * C ? -0.2 * C : z;
        const dStem = Math.sqrt(x * x + sy2 * sy2 + (z - sz) * (z - sz)) - 11;
        const dBrain = Math.min(dCere, dCbl, dStem);
        let lab: number;
        if (dBrain > 0) {
          if (!skull) lab = dBrain < 2.5 ? CSF : BG;
          else lab = dBrain < 2.5 ? CSF : dBrain < 8.5 ? SKULL : SCALP;
        } else {
          const depth = -dBrain;
          if (dStem <= dCere && dStem <= dCbl && dStem < 0 && z < -0.25 * C) {
            lab = depth < 1.5 ? GM : STEM;
          } else if (dCbl < dCere && z < -0.45 * C) {
            // cerebellum: fine folia, mostly grey matter with a white core
            const fl = folia.at(x, y, z);
            lab = Math.abs(fl) < 0.18 && depth < 14 ? CSF : depth > 9 + 6 * fl ? WM : GM;
          } else {
            // cerebrum: sulci where the fold field crosses zero (and in the midline fissure), grey ribbon, white core
            let csfDist = depth;
            const s = Math.abs(fold) / foldGrad - sulcusW;
            if (depth < sulcusDepth + 6 * fold) csfDist = Math.min(csfDist, s);
            const ax = Math.abs(x) - 1.2;
            if (z > 0.25 * C || Math.abs(y) > 0.5 * B || z < -0.3 * C) csfDist = Math.min(csfDist, ax);
            lab = csfDist < 0 ? CSF : csfDist < gmT ? GM : WM;
            // deep structures (only near the centre)
            if (Math.abs(x) < 32 && Math.abs(y) < 45 && z > -20 && z < 32) {
              const ax2 = Math.abs(x);
              // lateral ventricles: two crescents, close at the frontal horns, diverging posteriorly
              const xc = 3.5 + 0.0028 * (y - 22) * (y - 22), wv = vs * (2.4 + 2.4 * Math.exp(-((y - 14) * (y - 14)) / 150));
              const hz = 5 * vs + 2, zv = 12 + 0.08 * y;
              const ex = (ax2 - xc) / wv, ez = (z - zv) / hz;
              if (y > -38 && y < 30 && ex * ex + ez * ez < 1) lab = VENT;
              else if (ax2 < 1.5 * vs && y > -12 && y < 8 && z > -8 && z < 9) lab = VENT;
              else if (inEll(ax2 - 3 - 5 * vs - 6, y - 14, z - 9, 5, 10, 7) || inEll(ax2 - 24, y - 4, z - 1, 5, 15, 9) || inEll(ax2 - 10, y + 12, z - 3, 8, 12, 8)) lab = DEEP;
            }
          }
          // tumour and edema (in tumour coordinates, unwarped)
          if (tdist < tR3) {
            let wob = 1;
            if (tdist > 1e-6) {
              const ux = tx0 / tdist, uy = ty0 / tdist, uz = tz0 / tdist;
              for (const d of tumourDirs) wob += d[5] * Math.cos(d[3] * (ux * d[0] + uy * d[1] + uz * d[2]) + d[4]);
            }
            const tn = tdist / (tR * wob);
            if (tn < necro) lab = NCR;
            else if (tn < 1) lab = ET;
            else if (x * hemi > -1.5) { // edema stays in the tumour's hemisphere, spreads in white matter, spares most cortex
              if ((lab === WM || lab === STEM || lab === DEEP) && tn < edema * (1 + 0.12 * fold)) lab = EDEMA;
              else if (lab === GM && tn < edema * 0.85) lab = EDEMA;
            }
          }
        }
        labels[row + i] = lab;
        texture[row + i] = Math.max(-127, Math.min(127, Math.round(tex * 127)));
      }
    }
  }

  const affine = [
    [-vx, 0, 0, 0],
    [0, -vy, 0, vy * (ny - 1)],
    [0, 0, vz, 0],
    [0, 0, 0, 1],
  ];

  const contrast = (c: Exclude<Contrast, 'seg'>): Int16Array => {
    const cr = rng(hash(sseed, CONTRASTS.indexOf(c) + 1));
    const base = BASE[c].map((v) => v * gain * (1 + 0.06 * (cr() - 0.5)));
    const img = new Float32Array(N);
    // label → intensity, with texture and a smooth multiplicative bias field
    for (let k = 0; k < nz; k++) {
      const Z = (vz * (k + 0.5) - zc) / 100;
      for (let j = 0; j < ny; j++) {
        const Y = (vy * ((ny - 1) / 2 - j) - yc) / 100;
        const row = (k * ny + j) * nx;
        for (let i = 0; i < nx; i++) {
          const l = labels[row + i];
          if (l === BG) continue;
          const X = (vx * ((nx - 1) / 2 - i)) / 100;
          const bias = 1 + tilt[0] * X + tilt[1] * Y + tilt[2] * Z - 0.08 * (X * X + Y * Y);
          img[row + i] = base[l] * (1 + TEXTURE[l] * (texture[row + i] / 127)) * bias;
        }
      }
    }
    blur3(img, nx, ny, nz);
    // Gaussian noise from a table (σ = 2.5% of the white-matter level), only where there is signal
    const sigma = 0.025 * BASE.t1[WM] * gain;
    const table = new Float32Array(65536);
    for (let t = 0; t < table.length; t += 2) {
      const a = Math.sqrt(-2 * Math.log(1 - cr())), b = 2 * Math.PI * cr();
      table[t] = a * Math.cos(b) * sigma; table[t + 1] = a * Math.sin(b) * sigma;
    }
    let x = hash(sseed, 77 + CONTRASTS.indexOf(c)) | 1;
    const out = new Int16Array(N);
    for (let p = 0; p < N; p++) {
      const v = img[p];
      if (v <= 0.5) continue; // background stays exactly 0
      x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
      const w = Math.round(v + table[x & 65535]);
      out[p] = w < 1 ? 1 : w > 32767 ? 32767 : w;
    }
    return out;
  };
  const seg = () => {
    const s = new Uint8Array(N);
    for (let p = 0; p < N; p++) s[p] = SEG_OF[labels[p]];
    return s;
  };
  return { shape, spacing: [vx, vy, vz], affine, params, labels, texture, seg, contrast };
}

/**
 * Separable [1 2 1]/4 blur along x, y and z, in place (edges replicate). The y and z passes combine whole rows
 * and planes (contiguous, vectorisable) rather than walking strided columns.
 */
export function blur3(a: Float32Array, nx: number, ny: number, nz: number): void {
  // x: within each row
  for (let r = 0, o = 0; r < ny * nz; r++, o += nx) {
    let prev = a[o];
    for (let i = 0; i < nx; i++) {
      const cur = a[o + i], next = i < nx - 1 ? a[o + i + 1] : cur;
      a[o + i] = 0.25 * (prev + next) + 0.5 * cur;
      prev = cur;
    }
  }
  // lines of `len` values spaced `step` apart, `count` of them in a block: y (rows in a plane), z (planes)
  const lines = (len: number, step: number, blocks: number, blockStride: number) => {
    const prev = new Float32Array(step), cur = new Float32Array(step);
    for (let b = 0; b < blocks; b++) {
      const base = b * blockStride;
      prev.set(a.subarray(base, base + step));
      for (let q = 0; q < len; q++) {
        const o = base + q * step;
        cur.set(a.subarray(o, o + step));
        const no = q < len - 1 ? o + step : -1;
        for (let i = 0; i < step; i++) {
          const next = no >= 0 ? a[no + i] : cur[i];
          a[o + i] = 0.25 * (prev[i] + next) + 0.5 * cur[i];
        }
        prev.set(cur);
      }
    }
  };
  lines(ny, nx, nz, nx * ny);
  lines(nz, nx * ny, 1, 0);
}

export interface PhantomOptions {
  subjects: number;
  seed: number;
  out: string;
  /** Voxel grid (default 240×240×155); the field of view stays 240×240×155 mm. */
  shape?: [number, number, number];
  /** Which files to write (default all five). */
  contrasts?: Contrast[];
  /** File naming: BraTS 2021 (default) or 2020. */
  layout?: 2020 | 2021;
  /** Skull and scalp (default true; false gives skull-stripped volumes like real BraTS). */
  skull?: boolean;
  /** gzip level 1-9 (default 1: fast, and background compresses well anyway); 0 writes plain .nii. */
  level?: number;
  /** First subject index (default 0). */
  first?: number;
  onProgress?: (done: number, total: number, subject: string) => void;
}

export function phantomSubjectId(index: number, layout: 2020 | 2021 = 2021): string {
  return layout === 2021 ? `BraTS2021_${String(index).padStart(5, '0')}` : `BraTS20_Training_${String(index + 1).padStart(3, '0')}`;
}

/** Writes the phantom family: out/<id>/<id>_<contrast>.nii.gz. gzip and file writes overlap the next volume's work. */
export async function writePhantom(o: PhantomOptions): Promise<{ files: string[]; seconds: number; bytes: number }> {
  const t0 = Date.now();
  const shape = o.shape ?? BRATS_SHAPE;
  const contrasts = o.contrasts ?? [...CONTRASTS];
  const level = o.level ?? 1;
  const files: string[] = [];
  let bytes = 0;
  let pending: Promise<void>[] = [];
  for (let s = 0; s < o.subjects; s++) {
    const index = (o.first ?? 0) + s;
    const id = phantomSubjectId(index, o.layout ?? 2021);
    const dir = path.join(o.out, id);
    fs.mkdirSync(dir, { recursive: true });
    const subj = phantomSubject(index, o.seed, shape, { skull: o.skull });
    const done = pending;
    pending = [];
    for (const c of contrasts) {
      const data = c === 'seg' ? subj.seg() : subj.contrast(c);
      const file = path.join(dir, `${id}_${c}.nii${level > 0 ? '.gz' : ''}`);
      const buf = encodeNifti(shape, data, { affine: subj.affine, description: `mrigan phantom seed ${o.seed} subject ${index} ${c}` });
      files.push(file);
      const job = (async () => {
        const out = level > 0 ? await new Promise<Buffer>((res, rej) => zlib.gzip(buf, { level }, (e, z) => (e ? rej(e) : res(z)))) : buf;
        bytes += out.length;
        await fs.promises.writeFile(file, out);
      })();
      job.catch(() => {}); // awaited below; no unhandled-rejection report meanwhile
      pending.push(job);
    }
    await Promise.all(done); // at most two subjects' files in flight
    o.onProgress?.(s + 1, o.subjects, id);
  }
  await Promise.all(pending);
  return { files, seconds: (Date.now() - t0) / 1000, bytes };
}
