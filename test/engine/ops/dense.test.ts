// Dense (PyTorch Linear) and matmul (native/cpu/dense.cc, gemm.cc) against float64 loops written here, under
// both GEMMs (OpenBLAS when the build has it, and the builtin packed GEMM that every build compiles) and several
// thread counts. Sizes cross the builtin GEMM's block edges: register tile 6 x 32 (16 with AVX2), KC = 256 deep,
// MC = 144 rows, NC = 4096 columns.
//
// Tolerance (helpers' expectRef): |got − want| ≤ 1e-5 · mag + 1e-7 per element, mag = Σ|terms| in float64 (≥ |want|);
// float32 dot products of a few hundred terms stay near 1e-6 · mag. matmulRef (helpers) is the float64 loop.
import { expect } from 'chai';
import { Tensor, engineInfo, setThreads, tidy, denseForward, denseBackwardData, denseBackwardWeight, matmul } from '../../../lib/engine';
import { nativeUnchecked as native } from '../../../lib/engine/native';  // misuse tests call the addon with wrong arguments
import { randArray, expectRef, matmulRef, Ref } from '../../helpers';
import * as E from '../../../lib/engine';
import { opCase, both, closeMag, abs } from '../devices';

const REL = 1e-5;

interface Mode { name: string; threads?: number; gemm?: string }
const modes = (): Mode[] => [
  { name: 'default' },
  { name: 'builtin gemm', gemm: 'builtin' },
  { name: 'builtin gemm, 1 thread', gemm: 'builtin', threads: 1 },
  { name: 'builtin gemm, 3 threads', gemm: 'builtin', threads: 3 },
  ...(engineInfo().blas === 'openblas' ? [{ name: 'openblas', gemm: 'openblas' }, { name: 'openblas, 1 thread', gemm: 'openblas', threads: 1 }] : []),
];
function inMode<T>(m: Mode, fn: () => T): T {
  const threads = engineInfo().threads;
  const gemm = native().gemmBackend();
  try {
    if (m.threads) setThreads(m.threads);
    if (m.gemm) native().gemmBackend(m.gemm);
    return fn();
  } finally {
    setThreads(threads);
    native().gemmBackend(gemm);
  }
}

describe('dense (CPU)', () => {
  // [n, in, out]
  const shapes: [number, number, number][] = [[1, 1, 1], [3, 7, 5], [1, 100, 3], [9, 130, 70], [5, 300, 33], [150, 17, 40]];
  shapes.forEach(([n, inF, outF], si) => {
    opCase({ ops: ['dense_forward', 'dense_backward_data', 'dense_backward_weight'], name: `[${n}, ${inF}] → [${n}, ${outF}]: forward, backward-data and backward-weight match float64 loops under every GEMM`, cpu: () => tidy(() => {
      const x = randArray(n * inF, 10 * si + 1), w = randArray(outF * inF, 10 * si + 2), b = randArray(outF, 10 * si + 3);
      const dy = randArray(n * outF, 10 * si + 4), dw0 = randArray(outF * inF, 10 * si + 5);
      const y0 = matmulRef(x, w, n, outF, inF, false, true);  // x · wᵀ
      const yb: Ref = { v: y0.v.map((v, i) => v + b[i % outF]), mag: y0.mag.map((v, i) => v + Math.abs(b[i % outF])) };
      const dxRef = matmulRef(dy, w, n, inF, outF, false, false);  // dy · w
      const dwRef = matmulRef(dy, x, outF, inF, n, true, false);  // dyᵀ · x
      const X = Tensor.fromArray(x, [n, inF]), W = Tensor.fromArray(w, [outF, inF]), B = Tensor.fromArray(b, [outF]);
      const DY = Tensor.fromArray(dy, [n, outF]);
      for (const m of modes()) inMode(m, () => {
        const y = denseForward(X, W, B);
        expect(y.shape).to.deep.equal([n, outF]);
        expectRef(y.toFloat32Array(), yb, `${m.name}: y`);
        expectRef(denseForward(X, W, null).toFloat32Array(), y0, `${m.name}: y (no bias)`);
        const dx = denseBackwardData(DY, W);
        expect(dx.shape).to.deep.equal([n, inF]);
        expectRef(dx.toFloat32Array(), dxRef, `${m.name}: dx`);
        const dw = Tensor.fromArray(dw0, [outF, inF]);
        denseBackwardWeight(DY, X, dw);
        denseBackwardWeight(DY, X, dw);  // accumulates: dw0 + 2·dyᵀx
        expectRef(dw.toFloat32Array(), dwRef, `${m.name}: dw (2 calls)`, dw0, 2);
      });
    }) });
  });

  opCase({ ops: ['dense_forward', 'dense_backward_data', 'dense_backward_weight'], name: 'adjoint identity <dense(x), g> = <x, denseBackwardData(g)> and <w, dW> in float64', cpu: () => tidy(() => {
    const [n, inF, outF] = [4, 37, 23];
    const x = randArray(n * inF, 71), w = randArray(outF * inF, 72), g = randArray(n * outF, 73);
    const X = Tensor.fromArray(x, [n, inF]), W = Tensor.fromArray(w, [outF, inF]), G = Tensor.fromArray(g, [n, outF]);
    const y = denseForward(X, W, null).toFloat32Array(), dx = denseBackwardData(G, W).toFloat32Array();
    const dwT = Tensor.zeros([outF, inF]);
    denseBackwardWeight(G, X, dwT);
    const dw = dwT.toFloat32Array();
    let yg = 0, xdx = 0, wdw = 0, scale = 0;
    for (let i = 0; i < y.length; i++) yg += y[i] * g[i];
    for (let i = 0; i < x.length; i++) xdx += x[i] * dx[i];
    for (let i = 0; i < w.length; i++) wdw += w[i] * dw[i];
    for (let i = 0; i < n; i++) for (let o = 0; o < outF; o++) for (let p = 0; p < inF; p++) scale += Math.abs(x[i * inF + p] * w[o * inF + p] * g[i * outF + o]);
    expect(Math.abs(yg - xdx)).to.be.at.most(3 * REL * scale);
    expect(Math.abs(yg - wdw)).to.be.at.most(3 * REL * scale);
  }) });

  it('rejects bad arguments with errors that name them', () => tidy(() => {
    const nat = native();
    const x = Tensor.zeros([3, 5]).h, w = Tensor.zeros([4, 5]).h, b = Tensor.zeros([4]).h;
    expect(() => nat.denseForward(Tensor.zeros([3, 5, 1]).h, w, b)).to.throw(/denseForward: argument 1 \(x\) must be 2-D/);
    expect(() => nat.denseForward(x, Tensor.zeros([4, 6]).h, b)).to.throw(/argument 2 \(w\) \[4, 6\] expects 6 input features but argument 1 \(x\) \[3, 5\] has 5/);
    expect(() => nat.denseForward(x, w, Tensor.zeros([5]).h)).to.throw(/argument 3 \(b\) must have shape \[4\]/);
    expect(() => nat.denseForward(x, 'w', b)).to.throw(/argument 2 \(w\) must be a Tensor/);
    expect(() => nat.denseBackwardData(Tensor.zeros([3, 5]).h, w)).to.throw(/denseBackwardData: argument 2 \(w\) \[4, 5\] has 4 output features but argument 1 \(dy\) \[3, 5\] has 5/);
    const dy = Tensor.zeros([3, 4]).h;
    expect(() => nat.denseBackwardWeight(dy, Tensor.zeros([2, 5]).h, Tensor.zeros([4, 5]).h)).to.throw(/different batch sizes/);
    expect(() => nat.denseBackwardWeight(dy, x, Tensor.zeros([5, 4]).h)).to.throw(/argument 3 \(dw\) must have shape \[4, 5\]/);
    expect(() => nat.matmul(x, w, false, false)).to.throw(/matmul: inner dimensions differ: op\(a\) is 3x5.*op\(b\) is 4x5/);
    expect(() => nat.matmul(x, w, false)).to.throw(/matmul: expected 4 arguments/);
    expect(() => nat.matmul(x, w, 0, true)).to.throw(/argument 3 \(transA\) must be a boolean/);
    expect(() => nat.gemmBackend('mkl')).to.throw(/gemmBackend: argument 1 \(name\) must be 'builtin'/);
  }));
});

describe('matmul (CPU)', () => {
  // [m, n, k]: edges of the register tile, of KC, of MC, and of NC (n > 4096).
  const shapes: [number, number, number][] = [[1, 1, 1], [7, 33, 5], [6, 32, 256], [13, 65, 257], [150, 70, 300], [2, 4100, 3]];
  for (const [m, n, k] of shapes)
    for (const ta of [false, true])
      for (const tb of [false, true])
        opCase({ ops: ['gemm'], name: `${ta ? 'aᵀ' : 'a'}·${tb ? 'bᵀ' : 'b'} for m ${m}, n ${n}, k ${k} matches float64 under every GEMM`, cpu: () => tidy(() => {
          const a = randArray(m * k, m + 3 * k + (ta ? 1 : 0)), b = randArray(k * n, n + 5 * k + (tb ? 1 : 0));
          const want = matmulRef(a, b, m, n, k, ta, tb);
          const A = Tensor.fromArray(a, ta ? [k, m] : [m, k]), B = Tensor.fromArray(b, tb ? [n, k] : [k, n]);
          for (const md of modes()) inMode(md, () => {
            const c = matmul(A, B, ta, tb);
            expect(c.shape).to.deep.equal([m, n]);
            expectRef(c.toFloat32Array(), want, `${md.name}: c`);
          });
        }) });

  opCase({ ops: ['gemm'], name: 'empty inner dimension gives zeros, empty outer dimension an empty tensor', cpu: () => tidy(() => {
    expect(matmul(Tensor.zeros([3, 0]), Tensor.zeros([0, 2])).toArray()).to.deep.equal([0, 0, 0, 0, 0, 0]);
    expect(matmul(Tensor.zeros([0, 4]), Tensor.zeros([4, 2])).shape).to.deep.equal([0, 2]);
    expect(denseForward(Tensor.zeros([0, 4]), Tensor.zeros([2, 4]), Tensor.zeros([2])).shape).to.deep.equal([0, 2]);
  }) });
});

// ---------------------------------------------------------------- CUDA: parity with the CPU twin (rules: ../devices.ts)
describe('dense, gemm (CUDA vs the CPU twin)', () => {
  for (const [n, i, o] of [[3, 5, 7], [8, 128, 16384], [4, 16384, 1], [65, 70, 33]]) {
    opCase({ ops: ['dense_forward', 'dense_backward_data', 'dense_backward_weight'], name: `dense forward / backward-data / backward-weight [${n}, ${i}] → ${o}`, cuda: (dev) => {
      const x = both(dev, [n, i], 60), w = both(dev, [o, i], 61, -0.1, 0.1), b = both(dev, [o], 62), dy = both(dev, [n, o], 63);
      const wa = abs(w.c), xa = abs(x.c), dya = abs(dy.c);
      const y = E.denseForward(x.g, w.g, b.g).toFloat32Array(), yc = E.denseForward(x.c, w.c, b.c).toFloat32Array();
      closeMag(y, yc, E.denseForward(xa, wa, abs(b.c)).toFloat32Array(), 2e-5, 'dense forward');
      closeMag(E.denseBackwardData(dy.g, w.g).toFloat32Array(), E.denseBackwardData(dy.c, w.c).toFloat32Array(),
        E.denseBackwardData(dya, wa).toFloat32Array(), 2e-5, 'dense backward-data');
      const dw = both(dev, [o, i], 64), dwa = Tensor.zeros([o, i]);
      E.denseBackwardWeight(dy.g, x.g, dw.g);
      E.denseBackwardWeight(dy.c, x.c, dw.c);
      E.denseBackwardWeight(dya, xa, dwa);
      closeMag(dw.g.toFloat32Array(), dw.c.toFloat32Array(), E.add(dwa, abs(Tensor.fromArray(dw.a, [o, i]))).toFloat32Array(), 2e-5, 'dense backward-weight');
    } });
  }

  opCase({ ops: ['gemm'], name: 'matmul with every transpose combination', cuda: (dev) => {
    for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      const [m, n, k] = [37, 70, 129];
      const a = both(dev, ta ? [k, m] : [m, k], 70), b = both(dev, tb ? [n, k] : [k, n], 71);
      closeMag(E.matmul(a.g, b.g, ta, tb).toFloat32Array(), E.matmul(a.c, b.c, ta, tb).toFloat32Array(),
        E.matmul(abs(a.c), abs(b.c), ta, tb).toFloat32Array(), 2e-5, `matmul ta=${ta} tb=${tb}`);
    }
  } });
});
