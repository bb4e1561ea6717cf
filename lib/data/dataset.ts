// The dataset file: a fixed 32-byte prefix, a JSON header, then the slices as one contiguous little-endian array
// starting at a 4096-byte boundary (so the data section can be memory-mapped page-aligned). Format: docs/dataset-format.md.
//
// Writing is atomic: slices go to FILE.tmp-<pid>, the header is written last, the file is fsynced and renamed
// over FILE. Any error (or exit) before the rename deletes the temp file, so a failed or interrupted run never
// leaves a FILE behind (nor replaces an older one).
// Reading never loads the whole file: slices are read with fs.readSync at their offsets. Float32 slices are
// copied byte for byte, so (like numpy's default) this assumes a little-endian host, which every x86/ARM node is.
import * as fs from 'fs';
import * as path from 'path';
import { DataError } from './errors';
import { mulberry32 } from '../util/prng';
import { tempName, mkdirs, removeStaleTemps } from '../util/fs';
import { fsError } from '../util/errors';

export const MAGIC = 'MRIGANDS';
export const VERSION = 1;
export const PREFIX_BYTES = 32;
export const ALIGN = 4096;

export type SliceDType = 'float32' | 'int16' | 'uint8';
const DTYPE_BYTES: Record<SliceDType, number> = { float32: 4, int16: 2, uint8: 1 };
/** value = q * scale + offset for quantised types; uint8 maps 0 → -1 and 255 → +1, int16 maps ±32767 → ±1. */
export const QUANT: Record<SliceDType, { scale: number; offset: number }> = {
  float32: { scale: 1, offset: 0 },
  int16: { scale: 1 / 32767, offset: 0 },
  uint8: { scale: 2 / 255, offset: -1 },
};

export interface SliceRecord {
  subject: string;
  contrast: string;
  /** Axial slice index in the (RAS, possibly resampled) source volume; image index for PNG sources. */
  slice: number;
  /** Index into header.sources. */
  source: number;
}

export interface SourceRecord {
  path: string;
  bytes: number;
  subject: string;
  contrast: string;
  kind: 'nifti' | 'png';
  /** Source voxel grid as stored in the file, and its orientation code (e.g. "LPS"). */
  dims?: number[];
  datatype?: string;
  orientation?: string;
  affineSource?: string;
  spacing?: number[];
  /** Intensity scaling applied: foreground = values > background; [lo, hi] → [-1, 1]. */
  scaling?: { background: number; lo: number; hi: number; foreground: number };
  [k: string]: unknown;
}

export interface DatasetHeader {
  format: 'mrigan-dataset';
  version: number;
  /** [N, 1, H, W] */
  shape: [number, number, number, number];
  dtype: SliceDType;
  /** Stored value q decodes to q * scale + offset (1 and 0 for float32). */
  scale: number;
  offset: number;
  /** Byte offset of slice 0 (multiple of 4096) and bytes of the data section. */
  dataOffset: number;
  dataBytes: number;
  created: string;
  tool: string;
  recipe: Record<string, unknown>;
  sources: SourceRecord[];
  slices: SliceRecord[];
}

const align = (n: number, a: number) => Math.ceil(n / a) * a;

// Temp files of writers still open in this process: removed on exit whatever the reason.
const liveTemps = new Set<string>();
let exitHook = false;
function track(tmp: string) {
  liveTemps.add(tmp);
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const t of liveTemps) try { fs.unlinkSync(t); } catch { /* already gone */ }
    });
  }
}

/**
 * Writes a dataset: create() with the header (all but dataOffset/dataBytes, which it fills in), writeSlice() each
 * slice as float32 in [-1, 1] (any order), commit() or abort(). Source records may be updated until commit (the
 * per-volume scaling is only known after reading each volume); the header space reserves room for that.
 */
export class DatasetWriter {
  readonly file: string;
  readonly tmp: string;
  readonly header: DatasetHeader;
  private fd: number;
  private readonly sliceBytes: number;
  private readonly reserved: number;
  private written: Uint8Array;
  private done = false;

  constructor(file: string, header: Omit<DatasetHeader, 'dataOffset' | 'dataBytes' | 'scale' | 'offset' | 'format' | 'version'>) {
    const [n, c, h, w] = header.shape;
    if (header.slices.length !== n) throw new Error(`DatasetWriter: ${header.slices.length} slice records for shape[0] = ${n}`);
    if (c !== 1) throw new Error('DatasetWriter: one channel only');
    this.file = file;
    this.tmp = tempName(file);
    const q = QUANT[header.dtype];
    if (!q) throw new Error(`DatasetWriter: unknown dtype ${header.dtype}`);
    this.sliceBytes = h * w * DTYPE_BYTES[header.dtype];
    this.header = { format: 'mrigan-dataset', version: VERSION, ...header, scale: q.scale, offset: q.offset, dataOffset: 0, dataBytes: n * this.sliceBytes };
    // Room for the header as it is now plus, per source, scaling numbers and a little more (numbers <= 25 chars).
    this.reserved = Buffer.byteLength(JSON.stringify(this.header)) + 200 * header.sources.length + 1024;
    this.header.dataOffset = align(PREFIX_BYTES + this.reserved, ALIGN);
    this.written = new Uint8Array(n);
    mkdirs(path.dirname(path.resolve(file)));
    removeStaleTemps(file); // FILE.tmp-<pid> of a writer that was killed (kill -9 runs no exit hook)
    this.fd = fs.openSync(this.tmp, 'w');
    track(this.tmp);
  }

  get count(): number { return this.header.shape[0]; }

  /** Writes slice i (float32 values in [-1, 1], H×W row-major), quantising if the dtype asks for it. */
  writeSlice(i: number, img: Float32Array): void {
    const [n, , h, w] = this.header.shape;
    if (!(i >= 0 && i < n)) throw new RangeError(`slice ${i} out of range 0..${n - 1}`);
    if (img.length !== h * w) throw new Error(`slice ${i}: ${img.length} values, expected ${h * w}`);
    let bytes: Uint8Array;
    if (this.header.dtype === 'float32') bytes = new Uint8Array(img.buffer, img.byteOffset, img.byteLength);
    else if (this.header.dtype === 'int16') {
      const q = new Int16Array(img.length);
      for (let k = 0; k < img.length; k++) q[k] = Math.round(Math.min(1, Math.max(-1, img[k])) * 32767);
      bytes = new Uint8Array(q.buffer);
    } else {
      const q = new Uint8Array(img.length);
      for (let k = 0; k < img.length; k++) q[k] = Math.round((Math.min(1, Math.max(-1, img[k])) + 1) * 127.5);
      bytes = q;
    }
    fs.writeSync(this.fd, bytes, 0, bytes.length, this.header.dataOffset + i * this.sliceBytes);
    this.written[i] = 1;
  }

  /** Writes the header, fsyncs and renames the temp file over the target. */
  commit(): void {
    if (this.done) throw new Error('DatasetWriter: already finished');
    try {
      const missing = this.written.indexOf(0);
      if (missing >= 0) throw new Error(`DatasetWriter: slice ${missing} was never written`);
      const json = Buffer.from(JSON.stringify(this.header));
      if (PREFIX_BYTES + json.length > this.header.dataOffset) throw new Error('DatasetWriter: header outgrew its reserved space');
      const head = Buffer.alloc(this.header.dataOffset, 0x20); // JSON padded with spaces
      head.write(MAGIC, 0, 'latin1');
      head.writeUInt32LE(VERSION, 8);
      head.writeUInt32LE(json.length, 12);
      head.writeBigUInt64LE(BigInt(this.header.dataOffset), 16);
      head.writeBigUInt64LE(BigInt(this.header.dataBytes), 24);
      json.copy(head, PREFIX_BYTES);
      fs.writeSync(this.fd, head, 0, head.length, 0);
      fs.ftruncateSync(this.fd, this.header.dataOffset + this.header.dataBytes);
      fs.fsyncSync(this.fd);
      fs.closeSync(this.fd);
      this.fd = -1;
      fs.renameSync(this.tmp, this.file);
      liveTemps.delete(this.tmp);
      this.done = true;
    } catch (e) {
      this.abort();
      throw e;
    }
  }

  /** Deletes the temp file; the target is left as it was. Safe to call more than once. */
  abort(): void {
    this.done = true;
    if (this.fd >= 0) try { fs.closeSync(this.fd); } catch { /* closed */ }
    this.fd = -1;
    try { fs.unlinkSync(this.tmp); } catch { /* gone */ }
    liveTemps.delete(this.tmp);
  }
}

export interface Dataset {
  readonly file: string;
  /** Number of slices in this view (a shard has fewer than the file). */
  readonly count: number;
  /** [count, 1, H, W] */
  readonly shape: [number, number, number, number];
  readonly meta: DatasetHeader;
  /** Global slice index (into meta.slices) of each of this view's slices. */
  readonly indices: Int32Array;
  /** Slice i of this view as H×W float32 values in [-1, 1]. */
  slice(i: number): Float32Array;
  /** Slices `idx` of this view, concatenated: an [idx.length, 1, H, W] batch. */
  batch(idx: ArrayLike<number>): Float32Array;
  /** This rank's part of this view: disjoint across ranks, covering, sizes within 1. With `seed`, the slices are
   *  first shuffled by a permutation that every rank computes identically (e.g. seed = f(run seed, epoch)). */
  shard(rank: number, size: number, seed?: number): Dataset;
  /** Releases the file descriptor (shared by all views of the file). */
  close(): void;
}

/** Reads the prefix and JSON header and checks them against the file's size. */
export function readDatasetHeader(file: string): DatasetHeader {
  const fd = openFile(file);
  try { return headerOf(fd, file); } finally { fs.closeSync(fd); }
}

function openFile(file: string): number {
  let fd: number;
  try { fd = fs.openSync(file, 'r'); } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new DataError(file, 'no such dataset file');
    throw fsError(e, file, 'cannot open dataset');
  }
  // a folder opens fine for reading on Linux and fails later with a bare EISDIR: say it here
  if (!fs.fstatSync(fd).isFile()) {
    fs.closeSync(fd);
    throw new DataError(file, 'is a folder, not a dataset file; give the file written by mrigan prepare');
  }
  return fd;
}

function headerOf(fd: number, file: string): DatasetHeader {
  const size = fs.fstatSync(fd).size;
  const pre = Buffer.alloc(PREFIX_BYTES);
  if (fs.readSync(fd, pre, 0, PREFIX_BYTES, 0) < PREFIX_BYTES || pre.toString('latin1', 0, 8) !== MAGIC) {
    throw new DataError(file, `not an mrigan dataset (no "${MAGIC}" magic); create one with mrigan prepare`);
  }
  const version = pre.readUInt32LE(8);
  if (version !== VERSION) throw new DataError(file, `dataset format version ${version}, this mrigan reads version ${VERSION}`);
  const jlen = pre.readUInt32LE(12);
  if (PREFIX_BYTES + jlen > size) throw new DataError(file, `truncated dataset header (${jlen} bytes of JSON declared, file has ${size})`);
  const jb = Buffer.alloc(jlen);
  fs.readSync(fd, jb, 0, jlen, PREFIX_BYTES);
  let h: DatasetHeader;
  try { h = JSON.parse(jb.toString('utf8')); } catch (e) { throw new DataError(file, `corrupt dataset header (${(e as Error).message})`); }
  if (typeof h !== 'object' || h === null || Array.isArray(h)) throw new DataError(file, 'corrupt dataset header (not a JSON object)');
  const shapeOk = Array.isArray(h.shape) && h.shape.length === 4 && h.shape.every((x) => Number.isSafeInteger(x) && x >= 0);
  const [n, c, hh, w] = shapeOk ? h.shape : [-1, -1, -1, -1];
  const eb = typeof h.dtype === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_BYTES, h.dtype) ? DTYPE_BYTES[h.dtype] : 0;
  if (!eb || !shapeOk || c !== 1 || !(hh > 0) || !(w > 0) || !Array.isArray(h.slices) || h.slices.length !== n || !Array.isArray(h.sources)
    || !(typeof h.scale === 'number' && Number.isFinite(h.scale)) || !(typeof h.offset === 'number' && Number.isFinite(h.offset))) {
    throw new DataError(file, 'corrupt dataset header (shape, dtype, scale or slice records)');
  }
  if (Number(pre.readBigUInt64LE(16)) !== h.dataOffset || h.dataOffset % ALIGN !== 0 || h.dataBytes !== n * hh * w * eb) {
    throw new DataError(file, 'corrupt dataset header (data offset or size disagree)');
  }
  if (size !== h.dataOffset + h.dataBytes) {
    throw new DataError(file, `truncated or padded dataset: ${size} bytes, header says ${h.dataOffset + h.dataBytes}`);
  }
  return h;
}

/** Seeded Fisher–Yates permutation of 0..n-1 (mulberry32; identical on every rank for the same seed). */
export function permutation(n: number, seed: number): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  const rand = mulberry32(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = p[i]; p[i] = p[j]; p[j] = t;
  }
  return p;
}

/** Opens a dataset file for reading slices by index. */
export function openDataset(file: string): Dataset {
  const fd = openFile(file);
  let meta: DatasetHeader;
  try { meta = headerOf(fd, file); } catch (e) { fs.closeSync(fd); throw e; }
  const [n, , h, w] = meta.shape;
  const hw = h * w;
  const eb = DTYPE_BYTES[meta.dtype];
  const state = { fd };
  const raw = Buffer.allocUnsafe(hw * eb);

  // Decodes `count` consecutive global slices starting at g into out[at..].
  const readRun = (g: number, count: number, out: Float32Array, at: number) => {
    if (state.fd < 0) throw new DataError(file, 'dataset is closed');
    const pos = meta.dataOffset + g * hw * eb;
    if (meta.dtype === 'float32') {
      const dst = new Uint8Array(out.buffer, out.byteOffset + at * 4, count * hw * 4);
      fs.readSync(state.fd, dst, 0, dst.length, pos);
      // NaN/Inf in the data would surface steps later as a diverged loss: name the file and slice now
      for (let i = at, e = at + count * hw; i < e; i++) {
        if (!Number.isFinite(out[i])) throw new DataError(file, `slice ${g + Math.floor((i - at) / hw)} holds NaN or Inf values (not image data; prepare the dataset again)`);
      }
      return;
    }
    const buf = count === 1 ? raw : Buffer.allocUnsafe(count * hw * eb);
    fs.readSync(state.fd, buf, 0, count * hw * eb, pos);
    const m = count * hw;
    if (meta.dtype === 'uint8') for (let i = 0; i < m; i++) out[at + i] = buf[i] * meta.scale + meta.offset;
    else for (let i = 0; i < m; i++) out[at + i] = buf.readInt16LE(2 * i) * meta.scale + meta.offset;
  };

  const view = (indices: Int32Array): Dataset => {
    const count = indices.length;
    const check = (i: number) => {
      if (!(Number.isInteger(i) && i >= 0 && i < count)) throw new RangeError(`slice index ${i} out of range 0..${count - 1}`);
    };
    return {
      file, count, meta, indices,
      shape: [count, 1, h, w],
      slice(i: number) {
        check(i);
        const out = new Float32Array(hw);
        readRun(indices[i], 1, out, 0);
        return out;
      },
      batch(idx: ArrayLike<number>) {
        const out = new Float32Array(idx.length * hw);
        // merge runs of consecutive global indices into one read
        for (let k = 0; k < idx.length;) {
          check(idx[k]);
          const g = indices[idx[k]];
          let len = 1;
          while (k + len < idx.length && Number.isInteger(idx[k + len]) && idx[k + len] >= 0 && idx[k + len] < count && indices[idx[k + len]] === g + len) len++;
          readRun(g, len, out, k * hw);
          k += len;
        }
        return out;
      },
      shard(rank: number, size: number, seed?: number) {
        if (!(Number.isInteger(size) && size >= 1)) throw new RangeError(`shard: world size ${size} must be a positive integer`);
        if (!(Number.isInteger(rank) && rank >= 0 && rank < size)) throw new RangeError(`shard: rank ${rank} out of range 0..${size - 1}`);
        const order = seed === undefined ? indices : permutation(count, seed).map((p) => indices[p]);
        const lo = Math.floor((rank * count) / size), hi = Math.floor(((rank + 1) * count) / size);
        return view(order.slice(lo, hi));
      },
      close() {
        if (state.fd >= 0) fs.closeSync(state.fd);
        state.fd = -1;
      },
    };
  };
  const all = new Int32Array(n);
  for (let i = 0; i < n; i++) all[i] = i;
  return view(all);
}
