// Which addon a benchmark measures: the path lib/engine resolves (MRIGAN_ADDON, MRIGAN_BUILD_DIR, else build/) and
// when it was built, printed by every benchmark whose numbers go to bench/NOTES.md — a stale build/ once went
// unnoticed into a recorded row. Child processes inherit the environment, so they load the same file.
import * as fs from 'fs';
import { addonPath } from '../lib/engine/native';

export function addonLine(): string {
  const addon = addonPath();
  return `addon ${addon} (built ${fs.existsSync(addon) ? fs.statSync(addon).mtime.toISOString() : 'missing'})`;
}
