// Adam vs a float64 reference of torch.optim.Adam over several steps (with weight decay), state export/import,
// and the GAN initialisation (statistics, determinism per seed).
import { expect } from 'chai';
import { Tensor, Rng } from '../../lib/engine';
import { Adam, Param, Conv2d, BatchNorm2d, Dense, Sequential, ganInit } from '../../lib/nn';
import { randArray, expectClose } from '../helpers';

function param(name: string, shape: number[], seed: number): Param {
  const n = shape.reduce((a, b) => a * b, 1);
  return { name, role: 'weight', value: Tensor.fromArray(randArray(n, seed), shape), grad: Tensor.zeros(shape) };
}

/** torch.optim.Adam step in float64 (L2 weight decay added to the gradient, bias-corrected). */
function adamRef(p: Float64Array, g: Float64Array, m: Float64Array, v: Float64Array, t: number, o: { lr: number; b1: number; b2: number; eps: number; wd: number }): void {
  for (let i = 0; i < p.length; i++) {
    const gi = g[i] + o.wd * p[i];
    m[i] = o.b1 * m[i] + (1 - o.b1) * gi;
    v[i] = o.b2 * v[i] + (1 - o.b2) * gi * gi;
    const mh = m[i] / (1 - o.b1 ** t), vh = v[i] / (1 - o.b2 ** t);
    p[i] -= (o.lr * mh) / (Math.sqrt(vh) + o.eps);
  }
}

describe('nn Adam', () => {
  it('matches torch.optim.Adam in float64 over 6 steps (β1 0.5, weight decay 0.01)', () => {
    const ps = [param('a', [3, 4], 1), param('b', [5], 2)];
    const opt = new Adam(ps, { lr: 2e-3, weightDecay: 0.01 });
    expect([opt.beta1, opt.beta2, opt.eps]).to.deep.equal([0.5, 0.999, 1e-8]);
    const ref = ps.map((p) => ({ p: Float64Array.from(p.value.toFloat32Array()), m: new Float64Array(p.value.numel), v: new Float64Array(p.value.numel) }));
    for (let t = 1; t <= 6; t++) {
      ps.forEach((p, i) => {
        const g = randArray(p.value.numel, 100 * t + i, -2, 2);
        p.grad.copyFrom(Tensor.fromArray(g, p.value.shape));
        adamRef(ref[i].p, Float64Array.from(g), ref[i].m, ref[i].v, t, { lr: 2e-3, b1: 0.5, b2: 0.999, eps: 1e-8, wd: 0.01 });
      });
      opt.step();
      // Each step moves a parameter by about lr; the float32 update is exact to ~1e-7 of the parameter.
      ps.forEach((p, i) => expectClose(p.value.toFloat32Array(), ref[i].p, 1e-6, 1e-7, `step ${t} ${p.name}`));
    }
    expect(opt.steps).to.equal(6);
  });

  it('export/import state resumes exactly', () => {
    const mk = (): Param[] => [param('w', [7], 3)];
    const a = mk(), b = mk();
    const oa = new Adam(a, { lr: 1e-2 }), ob = new Adam(b, { lr: 1e-2 });
    const grad = (t: number): Tensor => Tensor.fromArray(randArray(7, 50 + t), [7]);
    for (let t = 1; t <= 3; t++) { a[0].grad.copyFrom(grad(t)); oa.step(); }
    // b takes a's parameters and optimizer state, then both take step 4 and 5
    b[0].value.copyFrom(a[0].value);
    const s = oa.exportState();
    expect([...s.tensors.keys()]).to.deep.equal(['w.exp_avg', 'w.exp_avg_sq']);
    ob.importState({ step: s.step, tensors: new Map([...s.tensors].map(([k, t]) => [k, t.clone()])) });
    expect(ob.steps).to.equal(3);
    for (let t = 4; t <= 5; t++) {
      a[0].grad.copyFrom(grad(t)); oa.step();
      b[0].grad.copyFrom(grad(t)); ob.step();
    }
    expect(b[0].value.toArray()).to.deep.equal(a[0].value.toArray());
    expect(() => ob.importState({ step: 1, tensors: new Map() })).to.throw(/missing 'w.exp_avg'/);
    expect(() => ob.importState({ step: 1, tensors: new Map([['w.exp_avg', Tensor.zeros([6])], ['w.exp_avg_sq', Tensor.zeros([7])]]) }))
      .to.throw(/'w.exp_avg' has shape \[6\], the parameter needs \[7\]/);
    expect(() => new Adam(a, { lr: 1e-3, beta1: 1 })).to.throw(/beta1/);
    expect(() => new Adam([a[0], a[0]], { lr: 1e-3 })).to.throw(/appears twice/);
  });
});

describe('nn init', () => {
  const model = (): Sequential => new Sequential([new Conv2d(64, 64, 4), new BatchNorm2d(4096), new Dense(100, 50)]);
  const stats = (a: Float32Array): { mean: number; std: number } => {
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    return { mean, std: Math.sqrt(a.reduce((s, v) => s + (v - mean) ** 2, 0) / (a.length - 1)) };
  };

  it('weights N(0, 0.02), γ N(1, 0.02) or 1, β and biases 0; same seed → same weights', () => {
    const m = model();
    ganInit(m, new Rng(5, 1));
    const [w, b, g, be, dw, db] = m.params().map((p) => p.value.toFloat32Array());
    // w has 65536 draws: the mean's std is 0.02/256 ≈ 8e-5, the std's ≈ 0.02/362 ≈ 6e-5
    const sw = stats(w), sg = stats(g), sd = stats(dw);
    expect(Math.abs(sw.mean)).to.be.lessThan(5 * 8e-5);
    expect(Math.abs(sw.std - 0.02)).to.be.lessThan(5 * 6e-5);
    expect(Math.abs(sg.mean - 1)).to.be.lessThan(5 * 0.02 / 64);
    expect(Math.abs(sg.std - 0.02)).to.be.lessThan(5 * 0.02 / 90);
    expect(Math.abs(sd.std - 0.02)).to.be.lessThan(5 * 0.02 / 70);
    for (const z of [b, be, db]) expect(z.every((v) => v === 0)).to.equal(true);
    const m2 = model();
    ganInit(m2, new Rng(5, 1));
    expect(Buffer.compare(Buffer.from(m2.params()[0].value.toFloat32Array().buffer), Buffer.from(w.buffer))).to.equal(0);
    const m3 = model();
    ganInit(m3, new Rng(6, 1), { bnGamma: 'ones' });
    expect(m3.params()[0].value.toArray()).to.not.deep.equal(Array.from(w));
    expect(m3.params()[2].value.toFloat32Array().every((v) => v === 1)).to.equal(true);
    // the draws of successive tensors do not overlap: the dense weights are not a prefix of the conv weights
    expect(Array.from(dw.slice(0, 8))).to.not.deep.equal(Array.from(w.slice(0, 8)));
  });
});
