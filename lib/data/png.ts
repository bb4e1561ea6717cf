// PNG slices in and out (pngjs): folders of exported slices as a dataset source, and preview grids.
import * as fs from 'fs';
import { PNG } from 'pngjs';
import { DataError } from './errors';
import { fsError } from '../util/errors';

/**
 * Reads a PNG as gray values 0..255 (float32, row-major). Colour is converted with the ITU-R 601 luma weights
 * that tf.image.rgb_to_grayscale uses (0.2989 R + 0.5870 G + 0.1140 B); gray pixels keep their value; alpha is
 * ignored (a tRNS transparent colour keeps its value); 16-bit samples are scaled to 0..255 (pngjs does that).
 */
export function readPngGray(file: string): { width: number; height: number; data: Float32Array } {
  let bytes: Buffer;
  try { bytes = fs.readFileSync(file); } catch (e) { throw fsError(e, file, 'cannot read'); }
  let png: PNG;
  const body = pngWithoutTrns(bytes, file);
  try {
    png = PNG.sync.read(body);
  } catch (e) {
    throw new DataError(file, `corrupt PNG (${String((e as Error).message).replace(/\s+/g, ' ')})`);
  }
  const { width, height, data } = png;
  const out = new Float32Array(width * height);
  for (let i = 0, p = 0; i < out.length; i++, p += 4) {
    const r = data[p], g = data[p + 1], b = data[p + 2];
    out[i] = r === g && g === b ? r : 0.2989 * r + 0.587 * g + 0.114 * b; // gray stays exact (the weights sum to 0.9999)
  }
  return { width, height, data: out };
}

/**
 * Checks the chunk structure (so a truncated file is reported as such, not by the decoder) and drops tRNS chunks:
 * pngjs blacks out the transparent colour, but alpha is ignored here, so the stored gray/RGB values are the image.
 */
export function pngWithoutTrns(b: Buffer, file: string): Buffer {
  if (b.length < 8 || b.readUInt32BE(0) !== 0x89504e47 || b.readUInt32BE(4) !== 0x0d0a1a0a) throw new DataError(file, 'not a PNG file (bad signature)');
  const keep: Buffer[] = [b.subarray(0, 8)];
  let pos = 8, first = true;
  for (;;) {
    if (pos + 12 > b.length) throw new DataError(file, `truncated PNG (${b.length} bytes, ends inside a chunk header at byte ${pos}; no IEND chunk)`);
    const len = b.readUInt32BE(pos), type = b.toString('latin1', pos + 4, pos + 8);
    if (len > 0x7fffffff || pos + 12 + len > b.length) throw new DataError(file, `truncated PNG (${b.length} bytes; chunk '${type.replace(/[^\x20-\x7e]/g, '?')}' at byte ${pos} declares ${len} bytes)`);
    if (first) {
      if (type !== 'IHDR' || len !== 13) throw new DataError(file, 'not a PNG file (no IHDR chunk first)');
      const w = b.readUInt32BE(pos + 8), h = b.readUInt32BE(pos + 12);
      if (!(w >= 1 && w <= 16384 && h >= 1 && h <= 16384 && w * h <= 1 << 26)) throw new DataError(file, `absurd PNG size ${w}×${h}`);
      first = false;
    }
    if (type !== 'tRNS') keep.push(b.subarray(pos, pos + 12 + len));
    pos += 12 + len;
    if (type === 'IEND') break;
  }
  return keep.length === 1 ? b : Buffer.concat(keep);
}

/** Width and height from the PNG signature and IHDR chunk, without decoding (for validating before writing). */
export function pngSize(file: string): { width: number; height: number; bytes: number } {
  let fd: number;
  try { fd = fs.openSync(file, 'r'); } catch (e) { throw fsError(e, file, 'cannot read'); }
  const b = Buffer.alloc(24);
  let got: number;
  try { got = fs.readSync(fd, b, 0, 24, 0); } finally { fs.closeSync(fd); }
  if (got >= 8 && b.readUInt32BE(0) === 0x89504e47 && got < 24) throw new DataError(file, `truncated PNG (${got} bytes, ends inside the IHDR chunk)`);
  if (got < 24 || b.readUInt32BE(0) !== 0x89504e47 || b.toString('latin1', 12, 16) !== 'IHDR') throw new DataError(file, 'not a PNG file (bad signature or no IHDR chunk)');
  const width = b.readUInt32BE(16), height = b.readUInt32BE(20);
  if (!(width >= 1 && width <= 16384 && height >= 1 && height <= 16384)) throw new DataError(file, `absurd PNG size ${width}×${height}`);
  return { width, height, bytes: fs.statSync(file).size };
}

/** Writes an 8-bit gray PNG from values in [lo, hi] (clamped). */
export function writePngGray(file: string, width: number, height: number, values: ArrayLike<number>, lo = -1, hi = 1): void {
  const png = new PNG({ width, height, colorType: 0, inputColorType: 0, bitDepth: 8 });
  // pngjs takes RGBA input by default; with inputColorType 0 it wants one byte per pixel.
  const buf = Buffer.alloc(width * height);
  const k = 255 / (hi - lo);
  for (let i = 0; i < width * height; i++) buf[i] = Math.max(0, Math.min(255, Math.round((values[i] - lo) * k)));
  png.data = buf;
  fs.writeFileSync(file, PNG.sync.write(png, { colorType: 0, inputColorType: 0, bitDepth: 8 }));
}

/** Tiles equally sized images (values in [-1, 1]) into a grid of `cols` columns with a 2-pixel gap. */
export function tileGrid(images: Float32Array[], h: number, w: number, cols: number): { width: number; height: number; data: Float32Array } {
  const gap = 2;
  const rows = Math.ceil(images.length / cols);
  const width = cols * w + (cols - 1) * gap, height = rows * h + (rows - 1) * gap;
  const data = new Float32Array(width * height).fill(-1);
  images.forEach((img, t) => {
    const r0 = Math.floor(t / cols) * (h + gap), c0 = (t % cols) * (w + gap);
    for (let r = 0; r < h; r++) data.set(img.subarray(r * w, (r + 1) * w), (r0 + r) * width + c0);
  });
  return { width, height, data };
}
