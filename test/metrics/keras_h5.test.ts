// Keras-HDF5 InceptionV3 weights: files written here with h5wasm in Keras' layout (small stand-ins with every
// channel count ÷16, same 94 units), with Keras 2 (`conv2d_1…`) and TF2 (`conv2d, conv2d_1…`) names, a name
// offset (another model built first), weights-only and full-model (`model_weights/`), layer_names split into
// layer_names0/1, with and without the final pooling layer, and layer_names in a shuffled (not creation) order.
// Each unit's values encode its creation index so the mapping is checked, not only the shapes. Malformed files:
// truncated, not HDF5, missing layer, wrong shape, a classification top, a dataset claiming more than the file holds,
// a file that sends HDF5 into an endless loop (ends at the reader thread's deadline; the next read gets a new thread).
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { KerasWeightsError, loadH5wasm, readInceptionV3Weights, readKerasH5 } from '../../lib/metrics/keras_h5';
import { UsageError } from '../../lib/util/errors';
import { writeHangingCopy } from './inception_file';
import { inceptionV3Units } from '../../lib/metrics/inception_spec';
import { rng } from '../helpers';
import { pythonHas, runPython } from './util';

const DIV = 16;

interface FileOpts {
  naming: 'keras2' | 'tf2';
  offset?: number;
  format?: 'weights-only' | 'full-model';
  pooling?: boolean;
  split?: boolean;
  shuffleSeed?: number;
  drop?: string;
  wrongShape?: number;
  top?: boolean;
}

const autoName = (base: string, i: number, o: FileOpts): string => {
  const n = (o.offset ?? 0) + i + (o.naming === 'keras2' ? 1 : 0);
  return n === 0 ? base : `${base}_${n}`;
};

type Layer = { name: string; weights: { key: string; shape: number[]; data: Float32Array }[] };

/** The layers of a Keras InceptionV3 notop model (stand-in sizes) in the order the file will list them. */
function kerasLayers(o: FileOpts): Layer[] {
  const spec = inceptionV3Units(DIV);
  const layers: Layer[] = [{ name: 'input_1', weights: [] }];
  spec.forEach((u, i) => {
    const shape = [u.kh, u.kw, u.cin, o.wrongShape === i ? u.cout + 1 : u.cout];
    const kernel = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, k) => i * 1000 + (k % 997));
    const vec = (v: number): Float32Array => Float32Array.from({ length: u.cout }, (_, c) => v + c * 1e-3);
    layers.push({ name: autoName('conv2d', i, o), weights: [{ key: 'kernel', shape, data: kernel }] });
    layers.push({ name: autoName('batch_normalization', i, o), weights: [
      { key: 'beta', shape: [u.cout], data: vec(i) }, { key: 'moving_mean', shape: [u.cout], data: vec(-i) },
      { key: 'moving_variance', shape: [u.cout], data: vec(i + 0.5) }] });
    layers.push({ name: autoName('activation', i, o), weights: [] });
  });
  for (let m = 0; m <= 10; m++) layers.push({ name: `mixed${m}`, weights: [] });
  if (o.pooling) layers.push({ name: 'avg_pool', weights: [] });
  if (o.top) layers.push({ name: 'predictions', weights: [{ key: 'kernel', shape: [2048 / DIV, 10], data: new Float32Array(2048 / DIV * 10) }, { key: 'bias', shape: [10], data: new Float32Array(10) }] });
  const kept = layers.filter((l) => l.name !== o.drop);
  if (o.shuffleSeed !== undefined) {
    const r = rng(o.shuffleSeed);
    for (let i = kept.length - 1; i > 0; i--) { const j = Math.floor(r() * (i + 1)); [kept[i], kept[j]] = [kept[j], kept[i]]; }
  }
  return kept;
}

async function writeKerasFile(file: string, o: FileOpts): Promise<void> {
  const h5 = await loadH5wasm();
  const f = new h5.File(file, 'w');
  const root = o.format === 'full-model' ? f.create_group('model_weights') : f;
  if (o.format === 'full-model') f.create_attribute('model_config', JSON.stringify({ class_name: 'Functional' }));
  const kept = kerasLayers(o);
  const names = kept.map((l) => l.name);
  if (o.split) { const h = names.length >> 1; root.create_attribute('layer_names0', names.slice(0, h)); root.create_attribute('layer_names1', names.slice(h)); }
  else root.create_attribute('layer_names', names);
  root.create_attribute('keras_version', o.naming === 'keras2' ? '2.1.5' : '2.13.1');
  root.create_attribute('backend', 'tensorflow');
  for (const l of kept) {
    const g = root.create_group(l.name);
    // weight names are relative to the layer group: <layer>/<key>:0 (TF2 full models sometimes nest deeper; the
    // reader follows whatever path the attribute gives)
    g.create_attribute('weight_names', l.weights.map((w) => `${l.name}/${w.key}:0`));
    if (l.weights.length) {
      const inner = g.create_group(l.name);
      for (const w of l.weights) inner.create_dataset({ name: `${w.key}:0`, data: w.data, shape: w.shape, dtype: '<f' });
    }
  }
  f.close();
}

describe('metrics keras_h5', function () {
  this.timeout(120000);
  let dir: string;
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mrigan-h5-')); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const spec = inceptionV3Units(DIV);
  const checkMapping = (w: Awaited<ReturnType<typeof readInceptionV3Weights>>): void => {
    expect(w.units.length).to.equal(94);
    w.units.forEach((u, i) => {
      expect(u.kernel[0], `unit ${i} kernel`).to.equal(i * 1000);
      expect(u.beta[0], `unit ${i} beta`).to.equal(i);
      expect(u.movingMean[0]).to.equal(-i);
      expect(u.movingVariance[0]).to.equal(i + 0.5);
      expect([u.kh, u.kw, u.cin, u.cout]).to.deep.equal([spec[i].kh, spec[i].kw, spec[i].cin, spec[i].cout]);
      expect(u.gamma).to.equal(undefined);
    });
  };

  const cases: [string, FileOpts, string, string][] = [
    ['Keras 2 names, weights-only, creation order', { naming: 'keras2' }, 'conv2d_1', 'conv2d_94'],
    ['Keras 2 names, shuffled layer order, pooling layer, split layer_names', { naming: 'keras2', shuffleSeed: 1, pooling: true, split: true }, 'conv2d_1', 'conv2d_94'],
    ['TF2 names, full model (model_weights/), shuffled', { naming: 'tf2', format: 'full-model', shuffleSeed: 2 }, 'conv2d', 'conv2d_93'],
    ['TF2 names offset by a model built first (conv2d_94…), pooling layer', { naming: 'tf2', offset: 94, pooling: true, shuffleSeed: 3 }, 'conv2d_94', 'conv2d_187'],
    ['Keras 2 names offset (conv2d_95…), full model', { naming: 'keras2', offset: 94, format: 'full-model' }, 'conv2d_95', 'conv2d_188'],
  ];
  for (const [title, o, first, last] of cases) {
    it(`reads ${title}`, async () => {
      const f = path.join(dir, `ok-${cases.findIndex((c) => c[0] === title)}.h5`);
      await writeKerasFile(f, o);
      const w = await readInceptionV3Weights(f, { div: DIV });
      checkMapping(w);
      expect(w.format).to.equal(o.format ?? 'weights-only');
      expect(w.convNames).to.deep.equal({ first, last });
      expect(w.poolingLayer).to.equal(o.pooling ? 'avg_pool' : null);
    });
  }

  // Keras 2's own writer (keras/saving/hdf5_format.py save_weights_to_hdf5_group / save_attributes_to_hdf5_group),
  // replayed with h5py: byte-string attributes as NumPy 'S' arrays, `[]` (a float64 empty array) for layers without
  // weights, groups created in name order, datasets at <layer>/<weight name>, and the attribute split into
  // name0, name1, … by np.array_split when it passes the object-header limit (lowered here to force the split).
  const KERAS_WRITER = `
import sys, json, numpy as np, h5py
spec = json.load(open(sys.argv[1])); blob = np.fromfile(sys.argv[2], dtype=np.float32)
LIMIT = int(sys.argv[4])
def save_attributes(group, name, data):
    data_npy = np.asarray(data)
    num_chunks = 1
    chunked = np.array_split(data_npy, num_chunks)
    while any(x.nbytes > LIMIT for x in chunked):
        num_chunks += 1
        chunked = np.array_split(data_npy, num_chunks)
    if num_chunks > 1:
        for i, c in enumerate(chunked):
            group.attrs['%s%d' % (name, i)] = c
    else:
        group.attrs[name] = data
with h5py.File(sys.argv[3], 'w') as f:
    if spec['full']:
        f.attrs['model_config'] = json.dumps({'class_name': 'Functional'}).encode('utf8')
        f.attrs['keras_version'] = b'2.13.1'
        g0 = f.create_group('model_weights')
    else:
        g0 = f
    save_attributes(g0, 'layer_names', [l['name'].encode('utf8') for l in spec['layers']])
    g0.attrs['backend'] = b'tensorflow'
    g0.attrs['keras_version'] = b'2.1.5'
    for l in sorted(spec['layers'], key=lambda x: x['name']):
        g = g0.create_group(l['name'])
        names = [(l['name'] + '/' + w['key'] + ':0').encode('utf8') for w in l['weights']]
        save_attributes(g, 'weight_names', names)
        for n, w in zip(names, l['weights']):
            val = blob[w['off']:w['off'] + int(np.prod(w['shape']))].reshape(w['shape'])
            d = g.create_dataset(n, val.shape, dtype=val.dtype)
            d[()] = val
`;
  const writeWithH5py = (file: string, o: FileOpts, limit: number): void => {
    const layers = kerasLayers(o);
    let off = 0;
    const parts: Float32Array[] = [];
    const spec = { full: o.format === 'full-model', layers: layers.map((l) => ({ name: l.name, weights: l.weights.map((w) => {
      const e = { key: w.key, shape: w.shape, off }; off += w.data.length; parts.push(w.data); return e;
    }) })) };
    const blob = new Float32Array(off);
    let p = 0;
    for (const x of parts) { blob.set(x, p); p += x.length; }
    fs.writeFileSync(`${file}.json`, JSON.stringify(spec));
    fs.writeFileSync(`${file}.f32`, Buffer.from(blob.buffer));
    runPython(KERAS_WRITER, [`${file}.json`, `${file}.f32`, file, String(limit)]);
  };

  it("reads files written the way Keras 2 writes them (h5py: 'S' attributes, empty weight lists, split layer_names)", async function () {
    if (!pythonHas('h5py', 'numpy')) { this.skip(); return; }
    const cases: [FileOpts, number, string][] = [
      [{ naming: 'keras2', pooling: true, shuffleSeed: 5 }, 64512, 'conv2d_1'],
      [{ naming: 'tf2', format: 'full-model', shuffleSeed: 6 }, 2000, 'conv2d'],
      [{ naming: 'tf2', offset: 94 }, 700, 'conv2d_94'],
    ];
    for (const [o, limit, first] of cases) {
      const f = path.join(dir, `h5py-${limit}.h5`);
      writeWithH5py(f, o, limit);
      const w = await readInceptionV3Weights(f, { div: DIV });
      checkMapping(w);
      expect(w.convNames.first).to.equal(first);
      expect(w.format).to.equal(o.format ?? 'weights-only');
      expect(w.poolingLayer).to.equal(o.pooling ? 'avg_pool' : null);
    }
  });

  it('a missing layer names it and the InceptionV3 unit', async () => {
    const f = path.join(dir, 'missing.h5');
    await writeKerasFile(f, { naming: 'keras2', drop: 'batch_normalization_31', shuffleSeed: 4 });
    let err: Error | null = null;
    try { await readInceptionV3Weights(f, { div: DIV }); } catch (e) { err = e as Error; }
    expect(err?.message).to.match(/missing\.h5: missing batch_normalization layer 'batch_normalization_31' \(InceptionV3 unit 30, mixed4\/branch1x1\); the file has 93/);
  });

  it('a wrong shape names the layer, the unit and both shapes', async () => {
    const f = path.join(dir, 'shape.h5');
    await writeKerasFile(f, { naming: 'tf2', wrongShape: 5 });
    let err: Error | null = null;
    try { await readInceptionV3Weights(f, { div: DIV }); } catch (e) { err = e as Error; }
    expect(err?.message).to.match(/shape\.h5: layer 'conv2d_5' \(InceptionV3 unit 5, mixed0\/branch1x1\): 'kernel' has shape \[1, 1, 12, 5\], expected \[1, 1, 12, 4\]/);
  });

  it('a file with the classification top is refused with a hint', async () => {
    const f = path.join(dir, 'top.h5');
    await writeKerasFile(f, { naming: 'keras2', top: true });
    let err: Error | null = null;
    try { await readInceptionV3Weights(f, { div: DIV }); } catch (e) { err = e as Error; }
    expect(err?.message).to.match(/top\.h5: layer 'predictions' has weights \[kernel, bias\].*_notop file/);
  });

  it('not HDF5, truncated, empty and missing files are clear errors naming the file', async () => {
    const good = path.join(dir, 'good.h5');
    await writeKerasFile(good, { naming: 'keras2' });
    const bytes = fs.readFileSync(good);
    const cases: [string, Buffer | null, RegExp][] = [
      ['text.h5', Buffer.from('this is not an HDF5 file\n'.repeat(100)), /text\.h5: not an HDF5 file/],
      ['empty.h5', Buffer.alloc(0), /empty\.h5: not an HDF5 file/],
      ['trunc.h5', bytes.subarray(0, bytes.length >> 1), /trunc\.h5: .*(truncated|corrupt)/],
      ['head.h5', bytes.subarray(0, 600), /head\.h5: .*(truncated|corrupt)/],
      ['absent.h5', null, /absent\.h5: cannot open: no such file or folder$/],
      ['folder.h5', null, /folder\.h5: is a folder, expected a Keras \.h5 weight file$/],
    ];
    fs.mkdirSync(path.join(dir, 'folder.h5'));
    for (const [name, b, re] of cases) {
      const f = path.join(dir, name);
      if (b) fs.writeFileSync(f, b);
      let err: Error | null = null;
      try { await readInceptionV3Weights(f, { div: DIV }); } catch (e) { err = e as Error; }
      expect(err?.message, name).to.match(re);
    }
  });

  it('an HDF5 file without Keras layer_names (e.g. Keras 3 .weights.h5 layout) is refused with a hint', async () => {
    const h5 = await loadH5wasm();
    const f = path.join(dir, 'k3.weights.h5');
    const w = new h5.File(f, 'w');
    w.create_group('layers').create_group('conv2d').create_group('vars').create_dataset({ name: '0', data: new Float32Array(4), shape: [1, 1, 2, 2], dtype: '<f' });
    w.close();
    let err: Error | null = null;
    try { await readInceptionV3Weights(f, { div: DIV }); } catch (e) { err = e as Error; }
    expect(err?.message).to.match(/k3\.weights\.h5: no 'layer_names' attribute.*Keras 3's '\.weights\.h5' layout/);
  });

  it('a dataset whose claimed size the file cannot hold is refused before reading, naming the file and the layer', async () => {
    // a chunked dataset extended to [3, 3, 3, 5e7] with no chunk written: the file stays ~12 KB while its header
    // claims 5.4 GB, as a corrupt dims field would (without the check h5wasm allocates ~2 GB and returns a wrong count)
    const h5 = await loadH5wasm();
    const f = path.join(dir, 'claims.h5');
    const w = new h5.File(f, 'w');
    w.create_attribute('layer_names', ['input_1', 'conv2d_1']);
    w.create_group('input_1').create_attribute('weight_names', []);
    const g = w.create_group('conv2d_1');
    g.create_attribute('weight_names', ['conv2d_1/kernel:0']);
    g.create_group('conv2d_1').create_dataset({ name: 'kernel:0', data: new Float32Array(54).fill(1), shape: [3, 3, 3, 2], dtype: '<f', maxshape: [3, 3, 3, null], chunks: [3, 3, 3, 2] })
      .resize([3, 3, 3, 50_000_000]);
    w.close();
    const bytes = fs.statSync(f).size;
    expect(bytes).to.be.below(1 << 20);
    let err: Error | null = null;
    try { await readInceptionV3Weights(f, { div: DIV }); } catch (e) { err = e as Error; }
    expect(err).to.be.instanceOf(KerasWeightsError);
    expect(err!.message).to.equal(`${f}: layer 'conv2d_1': weight 'conv2d_1/kernel:0' claims shape [3,3,3,50000000] — more than the ${bytes}-byte file can hold; corrupt file?`);
  });

  it('a file that hangs the HDF5 library ends at the deadline with a one-line error naming it; the next read works', async () => {
    const good = path.join(dir, 'hang-src.h5'), bad = path.join(dir, 'hang.h5');
    await writeKerasFile(good, { naming: 'keras2' });
    writeHangingCopy(good, bad, 'batch_normalization_7/moving_mean:0');
    const deadline = 0.5;
    for (const how of ['option', 'MRIGAN_H5_TIMEOUT']) {
      const t0 = Date.now();
      let err: Error | null = null;
      const old = process.env.MRIGAN_H5_TIMEOUT;
      if (how !== 'option') process.env.MRIGAN_H5_TIMEOUT = String(deadline);
      try { await readInceptionV3Weights(bad, { div: DIV, timeoutS: how === 'option' ? deadline : undefined }); } catch (e) { err = e as Error; } finally {
        if (old === undefined) delete process.env.MRIGAN_H5_TIMEOUT; else process.env.MRIGAN_H5_TIMEOUT = old;
      }
      const s = (Date.now() - t0) / 1000;
      expect(err, how).to.be.instanceOf(KerasWeightsError);
      expect(err!.message, how).to.equal(`${bad}: HDF5 reader did not finish within ${deadline} s: the file is damaged?`);
      // it waited for the deadline and no longer than the deadline plus a loaded machine's slack (thread teardown)
      expect(s, how).to.be.within(deadline * 0.9, deadline + 10);
    }
    // a fresh thread reads the good file, every unit in place
    checkMapping(await readInceptionV3Weights(good, { div: DIV, timeoutS: 60 }));
  });

  it('reads several files at once through the one reader thread, each its own result', async () => {
    const a = path.join(dir, 'par-a.h5'), b = path.join(dir, 'par-b.h5');
    await writeKerasFile(a, { naming: 'keras2' });
    await writeKerasFile(b, { naming: 'tf2', format: 'full-model' });
    const [ra, rb, rc] = await Promise.all([readKerasH5(a), readKerasH5(b), readInceptionV3Weights(a, { div: DIV })]);
    expect([ra.file, ra.format, ra.layers[1].name]).to.deep.equal([a, 'weights-only', 'conv2d_1']);
    expect([rb.file, rb.format, rb.layers[1].name]).to.deep.equal([b, 'full-model', 'conv2d']);
    checkMapping(rc);
  });

  it('a bad MRIGAN_H5_TIMEOUT is a usage error naming it', async () => {
    const old = process.env.MRIGAN_H5_TIMEOUT;
    for (const v of ['0', '-1', 'soon']) {
      process.env.MRIGAN_H5_TIMEOUT = v;
      let err: Error | null = null;
      try { await readKerasH5(path.join(dir, 'whatever.h5')); } catch (e) { err = e as Error; }
      expect(err, v).to.be.instanceOf(UsageError);
      expect(err!.message).to.equal(`MRIGAN_H5_TIMEOUT must be a positive number of seconds, got '${v}' (MRIGAN_H5_TIMEOUT)`);
    }
    if (old === undefined) delete process.env.MRIGAN_H5_TIMEOUT; else process.env.MRIGAN_H5_TIMEOUT = old;
  });

  it('the full-size unit list has Keras InceptionV3 notop\'s 21,802,784 parameters', () => {
    const n = inceptionV3Units().reduce((a, u) => a + u.kh * u.kw * u.cin * u.cout + 3 * u.cout, 0);
    expect(n).to.equal(21802784);
  });
});
