// pytorch-fid / clean-fid statistics files: a NumPy .npz (a zip archive of .npy arrays, stored or deflated) holding
// `mu` (d, float64) and `sigma` (d×d, float64). Read: zip central directory (with zip64 sizes/offsets, which
// np.savez forces), .npy format versions 1–3, dtypes <f8/<f4/>f8/>f4, C or Fortran order. Write: stored .npy v1.0
// '<f8' entries, CRC-32 checked by readers, written to a temp file and renamed.
import * as fs from 'fs';
import * as zlib from 'zlib';
import { writeFileAtomic } from '../train/fsutil';
import { FileError, fsError } from '../util/errors';

export interface NpyArray { shape: number[]; data: Float64Array }

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) { let c = n; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; t[n] = c >>> 0; }
  return t;
})();
export function crc32(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// reading errors are about the file (exit 1 in the CLI, message `FILE: problem`)
const fail = (file: string, what: string): never => { throw new FileError(file, what); };

/** Parses one .npy file (float arrays only). */
export function parseNpy(buf: Buffer, where: string): NpyArray {
  if (buf.length < 10 || buf[0] !== 0x93 || buf.toString('latin1', 1, 6) !== 'NUMPY') fail(where, 'not a .npy array (bad magic)');
  const major = buf[6];
  if (major < 1 || major > 3) fail(where, `unsupported .npy version ${major}.${buf[7]}`);
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const hstart = major === 1 ? 10 : 12;
  if (hstart + hlen > buf.length) fail(where, 'truncated .npy header');
  const header = buf.toString(major === 3 ? 'utf8' : 'latin1', hstart, hstart + hlen);
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeStr = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeStr === undefined) fail(where, `unreadable .npy header ${JSON.stringify(header.trim())}`);
  const shape = shapeStr!.split(',').map((s) => s.trim()).filter((s) => s.length > 0).map(Number);
  if (shape.some((s) => !Number.isInteger(s) || s < 0)) fail(where, `bad shape (${shapeStr})`);
  const m = /^([<>|=])f([48])$/.exec(descr!);
  if (!m) fail(where, `dtype ${descr} is not float32/float64`);
  const little = m![1] !== '>', size = Number(m![2]);
  const count = shape.reduce((a, b) => a * b, 1);
  const off = hstart + hlen;
  if (buf.length < off + count * size) fail(where, `truncated data: ${buf.length - off} bytes for ${count} × ${size}`);
  const flat = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const p = off + i * size;
    flat[i] = size === 8 ? (little ? buf.readDoubleLE(p) : buf.readDoubleBE(p)) : (little ? buf.readFloatLE(p) : buf.readFloatBE(p));
  }
  if (fortran === 'True' && shape.length > 1) {
    // column-major → row-major
    const out = new Float64Array(count), strides: number[] = [];
    let st = 1;
    for (const s of shape) { strides.push(st); st *= s; }
    const idx = new Array(shape.length).fill(0);
    for (let i = 0; i < count; i++) {
      let fo = 0;
      for (let k = 0; k < shape.length; k++) fo += idx[k] * strides[k];
      out[i] = flat[fo];
      for (let k = shape.length - 1; k >= 0; k--) { if (++idx[k] < shape[k]) break; idx[k] = 0; }
    }
    return { shape, data: out };
  }
  return { shape, data: flat };
}

/** Encodes a float64 C-order .npy v1.0 (header padded so the data starts 64-byte aligned, as NumPy does). */
export function encodeNpy(a: NpyArray): Buffer {
  const shape = a.shape.length === 1 ? `(${a.shape[0]},)` : `(${a.shape.join(', ')})`;
  let header = `{'descr': '<f8', 'fortran_order': False, 'shape': ${shape}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = Buffer.alloc(10 + header.length + a.data.length * 8);
  out[0] = 0x93; out.write('NUMPY', 1, 'latin1'); out[6] = 1; out[7] = 0;
  out.writeUInt16LE(header.length, 8);
  out.write(header, 10, 'latin1');
  for (let i = 0; i < a.data.length; i++) out.writeDoubleLE(a.data[i], 10 + header.length + i * 8);
  return out;
}

/** Reads every array of an .npz archive. */
export function readNpz(file: string): Map<string, NpyArray> {
  let buf: Buffer;
  try { buf = fs.readFileSync(file); } catch (e) { throw fsError(e, file, 'cannot read'); }
  // end of central directory: signature 0x06054b50 within the last 64 KiB + 22 bytes
  let eocd = -1;
  for (let p = buf.length - 22; p >= Math.max(0, buf.length - 65557); p--) if (buf.readUInt32LE(p) === 0x06054b50) { eocd = p; break; }
  if (eocd < 0) fail(file, 'not an .npz (zip) file: no end-of-central-directory record (truncated or wrong format)');
  let entries = buf.readUInt16LE(eocd + 10);
  let cdOff = buf.readUInt32LE(eocd + 16);
  if (cdOff === 0xffffffff || entries === 0xffff) {
    // zip64 end-of-central-directory locator just before
    const loc = eocd - 20;
    if (loc < 0 || buf.readUInt32LE(loc) !== 0x07064b50) fail(file, 'zip64 archive without a zip64 locator');
    const z = Number(buf.readBigUInt64LE(loc + 8));
    if (z + 56 > buf.length || buf.readUInt32LE(z) !== 0x06064b50) fail(file, 'bad zip64 end-of-central-directory record');
    entries = Number(buf.readBigUInt64LE(z + 32));
    cdOff = Number(buf.readBigUInt64LE(z + 48));
  }
  const out = new Map<string, NpyArray>();
  let p = cdOff;
  for (let e = 0; e < entries; e++) {
    if (p + 46 > buf.length || buf.readUInt32LE(p) !== 0x02014b50) fail(file, `bad central directory entry ${e}`);
    const method = buf.readUInt16LE(p + 10);
    const crc = buf.readUInt32LE(p + 16);
    let csize = buf.readUInt32LE(p + 20), usize = buf.readUInt32LE(p + 24);
    const nlen = buf.readUInt16LE(p + 28), xlen = buf.readUInt16LE(p + 30), clen = buf.readUInt16LE(p + 32);
    let loff = buf.readUInt32LE(p + 42);
    const name = buf.toString('utf8', p + 46, p + 46 + nlen);
    // zip64 extra field (id 1): the 0xffffffff fields, in the order usize, csize, offset
    for (let x = p + 46 + nlen; x + 4 <= p + 46 + nlen + xlen;) {
      const id = buf.readUInt16LE(x), sz = buf.readUInt16LE(x + 2);
      if (id === 1) {
        let q = x + 4;
        if (usize === 0xffffffff) { usize = Number(buf.readBigUInt64LE(q)); q += 8; }
        if (csize === 0xffffffff) { csize = Number(buf.readBigUInt64LE(q)); q += 8; }
        if (loff === 0xffffffff) { loff = Number(buf.readBigUInt64LE(q)); q += 8; }
      }
      x += 4 + sz;
    }
    p += 46 + nlen + xlen + clen;
    if (loff + 30 > buf.length || buf.readUInt32LE(loff) !== 0x04034b50) fail(file, `entry ${name}: bad local header`);
    const start = loff + 30 + buf.readUInt16LE(loff + 26) + buf.readUInt16LE(loff + 28);
    if (start + csize > buf.length) fail(file, `entry ${name}: truncated (${csize} bytes expected)`);
    const raw = buf.subarray(start, start + csize);
    let data: Buffer;
    if (method === 0) data = raw;
    else if (method === 8) {
      try { data = zlib.inflateRawSync(raw); } catch (err) { return fail(file, `entry ${name}: bad deflate data (${(err as Error).message})`); }
    } else return fail(file, `entry ${name}: unsupported compression method ${method}`);
    if (data.length !== usize) fail(file, `entry ${name}: ${data.length} bytes after decompression, header says ${usize}`);
    if (crc32(data) !== crc) fail(file, `entry ${name}: CRC-32 mismatch (corrupt file)`);
    if (!name.endsWith('.npy')) continue;
    out.set(name.slice(0, -4), parseNpy(data, `${file}: ${name}`));
  }
  return out;
}

/** Writes arrays as an uncompressed .npz (what np.savez writes), atomically. */
export function writeNpz(file: string, arrays: Record<string, NpyArray>): void {
  const locals: Buffer[] = [], centrals: Buffer[] = [];
  let off = 0;
  const dosTime = 0, dosDate = (1 << 5) | 1; // 1980-01-01 00:00, the zip epoch (a fixed date keeps files reproducible)
  for (const [key, arr] of Object.entries(arrays)) {
    const name = Buffer.from(`${key}.npy`, 'utf8');
    const data = encodeNpy(arr);
    const crc = crc32(data);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0); lh.writeUInt16LE(20, 4); lh.writeUInt16LE(0, 6); lh.writeUInt16LE(0, 8);
    lh.writeUInt16LE(dosTime, 10); lh.writeUInt16LE(dosDate, 12); lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(data.length, 18); lh.writeUInt32LE(data.length, 22); lh.writeUInt16LE(name.length, 26); lh.writeUInt16LE(0, 28);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0); ch.writeUInt16LE(20, 4); ch.writeUInt16LE(20, 6); ch.writeUInt16LE(0, 8); ch.writeUInt16LE(0, 10);
    ch.writeUInt16LE(dosTime, 12); ch.writeUInt16LE(dosDate, 14); ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(data.length, 20); ch.writeUInt32LE(data.length, 24); ch.writeUInt16LE(name.length, 28);
    ch.writeUInt32LE(off, 42);
    if (off + 30 + name.length + data.length > 0xfffffffe) throw new Error(`${file}: arrays too large for a non-zip64 archive`);
    locals.push(lh, name, data);
    centrals.push(ch, name);
    off += 30 + name.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  const count = Object.keys(arrays).length;
  end.writeUInt16LE(count, 8); end.writeUInt16LE(count, 10); end.writeUInt32LE(cd.length, 12); end.writeUInt32LE(off, 16);
  writeFileAtomic(file, Buffer.concat([...locals, cd, end]));
}

/**
 * FID statistics from a pytorch-fid / clean-fid .npz (`mu`: (d,), `sigma`: (d, d)); `n`, the sample count, when the
 * file has it (ours do; pytorch-fid's do not).
 */
export function readFidStats(file: string): { mu: Float64Array; sigma: Float64Array; d: number; n?: number } {
  const a = readNpz(file);
  const mu = a.get('mu'), sigma = a.get('sigma'), n = a.get('n');
  if (!mu || !sigma) fail(file, `FID statistics need arrays 'mu' and 'sigma'; found ${[...a.keys()].map((k) => `'${k}'`).join(', ') || 'none'}`);
  const d = mu!.data.length;
  if (mu!.shape.length !== 1) fail(file, `'mu' must be 1-D, has shape (${mu!.shape.join(', ')})`);
  if (sigma!.shape.length !== 2 || sigma!.shape[0] !== d || sigma!.shape[1] !== d) {
    fail(file, `'sigma' must be ${d}×${d} to match 'mu', has shape (${sigma!.shape.join(', ')})`);
  }
  if (n && (n.data.length !== 1 || !Number.isInteger(n.data[0]) || n.data[0] < 2)) fail(file, `'n' must be one integer ≥ 2, got ${Array.from(n.data).join(', ')}`);
  return { mu: mu!.data, sigma: sigma!.data, d, ...(n ? { n: n.data[0] } : {}) };
}

/** The input pipelines a statistics file may record (`preprocess`, 0-d: the index here). */
export const FID_PREPROCESS = ['imagenet', 'radimagenet'] as const;
export type FidPreprocess = typeof FID_PREPROCESS[number];

/** What mrigan records beside mu and sigma: the sample count, the preprocessing, and the network's weights. */
export interface FidStatsMeta {
  n?: number;
  preprocess?: FidPreprocess;
  /** InceptionModel.fingerprint (SHA-256 hex of the weight values), stored as 32 byte values `inception_sha256`. */
  weights?: string;
}

/**
 * Writes FID statistics as an .npz that pytorch-fid / clean-fid (np.load) read; the extra arrays (`n`, `preprocess`,
 * `inception_sha256`) are ignored by those tools and read back by readFidStatsMeta.
 */
export function writeFidStats(file: string, s: { mu: Float64Array; sigma: Float64Array } & FidStatsMeta): void {
  const d = s.mu.length;
  if (s.sigma.length !== d * d) throw new Error(`${file}: sigma has ${s.sigma.length} values, expected ${d}×${d}`);
  const arrays: Record<string, NpyArray> = { mu: { shape: [d], data: s.mu }, sigma: { shape: [d, d], data: s.sigma } };
  if (s.n !== undefined) arrays.n = { shape: [], data: new Float64Array([s.n]) };
  if (s.preprocess !== undefined) arrays.preprocess = { shape: [], data: new Float64Array([FID_PREPROCESS.indexOf(s.preprocess)]) };
  if (s.weights !== undefined) {
    if (!/^[0-9a-f]{64}$/.test(s.weights)) throw new Error(`${file}: weights fingerprint must be 64 hex digits`);
    arrays.inception_sha256 = { shape: [32], data: Float64Array.from(Buffer.from(s.weights, 'hex')) };
  }
  writeNpz(file, arrays);
}

/** readFidStats plus the recorded preprocessing and weights fingerprint (absent in pytorch-fid / clean-fid files). */
export function readFidStatsMeta(file: string): ReturnType<typeof readFidStats> & Omit<FidStatsMeta, 'n'> {
  const st = readFidStats(file), a = readNpz(file);
  const pre = a.get('preprocess'), sha = a.get('inception_sha256');
  const out: ReturnType<typeof readFidStats> & Omit<FidStatsMeta, 'n'> = { ...st };
  if (pre) {
    const p = FID_PREPROCESS[pre.data[0]];
    if (pre.data.length !== 1 || !p) fail(file, `'preprocess' must be one of 0 (imagenet) or 1 (radimagenet), got ${Array.from(pre.data).join(', ')}`);
    out.preprocess = p;
  }
  if (sha) {
    if (sha.data.length !== 32 || !sha.data.every((b) => Number.isInteger(b) && b >= 0 && b < 256)) fail(file, "'inception_sha256' must hold 32 byte values");
    out.weights = Buffer.from(Array.from(sha.data)).toString('hex');
  }
  return out;
}
