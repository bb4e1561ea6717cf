// Inception input preprocessing, per weight set, on Float32Array NCHW batches (the feature extractor runs on these):
//   trainer images in [-1, 1] (or [0, 255]) → [0, 255] → resize 256×256 → 299×299 → gray → RGB (replicated) → mode:
//   'tf'    (Keras ImageNet weights):  x / 127.5 − 1
//   'caffe' (RadImageNet weights, their pipeline): RGB → BGR, subtract the ImageNet BGR means
//           [103.939, 116.779, 123.68], then ÷ 255
// Resize: bilinear as TensorFlow 2's tf.image.resize(method='bilinear', antialias=False), i.e. half-pixel centres:
// source coordinate (o + 0.5)·(in/out) − 0.5, lower = max(floor, 0), upper = min(ceil, in − 1), weight = s − floor.
// Resizing gray before replicating is the same as resizing each of three equal channels.

export type InceptionMode = 'tf' | 'caffe';
export const INCEPTION_SIZE = 299;
export const CAFFE_BGR_MEAN = [103.939, 116.779, 123.68] as const;

export interface PreprocessOptions {
  mode: InceptionMode;
  /** Range of the input pixels: the trainer's tanh output is [-1, 1] (default). */
  inputRange?: '[-1,1]' | '[0,255]';
  size?: number;
}

/** Interpolation table for one axis: lower/upper source index and the weight of upper. */
export function bilinearWeights(inSize: number, outSize: number): { lo: Int32Array; hi: Int32Array; w: Float64Array } {
  const scale = inSize / outSize;
  const lo = new Int32Array(outSize), hi = new Int32Array(outSize), w = new Float64Array(outSize);
  for (let o = 0; o < outSize; o++) {
    const s = (o + 0.5) * scale - 0.5;
    const f = Math.floor(s);
    lo[o] = Math.max(f, 0);
    hi[o] = Math.min(Math.ceil(s), inSize - 1);
    w[o] = s - f;
  }
  return { lo, hi, w };
}

/** Bilinear resize of one h×w plane (TF half-pixel convention) into out (oh×ow). */
export function resizeBilinear(src: Float32Array, h: number, w: number, out: Float32Array, oh: number, ow: number, srcOff = 0, outOff = 0): void {
  const ry = bilinearWeights(h, oh), rx = bilinearWeights(w, ow);
  for (let y = 0; y < oh; y++) {
    const r0 = srcOff + ry.lo[y] * w, r1 = srcOff + ry.hi[y] * w, wy = ry.w[y];
    for (let x = 0; x < ow; x++) {
      const x0 = rx.lo[x], x1 = rx.hi[x], wx = rx.w[x];
      const top = src[r0 + x0] + (src[r0 + x1] - src[r0 + x0]) * wx;
      const bot = src[r1 + x0] + (src[r1 + x1] - src[r1 + x0]) * wx;
      out[outOff + y * ow + x] = top + (bot - top) * wy;
    }
  }
}

/**
 * Batch [n, c, h, w] (c = 1 gray, or 3 RGB) → [n, 3, size, size] network input in the given mode. The
 * result's `mode` names what was done, for every output that reports a score.
 */
export function preprocessForInception(x: Float32Array, shape: readonly number[], opts: PreprocessOptions): { data: Float32Array; shape: number[]; mode: InceptionMode; description: string } {
  if (shape.length !== 4) throw new Error(`preprocessForInception: expected an NCHW batch, got shape [${shape.join(', ')}]`);
  const [n, c, h, w] = shape;
  if (c !== 1 && c !== 3) throw new Error(`preprocessForInception: expected 1 (gray) or 3 (RGB) channels, got ${c}`);
  if (x.length !== n * c * h * w) throw new Error(`preprocessForInception: ${x.length} values for shape [${shape.join(', ')}]`);
  if (opts.mode !== 'tf' && opts.mode !== 'caffe') throw new Error(`preprocessForInception: unknown mode '${opts.mode}' (use 'tf' or 'caffe')`);
  const size = opts.size ?? INCEPTION_SIZE, range = opts.inputRange ?? '[-1,1]';
  // to [0, 255]
  const a = range === '[-1,1]' ? 127.5 : 1, b = range === '[-1,1]' ? 127.5 : 0;
  const plane = new Float32Array(h * w), res = new Float32Array(size * size);
  const out = new Float32Array(n * 3 * size * size);
  for (let i = 0; i < n; i++) {
    for (let ch = 0; ch < 3; ch++) {
      const src = (i * c + (c === 1 ? 0 : ch)) * h * w;
      if (c === 3 || ch === 0) {
        for (let p = 0; p < h * w; p++) plane[p] = x[src + p] * a + b;
        resizeBilinear(plane, h, w, res, size, size);
      }
      // output channel order: RGB for 'tf'; BGR for 'caffe' (output channel oc holds input channel 2 − oc)
      const oc = opts.mode === 'caffe' ? 2 - ch : ch;
      const dst = (i * 3 + oc) * size * size;
      if (opts.mode === 'tf') for (let p = 0; p < size * size; p++) out[dst + p] = res[p] / 127.5 - 1;
      else { const mean = CAFFE_BGR_MEAN[oc]; for (let p = 0; p < size * size; p++) out[dst + p] = (res[p] - mean) / 255; }
    }
  }
  const description = opts.mode === 'tf'
    ? `Keras 'tf' mode (ImageNet weights): ${range} → [0,255], bilinear ${h}×${w}→${size}×${size} (half-pixel, no antialias), gray→RGB, x/127.5 − 1`
    : `Keras 'caffe' mode then ÷255 (RadImageNet weights): ${range} → [0,255], bilinear ${h}×${w}→${size}×${size} (half-pixel, no antialias), gray→RGB→BGR, minus [103.939, 116.779, 123.68], ÷255`;
  return { data: out, shape: [n, 3, size, size], mode: opts.mode, description };
}

/** The preprocessing mode that goes with a weight set. */
export const modeForWeights = (weights: 'imagenet' | 'radimagenet'): InceptionMode => (weights === 'imagenet' ? 'tf' : 'caffe');
