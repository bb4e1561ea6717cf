// mrigan stats / mrigan fid end to end on a random-weight InceptionV3 stand-in (channels ÷ 8) written by the test:
// PNG folders, a dataset file holding the same pixels as a PNG folder, .npz statistics. Checks: a set against
// itself gives 0 (|FID| ≤ 1e-6·tr Σ, rounding only) whichever way it is given; two different sets give > 0; the npz
// route equals the image route; --json parses; the preprocessing is printed with every result; errors are one line
// (exit 2 for usage, 1 for files), a weights file that hangs HDF5 stops at the reader's deadline.
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DatasetWriter, readPngGray, writePngGray } from '../../lib/data';
import { loadInceptionV3, readFidStats, readFidStatsMeta, writeFidStats } from '../../lib/metrics';
import * as fidCmd from '../../lib/cli/commands/fid';
import * as statsCmd from '../../lib/cli/commands/stats';
import { spawnSync } from 'child_process';
import { randArray } from '../helpers';
import { writeHangingCopy, writeRandomInception } from '../metrics/inception_file';
import { runCommand } from '../helpers';


const N = 10, S = 24;

describe('cli: mrigan stats / mrigan fid', function () {
  this.timeout(300000);
  let dir: string, W: string, A: string, B: string;
  const common = (): string[] => ['--weights', W, '--div', '8', '--device', 'cpu'];
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mrigan-fidcli-'));
    W = path.join(dir, 'inc.h5');
    await writeRandomInception(W, 8, 5);
    A = path.join(dir, 'a'); B = path.join(dir, 'b');
    for (const [d, seed, lo] of [[A, 100, -1], [B, 200, -0.2]] as const) {
      fs.mkdirSync(path.join(d, 'sub'), { recursive: true });
      for (let i = 0; i < N; i++) writePngGray(path.join(d, i < 3 ? 'sub' : '', `s${i}.png`), S, S, randArray(S * S, seed + i, lo, 1));
    }
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('stats → npz; fid of a set against itself = 0 from images, from npz, and mixed', async () => {
    const r = await runCommand(statsCmd.run, [A, ...common(), '--out', path.join(dir, 'a.npz')]);
    expect(r.code, r.err).to.equal(0);
    expect(r.out).to.match(/preprocessing: imagenet \(Keras 'tf' mode/);
    const s = readFidStats(path.join(dir, 'a.npz'));
    expect(s.d).to.equal(256);
    expect(s.n).to.equal(N);
    let tr = 0;
    for (let i = 0; i < s.d; i++) tr += s.sigma[i * s.d + i];
    expect(tr).to.be.greaterThan(0);
    for (const args of [[path.join(dir, 'a.npz'), path.join(dir, 'a.npz')], [A, A, ...common()], [A, path.join(dir, 'a.npz'), ...common()]]) {
      const f = await runCommand(fidCmd.run, [...args, '--json']);
      expect(f.code, f.err).to.equal(0);
      const j = JSON.parse(f.out);
      expect(Math.abs(j.fid), args.join(' ')).to.be.at.most(1e-6 * tr);
      expect(j.preprocessing).to.be.a('string').and.not.equal('');
      expect(j.warnings.join(' ')).to.match(/samples \(< 2048\)/);
    }
  });

  it('stats record the weights fingerprint; fid refuses statistics of other weights', async () => {
    const a = path.join(dir, 'a.npz');
    if (!fs.existsSync(a)) expect((await runCommand(statsCmd.run, [A, ...common(), '--out', a])).code).to.equal(0);
    const m = await loadInceptionV3(W, { div: 8 });
    expect(readFidStatsMeta(a)).to.include({ preprocess: 'imagenet', weights: m.fingerprint });
    m.dispose();
    const W2 = path.join(dir, 'other.h5'), a2 = path.join(dir, 'a-other.npz');
    await writeRandomInception(W2, 8, 6);
    const other = ['--weights', W2, '--div', '8', '--device', 'cpu'];
    expect((await runCommand(statsCmd.run, [A, ...other, '--out', a2])).code).to.equal(0);
    for (const args of [[a, A, ...other], [a, a2]]) {
      const r = await runCommand(fidCmd.run, args);
      // weights loaded here contradict a recorded .npz: a usage error (--weights); two .npz that disagree: a file error
      expect(r.code, args.join(' ')).to.equal(args.length > 2 ? 2 : 1);
      expect(r.err.trim(), args.join(' ')).to.match(/^mrigan fid: the two sides come from different InceptionV3 weights: REAL [0-9a-f]{12}… \(recorded in \S+a\.npz\), FAKE [0-9a-f]{12}…/);
    }
  });

  it('two different sets give FID > 0, the same through npz and images; KID and PRDC; text output', async () => {
    const img = await runCommand(fidCmd.run, [A, B, ...common(), '--json', '--kid', '--prdc']);
    expect(img.code, img.err).to.equal(0);
    const j = JSON.parse(img.out);
    expect(j.fid).to.be.greaterThan(0);
    expect(j.real).to.deep.include({ kind: 'png', n: N });
    expect(j.preprocess).to.equal('imagenet');
    expect(j.kid.value).to.be.a('number');
    expect(j.prdc.precision).to.be.within(0, 1);
    expect((await runCommand(statsCmd.run, [B, ...common(), '--out', path.join(dir, 'b.npz')])).code).to.equal(0);
    const npz = JSON.parse((await runCommand(fidCmd.run, [path.join(dir, 'a.npz'), path.join(dir, 'b.npz'), '--json'])).out);
    expect(Math.abs(npz.fid - j.fid)).to.be.at.most(1e-9 * j.fid);
    expect(npz.preprocess).to.equal('imagenet');
    expect(npz.preprocessing).to.match(/^imagenet .*as recorded in the \.npz$/);
    // pytorch-fid's files have no record: said so
    const s = readFidStats(path.join(dir, 'a.npz'));
    writeFidStats(path.join(dir, 'plain.npz'), { mu: s.mu, sigma: s.sigma });
    const plain = JSON.parse((await runCommand(fidCmd.run, [path.join(dir, 'plain.npz'), path.join(dir, 'plain.npz'), '--json'])).out);
    expect([plain.preprocess, plain.real.n]).to.deep.equal([null, null]);
    expect(plain.preprocessing).to.match(/not recorded/);
    const rad = await runCommand(fidCmd.run, [A, B, ...common(), '--preprocess', 'radimagenet']);
    expect(rad.code, rad.err).to.equal(0);
    expect(rad.out).to.match(/^FID \d+\.\d{4} /);
    expect(rad.out).to.match(/preprocessing: radimagenet \(Keras 'caffe' mode/);
    expect(rad.out).to.match(/warning: .*< 2048/);
  });

  it('a dataset file with the same pixels as a PNG folder gives the same statistics', async () => {
    const files = fs.readdirSync(path.join(A, 'sub')).map((f) => path.join(A, 'sub', f)).sort()
      .concat(fs.readdirSync(A).filter((f) => f.endsWith('.png')).map((f) => path.join(A, f)).sort());
    const ds = path.join(dir, 'a.mrigan');
    const w = new DatasetWriter(ds, {
      shape: [N, 1, S, S], dtype: 'float32', created: new Date().toISOString(), tool: 'test', recipe: {}, sources: [],
      slices: files.map((_, i) => ({ subject: 't', contrast: 'png', slice: i, source: -1 })),
    });
    files.forEach((f, i) => w.writeSlice(i, Float32Array.from(readPngGray(f).data, (g) => g / 127.5 - 1)));
    w.commit();
    const f = await runCommand(fidCmd.run, [ds, path.join(dir, 'a.npz'), ...common(), '--json']);
    expect(f.code, f.err).to.equal(0);
    const j = JSON.parse(f.out);
    expect(j.real.kind).to.equal('dataset');
    expect(Math.abs(j.fid)).to.be.at.most(1e-4);
  });

  it('a run folder: images generated from its latest checkpoint equal mrigan sample\'s with the same --n and --seed', async () => {
    const cli = path.resolve(__dirname, '..', '..', 'lib', 'cli', 'main.js');
    const mrigan = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, MRIGAN_DEVICE: 'cpu' } });
    const set = path.join(dir, 'set.mrigan');
    const w = new DatasetWriter(set, {
      shape: [8, 1, 64, 64], dtype: 'float32', created: 'test', tool: 'test', recipe: {}, sources: [],
      slices: Array.from({ length: 8 }, (_, i) => ({ subject: 's', contrast: 'flair', slice: i, source: 0 })),
    });
    for (let i = 0; i < 8; i++) w.writeSlice(i, randArray(64 * 64, 300 + i));
    w.commit();
    const run = path.join(dir, 'run');
    const t = mrigan('train', '--data', set, '--model', 'dcgan', '--width', '2', '--batch', '4', '--epochs', '1', '--out', run, '--progress', 'lines', '--threads', '1');
    expect(t.status, t.stderr).to.equal(0);
    const s = mrigan('sample', '--checkpoint', run, '--n', '7', '--seed', '3', '--out', path.join(dir, 'gen'), '--no-png');
    expect(s.status, s.stderr).to.equal(0);
    const same = await runCommand(fidCmd.run, [run, path.join(dir, 'gen', 'samples.mrigan'), ...common(), '--n', '7', '--seed', '3', '--json']);
    expect(same.code, same.err).to.equal(0);
    const j = JSON.parse(same.out);
    expect(j.real).to.deep.include({ kind: 'run', n: 7 });
    expect(Math.abs(j.fid)).to.be.at.most(1e-6);
    const other = await runCommand(fidCmd.run, [run, path.join(dir, 'gen', 'samples.mrigan'), ...common(), '--n', '7', '--seed', '4', '--json']);
    expect(JSON.parse(other.out).fid).to.be.greaterThan(0);
    const bad = await runCommand(fidCmd.run, [run, A, ...common(), '--bn', 'x']);
    expect(bad.code).to.equal(2);
    expect(bad.err).to.match(/--bn must be batch or running/);
  });

  it('bad input: one-line errors naming the file or option; exit 2 for usage errors, 1 for file errors', async () => {
    const rad = path.join(dir, 'rad.npz'), d3 = path.join(dir, 'd3.npz');
    expect((await runCommand(statsCmd.run, [B, ...common(), '--preprocess', 'radimagenet', '--out', rad])).code).to.equal(0);
    writeFidStats(d3, { mu: new Float64Array(3), sigma: Float64Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]) });
    const cases: [typeof fidCmd.run, string[], number, RegExp][] = [
      // usage: fixed on the command line
      [fidCmd.run, [A, rad, ...common()], 2, /REAL imagenet \(--preprocess\), FAKE radimagenet.*\(see mrigan fid --help\)$/],
      [fidCmd.run, [A, B], 2, /--weights FILE\.h5 is required/],
      [fidCmd.run, [A], 2, /expected REAL and FAKE/],
      [fidCmd.run, [A, B, '--frobnicate'], 2, /Unknown option '--frobnicate'/],
      [fidCmd.run, [A, path.join(dir, 'a.npz'), '--kid', ...common()], 2, /--kid needs images, not statistics \(.*a\.npz\)/],
      [fidCmd.run, [A, B, ...common(), '--preprocess', 'x'], 2, /--preprocess must be imagenet or radimagenet/],
      [fidCmd.run, [A, B, ...common(), '--device', 'tpu'], 2, /--device must be cpu, cuda or cuda:N, got 'tpu'/],
      [statsCmd.run, [A, ...common()], 2, /--out STATS\.npz is required/],
      [statsCmd.run, [A, ...common(), '--batch', '0', '--out', path.join(dir, 'x.npz')], 2, /--batch must be a positive integer/],
      // files: missing, damaged or the wrong kind
      [fidCmd.run, [path.join(dir, 'a.npz'), rad], 1, /different preprocessing: REAL imagenet \(recorded in .*a\.npz\), FAKE radimagenet \(recorded in .*rad\.npz\).* \(.*rad\.npz\)$/],
      [fidCmd.run, [path.join(dir, 'a.npz'), d3], 1, /FAKE has 3-d statistics but REAL has 256-d .*\(.*d3\.npz\)$/],
      [fidCmd.run, [A, path.join(dir, 'nope')], 1, /FAKE does not exist \(.*nope\)$/],
      [fidCmd.run, [A, B, '--weights', path.join(dir, 'a.npz')], 1, /not an HDF5 file .*\(.*a\.npz\)$/],
      [fidCmd.run, [A, B, '--weights', path.join(dir, 'absent.h5')], 1, /cannot open: no such file or folder \(.*absent\.h5\)$/],
      [fidCmd.run, [W, W], 1, /inc\.h5/],
      [statsCmd.run, [path.join(dir, 'a.npz'), ...common(), '--out', path.join(dir, 'x.npz')], 1, /INPUT is already statistics.*\(.*a\.npz\)$/],
    ];
    for (const [run, args, code, re] of cases) {
      const r = await runCommand(run, args);
      expect(r.code, `${args.join(' ')}: ${r.err}`).to.equal(code);
      expect(r.err, args.join(' ')).to.match(/^mrigan (fid|stats): /);
      expect(r.err.trim(), args.join(' ')).to.match(re);
      expect(r.err.trim().split('\n').length, r.err).to.equal(1);
    }
    expect(fs.existsSync(path.join(dir, 'x.npz'))).to.equal(false);
  });

  it('weights that hang the HDF5 library: the real CLI stops at MRIGAN_H5_TIMEOUT with one line, exit 1; a bad value exits 2', () => {
    const cli = path.resolve(__dirname, '..', '..', 'lib', 'cli', 'main.js');
    const hang = path.join(dir, 'hang.h5');
    writeHangingCopy(W, hang, 'batch_normalization_3/beta:0');
    const mrigan = (env: Record<string, string>, ...args: string[]) => spawnSync(process.execPath, [cli, ...args],
      { encoding: 'utf8', timeout: 120000, env: { ...process.env, MRIGAN_DEVICE: 'cpu', MRIGAN_THREADS: '1', ...env } });
    const t0 = Date.now();
    const r = mrigan({ MRIGAN_H5_TIMEOUT: '1' }, 'stats', A, '--weights', hang, '--div', '8', '--out', path.join(dir, 'h.npz'));
    const s = (Date.now() - t0) / 1000;
    expect(r.signal, r.stderr).to.equal(null);
    expect(r.status, r.stderr).to.equal(1);
    expect(r.stderr).to.equal(`mrigan stats: HDF5 reader did not finish within 1 s: the file is damaged? (${hang})\n`);
    // the deadline plus process start-up and teardown on a loaded machine; without the deadline it never returns
    expect(s).to.be.below(30);
    expect(fs.existsSync(path.join(dir, 'h.npz'))).to.equal(false);
    const bad = mrigan({ MRIGAN_H5_TIMEOUT: 'soon' }, 'fid', A, B, '--weights', W, '--div', '8');
    expect(bad.status, bad.stderr).to.equal(2);
    expect(bad.stderr).to.match(/^mrigan fid: MRIGAN_H5_TIMEOUT must be a positive number of seconds, got 'soon' \(MRIGAN_H5_TIMEOUT\)/);
  });
});
