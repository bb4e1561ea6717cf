// prepare: exact slice contents against a float64 reference pipeline, recipe counts from phantom BraTS folders,
// layouts and missing contrasts, bad inputs (nothing written), interrupted runs, PNG folders, the CLI.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { spawn, spawnSync } from 'child_process';
import { PNG } from 'pngjs';
import { writeNifti, encodeNifti } from '../../lib/data/nifti';
import { prepareDataset, niftiSources } from '../../lib/data/prepare';
import { openDataset } from '../../lib/data/dataset';
import { selectBrats, scanBrats } from '../../lib/data/brats';
import { writePhantom } from '../../lib/data/phantom';
import { resizeBilinear } from '../../lib/data/preprocess';
import { DataError } from '../../lib/data/errors';
import * as prepareCmd from '../../lib/cli/commands/prepare';
import * as phantomCmd from '../../lib/cli/commands/phantom';
import { rng, expectClose } from '../helpers';
import { runCommand } from '../helpers';
import { tmpdir, rmrf, rasReference, referenceAxial, permuteVolume } from './util';


const CLI = path.join(__dirname, '..', '..', 'lib', 'cli', 'main.js');
const CH2BET = '/usr/share/mricron/templates/ch2bet.nii.gz';
const CH2BETTER = '/usr/share/mricron/templates/ch2better.nii.gz';

/** Float64 reference of the per-volume scaling + centred padding, written independently of lib/data. */
function referenceSlices(ras: Float64Array | Float32Array, nx: number, ny: number, ks: number[], size: number, pLo = 0.5, pHi = 99.5): Float64Array[] {
  let min = Infinity;
  for (const v of ras) min = Math.min(min, v);
  const fg = Float64Array.from(Array.from(ras).filter((v) => v > min)).sort();
  const pct = (p: number) => {
    const pos = (p / 100) * (fg.length - 1), f = Math.floor(pos);
    return f + 1 < fg.length ? fg[f] + (pos - f) * (fg[f + 1] - fg[f]) : fg[f];
  };
  const lo = pct(pLo), hi = pct(pHi);
  return ks.map((k) => {
    const sl = referenceAxial(Float32Array.from(ras), nx, ny, k);
    const out = new Float64Array(size * size).fill(-1);
    const r0 = Math.floor((size - ny) / 2), c0 = Math.floor((size - nx) / 2);
    for (let r = 0; r < ny; r++) for (let c = 0; c < nx; c++) {
      const v = sl[r * nx + c];
      out[(r0 + r) * size + c0 + c] = v <= min ? -1 : Math.min(1, Math.max(-1, (2 * (v - lo)) / (hi - lo) - 1));
    }
    return out;
  });
}

async function expectNothingWritten(p: Promise<unknown>, out: string, file: string, re: RegExp): Promise<void> {
  let err: Error | undefined;
  try { await p; } catch (e) { err = e as Error; }
  expect(err, 'prepare must fail').to.be.instanceOf(DataError);
  expect(err!.message.startsWith(file + ':'), err!.message).to.equal(true);
  expect(err!.message).to.match(re);
  expect(fs.existsSync(out), 'no dataset file').to.equal(false);
  const dir = path.dirname(out);
  expect(fs.readdirSync(dir).filter((f) => f.startsWith(path.basename(out) + '.tmp')), 'no temp file').to.deep.equal([]);
}

describe('data/prepare', () => {
  let dir: string;
  before(() => { dir = tmpdir('prep'); });
  after(() => rmrf(dir));

  it('exact slices from scaled, permuted and flipped volumes (float64 reference pipeline)', async () => {
    const ras: [number, number, number] = [12, 9, 10];
    const r = rng(4);
    // brain-like: zero background border, noisy foreground with a couple of hot voxels
    const V = rasReference(...ras).map((x, i) => {
      const xx = i % 12, yy = Math.floor(i / 12) % 9;
      return xx < 2 || yy < 1 ? 0 : Math.round(x / 37 + 200 * r()) + (i === 500 ? 30000 : 0);
    });
    const a = permuteVolume(Float32Array.from(V), ras, [1, 0, 2], [true, false, true]);
    const b = permuteVolume(Float32Array.from(V), ras, [2, 0, 1], [false, true, false]);
    const fa = path.join(dir, 'subjA_flair.nii.gz'), fb = path.join(dir, 'subjB_t1.nii');
    // A: int16 q = V with slope 2, intercept 10; B: float32 2V + 10 in NIfTI-2, qform only. Per-volume scaling
    // is invariant to such affine maps of intensity, so both give the slices of V.
    await writeNifti(fa, a.shape, Int16Array.from(a.data), { affine: a.affine, sclSlope: 2, sclInter: 10 });
    await writeNifti(fb, b.shape, Float32Array.from(b.data, (v) => 2 * v + 10), { affine: b.affine, version: 2, sform: false });
    const out = path.join(dir, 'exact.mrids');
    const res = await prepareDataset({ sources: niftiSources([fa, fb], [3, 7]), out, size: 16, preview: path.join(dir, 'exact.png'), previewCount: 5 });
    expect(res.count).to.equal(10);
    const ds = openDataset(out);
    expect(ds.meta.sources.map((s) => [s.subject, s.contrast, s.orientation])).to.deep.equal([['subjA', 'flair', 'PRI'], ['subjB', 't1', 'SLA']]);
    expect(ds.meta.sources[0].bytes).to.equal(fs.statSync(fa).size);
    expect(ds.meta.slices.map((s) => s.slice)).to.deep.equal([3, 4, 5, 6, 7, 3, 4, 5, 6, 7]);
    const want = referenceSlices(Float64Array.from(V), 12, 9, [3, 4, 5, 6, 7], 16);
    for (let i = 0; i < 10; i++) expectClose(ds.slice(i), want[i % 5], 0, 2e-6, `slice ${i}`);
    ds.close();
    const png = PNG.sync.read(fs.readFileSync(path.join(dir, 'exact.png')));
    expect([png.width, png.height]).to.deep.equal([3 * 16 + 2 * 2, 2 * 16 + 2]);
  });

  describe('recipes on phantom BraTS folders (reduced in-plane grid, all 155 slices)', () => {
    let b21: string, b20: string;
    before(async function () {
      this.timeout(120000);
      b21 = path.join(dir, 'brats21');
      b20 = path.join(dir, 'brats20');
      await writePhantom({ subjects: 48, seed: 5, out: b21, shape: [12, 12, 155], contrasts: ['t1', 't2', 'flair'] });
      // (through the CLI command, in-process)
      const ph = await runCommand(phantomCmd.run, ['--subjects', '15', '--seed', '6', '--out', b20, '--size', '12x12x155', '--contrasts', 'flair', '--layout', '2020', '--level', '3', '--quiet']);
      expect(ph.code, ph.err).to.equal(0);
    });

    it('Set 3 = 48 × 64 FLAIR slices = 3072, in subject then slice order (via the CLI)', () => {
      const out = path.join(dir, 'set3.mrids');
      const p = spawnSync(process.execPath, [CLI, 'prepare', '--brats', b21, '--set', '3', '--size', '16', '--dtype', 'uint8', '--out', out, '--json'], { encoding: 'utf8' });
      expect(p.status, p.stderr).to.equal(0);
      expect(JSON.parse(p.stdout).count).to.equal(3072);
      const ds = openDataset(out);
      expect(ds.count).to.equal(3072);
      expect(ds.meta.recipe.set).to.equal(3);
      expect(ds.meta.slices[0]).to.deep.equal({ subject: 'BraTS2021_00000', contrast: 'flair', slice: 52, source: 0 });
      expect(ds.meta.slices[3071]).to.deep.equal({ subject: 'BraTS2021_00047', contrast: 'flair', slice: 115, source: 47 });
      ds.close();
    });

    it('Set 2 = 48 × 30 × {T1, T2, FLAIR} = 4320; Set 1 = 15 × 48 FLAIR (BraTS 2020 names) = 720', async () => {
      const r2 = await prepareDataset({ sources: selectBrats(b21, { contrasts: ['t1', 't2', 'flair'], subjects: 48 }).volumes.map((v) => ({ kind: 'nifti' as const, ...v, slices: [65, 94] as [number, number] })), out: path.join(dir, 'set2.mrids'), size: 12, dtype: 'uint8' });
      expect(r2.count).to.equal(4320);
      const sel1 = selectBrats(b20, { contrasts: ['flair'], subjects: 15 });
      expect(sel1.layout).to.equal('BraTS 2020');
      expect(sel1.subjects[0].id).to.equal('BraTS20_Training_001');
      const r1 = await prepareDataset({ sources: sel1.volumes.map((v) => ({ kind: 'nifti' as const, ...v, slices: [60, 107] as [number, number] })), out: path.join(dir, 'set1.mrids'), size: 12, dtype: 'uint8' });
      expect(r1.count).to.equal(720);
    });

    it('missing contrasts are listed per subject; --skip-incomplete leaves those subjects out', () => {
      const d = path.join(dir, 'holes');
      for (const id of ['BraTS2021_00003', 'BraTS2021_00001', 'BraTS2021_00002']) {
        fs.mkdirSync(path.join(d, id), { recursive: true });
        for (const c of ['t1', 'flair']) if (!(id.endsWith('1') && c === 'flair')) fs.copyFileSync(path.join(b21, 'BraTS2021_00000', `BraTS2021_00000_${c}.nii.gz`), path.join(d, id, `${id}_${c}.nii.gz`));
      }
      fs.copyFileSync(path.join(b21, 'BraTS2021_00000', 'BraTS2021_00000_t1.nii.gz'), path.join(d, 'BraTS2021_00009_t1.nii')); // flat layout too
      expect(scanBrats(d).map((s) => s.id)).to.deep.equal(['BraTS2021_00001', 'BraTS2021_00002', 'BraTS2021_00003', 'BraTS2021_00009']);
      expect(() => selectBrats(d, { contrasts: ['t1', 'flair', 't2'], subjects: 'all' })).to.throw(DataError, /4 of the selected subjects lack contrasts[^\n]*BraTS2021_00001: missing flair, t2; [^\n]*BraTS2021_00009: missing flair, t2/);
      const s = selectBrats(d, { contrasts: ['t1', 'flair'], subjects: 'all', skipIncomplete: true });
      expect(s.subjects.map((x) => x.id)).to.deep.equal(['BraTS2021_00002', 'BraTS2021_00003']);
      expect(s.skipped).to.deep.equal(['BraTS2021_00001 (no flair)', 'BraTS2021_00009 (no flair)']);
      expect(() => selectBrats(d, { contrasts: ['t1', 'flair'], subjects: 3, skipIncomplete: true })).to.throw(/asked for 3 subjects with t1, flair, found 2/);
      expect(() => selectBrats(path.join(dir, 'nowhere'), { contrasts: ['t1'], subjects: 1 })).to.throw(DataError, /no such folder/);
    });

    it('a slice range beyond the volume is refused before anything is written', async () => {
      const f = path.join(b21, 'BraTS2021_00000', 'BraTS2021_00000_flair.nii.gz');
      const out = path.join(dir, 'range.mrids');
      await expectNothingWritten(prepareDataset({ sources: niftiSources([f], [100, 155]), out }), out, f, /slices 100-155 out of range: the volume has 155 axial slices/);
    });
  });

  describe('bad inputs: the run stops, names the file, and writes nothing', () => {
    const good = () => encodeNifti([8, 8, 6], Int16Array.from({ length: 384 }, (_, i) => i % 50));
    const cases: [string, () => Buffer, RegExp][] = [
      ['wrong-magic.nii', () => { const b = good(); b.write('zz1', 344, 'latin1'); return b; }, /wrong magic/],
      ['short.nii', () => good().subarray(0, 500), /header\/size mismatch/],
      ['four-d.nii', () => encodeNifti([8, 8, 6], new Int16Array(384 * 3), { extraDims: [3] }), /where a 3-D volume is required/],
      ['absurd.nii', () => { const b = good(); b.writeInt16LE(-1, 44); return b; }, /absurd dimensions/],
    ];
    for (const [name, make, re] of cases) {
      it(`${name} (found while validating: the good volume before it is not even read)`, async () => {
        const ok = path.join(dir, 'ok.nii');
        fs.writeFileSync(ok, good());
        const bad = path.join(dir, name);
        fs.writeFileSync(bad, make());
        const out = path.join(dir, `bad-${name}.mrids`);
        await expectNothingWritten(prepareDataset({ sources: niftiSources([ok, bad]), out }), out, bad, re);
      });
    }
    it('NaN voxels and a truncated gzip (found while converting: the temp file is removed)', async () => {
      const ok = path.join(dir, 'ok2.nii');
      fs.writeFileSync(ok, good());
      const nan = path.join(dir, 'nan.nii.gz');
      const d = new Float32Array(384).fill(3);
      d[100] = NaN;
      await writeNifti(nan, [8, 8, 6], d);
      await expectNothingWritten(prepareDataset({ sources: niftiSources([ok, nan]), out: path.join(dir, 'nan.mrids') }), path.join(dir, 'nan.mrids'), nan, /NaN\/Inf/);
      // a gzip cut just before its 8-byte trailer: header and trailer checks cannot see it, the stream can
      const cut = path.join(dir, 'cut.nii.gz');
      await writeNifti(cut, [8, 8, 6], new Float32Array(384).fill(2));
      const zc = fs.readFileSync(cut);
      fs.writeFileSync(cut, Buffer.concat([zc.subarray(0, zc.length - 12), zc.subarray(zc.length - 4)]));
      await expectNothingWritten(prepareDataset({ sources: niftiSources([ok, cut]), out: path.join(dir, 'cut.mrids') }), path.join(dir, 'cut.mrids'), cut, /corrupt or truncated gzip/);
    });
  });

  it('an interrupted run leaves no dataset: SIGTERM removes the temp file, SIGKILL never leaves FILE', async function () {
    this.timeout(60000);
    const src = path.join(dir, 'big');
    fs.mkdirSync(src, { recursive: true });
    const vol = encodeNifti([160, 160, 155], Int16Array.from({ length: 160 * 160 * 155 }, (_, i) => (i * 2654435761) % 1000));
    const files = Array.from({ length: 8 }, (_, i) => path.join(src, `v${i}.nii`));
    for (const f of files) fs.writeFileSync(f, vol);
    for (const sig of ['SIGTERM', 'SIGKILL'] as const) {
      const out = path.join(dir, `interrupted-${sig}.mrids`);
      const child = spawn(process.execPath, [CLI, 'prepare', '--nifti', ...files, '--out', out, '--quiet']);
      const tmp = `${out}.tmp-${child.pid}`;
      const t0 = Date.now();
      while (!fs.existsSync(tmp) && Date.now() - t0 < 20000) await new Promise((r) => setTimeout(r, 5));
      expect(fs.existsSync(tmp), 'the run started writing').to.equal(true);
      const exited = new Promise((r) => child.on('exit', r));
      child.kill(sig);
      await exited;
      expect(fs.existsSync(out), `${sig}: no dataset file`).to.equal(false);
      if (sig === 'SIGTERM') expect(fs.existsSync(tmp), 'SIGTERM: temp removed').to.equal(false);
      fs.rmSync(tmp, { force: true });
    }
  });

  it('--images: PNG folders (gray, RGB, any size) → gray, [-1, 1], resized to size × size', async () => {
    const d = path.join(dir, 'pngs', 'class_a');
    fs.mkdirSync(d, { recursive: true });
    const r = rng(8);
    const rgb = new PNG({ width: 16, height: 16 });
    for (let i = 0; i < rgb.data.length; i++) rgb.data[i] = i % 4 === 3 ? 255 : Math.floor(r() * 256);
    fs.writeFileSync(path.join(d, 'a.png'), PNG.sync.write(rgb));
    const gray = new PNG({ width: 20, height: 10 });
    for (let i = 0; i < 200; i++) { const g = (i * 37) % 256; gray.data.set([g, g, g, 255], 4 * i); }
    fs.writeFileSync(path.join(d, 'b.png'), PNG.sync.write(gray, { colorType: 0 }));
    fs.writeFileSync(path.join(dir, 'pngs', 'notes.txt'), 'ignored');
    const out = path.join(dir, 'pngs.mrids');
    const p = spawnSync(process.execPath, [CLI, 'prepare', '--images', path.join(dir, 'pngs'), '--size', '16', '--out', out, '--quiet']);
    expect(p.status, String(p.stderr)).to.equal(0);
    const ds = openDataset(out);
    expect(ds.count).to.equal(2);
    expect(ds.meta.slices.map((s) => s.subject)).to.deep.equal([path.join('class_a', 'a'), path.join('class_a', 'b')]);
    const wantA = Array.from({ length: 256 }, (_, i) => (0.2989 * rgb.data[4 * i] + 0.587 * rgb.data[4 * i + 1] + 0.114 * rgb.data[4 * i + 2]) / 127.5 - 1);
    expectClose(ds.slice(0), wantA, 0, 1e-5, 'rgb png');
    const g = Float32Array.from({ length: 200 }, (_, i) => ((i * 37) % 256) / 127.5 - 1);
    expectClose(ds.slice(1), resizeBilinear(g, 10, 20, 16, 16), 0, 1e-5, 'gray png');
    ds.close();
  });

  it('--nifti on a real brain (mricron-data ch2bet, 1 mm RAS) with --resample 2', async function () {
    if (!fs.existsSync(CH2BET)) this.skip();
    const out = path.join(dir, 'ch2.mrids');
    const res = await prepareDataset({ sources: niftiSources([CH2BET], [30, 59]), out, resample: 2, size: 128 });
    expect(res.count).to.equal(30);
    const ds = openDataset(out);
    expect(ds.meta.sources[0].orientation).to.equal('RAS');
    expect(ds.meta.sources[0].rasShape).to.deep.equal([91, 109, 91]);
    // a brain slice: background -1 at the corners, some bright tissue in the middle
    const s = ds.slice(20);
    expect(s[0]).to.equal(-1);
    expect(Math.max(...s)).to.be.greaterThan(0.5);
    ds.close();
  });

  it('MRIGAN_SLOW: the 0.5 mm ch2better template resampled to 1 mm', async function () {
    if (!process.env.MRIGAN_SLOW || !fs.existsSync(CH2BETTER)) this.skip();
    const out = path.join(dir, 'ch2better.mrids');
    const res = await prepareDataset({ sources: niftiSources([CH2BETTER], [60, 119]), out, resample: 1 });
    expect(res.count).to.equal(60);
    expect(openDataset(out).meta.sources[0].rasShape).to.deep.equal([151, 185, 158]);
  });

  it('CLI: --help explains every flag with its default; bad arguments exit 2; bad files exit 1 naming the file', async () => {
    const help = await runCommand(prepareCmd.run, ['--help']);
    expect(help.code).to.equal(0);
    for (const flag of ['--brats', '--nifti', '--images', '--set', '--contrasts', '--subjects', '--skip-incomplete', '--slices', '--size', '--fit', '--percentiles', '--resample', '--dtype', '--out', '--preview', '--preview-count', '--json', '--quiet']) {
      expect(help.out).to.include(flag);
    }
    expect(help.out.match(/default/g)!.length).to.be.at.least(14);
    const ph = await runCommand(phantomCmd.run, ['--help']);
    for (const flag of ['--subjects', '--seed', '--out', '--contrasts', '--layout', '--skull-stripped', '--first', '--level', '--size', '--json', '--quiet']) expect(ph.out).to.include(flag);
    expect((await runCommand(prepareCmd.run, ['--out', 'x'])).code).to.equal(2);
    const set4 = await runCommand(prepareCmd.run, ['--brats', dir, '--set', '4', '--out', 'x']);
    expect(set4.code).to.equal(2);
    expect(set4.err).to.include('--set must be 1, 2 or 3');
    expect((await runCommand(prepareCmd.run, ['--images', dir, '--fit', 'stretch', '--out', 'x'])).code).to.equal(2);
    expect((await runCommand(phantomCmd.run, ['--subjects', '0', '--out', 'x'])).code).to.equal(2);
    expect((await runCommand(phantomCmd.run, ['--subjects', '1', '--size', '10x10', '--out', 'x'])).code).to.equal(2);
    const bad = path.join(dir, 'notnifti.nii');
    fs.writeFileSync(bad, 'x'.repeat(400));
    const run = spawnSync(process.execPath, [CLI, 'prepare', '--nifti', bad, '--out', path.join(dir, 'cli-bad.mrids')], { encoding: 'utf8' });
    expect(run.status).to.equal(1);
    expect(run.stderr.trim()).to.match(/^mrigan prepare: not a NIfTI file: wrong magic[^\n]*\(\S*notnifti\.nii\)$/); // one line, file last
  });
});
