// The text of a diverged-training report (NonFiniteError in trainer.ts). Two facts decide it: whether the data
// itself held NaN/Inf (then a lower --lr cannot help) and whether a checkpoint exists yet (then "the last good
// checkpoint is kept" would be false).
import * as fs from 'fs';
import * as path from 'path';

export interface NonFiniteFacts {
  /** Generator step (1-based) at which the value was found. */
  step: number;
  /** What was not finite: "the D loss", "the gradient of G.conv1.weight", ... */
  what: string;
  /** Where non-finite data was found in the batch (e.g. "data.mrigan slice 17"), or null when the batch was finite. */
  badData: string | null;
  /** The published checkpoint folder name (step-NNNNNNNN), or null when the run has none yet. */
  checkpoint: string | null;
}

/** One-line message; the advice follows from the facts. */
export function nonFiniteMessage(f: NonFiniteFacts): string {
  const head = `training diverged at step ${f.step}: ${f.what} is not finite (NaN or Inf)`;
  const cause = f.badData
    ? `the input batch holds NaN or Inf values (${f.badData}): fix the data or prepare the dataset again`
    : 'try a lower --lr';
  const kept = f.checkpoint
    ? `the last good checkpoint (${f.checkpoint}) is kept`
    : 'no checkpoint was written yet, so there is nothing to resume from';
  return `${head}; ${kept}; ${cause}`;
}

/** Index of the first non-finite value of a host batch, or -1. */
export function firstNonFiniteHost(x: ArrayLike<number>): number {
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) return i;
  return -1;
}

/** The run's published checkpoint name from RUN_DIR/checkpoints/latest.json, or null (none, or unreadable). */
export function publishedCheckpoint(runDir: string | undefined): string | null {
  if (!runDir) return null;
  try {
    const dir = JSON.parse(fs.readFileSync(path.join(runDir, 'checkpoints', 'latest.json'), 'utf8')).dir;
    return typeof dir === 'string' && /^step-\d{8}$/.test(dir) && fs.existsSync(path.join(runDir, 'checkpoints', dir)) ? dir : null;
  } catch {
    return null;
  }
}
