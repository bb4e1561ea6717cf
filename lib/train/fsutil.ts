// Files a run writes: an append-only JSON-lines log. Atomic replacement lives in lib/util/fs (re-exported here for
// the modules that import it from lib/train).
import * as fs from 'fs';

export { fsyncDir, writeFileAtomic, renameDirAtomic } from '../util/fs';

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
