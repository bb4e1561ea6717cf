// safetensors read/write (the format of Hugging Face's `safetensors`): an 8-byte little-endian unsigned header
// length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}} padded
// with spaces so the data starts 8-byte aligned, then the raw little-endian data; offsets are relative to the data
// start, and the tensors cover it without holes or overlap. Files are written atomically (temp file + rename).
// Model files hold PyTorch state_dict names (Sequential indices), F32 parameters and buffers, and I64
// `num_batches_tracked` scalars, so they load into the PyTorch reference with load_state_dict(strict=True).
import * as fs from 'fs';
import * as os from 'os';
import { Tensor } from '../engine';
import { writeFileAtomic } from '../util/fs';

export type Dtype = 'BOOL' | 'U8' | 'I8' | 'U16' | 'I16' | 'F16' | 'BF16' | 'U32' | 'I32' | 'F32' | 'U64' | 'I64' | 'F64'
  | 'F8_E4M3' | 'F8_E5M2';
export const DTYPE_BYTES: Record<Dtype, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E4M3: 1, F8_E5M2: 1, U16: 2, I16: 2, F16: 2, BF16: 2, U32: 4, I32: 4, F32: 4, U64: 8, I64: 8, F64: 8,
};
/** The format caps the header at 100 MB (a guard against garbage lengths). */
const MAX_HEADER = 100_000_000;

/** A tensor in host memory: raw little-endian bytes of `dtype`. */
export interface HostTensor { dtype: Dtype; shape: number[]; data: Uint8Array }

export interface SafetensorsFile { tensors: Map<string, HostTensor>; metadata: Record<string, string> }

const numel = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);
const bytesOf = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

if (os.endianness() !== 'LE') throw new Error('mrigan safetensors: big-endian hosts are not supported');

export const hostF32 = (data: Float32Array, shape: readonly number[]): HostTensor => ({ dtype: 'F32', shape: [...shape], data: bytesOf(data) });
export const hostI64 = (data: BigInt64Array, shape: readonly number[]): HostTensor => ({ dtype: 'I64', shape: [...shape], data: bytesOf(data) });
export const hostOf = (t: Tensor): HostTensor => hostF32(t.toFloat32Array(), t.shape);

/** A fresh, aligned copy (Buffer.slice would share the pooled memory). */
function copyBytes(b: Uint8Array): ArrayBuffer {
  const c = new Uint8Array(b.byteLength);
  c.set(b);
  return c.buffer;
}

/** The values of an F32 entry (copied to an aligned buffer). */
export function asF32(e: HostTensor, name = 'tensor'): Float32Array {
  if (e.dtype !== 'F32') throw new Error(`${name}: dtype ${e.dtype}, expected F32`);
  return new Float32Array(copyBytes(e.data));
}
export function asI64(e: HostTensor, name = 'tensor'): BigInt64Array {
  if (e.dtype !== 'I64') throw new Error(`${name}: dtype ${e.dtype}, expected I64`);
  return new BigInt64Array(copyBytes(e.data));
}

/** Serialises tensors (in the map's order) and string metadata. */
export function encodeSafetensors(tensors: Map<string, HostTensor>, metadata: Record<string, string> = {}): Buffer {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) {
    for (const [k, v] of Object.entries(metadata))
      if (typeof v !== 'string') throw new Error(`safetensors: metadata '${k}' must be a string, got ${typeof v}`);
    header.__metadata__ = metadata;
  }
  let off = 0;
  for (const [name, t] of tensors) {
    if (name === '__metadata__') throw new Error("safetensors: '__metadata__' is reserved and cannot name a tensor");
    if (!(t.dtype in DTYPE_BYTES)) throw new Error(`safetensors: tensor '${name}' has unknown dtype ${t.dtype}`);
    const want = numel(t.shape) * DTYPE_BYTES[t.dtype];
    if (t.data.byteLength !== want)
      throw new Error(`safetensors: tensor '${name}' [${t.shape}] ${t.dtype} needs ${want} bytes, data has ${t.data.byteLength}`);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + want] };
    off += want;
  }
  let json = JSON.stringify(header);
  const len = Buffer.byteLength(json);
  json += ' '.repeat((8 - (len % 8)) % 8);
  const hlen = Buffer.byteLength(json);
  const out = Buffer.alloc(8 + hlen + off);
  out.writeBigUInt64LE(BigInt(hlen), 0);
  out.write(json, 8, 'utf8');
  let p = 8 + hlen;
  for (const t of tensors.values()) {
    out.set(t.data, p);
    p += t.data.byteLength;
  }
  return out;
}

/** Parses and validates a whole file; `source` names it in errors. Entries are views into buf. */
export function decodeSafetensors(buf: Uint8Array, source = 'safetensors data'): SafetensorsFile {
  const fail = (msg: string): never => { throw new Error(`${source}: ${msg}`); };
  if (buf.byteLength < 8) fail(`truncated: ${buf.byteLength} bytes, a safetensors file starts with an 8-byte header length`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n64 = dv.getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER)) fail(`header length ${n64} is over the format's 100 MB limit (not a safetensors file?)`);
  const n = Number(n64);
  if (8 + n > buf.byteLength) fail(`truncated: the header needs ${n} bytes but only ${buf.byteLength - 8} follow the length`);
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(buf.buffer, buf.byteOffset + 8, n).toString('utf8'));
  } catch (e) {
    fail(`the header is not valid JSON (${(e as Error).message}); not a safetensors file?`);
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) fail('the header must be a JSON object');
  const data = buf.subarray(8 + n);
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, HostTensor>();
  const spans: [number, number, string][] = [];
  for (const [name, v] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (!v || typeof v !== 'object' || Array.isArray(v)) fail('__metadata__ must be an object of strings');
      for (const [k, s] of Object.entries(v as Record<string, unknown>)) {
        if (typeof s !== 'string') fail(`__metadata__.${k} must be a string`);
        metadata[k] = s as string;
      }
      continue;
    }
    const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (!e || typeof e !== 'object') fail(`tensor '${name}': entry must be an object`);
    if (typeof e.dtype !== 'string' || !(e.dtype in DTYPE_BYTES)) fail(`tensor '${name}': unknown dtype ${JSON.stringify(e.dtype)}`);
    const dtype = e.dtype as Dtype;
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      fail(`tensor '${name}': shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
    const o = e.data_offsets;
    if (!Array.isArray(o) || o.length !== 2 || !o.every((d) => Number.isSafeInteger(d) && d >= 0) || o[1] < o[0])
      fail(`tensor '${name}': data_offsets must be [begin, end] with 0 <= begin <= end, got ${JSON.stringify(o)}`);
    const [b, end] = o as [number, number];
    const want = numel(shape as number[]) * DTYPE_BYTES[dtype];
    if (end - b !== want) fail(`tensor '${name}': [${shape}] ${dtype} needs ${want} bytes, data_offsets span ${end - b}`);
    if (end > data.byteLength)
      fail(`truncated: tensor '${name}' ends at data byte ${end} but the data section has only ${data.byteLength} bytes`);
    spans.push([b, end, name]);
    tensors.set(name, { dtype, shape: [...(shape as number[])], data: data.subarray(b, end) });
  }
  spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let at = 0;
  for (const [b, end, name] of spans) {
    if (b < at) fail(`tensor '${name}' overlaps the previous tensor's data`);
    if (b > at) fail(`data bytes ${at}..${b} belong to no tensor (the format allows no holes)`);
    at = end;
  }
  if (at !== data.byteLength) fail(`${data.byteLength - at} bytes after the last tensor belong to no tensor`);
  return { tensors, metadata };
}

export function readSafetensors(file: string): SafetensorsFile {
  return decodeSafetensors(fs.readFileSync(file), file);
}

/** Writes to a temporary file in the same folder, fsyncs, renames over `file`, fsyncs the folder (never a half-written file). */
export function writeSafetensors(file: string, tensors: Map<string, HostTensor>, metadata: Record<string, string> = {}): void {
  writeFileAtomic(file, encodeSafetensors(tensors, metadata));
}

/** Engine tensors by name → safetensors file (F32). */
export function saveTensors(file: string, tensors: Map<string, Tensor>, metadata: Record<string, string> = {}): void {
  const host = new Map<string, HostTensor>();
  for (const [k, t] of tensors) host.set(k, hostOf(t));
  writeSafetensors(file, host, metadata);
}

export interface LoadOptions {
  /** File entries to skip without complaint (default: PyTorch's `*.num_batches_tracked`). */
  ignore?: (name: string) => boolean;
  /** Allow file entries that match no target (default false). */
  allowUnexpected?: boolean;
}

const isCounter = (name: string): boolean => /(^|\.)num_batches_tracked$/.test(name);

/**
 * Copies F32 tensors from `file` into the targets (same names, shapes). Checks everything first and changes
 * nothing on error: missing or unexpected names, dtype other than F32, shape mismatch. Returns the file.
 */
export function loadTensorsInto(file: string, targets: Map<string, Tensor>, o: LoadOptions = {}): SafetensorsFile {
  return copyInto(readSafetensors(file), file, targets, o);
}

function copyInto(f: SafetensorsFile, file: string, targets: Map<string, Tensor>, o: LoadOptions): SafetensorsFile {
  const ignore = o.ignore ?? isCounter;
  const list = (a: string[]): string => (a.length > 6 ? `${a.slice(0, 6).join(', ')} … (${a.length} in all)` : a.join(', '));
  const missing = [...targets.keys()].filter((k) => !f.tensors.has(k));
  if (missing.length) throw new Error(`${file}: missing tensors ${list(missing)} (the file has ${list([...f.tensors.keys()])})`);
  const unexpected = [...f.tensors.keys()].filter((k) => !targets.has(k) && !ignore(k));
  if (unexpected.length && !o.allowUnexpected)
    throw new Error(`${file}: unexpected tensors ${list(unexpected)} (not in the model; wrong architecture or size?)`);
  for (const [k, t] of targets) {
    const e = f.tensors.get(k)!;
    if (e.dtype !== 'F32') throw new Error(`${file}: tensor '${k}' has dtype ${e.dtype}; mrigan loads F32 only (convert the file to float32)`);
    if (e.shape.join() !== t.shape.join())
      throw new Error(`${file}: tensor '${k}' has shape [${e.shape}], the model needs [${t.shape}] (wrong architecture or size?)`);
  }
  for (const [k, t] of targets) {
    const src = Tensor.fromArray(asF32(f.tensors.get(k)!, k), t.shape, t.device);
    t.copyFrom(src);
    src.dispose();
  }
  return f;
}

/** What saveModel needs: named tensors and BatchNorm batch counters (Sequential provides both). */
export interface Stateful {
  stateDict(): Map<string, Tensor>;
  counters(): Map<string, { get(): number; set(v: number): void }>;
}

/** A model's parameters, buffers and `num_batches_tracked` counters → safetensors (PyTorch state_dict layout). */
export function saveModel(file: string, model: Stateful, metadata: Record<string, string> = {}): void {
  const host = new Map<string, HostTensor>();
  for (const [k, t] of model.stateDict()) host.set(k, hostOf(t));
  for (const [k, c] of model.counters()) host.set(k, hostI64(BigInt64Array.of(BigInt(c.get())), []));
  writeSafetensors(file, host, metadata);
}

/** Loads what saveModel (or PyTorch's save_file(model.state_dict())) wrote; counters are read when present. */
export function loadModel(file: string, model: Stateful, o: Omit<LoadOptions, 'ignore'> = {}): Record<string, string> {
  const counters = model.counters();
  const f = readSafetensors(file);
  for (const k of counters.keys()) {
    const e = f.tensors.get(k);
    if (e && (e.dtype !== 'I64' || e.shape.length !== 0)) throw new Error(`${file}: '${k}' must be an I64 scalar, got ${e.dtype} [${e.shape}]`);
  }
  copyInto(f, file, model.stateDict(), { ...o, ignore: (k) => counters.has(k) });
  for (const [k, c] of counters) {
    const e = f.tensors.get(k);
    if (e) c.set(Number(asI64(e, k)[0]));
  }
  return f.metadata;
}
