// Conv2d and ConvTranspose2d (native/cpu/conv.cc, conv_transpose.cc) against float64 loops written here:
// conv as the PyTorch gather sum, conv-transpose as its own scatter definition (PyTorch docs), their backward ops
// as the adjoints of those loops, plus finite differences of the float64 forward and adjoint identities on the
// native outputs. Every check runs in several engine modes (thread counts, tiny column tiles that span samples)
// because each mode takes a different path through the kernels.
//
// Tolerance: |got − want| ≤ 1e-5 · mag + 1e-7 per element, where mag = Σ|terms| of that output in float64 (the
// scale of float32 rounding in a sum; mag ≥ |want|). Float32 sums of a few hundred terms stay near 1e-6 · mag.
import { expect } from 'chai';
import {
  Tensor, engineInfo, tidy,
  conv2dForward, conv2dBackwardData, conv2dBackwardWeight,
  convTranspose2dForward, convTranspose2dBackwardData, convTranspose2dBackwardWeight,
} from '../../../lib/engine';
import { nativeUnchecked as native } from '../../../lib/engine/native';  // misuse tests call the addon with wrong arguments
import { randArray, rng, expectRef, Ref } from '../../helpers';
import * as E from '../../../lib/engine';
import { Device } from '../../../lib/engine';
import * as C from '../../../lib/engine/cuda';
import { opCase, forDevices, both, same, emulated } from '../devices';
import { ConvGeom, ConvTGeom, conv2dParity, convTranspose2dParity } from './conv_parity';
import { P2, P4, ConvCase, Terms, geom, forWindow, biased, zeroRef, sumTerms, convRef, convBackwardDataRef, convBackwardWeightRef, withConvTuning, K4S2P1, K3S1P1 } from './conv_ref';

const REL = 1e-5;
const ABS = 1e-7;

// ---------------------------------------------------------------- float64 references
// The conv ones (convTerms and its sums) are in conv_ref.ts. Conv-transpose: x [n, cin, p, q], w [cin, cout, r, s] (IOHW), output [n, cout, Ho, Wo] with the PyTorch rule
// Ho = (p − 1)·sh − pt − pb + r + oph. Scatter: y[b, co, i·sh − pt + a, j·sw − pl + e] += x[b, ki, i, j]·w[ki, co, a, e].
interface TCase { name: string; n: number; cin: number; cout: number; p: number; q: number; r: number; s: number; stride: P2; pad: P4; outPad: P2; bias: boolean }
const tOut = (t: TCase): { Ho: number; Wo: number } => ({
  Ho: (t.p - 1) * t.stride[0] - t.pad[0] - t.pad[1] + t.r + t.outPad[0],
  Wo: (t.q - 1) * t.stride[1] - t.pad[2] - t.pad[3] + t.s + t.outPad[1],
});

const tTerms = (t: TCase): Terms => (f) => {
  const { n, cin, cout, p, q, r, s } = t;
  const { Ho, Wo } = tOut(t);
  const win = { r, s, stride: t.stride, pad: t.pad, H: Ho, W: Wo };  // the taps of input pixel (i, j) in the output
  for (let b = 0; b < n; b++)
    for (let ki = 0; ki < cin; ki++)
      for (let i = 0; i < p; i++)
        for (let j = 0; j < q; j++) {
          const xi = ((b * cin + ki) * p + i) * q + j;
          for (let co = 0; co < cout; co++)
            forWindow(win, i, j, (a, e, oh, ow) => f(xi, ((ki * cout + co) * r + a) * s + e, ((b * cout + co) * Ho + oh) * Wo + ow));
        }
};
function tRef(t: TCase, x: Float32Array, w: Float32Array, bias: Float32Array | null): Ref {
  const { Ho, Wo } = tOut(t);
  return sumTerms(tTerms(t), biased(t.n * t.cout * Ho * Wo, Ho * Wo, t.cout, bias), 'y', x, w);
}
function tBackwardDataRef(t: TCase, dy: Float32Array, w: Float32Array): Ref {
  return sumTerms(tTerms(t), zeroRef(t.n * t.cin * t.p * t.q), 'x', dy, w);
}
function tBackwardWeightRef(t: TCase, dy: Float32Array, x: Float32Array): Ref {
  return sumTerms(tTerms(t), zeroRef(t.cin * t.cout * t.r * t.s), 'w', dy, x);
}

// ---------------------------------------------------------------- helpers
const dot = (a: ArrayLike<number>, b: ArrayLike<number>): number => { let s = 0; for (let i = 0; i < a.length; i++) s += a[i] * b[i]; return s; };
const absDot = (a: ArrayLike<number>, b: ArrayLike<number>): number => { let s = 0; for (let i = 0; i < a.length; i++) s += Math.abs(a[i] * b[i]); return s; };

interface Mode { name: string; threads?: number; tile?: number; serial?: number }
// Each mode sends the kernels down another path: thread splits by channel / sample / dW rows / dW partials
// (serial = 0 lifts the size below which a conv runs on one thread), and tiles of a few output columns that cross
// sample boundaries and leave partial register tiles (tile = most columns per tile).
const modes = (): Mode[] => [
  { name: 'default' },
  { name: 'always parallel', serial: 0 },
  { name: '1 thread', threads: 1 },
  { name: '3 threads, tiles of 40 columns', threads: 3, tile: 40, serial: 0 },
  { name: 'tiles of 7 columns', tile: 7 },
  { name: '2 threads, tiles of 1 column', threads: 2, tile: 1, serial: 0 },
];

const inMode = <T>(m: Mode, fn: () => T): T => withConvTuning({ threads: m.threads, tileCols: m.tile, serialMacs: m.serial }, fn);

// In every mode: y and dx against their references and shapes, and dw against dw0 + 2·dwRef (dw accumulates: two
// calls on a random start give start + 2·∂L/∂w).
function checkEveryMode(ops: { y: () => Tensor; dx: () => Tensor; dw: (dw: Tensor) => void }, want: { y: Ref; dx: Ref; dw: Ref },
  shapes: { y: number[]; x: number[]; w: number[] }, dw0: Float32Array): void {
  for (const m of modes()) inMode(m, () => {
    const y = ops.y();
    expect(y.shape, `${m.name}: y shape`).to.deep.equal(shapes.y);
    expectRef(y.toFloat32Array(), want.y, `${m.name}: y`);
    const dx = ops.dx();
    expect(dx.shape, `${m.name}: dx shape`).to.deep.equal(shapes.x);
    expectRef(dx.toFloat32Array(), want.dx, `${m.name}: dx`);
    const dw = Tensor.fromArray(dw0, shapes.w);
    ops.dw(dw);
    ops.dw(dw);
    expectRef(dw.toFloat32Array(), want.dw, `${m.name}: dw (2 calls)`, dw0, 2);
  });
}

type F32 = Float32Array;
// Native dx, dw for the cotangent g against central finite differences of L(x, w) = <ref(x, w), g> in float64 at 6
// random entries (L is linear in each argument, so a step of 0.5 is exact up to float64 rounding), and the adjoint
// identities <conv(x), g> = <x, convᵀ(g)> and <conv_w(x), g> = <w, ∂w<conv, g>>, both sides from native float32
// outputs. mag: Σ|terms| of y, dx and dw.
function checkAdjoints(what: string, seed: number, inp: { x: F32; w: F32; g: F32 }, got: { y: F32; dx: F32; dw: F32 },
  ref: (x: F32, w: F32) => Ref, mag: { y: Float64Array; dx: Float64Array; dw: Float64Array }): void {
  const { x, w, g } = inp, { y, dx, dw } = got;
  const L = (xx: F32, ww: F32): number => dot(ref(xx, ww).v, g);
  const h = 0.5;
  const r = rng(seed);
  for (let t = 0; t < 6; t++) {
    const i = Math.floor(r() * x.length), j = Math.floor(r() * w.length);
    const xp = x.slice(), xm = x.slice(); xp[i] += h; xm[i] -= h;
    const wp = w.slice(), wm = w.slice(); wp[j] += h; wm[j] -= h;
    const fdx = (L(xp, w) - L(xm, w)) / (2 * h), fdw = (L(x, wp) - L(x, wm)) / (2 * h);
    expect(Math.abs(dx[i] - fdx), `${what}: dx[${i}] ${dx[i]} vs FD ${fdx}`).to.be.at.most(REL * mag.dx[i] + ABS);
    expect(Math.abs(dw[j] - fdw), `${what}: dw[${j}] ${dw[j]} vs FD ${fdw}`).to.be.at.most(REL * mag.dw[j] + ABS);
  }
  expect(Math.abs(dot(y, g) - dot(x, dx))).to.be.at.most(REL * (absDot(mag.y, g) + absDot(x, mag.dx)));
  expect(Math.abs(dot(y, g) - dot(w, dw))).to.be.at.most(REL * (absDot(mag.y, g) + absDot(w, mag.dw)));
}

// ---------------------------------------------------------------- cases
const convCases: ConvCase[] = [
  { name: '3x3 s1 p1, odd sizes', n: 2, c: 3, H: 7, W: 5, k: 4, ...K3S1P1, bias: true },
  { name: 'stride 3 > kernel 2', n: 2, c: 2, H: 9, W: 8, k: 3, r: 2, s: 2, stride: [3, 3], pad: [0, 0, 0, 0], bias: false },
  { name: 'batch 1, asymmetric padding [0,2,1,0]', n: 1, c: 3, H: 6, W: 7, k: 5, r: 3, s: 2, stride: [2, 1], pad: [0, 2, 1, 0], bias: true },
  { name: '1x5 kernel', n: 2, c: 2, H: 5, W: 9, k: 3, r: 1, s: 5, stride: [1, 2], pad: [0, 0, 2, 2], bias: false },
  { name: '4x1 kernel', n: 3, c: 4, H: 8, W: 3, k: 2, r: 4, s: 1, stride: [2, 1], pad: [1, 2, 0, 0], bias: true },
  { name: 'DCGAN k4 s2 p1', n: 2, c: 5, H: 8, W: 8, k: 6, ...K4S2P1, bias: false },
  { name: 'padding wider than the kernel', n: 1, c: 1, H: 3, W: 4, k: 2, r: 2, s: 2, stride: [1, 2], pad: [3, 2, 0, 3], bias: true },
  { name: '1x1 s1 p0 (column matrix = x)', n: 2, c: 6, H: 5, W: 5, k: 3, r: 1, s: 1, stride: [1, 1], pad: [0, 0, 0, 0], bias: true },
  { name: '1x1 output (DCGAN head)', n: 4, c: 8, H: 4, W: 4, k: 3, r: 4, s: 4, stride: [1, 1], pad: [0, 0, 0, 0], bias: true },
  { name: 'one input channel, k4 s2 p1', n: 3, c: 1, H: 10, W: 6, k: 7, ...K4S2P1, bias: true },
  { name: 'stride 2 rows of 35 outputs (vector gather / scatter-add)', n: 2, c: 3, H: 7, W: 70, k: 4, ...K4S2P1, bias: true },
  { name: 'stride 2, 3x5 kernel, rows of 38 outputs', n: 1, c: 2, H: 5, W: 77, k: 3, r: 3, s: 5, stride: [1, 2], pad: [0, 1, 2, 0], bias: false },
  { name: 'few rows, many filters (c·r·s 16 < k 72)', n: 2, c: 1, H: 10, W: 9, k: 72, ...K4S2P1, bias: false },
  { name: 'large dW (130 x 576): rows of dW split over threads', n: 1, c: 64, H: 6, W: 6, k: 130, ...K3S1P1, bias: true },
  { name: '1030 filters: backward-data reduces over several slices', n: 2, c: 2, H: 4, W: 5, k: 1030, r: 2, s: 3, stride: [1, 2], pad: [0, 1, 1, 0], bias: true },
  { name: 'wider: 16→24, 13x11', n: 3, c: 16, H: 13, W: 11, k: 24, ...K3S1P1, bias: true },
  // ≤ 16 output pixels, c·r·s ≥ 2048, k ≥ 256: backward-data as one GEMM dyᵀ·W then col2im (conv.cc backward_data_small)
  { name: 'D6-like small output, many channels', n: 2, c: 130, H: 8, W: 8, k: 260, ...K4S2P1, bias: false },
  { name: 'k3 s1 on 3x4, asymmetric padding, small output', n: 1, c: 232, H: 3, W: 4, k: 256, r: 3, s: 3, stride: [1, 1], pad: [1, 0, 1, 1], bias: true },
];
{ // seeded random shapes
  const r = rng(20261127);
  const ri = (lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
  for (let i = 0; i < 10; i++) {
    const kr = ri(1, 4), ks = ri(1, 4);
    const pad: P4 = [ri(0, 2), ri(0, 2), ri(0, 2), ri(0, 2)];
    const H = Math.max(1, kr - pad[0] - pad[1]) + ri(0, 6), W = Math.max(1, ks - pad[2] - pad[3]) + ri(0, 6);
    convCases.push({ name: `random #${i}`, n: ri(1, 3), c: ri(1, 4), H, W, k: ri(1, 5), r: kr, s: ks, stride: [ri(1, 3), ri(1, 3)], pad, bias: r() < 0.5 });
  }
}

const tCases: TCase[] = [
  { name: 'DCGAN k4 s2 p1, 4→8', n: 2, cin: 6, cout: 4, p: 4, q: 4, ...K4S2P1, outPad: [0, 0], bias: false },
  { name: 'DCGAN head k4 s1 p0, 1→4', n: 3, cin: 5, cout: 7, p: 1, q: 1, r: 4, s: 4, stride: [1, 1], pad: [0, 0, 0, 0], outPad: [0, 0], bias: true },
  { name: 'output padding [1,2], asymmetric padding', n: 2, cin: 3, cout: 2, p: 3, q: 4, r: 3, s: 3, stride: [2, 3], pad: [1, 1, 0, 1], outPad: [1, 2], bias: true },
  { name: 'batch 1, 1x4 kernel', n: 1, cin: 2, cout: 3, p: 4, q: 3, r: 1, s: 4, stride: [1, 2], pad: [0, 0, 1, 2], outPad: [0, 1], bias: false },
  { name: '2x1 kernel, stride 3 > kernel', n: 2, cin: 3, cout: 2, p: 3, q: 5, r: 2, s: 1, stride: [3, 2], pad: [0, 1, 0, 0], outPad: [2, 1], bias: true },
  { name: 'padding 2 around 3x3 (crop)', n: 1, cin: 2, cout: 2, p: 5, q: 5, r: 3, s: 3, stride: [1, 1], pad: [2, 2, 2, 2], outPad: [0, 0], bias: true },
  { name: 'one output channel (DCGAN image layer)', n: 3, cin: 4, cout: 1, p: 5, q: 3, ...K4S2P1, outPad: [0, 0], bias: false },
  { name: 'k4 s2 p1, 3x21 → 6x42 (vector scatter-add)', n: 2, cin: 3, cout: 2, p: 3, q: 21, ...K4S2P1, outPad: [0, 0], bias: true },
  { name: 'wider: 20→12, 6x7', n: 2, cin: 20, cout: 12, p: 6, q: 7, r: 4, s: 3, stride: [2, 1], pad: [1, 1, 1, 0], outPad: [1, 0], bias: true },
];
{
  const r = rng(7);
  const ri = (lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
  for (let i = 0; i < 10;) {
    const stride: P2 = [ri(1, 3), ri(1, 3)];
    const t: TCase = { name: `random #${i}`, n: ri(1, 3), cin: ri(1, 4), cout: ri(1, 4), p: ri(1, 5), q: ri(1, 5), r: ri(1, 4), s: ri(1, 4),
      stride, pad: [ri(0, 2), ri(0, 2), ri(0, 2), ri(0, 2)], outPad: [ri(0, stride[0] - 1), ri(0, stride[1] - 1)], bias: r() < 0.5 };
    const { Ho, Wo } = tOut(t);
    if (Ho >= 1 && Wo >= 1) { tCases.push(t); i++; }
  }
}

// ---------------------------------------------------------------- conv2d
describe('conv2d (CPU)', () => {
  convCases.forEach((cs, ci) => {
    opCase({ ops: ['conv2d_forward', 'conv2d_backward_data', 'conv2d_backward_weight'], name: `${cs.name}: [${cs.n},${cs.c},${cs.H},${cs.W}] * [${cs.k},${cs.c},${cs.r},${cs.s}] s${cs.stride} p[${cs.pad}] matches float64 loops in every mode`, cpu: () => tidy(() => {
      const { p, q } = geom(cs);
      const seed = 1000 * ci;
      const x = randArray(cs.n * cs.c * cs.H * cs.W, seed + 1);
      const w = randArray(cs.k * cs.c * cs.r * cs.s, seed + 2);
      const b = cs.bias ? randArray(cs.k, seed + 3) : null;
      const dy = randArray(cs.n * cs.k * p * q, seed + 4);
      const dw0 = randArray(w.length, seed + 5);
      const yRef = convRef(cs, x, w, b), dxRef = convBackwardDataRef(cs, dy, w), dwRef = convBackwardWeightRef(cs, dy, x);
      const X = Tensor.fromArray(x, [cs.n, cs.c, cs.H, cs.W]), Wt = Tensor.fromArray(w, [cs.k, cs.c, cs.r, cs.s]);
      const B = b ? Tensor.fromArray(b, [cs.k]) : null, DY = Tensor.fromArray(dy, [cs.n, cs.k, p, q]);
      const o = { stride: cs.stride, padding: cs.pad };
      checkEveryMode({
        y: () => conv2dForward(X, Wt, B, o), dx: () => conv2dBackwardData(DY, Wt, X.shape, o), dw: (dw) => conv2dBackwardWeight(DY, X, dw, o),
      }, { y: yRef, dx: dxRef, dw: dwRef }, { y: [cs.n, cs.k, p, q], x: X.shape, w: Wt.shape }, dw0);
    }) });
  });

  opCase({ ops: ['conv2d_backward_data', 'conv2d_backward_weight'], name: 'backward ops equal central finite differences of the float64 forward, and the adjoint identities hold', cpu: () => tidy(() => {
    for (const cs of [convCases[2], convCases[4], convCases[9]]) {
      const { p, q } = geom(cs);
      const x = randArray(cs.n * cs.c * cs.H * cs.W, 11), w = randArray(cs.k * cs.c * cs.r * cs.s, 12);
      const g = randArray(cs.n * cs.k * p * q, 13);
      const o = { stride: cs.stride, padding: cs.pad };
      const X = Tensor.fromArray(x, [cs.n, cs.c, cs.H, cs.W]), Wt = Tensor.fromArray(w, [cs.k, cs.c, cs.r, cs.s]);
      const G = Tensor.fromArray(g, [cs.n, cs.k, p, q]);
      const dwT = Tensor.zeros(Wt.shape);
      conv2dBackwardWeight(G, X, dwT, o);
      checkAdjoints(cs.name, 99, { x, w, g }, {
        y: conv2dForward(X, Wt, null, o).toFloat32Array(), dx: conv2dBackwardData(G, Wt, X.shape, o).toFloat32Array(), dw: dwT.toFloat32Array(),
      }, (xx, ww) => convRef(cs, xx, ww, null), { y: convRef(cs, x, w, null).mag, dx: convBackwardDataRef(cs, g, w).mag, dw: convBackwardWeightRef(cs, g, x).mag });
    }
  }) });

  opCase({ ops: ['conv2d_forward', 'conv2d_backward_data', 'conv2d_backward_weight'], name: 'accepts an empty batch', cpu: () => tidy(() => {
    const y = conv2dForward(Tensor.zeros([0, 2, 5, 5]), Tensor.zeros([3, 2, 3, 3]), null, { padding: 1 });
    expect(y.shape).to.deep.equal([0, 3, 5, 5]);
    const dx = conv2dBackwardData(y, Tensor.zeros([3, 2, 3, 3]), [0, 2, 5, 5], { padding: 1 });
    expect(dx.shape).to.deep.equal([0, 2, 5, 5]);
  }) });

  it('rejects bad arguments with errors that name them', () => tidy(() => {
    const n = native();
    const x = Tensor.zeros([2, 3, 8, 8]).h, w = Tensor.zeros([4, 3, 3, 3]).h, b = Tensor.zeros([4]).h;
    const s1 = [1, 1], p1 = [1, 1, 1, 1];
    expect(() => n.conv2dForward(x, w, b, s1)).to.throw(/conv2dForward: expected 5 arguments/);
    expect(() => n.conv2dForward(Tensor.zeros([3, 8, 8]).h, w, b, s1, p1)).to.throw(/argument 1 \(x\) must be 4-D/);
    expect(() => n.conv2dForward(x, Tensor.zeros([4, 3, 3]).h, b, s1, p1)).to.throw(/argument 2 \(w\) must be 4-D/);
    expect(() => n.conv2dForward(x, Tensor.zeros([4, 2, 3, 3]).h, b, s1, p1)).to.throw(/argument 2 \(w\).*2 input channels.*argument 1 \(x\).*has 3/);
    expect(() => n.conv2dForward(x, Tensor.zeros([4, 3, 0, 3]).h, b, s1, p1)).to.throw(/argument 2 \(w\) has an empty dimension/);
    expect(() => n.conv2dForward(x, w, Tensor.zeros([5]).h, s1, p1)).to.throw(/argument 3 \(b\) must have shape \[4\]/);
    expect(() => n.conv2dForward(x, w, {}, s1, p1)).to.throw(/argument 3 \(b\) must be a Tensor/);
    expect(() => n.conv2dForward(x, w, b, [0, 1], p1)).to.throw(/argument 4 \(stride\) must hold integers in \[1,/);
    expect(() => n.conv2dForward(x, w, b, [1], p1)).to.throw(/argument 4 \(stride\) must have 2 entries/);
    expect(() => n.conv2dForward(x, w, b, s1, [1, 1])).to.throw(/argument 5 \(padding\) must have 4 entries/);
    expect(() => n.conv2dForward(x, w, b, s1, [1, -1, 1, 1])).to.throw(/argument 5 \(padding\).*\[0,/);
    expect(() => n.conv2dForward(x, w, b, s1, [1, 1.5, 1, 1])).to.throw(/argument 5 \(padding\) must contain only integers/);
    expect(() => n.conv2dForward(Tensor.zeros([1, 3, 2, 8]).h, w, b, s1, [0, 0, 0, 0])).to.throw(/kernel 3x3 is larger than the padded input 2x8/);
    const dy = Tensor.zeros([2, 4, 8, 8]).h;
    expect(() => n.conv2dBackwardData(dy, w, [2, 3, 8], s1, p1)).to.throw(/argument 3 \(xShape\) must have 4 entries/);
    expect(() => n.conv2dBackwardData(dy, w, [2, 5, 8, 8], s1, p1)).to.throw(/argument 2 \(w\).*argument 3 \(xShape\)/);
    expect(() => n.conv2dBackwardData(dy, w, [2, 3, 9, 8], s1, p1)).to.throw(/argument 1 \(dy\) must have shape \[2, 4, 9, 8\]/);
    expect(() => n.conv2dBackwardData(dy, w, [2, 3, 8, 8], [2, 2], p1)).to.throw(/argument 1 \(dy\) must have shape \[2, 4, 4, 4\]/);
    const dw = Tensor.zeros([4, 3, 3, 3]).h;
    expect(() => n.conv2dBackwardWeight(dy, x, Tensor.zeros([4, 2, 3, 3]).h, s1, p1)).to.throw(/argument 3 \(dw\).*argument 2 \(x\)/);
    expect(() => n.conv2dBackwardWeight(dy, x, Tensor.zeros([5, 3, 3, 3]).h, s1, p1)).to.throw(/argument 1 \(dy\) must have shape \[2, 5, 8, 8\]/);
    expect(() => n.conv2dBackwardWeight(dy, Tensor.zeros([1, 3, 8, 8]).h, dw, s1, p1)).to.throw(/argument 1 \(dy\) must have shape \[1, 4, 8, 8\]/);
    const gone = Tensor.zeros([4, 3, 3, 3]);
    gone.dispose();
    expect(() => n.conv2dForward(x, gone.h, b, s1, p1)).to.throw(/argument 2 \(w\) is a disposed tensor/);
    expect(() => n.convTuning({ tileCols: 0 })).to.throw(/convTuning: tileCols must be an integer >= 1/);
  }));

  it('rejects tensors on different devices (needs a GPU)', function () {
    if (engineInfo().cudaDevices === 0) this.skip();
    tidy(() => {
      const x = Tensor.zeros([1, 1, 4, 4]), w = Tensor.zeros([1, 1, 3, 3], 'cuda:0');
      expect(() => conv2dForward(x, w, null)).to.throw(/argument 1 \(x\) is on cpu but argument 2 \(w\) is on cuda:0/);
    });
  });
});

// ---------------------------------------------------------------- conv_transpose2d
describe('conv_transpose2d (CPU)', () => {
  tCases.forEach((t, ti) => {
    const { Ho, Wo } = tOut(t);
    opCase({ ops: ['conv_transpose2d_forward', 'conv_transpose2d_backward_data', 'conv_transpose2d_backward_weight'], name: `${t.name}: [${t.n},${t.cin},${t.p},${t.q}] → [${t.n},${t.cout},${Ho},${Wo}] k${t.r}x${t.s} s${t.stride} p[${t.pad}] op${t.outPad} matches the scatter definition in every mode`, cpu: () => tidy(() => {
      const seed = 5000 + 100 * ti;
      const x = randArray(t.n * t.cin * t.p * t.q, seed + 1), w = randArray(t.cin * t.cout * t.r * t.s, seed + 2);
      const b = t.bias ? randArray(t.cout, seed + 3) : null;
      const dy = randArray(t.n * t.cout * Ho * Wo, seed + 4), dw0 = randArray(w.length, seed + 5);
      const yRef = tRef(t, x, w, b), dxRef = tBackwardDataRef(t, dy, w), dwRef = tBackwardWeightRef(t, dy, x);
      const X = Tensor.fromArray(x, [t.n, t.cin, t.p, t.q]), Wt = Tensor.fromArray(w, [t.cin, t.cout, t.r, t.s]);
      const B = b ? Tensor.fromArray(b, [t.cout]) : null, DY = Tensor.fromArray(dy, [t.n, t.cout, Ho, Wo]);
      const o = { stride: t.stride, padding: t.pad, outputPadding: t.outPad };
      checkEveryMode({
        y: () => convTranspose2dForward(X, Wt, B, o), dx: () => convTranspose2dBackwardData(DY, Wt, o), dw: (dw) => convTranspose2dBackwardWeight(DY, X, dw, o),
      }, { y: yRef, dx: dxRef, dw: dwRef }, { y: [t.n, t.cout, Ho, Wo], x: X.shape, w: Wt.shape }, dw0);
    }) });
  });

  opCase({ ops: ['conv_transpose2d_forward'], name: 'output sizes follow PyTorch: H_out = (H_in − 1)·stride − 2·padding + (kernel − 1) + output_padding + 1', cpu: () => tidy(() => {
    // [H_in, kernel, stride, padding, output_padding, H_out from torch.nn.ConvTranspose2d]
    const rows: number[][] = [[1, 4, 1, 0, 0, 4], [4, 4, 2, 1, 0, 8], [128, 4, 2, 1, 0, 256], [5, 3, 2, 1, 1, 10], [3, 3, 3, 0, 2, 11], [7, 5, 1, 2, 0, 7]];
    for (const [hin, k, s, p, op, want] of rows) {
      expect((hin - 1) * s - 2 * p + (k - 1) + op + 1).to.equal(want);
      const y = convTranspose2dForward(Tensor.zeros([1, 2, hin, 3]), Tensor.zeros([2, 1, k, 1]), null, { stride: [s, 1], padding: [p, 0], outputPadding: [op, 0] });
      expect(y.shape).to.deep.equal([1, 1, want, 3]);
      // Backward-data maps the output size back to the input size by the conv rule.
      expect(convTranspose2dBackwardData(y, Tensor.zeros([2, 1, k, 1]), { stride: [s, 1], padding: [p, 0] }).shape).to.deep.equal([1, 2, hin, 3]);
    }
  }) });

  opCase({ ops: ['conv_transpose2d_backward_data', 'conv_transpose2d_backward_weight'], name: 'backward ops equal finite differences of the float64 scatter forward, and the adjoint identities hold', cpu: () => tidy(() => {
    for (const t of [tCases[2], tCases[4], tCases[7]]) {
      const { Ho, Wo } = tOut(t);
      const x = randArray(t.n * t.cin * t.p * t.q, 21), w = randArray(t.cin * t.cout * t.r * t.s, 22);
      const g = randArray(t.n * t.cout * Ho * Wo, 23);
      const o = { stride: t.stride, padding: t.pad, outputPadding: t.outPad };
      const X = Tensor.fromArray(x, [t.n, t.cin, t.p, t.q]), Wt = Tensor.fromArray(w, [t.cin, t.cout, t.r, t.s]);
      const G = Tensor.fromArray(g, [t.n, t.cout, Ho, Wo]);
      const dwT = Tensor.zeros(Wt.shape);
      convTranspose2dBackwardWeight(G, X, dwT, o);
      checkAdjoints(t.name, 5, { x, w, g }, {
        y: convTranspose2dForward(X, Wt, null, o).toFloat32Array(), dx: convTranspose2dBackwardData(G, Wt, o).toFloat32Array(), dw: dwT.toFloat32Array(),
      }, (xx, ww) => tRef(t, xx, ww, null), { y: tRef(t, x, w, null).mag, dx: tBackwardDataRef(t, g, w).mag, dw: tBackwardWeightRef(t, g, x).mag });
    }
  }) });

  it('rejects bad arguments with errors that name them', () => tidy(() => {
    const n = native();
    const x = Tensor.zeros([2, 4, 4, 4]).h, w = Tensor.zeros([4, 3, 4, 4]).h, b = Tensor.zeros([3]).h;
    const s2 = [2, 2], p1 = [1, 1, 1, 1];
    expect(() => n.convTranspose2dForward(x, w, b, s2, p1)).to.throw(/expected 6 arguments/);
    expect(n.convTranspose2dForward(x, w, b, s2, p1, [1, 0]).shape).to.deep.equal([2, 3, 9, 8]);
    expect(() => n.convTranspose2dForward(x, w, b, s2, p1, [2, 0])).to.throw(/argument 6 \(outputPadding\).*smaller than the stride/);
    expect(() => n.convTranspose2dForward(x, w, b, s2, p1, [-1, 0])).to.throw(/argument 6 \(outputPadding\)/);
    expect(() => n.convTranspose2dForward(x, Tensor.zeros([3, 4, 4, 4]).h, b, s2, p1, [0, 0])).to.throw(/argument 2 \(w\).*IOHW.*3 input channels.*argument 1 \(x\)/);
    expect(() => n.convTranspose2dForward(x, w, Tensor.zeros([4]).h, s2, p1, [0, 0])).to.throw(/argument 3 \(b\) must have shape \[3\]/);
    expect(() => n.convTranspose2dForward(Tensor.zeros([1, 4, 1, 1]).h, w, null, [1, 1], [3, 3, 0, 0], [0, 0])).to.throw(/output size -2x4 is empty/);
    expect(() => n.convTranspose2dForward(Tensor.zeros([4, 4, 4]).h, w, b, s2, p1, [0, 0])).to.throw(/argument 1 \(x\) must be 4-D/);
    const dy = Tensor.zeros([2, 3, 8, 8]).h;
    expect(() => n.convTranspose2dBackwardData(dy, Tensor.zeros([4, 2, 4, 4]).h, s2, p1)).to.throw(/argument 2 \(w\).*2 output channels.*argument 1 \(dy\)/);
    expect(() => n.convTranspose2dBackwardData(Tensor.zeros([2, 3, 1, 1]).h, w, s2, [0, 0, 0, 0])).to.throw(/kernel 4x4 is larger than the padded input 1x1/);
    expect(() => n.convTranspose2dBackwardWeight(dy, Tensor.zeros([2, 4, 5, 4]).h, Tensor.zeros([4, 3, 4, 4]).h, s2, p1)).to.throw(/argument 2 \(x\) must have shape \[2, 4, 4, 4\]/);
    expect(() => n.convTranspose2dBackwardWeight(dy, x, Tensor.zeros([4, 2, 4, 4]).h, s2, p1)).to.throw(/argument 3 \(dw\).*argument 1 \(dy\)/);
    expect(() => n.convTranspose2dBackwardWeight(dy, x, Tensor.zeros([5, 3, 4, 4]).h, s2, p1)).to.throw(/argument 2 \(x\) must have shape \[2, 5, 4, 4\]/);
  }));
});

// ---------------------------------------------------------------- fused conv + bias + activation (CPU twin)
describe('conv2d_forward_act, conv_transpose2d_forward_act (CPU)', () => {
  // The CPU twin of the GPU's fused epilogues is the composition of the separate ops (each checked above and in
  // act.test.ts against float64), bit for bit.
  opCase({ ops: ['conv2d_forward_act', 'conv_transpose2d_forward_act'], name: 'fused conv / conv-transpose + bias + activation on the CPU equal the separate ops', cpu: () => {
    const x = Tensor.fromArray(randArray(2 * 3 * 7 * 7, 400), [2, 3, 7, 7]), w = Tensor.fromArray(randArray(4 * 3 * 3 * 3, 401), [4, 3, 3, 3]);
    const b = Tensor.fromArray(randArray(4, 402), [4]), o = { stride: 2, padding: 1 };
    const y = E.conv2dForward(x, w, b, o);
    expect(C.conv2dForwardAct(x, w, b, 'none', o).toFloat32Array()).to.deep.equal(y.toFloat32Array());
    expect(C.conv2dForwardAct(x, w, b, 'relu', o).toFloat32Array()).to.deep.equal(E.relu(y).toFloat32Array());
    expect(C.conv2dForwardAct(x, w, b, 'leaky_relu', o, 0.2).toFloat32Array()).to.deep.equal(E.leakyRelu(y, 0.2).toFloat32Array());
    expect(C.conv2dForwardAct(x, w, null, 'tanh', o).toFloat32Array()).to.deep.equal(E.tanh(E.conv2dForward(x, w, null, o)).toFloat32Array());
    const wt = Tensor.fromArray(randArray(3 * 5 * 4 * 4, 403), [3, 5, 4, 4]), ot = { stride: 2, padding: 1, outputPadding: 1 };
    const yt = E.convTranspose2dForward(x, wt, null, ot);
    expect(C.convTranspose2dForwardAct(x, wt, null, 'sigmoid', ot).toFloat32Array()).to.deep.equal(E.sigmoid(yt).toFloat32Array());
  } });
  // The direct kernel (channel counts ≥ 16) stores (leaky) ReLU with each output row instead of a second pass: still
  // the separate ops bit for bit, on InceptionV3's shapes (1×7 with 'same' pads, 1×1, 3×3 stride 2, partial blocks),
  // 1 and 2 threads, and the GEMM path for comparison.
  opCase({ ops: ['conv2d_forward_act'], name: 'fused (leaky) ReLU in the direct kernel\'s store equals the separate ops', cpu: () => {
    const shapes: [number[], number[], P2, P4][] = [
      [[2, 20, 9, 11], [37, 20, 1, 7], [1, 1], [0, 0, 3, 3]],
      [[3, 48, 5, 5], [40, 48, 1, 1], [1, 1], [0, 0, 0, 0]],
      [[1, 32, 13, 13], [16, 32, 3, 3], [2, 2], [0, 0, 0, 0]],
    ];
    shapes.forEach(([xs, ws, stride, padding], i) => E.tidy(() => {
      const x = E.Tensor.fromArray(randArray(xs.reduce((a, v) => a * v, 1), 410 + i), xs);
      const w = E.Tensor.fromArray(randArray(ws.reduce((a, v) => a * v, 1), 420 + i, -0.2, 0.2), ws);
      const b = E.Tensor.fromArray(randArray(ws[0], 430 + i), [ws[0]]), o = { stride, padding };
      for (const kernel of ['direct', 'auto', 'gemm'])
        for (const threads of [1, 2]) withConvTuning({ kernel, threads, serialMacs: 0 }, () => {
          const y = E.conv2dForward(x, w, b, o);
          const what = `shape ${i} ${kernel} ${threads} threads`;
          expect(C.conv2dForwardAct(x, w, b, 'relu', o).toFloat32Array(), what).to.deep.equal(E.relu(y).toFloat32Array());
          expect(C.conv2dForwardAct(x, w, b, 'leaky_relu', o, 0.2).toFloat32Array(), what).to.deep.equal(E.leakyRelu(y, 0.2).toFloat32Array());
          expect(C.conv2dForwardAct(x, w, null, 'relu', o).toFloat32Array(), what).to.deep.equal(E.relu(E.conv2dForward(x, w, null, o)).toFloat32Array());
        });
    }));
  } });
});

// ---------------------------------------------------------------- CUDA: parity with the CPU twin (rules: ../devices.ts)
// Every kernel variant forced in turn (conv_parity.ts); the full-size DCGAN-256 rows are in ../cuda/conv_full.test.ts.
describe('conv2d, conv_transpose2d, fused epilogues (CUDA vs the CPU twin)', () => {
  const geoms: ConvGeom[] = [
    { name: 'k3 s1 p1', n: 2, c: 3, h: 9, w: 9, k: 5, ...K3S1P1 },
    { name: 'k4 s2 p1 (DCGAN)', n: 3, c: 8, h: 16, w: 12, k: 20, ...K4S2P1 },
    { name: 'k4 s1 p0 to 1×1 (DCGAN head)', n: 5, c: 16, h: 4, w: 4, k: 1, r: 4, s: 4, stride: [1, 1], pad: [0, 0, 0, 0] },
    { name: 'k4 s2 p1 from 1 channel (D1: backward-data has one output channel)', n: 2, c: 1, h: 16, w: 14, k: 8, ...K4S2P1 },
    { name: 'k1 s1, K·RS % 4 ≠ 0', n: 2, c: 7, h: 5, w: 6, k: 9, r: 1, s: 1, stride: [1, 1], pad: [0, 0, 0, 0] },
    { name: 'k3 s2 asymmetric pad (TF same)', n: 2, c: 4, h: 11, w: 10, k: 6, r: 3, s: 3, stride: [2, 2], pad: [0, 1, 1, 1] },
    { name: 'k5×2 s3×1, kernel ≠ stride multiple', n: 1, c: 3, h: 14, w: 7, k: 4, r: 5, s: 2, stride: [3, 1], pad: [2, 1, 0, 1] },
    { name: 'k2 s3 (phases without taps)', n: 2, c: 3, h: 9, w: 9, k: 4, r: 2, s: 2, stride: [3, 3], pad: [0, 0, 0, 0] },
    { name: 'many tiles: 300 px × 130 filters, C·R·S = 144', n: 3, c: 16, h: 10, w: 10, k: 130, ...K3S1P1 },
  ];
  // the emulator skips k2 s3 unless MRIGAN_EMU_FULL=1 (slow there)
  const quick = emulated && !process.env.MRIGAN_EMU_FULL;
  forDevices(geoms.filter((g) => !(quick && g.name.startsWith('k2 s3'))).map((gm) => ({
    ops: ['conv2d_forward', 'conv2d_backward_data', 'conv2d_backward_weight'],
    name: `conv2d ${gm.name}: forward, backward-data, backward-weight × every kernel`,
    cuda: (dev: Device) => conv2dParity(dev, gm),
  })));

  const tgeoms: ConvTGeom[] = [
    { name: 'k4 s2 p1 (DCGAN)', n: 2, cin: 12, cout: 6, p: 5, q: 4, ...K4S2P1, op: [0, 0] },
    { name: 'k4 s1 p0 from 1×1 (DCGAN first layer)', n: 3, cin: 10, cout: 24, p: 1, q: 1, r: 4, s: 4, stride: [1, 1], pad: [0, 0, 0, 0], op: [0, 0] },
    { name: 'k3 s2 output padding 1', n: 2, cin: 5, cout: 3, p: 4, q: 5, r: 3, s: 3, stride: [2, 2], pad: [1, 1, 1, 1], op: [1, 1] },
    { name: 'k4 s2 p1 to 1 channel (G7)', n: 2, cin: 6, cout: 1, p: 8, q: 7, ...K4S2P1, op: [0, 0] },
    { name: 'k3 s1 p1 to 1 channel (cepa2024 head)', n: 2, cin: 8, cout: 1, p: 6, q: 6, ...K3S1P1, op: [0, 0] },
  ];
  forDevices(tgeoms.map((t) => ({
    ops: ['conv_transpose2d_forward', 'conv_transpose2d_backward_data', 'conv_transpose2d_backward_weight'],
    name: `convTranspose2d ${t.name}: forward, backward-data, backward-weight × every kernel`,
    cuda: (dev: Device) => convTranspose2dParity(dev, t),
  })));

  opCase({ ops: ['conv2d_forward_act', 'conv_transpose2d_forward_act'], name: 'fused bias + activation epilogues match the separate CPU ops', cuda: (dev) => {
    const x = both(dev, [2, 4, 9, 9], 220), w = both(dev, [6, 4, 4, 4], 221, -0.3, 0.3), b = both(dev, [6], 222);
    const xt = both(dev, [2, 6, 5, 5], 223), wt = both(dev, [6, 3, 4, 4], 224, -0.3, 0.3), bt = both(dev, [3], 225);
    const o = { stride: [2, 2] as [number, number], padding: 1 };
    for (const act of ['none', 'relu', 'leaky_relu', 'tanh', 'sigmoid'] as const) {
      for (const tf of [false, true]) {
        C.setTf32(tf);
        const tol = tf ? 5e-3 : 2e-5;
        const yc = C.conv2dForwardAct(x.c, w.c, b.c, act, o, 0.2);
        same(C.conv2dForwardAct(x.g, w.g, b.g, act, o, 0.2), yc, tol, tol, `conv ${act} tf32=${tf}`);
        const tc = C.convTranspose2dForwardAct(xt.c, wt.c, bt.c, act, o, 0.2);
        same(C.convTranspose2dForwardAct(xt.g, wt.g, bt.g, act, o, 0.2), tc, tol, tol, `conv-T ${act} tf32=${tf}`);
      }
    }
    // the CPU twin is the composition of the separate ops
    const sep = E.leakyRelu(E.conv2dForward(x.c, w.c, b.c, o), 0.2);
    same(C.conv2dForwardAct(x.c, w.c, b.c, 'leaky_relu', o, 0.2).to(dev), sep, 0, 0, 'CPU fused = separate');
    expect(() => C.conv2dForwardAct(x.g, w.g, b.g, 'gelu' as C.Activation, o)).to.throw(/act/);
  } });
});
