// The update seam and the steps of lib/train/step.ts: zero grads → passes → hook → guard → optimizer step, the
// guard naming what is not finite, the hook seeing (and able to change) the grads before the guard, and the G step
// leaving D's gradients alone.
import { expect } from 'chai';
import { Tensor } from '../../lib/engine';
import { Trainer, memorySource } from '../../lib/train/run';
import { update, gStep, withFakes, dcganIteration, wganIteration, readScalars, disposeScalars, NonFiniteError, StepModels } from '../../lib/train/step';
import { resolveConfig, TrainConfig } from '../../lib/train/config';
import { randArray } from '../helpers';

const S = 64;
const data = memorySource(randArray(8 * S * S, 3), [8, 1, S, S]);
const cfgOf = (o: Partial<TrainConfig>): TrainConfig => resolveConfig({ size: S, width: 2, batch: 4, epochs: 1, seed: 7, ...o });
const make = (o: Partial<TrainConfig> = {}): Trainer => Trainer.create(cfgOf({ model: 'dcgan', ...o }), { data, out: null, progress: 'none', device: 'cpu' });
const real = (): Tensor => Tensor.fromArray(data.batch([0, 1, 2, 3]), [4, 1, S, S]);
const values = (t: Trainer, which: 'G' | 'D'): Float32Array[] => (which === 'G' ? t.G : t.D).params().map((p) => p.value.toFloat32Array());
const grads = (t: Trainer, which: 'G' | 'D'): Float32Array[] => (which === 'G' ? t.G : t.D).params().map((p) => p.grad.toFloat32Array());
const equal = (a: Float32Array[], b: Float32Array[]): boolean => a.every((x, i) => x.every((v, j) => Object.is(v, b[i][j])));

/** Plants v as the last element of D's second-to-last parameter's gradient; returns the parameter's name. */
function plant(m: StepModels, v: number): string {
  const ps = m.D.params(), p = ps[ps.length - 2], g = p.grad.toFloat32Array();
  g[g.length - 1] = v;
  p.grad.copyFrom(Tensor.fromArray(g, p.grad.shape));
  return p.name;
}

describe('train: the update seam', () => {
  it('zeroes grads before the passes, calls the hook after them with the loss, then steps', () => {
    const t = make(), m = t.models, order: string[] = [];
    plant(m, 123); // stale grads from elsewhere must not leak into the update
    const before = values(t, 'D');
    m.sync = {
      finish(which, params, loss) {
        order.push(`hook ${which} ${params.length} ${loss.toFloat32Array()[0]}`);
        expect(params.every((p) => p.grad.toFloat32Array().every((v) => v === 0.25))).to.equal(true);
      },
    };
    update(m, 'D', 1, 'the test loss', () => {
      order.push('passes');
      expect(grads(t, 'D').every((g) => g.every((v) => v === 0))).to.equal(true);
      for (const p of m.D.params()) p.grad.copyFrom(Tensor.full(p.grad.shape, 0.25));
      return Tensor.full([1], 1.5);
    });
    expect(order).to.deep.equal(['passes', `hook D ${m.D.params().length} 1.5`]);
    expect(equal(values(t, 'D'), before)).to.equal(false); // Adam stepped
    t.dispose();
  });

  it('the guard names a non-finite loss or gradient and leaves the weights unstepped', () => {
    const t = make(), m = t.models, before = values(t, 'D');
    const run = (loss: number, g: number): void =>
      update(m, 'D', 5, 'the discriminator loss', () => { plant(m, g); return Tensor.fromArray(new Float32Array([loss]), [1]); });
    expect(() => run(NaN, 0)).to.throw(NonFiniteError, /diverged at step 5: the discriminator loss is not finite/);
    const ps = m.D.params(), name = ps[ps.length - 2].name;
    expect(() => update(m, 'D', 5, 'l', () => { plant(m, Infinity); return Tensor.full([1], 0); }))
      .to.throw(NonFiniteError, new RegExp(`step 5: the gradient of D\\.${name.replace('.', '\\.')} is not finite`));
    expect(() => run(0.5, NaN)).to.throw(NonFiniteError, /the gradient of D\./);
    expect(equal(values(t, 'D'), before)).to.equal(true);
    t.dispose();
  });

  it('the guard runs after the hook: a hook that repairs the grads lets the step through', () => {
    const t = make(), m = t.models, before = values(t, 'D');
    m.sync = { finish(_w, params) { for (const p of params) p.grad.copyFrom(Tensor.zeros(p.grad.shape)); } };
    update(m, 'D', 1, 'l', () => { plant(m, NaN); return Tensor.full([1], 0); });
    expect(values(t, 'D').every((v) => v.every(Number.isFinite))).to.equal(true);
    expect(equal(values(t, 'D'), before)).to.equal(true); // zero grads: Adam's update is 0
    t.dispose();
  });
});

describe('train: the sync hook sees every gradient final, once, last layer first', () => {
  for (const model of ['dcgan', 'wgan-gp'] as const) {
    it(model, () => {
      const t = make({ model, arch: 'cepa2024', nCritic: 2 }), x = real(), seen: Record<string, { grad: Tensor; at: Float32Array }[]> = { G: [], D: [] };
      let finishes = 0;
      const m = t.models;
      m.sync = {
        ready(which, params) { for (const p of params) seen[which].push({ grad: p.grad, at: p.grad.toFloat32Array() }); },
        finish(which, params) {
          finishes++;
          const got = seen[which];
          expect(got.length, `${which}: every parameter once`).to.equal(params.length);
          expect(got.map((g) => g.grad)).to.deep.equal(params.map((p) => p.grad).reverse()); // reverse layer order
          for (const g of got) expect(Buffer.compare(Buffer.from(g.at.buffer), Buffer.from(g.grad.toFloat32Array().buffer)), `${which}: final at ready`).to.equal(0);
          seen[which] = [];
        },
      };
      const s = (model === 'dcgan' ? dcganIteration : wganIteration)(m, x, 1);
      disposeScalars(s);
      expect(finishes).to.equal(model === 'dcgan' ? 2 : 1 + t.cfg.nCritic);
      x.dispose();
      t.dispose();
    });
  }
});

describe('train: steps', () => {
  for (const model of ['dcgan', 'wgan-gp'] as const) {
    it(`${model}: the G step uses D's input gradient only (D's grads untouched) and updates G`, () => {
      const t = make({ model }), m = t.models, x = real();
      for (const p of t.D.params()) p.grad.copyFrom(Tensor.full(p.grad.shape, 7));
      const dGrads = grads(t, 'D'), g0 = values(t, 'G');
      const s = withFakes(m, 4, (fake) => gStep(m, fake, 1));
      expect(Object.keys(s)).to.deep.equal(['g_loss']);
      expect(Number.isFinite(readScalars(s).g_loss)).to.equal(true);
      disposeScalars(s);
      expect(equal(grads(t, 'D'), dGrads)).to.equal(true);
      expect(equal(values(t, 'G'), g0)).to.equal(false);
      x.dispose();
      t.dispose();
    });

    it(`${model}: an iteration returns its losses as 1-element tensors on the device`, () => {
      const t = make({ model }), x = real();
      const s = (model === 'dcgan' ? dcganIteration : wganIteration)(t.models, x, 1);
      const want = model === 'dcgan' ? ['d_fake', 'd_loss', 'd_real', 'g_loss'] : ['d_fake', 'd_loss', 'd_real', 'g_loss', 'gp', 'grad_norm'];
      expect(Object.keys(s).sort()).to.deep.equal(want);
      for (const v of Object.values(s)) { expect(v.shape).to.deep.equal([1]); expect(v.device).to.equal('cpu'); }
      const r = readScalars(s);
      disposeScalars(s);
      if (model === 'wgan-gp') expect(r.d_loss).to.be.closeTo(r.d_fake - r.d_real + r.gp, 1e-5 * (1 + Math.abs(r.d_loss)));
      x.dispose();
      t.dispose();
    });
  }
});
