// Files a run writes: atomic replacement (temp file in the same folder + fsync + rename + fsync of the folder,
// so a crash leaves either the old or the new file, never a torn one) and an append-only JSON-lines log.
import * as fs from 'fs';
import * as path from 'path';

function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // some filesystems refuse fsync on a directory; the rename is still atomic
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Replaces `file` with `data` atomically. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.tmp-${process.pid}-${Date.now()}`);
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

/** metrics.jsonl: one JSON object per line, appended and flushed per record (tail -f friendly). */
export class JsonLines {
  private fd: number;
  constructor(readonly file: string, append = true) {
    this.fd = fs.openSync(file, append ? 'a' : 'w');
  }
  write(rec: Record<string, unknown>): void {
    fs.writeSync(this.fd, JSON.stringify(rec) + '\n');
  }
  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }
}

/** Reads a JSON-lines file (skipping a torn last line left by a crash). */
export function readJsonLines(file: string): Record<string, unknown>[] {
  if (!fs.existsSync(file)) return [];
  const out: Record<string, unknown>[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line));
    } catch {
      // torn line
    }
  }
  return out;
}
