// The Keras InceptionV3 feature extractor (lib/metrics/inception.ts) on a random-weight stand-in file (every channel
// count ÷ 8, same 94 units) written by the test in Keras HDF5 layout. References are float64 loops written here
// from Keras' definition: HWIO kernels used as stored, BN applied unfolded ((x − mean)/√(var + 1e-3) + β), 'same' =
// (k − 1)/2 on each side for these stride-1 odd kernels, max pools 3×3 s2 valid, the mixed blocks' avg pools 3×3 s1
// counting in-bounds cells only; units looked up by their Keras block name (not by index). Tolerance: float32
// convs over ≤ 3·3·N terms per layer chained through a few layers: |got − ref| ≤ 1e-4·max|ref|.
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Tensor, engineInfo } from '../../lib/engine';
import {
  InceptionModel, buildInceptionV3, inceptionFeatures, inceptionMixed, inceptionStem,
} from '../../lib/metrics/inception';
import { InceptionWeights, readInceptionV3Weights } from '../../lib/metrics/keras_h5';
import { preprocessForInception } from '../../lib/metrics/preprocess';
import { randArray } from '../helpers';
import { writeRandomInception } from './inception_file';

const DIV = 8;

interface A { d: Float64Array; s: number[] }  // NCHW float64

function refUnit(W: InceptionWeights, block: string, x: A): A {
  const u = W.units.find((v) => v.block === block);
  if (!u) throw new Error(`no unit ${block}`);
  const [n, c, h, w] = x.s;
  expect(c, block).to.equal(u.cin);
  const same = u.padding === 'same';
  const pt = same ? (u.kh - 1) / 2 : 0, pl = same ? (u.kw - 1) / 2 : 0;
  const p = same ? h : Math.floor((h - u.kh) / u.stride) + 1, q = same ? w : Math.floor((w - u.kw) / u.stride) + 1;
  const y = new Float64Array(n * u.cout * p * q);
  for (let b = 0; b < n; b++)
    for (let o = 0; o < u.cout; o++) {
      const inv = 1 / Math.sqrt(u.movingVariance[o] + 1e-3);
      for (let i = 0; i < p; i++)
        for (let j = 0; j < q; j++) {
          let acc = 0;
          for (let ky = 0; ky < u.kh; ky++) {
            const r = i * u.stride - pt + ky;
            if (r < 0 || r >= h) continue;
            for (let kx = 0; kx < u.kw; kx++) {
              const cc = j * u.stride - pl + kx;
              if (cc < 0 || cc >= w) continue;
              for (let ci = 0; ci < c; ci++)
                acc += x.d[((b * c + ci) * h + r) * w + cc] * u.kernel[((ky * u.kw + kx) * c + ci) * u.cout + o];
            }
          }
          y[((b * u.cout + o) * p + i) * q + j] = Math.max(0, (acc - u.movingMean[o]) * inv + u.beta[o]);
        }
    }
  return { d: y, s: [n, u.cout, p, q] };
}

function refPool(x: A, kind: 'max' | 'avg'): A {
  const [n, c, h, w] = x.s;
  const max = kind === 'max', st = max ? 2 : 1, pad = max ? 0 : 1;
  const p = Math.floor((h + 2 * pad - 3) / st) + 1, q = Math.floor((w + 2 * pad - 3) / st) + 1;
  const y = new Float64Array(n * c * p * q);
  for (let b = 0; b < n * c; b++)
    for (let i = 0; i < p; i++)
      for (let j = 0; j < q; j++) {
        let m = -Infinity, s = 0, cnt = 0;
        for (let a = 0; a < 3; a++)
          for (let e = 0; e < 3; e++) {
            const r = i * st - pad + a, cc = j * st - pad + e;
            if (r < 0 || r >= h || cc < 0 || cc >= w) continue;
            m = Math.max(m, x.d[(b * h + r) * w + cc]); s += x.d[(b * h + r) * w + cc]; cnt++;
          }
        y[(b * p + i) * q + j] = max ? m : s / cnt;
      }
  return { d: y, s: [n, c, p, q] };
}

function refConcat(xs: A[]): A {
  const [n, , h, w] = xs[0].s, C = xs.reduce((s, x) => s + x.s[1], 0);
  const y = new Float64Array(n * C * h * w);
  let off = 0;
  for (const x of xs) {
    for (let b = 0; b < n; b++) y.set(x.d.subarray(b * x.s[1] * h * w, (b + 1) * x.s[1] * h * w), (b * C) * h * w + off);
    off += x.s[1] * h * w;
  }
  return { d: y, s: [n, C, h, w] };
}

const closeTo = (got: Tensor, ref: A, what: string): void => {
  expect(got.shape, what).to.deep.equal(ref.s);
  const g = got.toFloat32Array();
  let scale = 0, err = 0;
  for (let i = 0; i < g.length; i++) { scale = Math.max(scale, Math.abs(ref.d[i])); err = Math.max(err, Math.abs(g[i] - ref.d[i])); }
  expect(scale, `${what}: reference all zero`).to.be.greaterThan(0);
  expect(err, `${what}: max error ${err} vs max |ref| ${scale}`).to.be.at.most(1e-4 * scale);
};
const of = (t: Tensor): A => ({ d: Float64Array.from(t.toFloat32Array()), s: t.shape });

describe('metrics inception (Keras InceptionV3 forward)', function () {
  this.timeout(300000);
  let dir: string, W: InceptionWeights, m: InceptionModel;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mrigan-inc-'));
    await writeRandomInception(path.join(dir, 'inc.h5'), DIV, 3);
    W = await readInceptionV3Weights(path.join(dir, 'inc.h5'), { div: DIV });
    m = buildInceptionV3(W);
  });
  after(() => { m?.dispose(); fs.rmSync(dir, { recursive: true, force: true }); });

  const U = (block: string, x: A): A => refUnit(W, block, x);

  it('stem and mixed0 / mixed3 / mixed4 / mixed8 / mixed9 match float64 Keras-definition references', () => {
    const img = randArray(2 * 64 * 64, 9, -1, 1);
    const pre = preprocessForInception(img, [2, 1, 64, 64], { mode: 'tf' });
    const x = Tensor.fromArray(pre.data, pre.shape);
    const x64: A = { d: Float64Array.from(pre.data), s: pre.shape };
    const stem = inceptionStem(m, x);
    let r = refPool(U('stem/conv5', U('stem/conv4', refPool(U('stem/conv3', U('stem/conv2', U('stem/conv1', x64))), 'max'))), 'max');
    closeTo(stem, r, 'stem');
    expect(stem.shape).to.deep.equal([2, 192 / DIV, 35, 35]);
    // mixed0 from the engine's stem output
    const s = of(stem);
    r = refConcat([U('mixed0/branch1x1', s), U('mixed0/branch5x5_2', U('mixed0/branch5x5_1', s)),
      U('mixed0/branch3x3dbl_3', U('mixed0/branch3x3dbl_2', U('mixed0/branch3x3dbl_1', s))), U('mixed0/branch_pool', refPool(s, 'avg'))]);
    const m0 = inceptionMixed(m, 0, stem);
    closeTo(m0, r, 'mixed0');
    const m2 = inceptionMixed(m, 2, inceptionMixed(m, 1, m0)), a2 = of(m2);
    const m3 = inceptionMixed(m, 3, m2);
    closeTo(m3, refConcat([U('mixed3/branch3x3', a2), U('mixed3/branch3x3dbl_3', U('mixed3/branch3x3dbl_2', U('mixed3/branch3x3dbl_1', a2))),
      refPool(a2, 'max')]), 'mixed3');
    const a3 = of(m3);
    const m4 = inceptionMixed(m, 4, m3);
    closeTo(m4, refConcat([U('mixed4/branch1x1', a3), U('mixed4/branch7x7_3', U('mixed4/branch7x7_2', U('mixed4/branch7x7_1', a3))),
      U('mixed4/branch7x7dbl_5', U('mixed4/branch7x7dbl_4', U('mixed4/branch7x7dbl_3', U('mixed4/branch7x7dbl_2', U('mixed4/branch7x7dbl_1', a3))))),
      U('mixed4/branch_pool', refPool(a3, 'avg'))]), 'mixed4');
    const m7 = inceptionMixed(m, 7, inceptionMixed(m, 6, inceptionMixed(m, 5, m4))), a7 = of(m7);
    const m8 = inceptionMixed(m, 8, m7);
    closeTo(m8, refConcat([U('mixed8/branch3x3_2', U('mixed8/branch3x3_1', a7)),
      U('mixed8/branch7x7x3_4', U('mixed8/branch7x7x3_3', U('mixed8/branch7x7x3_2', U('mixed8/branch7x7x3_1', a7)))), refPool(a7, 'max')]), 'mixed8');
    const a8 = of(m8), b3 = U('mixed9/branch3x3', a8), d3 = U('mixed9/branch3x3dbl_2', U('mixed9/branch3x3dbl_1', a8));
    closeTo(inceptionMixed(m, 9, m8), refConcat([U('mixed9/branch1x1', a8), U('mixed9/branch3x3_1', b3), U('mixed9/branch3x3_2', b3),
      U('mixed9/branch3x3dbl_3a', d3), U('mixed9/branch3x3dbl_3b', d3), U('mixed9/branch_pool', refPool(a8, 'avg'))]), 'mixed9');
  });

  it('features: 2048/div per image, float64, batched = one at a time, depend on the image', () => {
    expect(m.features).to.equal(2048 / DIV);
    const n = 3, img = randArray(n * 48 * 48, 21, -1, 1);
    let calls = 0;
    const all = inceptionFeatures(m, img, [n, 1, 48, 48], { mode: 'tf', batch: 2, onProgress: () => { calls++; } });
    expect(all).to.be.instanceOf(Float64Array);
    expect(all.length).to.equal(n * 256);
    expect(calls).to.equal(2);
    for (let i = 0; i < n; i++) {
      const one = inceptionFeatures(m, img.subarray(i * 2304, (i + 1) * 2304), [1, 1, 48, 48], { mode: 'tf', batch: 1 });
      let scale = 0, err = 0;
      for (let k = 0; k < 256; k++) { scale = Math.max(scale, Math.abs(one[k])); err = Math.max(err, Math.abs(one[k] - all[i * 256 + k])); }
      expect(scale).to.be.greaterThan(0);
      expect(err, `image ${i}`).to.be.at.most(1e-5 * scale);
    }
    let diff = 0;
    for (let k = 0; k < 256; k++) diff = Math.max(diff, Math.abs(all[k] - all[256 + k]));
    expect(diff).to.be.greaterThan(0);
    // the other mode gives other features
    const caffe = inceptionFeatures(m, img.subarray(0, 2304), [1, 1, 48, 48], { mode: 'caffe' });
    expect(caffe.some((v, k) => v !== all[k])).to.equal(true);
    expect(() => inceptionFeatures(m, img, [n, 1, 48], { mode: 'tf' })).to.throw(/expected images \[n, c, h, w\]/);
    expect(() => inceptionFeatures(m, img, [n, 1, 48, 48], { mode: 'tf', batch: 0 })).to.throw(/batch must be a positive integer/);
  });

  // GPU parity (the CUDA pool kernels and convs in the full graph); float32 on both sides, TF32 off (the default).
  it('features on cuda:0 equal the CPU features (1e-4 of the largest)', function () {
    const info = engineInfo();
    if (!info.cuda || info.cudaDevices === 0) this.skip();
    const g = buildInceptionV3(W, 'cuda:0');
    try {
      const img = randArray(2 * 32 * 32, 33, -1, 1);
      const cpu = inceptionFeatures(m, img, [2, 1, 32, 32], { mode: 'tf' });
      const gpu = inceptionFeatures(g, img, [2, 1, 32, 32], { mode: 'tf' });
      let scale = 0, err = 0;
      for (let k = 0; k < cpu.length; k++) { scale = Math.max(scale, Math.abs(cpu[k])); err = Math.max(err, Math.abs(cpu[k] - gpu[k])); }
      expect(err, `max error ${err} vs ${scale}`).to.be.at.most(1e-4 * scale);
    } finally { g.dispose(); }
  });
});
