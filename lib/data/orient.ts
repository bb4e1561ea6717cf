// Reorientation to RAS and axial slice extraction.
//
// "Axial slice k" must mean the same anatomy whatever the file's voxel order, so we map each voxel axis to the
// world axis (R, A or S) it points along most, from the header's affine (sform, else qform), and read the data
// through strides: no copy of the volume. Like nibabel's as_closest_canonical, obliquity is not resampled: an
// oblique scan is read along its nearest axes.
//
// Display convention of a slice (what the dataset stores and the preview shows): radiological, as radiologists
// read axial images — row 0 is the most anterior row, column 0 the patient's right.
import { DataError } from './errors';

export interface RasView {
  /** Voxel counts along R, A, S. */
  shape: [number, number, number];
  /** Voxel size in mm along R, A, S (column norms of the affine). */
  spacing: [number, number, number];
  /** Voxel (x, y, z) in RAS index space lives at data[offset + x*strides[0] + y*strides[1] + z*strides[2]]. */
  offset: number;
  strides: [number, number, number];
  data: Float32Array;
  /** Orientation code of the file's voxel axes, e.g. "LPS" for BraTS, "RAS" for canonical files. */
  code: string;
}

/**
 * For each world axis w (0 = R, 1 = A, 2 = S): the voxel axis that runs along it, and whether that voxel axis
 * runs the opposite way (towards L, P or I). Greedy on the largest |direction cosine|, one world axis per voxel axis.
 */
export function rasAxes(affine: number[][], file = '?'): { axis: [number, number, number]; flip: [boolean, boolean, boolean]; code: string } {
  const cos = [0, 1, 2].map((j) => {
    const n = Math.hypot(affine[0][j], affine[1][j], affine[2][j]);
    if (!(n > 0)) throw new DataError(file, `affine column ${j} is zero: voxel axis ${j} has no direction`);
    return [affine[0][j] / n, affine[1][j] / n, affine[2][j] / n];
  });
  const axis = [-1, -1, -1];
  const flip = [false, false, false];
  const usedJ = [false, false, false];
  for (let step = 0; step < 3; step++) {
    let best = -1, bw = 0, bj = 0;
    for (let w = 0; w < 3; w++) {
      if (axis[w] >= 0) continue;
      for (let j = 0; j < 3; j++) {
        if (usedJ[j]) continue;
        const v = Math.abs(cos[j][w]);
        if (v > best) { best = v; bw = w; bj = j; }
      }
    }
    axis[bw] = bj;
    usedJ[bj] = true;
    flip[bw] = cos[bj][bw] < 0;
  }
  const letters = ['RL', 'AP', 'SI'];
  let code = '';
  for (let j = 0; j < 3; j++) {
    const w = axis.indexOf(j);
    code += letters[w][flip[w] ? 1 : 0];
  }
  return { axis: axis as [number, number, number], flip: flip as [boolean, boolean, boolean], code };
}

/** A RAS view of a volume stored in file order with the given shape and affine. */
export function rasView(data: Float32Array, shape: [number, number, number], affine: number[][], file = '?'): RasView {
  const { axis, flip, code } = rasAxes(affine, file);
  const fileStrides = [1, shape[0], shape[0] * shape[1]];
  const out: RasView = { shape: [0, 0, 0], spacing: [0, 0, 0], offset: 0, strides: [0, 0, 0], data, code };
  for (let w = 0; w < 3; w++) {
    const j = axis[w];
    out.shape[w] = shape[j];
    out.spacing[w] = Math.hypot(affine[0][j], affine[1][j], affine[2][j]);
    out.strides[w] = flip[w] ? -fileStrides[j] : fileStrides[j];
    if (flip[w]) out.offset += (shape[j] - 1) * fileStrides[j];
  }
  return out;
}

/** Shape of a RAS view without the data (for validating slice ranges from headers alone). */
export function rasShape(shape: [number, number, number], affine: number[][], file = '?'): { shape: [number, number, number]; spacing: [number, number, number]; code: string } {
  const { axis, code } = rasAxes(affine, file);
  return {
    shape: axis.map((j) => shape[j]) as [number, number, number],
    spacing: axis.map((j) => Math.hypot(affine[0][j], affine[1][j], affine[2][j])) as [number, number, number],
    code,
  };
}

/**
 * Axial slice k (0-based along S) as rows × cols = shape[1] × shape[0], radiological display: row r is
 * y = ny-1-r (anterior first), column c is x = nx-1-c (patient's right first).
 */
export function axialSlice(v: RasView, k: number, out?: Float32Array): Float32Array {
  const [nx, ny, nz] = v.shape;
  if (!(k >= 0 && k < nz)) throw new RangeError(`axial slice ${k} out of range 0..${nz - 1}`);
  const img = out ?? new Float32Array(nx * ny);
  const [sx, sy, sz] = v.strides;
  const d = v.data;
  let i = 0;
  for (let r = 0; r < ny; r++) {
    let p = v.offset + (nx - 1) * sx + (ny - 1 - r) * sy + k * sz;
    for (let c = 0; c < nx; c++, p -= sx) img[i++] = d[p];
  }
  return img;
}

/** Output shape of resampleIso: voxel counts covering the same extent at `mm` spacing. */
export function isoShape(shape: [number, number, number], spacing: [number, number, number], mm: number): [number, number, number] {
  return shape.map((n, w) => Math.floor(((n - 1) * spacing[w]) / mm + 1e-6) + 1) as [number, number, number];
}

/**
 * Trilinear resampling of a RAS view to isotropic `mm` voxels (first voxel centre kept). Returns a contiguous
 * RAS view. Used for volumes that are not 1 mm (e.g. the 0.5 mm ch2better template).
 */
export function resampleIso(v: RasView, mm: number): RasView {
  const [nx, ny, nz] = v.shape;
  const shape = isoShape(v.shape, v.spacing, mm);
  const [mx, my, mz] = shape;
  const out = new Float32Array(mx * my * mz);
  const { data: d, offset: o, strides: [sx, sy, sz] } = v;
  // Per-axis source index and weight tables.
  const tab = (m: number, n: number, sp: number) => {
    const i0 = new Int32Array(m), w = new Float32Array(m);
    for (let i = 0; i < m; i++) {
      const t = Math.min((i * mm) / sp, n - 1);
      const f = Math.min(Math.floor(t), Math.max(n - 2, 0));
      i0[i] = f;
      w[i] = n > 1 ? t - f : 0;
    }
    return { i0, w };
  };
  const X = tab(mx, nx, v.spacing[0]), Y = tab(my, ny, v.spacing[1]), Z = tab(mz, nz, v.spacing[2]);
  const dx = nx > 1 ? sx : 0, dy = ny > 1 ? sy : 0, dz = nz > 1 ? sz : 0;
  let q = 0;
  for (let z = 0; z < mz; z++) {
    const wz = Z.w[z], pz = o + Z.i0[z] * sz;
    for (let y = 0; y < my; y++) {
      const wy = Y.w[y], pzy = pz + Y.i0[y] * sy;
      for (let x = 0; x < mx; x++) {
        const wx = X.w[x], p = pzy + X.i0[x] * sx;
        const c00 = d[p] + wx * (d[p + dx] - d[p]);
        const c10 = d[p + dy] + wx * (d[p + dy + dx] - d[p + dy]);
        const c01 = d[p + dz] + wx * (d[p + dz + dx] - d[p + dz]);
        const c11 = d[p + dz + dy] + wx * (d[p + dz + dy + dx] - d[p + dz + dy]);
        const c0 = c00 + wy * (c10 - c00);
        const c1 = c01 + wy * (c11 - c01);
        out[q++] = c0 + wz * (c1 - c0);
      }
    }
  }
  return { shape, spacing: [mm, mm, mm], offset: 0, strides: [1, mx, mx * my], data: out, code: v.code };
}
