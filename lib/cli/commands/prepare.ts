// mrigan prepare: BraTS folders, NIfTI volumes or PNG folders → one dataset file (docs/dataset-format.md).
import { parseArgs } from 'util';
import { COMMON_OPTIONS, printedHelp } from '../args';
import { usageFail, FileError } from '../errors';
import { SingleBar, Presets } from 'cli-progress';
import { RECIPES, selectBrats, parseRange, parseContrasts } from '../../data/brats';
import { prepareDataset, pngSources, niftiSources, PrepareSource } from '../../data/prepare';
import { SliceDType } from '../../data/dataset';
import { FitMode } from '../../data/preprocess';

export const summary = 'turn BraTS folders, NIfTI volumes or PNG slices into a dataset file (recipes: the paper\'s sets 1-3)';

const HELP = `usage: mrigan prepare (--brats DIR | --nifti FILE... | --images DIR) --out FILE [options]

sources (exactly one):
  --brats DIR           a BraTS 2020 (BraTS20_Training_001/..._flair.nii.gz) or 2021
                        (BraTS2021_00000/..._flair.nii.gz) folder
  --nifti FILE...       any 3-D NIfTI-1/2 volumes (.nii/.nii.gz); more files may follow as arguments
  --images DIR          a folder (searched recursively) of PNG slices: converted to gray and resized to
                        --size × --size as Keras' image_dataset_from_directory did in the reference system

recipe (with --brats):
  --set 1|2|3           the paper's sets (docs/design.md §6):
                          1: BraTS 2020 FLAIR, 15 subjects × slices 60-107          =  720
                          2: BraTS 2021 T1,T2,FLAIR, 48 subjects × slices 65-94     = 4320 (paper: 4230)
                          3: BraTS 2021 FLAIR, 48 subjects × slices 52-115          = 3072
                        --contrasts/--slices/--subjects override parts of a set (default: none)
  --contrasts LIST      contrasts, comma-separated, of t1,t1ce,t2,flair,seg (default: flair, or the set's)
  --subjects N|all      the first N subjects in id order (default: all, or the set's)
  --skip-incomplete     leave out subjects missing a contrast instead of stopping (default: false)

slices and preprocessing:
  --slices A-B          inclusive axial slice range, 0-based along the superior axis after reorientation
                        to RAS (default: every slice, or the set's range)
  --size N              output slices are N × N (default: 256)
  --fit pad|resize      pad: centre smaller slices and pad with -1 (240 → 256 adds 8 pixels per side, no
                        resampling), shrink larger ones bilinearly to fit; resize: scale every slice so its
                        longer side is N, then pad (default: pad)
  --percentiles LO,HI   foreground percentiles mapped to -1 and +1 per volume; background is exactly -1
                        (default: 0.5,99.5)
  --resample MM         resample NIfTI volumes to isotropic MM voxels first (trilinear), e.g. 1 for the
                        0.5 mm ch2better template (default: keep the voxel grid)
  --dtype T             float32 | int16 | uint8 storage; int16/uint8 quantise [-1, 1] (default: float32)

output:
  --out FILE            dataset file, written atomically (FILE.tmp-<pid>, renamed at the end) (required)
  --preview PNG         also write a grid of sample slices (default: none)
  --preview-count N     slices in the preview (default: 16)
  --json                print the result as JSON (default: false)
  --quiet               no progress bar or summary (default: false)
`;

export async function run(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      brats: { type: 'string' },
      nifti: { type: 'string', multiple: true },
      images: { type: 'string' },
      set: { type: 'string' },
      contrasts: { type: 'string' },
      subjects: { type: 'string' },
      'skip-incomplete': { type: 'boolean', default: false },
      slices: { type: 'string' },
      size: { type: 'string', default: '256' },
      fit: { type: 'string', default: 'pad' },
      percentiles: { type: 'string', default: '0.5,99.5' },
      resample: { type: 'string' },
      dtype: { type: 'string', default: 'float32' },
      out: { type: 'string' },
      preview: { type: 'string' },
      'preview-count': { type: 'string', default: '16' },
      ...COMMON_OPTIONS,
    },
  });
  if (printedHelp(v, HELP)) return 0;
  const fail = (msg: string): number => usageFail('prepare', msg);
  const kinds = [v.brats, v.nifti, v.images].filter((x) => x !== undefined).length;
  if (kinds !== 1) return fail('give exactly one of --brats, --nifti, --images');
  if (positionals.length && !v.nifti) return fail(`unexpected arguments: ${positionals.join(' ')}`);
  if (!v.out) return fail('--out FILE is required');
  const size = Number(v.size);
  const fit = v.fit as FitMode;
  if (fit !== 'pad' && fit !== 'resize') return fail(`--fit must be pad or resize (got ${v.fit})`);
  const dtype = v.dtype as SliceDType;
  if (!['float32', 'int16', 'uint8'].includes(dtype)) return fail(`--dtype must be float32, int16 or uint8 (got ${v.dtype})`);
  const pct = v.percentiles!.split(',').map(Number);
  if (pct.length !== 2 || pct.some((x) => !Number.isFinite(x))) return fail(`--percentiles must be LO,HI (got ${v.percentiles})`);
  const resample = v.resample === undefined ? undefined : Number(v.resample);
  if (v.set !== undefined && !v.brats) return fail('--set needs --brats');

  let sources: PrepareSource[];
  let recipe: Record<string, unknown>;
  let note = '';
  try {
    if (v.brats) {
      const r = v.set !== undefined ? RECIPES[Number(v.set)] : undefined;
      if (v.set !== undefined && !r) return fail(`--set must be 1, 2 or 3 (got ${v.set})`);
      const contrasts = v.contrasts ? parseContrasts(v.contrasts) : r ? r.contrasts : parseContrasts('flair');
      const slices = v.slices ? parseRange(v.slices) : r ? r.slices : ('all' as const);
      const subjects = v.subjects === undefined ? (r ? r.subjects : 'all') : v.subjects === 'all' ? 'all' : Number(v.subjects);
      const sel = selectBrats(v.brats, { contrasts, subjects, skipIncomplete: v['skip-incomplete'] });
      if (r && !sel.layout.includes(String(r.year))) note = `note: set ${r.set} was defined on BraTS ${r.year}; ${v.brats} has the ${sel.layout} layout\n`;
      if (sel.skipped.length) note += `skipped ${sel.skipped.length} incomplete subject(s): ${sel.skipped.join('; ')}\n`;
      sources = sel.volumes.map((x) => ({ kind: 'nifti' as const, path: x.path, subject: x.subject, contrast: x.contrast, slices }));
      const custom = !!(v.contrasts || v.slices || v.subjects);
      recipe = {
        source: 'brats', dir: v.brats, layout: sel.layout,
        ...(r ? { set: r.set, setNote: r.note } : {}), ...(custom || !r ? { custom: true } : {}),
        contrasts, slices, subjects: sel.subjects.map((s) => s.id),
      };
    } else if (v.nifti) {
      const slices = v.slices ? parseRange(v.slices) : ('all' as const);
      sources = niftiSources([...v.nifti, ...positionals], slices);
      recipe = { source: 'nifti', slices };
    } else {
      if (v.slices) return fail('--slices does not apply to --images');
      sources = pngSources(v.images!);
      recipe = { source: 'images', dir: v.images };
    }
  } catch (e) {
    if (e instanceof FileError) throw e; // a source that cannot be read: exit 1
    return fail((e as Error).message);
  }

  // Ctrl-C / kill: exit through process.exit so the dataset writer's exit hook removes the temp file.
  const onSignal = (sig: NodeJS.Signals) => process.exit(sig === 'SIGINT' ? 130 : 143);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const showBar = !v.quiet && !v.json && process.stderr.isTTY;
  const bar = showBar ? new SingleBar({ format: 'prepare [{bar}] {value}/{total} volumes | {eta_formatted} left', stream: process.stderr }, Presets.shades_classic) : undefined;
  if (note && !v.quiet) process.stderr.write(note);
  bar?.start(sources.length, 0);
  try {
    const res = await prepareDataset({
      sources, out: v.out, size, fit, dtype, resample, recipe,
      percentiles: [pct[0], pct[1]],
      preview: v.preview, previewCount: Number(v['preview-count']),
      onProgress: (done) => bar?.update(done),
    });
    bar?.stop();
    if (v.json) process.stdout.write(JSON.stringify(res) + '\n');
    else if (!v.quiet) {
      process.stdout.write(`wrote ${res.file}: ${res.count} slices of ${res.shape[2]}×${res.shape[3]} ${dtype} from ${sources.length} source(s), ${(res.bytes / 2 ** 20).toFixed(1)} MiB in ${res.timings.total.toFixed(1)} s\n`);
      if (res.preview) process.stdout.write(`preview: ${res.preview}\n`);
    }
    return 0;
  } finally {
    bar?.stop();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}
