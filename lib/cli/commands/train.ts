// mrigan train: DCGAN or WGAN-GP on a dataset file (lib/train). Progress per epoch, RUN_DIR with metrics.jsonl,
// samples/, checkpoints/; --resume continues a run bit for bit.
import { parseArgs } from 'util';
import * as path from 'path';
import { setThreads } from '../../engine';
import { parseDevice } from '../../util/device';
import { buildModel, inputShape, Arch } from '../../models';
import { openDataset, Dataset } from '../../data';
import { resolveConfig, resumeEpochs, TrainConfig, PRESETS, ConfigError, GanModel } from '../../train/config';
import { Trainer, modelOptions } from '../../train/run';
import { FidEvaluator, FidFlags, fidSettings } from '../../train/fid';
import { Device } from '../../engine';
import { report } from '../errors';
import { findCheckpoint } from '../../train/checkpoint';
import { world, abortAll, World } from '../../dist';
import { parallelOptions, broadcastTrainer, rankDevice } from '../../dist/train';

export const summary = 'train a DCGAN or WGAN-GP (exact gradient penalty) on a dataset file; --preset for the paper\'s Table I';

const presetList = Object.entries(PRESETS).map(([k, p]) => `${k} (${p.model}, ${p.epochs} epochs, lr ${p.lr}, batch ${p.batch}, dropout ${p.dropout})`).join('\n                          ');

export const HELP = `usage: mrigan train --data FILE --model dcgan|wgan-gp --out RUN_DIR [options]
       mrigan train --out RUN_DIR --resume [--epochs N]

  --data FILE           dataset file from mrigan prepare (on --resume: default the run's own)
  --model M             dcgan (BCE, non-saturating G loss) or wgan-gp (critic + exact gradient penalty)
  --preset P            the paper's Table I, architecture cepa2024; explicit options override its fields:
                          ${presetList}
  --arch A              network: cepa2024 (the paper's) or dcgan (Radford-style; its WGAN-GP critic has no BN)
                        (default: cepa2024 with --preset, else dcgan)
  --out RUN_DIR         run folder: metrics.jsonl, samples/, loss.png, checkpoints/ (required)
  --resume              continue the run in RUN_DIR from its latest checkpoint (same result as never stopping)
  --epochs N            epochs (default: 25, or the preset's; on --resume: extend the run to N)
  --batch N             global batch across all ranks (default: 64, or the preset's)
  --lr X                Adam learning rate, β1 0.5, β2 0.999 (default: 2e-4, or the preset's)
  --dropout P           dropout where the architecture has it (default: 0, or the preset's)
  --seed S              seed of every random stream (init, noise, dropout, GP, data order) (default: 0)
  --size N              64, 128 or 256 (default: the dataset's)
  --width W             network width (default: 32)
  --latent Z            latent size (default: dcgan 100, cepa2024 128)
  --lambda L            WGAN-GP penalty weight (default: 5)
  --n-critic K          WGAN-GP critic steps per generator step (default: 3)
  --label-noise A       DCGAN label noise: real targets 1 − A·U(0,1), fake A·U(0,1); 0 = off (default: 0.05)
  --checkpoint-every N  also checkpoint every N steps (default: 0 = at the end of each epoch only)
  --eval-every N        SWD and MS-SSIM diversity of 256 generated vs real images after epoch 1, every N epochs and
                        at the end: metrics.jsonl ('eval' records), quality.png (default: 5; 0 = off)
  --fid-every N         FID of generated images against --fid-real every N epochs and at the end: metrics.jsonl
                        ('fid' records), fid.png, and the 3 best checkpoints by FID in checkpoints/best/ (best.json)
                        (default: off; on --resume the run's own settings, which these options may replace)
  --fid-real REAL.npz   real statistics: mrigan stats REAL --weights FILE.h5 --out REAL.npz (pytorch-fid / clean-fid
                        files work too, but record neither preprocessing nor weights to check)
  --fid-weights FILE.h5 the Keras InceptionV3 notop weights the real statistics were computed with (checked when the
                        .npz records them)
  --fid-samples K       generated images per evaluation, from a fixed noise stream (default: min(the real
                        statistics' n, 2048); 2048 when the file does not say; fewer than 2048 biases FID upward)
  --fid-preprocess P    imagenet | radimagenet (default: the one the .npz records, else imagenet)
  --sync-bn, --no-sync-bn  BatchNorm statistics over the global batch across ranks (default: on for cepa2024,
                        off for dcgan; under mpirun/srun only: docs/distributed.md)
  --device D            cpu, cuda or cuda:N (default: MRIGAN_DEVICE, else the first GPU, else cpu)
  --threads N           CPU threads (default: MRIGAN_THREADS, else all cores)
  --time-limit S        stop (checkpointed) before an epoch that would end after S seconds (default: none)
  --progress MODE       auto (a bar on a terminal, lines otherwise), lines or none (default: auto)
  --dry-run             print the configuration and the layer tables with parameter counts, then exit
`;

const num = (v: string | undefined, opt: string): number | undefined => {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x)) throw new ConfigError(`--${opt} must be a number, got '${v}'`);
  return x;
};

export async function run(argv: string[]): Promise<number> {
  const v = parseArgs({
      args: argv,
      options: {
        data: { type: 'string' }, model: { type: 'string' }, preset: { type: 'string' }, arch: { type: 'string' },
        out: { type: 'string' }, resume: { type: 'boolean', default: false }, epochs: { type: 'string' },
        batch: { type: 'string' }, lr: { type: 'string' }, dropout: { type: 'string' }, seed: { type: 'string' },
        size: { type: 'string' }, width: { type: 'string' }, latent: { type: 'string' }, lambda: { type: 'string' },
        'n-critic': { type: 'string' }, 'label-noise': { type: 'string' }, 'checkpoint-every': { type: 'string' },
        device: { type: 'string' }, 'time-limit': { type: 'string' }, threads: { type: 'string' }, progress: { type: 'string', default: 'auto' },
        'dry-run': { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' },
        'sync-bn': { type: 'boolean' }, 'no-sync-bn': { type: 'boolean' }, 'eval-every': { type: 'string' },
        'fid-every': { type: 'string' }, 'fid-real': { type: 'string' }, 'fid-weights': { type: 'string' },
        'fid-samples': { type: 'string' }, 'fid-preprocess': { type: 'string' },
      },
  }).values;
  if (v.help) {
    process.stdout.write(HELP);
    return 0;
  }
  let data: Dataset | null = null, w: World | null = null, fid: FidEvaluator | null = null;
  try {
    if (v.threads !== undefined) {
      const n = num(v.threads, 'threads')!;
      if (!(Number.isInteger(n) && n >= 1 && n <= 4096)) throw new ConfigError(`--threads must be a positive integer, got '${v.threads}'`, '--threads');
      setThreads(n);
    }
    // under mpirun / srun: one rank of a data-parallel run (a plain process is a world of 1, MPI untouched)
    w = world(v.device === 'cpu' ? 'cpu' : 'auto');
    const device = rankDevice(w, parseDevice(v.device)), say = (s: string): void => { if (w!.rank === 0) process.stdout.write(s); };
    let trainer: Trainer | null = null;
    const parallel = parallelOptions(w, () => trainer!);
    if (!['auto', 'lines', 'none'].includes(v.progress!)) throw new ConfigError(`--progress must be auto, lines or none, got '${v.progress}'`);
    const progress = v.progress as 'auto' | 'lines' | 'none';
    const timeLimit = num(v['time-limit'], 'time-limit');
    if (timeLimit !== undefined && !(timeLimit > 0)) throw new ConfigError(`--time-limit must be > 0 seconds, got ${timeLimit}`);
    if (!v.out && !v['dry-run']) throw new ConfigError('--out RUN_DIR is required');
    const fidFlags: FidFlags = { every: num(v['fid-every'], 'fid-every'), real: v['fid-real'], weights: v['fid-weights'],
      samples: num(v['fid-samples'], 'fid-samples'), preprocess: v['fid-preprocess'] };
    // the FID network is loaded once, by the rank that evaluates, after every option is checked and before training
    const loadFid = async (cfgFid: TrainConfig['fid']): Promise<FidEvaluator | undefined> => {
      if (!cfgFid || w!.rank !== 0) return undefined;
      fid = await FidEvaluator.load(cfgFid, device as Device);
      for (const note of fid.notes) say(`note: ${note}\n`);
      return fid;
    };

    if (v.resume) {
      const { state } = findCheckpoint(v.out!);
      const file = v.data ?? state.config.data;
      if (!file) throw new ConfigError('--data FILE is required (the run does not record its dataset)');
      data = openDataset(file);
      // checked here, before the trainer reads them: 0, -1 or 2.5 must not end as "done" or "epoch 3/2.5"
      const epochs = resumeEpochs(state.config, state.epoch, num(v.epochs, 'epochs')).epochs;
      const ev = await loadFid(fidSettings(fidFlags, state.config.fid ?? null));
      const t = trainer = Trainer.resume({ data, dataName: file, out: v.out!, device, progress, timeLimit, parallel, fid: ev }, epochs);
      if (parallel) broadcastTrainer(t);
      say(`resuming ${v.out} at epoch ${t.epoch + 1}, step ${t.step} (${t.cfg.model}, ${t.cfg.arch} ${t.cfg.size}×${t.cfg.size}) on ${device}\n`);
      return await train(t, v.out!, w.rank === 0);
    }

    const raw: Partial<TrainConfig> & { preset?: string } = {
      model: v.model as GanModel | undefined, preset: v.preset, arch: v.arch as Arch | undefined,
      epochs: num(v.epochs, 'epochs'), batch: num(v.batch, 'batch'), lr: num(v.lr, 'lr'), dropout: num(v.dropout, 'dropout'),
      seed: num(v.seed, 'seed'), size: num(v.size, 'size') as TrainConfig['size'] | undefined, width: num(v.width, 'width'),
      latent: num(v.latent, 'latent'), lambda: num(v.lambda, 'lambda'), nCritic: num(v['n-critic'], 'n-critic'),
      labelNoise: num(v['label-noise'], 'label-noise'), checkpointEvery: num(v['checkpoint-every'], 'checkpoint-every'),
      syncBn: v['sync-bn'] ? true : v['no-sync-bn'] ? false : undefined, evalEvery: num(v['eval-every'], 'eval-every'),
    };
    if (v['sync-bn'] && v['no-sync-bn']) throw new ConfigError('--sync-bn and --no-sync-bn contradict each other (give one)');
    const given = Object.fromEntries(Object.entries(raw).filter(([, x]) => x !== undefined)) as typeof raw;
    if (v['dry-run'] && !v.data) {
      const cfg = resolveConfig({ ...given, fid: fidSettings(fidFlags) });
      process.stdout.write(dryRun(cfg));
      return 0;
    }
    if (!v.data) throw new ConfigError('--data FILE is required (make one with mrigan prepare)');
    data = openDataset(v.data);
    const [, c, h] = data.shape;
    const cfg = resolveConfig({ size: h as TrainConfig['size'], channels: c, ...given, data: path.resolve(v.data), fid: fidSettings(fidFlags) });
    if (v['dry-run']) {
      process.stdout.write(dryRun(cfg) + `dataset: ${v.data}, ${data.count} images ${h}×${h}, ${Math.floor(data.count / cfg.batch)} steps per epoch\n`);
      return 0;
    }
    const ev = await loadFid(cfg.fid);
    const t = trainer = Trainer.create(cfg, { data, dataName: v.data, out: v.out!, device, progress, timeLimit, parallel, fid: ev });
    if (parallel) broadcastTrainer(t);
    say(`training ${cfg.model} (${cfg.arch} ${cfg.size}×${cfg.size}${cfg.preset ? `, preset ${cfg.preset}` : ''}) on ${device}: ` +
      `${data.count} images, batch ${cfg.batch}, ${t.itersPerEpoch} steps per epoch, ${cfg.epochs} epochs → ${v.out}${w.size > 1 || w.transport === 'nccl' ? ` (${w.size} rank${w.size > 1 ? 's' : ''}, ${w.transport})` : ''}\n`);
    return await train(t, v.out!, w.rank === 0);
  } catch (e) {
    // one rank's failure ends every rank (the others would wait in a collective)
    if (w && w.size > 1) abortAll((e as Error).message);
    return report('train', e);
  } finally {
    data?.close();
    (fid as FidEvaluator | null)?.dispose();
  }
}

async function train(t: Trainer, out: string, root = true): Promise<number> {
  let stop = false;
  const onSig = (): void => {
    if (stop) process.exit(130);
    stop = true;
    t.requestStop();
    process.stderr.write('\nmrigan train: stopping after this step and writing a checkpoint (Ctrl-C again to quit now)\n');
  };
  process.on('SIGINT', onSig);
  try {
    await t.run();
  } finally {
    process.off('SIGINT', onSig);
    t.dispose();
  }
  if (root) process.stdout.write(stop ? `stopped; continue with: mrigan train --out ${out} --resume\n`
    : `done: samples in ${path.join(out, 'samples')}, loss curve ${path.join(out, 'loss.png')}, checkpoints in ${path.join(out, 'checkpoints')}\n`);
  return 0;
}

/** The configuration and both networks' layer tables (built on the CPU without initialising weights). */
export function dryRun(cfg: TrainConfig): string {
  const mo = { ...modelOptions(cfg, 'cpu'), init: false };
  const dRole = cfg.model === 'wgan-gp' ? 'critic' : 'discriminator';
  const G = buildModel(cfg.arch, 'generator', mo), D = buildModel(cfg.arch, dRole, mo);
  const s = [`configuration: ${JSON.stringify(cfg)}`, '',
    G.summary(inputShape(cfg.arch, 'generator', cfg.batch, mo), `generator (${cfg.arch})`), '',
    D.summary(inputShape(cfg.arch, dRole, cfg.batch, mo), `${dRole} (${cfg.arch})`), ''].join('\n');
  G.dispose();
  D.dispose();
  return s;
}
