// Volumes (or PNG slices) → one dataset file. Two phases:
//   1. validate: every source's header is read and checked (NIfTI: type, 3-D, sizes vs file/gzip trailer,
//      orientation, slice range after reorientation; PNG: signature and size). Nothing is written before this
//      phase has passed for all sources.
//   2. convert: volumes are read in order (the next two are decompressed on libuv's pool while this one is
//      processed), reoriented to RAS, scaled, their axial slices fitted to size × size and written to the
//      dataset's temp file; the file is committed at the end. Any error deletes the temp file.
import * as fs from 'fs';
import * as path from 'path';
import { DataError } from './errors';
import { prepareOutputFile } from '../util/fs';
import { readNifti, readNiftiInfo, NiftiInfo, NiftiVolume } from './nifti';
import { rasShape, rasView, axialSlice, resampleIso, isoShape, RasView } from './orient';
import { volumeScaling, applyScaling, fitSlice, resizeBilinear, FitMode } from './preprocess';
import { DatasetWriter, DatasetHeader, SliceDType, SliceRecord, SourceRecord, openDataset } from './dataset';
import { pngSize, readPngGray, tileGrid, writePngGray } from './png';

export interface PrepareSource {
  kind: 'nifti' | 'png';
  path: string;
  subject: string;
  contrast: string;
  /** NIfTI: inclusive axial slice range after reorientation (and resampling), or 'all' (default). */
  slices?: [number, number] | 'all';
}

export interface PrepareOptions {
  sources: PrepareSource[];
  out: string;
  /** Output slices are size × size (default 256). */
  size?: number;
  /** How slices of another size are fitted (default 'pad'; see preprocess.ts). */
  fit?: FitMode;
  /** Foreground percentiles mapped to -1 and +1 (default [0.5, 99.5]). */
  percentiles?: [number, number];
  /** Resample NIfTI volumes to isotropic voxels of this many mm before slicing (default: keep the grid). */
  resample?: number;
  /** Stored type (default float32; int16/uint8 quantise [-1, 1]). */
  dtype?: SliceDType;
  /** What to record as the recipe in the header (e.g. {set: 3, ...}). */
  recipe?: Record<string, unknown>;
  /** Also write a PNG grid of sample slices here. */
  preview?: string;
  /** Number of slices in the preview (default 16, evenly spaced over the dataset). */
  previewCount?: number;
  onProgress?: (done: number, total: number, what: string) => void;
}

export interface PrepareResult {
  file: string;
  count: number;
  shape: [number, number, number, number];
  bytes: number;
  preview?: string;
  /** Seconds: header validation, waiting for decompression, CPU processing, total. */
  timings: { validate: number; readWait: number; process: number; total: number };
}

const now = () => Number(process.hrtime.bigint()) / 1e9;

interface Planned { src: PrepareSource; range: [number, number]; record: SourceRecord; first: number; rows?: number; cols?: number }

/** Runs the two phases; returns what was written. Throws DataError (naming the file) on any bad input. */
export async function prepareDataset(o: PrepareOptions): Promise<PrepareResult> {
  const t0 = now();
  const size = o.size ?? 256;
  const fit = o.fit ?? 'pad';
  const [pLo, pHi] = o.percentiles ?? [0.5, 99.5];
  const dtype = o.dtype ?? 'float32';
  if (!(Number.isInteger(size) && size >= 8 && size <= 4096)) throw new Error(`size must be an integer 8..4096 (got ${size})`);
  if (!(pLo >= 0 && pHi <= 100 && pLo < pHi)) throw new Error(`percentiles must satisfy 0 <= lo < hi <= 100 (got ${pLo}, ${pHi})`);
  if (o.resample !== undefined && !(o.resample > 0)) throw new Error(`resample must be a positive number of mm (got ${o.resample})`);
  if (!o.sources.length) throw new Error('no sources to prepare');
  prepareOutputFile(o.out); // before any work: a bad --out fails now, not at the final rename
  if (o.preview) prepareOutputFile(o.preview, '--preview');

  // ---- phase 1: validate every header
  const infos = await mapLimit(o.sources, 4, async (s) => (s.kind === 'nifti' ? readNiftiInfo(s.path) : null));
  const plan: Planned[] = [];
  const slices: SliceRecord[] = [];
  o.sources.forEach((src, i) => {
    let range: [number, number];
    let record: SourceRecord;
    if (src.kind === 'nifti') {
      const info = infos[i] as NiftiInfo;
      const ras = rasShape(info.shape, info.affine, src.path);
      const shape = o.resample ? isoShape(ras.shape, ras.spacing, o.resample) : ras.shape;
      const nz = shape[2];
      range = src.slices === undefined || src.slices === 'all' ? [0, nz - 1] : src.slices;
      if (range[1] >= nz) {
        throw new DataError(src.path, `slices ${range[0]}-${range[1]} out of range: the volume has ${nz} axial slices (0-${nz - 1}) after reorientation to RAS${o.resample ? ` and resampling to ${o.resample} mm` : ''}`);
      }
      record = {
        path: src.path, bytes: info.fileBytes, subject: src.subject, contrast: src.contrast, kind: 'nifti',
        dims: info.shape, datatype: info.dtype.name, orientation: ras.code, affineSource: info.affineSource,
        spacing: ras.spacing.map((x) => +x.toFixed(6)), rasShape: shape,
      };
    } else {
      const { width, height, bytes } = pngSize(src.path);
      range = [0, 0];
      record = { path: src.path, bytes, subject: src.subject, contrast: src.contrast, kind: 'png', dims: [width, height] };
    }
    plan.push({ src, range, record, first: slices.length });
    for (let k = range[0]; k <= range[1]; k++) slices.push({ subject: src.subject, contrast: src.contrast, slice: k, source: i });
  });
  const tValidated = now();

  // ---- phase 2: convert
  const header: Omit<DatasetHeader, 'dataOffset' | 'dataBytes' | 'scale' | 'offset' | 'format' | 'version'> = {
    shape: [slices.length, 1, size, size], dtype, created: new Date().toISOString(), tool: 'mrigan prepare',
    recipe: { ...(o.recipe ?? {}), size, fit, percentiles: [pLo, pHi], ...(o.resample ? { resample: o.resample } : {}) },
    sources: plan.map((p) => p.record), slices,
  };
  const writer = new DatasetWriter(o.out, header);
  let readWait = 0, process_ = 0;
  try {
    const start = (i: number): Promise<NiftiVolume | null> | null => {
      if (i >= plan.length) return null;
      const p = plan[i].src.kind === 'nifti' ? readNifti(plan[i].src.path) : Promise.resolve(null);
      p.catch(() => {}); // awaited below; avoid an unhandled-rejection report while it waits
      return p;
    };
    // Two volumes decompress ahead of the one being processed (each gunzip runs on libuv's pool).
    const AHEAD = 2;
    const queue = Array.from({ length: AHEAD }, (_, i) => start(i));
    const fitted = new Float32Array(size * size);
    for (let i = 0; i < plan.length; i++) {
      const p = plan[i];
      const tw = now();
      const vol = await queue.shift()!;
      queue.push(start(i + AHEAD));
      const tp = now();
      readWait += tp - tw;
      if (vol) {
        let view: RasView = rasView(vol.data, vol.shape, vol.affine, vol.file);
        if (o.resample) view = resampleIso(view, o.resample);
        const sc = volumeScaling(view.data, pLo, pHi);
        p.record.scaling = sc;
        const [nx, ny] = view.shape;
        const img = new Float32Array(nx * ny);
        for (let k = p.range[0]; k <= p.range[1]; k++) {
          axialSlice(view, k, img);
          applyScaling(img, sc);
          writer.writeSlice(p.first + k - p.range[0], fitSlice(img, ny, nx, size, fit, fitted));
        }
      } else {
        const png = readPngGray(p.src.path);
        for (let j = 0; j < png.data.length; j++) png.data[j] = png.data[j] / 127.5 - 1;
        const img = png.width === size && png.height === size ? png.data : resizeBilinear(png.data, png.height, png.width, size, size);
        writer.writeSlice(p.first, img);
      }
      process_ += now() - tp;
      o.onProgress?.(i + 1, plan.length, p.src.path);
    }
    writer.commit();
  } catch (e) {
    writer.abort();
    throw e;
  }
  const result: PrepareResult = {
    file: o.out, count: slices.length, shape: header.shape, bytes: fs.statSync(o.out).size,
    timings: { validate: tValidated - t0, readWait, process: process_, total: 0 },
  };
  if (o.preview) {
    writePreview(o.out, o.preview, o.previewCount ?? 16);
    result.preview = o.preview;
  }
  result.timings.total = now() - t0;
  return result;
}

/** A grid of `count` slices evenly spaced over the dataset, read back from the file. */
export function writePreview(dataset: string, png: string, count = 16): void {
  const ds = openDataset(dataset);
  try {
    const n = Math.min(count, ds.count);
    const idx = Array.from({ length: n }, (_, t) => Math.floor(((t + 0.5) * ds.count) / n));
    const [, , h, w] = ds.shape;
    const imgs = idx.map((i) => ds.slice(i));
    const grid = tileGrid(imgs, h, w, Math.ceil(Math.sqrt(n)));
    fs.mkdirSync(path.dirname(path.resolve(png)), { recursive: true });
    writePngGray(png, grid.width, grid.height, grid.data);
  } finally {
    ds.close();
  }
}

/**
 * Lists PNG files under dir (recursively, sorted by relative path) as sources. Symbolic links are followed, to
 * folders too (datasets often live in a shared store linked in); a link cycle is visited once.
 */
export function pngSources(dir: string): PrepareSource[] {
  const files: string[] = [];
  const seen = new Set<string>();
  const walk = (d: string) => {
    let real: string;
    try { real = fs.realpathSync(d); } catch (e) { throw new DataError(d, `cannot list folder (${errText(e)})`); }
    if (seen.has(real)) return;
    seen.add(real);
    let names: string[];
    try { names = fs.readdirSync(d); } catch (e) { throw new DataError(d, `cannot list folder (${errText(e)})`); }
    for (const n of names) {
      const p = path.join(d, n);
      let st: fs.Stats;
      try { st = fs.statSync(p); } catch { continue; } // a dangling link
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && /\.png$/i.test(n)) files.push(p);
    }
  };
  walk(dir);
  if (!files.length) throw new DataError(dir, 'no .png files found (searched subfolders too)');
  const rel = files.map((p) => path.relative(dir, p)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return rel.map((r) => ({
    kind: 'png' as const, path: path.join(dir, r), subject: r.replace(/\.png$/i, ''), contrast: path.dirname(r) === '.' ? 'png' : path.dirname(r),
  }));
}

const errText = (e: unknown): string => {
  const c = (e as NodeJS.ErrnoException).code;
  return c === 'ENOENT' ? 'no such folder' : c === 'EACCES' ? 'permission denied' : c === 'ENOTDIR' ? 'not a folder' : (e as Error).message;
};

/** Sources for arbitrary NIfTI files: subject = file name without extension; contrast guessed from a _t1/_flair... suffix. */
export function niftiSources(files: string[], slices?: [number, number] | 'all'): PrepareSource[] {
  return files.map((f) => {
    const base = path.basename(f).replace(/\.nii(\.gz)?$/i, '');
    const m = /_(t1ce|t1|t2|flair|seg)$/i.exec(base);
    return { kind: 'nifti' as const, path: f, subject: m ? base.slice(0, m.index) : base, contrast: m ? m[1].toLowerCase() : 'mri', slices };
  });
}

/** Runs fn over items, `limit` at a time. If any fail, throws the first failure in item order, mentioning how many others failed. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  const errors: { i: number; e: unknown }[] = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try { out[i] = await fn(items[i]); } catch (e) { errors.push({ i, e }); }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (errors.length) {
    errors.sort((a, b) => a.i - b.i);
    const e = errors[0].e;
    if (errors.length > 1 && e instanceof Error) {
      e.message += ` (and ${errors.length - 1} more bad file${errors.length > 2 ? 's' : ''}: ${errors.slice(1, 6).map((x) => (x.e instanceof DataError ? x.e.file : String(x.e))).join(', ')}${errors.length > 6 ? ', ...' : ''})`;
    }
    throw e;
  }
  return out;
}
