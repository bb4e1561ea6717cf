// SyncBatchNorm with one rank (reduce = identity) is BatchNorm on the same batch: forward, running statistics,
// backward, the penalty's tangent, backward-data and pair-backward, parameter grads — against the native kernels.
// Its splitting across real ranks is tested under mpirun (test/dist).
import { expect } from 'chai';
import { Tensor } from '../../lib/engine';
import { BatchNorm, BatchNorm1d, BatchNorm2d, SyncBatchNorm, SyncBatchNorm1d, SyncBatchNorm2d } from '../../lib/nn';
import { randArray, expectClose, maxAbs } from '../helpers';

let seed = 500;
const rnd = (shape: number[], lo = -1, hi = 1): Tensor => Tensor.fromArray(randArray(shape.reduce((a, b) => a * b, 1), seed++, lo, hi), shape);
const close = (a: Tensor, b: Tensor, what: string): void => {
  const w = b.toFloat32Array();
  expectClose(a.toFloat32Array(), w, 2e-5, 2e-6 * Math.max(1, maxAbs(w)), what);
};

function pair(kind: '1d' | '2d', c: number): [BatchNorm, SyncBatchNorm] {
  const o = { momentum: 0.1, eps: 1e-3 };
  const [a, b] = kind === '1d' ? [new BatchNorm1d(c, o), new SyncBatchNorm1d(c, o)] : [new BatchNorm2d(c, o), new SyncBatchNorm2d(c, o)];
  const gamma = rnd([c], 0.5, 1.5), beta = rnd([c]);
  for (const l of [a, b]) { l.weight.value.copyFrom(gamma); l.bias.value.copyFrom(beta); }
  return [a, b];
}

describe('nn: SyncBatchNorm with one rank = BatchNorm', () => {
  for (const [kind, shape] of [['2d', [3, 4, 5, 5]], ['1d', [6, 7]]] as const) {
    it(`${kind} [${shape}]: forward, running stats, backward and every penalty pass`, () => {
      const [bn, sbn] = pair(kind, shape[1]);
      const x = rnd([...shape], -2, 3), dy = rnd([...shape]), xd = rnd([...shape]), yb = rnd([...shape]), ydb = rnd([...shape]);
      close(sbn.forward(x), bn.forward(x), 'forward');
      close(sbn.runningMean.value, bn.runningMean.value, 'running mean');
      close(sbn.runningVar.value, bn.runningVar.value, 'running var');
      close(sbn.backward(dy), bn.backward(dy), 'backward dx');
      close(sbn.weight.grad, bn.weight.grad, 'dgamma');
      close(sbn.bias.grad, bn.bias.grad, 'dbeta');
      close(sbn.jvp(xd), bn.jvp(xd), 'jvp');
      close(sbn.backwardData(dy), bn.backwardData(dy), 'backwardData');
      for (const withYbar of [true, false]) {
        bn.zeroGrad(); sbn.zeroGrad();
        const r1 = bn.pairBackward(withYbar ? yb : null, ydb), r2 = sbn.pairBackward(withYbar ? yb : null, ydb);
        close(r2.xbar!, r1.xbar!, `xbar${withYbar ? '' : ' (ȳ = 0)'}`);
        close(r2.xdotbar!, r1.xdotbar!, 'xdotbar');
        close(sbn.weight.grad, bn.weight.grad, 'pair dgamma');
        close(sbn.bias.grad, bn.bias.grad, 'pair dbeta');
      }
      expect(sbn.pairBackward(null, ydb, { xbar: false }).xbar).to.equal(null);
    });
  }

  it('reduces with the hook it is given (sums doubled by a fake second rank double the count, not the statistics)', () => {
    const calls: number[] = [];
    const s = new SyncBatchNorm2d(2, { momentum: 0.1, eps: 1e-3, reduce: (v) => { calls.push(v.length); for (let i = 0; i < v.length; i++) v[i] *= 2; } });
    const [bn] = pair('2d', 2);
    s.weight.value.copyFrom(bn.weight.value); s.bias.value.copyFrom(bn.bias.value);
    const x = rnd([2, 2, 3, 3]);
    close(s.forward(x), bn.forward(x), 'same statistics when every rank holds the same batch'); // mean, var unchanged
    expect(calls).to.deep.equal([1, 2, 2]); // count, Σx, Σ(x − μ)²
  });

  it('eval mode is BatchNorm eval (running statistics)', () => {
    const [bn, sbn] = pair('2d', 3);
    bn.eval(); sbn.eval();
    const x = rnd([2, 3, 4, 4]);
    close(sbn.forward(x), bn.forward(x), 'eval forward');
    close(sbn.jvp(x), bn.jvp(x), 'eval jvp');
  });
});
