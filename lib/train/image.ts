// PNG output of images in [-1, 1] (the generator's tanh range): one image, or a rows×cols grid of a batch.
// Pixel = round((v + 1)·127.5) clamped to [0, 255]; 1 channel → grayscale PNG, 3 → RGB.
import { PNG } from 'pngjs';
import { writeFileAtomic } from './fsutil';

export interface ImageBatch {
  /** [n, c, h, w] values, NCHW. */
  data: Float32Array;
  n: number;
  c: number;
  h: number;
  w: number;
}

export const toByte = (v: number): number => (v >= 1 ? 255 : v <= -1 || !(v === v) ? 0 : Math.round((v + 1) * 127.5));

function encode(rgba: Buffer, w: number, h: number, gray: boolean): Buffer {
  const png = new PNG({ width: w, height: h });
  rgba.copy(png.data);
  return PNG.sync.write(png, { colorType: gray ? 0 : 2 });
}

/** Image i of the batch as PNG bytes. */
export function imagePng(b: ImageBatch, i: number): Buffer {
  checkBatch(b);
  if (i < 0 || i >= b.n) throw new Error(`imagePng: index ${i} out of range for a batch of ${b.n}`);
  const rgba = Buffer.alloc(b.w * b.h * 4);
  paint(b, i, rgba, b.w, 0, 0);
  return encode(rgba, b.w, b.h, b.c === 1);
}

/** The first rows·cols images as a grid with `gap` black pixels between tiles. */
export function gridPng(b: ImageBatch, rows: number, cols: number, gap = 2): Buffer {
  checkBatch(b);
  const W = cols * b.w + (cols - 1) * gap, H = rows * b.h + (rows - 1) * gap;
  const rgba = Buffer.alloc(W * H * 4);
  for (let k = 3; k < rgba.length; k += 4) rgba[k] = 255;
  for (let i = 0; i < Math.min(b.n, rows * cols); i++)
    paint(b, i, rgba, W, (i % cols) * (b.w + gap), Math.floor(i / cols) * (b.h + gap));
  return encode(rgba, W, H, b.c === 1);
}

function checkBatch(b: ImageBatch): void {
  if (b.c !== 1 && b.c !== 3) throw new Error(`PNG output needs 1 or 3 channels, got ${b.c}`);
  if (b.data.length !== b.n * b.c * b.h * b.w)
    throw new Error(`image batch [${b.n}, ${b.c}, ${b.h}, ${b.w}] needs ${b.n * b.c * b.h * b.w} values, got ${b.data.length}`);
}

function paint(b: ImageBatch, i: number, rgba: Buffer, W: number, x0: number, y0: number): void {
  const plane = b.h * b.w, base = i * b.c * plane;
  for (let y = 0; y < b.h; y++)
    for (let x = 0; x < b.w; x++) {
      const o = ((y0 + y) * W + x0 + x) * 4, p = base + y * b.w + x;
      for (let ch = 0; ch < 3; ch++) rgba[o + ch] = toByte(b.data[p + (b.c === 1 ? 0 : ch) * plane]);
      rgba[o + 3] = 255;
    }
}

export const writeImagePng = (file: string, b: ImageBatch, i = 0): void => writeFileAtomic(file, imagePng(b, i));
export const writeGridPng = (file: string, b: ImageBatch, rows = 8, cols = 8): void => writeFileAtomic(file, gridPng(b, rows, cols));

/** Decodes a PNG to [c, h, w] values in [-1, 1] (tests and tools). */
export function readPng(buf: Buffer): ImageBatch {
  const p = PNG.sync.read(buf);
  const gray = p.colorType === 0 || p.colorType === 4;
  const c = gray ? 1 : 3, plane = p.width * p.height;
  const data = new Float32Array(c * plane);
  for (let k = 0; k < plane; k++) for (let ch = 0; ch < c; ch++) data[ch * plane + k] = p.data[k * 4 + ch] / 127.5 - 1;
  return { data, n: 1, c, h: p.height, w: p.width };
}
