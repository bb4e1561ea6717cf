// Training configuration: defaults, the Table I presets of the paper (docs/design.md §4), and validation with errors that
// name the option and say what would fix it. Every preset field can be overridden by an explicit option.
import { Arch, ARCHS, ImageSize } from '../models';
import { UsageError } from '../util/errors';

export type GanModel = 'dcgan' | 'wgan-gp';
export const GAN_MODELS: readonly GanModel[] = ['dcgan', 'wgan-gp'];

export interface TrainConfig {
  /** Training algorithm: DCGAN (BCE-with-logits) or WGAN-GP (critic + exact gradient penalty). */
  model: GanModel;
  /** Network topology (docs/design.md §4): the paper's `cepa2024` or Radford-style `dcgan`. */
  arch: Arch;
  size: ImageSize;
  channels: number;
  /** Latent size; null = the architecture's default (dcgan 100, cepa2024 128). */
  latent: number | null;
  /** Width; null = the architecture's default (32). */
  width: number | null;
  dropout: number;
  epochs: number;
  /** Global batch (across ranks). */
  batch: number;
  lr: number;
  beta1: number;
  beta2: number;
  /** WGAN-GP penalty weight λ. */
  lambda: number;
  /** WGAN-GP critic steps per generator step. */
  nCritic: number;
  /** DCGAN label noise amplitude a: real targets 1 − a·U(0, 1), fake a·U(0, 1) (0 turns it off). */
  labelNoise: number;
  seed: number;
  /** Also checkpoint every N generator steps (0 = only at the end of each epoch). */
  checkpointEvery: number;
  /** Name of the preset the run started from, if any (for the record). */
  preset: string | null;
  /** Absolute path of the dataset file, if any (so --resume can find it). */
  data: string | null;
  /** Synchronized BatchNorm across data-parallel ranks; null = the architecture's default (cepa2024 on, dcgan off). */
  syncBn?: boolean | null;
  /** Weight-free quality (SWD, MS-SSIM diversity) after epoch 1, every N epochs and at the end; 0 = off. */
  evalEvery?: number;
  /** FID against real statistics every N epochs and at the end (lib/train/fid.ts); null/absent = off. */
  fid?: FidSettings | null;
}

/** The in-training FID (--fid-every …): paths are absolute, so that --resume finds the files from anywhere. */
export interface FidSettings {
  every: number;
  /** Real statistics (.npz from mrigan stats, pytorch-fid or clean-fid). */
  real: string;
  /** Keras InceptionV3 notop weights (.h5). */
  weights: string;
  /** Generated images per evaluation. */
  samples: number;
  preprocess: 'imagenet' | 'radimagenet';
}

/** Whether BatchNorm statistics are synchronized across ranks (the paper's cepa2024 does; --sync-bn for dcgan). */
export const syncBnOn = (c: TrainConfig): boolean => c.syncBn ?? c.arch === 'cepa2024';

export interface Preset { model: GanModel; set: number; epochs: number; lr: number; batch: number; dropout: number }

/** Table I of Cepa et al. 2024 (architecture cepa2024; batch = global batch). */
export const PRESETS: Record<string, Preset> = {
  'dcgan-set1': { model: 'dcgan', set: 1, epochs: 50, lr: 1e-4, batch: 8, dropout: 0.2 },
  'dcgan-set2': { model: 'dcgan', set: 2, epochs: 100, lr: 2e-4, batch: 64, dropout: 0.5 },
  'dcgan-set3': { model: 'dcgan', set: 3, epochs: 100, lr: 2e-4, batch: 32, dropout: 0.5 },
  'wgangp-set1': { model: 'wgan-gp', set: 1, epochs: 50, lr: 5e-4, batch: 8, dropout: 0.2 },
};

export const DEFAULTS: Omit<TrainConfig, 'model'> = {
  arch: 'dcgan', size: 256, channels: 1, latent: null, width: null, dropout: 0, epochs: 25, batch: 64, lr: 2e-4,
  beta1: 0.5, beta2: 0.999, lambda: 5, nCritic: 3, labelNoise: 0.05, seed: 0, checkpointEvery: 0, preset: null, data: null,
  syncBn: null, evalEvery: 5,
};

/** A bad option or option value (a usage error: exit 2). */
export class ConfigError extends UsageError {
  constructor(msg: string, option?: string) {
    super(msg, option);
    this.name = 'ConfigError';
  }
}

/**
 * Resolves defaults < preset < explicit options and validates the result. Without a preset the architecture
 * defaults to `dcgan`; with one it is `cepa2024` (the paper's), unless `arch` is given.
 */
export function resolveConfig(o: Partial<TrainConfig> & { preset?: string | null }): TrainConfig {
  let base: Partial<TrainConfig> = {};
  if (o.preset) {
    const p = PRESETS[o.preset];
    if (!p) throw new ConfigError(`unknown preset '${o.preset}' (expected one of ${Object.keys(PRESETS).join(', ')})`);
    if (o.model && o.model !== p.model)
      throw new ConfigError(`preset '${o.preset}' is a ${p.model} preset but --model ${o.model} was given (drop one of them)`);
    base = { model: p.model, arch: 'cepa2024', epochs: p.epochs, lr: p.lr, batch: p.batch, dropout: p.dropout, preset: o.preset };
  }
  const given = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<TrainConfig>;
  const c = { ...DEFAULTS, ...base, ...given } as TrainConfig;
  if (!c.model) throw new ConfigError(`--model is required (${GAN_MODELS.join(' or ')}), or give a --preset`);
  validate(c);
  return c;
}

const int = (v: number, lo: number, hi = Number.MAX_SAFE_INTEGER): boolean => Number.isInteger(v) && v >= lo && v <= hi;

export function validate(c: TrainConfig): void {
  const bad = (opt: string, v: unknown, want: string): never => {
    throw new ConfigError(`--${opt} must be ${want}, got ${JSON.stringify(v)}`);
  };
  if (!GAN_MODELS.includes(c.model)) bad('model', c.model, GAN_MODELS.join(' or '));
  if (!ARCHS.includes(c.arch)) bad('arch', c.arch, ARCHS.join(' or '));
  if (![64, 128, 256].includes(c.size)) bad('size', c.size, '64, 128 or 256');
  if (!int(c.channels, 1, 3)) bad('channels', c.channels, 'an integer in 1..3');
  if (c.latent !== null && !int(c.latent, 1, 100000)) bad('latent', c.latent, 'a positive integer');
  if (c.width !== null && !(int(c.width, 1, 4096) && (c.width & (c.width - 1)) === 0)) bad('width', c.width, 'a power of two');
  if (!(c.dropout >= 0 && c.dropout < 1)) bad('dropout', c.dropout, 'in [0, 1)');
  if (!int(c.epochs, 1, 1e6)) bad('epochs', c.epochs, 'a positive integer');
  if (!int(c.batch, 2, 1 << 16)) bad('batch', c.batch, 'an integer ≥ 2 (BatchNorm needs 2 samples)');
  if (!(c.lr > 0 && c.lr < 1)) bad('lr', c.lr, 'in (0, 1)');
  if (!(c.beta1 >= 0 && c.beta1 < 1)) bad('beta1', c.beta1, 'in [0, 1)');
  if (!(c.beta2 >= 0 && c.beta2 < 1)) bad('beta2', c.beta2, 'in [0, 1)');
  // λ·penalty must stay far from float32 overflow (the paper uses 5, Gulrajani et al. 10)
  if (!(c.lambda >= 0 && c.lambda <= 1e4)) bad('lambda', c.lambda, 'in [0, 10000]');
  if (!int(c.nCritic, 1, 100)) bad('n-critic', c.nCritic, 'an integer in 1..100');
  if (!(c.labelNoise >= 0 && c.labelNoise <= 0.5)) bad('label-noise', c.labelNoise, 'in [0, 0.5]');
  if (!int(c.seed, 0)) bad('seed', c.seed, 'a non-negative integer');
  if (!int(c.checkpointEvery, 0)) bad('checkpoint-every', c.checkpointEvery, 'a non-negative integer');
  if (c.evalEvery !== undefined && !int(c.evalEvery, 0, 1e6)) bad('eval-every', c.evalEvery, 'a non-negative integer (0 = off)');
  if (c.syncBn !== undefined && c.syncBn !== null && typeof c.syncBn !== 'boolean') bad('sync-bn', c.syncBn, 'true or false');
  if (c.fid !== undefined && c.fid !== null) {
    const f = c.fid;
    if (typeof f !== 'object') bad('fid-every', f, 'FID settings');
    if (!int(f.every, 1, 1e6)) bad('fid-every', f.every, 'a positive integer');
    if (!int(f.samples, 2, 1 << 20)) bad('fid-samples', f.samples, 'an integer ≥ 2');
    if (f.preprocess !== 'imagenet' && f.preprocess !== 'radimagenet') bad('fid-preprocess', f.preprocess, 'imagenet or radimagenet');
    if (typeof f.real !== 'string' || !f.real) bad('fid-real', f.real, 'a statistics file (.npz)');
    if (typeof f.weights !== 'string' || !f.weights) bad('fid-weights', f.weights, 'a Keras InceptionV3 weights file (.h5)');
  }
}

/**
 * `--epochs` on --resume: a positive integer, not fewer than the epochs the run has completed (fewer would
 * silently do nothing), and the whole resumed configuration must still validate.
 */
export function resumeEpochs(c: TrainConfig, completed: number, epochs: number | undefined): TrainConfig {
  if (epochs === undefined) return c;
  if (!int(epochs, 1, 1e6)) throw new ConfigError(`--epochs must be a positive integer, got ${JSON.stringify(epochs)}`, '--epochs');
  if (epochs < completed) throw new ConfigError(`--epochs ${epochs} is fewer than the ${completed} epochs this run has completed (give ${completed} or more to extend it)`, '--epochs');
  const r = { ...c, epochs };
  validate(r);
  return r;
}

/** Checks a dataset against the configuration: image geometry and enough images for one batch. */
export function checkDataset(c: TrainConfig, d: { count: number; size: number; channels: number }, name: string): void {
  if (d.size !== c.size)
    throw new ConfigError(`${name}: images are ${d.size}×${d.size} but the model is ${c.size}×${c.size} (pass --size ${d.size}, or prepare the dataset at ${c.size})`);
  if (d.channels !== c.channels)
    throw new ConfigError(`${name}: images have ${d.channels} channel(s) but the model has ${c.channels} (pass --channels ${d.channels})`);
  if (c.batch > d.count)
    throw new ConfigError(`${name}: --batch ${c.batch} is larger than the dataset (${d.count} images); use --batch ${Math.max(2, Math.min(d.count, 64))} or less`);
}
