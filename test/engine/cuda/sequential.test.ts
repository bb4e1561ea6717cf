// Sequential.forward on the GPU runs conv → activation pairs as one fused-epilogue conv (lib/nn/sequential.ts).
// The same network on the CPU (separate ops) is the reference. Tolerance: rel 1e-4 + 1e-5·max|cpu| (two fp32 convs
// in a row, forward and back, each within 2e-5 of its magnitude; TF32 off). Skipped, saying why, without a GPU.
import { expect } from 'chai';
import { Tensor, Device } from '../../../lib/engine';
import { randArray, expectClose, maxAbs } from '../../helpers';
import { cudaSuite, both } from '../devices';
import { Sequential, Conv2d, ConvTranspose2d, LeakyReLU, ReLU, Tanh, Sigmoid, fusablePairs } from '../../../lib/nn';

const GPU: Device = 'cuda:0';

describe('cuda: fused conv → activation in Sequential', function () {
  cudaSuite(this, 'cuda Sequential tests');

  const nets: [string, (d: Device) => Sequential, number[]][] = [
    ['conv → LeakyReLU(0.2) → conv → Tanh', (d) => new Sequential([
      new Conv2d(2, 6, 4, { stride: 2, padding: 1, device: d }), new LeakyReLU(0.2),
      new Conv2d(6, 3, 3, { padding: 1, device: d }), new Tanh()]), [3, 2, 12, 12]],
    ['conv-T → ReLU → conv-T (no bias) → Sigmoid', (d) => new Sequential([
      new ConvTranspose2d(4, 5, 4, { stride: 2, padding: 1, device: d }), new ReLU(),
      new ConvTranspose2d(5, 2, 4, { stride: 2, padding: 1, bias: false, device: d }), new Sigmoid()]), [2, 4, 4, 4]],
  ];
  const near = (g: Tensor, c: Tensor, what: string): void => {
    expect(g.device, `${what}: device`).to.equal(GPU);
    const cv = c.toFloat32Array();
    expectClose(g.toFloat32Array(), cv, 1e-4, 1e-5 * maxAbs(cv), what);
  };
  for (const [name, make, xs] of nets) {
    it(`${name}: forward, backward, jvp and pair-backward equal the CPU's separate ops`, () => {
      const c = make('cpu'), g = make(GPU);
      let seed = 240;
      for (const [i, p] of c.params().entries()) {
        const fanIn = p.value.numel / p.value.shape[0], r = p.role === 'weight' ? 1.5 / Math.sqrt(fanIn) : 0.5;
        p.value.copyFrom(Tensor.fromArray(randArray(p.value.numel, seed++, -r, r), p.value.shape));
        g.params()[i].value.copyFrom(p.value);
      }
      expect(fusablePairs(g.layers, GPU).length, 'both pairs fuse on the GPU').to.equal(2);
      const x = both(GPU, xs, seed++), xdot = both(GPU, xs, seed++);
      const yc = c.forward(x.c), yg = g.forward(x.g);
      expect(g.acts.length, 'the fused pre-activations never exist').to.equal(1);
      near(yg, yc, 'forward');
      const dy = both(GPU, yc.shape, seed++), ybar = both(GPU, yc.shape, seed++);
      near(g.backward(dy.g), c.backward(dy.c), 'backward dx');
      g.params().forEach((p, i) => near(p.grad, c.params()[i].grad, `backward ${p.name}`));
      near(g.jvp(xdot.g), c.jvp(xdot.c), 'jvp');
      const pg = g.pairBackward(ybar.g, dy.g), pc = c.pairBackward(ybar.c, dy.c);
      near(pg.xbar!, pc.xbar!, 'pair-backward x̄');
      near(pg.xdotbar!, pc.xdotbar!, 'pair-backward ẋ̄');
      g.params().forEach((p, i) => near(p.grad, c.params()[i].grad, `backward + pair-backward ${p.name}`));
      const acts = [...g.acts];
      c.releaseTangents();
      g.releaseTangents();
      c.dispose();
      g.dispose();
      expect(acts.every((t) => t.disposed)).to.equal(true);
    });
  }
});
