// Checkpoints of a run: RUN_DIR/checkpoints/step-NNNNNNNN/ holds
//   G.safetensors, D.safetensors   model weights, BN buffers and counters (PyTorch state_dict names: load_state_dict works)
//   optim.safetensors              Adam moments, `G.<param>.exp_avg` / `.exp_avg_sq` and `D.…`
//   state.json                     epoch/iteration/step, Adam step counts, Philox offsets, the config
// A checkpoint is written into a hidden staging folder (each file fsynced), renamed into place, and only then
// published by replacing RUN_DIR/checkpoints/latest.json atomically. A crash at any point leaves latest.json naming
// the previous complete checkpoint. The two newest checkpoints are kept.
import * as fs from 'fs';
import * as path from 'path';
import { Tensor } from '../engine';
import { Sequential, Adam, saveModel, loadModel, saveTensors, loadTensorsInto } from '../nn';
import { TrainConfig, ConfigError, validate } from './config';
import { writeFileAtomic, renameDirAtomic, removeStaleTemps, removeStaleTempsIn } from '../util/fs';
import { FileError } from '../util/errors';

export const CHECKPOINT_VERSION = 1;

export interface TrainState {
  version: number;
  /** Epochs completed. */
  epoch: number;
  /** Iterations (batches) completed within the current epoch. */
  iter: number;
  /** Generator steps (= iterations) completed in the whole run. */
  step: number;
  /** Adam step counts. */
  optG: number;
  optD: number;
  /** Philox offsets of the run's streams (name → offset in blocks). */
  rng: Record<string, number>;
  config: TrainConfig;
  time: string;
}

export interface CheckpointParts { G: Sequential; D: Sequential; optG: Adam; optD: Adam; state: TrainState }

const dirName = (step: number): string => `step-${String(step).padStart(8, '0')}`;
export const checkpointsDir = (runDir: string): string => path.join(runDir, 'checkpoints');

function optimTensors(optG: Adam, optD: Adam): Map<string, Tensor> {
  const m = new Map<string, Tensor>();
  for (const [k, t] of optG.exportState().tensors) m.set(`G.${k}`, t);
  for (const [k, t] of optD.exportState().tensors) m.set(`D.${k}`, t);
  return m;
}

/**
 * Writes a checkpoint and publishes it. `hook(stage)` runs after each file is written (tests use it to kill the
 * process half-way). Returns the checkpoint folder.
 */
export function saveCheckpoint(runDir: string, p: CheckpointParts, hook?: (stage: string) => void): string {
  const root = checkpointsDir(runDir);
  fs.mkdirSync(root, { recursive: true });
  cleanCheckpointTemps(runDir);
  const name = dirName(p.state.step);
  const stage = path.join(root, `.staging-${name}-${process.pid}`);
  fs.rmSync(stage, { recursive: true, force: true });
  fs.mkdirSync(stage);
  const meta = { format: 'mrigan-checkpoint', arch: p.state.config.arch, size: String(p.state.config.size) };
  saveModel(path.join(stage, 'G.safetensors'), p.G, { ...meta, role: 'generator' });
  hook?.('G');
  saveModel(path.join(stage, 'D.safetensors'), p.D, { ...meta, role: p.state.config.model === 'wgan-gp' ? 'critic' : 'discriminator' });
  hook?.('D');
  saveTensors(path.join(stage, 'optim.safetensors'), optimTensors(p.optG, p.optD), { G_steps: String(p.optG.steps), D_steps: String(p.optD.steps) });
  hook?.('optim');
  writeFileAtomic(path.join(stage, 'state.json'), JSON.stringify(p.state, null, 1));
  hook?.('state');
  const dir = path.join(root, name);
  fs.rmSync(dir, { recursive: true, force: true });
  renameDirAtomic(stage, dir);
  hook?.('rename');
  writeFileAtomic(path.join(root, 'latest.json'), JSON.stringify({ dir: name, step: p.state.step, epoch: p.state.epoch }) + '\n');
  hook?.('latest');
  prune(root, name);
  return dir;
}

/** Keeps the published checkpoint and the one before it. */
function prune(root: string, keep: string): void {
  const steps = fs.readdirSync(root).filter((f) => /^step-\d{8}$/.test(f)).sort();
  const keepSet = new Set([keep, ...steps.filter((s) => s < keep).slice(-1)]);
  for (const f of steps) if (!keepSet.has(f)) fs.rmSync(path.join(root, f), { recursive: true, force: true });
  cleanCheckpointTemps(path.dirname(root));
}

const stagingPid = (name: string): number | null => {
  const m = /^\.staging-step-\d{8}-(\d+)$/.exec(name);
  return m ? Number(m[1]) : null;
};

/**
 * Removes what killed writers left in RUN_DIR/checkpoints: `.latest.json.tmp-<pid>-<n>` and `.staging-step-N-<pid>/`
 * folders whose pid is not alive. Runs before every checkpoint write. Returns the removed paths.
 */
export function cleanCheckpointTemps(runDir: string): string[] {
  // and the run folder's own (metrics.jsonl rewritten on resume, samples/*.png)
  return [...removeStaleTemps(path.join(checkpointsDir(runDir), 'latest.json'), stagingPid),
    ...removeStaleTempsIn(runDir), ...removeStaleTempsIn(path.join(runDir, 'samples'))];
}

/** Parses a JSON file of a checkpoint, naming the file when it is truncated or not JSON. */
export function readJson(file: string): unknown {
  let text: string;
  try { text = fs.readFileSync(file, 'utf8'); } catch (e) { throw new FileError(file, `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`); }
  try { return JSON.parse(text); } catch (e) {
    throw new FileError(file, `${text.trim() ? 'truncated or corrupt' : 'empty'} JSON (${(e as Error).message}); the run's previous checkpoint folder may still be intact`);
  }
}

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const count = (x: unknown): boolean => Number.isSafeInteger(x) && (x as number) >= 0;

/** Checks the fields of a state.json that resume relies on; throws FileError naming the file and the field. */
export function checkState(x: unknown, file: string): TrainState {
  if (!isObj(x)) throw new FileError(file, 'not a checkpoint state (not a JSON object)');
  if (x.version !== CHECKPOINT_VERSION) throw new FileError(file, `checkpoint version ${JSON.stringify(x.version)}, this mrigan reads ${CHECKPOINT_VERSION}`);
  for (const k of ['epoch', 'iter', 'step', 'optG', 'optD']) if (!count(x[k])) throw new FileError(file, `corrupt checkpoint state: '${k}' must be a non-negative integer, got ${JSON.stringify(x[k])}`);
  if (!isObj(x.rng) || !Object.values(x.rng).every(count)) throw new FileError(file, "corrupt checkpoint state: 'rng' must map stream names to non-negative integer offsets");
  if (!isObj(x.config)) throw new FileError(file, "corrupt checkpoint state: no 'config' object");
  try {
    validate(x.config as unknown as TrainConfig);
  } catch (e) {
    throw new FileError(file, `corrupt checkpoint config (${(e as Error).message})`);
  }
  const c = x.config as Record<string, unknown>;
  if (!(c.data === null || c.data === undefined || typeof c.data === 'string')) throw new FileError(file, "corrupt checkpoint config: 'data' must be a path");
  return x as unknown as TrainState;
}

/** The published checkpoint of a run: its folder and state. Throws a clear error when there is none. */
export function findCheckpoint(runDir: string): { dir: string; state: TrainState } {
  const root = checkpointsDir(runDir);
  const latest = path.join(root, 'latest.json');
  if (!fs.existsSync(runDir)) throw new ConfigError(`${runDir}: no such run folder`);
  if (!fs.existsSync(latest)) throw new ConfigError(`${runDir}: no checkpoint yet (${path.relative(runDir, latest)} is missing); was the run started with --out ${runDir}?`);
  const ptr = readJson(latest);
  const name = isObj(ptr) ? ptr.dir : undefined;
  // only a step folder of this run: the pointer must not lead elsewhere (../, absolute paths)
  if (typeof name !== 'string' || !/^step-\d{8}$/.test(name)) throw new FileError(latest, `corrupt checkpoint pointer: 'dir' must name a step-NNNNNNNN folder, got ${JSON.stringify(name)?.slice(0, 80)}`);
  const dir = path.join(root, name);
  for (const f of ['G.safetensors', 'D.safetensors', 'optim.safetensors', 'state.json'])
    if (!fs.existsSync(path.join(dir, f))) throw new FileError(dir, `checkpoint incomplete, ${f} is missing`);
  const stateFile = path.join(dir, 'state.json');
  const state = checkState(readJson(stateFile), stateFile);
  return { dir, state };
}

/** Loads weights, buffers and optimizer moments of a checkpoint folder into models built from its config. */
export function loadCheckpointInto(dir: string, G: Sequential, D: Sequential | null, optG: Adam | null, optD: Adam | null, state: TrainState): void {
  loadModel(path.join(dir, 'G.safetensors'), G);
  if (D) loadModel(path.join(dir, 'D.safetensors'), D);
  if (optG && optD) {
    loadTensorsInto(path.join(dir, 'optim.safetensors'), optimTensors(optG, optD));
    optG.steps = state.optG;
    optD.steps = state.optD;
  }
}
