// Files a command writes: atomic replacement (temp file in the same folder + fsync + rename + fsync of the folder,
// so a crash leaves either the old or the new file, never a torn one), the temp naming every writer shares, and the
// cleanup of temps left by writers that were killed (kill -9 runs no exit hook).
import * as fs from 'fs';
import * as path from 'path';
import { UsageError, FileError, fsError } from './errors';

/** Syncs a folder so a rename inside it survives a power cut; some filesystems refuse, the rename is atomic anyway. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // EINVAL/EISDIR on some filesystems
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** `FILE.tmp-<pid>` (visible, next to FILE) or `.FILE.tmp-<pid>-<n>` (hidden, for small files written often). */
export function tempName(file: string, hidden = false): string {
  if (!hidden) return `${file}.tmp-${process.pid}`;
  return path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}-${++tempSerial}`);
}
let tempSerial = 0;

/** The pid in a temp name made by tempName() (either form), or null if `name` is not one. */
export function tempPid(name: string, base: string): number | null {
  const b = escape(base);
  const m = new RegExp(`^(?:${b}\\.tmp-(\\d+)|\\.${b}\\.tmp-(\\d+)(?:-\\d+)?)$`).exec(name);
  return m ? Number(m[1] ?? m[2]) : null;
}
const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** True if a process with this pid exists (EPERM: it exists but is someone else's). */
export function pidAlive(pid: number): boolean {
  if (!(Number.isInteger(pid) && pid > 0)) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes temp files (and folders) that tempName() or `match` names next to `file` whose writer is dead.
 * `match(name)` may return a pid for other namings (e.g. checkpoint staging folders). Returns the removed paths.
 */
export function removeStaleTemps(file: string, match?: (name: string) => number | null): string[] {
  const dir = path.dirname(file), base = path.basename(file);
  let names: string[];
  try { names = fs.readdirSync(dir); } catch { return []; }
  const removed: string[] = [];
  for (const n of names) {
    const pid = tempPid(n, base) ?? match?.(n) ?? null;
    if (pid === null || pidAlive(pid)) continue;
    try {
      fs.rmSync(path.join(dir, n), { recursive: true, force: true });
      removed.push(path.join(dir, n));
    } catch { /* not ours to remove (permissions): leave it */ }
  }
  return removed;
}

/** removeStaleTemps for every file of a folder: any `NAME.tmp-<pid>` or `.NAME.tmp-<pid>-<n>` of a dead writer. */
export function removeStaleTempsIn(dir: string): string[] {
  return removeStaleTemps(path.join(dir, '\0'), (n) => {
    const m = /^(?:\..+\.tmp-(\d+)-\d+|[^.].*\.tmp-(\d+))$/.exec(n);
    return m ? Number(m[1] ?? m[2]) : null;
  });
}

/** Replaces `file` with `data` atomically. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const dir = path.dirname(file);
  const tmp = tempName(file, true);
  try {
    const fd = fs.openSync(tmp, 'w');
    try {
      fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDir(dir);
}

/** Renames a fully written folder into place and syncs the parent. */
export function renameDirAtomic(from: string, to: string): void {
  fs.renameSync(from, to);
  fsyncDir(path.dirname(to));
}

/**
 * mkdir -p one level at a time: Node's recursive mkdirSync spins forever under /proc (ENOENT from a pseudo
 * filesystem), and its errors do not say which level failed.
 */
export function mkdirs(dir: string): void {
  const abs = path.resolve(dir);
  const missing: string[] = [];
  for (let d = abs; ; d = path.dirname(d)) {
    let st: fs.Stats | undefined;
    try { st = fs.statSync(d); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw fsError(e, d, 'cannot use folder'); }
    if (st) {
      if (!st.isDirectory()) throw new FileError(d, 'is not a folder');
      break;
    }
    missing.push(d);
    if (path.dirname(d) === d) break;
  }
  for (const d of missing.reverse()) {
    try { fs.mkdirSync(d); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw fsError(e, d, 'cannot create folder'); }
  }
}

/**
 * Checks an output file before any work is done: not an existing folder, its folder exists (created if need be)
 * and accepts a new file (a probe temp is created and removed). Also removes stale temps of dead writers of `file`.
 */
export function prepareOutputFile(file: string, option = '--out'): void {
  let st: fs.Stats | undefined;
  try { st = fs.statSync(file); } catch { /* absent: fine */ }
  if (st?.isDirectory()) throw new UsageError(`${option} ${file} is an existing folder; give the file to write`, option);
  mkdirs(path.dirname(path.resolve(file)));
  removeStaleTemps(file);
  const probe = tempName(file);
  try {
    fs.closeSync(fs.openSync(probe, 'wx'));
  } catch (e) {
    throw fsError(e, file, 'cannot write');
  }
  fs.rmSync(probe, { force: true });
}
