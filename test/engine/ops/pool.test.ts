// Pooling and concat (native/core/ops.def, pool family) and the rectangular / asymmetric-padding convs InceptionV3
// needs, against float64 loops written here. Pools and concat only move or compare floats (max, concat: exact) or
// add ≤ 9 of them (avg: |err| ≤ 1e-6·max|x|); global_avg_pool sums in float64 and rounds once (2^-24 relative +
// 1e-7 absolute for the float64 order). Convs: float32 accumulation over ≤ 7·c terms, 1e-4 relative.
// CUDA parity cases skip without a GPU; each op's CPU case and CUDA case are separate `it`s.
import { expect } from 'chai';
import { forDevices } from '../devices';
import {
  Device, Tensor, avgPool2dForward, concatChannels, conv2dForward, engineInfo, globalAvgPool, maxPool2dForward,
  samePadding,
} from '../../../lib/engine';
import { nativeUnchecked } from '../../../lib/engine/native';
import { expectClose, randArray } from '../../helpers';

type Pads4 = [number, number, number, number];

// Pool over the in-bounds cells of each window (max, or mean of those cells), float64.
function pool64(x: ArrayLike<number>, [n, c, h, w]: number[], [kh, kw]: number[], [sh, sw]: number[], [pt, pb, pl, pr]: Pads4,
  max: boolean): { y: Float64Array; shape: number[] } {
  const p = Math.floor((h + pt + pb - kh) / sh) + 1, q = Math.floor((w + pl + pr - kw) / sw) + 1;
  const y = new Float64Array(n * c * p * q);
  for (let b = 0; b < n * c; b++)
    for (let i = 0; i < p; i++)
      for (let j = 0; j < q; j++) {
        let m = -Infinity, s = 0, cnt = 0;
        for (let a = 0; a < kh; a++)
          for (let e = 0; e < kw; e++) {
            const r = i * sh - pt + a, col = j * sw - pl + e;
            if (r < 0 || r >= h || col < 0 || col >= w) continue;
            const v = x[(b * h + r) * w + col];
            m = Math.max(m, v); s += v; cnt++;
          }
        y[(b * p + i) * q + j] = max ? m : s / cnt;
      }
  return { y, shape: [n, c, p, q] };
}

// Cross-correlation, OIHW weights, explicit pads, float64.
function conv64(x: ArrayLike<number>, [n, c, h, w]: number[], wt: ArrayLike<number>, [k, , r, s]: number[],
  [pt, pb, pl, pr]: Pads4): { y: Float64Array; shape: number[] } {
  const p = h + pt + pb - r + 1, q = w + pl + pr - s + 1;
  const y = new Float64Array(n * k * p * q);
  for (let b = 0; b < n; b++)
    for (let o = 0; o < k; o++)
      for (let i = 0; i < p; i++)
        for (let j = 0; j < q; j++) {
          let acc = 0;
          for (let ci = 0; ci < c; ci++)
            for (let a = 0; a < r; a++)
              for (let e = 0; e < s; e++) {
                const rr = i - pt + a, cc = j - pl + e;
                if (rr < 0 || rr >= h || cc < 0 || cc >= w) continue;
                acc += x[((b * c + ci) * h + rr) * w + cc] * wt[((o * c + ci) * r + a) * s + e];
              }
          y[((b * k + o) * p + i) * q + j] = acc;
        }
  return { y, shape: [n, k, p, q] };
}

const POOL_CASES: { name: string; ops: string[]; check: (dev: Device) => void }[] = [
  { name: `maxPool2dForward 3×3 stride 2 valid (Keras InceptionV3)`, ops: ['max_pool2d_forward'], check: (dev: Device) => {
    for (const [h, w] of [[17, 17], [8, 11], [3, 3]]) {
      const shape = [2, 3, h, w], x = randArray(2 * 3 * h * w, h * 31 + w, -3, 3);
      const got = maxPool2dForward(Tensor.fromArray(x, shape, dev), 3, { stride: 2 });
      const ref = pool64(x, shape, [3, 3], [2, 2], [0, 0, 0, 0], true);
      expect(got.shape).to.deep.equal(ref.shape);
      expectClose(got.toFloat32Array(), ref.y, 0, 0, `max ${h}x${w}`);
    }
  } },

  { name: `avgPool2dForward 3×3 stride 1 TF 'same' (pads not counted)`, ops: ['avg_pool2d_forward'], check: (dev: Device) => {
    const shape = [2, 4, 7, 5], x = randArray(2 * 4 * 7 * 5, 5, -2, 2);
    const got = avgPool2dForward(Tensor.fromArray(x, shape, dev), 3, { stride: 1, padding: 1 });
    const ref = pool64(x, shape, [3, 3], [1, 1], [1, 1, 1, 1], false);
    expect(got.shape).to.deep.equal(shape);
    expectClose(got.toFloat32Array(), ref.y, 1e-6, 1e-6, 'avg same');
    // a corner averages its 4 in-bounds cells, not 9 (count_include_pad = False)
    const ones = avgPool2dForward(Tensor.full([1, 1, 4, 4], 1, dev), 3, { stride: 1, padding: 1 }).toArray();
    expect(ones.every((v) => v === 1)).to.equal(true);
  } },

  { name: `avgPool2dForward / maxPool2dForward with rectangular windows and asymmetric pads`, ops: ['avg_pool2d_forward', 'max_pool2d_forward'], check: (dev: Device) => {
    const shape = [1, 2, 9, 6], x = randArray(108, 6, -1, 1);
    const pd: Pads4 = [0, 1, 1, 0];
    for (const max of [true, false]) {
      const f = max ? maxPool2dForward : avgPool2dForward;
      const got = f(Tensor.fromArray(x, shape, dev), [2, 3], { stride: [2, 1], padding: pd });
      const ref = pool64(x, shape, [2, 3], [2, 1], pd, max);
      expect(got.shape).to.deep.equal(ref.shape);
      expectClose(got.toFloat32Array(), ref.y, 1e-6, 1e-6, max ? 'max' : 'avg');
    }
  } },

  // The CPU kernel is separable (along w into a padded row buffer, then along h): strides 3 along w, windows wider
  // than the image, one-column images and planes of InceptionV3's 35×35 reach its edge cases.
  { name: `avgPool2dForward / maxPool2dForward separable edge cases (stride 3, window wider than the image, 35×35)`, ops: ['avg_pool2d_forward', 'max_pool2d_forward'], check: (dev: Device) => {
    const runs: [number[], [number, number], [number, number], Pads4][] = [
      [[2, 3, 7, 11], [3, 2], [1, 3], [1, 0, 1, 1]],
      [[1, 2, 4, 3], [3, 5], [2, 1], [1, 1, 2, 2]],
      [[3, 1, 5, 1], [3, 3], [1, 1], [1, 1, 1, 1]],
      [[2, 5, 35, 35], [3, 3], [1, 1], [1, 1, 1, 1]],
      [[2, 5, 35, 35], [3, 3], [2, 2], [0, 0, 0, 0]],
    ];
    runs.forEach(([shape, k, st, pd], ri) => {
      const x = randArray(shape.reduce((a, b) => a * b, 1), 90 + ri, -2, 2);
      for (const max of [true, false]) {
        const f = max ? maxPool2dForward : avgPool2dForward;
        const got = f(Tensor.fromArray(x, shape, dev), k, { stride: st, padding: pd });
        const ref = pool64(x, shape, k, st, pd, max);
        expect(got.shape).to.deep.equal(ref.shape);
        expectClose(got.toFloat32Array(), ref.y, max ? 0 : 1e-6, max ? 0 : 1e-6, `${max ? 'max' : 'avg'} run ${ri}`);
      }
    });
  } },

  { name: `globalAvgPool [n,c,h,w] → [n,c]`, ops: ['global_avg_pool'], check: (dev: Device) => {
    const shape = [3, 5, 8, 8], x = randArray(3 * 5 * 64, 8, -1, 1);
    const got = globalAvgPool(Tensor.fromArray(x, shape, dev));
    expect(got.shape).to.deep.equal([3, 5]);
    const ref = new Float64Array(15);
    for (let i = 0; i < 15; i++) {
      let s = 0;
      for (let k = 0; k < 64; k++) s += x[i * 64 + k];
      ref[i] = s / 64;
    }
    expectClose(got.toFloat32Array(), ref, 2 ** -24, 1e-7, 'global avg');
  } },

  { name: `concatChannels keeps the order`, ops: ['concat_channels'], check: (dev: Device) => {
    const cs = [3, 1, 4], n = 2, h = 3, w = 2;
    const xs = cs.map((c, j) => randArray(n * c * h * w, 40 + j));
    const got = concatChannels(xs.map((x, j) => Tensor.fromArray(x, [n, cs[j], h, w], dev)));
    expect(got.shape).to.deep.equal([n, 8, h, w]);
    const ref: number[] = [];
    for (let b = 0; b < n; b++)
      for (let j = 0; j < cs.length; j++) ref.push(...xs[j].subarray(b * cs[j] * h * w, (b + 1) * cs[j] * h * w));
    expectClose(got.toFloat32Array(), ref, 0, 0, 'concat');
  } },
];

describe('pool ops', () => forDevices(POOL_CASES.map((c) => ({ name: c.name, ops: c.ops, cpu: () => c.check('cpu'), cuda: (dev: Device) => c.check(dev) }))));

describe('pool ops on cpu: arguments and rectangular convs', () => {

  it('bad arguments throw clear errors', () => {
    const a = nativeUnchecked();
    const x = Tensor.zeros([1, 2, 5, 5]);
    expect(() => a.maxPool2dForward(x.h, [3, 3], [2, 2], [3, 0, 0, 0])).to.throw(/padding.*smaller than the window 3x3/);
    expect(() => a.maxPool2dForward(x.h, [7, 7], [1, 1], [0, 0, 0, 0])).to.throw(/kernel 7x7 is larger than the padded input/);
    expect(() => a.avgPool2dForward(x.h, [0, 3], [1, 1], [0, 0, 0, 0])).to.throw(/kernel.*\[1,/);
    expect(() => a.avgPool2dForward(Tensor.zeros([2, 3]).h, [1, 1], [1, 1], [0, 0, 0, 0])).to.throw(/must be 4-D/);
    expect(() => a.globalAvgPool(Tensor.zeros([4]).h)).to.throw(/must be 4-D/);
    expect(() => a.concatChannels([])).to.throw(/empty list/);
    expect(() => a.concatChannels([x.h, Tensor.zeros([1, 2, 5, 4]).h])).to.throw(/xs\[1\].*n, h, w must match/);
    expect(() => a.concatChannels([x.h, 3])).to.throw(/\(xs\)\[1\] must be a Tensor/);
  });

  // InceptionV3's 1×7 / 7×1 convs (pads [0,0,3,3] / [3,3,0,0]) and the even-size TF 'same' case (asymmetric pads).
  it('conv2dForward 1×7, 7×1 and asymmetric TF-same pads match float64', () => {
    const xs = [2, 3, 9, 8], x = randArray(2 * 3 * 72, 70);
    for (const [r, s, pd] of [[1, 7, [0, 0, 3, 3]], [7, 1, [3, 3, 0, 0]],
      [2, 2, [...samePadding(9, 2, 1), ...samePadding(8, 2, 1)]]] as [number, number, Pads4][]) {
      const ws = [4, 3, r, s], wt = randArray(4 * 3 * r * s, 71 + r);
      const got = conv2dForward(Tensor.fromArray(x, xs), Tensor.fromArray(wt, ws), null, { padding: pd });
      const ref = conv64(x, xs, wt, ws, pd);
      expect(got.shape, `${r}x${s}`).to.deep.equal(ref.shape);
      expectClose(got.toFloat32Array(), ref.y, 1e-4, 1e-5, `conv ${r}x${s}`);
    }
    expect(samePadding(9, 2, 1)).to.deep.equal([0, 1]);  // TF puts the odd pad after
  });
});
