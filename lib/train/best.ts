// The best checkpoints of a run by FID (the paper's Table II reports top-3 FIDs). RUN_DIR/checkpoints/best/ holds up
// to `keep` checkpoint folders step-NNNNNNNN/ and best.json, the ranking:
//   { "metric": "fid", "settings": {…}, "entries": [{ "rank": 1, "epoch": 4, "step": 12, "fid": 31.2, "file": "step-00000012" }, …] }
// The folders are hard links to the files of the published checkpoint (checkpoint files are never rewritten in place,
// so a link costs no space and stays valid after the checkpoint is pruned); a copy where links are refused. Each is a
// complete checkpoint (G, D, optimizer, state.json).
// Lower FID ranks first; on a tie the earlier step stays ahead, so a newcomer that ties the worst kept one does not
// enter. Updates are crash-safe: the new folder is staged (.staging-step-N-<pid>) and renamed into place, then
// best.json is replaced atomically, then evicted folders are removed. best.json only ever names complete folders;
// folders it does not name (an eviction or a staging cut short by a kill) are removed by the next load or update.
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomic, renameDirAtomic, pidAlive, removeStaleTempsIn } from '../util/fs';
import { FileError } from '../util/errors';
import { checkpointsDir } from './checkpoint';
import { ConfigError } from './config';

export interface BestEntry { rank: number; epoch: number; step: number; fid: number; file: string }

/** What the ranking is comparable under (sample count, preprocessing, weights and real statistics fingerprints). */
export type BestSettings = Record<string, string | number>;

export const BEST_KEEP = 3;
export const bestDir = (runDir: string): string => path.join(checkpointsDir(runDir), 'best');
const folderName = (step: number): string => `step-${String(step).padStart(8, '0')}`;
const sameSettings = (a: BestSettings, b: BestSettings): boolean =>
  JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
const describe = (s: BestSettings): string => Object.entries(s).map(([k, v]) => `${k} ${String(v).slice(0, 12)}`).join(', ');

/** best.json, checked: the ranking's settings and entries (a malformed file is a FileError naming it). */
export function readBestList(file: string): { settings: BestSettings; entries: BestEntry[] } {
  let x: { metric?: unknown; settings?: BestSettings; entries?: BestEntry[] };
  try { x = JSON.parse(fs.readFileSync(file, 'utf8')); } catch (e) { throw new FileError(file, `corrupt best-checkpoint list (${(e as Error).message})`); }
  const ok = x && x.metric === 'fid' && Array.isArray(x.entries) && typeof x.settings === 'object' && x.settings !== null
    && x.entries.every((e) => Number.isSafeInteger(e?.step) && Number.isSafeInteger(e?.epoch) && typeof e?.fid === 'number' && e.file === folderName(e.step));
  if (!ok) throw new FileError(file, "corrupt best-checkpoint list (expected metric 'fid', settings and entries {rank, epoch, step, fid, file})");
  return { settings: x.settings!, entries: x.entries! };
}

export class BestCheckpoints {
  entries: BestEntry[] = [];

  private constructor(readonly runDir: string, readonly settings: BestSettings, readonly keep: number) {}

  get dir(): string { return bestDir(this.runDir); }
  get file(): string { return path.join(this.dir, 'best.json'); }

  /**
   * The ranking in RUN_DIR/checkpoints/best/best.json (none yet: empty). Entries after `upToStep` belong to the part
   * of a run lost before a resume and are dropped. A ranking made under other settings is a usage error: FIDs from
   * other weights, preprocessing, real statistics or sample counts do not compare.
   */
  static load(runDir: string, settings: BestSettings, o: { keep?: number; upToStep?: number } = {}): BestCheckpoints {
    const b = new BestCheckpoints(runDir, settings, o.keep ?? BEST_KEEP);
    if (fs.existsSync(b.file)) {
      const x = readBestList(b.file);
      const entries = x.entries.filter((e) => o.upToStep === undefined || e.step <= o.upToStep);
      if (entries.length && !sameSettings(x.settings, settings)) {
        throw new ConfigError(`${b.file} ranks checkpoints by FID with ${describe(x.settings)}, but this run now has ${describe(settings)}: `
          + 'give the --fid-* options the run had, or move that folder away to start a new ranking');
      }
      b.entries = entries;
      if (entries.length !== x.entries.length) b.write();
    }
    b.cleanup();
    return b;
  }

  /** Whether an FID would enter the list now (finite, and better than the worst kept when the list is full). */
  qualifies(fid: number): boolean {
    if (!Number.isFinite(fid)) return false;
    return this.entries.length < this.keep || fid < this.entries[this.entries.length - 1].fid;
  }

  /**
   * Offers the checkpoint folder `src` (epoch, step) with its FID. Returns its rank (1 = best) if it entered (or was
   * already listed), else null. `hook(stage)` runs after each stage ('staged', 'renamed', 'listed', 'evicted'): tests
   * kill the process there.
   */
  offer(e: { epoch: number; step: number; fid: number }, src: string, hook?: (stage: string) => void): number | null {
    const listed = this.entries.find((x) => x.step === e.step);
    if (listed) return listed.rank;
    if (!this.qualifies(e.fid)) return null;
    const name = folderName(e.step), dir = this.dir;
    fs.mkdirSync(dir, { recursive: true });
    this.cleanup();
    const stage = path.join(dir, `.staging-${name}-${process.pid}`);
    fs.rmSync(stage, { recursive: true, force: true });
    fs.mkdirSync(stage);
    for (const f of fs.readdirSync(src)) {
      try { fs.linkSync(path.join(src, f), path.join(stage, f)); } catch { fs.copyFileSync(path.join(src, f), path.join(stage, f)); }
    }
    hook?.('staged');
    fs.rmSync(path.join(dir, name), { recursive: true, force: true });
    renameDirAtomic(stage, path.join(dir, name));
    hook?.('renamed');
    const all = [...this.entries, { ...e, rank: 0, file: name }].sort((a, b) => a.fid - b.fid || a.step - b.step);
    this.entries = all.slice(0, this.keep).map((x, i) => ({ ...x, rank: i + 1 }));
    this.write();
    hook?.('listed');
    this.cleanup();
    hook?.('evicted');
    return this.entries.find((x) => x.step === e.step)!.rank;
  }

  private write(): void {
    this.entries = this.entries.map((x, i) => ({ rank: i + 1, epoch: x.epoch, step: x.step, fid: x.fid, file: x.file }));
    writeFileAtomic(this.file, JSON.stringify({ metric: 'fid', settings: this.settings, entries: this.entries }, null, 1) + '\n');
  }

  /** Removes folders best.json does not name, stagings of dead writers (or this one's, left by a failure) and temps. */
  private cleanup(): void {
    let names: string[];
    try { names = fs.readdirSync(this.dir); } catch { return; }
    const keep = new Set(this.entries.map((x) => x.file));
    for (const n of names) {
      const stage = /^\.staging-step-\d{8}-(\d+)$/.exec(n);
      const stale = stage ? (Number(stage[1]) === process.pid || !pidAlive(Number(stage[1]))) : /^step-\d{8}$/.test(n) && !keep.has(n);
      if (stale) fs.rmSync(path.join(this.dir, n), { recursive: true, force: true });
    }
    removeStaleTempsIn(this.dir);
  }
}
