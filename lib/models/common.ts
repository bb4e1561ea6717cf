// Options shared by the model builders, and the default Philox streams for initialisation and dropout.
import { Device, Rng } from '../engine';
import { Sequential, ganInit, InitOptions, BatchNorm, BatchNorm1d, BatchNorm2d, SyncBatchNorm1d, SyncBatchNorm2d, Reduce } from '../nn';
import { STREAMS } from '../util/streams';

export type ImageSize = 64 | 128 | 256;
export type Role = 'generator' | 'discriminator' | 'critic';

export interface ModelOptions {
  /** Image side: 256 (default), 128 or 64 (the highest-resolution layers are dropped). */
  size?: ImageSize;
  /** Image channels C (default 1: grayscale MRI). */
  channels?: number;
  /** Latent size (default: dcgan 100, cepa2024 128). */
  latent?: number;
  /** Width: dcgan's channels at 128×128 (default 32), cepa2024's first discriminator / last hidden generator filters (default 32, all filters scale with it). */
  width?: number;
  /** Dropout probability where the architecture has dropout (default: dcgan 0, cepa2024 0.2). */
  dropout?: number;
  device?: Device;
  /** Seed of the default init and dropout Rngs (default 0). */
  seed?: number | bigint;
  /** Rng for weight initialisation (default: new Rng(seed, STREAMS.<role>Init)). */
  initRng?: Rng;
  /** Rng the Dropout layers draw masks from (default: new Rng(seed, STREAMS.<role>Dropout)). */
  dropoutRng?: Rng;
  /** false: leave weights at zero (e.g. before loading a checkpoint). Default true. */
  init?: boolean;
  /** γ init; default: dcgan 'normal' (N(1, 0.02)), cepa2024 'ones' (Keras). */
  bnGamma?: InitOptions['bnGamma'];
  /** BatchNorm momentum/eps (PyTorch convention); default: dcgan TORCH_BN, cepa2024 KERAS_BN. */
  bn?: { momentum: number; eps: number };
  /** Synchronized BatchNorm: the sum over data-parallel ranks its statistics go through (lib/dist). Default: plain BN. */
  syncBn?: Reduce;
}

/** A BatchNorm over features (1d) or channels (2d), synchronized across ranks when o.syncBn is set. */
export function batchNorm(o: ModelOptions, rank: 1 | 2, features: number, bn: { momentum: number; eps: number }): BatchNorm {
  if (o.syncBn) return rank === 1 ? new SyncBatchNorm1d(features, { ...bn, reduce: o.syncBn }) : new SyncBatchNorm2d(features, { ...bn, reduce: o.syncBn });
  return rank === 1 ? new BatchNorm1d(features, bn) : new BatchNorm2d(features, bn);
}

/** Default Philox streams (seed = options.seed). */
export { STREAMS };

export function checkSize(arch: string, size: number): ImageSize {
  if (size !== 64 && size !== 128 && size !== 256) throw new Error(`${arch}: size must be 64, 128 or 256, got ${size}`);
  return size;
}

export function positiveInt(arch: string, what: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${arch}: ${what} must be a positive integer, got ${v}`);
  return v;
}

export const rngs = (o: ModelOptions, gen: boolean): { init: Rng; drop: Rng } => ({
  init: o.initRng ?? new Rng(o.seed ?? 0, gen ? STREAMS.generatorInit : STREAMS.discriminatorInit),
  drop: o.dropoutRng ?? new Rng(o.seed ?? 0, gen ? STREAMS.generatorDropout : STREAMS.discriminatorDropout),
});

export function finish(m: Sequential, o: ModelOptions, initRng: Rng, gamma: InitOptions['bnGamma']): Sequential {
  if (o.init !== false) ganInit(m, initRng, { bnGamma: o.bnGamma ?? gamma });
  return m.train(true);
}
