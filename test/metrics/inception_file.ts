// Writes a random-weight Keras InceptionV3 notop file (Keras 2 names conv2d_1…, batch_normalization_1…, weights-only
// layout as model.save_weights) with every channel count ÷ div, for the feature-extractor and CLI tests.
// Kernels ~ U(±√(6 / fan_in)) (He-uniform, so activations neither vanish nor explode through 94 ReLU units),
// BN β, mean ~ U(±0.1), variance ~ U(0.5, 1.5).
import * as fs from 'fs';
import { loadH5wasm } from '../../lib/metrics/keras_h5';
import { inceptionV3Units } from '../../lib/metrics/inception_spec';
import { rng } from '../helpers';

export async function writeRandomInception(file: string, div: number, seed = 1): Promise<void> {
  const h5 = await loadH5wasm();
  const r = rng(seed);
  const uni = (n: number, lo: number, hi: number): Float32Array => Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
  const f = new h5.File(file, 'w');
  const layers: { name: string; weights: { key: string; shape: number[]; data: Float32Array }[] }[] = [{ name: 'input_1', weights: [] }];
  inceptionV3Units(div).forEach((u, i) => {
    const fan = u.kh * u.kw * u.cin, a = Math.sqrt(6 / fan);
    layers.push({ name: `conv2d_${i + 1}`, weights: [{ key: 'kernel', shape: [u.kh, u.kw, u.cin, u.cout], data: uni(fan * u.cout, -a, a) }] });
    layers.push({ name: `batch_normalization_${i + 1}`, weights: [
      { key: 'beta', shape: [u.cout], data: uni(u.cout, -0.1, 0.1) },
      { key: 'moving_mean', shape: [u.cout], data: uni(u.cout, -0.1, 0.1) },
      { key: 'moving_variance', shape: [u.cout], data: uni(u.cout, 0.5, 1.5) }] });
  });
  f.create_attribute('layer_names', layers.map((l) => l.name));
  f.create_attribute('keras_version', '2.1.5');
  f.create_attribute('backend', 'tensorflow');
  for (const l of layers) {
    const g = f.create_group(l.name);
    g.create_attribute('weight_names', l.weights.map((w) => `${l.name}/${w.key}:0`));
    if (l.weights.length) {
      const inner = g.create_group(l.name);
      for (const w of l.weights) inner.create_dataset({ name: `${w.key}:0`, data: w.data, shape: w.shape, dtype: '<f' });
    }
  }
  f.close();
}

/**
 * A copy of the Keras file `src` that sends HDF5 into an endless loop (the hang the keras-h5 fuzzer found): the
 * global-heap object holding the variable-length string `name` (a weight name) gets index 0 (free space) and size 0,
 * and HDF5's collection parser (H5HG__cache_heap_deserialize) then advances by 0 bytes forever.
 */
export function writeHangingCopy(src: string, dst: string, name: string): void {
  const b = fs.readFileSync(src), s = Buffer.from(name);
  // object header: index u16, reference count u16, reserved u32, size u64, then the data
  for (let at = b.indexOf(s); at >= 0; at = b.indexOf(s, at + 1)) {
    if (at >= 16 && b.readBigUInt64LE(at - 8) === BigInt(s.length)) {
      b.writeUInt16LE(0, at - 16);
      b.writeBigUInt64LE(0n, at - 8);
      fs.writeFileSync(dst, b);
      return;
    }
  }
  throw new Error(`${src}: no global-heap object holding '${name}'`);
}
