// mrigan phantom: procedural BraTS-layout brain volumes with a tumour (no download needed).
import { parseArgs } from 'util';
import { COMMON_OPTIONS, printedHelp } from '../args';
import { usageFail } from '../errors';
import { SingleBar, Presets } from 'cli-progress';
import { writePhantom } from '../../data/phantom';
import { parseContrasts } from '../../data/brats';

export const summary = 'write procedural BraTS-layout brain volumes with tumours (t1, t1ce, t2, flair, seg)';

const HELP = `usage: mrigan phantom --subjects N --out DIR [options]

  --subjects N          number of subjects (required)
  --seed S              phantom family; subject i is the same for a given seed whatever N (default: 1)
  --out DIR             output folder: DIR/BraTS2021_00000/BraTS2021_00000_flair.nii.gz ... (required)
  --contrasts LIST      which files, comma-separated, of t1,t1ce,t2,flair,seg (default: all five)
  --layout 2021|2020    file naming of BraTS 2021 or BraTS 2020 (BraTS20_Training_001) (default: 2021)
  --skull-stripped      no skull or scalp, like the distributed BraTS volumes (default: false)
  --first I             index of the first subject, to extend a family (default: 0)
  --level L             gzip level 1-9, 0 for plain .nii (default: 1)
  --size XxYxZ          voxel grid; the field of view stays 240×240×155 mm, so smaller grids have larger
                        voxels (advanced: small phantoms for tests) (default: 240x240x155)
  --json                print the list of files and timing as JSON (default: false)
  --quiet               no progress bar or summary (default: false)
`;

export async function run(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      subjects: { type: 'string' },
      seed: { type: 'string', default: '1' },
      out: { type: 'string' },
      contrasts: { type: 'string', default: 't1,t1ce,t2,flair,seg' },
      layout: { type: 'string', default: '2021' },
      'skull-stripped': { type: 'boolean', default: false },
      first: { type: 'string', default: '0' },
      level: { type: 'string', default: '1' },
      size: { type: 'string', default: '240x240x155' },
      ...COMMON_OPTIONS,
    },
  });
  if (printedHelp(v, HELP)) return 0;
  const fail = (msg: string): number => usageFail('phantom', msg);
  const subjects = Number(v.subjects);
  if (!(Number.isInteger(subjects) && subjects >= 1)) return fail('--subjects N (a positive integer) is required');
  if (!v.out) return fail('--out DIR is required');
  const seed = Number(v.seed);
  if (!Number.isInteger(seed)) return fail(`--seed must be an integer (got ${v.seed})`);
  const layout = Number(v.layout);
  if (layout !== 2020 && layout !== 2021) return fail(`--layout must be 2021 or 2020 (got ${v.layout})`);
  const level = Number(v.level);
  if (!(Number.isInteger(level) && level >= 0 && level <= 9)) return fail(`--level must be 0..9 (got ${v.level})`);
  const first = Number(v.first);
  if (!(Number.isInteger(first) && first >= 0)) return fail(`--first must be a non-negative integer (got ${v.first})`);
  const m = /^(\d+)x(\d+)x(\d+)$/.exec(v.size!);
  if (!m) return fail(`--size must look like 240x240x155 (got ${v.size})`);
  const shape = [Number(m[1]), Number(m[2]), Number(m[3])] as [number, number, number];
  if (shape.some((d) => d < 8 || d > 1024)) return fail(`--size: each dimension must be 8..1024 (got ${v.size})`);
  let contrasts;
  try { contrasts = parseContrasts(v.contrasts!); } catch (e) { return fail((e as Error).message); }

  const bar = !v.quiet && !v.json && process.stderr.isTTY ? new SingleBar({ format: 'phantom [{bar}] {value}/{total} subjects | {eta_formatted} left', stream: process.stderr }, Presets.shades_classic) : undefined;
  bar?.start(subjects, 0);
  try {
    const res = await writePhantom({
      subjects, seed, out: v.out, shape, contrasts, layout, skull: !v['skull-stripped'], level, first,
      onProgress: (done) => bar?.update(done),
    });
    bar?.stop();
    if (v.json) process.stdout.write(JSON.stringify(res) + '\n');
    else if (!v.quiet) process.stdout.write(`wrote ${res.files.length} volumes of ${subjects} subject(s) to ${v.out} (${(res.bytes / 2 ** 20).toFixed(1)} MiB) in ${res.seconds.toFixed(1)} s\n`);
    return 0;
  } finally {
    bar?.stop();
  }
}
