// Training loops, determinism, checkpoints and resume (lib/train/run.ts, step.ts, checkpoint.ts), on narrow 64×64 models
// so the whole file runs in seconds.
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { Tensor } from '../../lib/engine';
import { Trainer, memorySource, NonFiniteError, ImageSource } from '../../lib/train/run';
import { resolveConfig, TrainConfig, ConfigError } from '../../lib/train/config';
import { findCheckpoint, saveCheckpoint } from '../../lib/train/checkpoint';
import { readJsonLines } from '../../lib/train/fsutil';
import { randArray, blobImages } from '../helpers';

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'mrigan-train-'));
const S = 64;

const blobs = (n: number, seed: number): ImageSource => memorySource(blobImages(n, seed, S), [n, 1, S, S]);

const cfgOf = (o: Partial<TrainConfig>): TrainConfig => resolveConfig({ size: 64, width: 2, batch: 4, epochs: 1, seed: 7, ...o });
const weights = (t: Trainer): Float32Array[] => [...t.G.params(), ...t.D.params()].map((p) => p.value.toFloat32Array());
const sameArrays = (a: Float32Array[], b: Float32Array[]): boolean => a.length === b.length && a.every((x, i) => Buffer.compare(Buffer.from(x.buffer), Buffer.from(b[i].buffer)) === 0);

describe('train: loops', function () {
  this.timeout(120000);
  for (const model of ['dcgan', 'wgan-gp'] as const) {
    for (const arch of ['dcgan', 'cepa2024'] as const) {
      it(`${model} on ${arch}: discriminator steps on a fixed batch reduce its loss`, () => {
        const t = Trainer.create(cfgOf({ model, arch, lr: 1e-3 }), { data: blobs(4, 1), out: null, device: 'cpu' });
        const real = Tensor.fromArray(blobs(4, 1).batch([0, 1, 2, 3]), [4, 1, S, S]);
        const losses: number[] = [];
        for (let k = 0; k < 6; k++) losses.push(t.discriminatorStep(real));
        expect(losses.every(Number.isFinite)).to.equal(true);
        expect(losses[5], `losses ${losses.map((v) => v.toFixed(4))}`).to.be.lessThan(losses[0]);
        real.dispose();
        t.dispose();
      });
    }
  }

  it('is deterministic: same seed and data → identical losses and weights; another seed differs', async () => {
    const run = async (seed: number) => {
      const losses: number[] = [];
      const t = Trainer.create(cfgOf({ model: 'wgan-gp', arch: 'cepa2024', nCritic: 1, seed }), { data: blobs(8, 2), out: null, progress: 'none', device: 'cpu', onStep: (m) => losses.push(m.d_loss, m.g_loss) });
      await t.run();
      const w = weights(t);
      t.dispose();
      return { losses, w };
    };
    const a = await run(7), b = await run(7), c = await run(8);
    expect(a.losses).to.have.length(4);
    expect(b.losses).to.deep.equal(a.losses);
    expect(sameArrays(a.w, b.w)).to.equal(true);
    expect(c.losses).to.not.deep.equal(a.losses);
  });
});

describe('train: checkpoints and resume', function () {
  this.timeout(120000);
  for (const model of ['dcgan', 'wgan-gp'] as const) {
    it(`${model}: a run interrupted and resumed ends with the same weights and losses as an uninterrupted one`, async () => {
      // 12 images, batch 4 → 3 iterations per epoch, 2 epochs; checkpoints at steps 2, 3 (epoch end), 4 and 6
      const cfg = cfgOf({ model, arch: model === 'dcgan' ? 'cepa2024' : 'dcgan', epochs: 2, checkpointEvery: 2, nCritic: 1, dropout: 0.2 });
      const data = blobs(12, 3);
      const full = tmp(), cut = tmp();
      const a = Trainer.create(cfg, { data, out: full, progress: 'none', device: 'cpu', log: () => {} });
      await a.run();
      const wa = weights(a);
      a.dispose();
      const b = Trainer.create(cfg, { data, out: cut, progress: 'none', device: 'cpu', log: () => {}, stopAfter: 5 });
      expect(await b.run()).to.equal(5);
      b.dispose(); // "killed" after step 5: the latest checkpoint is step 4 (epoch 2, iteration 1)
      expect(findCheckpoint(cut).state).to.include({ step: 4, epoch: 1, iter: 1 });
      const c = Trainer.resume({ data, out: cut, progress: 'none', device: 'cpu', log: () => {} });
      expect(await c.run()).to.equal(2);
      expect(sameArrays(weights(c), wa)).to.equal(true);
      c.dispose();
      const steps = (dir: string) => readJsonLines(path.join(dir, 'metrics.jsonl')).filter((r) => r.type === 'step').map((r) => [r.step, r.d_loss, r.g_loss]);
      expect(steps(cut)).to.deep.equal(steps(full));
      // the epoch resumed mid-way (epoch 2) is recorded over all its steps, as in the uninterrupted run
      const epochs = (dir: string) => readJsonLines(path.join(dir, 'metrics.jsonl')).filter((r) => r.type === 'epoch').map((r) => [r.epoch, r.step, r.d_loss, r.g_loss]);
      expect(epochs(cut)).to.deep.equal(epochs(full));
      expect(findCheckpoint(cut).state).to.include({ step: 6, epoch: 2, iter: 0 });
      for (const f of ['samples/epoch-001.png', 'samples/grid-002.png', 'samples/loss-002.png', 'loss.png', 'config.json'])
        expect(fs.existsSync(path.join(cut, f)), f).to.equal(true);
      // two newest checkpoints are kept
      expect(fs.readdirSync(path.join(cut, 'checkpoints')).sort()).to.deep.equal(['latest.json', 'step-00000004', 'step-00000006']);
    });
  }

  it('a stop request (Ctrl-C) checkpoints mid-epoch; a time limit stops at an epoch boundary', async () => {
    const out = tmp(), data = blobs(12, 9);
    let t: Trainer | null = null;
    t = Trainer.create(cfgOf({ model: 'dcgan', epochs: 3 }), { data, out, progress: 'none', device: 'cpu', log: () => {},
      onStep: (m) => { if (m.step === 2) t!.requestStop(); } });
    expect(await t.run()).to.equal(2);
    t.dispose();
    expect(findCheckpoint(out).state).to.include({ step: 2, epoch: 0, iter: 2 });
    const lines: string[] = [];
    const u = Trainer.resume({ data, out, progress: 'none', device: 'cpu', log: (s) => lines.push(s), timeLimit: 1e-3 });
    expect(await u.run()).to.equal(1); // finishes epoch 1, then the next epoch would not fit
    u.dispose();
    expect(findCheckpoint(out).state).to.include({ step: 3, epoch: 1, iter: 0 });
    expect(lines.join('\n')).to.match(/time limit of 0.001 s reached after epoch 1; continue with --resume/);
  });

  it('refuses to start over an existing run and explains --resume', async () => {
    const out = tmp(), data = blobs(4, 4);
    const t = Trainer.create(cfgOf({ model: 'dcgan' }), { data, out, progress: 'none', device: 'cpu', log: () => {} });
    await t.run();
    t.dispose();
    expect(() => Trainer.create(cfgOf({ model: 'dcgan' }), { data, out, device: 'cpu' })).to.throw(/--resume/);
    expect(() => Trainer.resume({ data, out: tmp(), device: 'cpu' })).to.throw(/no checkpoint yet/);
  });

  it('a write killed half-way (SIGKILL) leaves the previous checkpoint published and loadable', async () => {
    const out = tmp(), data = blobs(4, 5);
    const t = Trainer.create(cfgOf({ model: 'dcgan' }), { data, out, progress: 'none', device: 'cpu', log: () => {} });
    await t.run(); // checkpoint at step 1
    t.dispose();
    const dist = path.resolve(__dirname, '..', '..');
    for (const stage of ['G', 'optim', 'rename']) {
      const child = path.join(out, 'child.js');
      fs.writeFileSync(child, `
        const { Trainer, memorySource } = require(${JSON.stringify(path.join(dist, 'lib/train/run'))});
        const { saveCheckpoint } = require(${JSON.stringify(path.join(dist, 'lib/train/checkpoint'))});
        const { resolveConfig } = require(${JSON.stringify(path.join(dist, 'lib/train/config'))});
        const cfg = resolveConfig(${JSON.stringify(cfgOf({ model: 'dcgan' }))});
        const t = Trainer.create(cfg, { data: memorySource(new Float32Array(4 * 64 * 64), [4, 1, 64, 64]), out: null, device: 'cpu' });
        const st = t.state(); st.step = 99;
        saveCheckpoint(${JSON.stringify(out)}, { G: t.G, D: t.D, optG: t.optG, optD: t.optD, state: st },
          (s) => { if (s === ${JSON.stringify(stage)}) process.kill(process.pid, 'SIGKILL'); });
      `);
      const r = spawnSync(process.execPath, [child], { env: process.env });
      expect(r.signal, `child stderr: ${r.stderr}`).to.equal('SIGKILL');
      const { state } = findCheckpoint(out);
      expect(state.step, `killed at ${stage}`).to.equal(1);
      const u = Trainer.resume({ data, out, progress: 'none', device: 'cpu', log: () => {} }, 2);
      expect(u.step).to.equal(1);
      u.dispose();
    }
    // the next successful save clears the dead writers' staging folders
    const v = Trainer.resume({ data, out, progress: 'none', device: 'cpu', log: () => {} }, 2);
    await v.run();
    v.dispose();
    expect(fs.readdirSync(path.join(out, 'checkpoints')).filter((f) => f.startsWith('.staging'))).to.deep.equal([]);
  });

  it('G.safetensors is readable by a plain safetensors parser and holds the model weights', async () => {
    const out = tmp(), data = blobs(4, 6);
    const t = Trainer.create(cfgOf({ model: 'dcgan', arch: 'cepa2024' }), { data, out, progress: 'none', device: 'cpu', log: () => {} });
    await t.run();
    const file = path.join(findCheckpoint(out).dir, 'G.safetensors');
    // the format, read by hand: u64 LE header length, JSON header, raw little-endian data
    const buf = fs.readFileSync(file);
    const n = Number(buf.readBigUInt64LE(0));
    const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
    const base = 8 + n;
    const params = new Map(t.G.params().map((p) => [p.name, p.value]));
    let seen = 0, end = 0;
    for (const [name, e] of Object.entries<{ dtype: string; shape: number[]; data_offsets: [number, number] }>(header)) {
      if (name === '__metadata__') continue;
      end = Math.max(end, e.data_offsets[1]);
      const p = params.get(name);
      if (name.endsWith('num_batches_tracked')) { expect(e.dtype).to.equal('I64'); continue; }
      if (!p) { expect(name).to.match(/running_(mean|var)$/); continue; }
      expect(e.dtype).to.equal('F32');
      expect(e.shape).to.deep.equal(p.shape);
      const raw = buf.subarray(base + e.data_offsets[0], base + e.data_offsets[1]);
      const vals = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
      expect(Buffer.compare(Buffer.from(vals.buffer), Buffer.from(p.toFloat32Array().buffer)), name).to.equal(0);
      seen++;
    }
    expect(seen).to.equal(params.size);
    expect(base + end).to.equal(buf.length);
    t.dispose();
  });

  it('stops on NaN with a message naming the step and keeps the last good checkpoint', async () => {
    const out = tmp(), data = blobs(8, 7);
    const t = Trainer.create(cfgOf({ model: 'wgan-gp', epochs: 1 }), { data, out, progress: 'none', device: 'cpu', log: () => {} });
    await t.run(); // 2 steps, checkpoint at step 2
    t.dispose();
    const u = Trainer.resume({ data, out, progress: 'none', device: 'cpu', log: () => {} }, 2);
    const w = u.D.params()[0].value, bad = w.toFloat32Array();
    bad[0] = NaN;
    w.copyFrom(Tensor.fromArray(bad, w.shape));
    let err: unknown;
    try { await u.run(); } catch (e) { err = e; }
    expect(err).to.be.instanceOf(NonFiniteError);
    expect((err as Error).message).to.match(/diverged at step 3: the critic loss is not finite/);
    expect((err as Error).message).to.match(/the last good checkpoint \(step-00000002\) is kept; try a lower --lr$/);
    u.dispose();
    expect(findCheckpoint(out).state.step).to.equal(2);
  });

  it('NaN in the data: the message blames the data, names the image, and says no checkpoint exists yet', async () => {
    const good = blobs(8, 7), d = good.batch([0, 1, 2, 3, 4, 5, 6, 7]);
    d[5 * S * S + 100] = NaN; // image 5
    const out = tmp(), t = Trainer.create(cfgOf({ model: 'dcgan', epochs: 1 }), { data: memorySource(d, [8, 1, S, S]), dataName: 'mem',
      out, progress: 'none', device: 'cpu', log: () => {} });
    let err: unknown;
    try { await t.run(); } catch (e) { err = e; }
    t.dispose();
    expect(err).to.be.instanceOf(NonFiniteError);
    expect((err as Error).message).to.match(/no checkpoint was written yet.*the input batch holds NaN or Inf values \(mem image 5\)/);
    expect((err as Error).message).to.not.match(/lower --lr/);
  });

  it('evaluates quality after epoch 1, every N epochs and at the end, without changing the run', async () => {
    const data = blobs(12, 4), cfg = (evalEvery: number) => cfgOf({ model: 'dcgan', epochs: 3, evalEvery });
    const on = tmp(), off = tmp(), lines: string[] = [];
    const a = Trainer.create(cfg(2), { data, out: on, progress: 'none', device: 'cpu', log: (s) => lines.push(s) });
    await a.run();
    const b = Trainer.create(cfg(0), { data, out: off, progress: 'none', device: 'cpu', log: () => {} });
    await b.run();
    expect(sameArrays(weights(a), weights(b)), 'evaluations leave the run unchanged').to.equal(true);
    a.dispose(); b.dispose();
    const evals = readJsonLines(path.join(on, 'metrics.jsonl')).filter((r) => r.type === 'eval');
    expect(evals.map((r) => r.epoch)).to.deep.equal([1, 2, 3]); // epoch 1, every 2nd, the last
    for (const r of evals) {
      expect(r.swd as number).to.be.greaterThan(0);
      expect(r.msssim as number).to.be.within(0, 1);
      expect(r.msssim_real).to.equal(evals[0].msssim_real); // the same fixed real subset each time
    }
    expect(fs.existsSync(path.join(on, 'quality.png'))).to.equal(true);
    expect(fs.existsSync(path.join(off, 'quality.png'))).to.equal(false);
    expect(lines.join('\n')).to.match(/epoch 3: SWD×10³ [\d.]+ \[.*\], MS-SSIM generated [\d.]+ \/ real [\d.]+/);
  });

  it('rejects a batch larger than the dataset or images of the wrong size', () => {
    expect(() => Trainer.create(cfgOf({ model: 'dcgan', batch: 8 }), { data: blobs(4, 8), out: null, device: 'cpu' })).to.throw(ConfigError, /larger than the dataset/);
    const big = memorySource(new Float32Array(4 * 128 * 128), [4, 1, 128, 128]);
    expect(() => Trainer.create(cfgOf({ model: 'dcgan' }), { data: big, out: null, device: 'cpu' })).to.throw(/128×128 but the model is 64×64/);
  });
});
