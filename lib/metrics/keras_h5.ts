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
import { ConvUnit, inceptionV3Units } from './inception_spec';

// h5wasm is an ES module; a CommonJS build must load it with a real dynamic import (tsc would turn `import()` into
// require()).
const dynamicImport = new Function('s', 'return import(s)') as (s: string) => Promise<any>;
let h5Promise: Promise<any> | null = null;
export async function loadH5wasm(): Promise<any> {
  if (!h5Promise) {
    h5Promise = dynamicImport('h5wasm/node').then(async (m) => {
      const h5 = m.default ?? m;
      await h5.ready;
      return h5;
    });
  }
  return h5Promise;
}

export interface KerasWeight { name: string; shape: number[]; data: Float32Array }
export interface KerasLayer { name: string; weights: KerasWeight[] }
export interface KerasFile { file: string; format: 'weights-only' | 'full-model'; layers: KerasLayer[]; kerasVersion?: string; backend?: string }

export class KerasWeightsError extends Error {
  constructor(readonly file: string, problem: string) { super(`${file}: ${problem}`); this.name = 'KerasWeightsError'; }
}

const HDF5_MAGIC = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

/** The HDF5 signature sits at offset 0, 512, 1024, 2048, … (a user block may precede it). */
function checkHdf5Signature(file: string): void {
  let fd: number;
  try { fd = fs.openSync(file, 'r'); } catch (e) { throw new KerasWeightsError(file, `cannot open (${(e as Error).message})`); }
  try {
    const size = fs.fstatSync(fd).size, b = Buffer.alloc(8);
    for (let off = 0; off + 8 <= size; off = off === 0 ? 512 : off * 2) {
      fs.readSync(fd, b, 0, 8, off);
      if (b.equals(HDF5_MAGIC)) return;
    }
    throw new KerasWeightsError(file, `not an HDF5 file (no HDF5 signature; ${size} bytes) — expected a Keras .h5 weight file`);
  } finally { fs.closeSync(fd); }
}

/** A string-list attribute, also when Keras split it into name0, name1, … */
function stringListAttr(node: any, name: string): string[] | null {
  const attrs = node.attrs as Record<string, any>;
  // an empty list (layers without weights) may come back as [] or as a single '' depending on how it was written
  const asList = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : v == null ? [] : [String(v)]).filter((x) => x.length > 0);
  if (name in attrs) return asList(attrs[name].value);
  if (`${name}0` in attrs) {
    const out: string[] = [];
    for (let i = 0; `${name}${i}` in attrs; i++) out.push(...asList(attrs[`${name}${i}`].value));
    return out;
  }
  return null;
}

/** Reads every layer's weights, in the file's layer order. */
export async function readKerasH5(file: string): Promise<KerasFile> {
  checkHdf5Signature(file);
  const fileBytes = fs.statSync(file).size;
  const h5 = await loadH5wasm();
  let f: any;
  try { f = new h5.File(file, 'r'); } catch (e) { throw new KerasWeightsError(file, `HDF5 open failed (${(e as Error).message}); the file may be truncated`); }
  if (!f || typeof f.file_id !== 'bigint' || f.file_id < 0n) throw new KerasWeightsError(file, 'HDF5 open failed; the file may be truncated or corrupt');
  try {
    let root = f, format: KerasFile['format'] = 'weights-only';
    let names = stringListAttr(f, 'layer_names');
    if (!names) {
      const mw = f.get('model_weights');
      if (mw && (names = stringListAttr(mw, 'layer_names'))) { root = mw; format = 'full-model'; }
    }
    if (!names) {
      const keras3 = f.get('layers') || f.get('_layer_checkpoint_dependencies');
      throw new KerasWeightsError(file, "no 'layer_names' attribute at the root or in 'model_weights/' — not a Keras 2 / tf.keras HDF5 weight file"
        + (keras3 ? " (this looks like Keras 3's '.weights.h5' layout, which is not supported: save with tf.keras / Keras 2, or use the published _notop.h5 files)" : ''));
    }
    const readAttr = (node: any, n: string): string | undefined => { const a = node.attrs[n]; return a ? String(a.value) : undefined; };
    const layers: KerasLayer[] = [];
    for (const name of names) {
      const g = root.get(name);
      if (!g) throw new KerasWeightsError(file, `layer '${name}' is listed in layer_names but its group is missing (truncated file?)`);
      const wnames = stringListAttr(g, 'weight_names') ?? [];
      const weights: KerasWeight[] = [];
      for (const wn of wnames) {
        const ds = g.get(wn);
        if (!ds || !ds.shape) throw new KerasWeightsError(file, `layer '${name}': weight '${wn}' is listed but missing`);
        // a corrupt header can claim a huge dataset: refuse before h5wasm tries to read it (Keras does not compress)
        const claimed = (ds.shape as number[]).reduce((a: number, b: number) => a * Number(b), 1);
        if (!Number.isFinite(claimed) || claimed * 4 > Math.max(16 * fileBytes, 1 << 20))
          throw new KerasWeightsError(file, `layer '${name}': weight '${wn}' claims shape [${ds.shape}] — more than the ${fileBytes}-byte file can hold; corrupt file?`);
        let v: unknown;
        try { v = ds.value; } catch (e) { throw new KerasWeightsError(file, `layer '${name}': weight '${wn}' cannot be read (${(e as Error).message}); truncated file?`); }
        if (!(v instanceof Float32Array) && !(v instanceof Float64Array)) {
          throw new KerasWeightsError(file, `layer '${name}': weight '${wn}' is not a float array (dtype ${JSON.stringify(ds.dtype)})`);
        }
        const shape = (ds.shape as number[]).map(Number);
        const count = shape.reduce((a, b) => a * b, 1);
        if (v.length !== count) throw new KerasWeightsError(file, `layer '${name}': weight '${wn}' has ${v.length} values for shape [${shape.join(', ')}]`);
        weights.push({ name: wn, shape, data: v instanceof Float32Array ? v : Float32Array.from(v) });
      }
      layers.push({ name, weights });
    }
    return { file, format, layers, kerasVersion: readAttr(f, 'keras_version') ?? readAttr(root, 'keras_version'), backend: readAttr(f, 'backend') ?? readAttr(root, 'backend') };
  } catch (e) {
    if (e instanceof KerasWeightsError) throw e;
    throw new KerasWeightsError(file, `cannot read the HDF5 structure (${(e as Error).message}); truncated or corrupt file?`);
  } finally {
    try { f.close(); } catch { /* already failed */ }
  }
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
export async function readInceptionV3Weights(file: string, opts: { div?: number | 'auto' } = {}): Promise<InceptionWeights> {
  const kf = await readKerasH5(file);
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
