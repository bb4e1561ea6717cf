// The direct (channel-blocked AVX-512) conv2d backward-weight kernel (native/cpu/conv_direct_wgrad.cc), forced with
// convTuning({kernel: 'direct'}), against a float64 loop (conv_ref.ts) and against the implicit-GEMM path
// (kernel: 'gemm'). dW accumulates, so every call starts from a nonzero dw and the check is dw0 + dW.
// Shapes reach every branch: output channels that fill 1-4 blocks of 16 exactly or leave a partial block (zero
// lanes), input channels that leave a partial register tile, chunks of rows inside one image (≥ 128 output pixels)
// and chunks of whole images, taps clipped by (asymmetric, wider-than-kernel) padding, strides 1-3, dW split into
// several items, threads taking items or splitting the batch with private partial sums.
//
// Tolerance: |got − want| ≤ 1e-5 · mag + 1e-7 · (1 + |dw0|) per element, mag = Σ|terms| in float64 (the scale of
// float32 rounding in the sum). Direct vs GEMM: the same bound with 2·mag (both carry rounding).
import { expect } from 'chai';
import { Tensor, tidy, conv2dBackwardWeight, convTranspose2dBackwardWeight } from '../../../lib/engine';
import { native } from '../../../lib/engine/native';
import { randArray } from '../../helpers';
import { opCase } from '../devices';
import { ConvCase, outSize, geom, convBackwardWeightRef, withConvTuning, K4S2P1, K3S1P1 } from './conv_ref';

// dW[o, ci, i, j] = Σ_{b, oh, ow} dy[b, o, oh, ow] · x[b, ci, oh·sh − pt + i, ow·sw − pl + j]: convBackwardWeightRef.
const withTuning = <T>(kernel: 'direct' | 'gemm' | 'auto', threads: number, serialMacs: number | undefined, fn: () => T): T =>
  withConvTuning({ kernel, threads, serialMacs }, fn);

const cases: ConvCase[] = [
  { name: 'k4 s2 p1, 16 -> 16 channels, rows chunks (16x16 output)', n: 2, c: 16, H: 32, W: 32, k: 16, ...K4S2P1 },
  { name: 'k4 s2 p1, 3 -> 20 channels (partial block), odd size', n: 3, c: 3, H: 13, W: 11, k: 20, ...K4S2P1 },
  { name: 'k3 s1 p1, 13 -> 48 channels (3x8 tile, channel tail 5)', n: 2, c: 13, H: 8, W: 8, k: 48, ...K3S1P1 },
  { name: 'k3 s1 p1, 20 -> 64 channels (4x6 tile), batch 1, chunk of rows not dividing p', n: 1, c: 20, H: 13, W: 10, k: 64, ...K3S1P1 },
  { name: 'k3 s1 p0, 1 -> 32 channels (2x12 tile), wide rows', n: 2, c: 1, H: 5, W: 70, k: 32, r: 3, s: 3, stride: [1, 1], pad: [0, 0, 0, 0] },
  { name: '80 output channels (5 blocks: 4 + 1), 7 inputs, k2 s1', n: 2, c: 7, H: 6, W: 7, k: 80, r: 2, s: 2, stride: [1, 1], pad: [0, 1, 1, 0] },
  { name: 'asymmetric padding wider than the kernel, stride 3 > kernel 2', n: 2, c: 5, H: 7, W: 9, k: 3, r: 2, s: 2, stride: [3, 3], pad: [3, 2, 0, 3] },
  { name: '1x5 and stride (1, 2), 12 -> 17 channels', n: 2, c: 12, H: 5, W: 19, k: 17, r: 1, s: 5, stride: [1, 2], pad: [0, 0, 2, 2] },
  { name: 'whole-image kernel (1x1 output)', n: 3, c: 6, H: 4, W: 4, k: 18, r: 4, s: 4, stride: [1, 1], pad: [0, 0, 0, 0] },
  { name: 'k4 s2 p1, 64 -> 64 channels', n: 2, c: 64, H: 12, W: 12, k: 64, ...K4S2P1 },
  { name: 'k4 s2 p1, 1100 -> 20 channels (dW split by input channels, dy blocked once for the batch)', n: 2, c: 1100, H: 4, W: 4, k: 20, ...K4S2P1 },
  { name: 'k5 s1 p2, 7 -> 1750 channels (dW split by output channels)', n: 1, c: 7, H: 3, W: 3, k: 1750, r: 5, s: 5, stride: [1, 1], pad: [2, 2, 2, 2] },
];

// [threads, serialMacs]: one thread; 2 and 3 threads with every conv parallel (items or batch parts).
const modes: [number, number | undefined][] = [[1, undefined], [2, 0], [3, 0]];

describe('conv2d backward-weight, direct kernel', function () {
  this.timeout(60000);

  for (const cs of cases) {
    opCase({ ops: ['conv2d_backward_weight'], name: `${cs.name}: float64 reference and the GEMM path, dw accumulates`, cpu: () => tidy(() => {
      const { p, q } = geom(cs);
      const x = randArray(cs.n * cs.c * cs.H * cs.W, 11), dy = randArray(cs.n * cs.k * p * q, 12);
      const wShape = [cs.k, cs.c, cs.r, cs.s];
      const dw0 = randArray(cs.k * cs.c * cs.r * cs.s, 13);
      const ref = convBackwardWeightRef(cs, dy, x);
      const X = Tensor.fromArray(x, [cs.n, cs.c, cs.H, cs.W]), DY = Tensor.fromArray(dy, [cs.n, cs.k, p, q]);
      const o = { stride: cs.stride, padding: cs.pad };
      const run = (kernel: 'direct' | 'gemm', threads: number, serial: number | undefined): Float32Array => withTuning(kernel, threads, serial, () => {
        const dw = Tensor.fromArray(dw0, wShape);
        conv2dBackwardWeight(DY, X, dw, o);
        return dw.toFloat32Array();
      });
      const gemm = run('gemm', 1, undefined);
      for (const [threads, serial] of modes) {
        const got = run('direct', threads, serial);
        for (let e = 0; e < got.length; e++) {
          const want = dw0[e] + ref.v[e];
          const tol = 1e-5 * ref.mag[e] + 1e-7 * (1 + Math.abs(dw0[e]));
          if (!(Math.abs(got[e] - want) <= tol)) expect.fail(`${threads} threads: dw[${e}] = ${got[e]}, want ${want} (tolerance ${tol})`);
          const tolG = 2e-5 * ref.mag[e] + 2e-7 * (1 + Math.abs(dw0[e]));
          if (!(Math.abs(got[e] - gemm[e]) <= tolG)) expect.fail(`${threads} threads: dw[${e}] = ${got[e]}, GEMM path ${gemm[e]} (tolerance ${tolG})`);
        }
      }
    }) });
  }

  it('two calls accumulate twice', () => tidy(() => {
    const cs = cases[1];
    const p = outSize(cs.H, cs.r, 2, 1, 1), q = outSize(cs.W, cs.s, 2, 1, 1);
    const x = randArray(cs.n * cs.c * cs.H * cs.W, 21), dy = randArray(cs.n * cs.k * p * q, 22);
    const ref = convBackwardWeightRef(cs, dy, x);
    const X = Tensor.fromArray(x, [cs.n, cs.c, cs.H, cs.W]), DY = Tensor.fromArray(dy, [cs.n, cs.k, p, q]);
    const dw = Tensor.zeros([cs.k, cs.c, cs.r, cs.s]);
    withTuning('direct', 2, 0, () => {
      conv2dBackwardWeight(DY, X, dw, { stride: 2, padding: 1 });
      conv2dBackwardWeight(DY, X, dw, { stride: 2, padding: 1 });
    });
    const got = dw.toFloat32Array();
    for (let e = 0; e < got.length; e++) {
      const tol = 2e-5 * ref.mag[e] + 1e-7;
      if (!(Math.abs(got[e] - 2 * ref.v[e]) <= tol)) expect.fail(`dw[${e}] = ${got[e]}, want ${2 * ref.v[e]}`);
    }
  }));

  it('bad arguments still throw with the direct kernel forced (the binding validates before any kernel runs)', () => tidy(() => {
    const n = native();
    const x = Tensor.zeros([2, 3, 8, 8]).h, dy = Tensor.zeros([2, 4, 8, 8]).h, dw = Tensor.zeros([4, 3, 3, 3]).h;
    withTuning('direct', 2, 0, () => {
      expect(() => n.conv2dBackwardWeight(dy, x, Tensor.zeros([4, 2, 3, 3]).h, [1, 1], [1, 1, 1, 1])).to.throw(/argument 3 \(dw\).*argument 2 \(x\)/);
      expect(() => n.conv2dBackwardWeight(dy, x, dw, [2, 2], [1, 1, 1, 1])).to.throw(/argument 1 \(dy\) must have shape \[2, 4, 4, 4\]/);
      expect(() => n.conv2dBackwardWeight(dy, Tensor.zeros([2, 3, 2, 2]).h, dw, [1, 1], [0, 0, 0, 0])).to.throw(/larger than the padded input/);
      expect(() => n.convTranspose2dBackwardWeight(dy, x, Tensor.zeros([3, 3, 4, 4]).h, [2, 2], [1, 1, 1, 1])).to.throw(/argument/);
    });
  }));

  it('conv-transpose backward-weight (which runs conv2d backward-weight with x and dy swapped) matches the GEMM path', () => tidy(() => {
    // ConvTranspose2d 24 -> 10 channels, k4 s2 p1, 5x6 -> 10x12.
    const n = 2, cin = 24, cout = 10, hi = 5, wi = 6, ho = 10, wo = 12;
    const x = Tensor.fromArray(randArray(n * cin * hi * wi, 31), [n, cin, hi, wi]);
    const dy = Tensor.fromArray(randArray(n * cout * ho * wo, 32), [n, cout, ho, wo]);
    const dw0 = randArray(cin * cout * 16, 33);
    const run = (kernel: 'direct' | 'gemm'): Float32Array => withTuning(kernel, 2, 0, () => {
      const dw = Tensor.fromArray(dw0, [cin, cout, 4, 4]);
      convTranspose2dBackwardWeight(dy, x, dw, { stride: 2, padding: 1 });
      return dw.toFloat32Array();
    });
    const a = run('direct'), b = run('gemm');
    // Each element sums n·hi·wi ≤ 60 products of values in [-1, 1]: |error| ≤ ~60·2^-23·60 per side.
    for (let e = 0; e < a.length; e++) if (!(Math.abs(a[e] - b[e]) <= 1e-4)) expect.fail(`dw[${e}]: direct ${a[e]}, GEMM ${b[e]}`);
    let moved = 0;
    for (let e = 0; e < a.length; e++) if (a[e] !== dw0[e]) moved++;
    expect(moved).to.be.greaterThan(a.length / 2);
  }));
});
