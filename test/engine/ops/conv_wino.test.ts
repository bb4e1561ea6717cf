// The Winograd F(3×3, 2×2) and F(4×4, 2×2) kernels for 4×4 stride-2 convs (native/cpu/conv_wino.cc), each tile forced: conv2d forward, the fused
// forward + LeakyReLU, backward-data and backward-weight (accumulating into a non-zero dW), and the conv-transpose
// passes that are these (backward-data = forward, forward = backward-data, backward-weight with x and dy swapped), forced with convTuning({kernel: 'wino'}), against float64 loops (conv_ref.ts) and the
// direct kernels. The shapes reach every branch: a
// partial last strip of 32 tiles and fewer tiles than one 16-tile group, tile rows that cross samples, output sizes
// that are not multiples of 3 (tiles cut at the edge), channel counts that are not multiples of 16 (zero lanes) and
// more than 64 (4·C over two KC slices of the GEMM), filter counts that are not multiples of the register tile's 6
// or of 16, more than 144 filters (two GEMM row blocks), more than 128 tiles (the weight gradient's blocks), padding
// 0–3 and asymmetric, batch 1–3, threads 1 and 2.
// Shapes it does not take (3×3, stride 1) fall back silently; in builds without AVX-512 every call falls back, and
// the checks still hold. 'auto' picks it only where it pays (bench/NOTES.md), with the same sums as 'wino' there.
//
// Tolerance as conv.test.ts, |got − want| ≤ 1e-5 · mag + 1e-7 per element (mag = Σ|terms| of that output in float64),
// for F(3×3). F(4×4)'s transforms carry ⅙ and coefficients up to 8, so an output whose own terms are all zero (it
// reads only padding) gets the rounding of its tile's other values instead of an exact 0 (seen: up to 1.3e-7 of the
// tensor's largest mag, in backward-data with padding 0 or 3); its absolute floor is 5e-7 · (1 + that largest mag).
// F(3×3)'s coefficients (0, ±1, ½) keep those zeros exact.
import { expect } from 'chai';
import {
  Tensor, tidy, conv2dForward, conv2dBackwardData, conv2dBackwardWeight, convTranspose2dForward, convTranspose2dBackwardData,
  convTranspose2dBackwardWeight,
} from '../../../lib/engine';
import { conv2dForwardAct } from '../../../lib/engine/cuda';
import { randArray, expectRef, Ref } from '../../helpers';
import { opCase } from '../devices';
import { ConvCase, P2, geom, convRef, convBackwardDataRef, convBackwardWeightRef, withConvTuning, K4S2P1 } from './conv_ref';

const SLOPE = 0.2;
const leakyRef = (r: Ref): Ref => ({ v: r.v.map((v) => (v > 0 ? v : SLOPE * v)), mag: r.mag });

const cases: ConvCase[] = [
  { name: 'D3-like 16→32, 16x16 (partial strip, one sample)', n: 1, c: 16, H: 16, W: 16, k: 32, ...K4S2P1, bias: true },
  { name: '3→5, odd 9x11 (fewer than 16 tiles)', n: 1, c: 3, H: 9, W: 11, k: 5, ...K4S2P1, bias: true },
  { name: '20→40, 13x10, padding 0 (outputs 5x4: tiles cut)', n: 2, c: 20, H: 13, W: 10, k: 40, r: 4, s: 4, stride: [2, 2], pad: [0, 0, 0, 0], bias: false },
  { name: '70→17, 14x12 (4·C over two KC slices; 17 filters)', n: 3, c: 70, H: 14, W: 12, k: 17, ...K4S2P1, bias: true },
  { name: '16→150, 10x10 (two GEMM row blocks of filters)', n: 2, c: 16, H: 10, W: 10, k: 150, ...K4S2P1, bias: true },
  { name: '8→24, asymmetric padding [0,3,2,1], 11x9', n: 2, c: 8, H: 11, W: 9, k: 24, r: 4, s: 4, stride: [2, 2], pad: [0, 3, 2, 1], bias: true },
  { name: '32→64, 24x24, batch 3 (several strips, tile rows across samples)', n: 3, c: 32, H: 24, W: 24, k: 64, ...K4S2P1, bias: true },
  { name: '16→32, odd 15x13, padding 2 (dx phases of unequal length)', n: 2, c: 16, H: 15, W: 13, k: 32, r: 4, s: 4, stride: [2, 2], pad: [2, 2, 2, 2], bias: true },
  { name: '16→16, 40x40, batch 3 (147 tiles: the weight gradient sums two blocks of 128)', n: 3, c: 16, H: 40, W: 40, k: 16, ...K4S2P1, bias: false },
  { name: '24→20, padding [3,0,1,2], 12x14', n: 1, c: 24, H: 12, W: 14, k: 20, r: 4, s: 4, stride: [2, 2], pad: [3, 0, 1, 2], bias: false },
];

const modes = [3, 4].flatMap((winoTile) => [
  { name: `F(${winoTile}×${winoTile}), 1 thread`, threads: 1, winoTile }, { name: `F(${winoTile}×${winoTile}), 2 threads`, threads: 2, serialMacs: 0, winoTile }]);
const maxOf = (a: ArrayLike<number>): number => { let m = 0; for (let i = 0; i < a.length; i++) m = Math.max(m, a[i]); return m; };

describe('conv2d Winograd F(3×3, 2×2) and F(4×4, 2×2) kernels (CPU, 4×4 stride 2)', () => {
  cases.forEach((cs, ci) => {
    const { p, q } = geom(cs);
    opCase({ ops: ['conv2d_forward', 'conv2d_forward_act', 'conv2d_backward_data', 'conv2d_backward_weight', 'conv_transpose2d_forward', 'conv_transpose2d_backward_data', 'conv_transpose2d_backward_weight'], name: `${cs.name}: [${cs.n},${cs.c},${cs.H},${cs.W}] * [${cs.k},${cs.c},4,4] p[${cs.pad}]: the six conv and conv-transpose passes match float64 and the direct kernel`, cpu: () => tidy(() => {
      const seed = 500 * ci + 11;
      const x = randArray(cs.n * cs.c * cs.H * cs.W, seed + 1), w = randArray(cs.k * cs.c * 16, seed + 2);
      const b = cs.bias ? randArray(cs.k, seed + 3) : null, bT = cs.bias ? randArray(cs.c, seed + 5) : null;
      const dy = randArray(cs.n * cs.k * p * q, seed + 4);
      const dw0 = randArray(cs.k * cs.c * 16, seed + 6);
      const refs = [convRef(cs, x, w, b), leakyRef(convRef(cs, x, w, b)), convRef(cs, x, w, null), convBackwardDataRef(cs, dy, w), convBackwardDataRef(cs, dy, w, bT),
        convBackwardWeightRef(cs, dy, x), convBackwardWeightRef(cs, dy, x)];
      const names = ['y', 'leaky(y)', 'conv-transpose dx', 'dx', 'conv-transpose y', 'dW', 'conv-transpose dW'];
      const base = (e: number): Float32Array | undefined => (e >= 5 ? dw0 : undefined);
      const wgrad = (f: (dw: Tensor) => void): Float32Array => { const dw = Tensor.fromArray(dw0, [cs.k, cs.c, 4, 4]); f(dw); return dw.toFloat32Array(); };
      const X = Tensor.fromArray(x, [cs.n, cs.c, cs.H, cs.W]), Wt = Tensor.fromArray(w, [cs.k, cs.c, 4, 4]);
      const B = b ? Tensor.fromArray(b, [cs.k]) : null, BT = bT ? Tensor.fromArray(bT, [cs.c]) : null;
      const DY = Tensor.fromArray(dy, [cs.n, cs.k, p, q]);
      const o = { stride: cs.stride, padding: cs.pad };
      const oT = { ...o, outputPadding: [(cs.H + cs.pad[0] + cs.pad[1] - 4) % 2, (cs.W + cs.pad[2] + cs.pad[3] - 4) % 2] as P2 };
      const run = (kernel: string, m: { threads: number; serialMacs?: number; winoTile?: number }): Float32Array[] => withConvTuning({ kernel, ...m }, () => [
        conv2dForward(X, Wt, B, o).toFloat32Array(),
        conv2dForwardAct(X, Wt, B, 'leaky_relu', o, SLOPE).toFloat32Array(),
        convTranspose2dBackwardData(X, Wt, o).toFloat32Array(), // dy of the conv-transpose = x of the conv
        conv2dBackwardData(DY, Wt, X.shape, o).toFloat32Array(),
        convTranspose2dForward(DY, Wt, BT, oT).toFloat32Array(),
        wgrad((dw) => conv2dBackwardWeight(DY, X, dw, o)),
        wgrad((dw) => convTranspose2dBackwardWeight(X, DY, dw, o)), // the conv-transpose's dy is x, its input dy
      ]);
      const direct = run('direct', modes[0]);
      const floors = refs.map((r) => 5e-7 * (1 + maxOf(r.mag)));
      let first: Float32Array[] | null = null;
      for (const m of modes) {
        const got = run('wino', m);
        const floor = (e: number): number => (m.winoTile === 4 ? floors[e] : 1e-7);
        got.forEach((g, e) => {
          expectRef(g, refs[e], `${m.name}: ${names[e]}`, base(e), 1, 1e-5, floor(e));
          for (let i = 0; i < g.length; i++) {
            const tol = 2 * (1e-5 * refs[e].mag[i] + floor(e) * (1 + Math.abs(base(e)?.[i] ?? 0)));
            if (!(Math.abs(g[i] - direct[e][i]) <= tol)) expect.fail(`${m.name}: ${names[e]}[${i}] wino ${g[i]}, direct ${direct[e][i]} (tolerance ${tol})`);
          }
        });
        // one thread or two: the same bits (each strip of tiles is summed by one thread in a fixed order)
        if (first && m.threads === 2) got.forEach((g, e) => expect(Buffer.compare(Buffer.from(first![e].buffer), Buffer.from(g.buffer)), `${m.name}: ${names[e]} equals 1 thread's`).to.equal(0));
        first = got;
      }
    }) });
  });

  it('per sample: a sample gives the same bits alone and inside a batch (tiles never mix samples)', () => tidy(() => {
    const cs: ConvCase = { name: 'b', n: 3, c: 16, H: 20, W: 20, k: 32, ...K4S2P1, bias: true };
    const x = randArray(cs.n * cs.c * cs.H * cs.W, 71), w = randArray(cs.k * cs.c * 16, 72), b = randArray(cs.k, 73);
    const Wt = Tensor.fromArray(w, [cs.k, cs.c, 4, 4]), B = Tensor.fromArray(b, [cs.k]);
    const per = cs.c * cs.H * cs.W, { p, q } = geom(cs), out = cs.k * p * q;
    const o = { stride: cs.stride, padding: cs.pad };
    for (const winoTile of [3, 4]) withConvTuning({ kernel: 'wino', threads: 1, winoTile }, () => {
      const all = conv2dForward(Tensor.fromArray(x, [3, cs.c, cs.H, cs.W]), Wt, B, o).toFloat32Array();
      for (let i = 0; i < 3; i++) {
        const one = conv2dForward(Tensor.fromArray(x.slice(i * per, (i + 1) * per), [1, cs.c, cs.H, cs.W]), Wt, B, o).toFloat32Array();
        expect(Buffer.compare(Buffer.from(one.buffer), Buffer.from(all.slice(i * out, (i + 1) * out).buffer)), `F(${winoTile}): sample ${i}`).to.equal(0);
      }
    });
  }));

  it("'auto' takes it for the D2–D4 / G4–G6 shapes with the tile of each pass, and falls back for shapes it does not take", () => tidy(() => {
    const same = (a: Float32Array, b: Float32Array): boolean => Buffer.compare(Buffer.from(a.buffer), Buffer.from(b.buffer)) === 0;
    const passes = ['y', 'dx', 'dW'] as const;
    const outputs = (cs: ConvCase): Record<string, Float32Array> => {
      const X = Tensor.fromArray(randArray(cs.n * cs.c * cs.H * cs.W, 81), [cs.n, cs.c, cs.H, cs.W]);
      const Wt = Tensor.fromArray(randArray(cs.k * cs.c * cs.r * cs.s, 82), [cs.k, cs.c, cs.r, cs.s]);
      const { p, q } = geom(cs);
      const DY = Tensor.fromArray(randArray(cs.n * cs.k * p * q, 83), [cs.n, cs.k, p, q]);
      const o = { stride: cs.stride, padding: cs.pad };
      const r: Record<string, Float32Array> = {};
      for (const [name, t] of [['auto', { kernel: 'auto' }], ['direct', { kernel: 'direct' }], ['F3', { kernel: 'wino', winoTile: 3 }], ['F4', { kernel: 'wino', winoTile: 4 }]] as const) {
        withConvTuning({ ...t, threads: 1 }, () => {
          r[`${name} y`] = conv2dForward(X, Wt, null, o).toFloat32Array();
          r[`${name} dx`] = conv2dBackwardData(DY, Wt, X.shape, o).toFloat32Array();
          const dw = Tensor.zeros([cs.k, cs.c, cs.r, cs.s]);
          conv2dBackwardWeight(DY, X, dw, o);
          r[`${name} dW`] = dw.toFloat32Array();
        });
      }
      return r;
    };
    // where the build has AVX-512 the Winograd sums differ from direct in the last bits; elsewhere all fall back
    const avx512 = (r: Record<string, Float32Array>): boolean => !same(r['F3 y'], r['direct y']);
    const expectPick = (r: Record<string, Float32Array>, what: string, want: Record<(typeof passes)[number], string>): void => {
      for (const ps of passes) {
        const pick = avx512(r) ? want[ps] : 'direct';
        expect(same(r[`auto ${ps}`], r[`${pick} ${ps}`]), `${what} ${ps}: auto = ${pick}`).to.equal(true);
      }
    };
    // D3 at batch 2 (4·C·K = 32768): F(4×4) forward and weight gradient, F(3×3) backward-data
    expectPick(outputs({ name: 'D3', n: 2, c: 64, H: 64, W: 64, k: 128, ...K4S2P1 }), 'D3', { y: 'F4', dx: 'F3', dW: 'F4' });
    // D4 (131072): F(3×3) forward and backward-data, F(4×4) weight gradient
    expectPick(outputs({ name: 'D4', n: 2, c: 128, H: 32, W: 32, k: 256, ...K4S2P1 }), 'D4', { y: 'F3', dx: 'F3', dW: 'F4' });
    // D5 at batch 8 (524288, 72 tiles): direct
    expectPick(outputs({ name: 'D5', n: 8, c: 256, H: 16, W: 16, k: 512, ...K4S2P1 }), 'D5', { y: 'direct', dx: 'direct', dW: 'direct' });
    // 3×3 stride 1: never wino, even forced
    const e = outputs({ name: 'E', n: 1, c: 16, H: 8, W: 8, k: 16, r: 3, s: 3, stride: [1, 1], pad: [1, 1, 1, 1] });
    for (const ps of passes) expect(same(e[`F4 ${ps}`], e[`auto ${ps}`]) && same(e[`F3 ${ps}`], e[`auto ${ps}`]), `3x3 ${ps}: forced wino = auto`).to.equal(true);
  }));
});
