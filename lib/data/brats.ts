// BraTS folder layouts and the paper's dataset recipes (docs/design.md §6).
//
// BraTS 2020: BraTS20_Training_001/BraTS20_Training_001_flair.nii.gz (also BraTS20_Validation_NNN)
// BraTS 2021: BraTS2021_00000/BraTS2021_00000_flair.nii.gz
// Files may sit in one folder per subject (as distributed) or all in one folder; .nii or .nii.gz.
import * as fs from 'fs';
import * as path from 'path';
import { DataError } from './errors';

export const CONTRASTS = ['t1', 't1ce', 't2', 'flair', 'seg'] as const;
export type Contrast = (typeof CONTRASTS)[number];

export interface Recipe {
  set: number;
  /** BraTS release the recipe was defined on. */
  year: 2020 | 2021;
  contrasts: Contrast[];
  /** Inclusive axial slice range (0-based, RAS superior axis). */
  slices: [number, number];
  subjects: number;
  note: string;
}

/**
 * The three sets of the paper. Set 2: docs/design.md §6 gives 48 subjects × slices 65–94 × {T1, T2, FLAIR} = 4320
 * slices; the paper reports 4230, which no whole number of subjects, slices and contrasts in the stated ranges
 * gives — we implement 4320.
 */
export const RECIPES: Record<number, Recipe> = {
  1: { set: 1, year: 2020, contrasts: ['flair'], slices: [60, 107], subjects: 15, note: 'BraTS 2020, FLAIR, subjects 001-015 x axial slices 60-107 = 720' },
  2: { set: 2, year: 2021, contrasts: ['t1', 't2', 'flair'], slices: [65, 94], subjects: 48, note: 'BraTS 2021, 48 subjects x slices 65-94 x {T1, T2, FLAIR} = 4320 (paper reports 4230)' },
  3: { set: 3, year: 2021, contrasts: ['flair'], slices: [52, 115], subjects: 48, note: 'BraTS 2021, 48 subjects x slices 52-115 x FLAIR = 3072' },
};

const FILE_RE = /^(BraTS20_(?:Training|Validation)_(\d+)|BraTS2021_(\d+))_(t1|t1ce|t2|flair|seg)\.nii(\.gz)?$/;

export interface BratsSubject {
  id: string;
  year: 2020 | 2021;
  /** Numeric part of the id, for ordering. */
  number: number;
  files: Partial<Record<Contrast, string>>;
}

const isDir = (p: string): boolean => { try { return fs.statSync(p).isDirectory(); } catch { return false; } };

/** Finds BraTS files in dir and its immediate subfolders, grouped by subject, ordered by subject number. */
export function scanBrats(dir: string): BratsSubject[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DataError(dir, code === 'ENOENT' ? 'no such folder' : code === 'ENOTDIR' ? 'not a folder (--brats takes the folder of subject folders)' : code === 'EACCES' ? 'cannot list folder: permission denied' : `cannot list folder (${(e as Error).message})`);
  }
  const subjects = new Map<string, BratsSubject>();
  const visit = (folder: string, names: fs.Dirent[]) => {
    for (const e of names) {
      const m = FILE_RE.exec(e.name);
      if (!m || !(e.isFile() || (e.isSymbolicLink() && !isDir(path.join(folder, e.name))))) continue; // a dangling link stays: reading it names it
      const id = m[1];
      const year = m[3] !== undefined ? 2021 : 2020;
      let s = subjects.get(id);
      if (!s) subjects.set(id, (s = { id, year, number: Number(m[2] ?? m[3]), files: {} }));
      const c = m[4] as Contrast;
      const p = path.join(folder, e.name);
      // both .nii and .nii.gz present: prefer the compressed one, deterministically
      if (!s.files[c] || p.endsWith('.gz')) s.files[c] = p;
    }
  };
  visit(dir, entries);
  // subject folders may be symbolic links into a shared store: follow them
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (!(e.isDirectory() || (e.isSymbolicLink() && isDir(p)))) continue;
    let names: fs.Dirent[];
    try { names = fs.readdirSync(p, { withFileTypes: true }); } catch (err) { throw new DataError(p, `cannot list folder (${(err as NodeJS.ErrnoException).code === 'EACCES' ? 'permission denied' : (err as Error).message})`); }
    visit(p, names);
  }
  return [...subjects.values()].sort((a, b) => a.year - b.year || a.id.localeCompare(b.id) || a.number - b.number);
}

export interface BratsSelection {
  contrasts: Contrast[];
  /** Number of subjects (the first N in id order) or 'all'. */
  subjects: number | 'all';
  /** Leave out subjects that lack a contrast (default: refuse, listing what is missing). */
  skipIncomplete?: boolean;
}

export interface SelectedVolume { subject: string; contrast: Contrast; path: string }

/** Picks the subjects and files for a selection; errors list every subject's missing contrasts. */
export function selectBrats(dir: string, sel: BratsSelection): { volumes: SelectedVolume[]; subjects: BratsSubject[]; skipped: string[]; layout: string } {
  const all = scanBrats(dir);
  if (!all.length) throw new DataError(dir, 'no BraTS files found (expected e.g. BraTS2021_00000/BraTS2021_00000_flair.nii.gz or BraTS20_Training_001/BraTS20_Training_001_flair.nii.gz)');
  const years = new Set(all.map((s) => s.year));
  const layout = years.size > 1 ? 'mixed 2020/2021' : `BraTS ${[...years][0]}`;
  const want = sel.subjects === 'all' ? Infinity : sel.subjects;
  if (!(want === Infinity || (Number.isInteger(want) && want >= 1))) throw new DataError(dir, `--subjects must be a positive number or "all" (got ${sel.subjects})`);
  const chosen: BratsSubject[] = [];
  const incomplete: string[] = [];
  const skipped: string[] = [];
  for (const s of all) {
    if (chosen.length === want) break;
    const missing = sel.contrasts.filter((c) => !s.files[c]);
    if (missing.length) {
      if (sel.skipIncomplete) { skipped.push(`${s.id} (no ${missing.join(', ')})`); continue; }
      incomplete.push(`  ${s.id}: missing ${missing.join(', ')}`);
    }
    chosen.push(s);
  }
  if (incomplete.length) {
    throw new DataError(dir, `${incomplete.length} of the selected subjects lack contrasts (use --skip-incomplete to leave them out): ${incomplete.join('; ')}`);
  }
  if (!chosen.length) throw new DataError(dir, `no subject has all of ${sel.contrasts.join(', ')}`);
  if (chosen.length < want && want !== Infinity) {
    throw new DataError(dir, `asked for ${want} subjects with ${sel.contrasts.join(', ')}, found ${chosen.length}${skipped.length ? ` (${skipped.length} incomplete ones skipped)` : ''}`);
  }
  const volumes: SelectedVolume[] = [];
  for (const s of chosen) for (const c of sel.contrasts) volumes.push({ subject: s.id, contrast: c, path: s.files[c]! });
  return { volumes, subjects: chosen, skipped, layout };
}

/** Parses "52-115" or "60" into an inclusive range. */
export function parseRange(s: string, what = 'slices'): [number, number] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(s.trim());
  if (!m) throw new Error(`--${what} must look like 52-115 or 60 (got "${s}")`);
  const a = Number(m[1]), b = m[2] === undefined ? a : Number(m[2]);
  if (b < a) throw new Error(`--${what} ${s}: end before start`);
  return [a, b];
}

export function parseContrasts(s: string): Contrast[] {
  const list = s.split(',').map((x) => x.trim().toLowerCase()).filter(Boolean);
  for (const c of list) if (!(CONTRASTS as readonly string[]).includes(c)) throw new Error(`unknown contrast "${c}" (known: ${CONTRASTS.join(', ')})`);
  if (!list.length) throw new Error('--contrasts is empty');
  return [...new Set(list)] as Contrast[];
}
