// One training step of each kind (docs/design.md §4–§5), as functions of the models, a batch and the random streams:
//   dcganDStep   discriminator on real vs fake, BCE-with-logits with label noise
//   criticStep   WGAN-GP critic: mean D(fake) − mean D(real) + GP, the penalty's parameter gradient exact
//   gStep        generator through D (D's input gradient only: D's weight gradients are never formed)
// Every update goes through one seam, update(): zero grads → backward passes → hook (where the distributed
// all-reduce goes) → non-finite guard (one pass over the loss and every gradient) → optimizer step.
// Losses come back as 1-element device tensors ("scalars"); the caller reads an iteration's scalars once
// (readScalars), so a GPU step waits for the host only in the guard and in that one read.
import { Tensor, Device, Rng, Shape, axpy, firstNonFinite, bceWithLogitsTo, meanTo, gatherScalars } from '../engine';
import { Sequential, Adam, Param } from '../nn';
import { TrainConfig } from './config';
import { gradientPenaltyScalars } from './penalty';
import { nonFiniteMessage } from './errors';

/** The run's random streams (lib/util/streams.ts numbers them). */
export interface StepRngs { noise: Rng; labels: Rng; gp: Rng; dropG: Rng; dropD: Rng }

/**
 * The update seam's hook, for data-parallel training (lib/dist). `ready` is called during the update's last backward
 * pass as each layer's parameter grads become final (last layer first), so reductions can overlap the rest of
 * backward; `finish` runs after all passes and before the guard, completes the reduction of every gradient and of
 * the loss in place, so every rank guards and steps on the same values.
 */
export interface GradSync {
  ready?(model: 'G' | 'D', params: Param[]): void;
  finish(model: 'G' | 'D', params: Param[], loss: Tensor): void;
}

/** What the steps work on. */
export interface StepModels {
  cfg: TrainConfig;
  G: Sequential;
  D: Sequential;
  optG: Adam;
  optD: Adam;
  device: Device;
  latent: number;
  rng: StepRngs;
  sync?: GradSync;
}

/** Named 1-element device tensors (owned by the caller). */
export type Scalars = Record<string, Tensor>;

/** A non-finite loss or gradient stopped the run; the message says what, and what to do (errors.ts). */
export class NonFiniteError extends Error {
  constructor(readonly step: number, readonly what: string, facts: { badData?: string | null; checkpoint?: string | null } = {}) {
    super(nonFiniteMessage({ step, what, badData: facts.badData ?? null, checkpoint: facts.checkpoint ?? null }));
    this.name = 'NonFiniteError';
  }
}

/** Passed to the update's last backward pass (Sequential.backward's onReady), or undefined. */
export type Ready = ((params: Param[]) => void) | undefined;

/**
 * The update seam. `passes` runs the backward passes (grads accumulate into zeroed grads), handing `ready` to the
 * last one, and returns the loss scalar; then the sync hook, the guard (the loss and every gradient finite, one
 * pass) and the optimizer step.
 */
export function update(m: StepModels, which: 'G' | 'D', step: number, lossName: string, passes: (ready: Ready) => Tensor): void {
  const model = which === 'G' ? m.G : m.D, opt = which === 'G' ? m.optG : m.optD, sync = m.sync;
  opt.zeroGrad();
  const loss = passes(sync?.ready ? (ps) => sync.ready!(which, ps) : undefined);
  const params = model.params();
  sync?.finish(which, params, loss);
  const bad = firstNonFinite([loss, ...params.map((p) => p.grad)]);
  if (bad === 0) throw new NonFiniteError(step, lossName);
  if (bad > 0) throw new NonFiniteError(step, `the gradient of ${which}.${params[bad - 1].name}`);
  opt.step();
}

/** Reads scalars to the host in one copy (one GPU sync). */
export function readScalars(s: Scalars): Record<string, number> {
  const keys = Object.keys(s);
  if (!keys.length) return {};
  const all = gatherScalars(keys.map((k) => s[k]));
  try {
    const v = all.toFloat32Array();
    return Object.fromEntries(keys.map((k, i) => [k, v[i]]));
  } finally {
    all.dispose();
  }
}
export const disposeScalars = (s: Scalars): void => { for (const t of Object.values(s)) t.dispose(); };

/** Σ cᵢ·tᵢ as a new scalar. */
function combine(terms: [number, Tensor][]): Tensor {
  const y = Tensor.zeros([1], terms[0][1].device);
  for (const [c, t] of terms) axpy(c, t, y);
  return y;
}

/** Latent noise for n samples. */
export const noise = (m: StepModels, n: number): Tensor => m.rng.noise.normal([n, m.latent], m.device);

/**
 * BCE targets with label noise of amplitude a: real 1 − a·U(0, 1), fake a·U(0, 1). (The paper's Keras code adds
 * 0.05·U to its labels; moving them inward keeps the targets in [0, 1], where BCE-with-logits is bounded below —
 * a target above 1 rewards pushing the logit to +∞ without limit.)
 */
function targets(m: StepModels, shape: Shape, label: 0 | 1): Tensor {
  const t = Tensor.full(shape, label, m.device);
  if (m.cfg.labelNoise > 0) {
    const u = m.rng.labels.uniform(shape, m.device);
    axpy(label === 1 ? -m.cfg.labelNoise : m.cfg.labelNoise, u, t);
    u.dispose();
  }
  return t;
}

/** Runs body with a list of temporaries that are disposed afterwards; D's caches are released too. */
function scoped<T>(m: StepModels, body: (own: <U extends Tensor>(t: U) => U) => T): T {
  const tmp: Tensor[] = [];
  try {
    return body((t) => { tmp.push(t); return t; });
  } finally {
    m.D.release();
    for (const t of tmp) t.dispose();
  }
}

/** One discriminator update on real vs fake (BCE, real → 1, fake → 0, label noise). */
export function dcganDStep(m: StepModels, real: Tensor, fake: Tensor, step: number): Scalars {
  const out: Scalars = {};
  try {
    scoped(m, (own) => update(m, 'D', step, 'the discriminator loss', (ready) => {
      const yr = own(m.D.forward(real));
      const lr = bceWithLogitsTo(yr, own(targets(m, yr.shape, 1)));
      own(lr.loss);
      own(m.D.backward(own(lr.grad)));
      out.d_real = meanTo(yr);
      const yf = own(m.D.forward(fake));
      const lf = bceWithLogitsTo(yf, own(targets(m, yf.shape, 0)));
      own(lf.loss);
      own(m.D.backward(own(lf.grad), ready));
      out.d_fake = meanTo(yf);
      return (out.d_loss = combine([[1, lr.loss], [1, lf.loss]]));
    }));
    return out;
  } catch (e) {
    disposeScalars(out);
    throw e;
  }
}

/** One critic update on a fresh fake batch: mean D(fake) − mean D(real) + GP, with ∂GP/∂θ exact. */
export function criticStep(m: StepModels, real: Tensor, step: number): Scalars {
  const n = real.shape[0], out: Scalars = {};
  try {
    scoped(m, (own) => {
      const z = own(noise(m, n));
      const fake = own(m.G.forward(z));
      m.G.release();
      update(m, 'D', step, 'the critic loss', (ready) => {
        const eps = own(m.rng.gp.uniform([n], m.device));
        const p = gradientPenaltyScalars(m.D, real, fake, eps, m.cfg.lambda);
        out.gp = p.gp;
        out.grad_norm = meanTo(own(p.norms));
        const yr = own(m.D.forward(real));
        own(m.D.backward(own(Tensor.full(yr.shape, -1 / yr.numel, m.device))));
        out.d_real = meanTo(yr);
        const yf = own(m.D.forward(fake));
        own(m.D.backward(own(Tensor.full(yf.shape, 1 / yf.numel, m.device)), ready));
        out.d_fake = meanTo(yf);
        return (out.d_loss = combine([[1, out.d_fake], [-1, out.d_real], [1, out.gp]]));
      });
    });
    return out;
  } catch (e) {
    disposeScalars(out);
    throw e;
  }
}

/** One generator update through D from fakes G just produced (G's forward cache must be live). */
export function gStep(m: StepModels, fake: Tensor, step: number): Scalars {
  const out: Scalars = {};
  try {
    scoped(m, (own) => update(m, 'G', step, 'the generator loss', (ready) => {
      const y = own(m.D.forward(fake));
      let grad: Tensor;
      if (m.cfg.model === 'dcgan') {
        const l = bceWithLogitsTo(y, own(Tensor.full(y.shape, 1, m.device))); // non-saturating: −log D(G(z))
        out.g_loss = l.loss;
        grad = own(l.grad);
      } else {
        out.g_loss = combine([[-1, own(meanTo(y))]]);
        grad = own(Tensor.full(y.shape, -1 / y.numel, m.device));
      }
      own(m.G.backward(own(m.D.backwardData(grad)), ready));
      return out.g_loss;
    }));
    return out;
  } catch (e) {
    disposeScalars(out);
    throw e;
  }
}

/** G's forward on fresh noise, body on the fakes, then G's cache and the fakes freed. */
export function withFakes<T>(m: StepModels, n: number, body: (fake: Tensor) => T): T {
  const z = noise(m, n);
  const fake = m.G.forward(z);
  try {
    return body(fake);
  } finally {
    m.G.release();
    fake.dispose();
    z.dispose();
  }
}

/** DCGAN: one D step and one G step on the same fakes (as the PyTorch DCGAN example). */
export function dcganIteration(m: StepModels, real: Tensor, step: number): Scalars {
  return withFakes(m, real.shape[0], (fake) => {
    const d = dcganDStep(m, real, fake, step);
    try {
      return { ...d, ...gStep(m, fake, step) };
    } catch (e) {
      disposeScalars(d);
      throw e;
    }
  });
}

/** WGAN-GP: nCritic critic steps on the batch (fresh noise and ε each; the last one's scalars kept), one G step. */
export function wganIteration(m: StepModels, real: Tensor, step: number): Scalars {
  let c = criticStep(m, real, step);
  try {
    for (let k = 1; k < m.cfg.nCritic; k++) {
      disposeScalars(c);
      c = {};
      c = criticStep(m, real, step);
    }
    const cs = c;
    return withFakes(m, real.shape[0], (fake) => ({ ...cs, ...gStep(m, fake, step) }));
  } catch (e) {
    disposeScalars(c);
    throw e;
  }
}
