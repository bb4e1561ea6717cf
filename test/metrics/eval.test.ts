// `mrigan eval` as a user runs it (child process): PNG folders, dataset files and run folders; answers that are known
// (a set of copies of one image has MS-SSIM 1, a PNG folder and the dataset file of the same images score alike),
// and clear errors for bad input.
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { DatasetWriter, writePngGray } from '../../lib/data';
import { Trainer, memorySource } from '../../lib/train/run';
import { resolveConfig } from '../../lib/train/config';
import { HostRng } from '../../lib/metrics/random';

const cli = path.resolve(__dirname, '..', '..', 'lib', 'cli', 'main.js');
const mrigan = (...args: string[]) => {
  const r = spawnSync(process.execPath, [cli, 'eval', ...args], { encoding: 'utf8', env: { ...process.env, MRIGAN_DEVICE: 'cpu' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

/** n smooth 32×32 images with a bright disc at a random place, values quantised to PNG levels. */
function images(n: number, S: number, seed: number): Float32Array[] {
  const rng = new HostRng(seed), out: Float32Array[] = [];
  for (let i = 0; i < n; i++) {
    const a = new Float32Array(S * S), cx = rng.int(8, S - 8), cy = rng.int(8, S - 8), r = rng.int(3, 7), f = rng.next() * 0.5;
    for (let y = 0; y < S; y++)
      for (let x = 0; x < S; x++) {
        const v = (x - cx) ** 2 + (y - cy) ** 2 < r * r ? 0.9 : 0.4 * Math.sin(f * x + 0.3 * y);
        a[y * S + x] = Math.round((v + 1) * 127.5) / 127.5 - 1;
      }
    out.push(a);
  }
  return out;
}

describe('cli: mrigan eval', function () {
  this.timeout(300000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mrigan-eval-'));
  const S = 32, imgs = images(12, S, 1);
  const pngs = path.join(dir, 'real'), copies = path.join(dir, 'copies'), ds = path.join(dir, 'real.mrigan'), small = path.join(dir, 'small');
  before(() => {
    for (const d of [pngs, copies, small]) fs.mkdirSync(d);
    imgs.forEach((a, i) => {
      writePngGray(path.join(pngs, `s${String(i).padStart(2, '0')}.png`), S, S, a);
      writePngGray(path.join(copies, `c${String(i).padStart(2, '0')}.png`), S, S, imgs[0]);
    });
    for (let i = 0; i < 3; i++) writePngGray(path.join(small, `x${i}.png`), 16, 16, new Float32Array(256));
    const w = new DatasetWriter(ds, {
      shape: [imgs.length, 1, S, S], dtype: 'float32', created: 'test', tool: 'test', recipe: {}, sources: [],
      slices: imgs.map((_, i) => ({ subject: 's', contrast: 'flair', slice: i, source: 0 })),
    });
    imgs.forEach((a, i) => w.writeSlice(i, a));
    w.commit();
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('PNG folder vs copies of one image: MS-SSIM 1 for the copies, below for the real set; JSON fields', () => {
    const r = mrigan(pngs, copies, '--json', '--pairs', '20');
    expect(r.code, r.err).to.equal(0);
    const j = JSON.parse(r.out);
    expect(j.n).to.equal(12);
    expect(j.swd_res).to.deep.equal([32, 16]);
    expect(j.swd_levels).to.have.length(2);
    expect(j.swd).to.be.closeTo((j.swd_levels[0] + j.swd_levels[1]) / 2, 1e-9);
    expect(j.msssim).to.be.closeTo(1, 1e-6);
    expect(j.msssim_real).to.be.below(0.9);
  });

  it('a dataset file reads as the PNG folder of the same images (same seed: identical numbers)', () => {
    const a = JSON.parse(mrigan(ds, pngs, '--json', '--pairs', '20').out), b = JSON.parse(mrigan(pngs, ds, '--json', '--pairs', '20').out);
    // the PNGs hold the same 8-bit values as the dataset file: each side's MS-SSIM (same images, same pairs) is equal
    expect(a.msssim_real).to.be.closeTo(b.msssim_real, 1e-12);
    expect(a.msssim).to.be.closeTo(b.msssim, 1e-12);
    expect(a.msssim_real).to.be.below(0.9);
    const t = mrigan(ds, pngs);
    expect(t.code, t.err).to.equal(0);
    expect(t.out).to.match(/SWD ×10³ on 12 images per set/).and.to.match(/level\s+32\s+16\s+mean/).and.to.match(/MS-SSIM of 200 random pairs/);
  });

  it('a run folder: images generated from its latest checkpoint', async () => {
    const data = new Float32Array(8 * 64 * 64);
    const rng = new HostRng(3);
    for (let i = 0; i < data.length; i++) data[i] = rng.next() * 2 - 1;
    const cfg = resolveConfig({ model: 'dcgan', arch: 'dcgan', size: 64, width: 1, batch: 4, epochs: 1, seed: 2 });
    const out = path.join(dir, 'run'), ds64 = path.join(dir, 'set64.mrigan');
    const t = Trainer.create(cfg, { data: memorySource(data, [8, 1, 64, 64]), out, progress: 'none', log: () => {} });
    await t.run();
    t.dispose();
    const w = new DatasetWriter(ds64, { shape: [8, 1, 64, 64], dtype: 'float32', created: 'test', tool: 'test', recipe: {}, sources: [],
      slices: Array.from({ length: 8 }, (_, i) => ({ subject: 's', contrast: 'flair', slice: i, source: 0 })) });
    for (let i = 0; i < 8; i++) w.writeSlice(i, data.subarray(i * 4096, (i + 1) * 4096));
    w.commit();
    const r = mrigan(ds64, out, '--n', '8', '--pairs', '5');
    expect(r.code, r.err).to.equal(0);
    expect(r.out).to.match(/run, epoch 1, step 2; 8 generated/).and.to.match(/level\s+64\s+32\s+16\s+mean/);
  });

  it('explains bad input in one line: exit 2 for bad arguments, 1 for files', () => {
    const cases: [string[], RegExp, number][] = [
      [[pngs], /expected two inputs, REAL and FAKE, got 1/, 2],
      [[pngs, path.join(dir, 'nope')], /no such file or folder \(\S+nope\)/, 1],
      [[pngs, small], /holds 16×16 images .* but .* holds 32×32 .*same size \(\S+small\)/, 1],
      [[pngs, dir + '/empty-not-there.mrigan'], /no such file or folder/, 1],
      [[pngs, copies, '--n', '1'], /--n must be an integer in 2\.\.100000, got '1'/, 2],
      [[pngs, copies, '--pairs', 'x'], /--pairs must be a positive integer, got 'x'/, 2],
      [[pngs, path.join(dir, 'real.mrigan'), '--seed=-1'], /--seed must be a non-negative integer/, 2],
      [[pngs, copies, '--device', 'gpu'], /--device must be cpu, cuda or cuda:N, got 'gpu'/, 2],
      [[pngs, copies, '--bogus'], /Unknown option '--bogus'/, 2],
    ];
    fs.mkdirSync(path.join(dir, 'nopngs'));
    cases.push([[pngs, path.join(dir, 'nopngs')], /0 PNG file\(s\) and no checkpoints\/ folder/, 1]);
    fs.writeFileSync(path.join(dir, 'junk.mrigan'), 'hello');
    cases.push([[pngs, path.join(dir, 'junk.mrigan')], /not an mrigan dataset.*junk\.mrigan/, 1]);
    for (const [args, re, code] of cases) {
      const r = mrigan(...args);
      expect(r.code, args.join(' ')).to.equal(code);
      expect(r.err, args.join(' ')).to.match(re);
      expect(r.err.trim().split('\n'), args.join(' ')).to.have.length(1);
      expect(r.err, args.join(' ')).to.match(/^mrigan eval: /);
    }
  });
});
