// The training loops (DESIGN §4–§5): DCGAN (BCE-with-logits, optional label noise, non-saturating G loss) and
// WGAN-GP (critic D(fake) − D(real) + GP with the exact penalty gradient, nCritic critic steps per G step), Adam with
// β1 = 0.5. Everything random comes from Philox streams whose offsets are checkpointed, and the data order of epoch e
// is a permutation seeded by (seed, e), so a run is deterministic on CPU and an interrupted run resumed from its
// checkpoint reproduces the uninterrupted one bit for bit.
//
// One iteration = one batch of real images: DCGAN does one D step and one G step (reusing the D step's fakes, as the
// PyTorch DCGAN example does); WGAN-GP does nCritic critic steps on that batch (fresh noise and ε each), then one G step.
import * as fs from 'fs';
import * as path from 'path';
import { Tensor, Device, Rng, Shape, axpy, mean, firstNonFinite, bceWithLogits, defaultDevice } from '../engine';
import { Sequential, Adam, Layer, Dropout } from '../nn';
import { buildModel, latentSize, ModelOptions } from '../models';
import { permutation } from '../data';
import { TrainConfig, checkDataset, ConfigError } from './config';
import { gradientPenalty } from './penalty';
import { saveCheckpoint, findCheckpoint, loadCheckpointInto, TrainState, CHECKPOINT_VERSION } from './checkpoint';
import { JsonLines, readJsonLines, writeFileAtomic } from './fsutil';
import { writeImagePng, writeGridPng } from './image';
import { writeLossCurve } from './plot';
import { EpochProgress } from './progress';

/** What the trainer reads: lib/data's Dataset satisfies it; tests pass tensors in memory. */
export interface ImageSource {
  readonly count: number;
  /** [count, C, H, W] */
  readonly shape: readonly [number, number, number, number];
  /** Images idx as one [idx.length, C, H, W] float32 batch in [-1, 1]. */
  batch(idx: ArrayLike<number>): Float32Array;
}

/** An in-memory source (tests, the demo without a dataset file). */
export function memorySource(data: Float32Array, shape: [number, number, number, number]): ImageSource {
  const per = shape[1] * shape[2] * shape[3];
  if (data.length !== shape[0] * per) throw new Error(`memorySource: ${data.length} values for shape [${shape}]`);
  return {
    count: shape[0], shape,
    batch(idx) {
      const out = new Float32Array(idx.length * per);
      for (let k = 0; k < idx.length; k++) out.set(data.subarray(idx[k] * per, (idx[k] + 1) * per), k * per);
      return out;
    },
  };
}

/** Philox streams of the run (seed = config.seed); model init and dropout use lib/models' STREAMS. */
export const TRAIN_STREAMS = { noise: 301, labels: 302, gp: 303, fixedNoise: 304, sample: 305 } as const;

export class NonFiniteError extends Error {
  constructor(readonly step: number, what: string) {
    super(`training diverged at step ${step}: ${what} is not finite (NaN or Inf); the last good checkpoint is kept — try a lower --lr`);
    this.name = 'NonFiniteError';
  }
}

export interface StepMetrics {
  epoch: number;
  iter: number;
  step: number;
  d_loss: number;
  g_loss: number;
  d_real: number;
  d_fake: number;
  gp?: number;
  grad_norm?: number;
  img_per_s: number;
}

export interface TrainerOptions {
  data: ImageSource;
  /** Dataset name for messages (file path). */
  dataName?: string;
  /** Run folder; null writes nothing (tests). */
  out: string | null;
  device?: Device;
  /** Progress display: 'auto' (bar on a TTY, lines otherwise), 'lines', or 'none'. */
  progress?: 'auto' | 'lines' | 'none';
  log?: (s: string) => void;
  /** Stop (return) after this many iterations of this call, as if killed — tests of resume. */
  stopAfter?: number;
  /** Called with each iteration's metrics. */
  onStep?: (m: StepMetrics) => void;
  /** Checked before each iteration: true stops after a checkpoint (SIGINT). */
  shouldStop?: () => boolean;
  /** Seconds: do not start an epoch that would end after this much time in this call (walltime limits, the demo). */
  timeLimit?: number;
}

export class Trainer {
  readonly cfg: TrainConfig;
  readonly G: Sequential;
  readonly D: Sequential;
  readonly optG: Adam;
  readonly optD: Adam;
  readonly device: Device;
  readonly latent: number;
  readonly rng: { noise: Rng; labels: Rng; gp: Rng; dropG: Rng; dropD: Rng };
  epoch = 0;
  iter = 0;
  step = 0;
  /** Set by requestStop() (SIGINT): the run checkpoints and returns before the next iteration. */
  stopRequested = false;
  private metrics: JsonLines | null = null;
  private history: { d: number[]; g: number[] } = { d: [], g: [] };

  private constructor(cfg: TrainConfig, readonly o: TrainerOptions, init: boolean) {
    this.cfg = cfg;
    this.device = o.device ?? defaultDevice();
    const [, c, h] = o.data.shape;
    checkDataset(cfg, { count: o.data.count, size: h, channels: c }, o.dataName ?? 'dataset');
    const seed = cfg.seed;
    this.rng = {
      noise: new Rng(seed, TRAIN_STREAMS.noise), labels: new Rng(seed, TRAIN_STREAMS.labels), gp: new Rng(seed, TRAIN_STREAMS.gp),
      dropG: new Rng(seed, 201), dropD: new Rng(seed, 202),
    };
    const mo = modelOptions(cfg, this.device);
    this.G = buildModel(cfg.arch, 'generator', { ...mo, dropoutRng: this.rng.dropG, init });
    this.D = buildModel(cfg.arch, cfg.model === 'wgan-gp' ? 'critic' : 'discriminator', { ...mo, dropoutRng: this.rng.dropD, init });
    this.latent = latentSize(cfg.arch, mo);
    this.optG = new Adam(this.G.params(), { lr: cfg.lr, beta1: cfg.beta1, beta2: cfg.beta2 });
    this.optD = new Adam(this.D.params(), { lr: cfg.lr, beta1: cfg.beta1, beta2: cfg.beta2 });
  }

  /** A fresh run. */
  static create(cfg: TrainConfig, o: TrainerOptions): Trainer {
    const t = new Trainer(cfg, o, true);
    if (o.out) {
      fs.mkdirSync(path.join(o.out, 'samples'), { recursive: true });
      if (fs.existsSync(path.join(o.out, 'checkpoints', 'latest.json')))
        throw new ConfigError(`${o.out} already holds a run; pass --resume to continue it, or choose another --out`);
      writeFileAtomic(path.join(o.out, 'config.json'), JSON.stringify(cfg, null, 1) + '\n');
      t.metrics = new JsonLines(path.join(o.out, 'metrics.jsonl'), false);
    }
    return t;
  }

  /** Continues the run in o.out from its latest checkpoint; `epochs` may extend it. */
  static resume(o: TrainerOptions, epochs?: number): Trainer {
    if (!o.out) throw new Error('resume needs a run folder');
    const { dir, state } = findCheckpoint(o.out);
    const cfg = { ...state.config, ...(epochs ? { epochs } : {}) };
    const t = new Trainer(cfg, o, false);
    loadCheckpointInto(dir, t.G, t.D, t.optG, t.optD, state);
    t.epoch = state.epoch;
    t.iter = state.iter;
    t.step = state.step;
    for (const [k, v] of Object.entries(state.rng)) (t.rng as Record<string, Rng>)[k].offset = v;
    // metrics after the checkpoint belong to the lost part of the run
    const file = path.join(o.out, 'metrics.jsonl');
    const kept = readJsonLines(file).filter((r) => (r.step as number) <= state.step);
    writeFileAtomic(file, kept.map((r) => JSON.stringify(r) + '\n').join(''));
    for (const r of kept) if (r.type === 'step') { t.history.d.push(r.d_loss as number); t.history.g.push(r.g_loss as number); }
    t.metrics = new JsonLines(file, true);
    return t;
  }

  requestStop(): void { this.stopRequested = true; }

  get itersPerEpoch(): number { return Math.floor(this.o.data.count / this.cfg.batch); }

  state(): TrainState {
    const rng: Record<string, number> = {};
    for (const [k, r] of Object.entries(this.rng)) rng[k] = r.offset;
    return { version: CHECKPOINT_VERSION, epoch: this.epoch, iter: this.iter, step: this.step, optG: this.optG.steps,
      optD: this.optD.steps, rng, config: this.cfg, time: new Date().toISOString() };
  }

  checkpoint(): string | null {
    if (!this.o.out) return null;
    return saveCheckpoint(this.o.out, { G: this.G, D: this.D, optG: this.optG, optD: this.optD, state: this.state() });
  }

  /** Trains until cfg.epochs are done (or stopAfter / shouldStop). Returns the iterations run by this call. */
  async run(): Promise<number> {
    const log = this.o.log ?? ((s: string) => process.stdout.write(s + '\n'));
    const nIt = this.itersPerEpoch;
    const start = Date.now();
    let done = 0, lastEpoch = 0;
    while (this.epoch < this.cfg.epochs) {
      if (this.o.timeLimit !== undefined && this.iter === 0 && (Date.now() - start) / 1000 + lastEpoch > this.o.timeLimit) {
        log(`time limit of ${this.o.timeLimit} s reached after epoch ${this.epoch}; continue with --resume`);
        return done;
      }
      const order = permutation(this.o.data.count, epochSeed(this.cfg.seed, this.epoch));
      const mode = this.o.progress ?? 'auto';
      const bar = new EpochProgress(this.epoch + 1, this.cfg.epochs, nIt, { quiet: mode === 'none', tty: mode === 'lines' ? false : undefined });
      const t0 = Date.now(), sums = { d: 0, g: 0, n: 0 };
      try {
        while (this.iter < nIt) {
          if (this.o.stopAfter !== undefined && done >= this.o.stopAfter) return done; // as if killed: no checkpoint
          if (this.stopRequested || this.o.shouldStop?.()) {
            if (done > 0) this.checkpoint();
            return done;
          }
          const t1 = Date.now();
          const idx = order.subarray(this.iter * this.cfg.batch, (this.iter + 1) * this.cfg.batch);
          const real = Tensor.fromArray(this.o.data.batch(idx), [idx.length, ...this.o.data.shape.slice(1)], this.device);
          let m: Omit<StepMetrics, 'epoch' | 'iter' | 'step' | 'img_per_s'>;
          try {
            m = this.cfg.model === 'dcgan' ? this.dcganIteration(real) : this.wganIteration(real);
          } finally {
            real.dispose();
          }
          this.iter++;
          this.step++;
          done++;
          const ips = this.cfg.batch / Math.max(1e-3, (Date.now() - t1) / 1000);
          const rec: StepMetrics = { epoch: this.epoch, iter: this.iter, step: this.step, ...m, img_per_s: ips };
          this.metrics?.write({ type: 'step', ...rec, time: Date.now() / 1000 });
          this.history.d.push(m.d_loss);
          this.history.g.push(m.g_loss);
          sums.d += m.d_loss; sums.g += m.g_loss; sums.n++;
          this.o.onStep?.(rec);
          bar.update(this.iter, { d: m.d_loss, g: m.g_loss, imgPerSec: ips });
          if (this.cfg.checkpointEvery > 0 && this.step % this.cfg.checkpointEvery === 0 && this.iter < nIt) this.checkpoint();
          await new Promise((r) => setImmediate(r)); // let the bar draw, signals arrive and finalizers run
        }
      } finally {
        bar.stop();
      }
      this.epoch++;
      this.iter = 0;
      const secs = (Date.now() - t0) / 1000;
      lastEpoch = secs;
      this.metrics?.write({ type: 'epoch', epoch: this.epoch, step: this.step, d_loss: sums.d / Math.max(1, sums.n),
        g_loss: sums.g / Math.max(1, sums.n), seconds: secs, img_per_s: (sums.n * this.cfg.batch) / Math.max(1e-3, secs), time: Date.now() / 1000 });
      this.writeSamples();
      const ck = this.checkpoint();
      if (this.o.out) log(`epoch ${this.epoch}/${this.cfg.epochs} done in ${secs.toFixed(1)} s: D ${(sums.d / Math.max(1, sums.n)).toFixed(4)}, G ${(sums.g / Math.max(1, sums.n)).toFixed(4)}; checkpoint ${ck ? path.relative(this.o.out, ck) : '-'}`);
    }
    return done;
  }

  /**
   * BCE targets with label noise of amplitude a: real 1 − a·U(0, 1), fake a·U(0, 1). (The paper's Keras code adds
   * 0.05·U to its labels; moving them inward keeps the targets in [0, 1], where BCE-with-logits is bounded below —
   * a target above 1 rewards pushing the logit to +∞ without limit.)
   */
  private targets(shape: Shape, label: 0 | 1, noisy: boolean): Tensor {
    const t = Tensor.full(shape, label, this.device);
    if (noisy && this.cfg.labelNoise > 0) {
      const u = this.rng.labels.uniform(shape, this.device);
      axpy(label === 1 ? -this.cfg.labelNoise : this.cfg.labelNoise, u, t);
      u.dispose();
    }
    return t;
  }

  private noise(n: number): Tensor { return this.rng.noise.normal([n, this.latent], this.device); }

  private dcganIteration(real: Tensor): Omit<StepMetrics, 'epoch' | 'iter' | 'step' | 'img_per_s'> {
    const z = this.noise(real.shape[0]);
    const fake = this.G.forward(z);
    try {
      const d = this.dcganDStep(real, fake);
      return { ...d, g_loss: this.gStep(fake) };
    } finally {
      this.G.release();
      fake.dispose();
      z.dispose();
    }
  }

  /** One discriminator update on real vs fake (BCE, real → 1, fake → 0, label noise). */
  private dcganDStep(real: Tensor, fake: Tensor): { d_loss: number; d_real: number; d_fake: number } {
    const tmp: Tensor[] = [];
    const own = <T extends Tensor>(t: T): T => { tmp.push(t); return t; };
    try {
      this.optD.zeroGrad();
      const yr = own(this.D.forward(real));
      const lr = bceWithLogits(yr, own(this.targets(yr.shape, 1, true)));
      own(lr.grad);
      own(this.D.backward(lr.grad));
      const dReal = mean(yr);
      const yf = own(this.D.forward(fake));
      const lf = bceWithLogits(yf, own(this.targets(yf.shape, 0, true)));
      own(lf.grad);
      own(this.D.backward(lf.grad));
      const dLoss = lr.loss + lf.loss;
      this.guard(dLoss, 'the discriminator loss', this.D);
      this.optD.step();
      return { d_loss: dLoss, d_real: dReal, d_fake: mean(yf) };
    } finally {
      this.D.release();
      for (const t of tmp) t.dispose();
    }
  }

  /** One critic update: mean D(fake) − mean D(real) + GP, with ∂GP/∂θ exact. */
  private criticStep(real: Tensor): { d_loss: number; d_real: number; d_fake: number; gp: number; grad_norm: number } {
    const n = real.shape[0], tmp: Tensor[] = [];
    const own = <T extends Tensor>(t: T): T => { tmp.push(t); return t; };
    try {
      const z = own(this.noise(n));
      const fake = own(this.G.forward(z));
      this.G.release();
      this.optD.zeroGrad();
      const eps = own(this.rng.gp.uniform([n], this.device));
      const p = gradientPenalty(this.D, real, fake, eps, this.cfg.lambda);
      const yr = own(this.D.forward(real));
      own(this.D.backward(own(Tensor.full(yr.shape, -1 / yr.numel, this.device))));
      const dReal = mean(yr);
      const yf = own(this.D.forward(fake));
      own(this.D.backward(own(Tensor.full(yf.shape, 1 / yf.numel, this.device))));
      const dFake = mean(yf);
      const dLoss = dFake - dReal + p.gp;
      this.guard(dLoss, 'the critic loss', this.D);
      this.optD.step();
      return { d_loss: dLoss, d_real: dReal, d_fake: dFake, gp: p.gp, grad_norm: p.norms.reduce((a, b) => a + b, 0) / n };
    } finally {
      this.D.release();
      for (const t of tmp) t.dispose();
    }
  }

  /** One generator update through D from fakes G just produced (G's forward cache must be live). */
  private gStep(fake: Tensor): number {
    const tmp: Tensor[] = [];
    const own = <T extends Tensor>(t: T): T => { tmp.push(t); return t; };
    try {
      const y = own(this.D.forward(fake));
      let loss: number, grad: Tensor;
      if (this.cfg.model === 'dcgan') {
        const l = bceWithLogits(y, own(Tensor.full(y.shape, 1, this.device))); // non-saturating: −log D(G(z))
        loss = l.loss;
        grad = own(l.grad);
      } else {
        loss = -mean(y);
        grad = own(Tensor.full(y.shape, -1 / y.numel, this.device));
      }
      const dfake = own(this.D.backward(grad));
      this.optG.zeroGrad();
      own(this.G.backward(dfake));
      this.guard(loss, 'the generator loss', this.G);
      this.optG.step();
      return loss;
    } finally {
      this.D.release();
      for (const t of tmp) t.dispose();
    }
  }

  private wganIteration(real: Tensor): Omit<StepMetrics, 'epoch' | 'iter' | 'step' | 'img_per_s'> {
    let c = this.criticStep(real);
    for (let k = 1; k < this.cfg.nCritic; k++) c = this.criticStep(real);
    const z = this.noise(real.shape[0]);
    const fake = this.G.forward(z);
    try {
      return { ...c, g_loss: this.gStep(fake) };
    } finally {
      this.G.release();
      fake.dispose();
      z.dispose();
    }
  }

  /** One discriminator/critic update only (G frozen), for tests and diagnostics; returns its loss. */
  discriminatorStep(real: Tensor): number {
    if (this.cfg.model === 'wgan-gp') return this.criticStep(real).d_loss;
    const z = this.noise(real.shape[0]);
    const fake = this.G.forward(z);
    this.G.release();
    try {
      return this.dcganDStep(real, fake).d_loss;
    } finally {
      fake.dispose();
      z.dispose();
    }
  }

  /** Stops on a non-finite loss or gradient (before the optimizer step, so weights stay finite). */
  private guard(loss: number, what: string, model: Sequential): void {
    const step = this.step + 1;
    if (!Number.isFinite(loss)) throw new NonFiniteError(step, what);
    const params = model.params(), bad = firstNonFinite(params.map((p) => p.grad));  // one pass, one GPU sync
    if (bad >= 0) throw new NonFiniteError(step, `the gradient of ${model === this.G ? 'G' : 'D'}.${params[bad].name}`);
  }

  /** Fixed-noise samples (BN batch statistics, no dropout, no state changes): image, 8×8 grid, loss curve. */
  writeSamples(): void {
    if (!this.o.out) return;
    const dir = path.join(this.o.out, 'samples'), tag = String(this.epoch).padStart(3, '0');
    const b = generate(this.G, this.cfg, this.latent, 64, new Rng(this.cfg.seed, TRAIN_STREAMS.fixedNoise), this.device);
    writeImagePng(path.join(dir, `epoch-${tag}.png`), b, 0);
    writeGridPng(path.join(dir, `grid-${tag}.png`), b, 8, 8);
    const series = [{ name: 'D', values: this.history.d, color: [200, 30, 30] as [number, number, number] },
      { name: 'G', values: this.history.g, color: [30, 60, 200] as [number, number, number] }];
    writeLossCurve(path.join(dir, `loss-${tag}.png`), series);
    writeLossCurve(path.join(this.o.out, 'loss.png'), series);
  }

  close(): void {
    this.metrics?.close();
    this.metrics = null;
  }

  dispose(): void {
    this.close();
    this.optG.dispose();
    this.optD.dispose();
    this.G.dispose();
    this.D.dispose();
  }
}

export const epochSeed = (seed: number, epoch: number): number => (Math.imul(seed + 1, 0x9e3779b1) + epoch) >>> 0;

export function modelOptions(cfg: TrainConfig, device: Device): ModelOptions {
  return {
    size: cfg.size, channels: cfg.channels, dropout: cfg.dropout, device, seed: cfg.seed,
    ...(cfg.latent !== null ? { latent: cfg.latent } : {}), ...(cfg.width !== null ? { width: cfg.width } : {}),
  };
}

/**
 * n images from G, noise from rng, in chunks of up to 64. bn 'batch' (default): BatchNorm normalises with each
 * chunk's statistics, as the PyTorch DCGAN example samples (early in training the running statistics are far from
 * the batch ones and give flat images); running statistics and counters are restored afterwards, so sampling has no
 * side effects. bn 'running': eval mode. Dropout is off either way.
 */
export function generate(G: Sequential, cfg: TrainConfig, latent: number, n: number, rng: Rng, device: Device,
  bn: 'batch' | 'running' = 'batch') {
  const wasTraining = G.training;
  const saved = G.buffers().map((b) => b.value.clone());
  const counters = [...G.counters().values()].map((c) => c.get());
  G.train(bn === 'batch');
  const walk = (l: Layer): void => {
    if (l instanceof Sequential) l.layers.forEach(walk);
    else if (l instanceof Dropout) l.eval();
  };
  walk(G);
  const per = cfg.channels * cfg.size * cfg.size, data = new Float32Array(n * per);
  try {
    const chunks = Math.ceil(n / 64);
    for (let c = 0, at = 0; c < chunks; c++) {
      const k = Math.floor((n * (c + 1)) / chunks) - at;
      const z = rng.normal([Math.max(k, 2), latent], device); // BatchNorm needs two samples
      const y = G.forward(z);
      data.set(y.toFloat32Array().subarray(0, k * per), at * per);
      G.release();
      y.dispose();
      z.dispose();
      at += k;
    }
  } finally {
    G.buffers().forEach((b, i) => b.value.copyFrom(saved[i]));
    [...G.counters().values()].forEach((c, i) => c.set(counters[i]));
    for (const t of saved) t.dispose();
    G.train(wasTraining);
  }
  return { data, n, c: cfg.channels, h: cfg.size, w: cfg.size };
}
