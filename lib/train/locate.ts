// Which checkpoint a path on the command line names (mrigan sample --checkpoint, and the run inputs of mrigan fid,
// stats and eval):
//   RUN_DIR                          the run's latest checkpoint (checkpoints/latest.json)
//   RUN_DIR/checkpoints/best         the best by FID (rank 1 of best.json, kept by --fid-every)
//   a checkpoint folder              that one: RUN_DIR/checkpoints/step-N or RUN_DIR/checkpoints/best/step-N
// Generating images needs G.safetensors and state.json only, so a folder without D or the optimizer still works.
import * as fs from 'fs';
import * as path from 'path';
import { FileError } from '../util/errors';
import { TrainState, checkState, checkpointsDir, findCheckpoint, readJson } from './checkpoint';
import { readBestList } from './best';
import { ConfigError } from './config';

export interface LocatedCheckpoint {
  dir: string;
  state: TrainState;
  /** How it was chosen, for printed results: 'latest', 'best (rank 1, FID …)' or 'folder'. */
  how: string;
}

const isDir = (p: string): boolean => { try { return fs.statSync(p).isDirectory(); } catch { return false; } };

/** Whether `p` is a folder that locateCheckpoint() takes (a run, a best/ folder or one checkpoint). */
export function isCheckpointPath(p: string): boolean {
  return isDir(p) && (isDir(checkpointsDir(p)) || fs.existsSync(path.join(p, 'best.json')) || fs.existsSync(path.join(p, 'state.json')));
}

/** The checkpoint `p` names (see the top of this file); a clear error naming the path when it names none. */
export function locateCheckpoint(p: string): LocatedCheckpoint {
  if (!fs.existsSync(p)) throw new ConfigError(`${p}: no such run folder or checkpoint folder`);
  if (!isDir(p)) throw new FileError(p, 'not a folder; expected a run folder, RUN/checkpoints/best or a checkpoint folder step-N');
  if (isDir(checkpointsDir(p))) return { ...findCheckpoint(p), how: 'latest' };
  const bestFile = path.join(p, 'best.json');
  if (fs.existsSync(bestFile)) {
    const { entries } = readBestList(bestFile);
    if (!entries.length) throw new FileError(bestFile, 'lists no checkpoints yet');
    const top = [...entries].sort((a, b) => a.fid - b.fid || a.step - b.step)[0];
    return { ...readFolder(path.join(p, top.file)), how: `best (rank 1, FID ${top.fid.toPrecision(6)}, step ${top.step})` };
  }
  if (fs.existsSync(path.join(p, 'state.json'))) return { ...readFolder(p), how: 'folder' };
  throw new FileError(p, 'holds no checkpoints/ folder, best.json or state.json; expected a run folder, RUN/checkpoints/best or a checkpoint folder step-N');
}

function readFolder(dir: string): { dir: string; state: TrainState } {
  const g = path.join(dir, 'G.safetensors'), stateFile = path.join(dir, 'state.json');
  if (!fs.existsSync(stateFile)) throw new FileError(dir, 'checkpoint incomplete, state.json is missing');
  if (!fs.existsSync(g)) throw new FileError(dir, 'checkpoint incomplete, G.safetensors is missing');
  return { dir, state: checkState(readJson(stateFile), stateFile) };
}
