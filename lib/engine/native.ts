// Loads the native addon once. MRIGAN_ADDON overrides the path (e.g. a sanitizer or CUDA build elsewhere).
import * as fs from 'fs';
import * as path from 'path';

/** The raw addon: functions registered by native/addon/*.cc. Typed wrappers live beside this file. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type NativeAddon = Record<string, any>;

let addon: NativeAddon | undefined;

export function addonPath(): string {
  if (process.env.MRIGAN_ADDON) return path.resolve(process.env.MRIGAN_ADDON);
  // dist/lib/engine → package root
  const root = path.resolve(__dirname, '..', '..', '..');
  return path.join(root, process.env.MRIGAN_BUILD_DIR || 'build', 'Release', 'mrigan.node');
}

export function native(): NativeAddon {
  if (addon) return addon;
  const p = addonPath();
  if (!fs.existsSync(p)) {
    throw new Error(`mrigan: native addon not found at ${p}; build it with 'npm run build:native'`);
  }
  addon = require(p) as NativeAddon;
  return addon;
}
