// FID during training (lib/train/fid.ts) on 64×64 width-2 models and a random-weight InceptionV3 stand-in (channels
// ÷ 16, recognised from the file's shapes): records at the right epochs, no effect on the run, the recorded value
// against an independent computation, resume, and the options' errors through `mrigan train`.
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Rng } from '../../lib/engine';
import { Trainer, memorySource, ImageSource } from '../../lib/train/run';
import { generate } from '../../lib/train/generate';
import { resolveConfig, TrainConfig } from '../../lib/train/config';
import { FidEvaluator, fidSettings } from '../../lib/train/fid';
import { readJsonLines } from '../../lib/train/fsutil';
import { STREAMS } from '../../lib/util/streams';
import { frechetDistance, inceptionFeatures, loadInceptionV3, writeFidStats } from '../../lib/metrics';
import { DatasetWriter } from '../../lib/data';
import * as trainCmd from '../../lib/cli/commands/train';
import { randArray, runCommand, blobImages } from '../helpers';
import { writeRandomInception } from '../metrics/inception_file';

const S = 64, DIV = 16;

const blobs = (n: number, seed: number): ImageSource => memorySource(blobImages(n, seed, S), [n, 1, S, S]);

/** Mean and covariance (n − 1) in plain float64 loops: the reference side of the comparison. */
function naiveStats(f: Float64Array, n: number, d: number): { mu: Float64Array; sigma: Float64Array; n: number } {
  const mu = new Float64Array(d), sigma = new Float64Array(d * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mu[j] += f[i * d + j] / n;
  for (let a = 0; a < d; a++)
    for (let b = 0; b < d; b++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += (f[i * d + a] - mu[a]) * (f[i * d + b] - mu[b]);
      sigma[a * d + b] = s / (n - 1);
    }
  return { mu, sigma, n };
}

const cfgOf = (o: Partial<TrainConfig>): TrainConfig => resolveConfig({ model: 'dcgan', size: 64, width: 2, batch: 4, epochs: 3, seed: 7, evalEvery: 0, ...o });
const weights = (t: Trainer): Float32Array[] => [...t.G.params(), ...t.D.params()].map((p) => p.value.toFloat32Array());
const sameArrays = (a: Float32Array[], b: Float32Array[]): boolean => a.length === b.length && a.every((x, i) => Buffer.compare(Buffer.from(x.buffer), Buffer.from(b[i].buffer)) === 0);

describe('train: FID during training', function () {
  this.timeout(120000);
  let dir: string, W: string, W2: string, REAL: string;
  const data = blobs(8, 4); // batch 4: 2 iterations per epoch
  const tmp = (): string => fs.mkdtempSync(path.join(dir, 'run-'));
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mrigan-fidtrain-'));
    W = path.join(dir, 'inc.h5'); W2 = path.join(dir, 'other.h5');
    await writeRandomInception(W, DIV, 3);
    await writeRandomInception(W2, DIV, 4);
    // the real statistics as mrigan stats writes them: n, preprocessing, weights fingerprint
    const m = await loadInceptionV3(W, { div: DIV });
    const f = inceptionFeatures(m, data.batch(Array.from({ length: 8 }, (_, i) => i)), [8, 1, S, S], { mode: 'tf' });
    REAL = path.join(dir, 'real.npz');
    writeFidStats(REAL, { ...naiveStats(f, 8, m.features), preprocess: 'imagenet', weights: m.fingerprint });
    m.dispose();
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('records FID every N epochs and at the end, equal to an independent computation, without changing the run', async () => {
    const fs1 = fidSettings({ every: 2, real: REAL, weights: W, samples: 70 })!; // 70 = two generator chunks (35 + 35)
    expect(fs1.preprocess).to.equal('imagenet');
    const ev = await FidEvaluator.load(fs1, 'cpu');
    expect(ev.notes.join(' ')).to.match(/70 generated images and real statistics of 8 images \(< 2048\)/);
    const on = tmp(), off = tmp(), lines: string[] = [];
    const a = Trainer.create(cfgOf({}), { data, out: on, progress: 'none', device: 'cpu', log: (s) => lines.push(s), fid: ev });
    await a.run();
    const b = Trainer.create(cfgOf({}), { data, out: off, progress: 'none', device: 'cpu', log: () => {} });
    await b.run();
    expect(sameArrays(weights(a), weights(b)), 'FID evaluations leave the run unchanged').to.equal(true);
    const recs = readJsonLines(path.join(on, 'metrics.jsonl')).filter((r) => r.type === 'fid');
    expect(recs.map((r) => [r.epoch, r.step])).to.deep.equal([[2, 4], [3, 6]]); // every 2nd epoch and the last
    for (const r of recs) {
      expect(r).to.include({ samples: 70, preprocess: 'imagenet', weights: 'inc.h5', real: 'real.npz' });
      expect(r.fid as number).to.be.greaterThan(0);
      expect(r.seconds as number).to.be.at.least(0);
    }
    // the last evaluation saw the final generator: regenerate its 70 images at once, features, float64 loops
    const fake = generate(a.G, a.cfg, a.latent, 70, new Rng(a.cfg.seed, STREAMS.fidNoise), 'cpu');
    const f = inceptionFeatures(ev.model, fake.data, [70, 1, S, S], { mode: 'tf' });
    const want = frechetDistance(ev.real, naiveStats(f, 70, ev.model.features)).fid;
    expect(Math.abs((recs[1].fid as number) - want), `recorded ${recs[1].fid}, reference ${want}`).to.be.at.most(1e-9 * want);
    expect(recs[0].fid).to.not.equal(recs[1].fid);
    expect(lines.join('\n')).to.match(/epoch 2\/3 done .*, FID [\d.]+ \(70 images, [\d.]+ s\) \(best #1\); checkpoint/);
    expect(fs.existsSync(path.join(on, 'fid.png'))).to.equal(true);
    expect(fs.existsSync(path.join(off, 'fid.png'))).to.equal(false);
    const best = JSON.parse(fs.readFileSync(path.join(on, 'checkpoints', 'best', 'best.json'), 'utf8'));
    const ranked = [...recs].sort((x, y) => (x.fid as number) - (y.fid as number));
    expect(best.entries.map((e: { step: number; fid: number }) => [e.step, e.fid])).to.deep.equal(ranked.map((r) => [r.step, r.fid]));
    for (const e of best.entries) expect(fs.existsSync(path.join(on, 'checkpoints', 'best', e.file, 'G.safetensors'))).to.equal(true);
    expect(JSON.parse(fs.readFileSync(path.join(on, 'config.json'), 'utf8')).fid).to.deep.equal(fs1);
    a.dispose(); b.dispose(); ev.dispose();
  });

  it('resume: the same records and best list as an uninterrupted run; a run without FID can add it', async () => {
    const s = fidSettings({ every: 1, real: REAL, weights: W, samples: 8 })!;
    const ev = await FidEvaluator.load(s, 'cpu');
    const o = { data, progress: 'none' as const, device: 'cpu' as const, log: () => {}, fid: ev };
    const full = tmp(), cut = tmp();
    const a = Trainer.create(cfgOf({}), { ...o, out: full });
    await a.run(); a.dispose();
    const b = Trainer.create(cfgOf({}), { ...o, out: cut, stopAfter: 3 }); // killed in epoch 2: resumes from epoch 1's checkpoint
    await b.run(); b.dispose();
    const c = Trainer.resume({ ...o, out: cut });
    await c.run(); c.dispose();
    const fids = (run: string) => readJsonLines(path.join(run, 'metrics.jsonl')).filter((r) => r.type === 'fid').map((r) => [r.epoch, r.fid]);
    const bestOf = (run: string) => fs.readFileSync(path.join(run, 'checkpoints', 'best', 'best.json'), 'utf8');
    expect(fids(cut)).to.deep.equal(fids(full));
    expect(fids(full)).to.have.length(3);
    expect(bestOf(cut)).to.equal(bestOf(full));
    // killed after publishing the last checkpoint but before listing it: resume lists it
    fs.rmSync(path.join(cut, 'checkpoints', 'best'), { recursive: true });
    const d = Trainer.resume({ ...o, out: cut });
    await d.run(); d.dispose();
    const last = JSON.parse(bestOf(cut)).entries;
    expect(last.map((e: { step: number }) => e.step)).to.deep.equal([6]);
    // a run that had no FID: resumed with an evaluator, records from then on
    const plain = tmp();
    const p = Trainer.create(cfgOf({ epochs: 1 }), { ...o, fid: undefined, out: plain });
    await p.run(); p.dispose();
    const q = Trainer.resume({ ...o, out: plain }, 2);
    await q.run(); q.dispose();
    expect(fids(plain).map(([e]) => e)).to.deep.equal([2]);
    ev.dispose();
  });

  it('mrigan train: bad --fid-* options are one-line usage errors (exit 2) before any work', async () => {
    const set = path.join(dir, 'set.mrigan');
    const w = new DatasetWriter(set, {
      shape: [8, 1, S, S], dtype: 'float32', created: 'test', tool: 'test', recipe: {}, sources: [],
      slices: Array.from({ length: 8 }, (_, i) => ({ subject: 's', contrast: 'flair', slice: i, source: 0 })),
    });
    for (let i = 0; i < 8; i++) w.writeSlice(i, randArray(S * S, 100 + i));
    w.commit();
    const W8 = path.join(dir, 'div8.h5');
    await writeRandomInception(W8, 8, 3);
    const out = path.join(dir, 'cli-run');
    const base = ['--data', set, '--model', 'dcgan', '--width', '2', '--batch', '4', '--epochs', '1', '--eval-every', '0', '--device', 'cpu', '--progress', 'none', '--out', out];
    const fid = ['--fid-every', '1', '--fid-real', REAL, '--fid-weights', W];
    const cases: [string[], RegExp][] = [
      [['--fid-every', '0', '--fid-real', REAL, '--fid-weights', W], /--fid-every must be a positive integer, got 0/],
      [['--fid-real', REAL, '--fid-weights', W], /--fid-real needs --fid-every N/],
      [['--fid-every', '1', '--fid-weights', W], /--fid-every needs --fid-real REAL\.npz \(make it with mrigan stats/],
      [['--fid-every', '1', '--fid-real', REAL], /--fid-every needs --fid-weights FILE\.h5/],
      [['--fid-every', '1', '--fid-real', path.join(dir, 'nope.npz'), '--fid-weights', W], /--fid-real: no such file \(\S+nope\.npz\)/],
      [[...fid, '--fid-samples', '1'], /--fid-samples must be an integer ≥ 2, got 1/],
      [[...fid, '--fid-preprocess', 'radimagenet'], /--fid-preprocess radimagenet but \S+real\.npz was computed with imagenet preprocessing/],
      [[...fid, '--fid-preprocess', 'caffe'], /--fid-preprocess must be imagenet or radimagenet, got 'caffe'/],
      [['--fid-every', '1', '--fid-real', REAL, '--fid-weights', W2], /real\.npz was computed with other InceptionV3 weights than --fid-weights \S+other\.h5/],
      [['--fid-every', '1', '--fid-real', REAL, '--fid-weights', W8], /real\.npz holds 128-d statistics but \S+div8\.h5 gives 256-d features/],
    ];
    for (const [args, re] of cases) {
      const r = await runCommand(trainCmd.run, [...base, ...args]);
      expect(r.err, args.join(' ')).to.match(re);
      expect(r.err.trim().split('\n'), args.join(' ')).to.have.length(1);
      expect(r.code, args.join(' ')).to.equal(2);
      expect(fs.existsSync(path.join(out, 'config.json')), `${args.join(' ')}: nothing written`).to.equal(false);
    }
    // a corrupt statistics file is not a usage error: exit 1, naming the file
    const bad = path.join(dir, 'bad.npz');
    fs.writeFileSync(bad, 'not a zip');
    const corrupt = await runCommand(trainCmd.run, [...base, '--fid-every', '1', '--fid-real', bad, '--fid-weights', W]);
    expect([corrupt.code, corrupt.err.trim()]).to.satisfy(([c, e]: [number, string]) => c === 1 && /^mrigan train: not an \.npz \(zip\) file.* \(\S+bad\.npz\)$/.test(e));
    const ok = await runCommand(trainCmd.run, [...base, ...fid, '--fid-samples', '4']);
    expect(ok.code, ok.err).to.equal(0);
    expect(ok.out).to.match(/epoch 1\/1 done .*, FID [\d.]+ \(4 images/);
    expect(ok.out).to.match(/note: FID with 4 generated images and real statistics of 8 images/);
    // --resume keeps the run's FID settings; other ones would rank the best list under other terms
    const other = await runCommand(trainCmd.run, ['--out', out, '--resume', '--epochs', '2', '--fid-samples', '5']);
    expect([other.code, other.err]).to.satisfy(([c, e]: [number, string]) => c === 2 && /best\.json ranks checkpoints by FID with samples 4.*now has samples 5/.test(e));
    const more = await runCommand(trainCmd.run, ['--out', out, '--resume', '--epochs', '2', '--progress', 'none']);
    expect(more.code, more.err).to.equal(0);
    expect(readJsonLines(path.join(out, 'metrics.jsonl')).filter((r) => r.type === 'fid').map((r) => [r.epoch, r.samples])).to.deep.equal([[1, 4], [2, 4]]);
  });
});
