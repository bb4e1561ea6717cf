// FID during training (--fid-every N --fid-real REAL.npz --fid-weights FILE.h5): every N epochs and at the end, rank 0
// generates K images from a fixed noise stream (STREAMS.fidNoise: the same z at every evaluation, so the curve shows
// the generator, not the noise), extracts InceptionV3 features in batches on the training device, and computes FID
// against the real statistics. Records ('fid' in metrics.jsonl), fid.png, and the best checkpoints (best.ts).
// Generation restores the generator's state (generate.ts) and draws from its own stream: the run's weights and
// randomness are the same with and without FID.
//
// Everything is checked before training starts: the files exist, the .npz's recorded preprocessing and weights
// fingerprint (written by mrigan stats) match the options, the feature dimension matches the network. The network
// is loaded once per run. A stand-in network for tests (every channel count ÷ div) is recognised from the weight
// file's own shapes (readInceptionV3Weights div 'auto'); the real file gives div 1, so there is no hidden option.
import * as fs from 'fs';
import * as path from 'path';
import { createHash } from 'crypto';
import { Device, Rng } from '../engine';
import { Sequential } from '../nn';
import { STREAMS } from '../util/streams';
import {
  FID_MIN_SAMPLES, FidResult, InceptionModel, StatsAccumulator, frechetDistance, inceptionFeatures, loadInceptionV3,
  modeForWeights, readFidStatsMeta,
} from '../metrics';
import { ConfigError, FidSettings, TrainConfig } from './config';
import { generateChunks } from './generate';
import { lossCurvePng } from './plot';
import { writeFileAtomic } from './fsutil';
import { BestCheckpoints, BestSettings } from './best';

/** The --fid-* options as given (strings parsed to numbers by the CLI); unset fields are undefined. */
export interface FidFlags { every?: number; real?: string; weights?: string; samples?: number; preprocess?: string }

/** Images per feature forward pass. */
const FEATURE_BATCH = 32;

interface RealStats { mu: Float64Array; sigma: Float64Array; d: number; n?: number; preprocess?: string; weights?: string }

const exists = (file: string, opt: string): string => {
  let st: fs.Stats;
  try { st = fs.statSync(file); } catch { throw new ConfigError(`${opt}: no such file (${file})`, opt); }
  if (!st.isFile()) throw new ConfigError(`${opt}: not a file (${file})`, opt);
  return path.resolve(file);
};

/**
 * The run's FID settings from the options (`prev`: the settings a resumed run had; given options replace its
 * fields). Reads only the real statistics' header data (their n and recorded preprocessing give the defaults):
 * --fid-samples defaults to min(n of the real statistics, 2048) (2048 when the file does not say), --fid-preprocess
 * to the one the file records (else imagenet). Null when FID is off. Usage errors name the option.
 */
export function fidSettings(f: FidFlags, prev: FidSettings | null = null): FidSettings | null {
  const given = Object.entries(f).filter(([, v]) => v !== undefined).map(([k]) => k);
  if (!prev && given.length === 0) return null;
  if (!prev && f.every === undefined) throw new ConfigError(`--fid-${given[0]} needs --fid-every N (FID every N epochs)`, `--fid-${given[0]}`);
  const every = f.every ?? prev!.every;
  if (!(Number.isInteger(every) && every >= 1 && every <= 1e6)) throw new ConfigError(`--fid-every must be a positive integer, got ${every}`, '--fid-every');
  if (!f.real && !prev) throw new ConfigError('--fid-every needs --fid-real REAL.npz (make it with mrigan stats REAL --weights FILE.h5 --out REAL.npz)', '--fid-real');
  if (!f.weights && !prev) throw new ConfigError('--fid-every needs --fid-weights FILE.h5 (the InceptionV3 weights the real statistics were computed with)', '--fid-weights');
  const real = exists(f.real ?? prev!.real, '--fid-real'), weights = exists(f.weights ?? prev!.weights, '--fid-weights');
  if (!/\.npz$/i.test(real)) throw new ConfigError(`--fid-real must be statistics (.npz from mrigan stats), got ${real}`, '--fid-real');
  const st: RealStats = readFidStatsMeta(real); // a corrupt file is a FileError (exit 1), not a usage error
  const pre = f.preprocess ?? (f.real === undefined && prev ? prev.preprocess : st.preprocess ?? 'imagenet');
  if (pre !== 'imagenet' && pre !== 'radimagenet') throw new ConfigError(`--fid-preprocess must be imagenet or radimagenet, got '${pre}'`, '--fid-preprocess');
  if (st.preprocess && st.preprocess !== pre) {
    throw new ConfigError(`--fid-preprocess ${pre} but ${real} was computed with ${st.preprocess} preprocessing; FID between them is meaningless (give --fid-preprocess ${st.preprocess} or other statistics)`, '--fid-preprocess');
  }
  const samples = f.samples ?? (f.real === undefined && prev ? prev.samples : Math.min(st.n ?? FID_MIN_SAMPLES, FID_MIN_SAMPLES));
  if (!(Number.isInteger(samples) && samples >= 2 && samples <= 1 << 20)) throw new ConfigError(`--fid-samples must be an integer ≥ 2, got ${samples}`, '--fid-samples');
  return { every, real, weights, samples, preprocess: pre };
}

/** SHA-256 of the real statistics' values (mu, sigma): which statistics a ranking was made against. */
const statsFingerprint = (s: RealStats): string => createHash('sha256').update(new Uint8Array(s.mu.buffer, s.mu.byteOffset, s.mu.byteLength))
  .update(new Uint8Array(s.sigma.buffer, s.sigma.byteOffset, s.sigma.byteLength)).digest('hex');

/** The network, the real statistics and the settings of a run's FID, checked against each other. */
export class FidEvaluator {
  private constructor(readonly settings: FidSettings, readonly model: InceptionModel, readonly real: RealStats,
    /** Things to tell the user once, at the start (small sample counts, statistics that record nothing). */
    readonly notes: string[]) {}

  /** Loads the weights on `device` (once per run) and checks the real statistics against them. */
  static async load(s: FidSettings, device: Device): Promise<FidEvaluator> {
    const real: RealStats = readFidStatsMeta(s.real);
    const model = await loadInceptionV3(s.weights, { div: 'auto', device });
    try {
      if (model.features !== real.d) {
        throw new ConfigError(`--fid-real ${s.real} holds ${real.d}-d statistics but ${s.weights} gives ${model.features}-d features (statistics of another network?)`, '--fid-real');
      }
      if (real.weights && real.weights !== model.fingerprint) {
        throw new ConfigError(`--fid-real ${s.real} was computed with other InceptionV3 weights than --fid-weights ${s.weights} `
          + `(weights fingerprint ${real.weights.slice(0, 12)}… vs ${model.fingerprint.slice(0, 12)}…); FID between them is meaningless`, '--fid-weights');
      }
    } catch (e) { model.dispose(); throw e; }
    const notes: string[] = [];
    if (!real.preprocess || !real.weights) {
      notes.push(`${path.basename(s.real)} does not record its ${[!real.preprocess && 'preprocessing', !real.weights && 'weights'].filter(Boolean).join(' or ')} `
        + `(not written by mrigan stats): it must come from ${path.basename(s.weights)} with ${s.preprocess} preprocessing`);
    }
    const small = [s.samples < FID_MIN_SAMPLES && `${s.samples} generated images`, real.n !== undefined && real.n < FID_MIN_SAMPLES && `real statistics of ${real.n} images`].filter(Boolean);
    if (small.length) notes.push(`FID with ${small.join(' and ')} (< ${FID_MIN_SAMPLES}) is biased upward; compare only values computed with the same counts`);
    return new FidEvaluator(s, model, real, notes);
  }

  /** What a ranking of checkpoints by this FID is comparable under. */
  get rankingSettings(): BestSettings {
    return { samples: this.settings.samples, preprocess: this.settings.preprocess, weights: this.model.fingerprint, real: statsFingerprint(this.real) };
  }

  /**
   * FID of settings.samples images of G against the real statistics. The images stream through generateChunks (the
   * chunks, noise and BatchNorm statistics of generate() for all of them, never all in memory), so the result equals
   * generate(G, cfg, latent, K, new Rng(seed, STREAMS.fidNoise)) → features → statistics → frechetDistance.
   */
  evaluate(G: Sequential, cfg: TrainConfig, latent: number, device: Device): FidResult {
    const acc = new StatsAccumulator(this.model.features), mode = modeForWeights(this.settings.preprocess);
    const per = cfg.channels * cfg.size * cfg.size;
    generateChunks(G, cfg, latent, this.settings.samples, new Rng(cfg.seed, STREAMS.fidNoise), device, 'batch', (images) =>
      acc.add(inceptionFeatures(this.model, images, [images.length / per, cfg.channels, cfg.size, cfg.size], { mode, batch: FEATURE_BATCH })));
    return frechetDistance(this.real, acc.finalize());
  }

  dispose(): void { this.model.dispose(); }
}

/** One metrics.jsonl record of an in-training FID. */
export function fidRecord(s: FidSettings, r: FidResult, epoch: number, step: number, seconds: number): Record<string, unknown> {
  return { type: 'fid', epoch, step, fid: r.fid, samples: s.samples, preprocess: s.preprocess, weights: path.basename(s.weights),
    real: path.basename(s.real), seconds, time: Date.now() / 1000 };
}

/** fid.png: FID per evaluation. */
export const writeFidCurve = (file: string, values: number[]): void =>
  writeFileAtomic(file, lossCurvePng([{ name: 'FID', values, color: [200, 30, 30] }], 640, 300));

/** The trainer's side (rank 0 of a run with a folder): when to evaluate, the records, the curve, the best list. */
export class FidTracker {
  /** The run's 'fid' records so far (restored from metrics.jsonl on resume). */
  history: Record<string, unknown>[] = [];
  readonly best: BestCheckpoints;
  private pending: { epoch: number; step: number; fid: number } | null = null;

  constructor(readonly ev: FidEvaluator, readonly runDir: string, upToStep?: number) {
    this.best = BestCheckpoints.load(runDir, ev.rankingSettings, { upToStep });
  }

  due(epoch: number, epochs: number): boolean { return epoch % this.ev.settings.every === 0 || epoch === epochs; }

  /** Evaluates (when due) after an epoch; writes the record and the curve; returns text for the epoch line. */
  evaluate(G: Sequential, cfg: TrainConfig, latent: number, device: Device, epoch: number, step: number, write: (r: Record<string, unknown>) => void): string {
    if (!this.due(epoch, cfg.epochs)) return '';
    const t0 = Date.now();
    const r = this.ev.evaluate(G, cfg, latent, device);
    const rec = fidRecord(this.ev.settings, r, epoch, step, (Date.now() - t0) / 1000);
    write(rec);
    this.history.push(rec);
    writeFidCurve(path.join(this.runDir, 'fid.png'), this.history.map((x) => x.fid as number));
    this.pending = { epoch, step, fid: r.fid };
    return `, FID ${r.fid.toFixed(2)} (${this.ev.settings.samples} images, ${(rec.seconds as number).toFixed(1)} s)`;
  }

  /** After the epoch's checkpoint is published: offers it to the best list; text for the epoch line. */
  afterCheckpoint(dir: string | null): string {
    const p = this.pending;
    this.pending = null;
    if (!p || !dir) return '';
    const rank = this.best.offer(p, dir);
    return rank ? ` (best #${rank})` : '';
  }

  /**
   * On resume: the history from the kept records; an evaluation at the resumed checkpoint's step that a kill
   * kept out of the best list (killed between publishing the checkpoint and listing it) is offered again.
   */
  restore(kept: Record<string, unknown>[], step: number, checkpointDir: string): void {
    this.history = kept.filter((r) => r.type === 'fid');
    const last = this.history[this.history.length - 1];
    const same = last && last.samples === this.ev.settings.samples && last.preprocess === this.ev.settings.preprocess;
    if (same && last.step === step) this.best.offer({ epoch: last.epoch as number, step, fid: last.fid as number }, checkpointDir);
  }
}
