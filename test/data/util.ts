// Helpers for the data tests: temp folders and an independent reader (nifti-reader-js) to compare against.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as nifti from 'nifti-reader-js';

export function tmpdir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `mrigan-${tag}-`));
}

export function rmrf(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Reads a file with nifti-reader-js (whole file in memory): header object and voxel values in file order. */
export function referenceRead(file: string): { header: nifti.NIFTI1 | nifti.NIFTI2; values: Float64Array } {
  const b = fs.readFileSync(file);
  let ab: ArrayBuffer = b.buffer.slice(b.byteOffset, b.byteOffset + b.length) as ArrayBuffer;
  if (nifti.isCompressed(ab)) ab = nifti.decompress(ab) as ArrayBuffer;
  const header = nifti.readHeader(ab)!;
  const img = nifti.readImage(header, ab);
  const le = header.littleEndian;
  const dv = new DataView(img);
  const n = img.byteLength / (header.numBitsPerVoxel / 8);
  const values = new Float64Array(n);
  const get: Record<number, (o: number) => number> = {
    2: (o) => dv.getUint8(o), 4: (o) => dv.getInt16(o * 2, le), 8: (o) => dv.getInt32(o * 4, le), 16: (o) => dv.getFloat32(o * 4, le),
    64: (o) => dv.getFloat64(o * 8, le), 256: (o) => dv.getInt8(o), 512: (o) => dv.getUint16(o * 2, le), 768: (o) => dv.getUint32(o * 4, le),
  };
  const g = get[header.datatypeCode];
  let slope = header.scl_slope, inter = header.scl_inter;
  if (!Number.isFinite(slope) || slope === 0) { slope = 1; inter = 0; }
  for (let i = 0; i < n; i++) values[i] = g(i) * slope + inter;
  return { header, values };
}

/** Test volume in RAS index space: distinct, asymmetric values v(x, y, z). */
export function rasReference(nx: number, ny: number, nz: number): Float32Array {
  const v = new Float32Array(nx * ny * nz);
  for (let z = 0; z < nz; z++) for (let y = 0; y < ny; y++) for (let x = 0; x < nx; x++) v[x + nx * (y + ny * z)] = 1 + x + 100 * y + 10000 * z;
  return v;
}

/** Reference axial slice in radiological display: row r = anterior first, column c = patient's right first. */
export function referenceAxial(v: Float32Array, nx: number, ny: number, k: number): Float32Array {
  const out = new Float32Array(nx * ny);
  for (let r = 0; r < ny; r++) for (let c = 0; c < nx; c++) out[r * nx + c] = v[nx - 1 - c + nx * (ny - 1 - r + ny * k)];
  return out;
}

/**
 * Stores a RAS volume in another voxel order: file axis j runs along world axis axes[j], backwards when flips[j].
 * Returns the file-order data, its shape and the (1 mm) affine that describes it.
 */
export function permuteVolume(v: Float32Array, ras: [number, number, number], axes: number[], flips: boolean[]): { data: Float32Array; shape: [number, number, number]; affine: number[][] } {
  const shape = axes.map((w) => ras[w]) as [number, number, number];
  const affine = [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1]];
  for (let j = 0; j < 3; j++) {
    const w = axes[j];
    affine[w][j] = flips[j] ? -1 : 1;
    affine[w][3] = flips[j] ? ras[w] - 1 : 0;
  }
  const data = new Float32Array(v.length);
  const idx = [0, 0, 0];
  for (idx[2] = 0; idx[2] < shape[2]; idx[2]++) {
    for (idx[1] = 0; idx[1] < shape[1]; idx[1]++) {
      for (idx[0] = 0; idx[0] < shape[0]; idx[0]++) {
        const r = [0, 0, 0];
        for (let j = 0; j < 3; j++) r[axes[j]] = flips[j] ? shape[j] - 1 - idx[j] : idx[j];
        data[idx[0] + shape[0] * (idx[1] + shape[1] * idx[2])] = v[r[0] + ras[0] * (r[1] + ras[1] * r[2])];
      }
    }
  }
  return { data, shape, affine };
}

export const PERMUTATIONS = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
