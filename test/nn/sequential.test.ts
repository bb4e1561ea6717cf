// Sequential: PyTorch parameter names, gradients of a composed network vs float64 finite differences, train/eval
// propagation, ownership of intermediates, the summary table.
import { expect } from 'chai';
import { Tensor, Rng } from '../../lib/engine';
import { Sequential, Conv2d, ConvTranspose2d, BatchNorm2d, LeakyReLU, Flatten, Dense, Tanh, Dropout } from '../../lib/nn';
import * as R from './ref';

const build = (): Sequential => new Sequential([
  new Conv2d(2, 3, 3, { stride: 2, padding: 1 }), new BatchNorm2d(3), new LeakyReLU(0.2), new Dropout(0.25, new Rng(3, 1)),
  new Flatten(), new Dense(12, 2), new Tanh(),
]);

describe('nn Sequential', () => {
  it('names parameters, buffers and counters like PyTorch nn.Sequential', () => {
    const m = build();
    expect(m.params().map((p) => `${p.name}:${p.value.shape.join('x')}`)).to.deep.equal(
      ['0.weight:3x2x3x3', '0.bias:3', '1.weight:3', '1.bias:3', '5.weight:2x12', '5.bias:2']);
    expect(m.buffers().map((b) => b.name)).to.deep.equal(['1.running_mean', '1.running_var']);
    expect([...m.counters().keys()]).to.deep.equal(['1.num_batches_tracked']);
    expect([...m.stateDict().keys()]).to.deep.equal(['0.weight', '0.bias', '1.weight', '1.bias', '5.weight', '5.bias', '1.running_mean', '1.running_var']);
    expect(m.numParams()).to.equal(54 + 3 + 6 + 24 + 2);
    const nested = new Sequential([new Dense(2, 2), new Sequential([new Tanh(), new Dense(2, 1)])]);
    expect(nested.params().map((p) => p.name)).to.deep.equal(['0.weight', '0.bias', '1.1.weight', '1.1.bias']);
  });

  it('backward through the whole stack matches finite differences of the composed float64 reference', () => {
    const m = build();
    const xs = [2, 2, 4, 4];
    const drop = m.layers[3] as Dropout;
    R.gradCheck({
      layer: m, xShape: xs, seed: 4,
      ref: (x, [w0, b0, g1, be1, w5, b5]) => {
        const c = R.conv2d(x, xs, w0, [3, 2, 3, 3], b0, [2, 2], [1, 1, 1, 1]);
        const bn = R.batchNorm(c.y, c.ys, g1, be1, 1e-5).y;
        const mask = drop.mask!.toFloat32Array();
        const h = R.leaky(bn, 0.2).map((v, i) => v * mask[i]);
        return R.tanh64(R.dense(h, 2, 12, w5, 2, b5));
      },
    });
  });

  it('train()/eval() reach every layer; release() frees the intermediates', () => {
    const m = build();
    m.eval();
    expect(m.layers.every((l) => !l.training)).to.equal(true);
    m.train();
    expect(m.layers.every((l) => l.training)).to.equal(true);
    const x = Tensor.zeros([2, 2, 4, 4]);
    x.copyFrom(Tensor.full([2, 2, 4, 4], 0.5));
    const y = m.forward(x);
    expect(m.acts.length).to.equal(m.layers.length - 1);
    const acts = [...m.acts];
    expect(acts.every((t) => !t.disposed)).to.equal(true);
    const dx = m.backward(Tensor.full(y.shape, 1));
    expect(dx.shape).to.deep.equal([2, 2, 4, 4]);
    expect(acts.every((t) => !t.disposed), 'backward keeps the forward cache (for the penalty passes)').to.equal(true);
    m.release();
    expect(acts.every((t) => t.disposed)).to.equal(true);
    expect(x.disposed, 'the input is borrowed').to.equal(false);
    expect(() => m.backward(Tensor.full(y.shape, 1))).to.throw(/no forward cache/);
  });

  it('summary lists layers, output shapes and parameter counts', () => {
    const s = build().summary([8, 2, 4, 4], 'toy');
    expect(s).to.match(/^toy: input \[8, 2, 4, 4\]/);
    expect(s).to.match(/0\s+Conv2d\(2→3, k3 s2 p1\)\s+\[8, 3, 2, 2\]\s+57/);
    expect(s).to.match(/4\s+Flatten\s+\[8, 12\]/);
    expect(s).to.match(/total parameters: 89$/);
  });

  it('backward with onReady: conv / dense parameters are handed over before their input gradient, with the same bits', () => {
    const m = new Sequential([
      new Conv2d(2, 4, 3, { stride: 2, padding: 1 }), new BatchNorm2d(4), new LeakyReLU(0.2),
      new ConvTranspose2d(4, 3, 4, { stride: 2, padding: 1 }), new Flatten(), new Dense(3 * 8 * 8, 2),
    ]);
    const rng = new Rng(11, 2);
    const x = rng.normal([2, 2, 8, 8]), dy = rng.normal([2, 2]);
    const run = (onReady?: (ps: unknown[]) => void): Float32Array[] => {
      m.zeroGrad();
      m.forward(x).dispose();
      const dx = m.backward(dy, onReady as never);
      const out = [dx.toFloat32Array(), ...m.params().map((p) => p.grad.toFloat32Array())];
      dx.dispose();
      return out;
    };
    const plain = run();
    const log: string[] = [];
    m.layers.forEach((l, i) => {
      const bd = l.backwardData.bind(l);
      l.backwardData = (g) => { log.push(`data ${i}`); return bd(g); };
    });
    const ready = run((ps) => log.push(`ready ${m.layers.findIndex((l) => l.params()[0] === ps[0])}`));
    // last layer first; 0, 3, 5 (conv, conv-transpose, dense) before their input gradient, 1 (BatchNorm) after its backward
    expect(log).to.deep.equal(['ready 5', 'data 5', 'ready 3', 'data 3', 'ready 1', 'ready 0', 'data 0']);
    ready.forEach((a, i) => expect(Buffer.compare(Buffer.from(a.buffer), Buffer.from(plain[i].buffer)), `output ${i}`).to.equal(0));
    x.dispose();
    dy.dispose();
    m.dispose();
  });
});
