// Keras HDF5 weight files (read with h5wasm), for the InceptionV3 feature extractor:
//   ImageNet `inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5` and RadImageNet `RadImageNet-InceptionV3_notop.h5`.
// Layout: the root (weights-only, model.save_weights) or `model_weights/` (full model, model.save) carries the
// attribute `layer_names` (split into `layer_names0`, `layer_names1`, … when large) in model.layers order; each
// layer group carries `weight_names` (same splitting), dataset paths relative to the group such as
// `conv2d_1/kernel:0`. Kernels are HWIO; BatchNormalization(scale = False) stores beta, moving_mean,
// moving_variance (gamma is accepted if present).
// model.layers order is by graph depth, not creation order, so the file's order is not paired with our list;
// instead convs and BNs are each sorted by the creation number in their names (Keras 2 `conv2d_1…`, TF2 `conv2d,
// conv2d_1…`, possibly offset when another model was built first, e.g. `conv2d_95…`), the common offset removed,
// and every shape checked against the InceptionV3 unit list.
import * as fs from 'fs';
import * as path from 'path';
import { ConvUnit, inceptionV3Units } from './inception_spec';
import { importH5wasm } from './keras_h5_worker';
import { h5TimeoutSeconds, readInWorker } from './keras_h5_reader';
import { FileError, fsError } from '../util/errors';

export { DEFAULT_H5_TIMEOUT_S, H5TimeoutError, stopH5Reader } from './keras_h5_reader';

let h5Promise: Promise<any> | null = null;
/** h5wasm on this thread (tests write Keras files with it; reading goes through the reader thread). */
export async function loadH5wasm(): Promise<any> {
  if (!h5Promise) h5Promise = importH5wasm();
  return h5Promise;
}

export interface KerasWeight { name: string; shape: number[]; data: Float32Array }
export interface KerasLayer { name: string; weights: KerasWeight[] }
export interface KerasFile { file: string; format: 'weights-only' | 'full-model'; layers: KerasLayer[]; kerasVersion?: string; backend?: string }

/** A file error (exit 1 in the CLI) whose message starts with the file: `FILE: problem`. */
export class KerasWeightsError extends FileError {
  constructor(file: string, problem: string) { super(file, problem); this.name = 'KerasWeightsError'; }
}

const HDF5_MAGIC = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

/** The HDF5 signature sits at offset 0, 512, 1024, 2048, … (a user block may precede it). */
function checkHdf5Signature(file: string): void {
  let fd: number;
  try { fd = fs.openSync(file, 'r'); } catch (e) { throw new KerasWeightsError(file, (fsError(e, file) as FileError).problem); }
  try {
    const st = fs.fstatSync(fd), size = st.size, b = Buffer.alloc(8);
    if (st.isDirectory()) throw new KerasWeightsError(file, 'is a folder, expected a Keras .h5 weight file');
    for (let off = 0; off + 8 <= size; off = off === 0 ? 512 : off * 2) {
      try { fs.readSync(fd, b, 0, 8, off); } catch (e) { throw new KerasWeightsError(file, (fsError(e, file, 'cannot read') as FileError).problem); }
      if (b.equals(HDF5_MAGIC)) return;
    }
    throw new KerasWeightsError(file, `not an HDF5 file (no HDF5 signature; ${size} bytes) — expected a Keras .h5 weight file`);
  } finally { fs.closeSync(fd); }
}

/**
 * Reads every layer's weights, in the file's layer order, in the reader thread with a deadline (`timeoutS`, else
 * MRIGAN_H5_TIMEOUT seconds, else DEFAULT_H5_TIMEOUT_S): a damaged file that hangs h5wasm ends in a KerasWeightsError.
 */
export async function readKerasH5(file: string, opts: { timeoutS?: number } = {}): Promise<KerasFile> {
  const timeoutS = h5TimeoutSeconds(opts.timeoutS);
  checkHdf5Signature(file);
  const fileBytes = fs.statSync(file).size;
  let raw;
  try { raw = await readInWorker(path.resolve(file), fileBytes, timeoutS); } catch (e) { throw new KerasWeightsError(file, (e as Error).message); }
  return { file, ...raw };
}

export interface InceptionUnitWeights extends ConvUnit {
  index: number;
  convLayer: string;
  bnLayer: string;
  /** HWIO [kh, kw, cin, cout] */
  kernel: Float32Array;
  beta: Float32Array;
  movingMean: Float32Array;
  movingVariance: Float32Array;
  /** Only when the file's BN has scale = True (Keras' InceptionV3 does not). */
  gamma?: Float32Array;
}

export interface InceptionWeights {
  file: string;
  /** Channel divisor of the network (1 = the real InceptionV3). */
  div: number;
  format: KerasFile['format'];
  units: InceptionUnitWeights[];
  /** Creation-number offsets removed from conv2d_N / batch_normalization_N (0 for a fresh Keras 2 or TF2 session). */
  convNames: { first: string; last: string };
  bnNames: { first: string; last: string };
  /** The final pooling layer's name when the file lists one (notop files may or may not). */
  poolingLayer: string | null;
  kerasVersion?: string;
}

const weightKey = (wn: string): string => wn.slice(wn.lastIndexOf('/') + 1).replace(/:\d+$/, '');

/** The creation number in a Keras auto name: 'conv2d' → 0, 'conv2d_7' → 7 (Keras 2 starts at 1, TF2 at 0). */
function creationNumber(name: string): number | null {
  const m = /^[a-z0-9]+?(?:_[a-z]+)*?(?:_(\d+))?$/.exec(name);
  if (!m) return null;
  return m[1] === undefined ? 0 : Number(m[1]);
}

/**
 * The channel divisor of a file's network, read from its first conv kernel (stem conv1: [3, 3, 3, 32 / div]):
 * 1 for the real weights. Only a file whose every later shape also matches that divisor loads, so a damaged real
 * file is still reported layer by layer (as div 1 when the first kernel does not give a divisor of the spec).
 */
function inferDiv(layers: KerasLayer[]): number {
  let first: { num: number; cout: number } | null = null;
  for (const l of layers) {
    const k = l.weights.find((w) => weightKey(w.name) === 'kernel' && w.shape.length === 4);
    const num = k ? creationNumber(l.name) : null;
    if (k && num !== null && (!first || num < first.num)) first = { num, cout: k.shape[3] };
  }
  const div = first && first.cout > 0 ? 32 / first.cout : 1;
  if (!Number.isInteger(div) || div < 1) return 1;
  try { inceptionV3Units(div); return div; } catch { return 1; }
}

/**
 * InceptionV3 conv/BN weights from a Keras file, in creation order. `div` is for small test stand-ins with every
 * channel count divided: a number, or 'auto' to read it from the file's shapes (the trainer's --fid-weights, which
 * has no --div option: the real file gives 1).
 * Every missing or extra layer and every shape mismatch is an error naming the file and the layer.
 */
export async function readInceptionV3Weights(file: string, opts: { div?: number | 'auto'; timeoutS?: number } = {}): Promise<InceptionWeights> {
  const kf = await readKerasH5(file, { timeoutS: opts.timeoutS });
  const div = opts.div === 'auto' ? inferDiv(kf.layers) : opts.div ?? 1;
  const spec = inceptionV3Units(div);
  const convs: { layer: KerasLayer; num: number }[] = [], bns: { layer: KerasLayer; num: number }[] = [];
  let poolingLayer: string | null = null;
  for (const layer of kf.layers) {
    if (/global_average_pooling2d|^avg_pool$/.test(layer.name)) poolingLayer = layer.name;
    if (layer.weights.length === 0) continue;
    const keys = layer.weights.map((w) => weightKey(w.name));
    const isConv = keys.includes('kernel') && layer.weights.find((w) => weightKey(w.name) === 'kernel')!.shape.length === 4;
    const isBn = keys.includes('moving_mean');
    if (!isConv && !isBn) {
      throw new KerasWeightsError(file, `layer '${layer.name}' has weights [${keys.join(', ')}] that belong to no InceptionV3 conv or BatchNormalization `
        + '(is this a file with the classification top? use the _notop file)');
    }
    const num = creationNumber(layer.name);
    if (num === null) throw new KerasWeightsError(file, `layer '${layer.name}': cannot read a Keras creation number from the name`);
    (isConv ? convs : bns).push({ layer, num });
  }
  const order = (list: typeof convs, kind: string, base: string): KerasLayer[] => {
    list.sort((a, b) => a.num - b.num);
    const off = list.length ? list[0].num : 0;
    const out: KerasLayer[] = [];
    for (let i = 0; i < spec.length; i++) {
      const e = list[i];
      const expect = off + i === 0 ? base : `${base}_${off + i}`;
      if (!e || e.num !== off + i) {
        throw new KerasWeightsError(file, `missing ${kind} layer '${expect}' (InceptionV3 unit ${i}, ${spec[i].block}); the file has ${list.length} ${kind} layers, InceptionV3 needs ${spec.length}`);
      }
      out.push(e.layer);
    }
    if (list.length > spec.length) {
      throw new KerasWeightsError(file, `unexpected extra ${kind} layer '${list[spec.length].layer.name}': InceptionV3 has ${spec.length} (is this InceptionV3?)`);
    }
    return out;
  };
  const convL = order(convs, 'conv2d', 'conv2d'), bnL = order(bns, 'batch_normalization', 'batch_normalization');
  const get = (layer: KerasLayer, key: string, shape: number[], i: number, required = true): Float32Array | undefined => {
    const w = layer.weights.find((x) => weightKey(x.name) === key);
    if (!w) {
      if (!required) return undefined;
      throw new KerasWeightsError(file, `layer '${layer.name}' (InceptionV3 unit ${i}, ${spec[i].block}) has no '${key}' weight`);
    }
    if (w.shape.length !== shape.length || w.shape.some((s, k) => s !== shape[k])) {
      throw new KerasWeightsError(file, `layer '${layer.name}' (InceptionV3 unit ${i}, ${spec[i].block}): '${key}' has shape [${w.shape.join(', ')}], expected [${shape.join(', ')}]`);
    }
    return w.data;
  };
  const units: InceptionUnitWeights[] = spec.map((u, i) => {
    const conv = convL[i], bn = bnL[i];
    const extra = conv.weights.map((w) => weightKey(w.name)).filter((k) => k !== 'kernel');
    if (extra.length) throw new KerasWeightsError(file, `layer '${conv.name}' (unit ${i}, ${u.block}) has unexpected weights [${extra.join(', ')}] (InceptionV3 convs have no bias)`);
    return {
      ...u, index: i, convLayer: conv.name, bnLayer: bn.name,
      kernel: get(conv, 'kernel', [u.kh, u.kw, u.cin, u.cout], i)!,
      beta: get(bn, 'beta', [u.cout], i)!,
      movingMean: get(bn, 'moving_mean', [u.cout], i)!,
      movingVariance: get(bn, 'moving_variance', [u.cout], i)!,
      gamma: get(bn, 'gamma', [u.cout], i, false),
    };
  });
  return {
    file, format: kf.format, units, poolingLayer, div, kerasVersion: kf.kerasVersion,
    convNames: { first: convL[0].name, last: convL[convL.length - 1].name },
    bnNames: { first: bnL[0].name, last: bnL[bnL.length - 1].name },
  };
}
