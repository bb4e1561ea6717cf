// Loss curves as a small PNG without a plotting library: axes, one polyline per series (Bresenham), a legend
// swatch per series and min/max labels in a 3×5 pixel font. Enough to see at a glance whether training diverges.
import { PNG } from 'pngjs';
import { writeFileAtomic } from './fsutil';

export interface Series { name: string; values: number[]; color: [number, number, number] }

// 3×5 glyphs, rows top to bottom, 3 bits per row (MSB = left).
const FONT: Record<string, number[]> = {
  '0': [7, 5, 5, 5, 7], '1': [2, 6, 2, 2, 7], '2': [7, 1, 7, 4, 7], '3': [7, 1, 7, 1, 7], '4': [5, 5, 7, 1, 1],
  '5': [7, 4, 7, 1, 7], '6': [7, 4, 7, 5, 7], '7': [7, 1, 1, 1, 1], '8': [7, 5, 7, 5, 7], '9': [7, 5, 7, 1, 7],
  '.': [0, 0, 0, 0, 2], '-': [0, 0, 7, 0, 0], 'e': [0, 7, 7, 4, 7], '+': [0, 2, 7, 2, 0], ' ': [0, 0, 0, 0, 0],
  'D': [6, 5, 5, 5, 6], 'G': [7, 4, 5, 5, 7], 'P': [7, 5, 7, 4, 4], 'W': [5, 5, 7, 7, 5], 'N': [7, 5, 5, 5, 5],
  'a': [0, 7, 1, 7, 7], 'n': [0, 6, 5, 5, 5], '?': [7, 1, 3, 0, 2],
  'S': [7, 4, 7, 1, 7], 'M': [5, 7, 7, 5, 5], 'I': [7, 2, 2, 2, 7], 'L': [4, 4, 4, 4, 7], 'R': [6, 5, 6, 5, 5],
  'E': [7, 4, 6, 4, 7], 'A': [2, 5, 7, 5, 5], 'F': [7, 4, 6, 4, 4],
};

class Canvas {
  readonly png: PNG;
  constructor(readonly w: number, readonly h: number) {
    this.png = new PNG({ width: w, height: h });
    this.png.data.fill(255);
  }
  set(x: number, y: number, c: readonly number[]): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.w || y >= this.h) return;
    const o = (y * this.w + x) * 4;
    this.png.data[o] = c[0];
    this.png.data[o + 1] = c[1];
    this.png.data[o + 2] = c[2];
  }
  line(x0: number, y0: number, x1: number, y1: number, c: readonly number[]): void {
    x0 = Math.round(x0); y0 = Math.round(y0); x1 = Math.round(x1); y1 = Math.round(y1);
    const dx = Math.abs(x1 - x0), dy = -Math.abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    let err = dx + dy;
    for (;;) {
      this.set(x0, y0, c);
      if (x0 === x1 && y0 === y1) return;
      const e2 = 2 * err;
      if (e2 >= dy) { err += dy; x0 += sx; }
      if (e2 <= dx) { err += dx; y0 += sy; }
    }
  }
  text(x: number, y: number, s: string, c: readonly number[], scale = 2): void {
    for (const ch of s) {
      const g = FONT[ch] ?? FONT['?'];
      for (let r = 0; r < 5; r++)
        for (let b = 0; b < 3; b++)
          if (g[r] & (4 >> b)) for (let u = 0; u < scale; u++) for (let v = 0; v < scale; v++) this.set(x + b * scale + u, y + r * scale + v, c);
      x += 4 * scale;
    }
  }
}

const fmt = (v: number): string => (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-2 && v !== 0) ? v.toExponential(1) : v.toFixed(3));

/** A w×h PNG of the series against their index (step); non-finite values are skipped. */
export function lossCurvePng(series: Series[], w = 640, h = 360): Buffer {
  const cv = new Canvas(w, h);
  const L = 70, R = w - 10, T = 30, B = h - 20;
  let lo = Infinity, hi = -Infinity, n = 1;
  for (const s of series) {
    n = Math.max(n, s.values.length);
    for (const v of s.values) if (Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  }
  if (!(lo <= hi)) { lo = 0; hi = 1; }
  if (hi - lo < 1e-12) { lo -= 0.5; hi += 0.5; }
  const X = (i: number): number => L + ((R - L) * i) / Math.max(1, n - 1);
  const Y = (v: number): number => B - ((B - T) * (v - lo)) / (hi - lo);
  const axis = [0, 0, 0], grid = [225, 225, 225];
  if (lo < 0 && hi > 0) cv.line(L, Y(0), R, Y(0), grid);
  cv.line(L, T, L, B, axis);
  cv.line(L, B, R, B, axis);
  cv.text(4, T - 2, fmt(hi), axis);
  cv.text(4, B - 10, fmt(lo), axis);
  series.forEach((s, k) => {
    let prev: [number, number] | null = null;
    s.values.forEach((v, i) => {
      if (!Number.isFinite(v)) { prev = null; return; }
      const p: [number, number] = [X(i), Y(v)];
      if (prev) cv.line(prev[0], prev[1], p[0], p[1], s.color);
      else cv.set(p[0], p[1], s.color);
      prev = p;
    });
    const lx = L + 10 + k * 120;
    for (let u = 0; u < 16; u++) for (let v = 0; v < 4; v++) cv.set(lx + u, 10 + v, s.color);
    cv.text(lx + 22, 7, s.name, axis);
  });
  return PNG.sync.write(cv.png, { colorType: 2 });
}

export const writeLossCurve = (file: string, series: Series[]): void => writeFileAtomic(file, lossCurvePng(series));
