// Conv → activation fusion in Sequential.forward (lib/nn/sequential.ts): which layer pairs fuse, and that the fused
// path gives bit-identical forward, backward, tangent (jvp), pair-backward and gradient penalty. Fusion runs on the
// GPU only; here `fusion.cpu` sends the same Sequential code path through the CPU twin of the fused epilogue (the
// separate ops composed), so any difference could only come from the fusion bookkeeping: the adopted activation
// caches (LeakyReLU keeps y instead of x), the missing pre-activation tensors, ownership. test/engine/cuda/sequential.test.ts checks
// the GPU kernels of the same path against the CPU.
import { expect } from 'chai';
import { Tensor, tidy } from '../../lib/engine';
import {
  Layer, Sequential, Conv2d, ConvTranspose2d, Dense, BatchNorm2d, LeakyReLU, ReLU, Tanh, Sigmoid, Flatten, Reshape,
  fusablePairs, fusion,
} from '../../lib/nn';
import { buildModel } from '../../lib/models';
import { gradientPenalty } from '../../lib/train/penalty';
import { randArray } from '../helpers';

class MyConv extends Conv2d {}
class MyLeaky extends LeakyReLU {}

const pairs = (layers: Layer[], device: 'cpu' | 'cuda:0' = 'cuda:0'): string[] =>
  fusablePairs(layers, device).map((p) => `${p.conv}:${p.act}${p.act === 'leaky_relu' ? `(${p.slope})` : ''}`);

let seed = 500;
const rnd = (shape: number[], lo = -1, hi = 1): Tensor => Tensor.fromArray(randArray(shape.reduce((a, b) => a * b, 1), seed++, lo, hi), shape);
/** Parameters of O(1) effect, so that pre-activations take both signs. */
function randomize(m: Layer): void {
  for (const p of m.params()) {
    const fanIn = p.value.numel / p.value.shape[0];
    p.value.copyFrom(rnd(p.value.shape, p.role === 'weight' ? -1.5 / Math.sqrt(fanIn) : -0.5, p.role === 'weight' ? 1.5 / Math.sqrt(fanIn) : 0.5));
  }
}
const copyParams = (to: Layer, from: Layer): void => from.params().forEach((p, i) => { to.params()[i].value.copyFrom(p.value); });
const grads = (m: Layer): number[][] => m.params().map((p) => p.grad.toArray());
const bits = (t: Tensor): number[] => Array.from(new Uint32Array(t.toFloat32Array().buffer));
const withCpuFusion = <T>(fn: () => T): T => {
  fusion.cpu = true;
  try { return fn(); } finally { fusion.cpu = false; }
};

/** A critic with every fusable pair kind, a negative slope, a nested Sequential and a pair at the very end. */
const critic = (): Sequential => new Sequential([
  new Conv2d(2, 4, 4, { stride: 2, padding: 1 }), new LeakyReLU(0.2),
  new Conv2d(4, 4, 3, { padding: 1, bias: false }), new ReLU(),
  new Sequential([new Conv2d(4, 3, 3, { padding: 1 }), new LeakyReLU(-0.1), new Conv2d(3, 3, 3, { padding: 1 }), new Sigmoid()]),
  new Conv2d(3, 2, 3, { stride: 2, padding: 1 }), new Tanh(),
  new Flatten(), new Dense(8, 3), new LeakyReLU(0.3),
  new Reshape([3, 1, 1]), new ConvTranspose2d(3, 2, 2, { stride: 2 }), new LeakyReLU(0.05),
]);
/** A generator tail: conv-T → ReLU → conv-T → Tanh (the output is the fused output). */
const generator = (): Sequential => new Sequential([
  new ConvTranspose2d(3, 4, 4, { stride: 2, padding: 1 }), new ReLU(), new ConvTranspose2d(4, 2, 4, { stride: 2, padding: 1 }), new Tanh(),
]);

describe('nn fusion: which conv → activation pairs fuse', () => {
  it('picks exactly the conv/conv-T → LeakyReLU(slope ≥ 0) / ReLU / Tanh / Sigmoid pairs', () => {
    const layers: Layer[] = [
      new Conv2d(1, 2, 3), new LeakyReLU(0.2),           // 0: fused
      new Conv2d(2, 2, 3), new BatchNorm2d(2), new ReLU(), // conv → BN: no
      new ConvTranspose2d(2, 2, 3), new ReLU(),           // 5: fused (relu)
      new Conv2d(2, 2, 3), new LeakyReLU(-0.5),           // negative slope: no
      new Conv2d(2, 2, 3), new LeakyReLU(0),              // 9: fused, slope 0
      new MyConv(2, 2, 3), new LeakyReLU(0.2),            // subclass of Conv2d: no
      new Conv2d(2, 2, 3), new MyLeaky(0.2),              // subclass of LeakyReLU: no
      new Dense(2, 2), new Tanh(),                        // Dense: no
      new ConvTranspose2d(2, 2, 3), new Tanh(),           // 17: fused
      new Conv2d(2, 2, 3), new Sigmoid(),                 // 19: fused
      new Conv2d(2, 2, 3), new Sequential([new ReLU()]),  // across a nested boundary: no
      new Sequential([new Conv2d(2, 2, 3)]), new ReLU(),  // nor the other way
      new Conv2d(2, 2, 3),                                // last layer, nothing follows
    ];
    expect(pairs(layers)).to.deep.equal(['0:leaky_relu(0.2)', '5:relu', '9:leaky_relu(0)', '17:tanh', '19:sigmoid']);
    expect(pairs(layers, 'cpu'), 'the CPU never fuses').to.deep.equal([]);
    fusion.enabled = false;
    try { expect(pairs(layers), 'fusion.enabled = false').to.deep.equal([]); } finally { fusion.enabled = true; }
    expect(pairs([new Tanh(), new Conv2d(1, 1, 1)])).to.deep.equal([]);
    expect(pairs([])).to.deep.equal([]);
  });

  it('on the built models: every conv → LeakyReLU of the dcgan critic, conv-T → Tanh of the generator', () => {
    const D = buildModel('dcgan', 'critic', { size: 64, width: 1 }), G = buildModel('dcgan', 'generator', { size: 64, width: 1 });
    const convs = D.layers.filter((l, i) => l instanceof Conv2d && D.layers[i + 1] instanceof LeakyReLU).length;
    expect(convs).to.be.greaterThan(2);
    expect(fusablePairs(D.layers, 'cuda:0').length).to.equal(convs);
    expect(fusablePairs(D.layers, 'cuda:0').every((p) => p.act === 'leaky_relu' && p.slope === 0.2)).to.equal(true);
    expect(fusablePairs(G.layers, 'cuda:0').map((p) => p.act)).to.include('tanh');
    expect(fusablePairs(D.layers, 'cpu')).to.deep.equal([]);
    D.dispose();
    G.dispose();
  });

  it('a LeakyReLU with a negative slope refuses to adopt its output', () => {
    expect(() => new LeakyReLU(-0.1).adoptOutput(Tensor.zeros([1]))).to.throw(/slope -0.1 < 0/);
  });
});

describe('nn fusion: the fused Sequential path equals the separate ops bit for bit (CPU twin)', () => {
  for (const [name, make, xs] of [['critic', critic, [3, 2, 8, 8]], ['generator', generator, [2, 3, 3, 3]]] as const) {
    it(`${name}: forward, backward, jvp, pair-backward; the fused Sequential holds fewer intermediates and frees them`, () => {
      const a = make(), b = make();
      randomize(a);
      copyParams(b, a);
      // Half the input is exactly 0, so bias-free convs meet pre-activations of exactly 0 (ReLU: y = 0, x = 0).
      const x = rnd([...xs]), xv = x.toFloat32Array();
      for (let i = 0; i < xv.length / 2; i++) xv[i] = 0;
      const x0 = Tensor.fromArray(xv, [...xs]);
      const xdot = rnd([...xs]);

      const ya = a.forward(x0);
      const yb = withCpuFusion(() => tidy(() => b.forward(x0)));  // tidy: the cache survives, the output is returned
      expect(bits(yb)).to.deep.equal(bits(ya));
      const nPairs = fusablePairs(b.layers, 'cuda:0').length;
      expect(nPairs).to.be.greaterThan(1);
      expect(b.acts.length).to.equal(a.acts.length - nPairs);
      expect(b.acts.every((t) => !t.disposed)).to.equal(true);

      const dy = rnd(ya.shape);
      const dxa = a.backward(dy), dxb = b.backward(dy);
      expect(bits(dxb)).to.deep.equal(bits(dxa));
      expect(grads(b)).to.deep.equal(grads(a));

      const yda = a.jvp(xdot), ydb = b.jvp(xdot);
      expect(bits(ydb)).to.deep.equal(bits(yda));
      const ybar = rnd(ya.shape), ydbar = rnd(ya.shape);
      const pa = a.pairBackward(ybar, ydbar), pb = b.pairBackward(ybar, ydbar);
      expect(bits(pb.xbar!)).to.deep.equal(bits(pa.xbar!));
      expect(bits(pb.xdotbar!)).to.deep.equal(bits(pa.xdotbar!));
      expect(grads(b)).to.deep.equal(grads(a));
      const sa = a.backwardDataSignals(dy), sb = b.backwardDataSignals(dy);
      expect(bits(sb.dx)).to.deep.equal(bits(sa.dx));

      const acts = [...b.acts];
      b.release();
      expect(acts.every((t) => t.disposed), 'release frees every intermediate').to.equal(true);
      expect(x0.disposed || yb.disposed, 'input and output stay with the caller').to.equal(false);
      expect(() => b.backward(dy)).to.throw(/no forward cache/);
      for (const t of [x, x0, xdot, ya, yb, dy, dxa, dxb, yda, ydb, ybar, ydbar, pa.xbar!, pa.xdotbar!, pb.xbar!, pb.xdotbar!,
        sa.dx, sb.dx, ...sa.signals, ...sb.signals]) t.dispose();
      a.releaseTangents();
      b.releaseTangents();
      a.dispose();
      b.dispose();
    });
  }

  it('eval mode and a second forward (cache replaced) give the same results', () => {
    const a = critic().eval(), b = critic().eval();
    randomize(a);
    copyParams(b, a);
    const x1 = rnd([2, 2, 8, 8]), x2 = rnd([2, 2, 8, 8]);
    withCpuFusion(() => b.forward(x1)).dispose();
    const ya = a.forward(x2), yb = withCpuFusion(() => b.forward(x2));
    expect(bits(yb)).to.deep.equal(bits(ya));
    const dy = rnd(ya.shape);
    expect(bits(b.backward(dy))).to.deep.equal(bits(a.backward(dy)));
    expect(grads(b)).to.deep.equal(grads(a));
    a.dispose();
    b.dispose();
  });

  it('gradient penalty of the dcgan critic (conv → LeakyReLU throughout): same GP, norms and ∂GP/∂θ', () => {
    const a = buildModel('dcgan', 'critic', { size: 64, width: 1, seed: 3 }), b = buildModel('dcgan', 'critic', { size: 64, width: 1, seed: 3 });
    randomize(a);
    copyParams(b, a);
    const real = rnd([2, 1, 64, 64]), fake = rnd([2, 1, 64, 64]), eps = Tensor.fromArray([0.3, 0.8], [2]);
    const ra = gradientPenalty(a, real, fake, eps, 10), rb = withCpuFusion(() => gradientPenalty(b, real, fake, eps, 10));
    expect(rb.gp).to.equal(ra.gp);
    expect(rb.norms).to.deep.equal(ra.norms);
    expect(grads(b)).to.deep.equal(grads(a));
    expect(grads(a).some((g) => g.some((v) => v !== 0)), 'the penalty gradient is not trivially zero').to.equal(true);
    a.dispose();
    b.dispose();
  });
});
