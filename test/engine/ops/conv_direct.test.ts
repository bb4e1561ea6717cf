// The direct (channel-blocked, AVX-512) conv kernels of native/cpu/conv_direct.cc: conv2d forward and backward-data
// (and conv-transpose forward, which is backward-data), forced with convTuning({kernel: 'direct'}), against float64
// loops (conv_ref.ts) and against the implicit-GEMM path (kernel 'gemm'). The shapes reach every branch: channel
// counts that are and are not multiples of 16 (zero lanes), 1–5 output-channel blocks (groups of 1–4 blocks),
// rows split into several register tiles of unequal width, rows narrower than a tile, stride 1 and 2 (backward-data:
// 1 or 4 phases, odd sizes where the two width phases differ in length, interleaves longer than 16 pixels), k1–k5,
// padding 0–3 and asymmetric, batch 1–3, threads 1 and 2. Shapes the kernel does not take (stride 3) must fall back
// to the GEMM path silently. In builds without AVX-512 every call falls back, and the checks still hold.
//
// Tolerance: |got − want| ≤ 1e-5 · mag + 1e-7 per element, mag = Σ|terms| of that output in float64 (the scale of
// float32 rounding in a sum), as in conv.test.ts.
import { expect } from 'chai';
import { Tensor, tidy, conv2dForward, conv2dBackwardData, convTranspose2dForward } from '../../../lib/engine';
import { native } from '../../../lib/engine/native';
import { randArray, expectRef, Ref } from '../../helpers';
import { opCase } from '../devices';
import { P2, P4, ConvCase, geom, convRef, convBackwardDataRef, withConvTuning, K4S2P1, K3S1P1 } from './conv_ref';

const REL = 1e-5;
const ABS = 1e-7;
// Two float32 results of the same sum (direct vs GEMM): each within tolerance of the float64 value, so within twice
// that of each other.
function expectSame(a: Float32Array, b: Float32Array, want: Ref, what: string): void {
  for (let i = 0; i < a.length; i++) {
    const tol = 2 * (REL * want.mag[i] + ABS);
    if (!(Math.abs(a[i] - b[i]) <= tol)) expect.fail(`${what}[${i}]: direct ${a[i]}, gemm ${b[i]} (tolerance ${tol})`);
  }
}

interface Mode { name: string; threads: number; serial?: number }
const modes: Mode[] = [
  { name: '1 thread', threads: 1 },
  { name: '2 threads', threads: 2, serial: 0 },
];
const withTuning = <T>(kernel: string, m: Mode, fn: () => T): T => withConvTuning({ kernel, threads: m.threads, serialMacs: m.serial }, fn);

const cases: ConvCase[] = [
  { name: 'k3 s1 p1, 16→16, one block each way', n: 1, c: 16, H: 8, W: 8, k: 16, ...K3S1P1, bias: true },
  { name: 'k3 s1 p1, 20→37 (partial blocks), odd 9x11', n: 2, c: 20, H: 9, W: 11, k: 37, ...K3S1P1, bias: true },
  { name: 'k4 s2 p1, 5→70 (5 blocks: groups 3 + 2)', n: 2, c: 5, H: 10, W: 14, k: 70, ...K4S2P1, bias: false },
  { name: 'k4 s2 p1, 33→16, 31x31 (rows of 15 = tiles 8 + 7; odd dx phases)', n: 1, c: 33, H: 31, W: 31, k: 16, ...K4S2P1, bias: true },
  { name: 'k3 s1 p1, 3→64, rows of 30 (5 tiles of 6 x 4 blocks)', n: 2, c: 3, H: 4, W: 30, k: 64, ...K3S1P1, bias: true },
  { name: 'k4 s2 p1, 7x9 (dx width phases 5 and 4)', n: 3, c: 18, H: 7, W: 9, k: 24, ...K4S2P1, bias: false },
  { name: 'k4 s2 p1, rows of 70 (dx interleave over 3 chunks of 16)', n: 1, c: 2, H: 6, W: 70, k: 3, ...K4S2P1, bias: true },
  { name: 'k3 s(2,1), asymmetric padding [0,2,1,0]', n: 2, c: 17, H: 8, W: 7, k: 19, r: 3, s: 3, stride: [2, 1], pad: [0, 2, 1, 0], bias: true },
  { name: 'k2 s(1,2), padding wider than the kernel [3,2,0,3]', n: 1, c: 4, H: 3, W: 6, k: 5, r: 2, s: 2, stride: [1, 2], pad: [3, 2, 0, 3], bias: true },
  { name: 'k5 s2 p2 (phases of 3 and 2 taps)', n: 2, c: 9, H: 11, W: 10, k: 12, r: 5, s: 5, stride: [2, 2], pad: [2, 2, 2, 2], bias: false },
  { name: 'k2 s2 p0 (stride = kernel: one tap per phase)', n: 1, c: 16, H: 8, W: 6, k: 20, r: 2, s: 2, stride: [2, 2], pad: [0, 0, 0, 0], bias: false },
  { name: 'k1 s1 p0, 48→40 (3 input blocks)', n: 2, c: 48, H: 5, W: 5, k: 40, r: 1, s: 1, stride: [1, 1], pad: [0, 0, 0, 0], bias: true },
  { name: 'k4 s1 p0 whole image (1x1 output)', n: 3, c: 20, H: 4, W: 4, k: 5, r: 4, s: 4, stride: [1, 1], pad: [0, 0, 0, 0], bias: true },
  { name: 'k3 s1 p1, 1 channel in and out', n: 2, c: 1, H: 5, W: 17, k: 1, ...K3S1P1, bias: true },
  { name: 'k3 s3 (stride 3: falls back to the GEMM path)', n: 2, c: 3, H: 9, W: 10, k: 4, r: 3, s: 3, stride: [3, 3], pad: [0, 1, 1, 1], bias: true },
];

describe('conv2d direct kernels (CPU, channel-blocked)', () => {
  cases.forEach((cs, ci) => {
    const { p, q } = geom(cs);
    opCase({ ops: ['conv2d_forward', 'conv2d_backward_data', 'conv_transpose2d_forward'], name: `${cs.name}: [${cs.n},${cs.c},${cs.H},${cs.W}] * [${cs.k},${cs.c},${cs.r},${cs.s}] s${cs.stride} p[${cs.pad}]: forward, backward-data and conv-transpose forward match float64 and the GEMM path`, cpu: () => tidy(() => {
      const seed = 300 * ci + 7;
      const x = randArray(cs.n * cs.c * cs.H * cs.W, seed + 1), w = randArray(cs.k * cs.c * cs.r * cs.s, seed + 2);
      const b = cs.bias ? randArray(cs.k, seed + 3) : null, bT = cs.bias ? randArray(cs.c, seed + 5) : null;
      const dy = randArray(cs.n * cs.k * p * q, seed + 4);
      const yRef = convRef(cs, x, w, b), dxRef = convBackwardDataRef(cs, dy, w), tRef = convBackwardDataRef(cs, dy, w, bT);
      const X = Tensor.fromArray(x, [cs.n, cs.c, cs.H, cs.W]), Wt = Tensor.fromArray(w, [cs.k, cs.c, cs.r, cs.s]);
      const B = b ? Tensor.fromArray(b, [cs.k]) : null, BT = bT ? Tensor.fromArray(bT, [cs.c]) : null;
      const DY = Tensor.fromArray(dy, [cs.n, cs.k, p, q]);
      const o = { stride: cs.stride, padding: cs.pad };
      // conv-transpose of dy back to x's size: output padding makes up what the conv's floor dropped.
      const oT = { ...o, outputPadding: [(cs.H + cs.pad[0] + cs.pad[1] - cs.r) % cs.stride[0], (cs.W + cs.pad[2] + cs.pad[3] - cs.s) % cs.stride[1]] as P2 };
      const run = (kernel: string, m: Mode): Float32Array[] => withTuning(kernel, m, () => [
        conv2dForward(X, Wt, B, o).toFloat32Array(),
        conv2dBackwardData(DY, Wt, X.shape, o).toFloat32Array(),
        convTranspose2dForward(DY, Wt, BT, oT).toFloat32Array(),
      ]);
      const gemm = run('gemm', modes[0]);
      for (const m of modes) {
        const [y, dx, t] = run('direct', m);
        expectRef(y, yRef, `${m.name}: y`);
        expectRef(dx, dxRef, `${m.name}: dx`);
        expectRef(t, tRef, `${m.name}: conv-transpose y`);
        expectSame(y, gemm[0], yRef, `${m.name}: y`);
        expectSame(dx, gemm[1], dxRef, `${m.name}: dx`);
        expectSame(t, gemm[2], tRef, `${m.name}: conv-transpose y`);
      }
      // The automatic choice gives the same sums whichever kernel it picks.
      const [ya, dxa] = run('auto', modes[1]);
      expectRef(ya, yRef, 'auto: y');
      expectRef(dxa, dxRef, 'auto: dx');
    }) });
  });

  it('a DCGAN-sized layer (k4 s2 p1, 64→128, 32x32 → 16x16, batch 2) matches the GEMM path on 2 threads', () => tidy(() => {
    const cs: ConvCase = { name: 'D', n: 2, c: 64, H: 32, W: 32, k: 128, ...K4S2P1, bias: true };
    const { p, q } = geom(cs);
    const x = randArray(cs.n * cs.c * cs.H * cs.W, 91), w = randArray(cs.k * cs.c * 16, 92), b = randArray(cs.k, 93);
    const dy = randArray(cs.n * cs.k * p * q, 94);
    const X = Tensor.fromArray(x, [cs.n, cs.c, cs.H, cs.W]), Wt = Tensor.fromArray(w, [cs.k, cs.c, 4, 4]), B = Tensor.fromArray(b, [cs.k]);
    const DY = Tensor.fromArray(dy, [cs.n, cs.k, p, q]);
    const o = { stride: cs.stride, padding: cs.pad };
    const run = (kernel: string): Float32Array[] => withTuning(kernel, modes[1], () => [
      conv2dForward(X, Wt, B, o).toFloat32Array(), conv2dBackwardData(DY, Wt, X.shape, o).toFloat32Array(),
    ]);
    const [yd, dxd] = run('direct'), [yg, dxg] = run('gemm');
    // Sums of 1024 terms of magnitude ≤ 1: float32 rounding ~1e-5 · Σ|terms|; bound with Σ|terms| ≤ 1024.
    for (let i = 0; i < yd.length; i++) if (!(Math.abs(yd[i] - yg[i]) <= 2e-5 * 1024)) expect.fail(`y[${i}]: ${yd[i]} vs ${yg[i]}`);
    for (let i = 0; i < dxd.length; i++) if (!(Math.abs(dxd[i] - dxg[i]) <= 2e-5 * 512)) expect.fail(`dx[${i}]: ${dxd[i]} vs ${dxg[i]}`);
  }));

  it('the automatic choice takes the direct kernels only for full channel blocks (and, backward-data, phase rows of ≥ 4 pixels or stride 1)', () => tidy(() => {
    // The two kernels sum in different orders, so their float32 results differ in the last bits: the automatic
    // choice's output equals one of them bit for bit.
    const pick = (cs: ConvCase): string[] => {
      const { p, q } = geom(cs);
      const X = Tensor.fromArray(randArray(cs.n * cs.c * cs.H * cs.W, 51), [cs.n, cs.c, cs.H, cs.W]);
      const Wt = Tensor.fromArray(randArray(cs.k * cs.c * cs.r * cs.s, 52), [cs.k, cs.c, cs.r, cs.s]);
      const DY = Tensor.fromArray(randArray(cs.n * cs.k * p * q, 53), [cs.n, cs.k, p, q]);
      const o = { stride: cs.stride, padding: cs.pad };
      const run = (kernel: string): Float32Array[] => withTuning(kernel, modes[0], () => [
        conv2dForward(X, Wt, null, o).toFloat32Array(), conv2dBackwardData(DY, Wt, X.shape, o).toFloat32Array(),
      ]);
      const [a, d, g] = [run('auto'), run('direct'), run('gemm')];
      const same = (u: Float32Array, v: Float32Array): boolean => u.every((e, i) => e === v[i]);
      return [0, 1].map((i) => {
        expect(same(d[i], g[i]), `${cs.name}: direct and gemm differ somewhere`).to.equal(false);
        return same(a[i], d[i]) ? 'direct' : same(a[i], g[i]) ? 'gemm' : 'neither';
      });
    };
    const base = { n: 2, H: 16, W: 16, r: 4, s: 4, stride: [2, 2] as P2, pad: [1, 1, 1, 1] as P4, bias: false };
    expect(pick({ ...base, name: 'k4 s2, 32→48, 16x16', c: 32, k: 48 })).to.deep.equal(['direct', 'direct']);
    expect(pick({ ...base, name: 'k4 s2, 32→48, 8x8 (4-pixel phase rows)', c: 32, k: 48, H: 8, W: 8 })).to.deep.equal(['direct', 'direct']);
    expect(pick({ ...base, name: 'k4 s2, 32→48, 6x6 (3-pixel phase rows)', c: 32, k: 48, H: 6, W: 6 })).to.deep.equal(['direct', 'gemm']);
    expect(pick({ ...base, name: 'k3 s1, 32→32, 4x4', c: 32, k: 32, H: 4, W: 4, r: 3, s: 3, stride: [1, 1] })).to.deep.equal(['direct', 'direct']);
    expect(pick({ ...base, name: 'k4 s2, 8→48 (c < 16)', c: 8, k: 48 })).to.deep.equal(['gemm', 'gemm']);
    expect(pick({ ...base, name: 'k4 s2, 32→8 (k < 16)', c: 32, k: 8 })).to.deep.equal(['gemm', 'gemm']);
  }));

  it('rejects an unknown kernel name or Winograd tile', () => {
    expect(() => native().convTuning({ kernel: 'fast' })).to.throw(/convTuning: kernel must be 'auto', 'gemm', 'direct' or 'wino'/);
    expect(() => native().convTuning({ winoTile: 5 })).to.throw(/convTuning: winoTile must be 0, 3 or 4/);
    expect(() => native().convTuning({ winoTile: 2.5 })).to.throw(/convTuning: winoTile must be an integer >= 0/);
    expect(native().convTuning().winoTile, 'a rejected call changes nothing').to.equal(0);
  });
});
