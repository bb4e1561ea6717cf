// Which checkpoint a command-line path names (lib/train/locate.ts): a run folder (latest), RUN/checkpoints/best (rank
// 1 of best.json) or one checkpoint folder; the errors; and `mrigan sample` / the FID inputs generating from the chosen
// one (the same images as loading that folder by hand).
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Rng } from '../../lib/engine';
import { buildModel, latentSize } from '../../lib/models';
import { Trainer, memorySource, modelOptions } from '../../lib/train/run';
import { generate } from '../../lib/train/generate';
import { resolveConfig } from '../../lib/train/config';
import { BestCheckpoints, bestDir } from '../../lib/train/best';
import { checkpointsDir, loadCheckpointInto } from '../../lib/train/checkpoint';
import { isCheckpointPath, locateCheckpoint } from '../../lib/train/locate';
import { openInput } from '../../lib/cli/commands/stats';
import * as sampleCmd from '../../lib/cli/commands/sample';
import { openDataset } from '../../lib/data';
import { STREAMS } from '../../lib/util/streams';
import { blobImages, runCommand } from '../helpers';

const S = 64;

describe('train: locating a checkpoint (run, best, folder)', function () {
  this.timeout(120000);
  let dir: string, run: string;
  const step = (n: number): string => `step-${String(n).padStart(8, '0')}`;

  /** The first 5 images generated from checkpoint folder `ck` with seed 3, loaded by hand. */
  function imagesOf(ck: string): Float32Array {
    const state = JSON.parse(fs.readFileSync(path.join(ck, 'state.json'), 'utf8'));
    const mo = { ...modelOptions(state.config, 'cpu'), init: false };
    const G = buildModel(state.config.arch, 'generator', mo);
    try {
      loadCheckpointInto(ck, G, null, null, null, state);
      return generate(G, state.config, latentSize(state.config.arch, mo), 5, new Rng(3, STREAMS.sample), 'cpu').data;
    } finally { G.dispose(); }
  }

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mrigan-locate-'));
    run = path.join(dir, 'run');
    // 3 epochs of 2 steps, a checkpoint every step: the two newest (steps 5, 6) stay in checkpoints/
    const cfg = resolveConfig({ model: 'dcgan', size: S, width: 2, batch: 4, epochs: 3, seed: 7, evalEvery: 0, checkpointEvery: 1 });
    const t = Trainer.create(cfg, { data: memorySource(blobImages(8, 4, S), [8, 1, S, S]), out: run, progress: 'none', device: 'cpu', log: () => {} });
    await t.run(); t.dispose();
    // a best list as --fid-every keeps it: step 5 best, then step 6
    const b = BestCheckpoints.load(run, { metric: 'test' });
    b.offer({ epoch: 3, step: 6, fid: 20 }, path.join(checkpointsDir(run), step(6)));
    b.offer({ epoch: 3, step: 5, fid: 10 }, path.join(checkpointsDir(run), step(5)));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a run folder is its latest checkpoint; best/ its rank 1; a step folder itself', () => {
    const latest = locateCheckpoint(run);
    expect([path.basename(latest.dir), latest.state.step, latest.how]).to.deep.equal([step(6), 6, 'latest']);
    const best = locateCheckpoint(bestDir(run));
    expect(best.dir).to.equal(path.join(bestDir(run), step(5)));
    expect(best.state.step).to.equal(5);
    expect(best.how).to.equal('best (rank 1, FID 10.0000, step 5)');
    for (const f of [path.join(checkpointsDir(run), step(5)), path.join(bestDir(run), step(6))]) {
      const c = locateCheckpoint(f);
      expect([c.dir, c.how, c.state.step]).to.deep.equal([f, 'folder', Number(path.basename(f).slice(5))]);
    }
    for (const p of [run, bestDir(run), best.dir]) expect(isCheckpointPath(p), p).to.equal(true);
    for (const p of [dir + '/nope', path.join(best.dir, 'G.safetensors'), checkpointsDir(run)]) expect(isCheckpointPath(p), p).to.equal(false);
  });

  it('errors name the path and what is missing', () => {
    const empty = fs.mkdtempSync(path.join(dir, 'empty-'));
    const noG = fs.mkdtempSync(path.join(dir, 'nog-'));
    fs.copyFileSync(path.join(bestDir(run), step(5), 'state.json'), path.join(noG, 'state.json'));
    const badState = fs.mkdtempSync(path.join(dir, 'bad-'));
    fs.copyFileSync(path.join(bestDir(run), step(5), 'G.safetensors'), path.join(badState, 'G.safetensors'));
    fs.writeFileSync(path.join(badState, 'state.json'), '{"version": 1, "epo');
    const noneBest = fs.mkdtempSync(path.join(dir, 'best-'));
    fs.writeFileSync(path.join(noneBest, 'best.json'), JSON.stringify({ metric: 'fid', settings: {}, entries: [] }));
    const cases: [string, RegExp][] = [
      [path.join(dir, 'nope'), /nope: no such run folder or checkpoint folder/],
      [path.join(bestDir(run), 'best.json'), /not a folder; expected a run folder, RUN\/checkpoints\/best or a checkpoint folder/],
      [empty, /holds no checkpoints\/ folder, best\.json or state\.json/],
      [noG, /checkpoint incomplete, G\.safetensors is missing/],
      [badState, /state\.json\): truncated or corrupt JSON|truncated or corrupt JSON.*state\.json/],
      [noneBest, /best\.json.*lists no checkpoints yet|lists no checkpoints yet.*best\.json/],
    ];
    for (const [p, re] of cases) {
      let msg = '';
      try { locateCheckpoint(p); } catch (e) { msg = `${(e as Error).message} ${(e as { file?: string }).file ?? ''}`; }
      expect(msg, p).to.match(re);
    }
  });

  it('mrigan sample and the FID inputs generate from the chosen checkpoint', async () => {
    const bestImgs = imagesOf(path.join(bestDir(run), step(5)));
    const latestImgs = imagesOf(path.join(checkpointsDir(run), step(6)));
    expect(Buffer.compare(Buffer.from(bestImgs.buffer), Buffer.from(latestImgs.buffer)), 'steps 5 and 6 differ').to.not.equal(0);
    for (const [arg, want] of [[bestDir(run), bestImgs], [run, latestImgs], [path.join(checkpointsDir(run), step(5)), bestImgs]] as const) {
      const out = fs.mkdtempSync(path.join(dir, 'samples-'));
      const r = await runCommand(sampleCmd.run, ['--checkpoint', arg, '--n', '5', '--seed', '3', '--out', out, '--no-png', '--device', 'cpu']);
      expect(r.code, r.err).to.equal(0);
      const d = openDataset(path.join(out, 'samples.mrigan'));
      const got = d.batch([0, 1, 2, 3, 4]);
      d.close();
      expect(Buffer.compare(Buffer.from(got.buffer), Buffer.from(want.buffer)), arg).to.equal(0);
      if (arg === bestDir(run)) expect(r.out).to.match(/step-00000005 \(best \(rank 1, FID 10\.0000, step 5\); epoch 2, step 5\)/);
      // mrigan fid / stats / eval read the same path as a run input
      const input = openInput(arg, 'FAKE', { n: 5, seed: 3, bn: 'batch', device: 'cpu' });
      try {
        expect(input.kind).to.equal('run');
        const b = input.read!(0, 5);
        expect(Buffer.compare(Buffer.from(b.data.buffer), Buffer.from(want.buffer)), `${arg} as FID input`).to.equal(0);
      } finally { input.close(); }
    }
  });
});
