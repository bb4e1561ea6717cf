// Data pipeline benchmark: phantom generation, Set 3 (48 subjects × slices 52-115 × FLAIR = 3072 slices)
// preparation, and the same work in nibabel + numpy (bench/reference/nibabel_load.py, Debian python3-nibabel),
// whose output is also compared slice by slice with ours.
//
//   npx tsc -p . && node dist/bench/data.js [--fresh]
// Files go to $MRIGAN_BENCH_DIR (default: <tmp>/mrigan-bench-data); the phantom is kept between runs unless --fresh.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { writePhantom } from '../lib/data/phantom';
import { prepareDataset } from '../lib/data/prepare';
import { selectBrats, RECIPES } from '../lib/data/brats';
import { openDataset } from '../lib/data/dataset';
import { readNifti } from '../lib/data/nifti';

const PY = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const REF = path.join(__dirname, '..', '..', 'bench', 'reference', 'nibabel_load.py');
const CH2 = '/usr/share/mricron/templates/ch2better.nii.gz';

function python(args: string[]): Record<string, number> | undefined {
  const p = spawnSync(PY, [REF, ...args], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (p.status !== 0) {
    process.stdout.write(`(nibabel reference unavailable: ${(p.stderr || p.error?.message || '').trim().split('\n').pop()})\n`);
    return undefined;
  }
  return JSON.parse(p.stdout);
}

/** Reads a float32 .npy (C order) written by numpy.lib.format. */
function readNpy(file: string): { shape: number[]; data: Float32Array } {
  const b = fs.readFileSync(file);
  const hlen = b.readUInt16LE(8);
  const header = b.toString('latin1', 10, 10 + hlen);
  const shape = /'shape': \(([^)]*)\)/.exec(header)![1].split(',').filter((s) => s.trim()).map(Number);
  const off = 10 + hlen;
  return { shape, data: new Float32Array(b.buffer.slice(b.byteOffset + off, b.byteOffset + b.length)) };
}

async function main(): Promise<void> {
  const root = process.env.MRIGAN_BENCH_DIR ?? path.join(os.tmpdir(), 'mrigan-bench-data');
  const brats = path.join(root, 'brats');
  const fresh = process.argv.includes('--fresh');
  const log = (s: string) => process.stdout.write(s + '\n');
  log(`# data bench — ${new Date().toISOString().slice(0, 10)}, ${os.cpus()[0].model} × ${os.cpus().length}, load average ${os.loadavg()[0].toFixed(1)}, node ${process.version}`);

  const r3 = RECIPES[3];
  if (fresh || !fs.existsSync(path.join(brats, 'BraTS2021_00047', 'BraTS2021_00047_flair.nii.gz'))) {
    fs.rmSync(brats, { recursive: true, force: true });
    const ph = await writePhantom({ subjects: 48, seed: 2026, out: brats, contrasts: ['flair'] });
    log(`phantom: 48 subjects × FLAIR 240×240×155 int16, gzip level 1: ${ph.seconds.toFixed(1)} s (${(ph.seconds / 48).toFixed(2)} s/subject), ${(ph.bytes / 2 ** 20).toFixed(0)} MiB`);
  } else log('phantom: reusing ' + brats);

  const sel = selectBrats(brats, { contrasts: r3.contrasts, subjects: r3.subjects });
  const out = path.join(root, 'set3.mrids');
  const runs: number[] = [];
  let last;
  for (let rep = 0; rep < 2; rep++) {
    last = await prepareDataset({
      sources: sel.volumes.map((v) => ({ kind: 'nifti' as const, ...v, slices: r3.slices })),
      out, recipe: { set: 3 },
    });
    runs.push(last.timings.total);
  }
  const t = last!.timings;
  log(`mrigan prepare Set 3: ${last!.count} slices, ${(last!.bytes / 2 ** 20).toFixed(0)} MiB; total ${runs.map((x) => x.toFixed(2)).join(' s, ')} s ` +
    `(last run: validate ${t.validate.toFixed(2)} s, waiting for gunzip ${t.readWait.toFixed(2)} s, processing+writing ${t.process.toFixed(2)} s)`);

  const npy = path.join(root, 'set3-nibabel.npy');
  const ref = python([brats, npy, '48', `${r3.slices[0]}-${r3.slices[1]}`]);
  if (ref) {
    log(`nibabel+numpy Set 3: total ${ref.total_s.toFixed(2)} s (load ${ref.load_s.toFixed(2)} s, preprocess+write ${ref.preprocess_s.toFixed(2)} s); ratio mrigan/nibabel ${(Math.min(...runs) / ref.total_s).toFixed(2)}`);
    const { shape, data } = readNpy(npy);
    const ds = openDataset(out);
    let maxDiff = 0;
    for (let i = 0; i < shape[0]; i++) {
      const s = ds.slice(i);
      for (let k = 0; k < s.length; k++) maxDiff = Math.max(maxDiff, Math.abs(s[k] - data[i * s.length + k]));
    }
    ds.close();
    log(`mrigan vs nibabel slices: max |difference| over ${shape[0]} slices = ${maxDiff.toExponential(2)}`);
    fs.rmSync(npy, { force: true });
  }

  if (fs.existsSync(CH2)) {
    const t0 = process.hrtime.bigint();
    const v = await readNifti(CH2);
    const ours = Number(process.hrtime.bigint() - t0) / 1e9;
    const nb = python(['--one', CH2]);
    log(`ch2better (301×370×316 uint8, 7 MB gz) to float32: mrigan ${ours.toFixed(2)} s${nb ? `, nibabel ${nb.load_s.toFixed(2)} s, ratio ${(ours / nb.load_s).toFixed(2)}` : ''} (${v.data.length} voxels)`);
  }
  fs.rmSync(out, { force: true });
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
