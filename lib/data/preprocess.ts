// Per-volume intensity scaling and in-plane fitting of slices to the model's square size.
//
// Scaling: MRI intensities have no absolute unit, so each volume is scaled on its own. The foreground is every
// voxel above the volume's minimum (BraTS volumes are skull-stripped with background 0, so foreground = brain).
// lo/hi are percentiles of the foreground (default 0.5 and 99.5, linear interpolation like numpy.percentile),
// robust to a few hot voxels. A foreground voxel maps to clamp(2(v-lo)/(hi-lo) - 1, -1, 1); background is
// exactly -1, which is also the padding value, so padded borders and background are indistinguishable.
//
// Fitting (slice of nx × ny voxels into size × size):
//   'pad'    (default) if it fits, centre it and pad with -1 (240 → 256: 8 pixels each side, no resampling);
//            if it is larger, shrink it bilinearly (aspect kept) so its longer side is `size`, then pad.
//   'resize' scale (up or down, aspect kept) so the longer side is exactly `size`, then pad.
// Centring: the offset is floor((size - n) / 2).

export interface Scaling {
  /** Voxels <= background are background (-1). */
  background: number;
  lo: number;
  hi: number;
  /** Foreground voxel count. */
  foreground: number;
}

/** k-th smallest (0-based) of a[lo..hi] in place (Hoare quickselect with median-of-three pivot). */
function select(a: Float32Array, k: number, lo: number, hi: number): number {
  while (hi > lo) {
    const mid = (lo + hi) >>> 1;
    // median of three to the middle
    if (a[mid] < a[lo]) { const t = a[mid]; a[mid] = a[lo]; a[lo] = t; }
    if (a[hi] < a[lo]) { const t = a[hi]; a[hi] = a[lo]; a[lo] = t; }
    if (a[hi] < a[mid]) { const t = a[hi]; a[hi] = a[mid]; a[mid] = t; }
    const pivot = a[mid];
    let i = lo, j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) { const t = a[i]; a[i] = a[j]; a[j] = t; i++; j--; }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k];
  }
  return a[k];
}

/** Percentiles p (0..100) of `values` with numpy's default linear interpolation. Reorders `values`. */
export function percentiles(values: Float32Array, ps: number[]): number[] {
  const n = values.length;
  if (n === 0) return ps.map(() => NaN);
  return ps.map((p) => {
    const pos = (Math.min(Math.max(p, 0), 100) / 100) * (n - 1);
    const f = Math.floor(pos);
    const a = select(values, f, 0, n - 1);
    if (f + 1 >= n || pos === f) return a;
    // the (f+1)-th smallest is the minimum of the part right of f after selection
    let b = Infinity;
    for (let i = f + 1; i < n; i++) if (values[i] < b) b = values[i];
    return a + (pos - f) * (b - a);
  });
}

/** Foreground percentiles of a volume (see the file comment). */
export function volumeScaling(data: Float32Array, pLo = 0.5, pHi = 99.5): Scaling {
  let min = Infinity, max = -Infinity, integral = true;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v < min) min = v;
    if (v > max) max = v;
    if ((v | 0) !== v) integral = false;
  }
  if (integral && max - min <= 1 << 20) return histogramScaling(data, min, max, pLo, pHi);
  let n = 0;
  for (let i = 0; i < data.length; i++) if (data[i] > min) n++;
  const fg = new Float32Array(n);
  let j = 0;
  for (let i = 0; i < data.length; i++) if (data[i] > min) fg[j++] = data[i];
  const [lo, hi] = n ? percentiles(fg, [pLo, pHi]) : [min, min];
  return { background: min, lo, hi, foreground: n };
}

/**
 * Exact percentiles for integer-valued volumes (int16/uint8 sources, the BraTS case) from a histogram: one
 * counting pass instead of copying and selecting. Same numbers as `percentiles` (tested).
 */
function histogramScaling(data: Float32Array, min: number, max: number, pLo: number, pHi: number): Scaling {
  const counts = new Uint32Array(max - min + 1);
  for (let i = 0; i < data.length; i++) counts[data[i] - min]++;
  const n = data.length - counts[0];
  if (n === 0) return { background: min, lo: min, hi: min, foreground: 0 };
  // value of the r-th smallest foreground voxel (0-based)
  const kth = (r: number) => {
    let acc = 0;
    for (let b = 1; b < counts.length; b++) {
      acc += counts[b];
      if (acc > r) return min + b;
    }
    return max;
  };
  const at = (p: number) => {
    const pos = (Math.min(Math.max(p, 0), 100) / 100) * (n - 1);
    const f = Math.floor(pos);
    const a = kth(f);
    return f + 1 < n && pos > f ? a + (pos - f) * (kth(f + 1) - a) : a;
  };
  return { background: min, lo: at(pLo), hi: at(pHi), foreground: n };
}

/** Scales values in place to [-1, 1]: background → -1 exactly, foreground linearly from [lo, hi], clamped. */
export function applyScaling(img: Float32Array, s: Scaling): Float32Array {
  const span = s.hi - s.lo;
  const k = span > 0 ? 2 / span : 0;
  for (let i = 0; i < img.length; i++) {
    const v = img[i];
    if (v <= s.background) img[i] = -1;
    else if (k === 0) img[i] = 1; // constant foreground (a mask): foreground is +1
    else {
      const y = (v - s.lo) * k - 1;
      img[i] = y < -1 ? -1 : y > 1 ? 1 : y;
    }
  }
  return img;
}

/**
 * Bilinear resize of a rows × cols image to outRows × outCols with half-pixel centres and edge clamping
 * (align_corners = false, no antialiasing) — the same sampling as tf.image.resize(method='bilinear'), which is
 * what Keras' image_dataset_from_directory applied in the reference system.
 */
export function resizeBilinear(img: Float32Array, rows: number, cols: number, outRows: number, outCols: number): Float32Array {
  const out = new Float32Array(outRows * outCols);
  const sy = rows / outRows, sx = cols / outCols;
  const x0 = new Int32Array(outCols), x1 = new Int32Array(outCols), wx = new Float32Array(outCols);
  for (let c = 0; c < outCols; c++) {
    const t = Math.min(Math.max((c + 0.5) * sx - 0.5, 0), cols - 1);
    x0[c] = Math.floor(t); x1[c] = Math.min(x0[c] + 1, cols - 1); wx[c] = t - x0[c];
  }
  for (let r = 0; r < outRows; r++) {
    const t = Math.min(Math.max((r + 0.5) * sy - 0.5, 0), rows - 1);
    const y0 = Math.floor(t), y1 = Math.min(y0 + 1, rows - 1), wy = t - y0;
    const a = y0 * cols, b = y1 * cols, o = r * outCols;
    for (let c = 0; c < outCols; c++) {
      const top = img[a + x0[c]] + wx[c] * (img[a + x1[c]] - img[a + x0[c]]);
      const bot = img[b + x0[c]] + wx[c] * (img[b + x1[c]] - img[b + x0[c]]);
      out[o + c] = top + wy * (bot - top);
    }
  }
  return out;
}

export type FitMode = 'pad' | 'resize';

/** In-plane size after fitting (before padding): rows × cols of the content inside the size × size square. */
export function fittedSize(rows: number, cols: number, size: number, mode: FitMode): [number, number] {
  const longer = Math.max(rows, cols);
  if (mode === 'pad' && longer <= size) return [rows, cols];
  const s = size / longer;
  return [Math.max(1, Math.round(rows * s)), Math.max(1, Math.round(cols * s))];
}

/** Fits a rows × cols slice (already scaled to [-1, 1]) into size × size; see the file comment. */
export function fitSlice(img: Float32Array, rows: number, cols: number, size: number, mode: FitMode, out = new Float32Array(size * size)): Float32Array {
  const [fr, fc] = fittedSize(rows, cols, size, mode);
  const src = fr === rows && fc === cols ? img : resizeBilinear(img, rows, cols, fr, fc);
  out.fill(-1);
  const r0 = Math.floor((size - fr) / 2), c0 = Math.floor((size - fc) / 2);
  for (let r = 0; r < fr; r++) out.set(src.subarray(r * fc, (r + 1) * fc), (r0 + r) * size + c0);
  return out;
}
