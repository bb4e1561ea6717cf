// Keras InceptionV3 (include_top = False, pooling = 'avg') for FID features, on the engine's ops (docs/design.md §8).
// Every conv unit of inception_spec.ts is conv (no bias) → BN(scale = False, ε = 1e-3) → ReLU; for inference BN is
// folded into the conv: w' = w·γ/√(var + ε), b' = β − mean·γ/√(var + ε) (γ = 1 unless the file has it), computed
// in float64 and rounded once, then one fused conv2dForwardAct('relu'). Kernels HWIO → OIHW.
// Padding as Keras: 'valid' = none; 'same' = TensorFlow's (out = ceil(in / stride), the odd pad after), which for
// the stride-1 odd kernels of this network is symmetric. Max pools 3×3 s2 'valid'; the mixed blocks' 3×3 s1 average
// pools are 'same' and divide by the in-bounds cells (avgPool2dForward). Branch concat order follows Keras.
import { createHash } from 'crypto';
import {
  Device, Tensor, avgPool2dForward, concatChannels, conv2dForwardAct, globalAvgPool, maxPool2dForward, relu,
  samePadding, tidy,
} from '../engine';
import { InceptionWeights, readInceptionV3Weights } from './keras_h5';
import { InceptionMode, preprocessForInception } from './preprocess';

export const BN_EPS = 1e-3;

/** One folded conv unit on the model's device. */
export interface InceptionConv {
  block: string;
  kh: number;
  kw: number;
  stride: 1 | 2;
  padding: 'same' | 'valid';
  /** OIHW [cout, cin, kh, kw] with BN folded in. */
  w: Tensor;
  b: Tensor;
}

export interface InceptionModel {
  file: string;
  device: Device;
  convs: InceptionConv[];
  /** Feature size: 2048 for the real network (2048 / div for test stand-ins). */
  features: number;
  /** SHA-256 (hex) of the weight values in unit order (kernel, beta, moving mean/variance, gamma): which weights, not
   *  which file layout; recorded in statistics files so that a later FID can refuse another network's statistics. */
  fingerprint: string;
  dispose(): void;
}

/** BN folded into the HWIO kernel: OIHW weight and bias, float64 math rounded once. */
export function foldUnit(u: InceptionWeights['units'][number], eps = BN_EPS): { w: Float32Array; b: Float32Array } {
  const { kh, kw, cin, cout } = u;
  const w = new Float32Array(cout * cin * kh * kw), b = new Float32Array(cout);
  for (let o = 0; o < cout; o++) {
    const g = u.gamma ? u.gamma[o] : 1;
    const inv = g / Math.sqrt(u.movingVariance[o] + eps);
    b[o] = u.beta[o] - u.movingMean[o] * inv;
    for (let i = 0; i < cin; i++)
      for (let y = 0; y < kh; y++)
        for (let x = 0; x < kw; x++) w[((o * cin + i) * kh + y) * kw + x] = u.kernel[((y * kw + x) * cin + i) * cout + o] * inv;
  }
  return { w, b };
}

export function buildInceptionV3(weights: InceptionWeights, device: Device = 'cpu'): InceptionModel {
  const convs = weights.units.map((u): InceptionConv => {
    const { w, b } = foldUnit(u);
    return {
      block: u.block, kh: u.kh, kw: u.kw, stride: u.stride, padding: u.padding,
      w: Tensor.fromArray(w, [u.cout, u.cin, u.kh, u.kw], device), b: Tensor.fromArray(b, [u.cout], device),
    };
  });
  const last = weights.units[weights.units.length - 1];
  // mixed10 = 1x1 + 2·(3x3 pair) + pool branch; the 3x3 pairs are 2·cout of their units
  const features = weights.units.slice(-9).reduce((s, u, i) => s + ([0, 2, 3, 6, 7].includes(i) ? u.cout : 0), 0) + last.cout;
  return {
    file: weights.file, device, convs, features, fingerprint: weightsFingerprint(weights),
    dispose: () => { for (const c of convs) { c.w.dispose(); c.b.dispose(); } },
  };
}

/** SHA-256 of the weight values (little-endian float32) in unit order. */
export function weightsFingerprint(weights: InceptionWeights): string {
  const h = createHash('sha256');
  const add = (a: Float32Array): void => { h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)); };
  for (const u of weights.units) {
    add(u.kernel); add(u.beta); add(u.movingMean); add(u.movingVariance);
    if (u.gamma) add(u.gamma);
  }
  return h.digest('hex');
}

/** Loads a Keras InceptionV3 .h5 file (`div` for test stand-ins with every channel count divided; 'auto' reads it
 *  from the file's shapes). */
export async function loadInceptionV3(file: string, opts: { div?: number | 'auto'; device?: Device } = {}): Promise<InceptionModel> {
  return buildInceptionV3(await readInceptionV3Weights(file, { div: opts.div }), opts.device ?? 'cpu');
}

/** ReLU(conv + folded BN) of one unit ('none': without the ReLU). */
export function convUnit(c: InceptionConv, x: Tensor, act: 'relu' | 'none' = 'relu'): Tensor {
  const [, , h, w] = x.shape;
  const pad = c.padding === 'valid' ? [0, 0, 0, 0] as const
    : [...samePadding(h, c.kh, c.stride), ...samePadding(w, c.kw, c.stride)] as [number, number, number, number];
  return conv2dForwardAct(x, c.w, c.b, act, { stride: c.stride, padding: pad });
}

const maxPool = (x: Tensor): Tensor => maxPool2dForward(x, 3, { stride: 2 });
const avgPoolSame = (x: Tensor): Tensor => avgPool2dForward(x, 3, { stride: 1, padding: 1 });

/** How a graph function runs one unit (bench/inception-layers.ts passes a timing wrapper). */
export type UnitFn = (c: InceptionConv, x: Tensor, act?: 'relu' | 'none') => Tensor;

// The mixed blocks' pool branch, ReLU(1×1 conv(avg pool(x)) + b), as ReLU(avg pool(1×1 conv(x) + b)): the pool and a 1×1
// conv are both linear and act on different axes (pixels / channels), so they commute, and the pool's weights sum to 1
// (in-bounds cells only), so the bias passes through. Pooling the conv's k outputs instead of its c inputs is 3–10×
// less pooling (mixed0: 32 of 192 channels, mixed10: 192 of 2048); the result differs only by float32 rounding.
const poolBranch = (unit: UnitFn, c: InceptionConv, x: Tensor): Tensor => relu(avgPoolSame(unit(c, x, 'none')));

/** The stem: 5 units and two max pools, [n, 3, 299, 299] → [n, 192, 35, 35]. Consumes units [0, 5). */
export function inceptionStem(m: InceptionModel, x: Tensor, unit: UnitFn = convUnit): Tensor {
  const u = m.convs;
  return tidy(() => {
    let y = unit(u[2], unit(u[1], unit(u[0], x)));
    y = maxPool(y);
    y = unit(u[4], unit(u[3], y));
    return maxPool(y);
  });
}

/** Mixed block `i` (0…10) on x; its units start at blockStarts()[i] in creation order. */
export function inceptionMixed(m: InceptionModel, i: number, x: Tensor, unit: UnitFn = convUnit): Tensor {
  const start = blockStarts()[i];
  const u = (k: number): InceptionConv => m.convs[start + k];
  const f = (k: number, t: Tensor): Tensor => unit(u(k), t);
  return tidy(() => {
    if (i <= 2) {  // 35×35: 1x1, 5x5, 3x3dbl, pool
      return concatChannels([f(0, x), f(2, f(1, x)), f(5, f(4, f(3, x))), poolBranch(unit, u(6), x)]);
    }
    if (i === 3) {  // 35 → 17: 3x3 s2, 3x3dbl (last s2), max pool
      return concatChannels([f(0, x), f(3, f(2, f(1, x))), maxPool(x)]);
    }
    if (i <= 7) {  // 17×17: 1x1, 7x7 (1x1, 1x7, 7x1), 7x7dbl (1x1, 7x1, 1x7, 7x1, 1x7), pool
      return concatChannels([f(0, x), f(3, f(2, f(1, x))), f(8, f(7, f(6, f(5, f(4, x))))), poolBranch(unit, u(9), x)]);
    }
    if (i === 8) {  // 17 → 8: 3x3 (1x1, 3x3 s2), 7x7x3 (1x1, 1x7, 7x1, 3x3 s2), max pool
      return concatChannels([f(1, f(0, x)), f(5, f(4, f(3, f(2, x)))), maxPool(x)]);
    }
    // mixed9, mixed10 (8×8): 1x1, 3x3 → [1x3, 3x1], 3x3dbl (1x1, 3x3) → [1x3, 3x1], pool
    const b3 = f(1, x), d3 = f(5, f(4, x));
    return concatChannels([f(0, x), f(2, b3), f(3, b3), f(6, d3), f(7, d3), poolBranch(unit, u(8), x)]);
  });
}

let starts: number[] | null = null;
/** Index of the first unit of each mixed block in creation order (the stem has 5). */
export function blockStarts(): number[] {
  if (!starts) {
    const sizes = [7, 7, 7, 4, 10, 10, 10, 10, 6, 9, 9];
    starts = [];
    let s = 5;
    for (const n of sizes) { starts.push(s); s += n; }
  }
  return starts;
}

/** [n, 3, H, W] preprocessed input → [n, features] (global average of mixed10). */
export function inceptionForward(m: InceptionModel, x: Tensor, unit: UnitFn = convUnit): Tensor {
  return tidy(() => {
    let y = inceptionStem(m, x, unit);
    // free each block's input once the next output exists (peak memory: two block outputs, not eleven)
    for (let i = 0; i <= 10; i++) { const next = inceptionMixed(m, i, y, unit); y.dispose(); y = next; }
    return globalAvgPool(y);
  });
}

export interface FeatureOptions {
  mode: InceptionMode;
  /** Images per forward (default 16). */
  batch?: number;
  inputRange?: '[-1,1]' | '[0,255]';
  /** Called after each batch with the images done so far. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Features of images [n, 1|3, H, W] (default range [-1, 1]): preprocessed per batch (resize to 299, the weight
 * set's mode), run on the model's device, returned as float64 n × features.
 */
export function inceptionFeatures(m: InceptionModel, images: Float32Array, shape: readonly number[], opts: FeatureOptions): Float64Array {
  if (shape.length !== 4) throw new Error(`inceptionFeatures: expected images [n, c, h, w], got shape [${shape.join(', ')}]`);
  const [n, c, h, w] = shape, per = c * h * w;
  if (images.length !== n * per) throw new Error(`inceptionFeatures: ${images.length} values for shape [${shape.join(', ')}]`);
  const batch = opts.batch ?? 16;
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`inceptionFeatures: batch must be a positive integer, got ${batch}`);
  const out = new Float64Array(n * m.features);
  for (let lo = 0; lo < n; lo += batch) {
    const hi = Math.min(n, lo + batch);
    const pre = preprocessForInception(images.subarray(lo * per, hi * per), [hi - lo, c, h, w], { mode: opts.mode, inputRange: opts.inputRange });
    const f = tidy(() => inceptionForward(m, Tensor.fromArray(pre.data, pre.shape, m.device)).toFloat32Array());
    out.set(f, lo * m.features);
    opts.onProgress?.(hi, n);
  }
  return out;
}
