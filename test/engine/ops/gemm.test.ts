// gemm (registry op gemm, native/cpu/gemm.cc): c = alpha·op(a)·op(b) + beta·c against a float64 triple loop.
// Tolerance: float32 products summed over k terms: |err| <= 1e-6·k·Σ|terms| bound, taken as rtol 1e-5 of the
// element's absolute sum Σ|alpha·a·b| + |beta·c| (atol), plus rtol 1e-6 of the value.
import { expect } from 'chai';
import { Tensor, gemm, matmul } from '../../../lib/engine';
import { nativeUnchecked } from '../../../lib/engine/native';
import { expectClose, randArray, matmulRef } from '../../helpers';

// alpha·op(a)·op(b) + beta·c from matmulRef; mag = max over elements of Σ|alpha·a·b| + |beta·c|.
function ref(a: Float32Array, b: Float32Array, c: Float32Array | null, m: number, n: number, k: number, ta: boolean,
  tb: boolean, alpha: number, beta: number): { y: number[]; mag: number } {
  const ab = matmulRef(a, b, m, n, k, ta, tb);
  const y: number[] = [];
  let mag = 0;
  for (let e = 0; e < m * n; e++) {
    const cv = c ? c[e] : 0;
    y.push(alpha * ab.v[e] + beta * cv);
    mag = Math.max(mag, Math.abs(alpha) * ab.mag[e] + Math.abs(beta * cv));
  }
  return { y, mag };
}

describe('gemm (CPU)', () => {
  const shapes: [number, number, number][] = [[1, 1, 1], [5, 9, 3], [17, 33, 65]];
  for (const [m, n, k] of shapes)
    for (const ta of [false, true])
      for (const tb of [false, true])
        it(`alpha·${ta ? 'aᵀ' : 'a'}·${tb ? 'bᵀ' : 'b'} + beta·c for m ${m}, n ${n}, k ${k}`, () => {
          const a = randArray(m * k, 1 + m + k), b = randArray(k * n, 2 + n + k), c0 = randArray(m * n, 3 + m + n);
          const A = Tensor.fromArray(a, ta ? [k, m] : [m, k]), B = Tensor.fromArray(b, tb ? [n, k] : [k, n]);
          // new output: beta unused
          const r1 = ref(a, b, null, m, n, k, ta, tb, -0.75, 0);
          const y1 = gemm(A, B, { transA: ta, transB: tb, alpha: -0.75, beta: 3 });
          expect(y1.shape).to.deep.equal([m, n]);
          expectClose(y1.toFloat32Array(), r1.y, 1e-6, 1e-5 * r1.mag, 'new c');
          // accumulate into c, in place, returning the same tensor
          const C = Tensor.fromArray(c0, [m, n]);
          const r2 = ref(a, b, c0, m, n, k, ta, tb, 1.5, -0.5);
          const y2 = gemm(A, B, { transA: ta, transB: tb, alpha: 1.5, beta: -0.5, c: C });
          expect(y2).to.equal(C);
          expectClose(C.toFloat32Array(), r2.y, 1e-6, 1e-5 * r2.mag, 'c +=');
          // matmul is gemm with alpha 1 and a new output
          expect(matmul(A, B, ta, tb).toArray()).to.deep.equal(gemm(A, B, { transA: ta, transB: tb }).toArray());
        });

  it('rejects bad arguments with errors that name them', () => {
    const nat = nativeUnchecked();
    const a = Tensor.zeros([3, 5]), b = Tensor.zeros([5, 4]);
    expect(() => gemm(a, b, { c: Tensor.zeros([4, 3]) })).to.throw(/gemm: argument 7 \(c\) must have shape \[3, 4\]/);
    expect(() => gemm(a, Tensor.zeros([4, 5]))).to.throw(/gemm: inner dimensions differ/);
    const sq = Tensor.zeros([3, 3]);
    expect(() => gemm(sq, sq, { c: sq })).to.throw(/gemm: argument 7 \(c\) must not share storage with a or b/);
    expect(() => gemm(sq, sq, { c: sq.reshape([3, 3]) })).to.throw(/must not share storage/);
    expect(() => nat.gemm(a.h, b.h, false)).to.throw(/gemm: expected 4 arguments/);
    expect(() => nat.gemm(a.h, b.h, false, false, 'x')).to.throw(/argument 5 \(alpha\) must be a number/);
    expect(() => nat.gemm(a.h, b.h, false, false, 1, 0, 'c')).to.throw(/argument 7 \(c\) must be a Tensor/);
  });
});
