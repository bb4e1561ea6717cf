// The best-checkpoints list by FID (lib/train/best.ts) on fake checkpoint folders: ranking, ties, eviction, the
// files on disk after every stage of an update cut short, resume truncation, and refusing a ranking made under other
// settings.
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BestCheckpoints, bestDir } from '../../lib/train/best';
import { checkpointsDir } from '../../lib/train/checkpoint';
import { ConfigError } from '../../lib/train/config';

const SETTINGS = { samples: 16, preprocess: 'imagenet', weights: 'a'.repeat(64), real: 'b'.repeat(64) };

/** A run folder with fake checkpoints step-1 … step-n (two small files each, content naming the step). */
function fakeRun(n: number): { run: string; ck: (step: number) => string } {
  const run = fs.mkdtempSync(path.join(os.tmpdir(), 'mrigan-best-'));
  const ck = (step: number): string => path.join(checkpointsDir(run), `step-${String(step).padStart(8, '0')}`);
  for (let s = 1; s <= n; s++) {
    fs.mkdirSync(ck(s), { recursive: true });
    fs.writeFileSync(path.join(ck(s), 'G.safetensors'), `G of step ${s}`);
    fs.writeFileSync(path.join(ck(s), 'state.json'), JSON.stringify({ step: s }));
  }
  return { run, ck };
}

/** What is on disk: best.json's (step, fid) in rank order, and the step folders present. */
function onDisk(run: string): { listed: [number, number][]; folders: string[]; other: string[] } {
  const dir = bestDir(run);
  const j = JSON.parse(fs.readFileSync(path.join(dir, 'best.json'), 'utf8'));
  j.entries.forEach((e: { rank: number }, i: number) => expect(e.rank).to.equal(i + 1));
  const names = fs.readdirSync(dir);
  return {
    listed: j.entries.map((e: { step: number; fid: number }) => [e.step, e.fid]),
    folders: names.filter((n) => /^step-/.test(n)).sort(),
    other: names.filter((n) => !/^step-/.test(n) && n !== 'best.json'),
  };
}

const offerAll = (b: BestCheckpoints, ck: (s: number) => string, fids: number[], from = 1): (number | null)[] =>
  fids.map((fid, i) => b.offer({ epoch: from + i, step: from + i, fid }, ck(from + i)));

describe('train: best checkpoints by FID', () => {
  it('keeps the three lowest FIDs; a better one evicts the worst; ties keep the earlier step', () => {
    const { run, ck } = fakeRun(8);
    const b = BestCheckpoints.load(run, SETTINGS);
    // steps 1..8 with FIDs: 50 40 45 | 60 (no) | 40 (ties step 2: after it) | 30 | 40 (ties the worst, step 5: out) | NaN
    const ranks = offerAll(b, ck, [50, 40, 45, 60, 40, 30, 40, NaN]);
    expect(ranks).to.deep.equal([1, 1, 2, null, 2, 1, null, null]);
    const d = onDisk(run);
    expect(d.listed).to.deep.equal([[6, 30], [2, 40], [5, 40]]);
    expect(d.folders).to.deep.equal(['step-00000002', 'step-00000005', 'step-00000006']);
    expect(d.other).to.deep.equal([]);
    // each kept folder is the checkpoint (hard links: same content, no copy)
    const kept = path.join(bestDir(run), 'step-00000005', 'G.safetensors');
    expect(fs.readFileSync(kept, 'utf8')).to.equal('G of step 5');
    expect(fs.statSync(kept).ino).to.equal(fs.statSync(path.join(ck(5), 'G.safetensors')).ino);
    // a pruned checkpoint does not take its best copy with it
    fs.rmSync(ck(6), { recursive: true });
    expect(fs.readFileSync(path.join(bestDir(run), 'step-00000006', 'state.json'), 'utf8')).to.equal('{"step":6}');
    // offering a listed step again is a no-op that returns its rank
    expect(b.offer({ epoch: 2, step: 2, fid: 40 }, ck(2))).to.equal(2);
    fs.rmSync(run, { recursive: true, force: true });
  });

  it('an update cut short at any stage leaves best.json naming complete folders only; the next load tidies up', () => {
    for (const stage of ['staged', 'renamed', 'listed', 'evicted']) {
      const { run, ck } = fakeRun(4);
      const b = BestCheckpoints.load(run, SETTINGS);
      offerAll(b, ck, [50, 40, 45]);
      const before = onDisk(run).listed;
      // step 4 (FID 10) enters at rank 1 and evicts step 1: "killed" right after `stage`
      expect(() => b.offer({ epoch: 4, step: 4, fid: 10 }, ck(4), (s) => { if (s === stage) throw new Error('killed'); })).to.throw('killed');
      const mid = onDisk(run);
      const listedAfter = stage === 'listed' || stage === 'evicted';
      expect(mid.listed, stage).to.deep.equal(listedAfter ? [[4, 10], [2, 40], [3, 45]] : before);
      for (const [s] of mid.listed) expect(fs.existsSync(path.join(bestDir(run), `step-0000000${s}`, 'G.safetensors')), `${stage}: step ${s}`).to.equal(true);
      const again = BestCheckpoints.load(run, SETTINGS);
      const tidy = onDisk(run);
      expect(tidy.listed, stage).to.deep.equal(mid.listed);
      expect(again.entries.map((e) => e.step)).to.deep.equal(mid.listed.map(([s]) => s));
      expect(tidy.folders, stage).to.deep.equal(tidy.listed.map(([s]) => `step-0000000${s}`).sort());
      expect(tidy.other, stage).to.deep.equal([]);
      fs.rmSync(run, { recursive: true, force: true });
    }
  });

  it('on resume drops entries after the checkpoint; refuses a ranking made with other settings; names a corrupt list', () => {
    const { run, ck } = fakeRun(3);
    offerAll(BestCheckpoints.load(run, SETTINGS), ck, [30, 20, 10]);
    const r = BestCheckpoints.load(run, SETTINGS, { upToStep: 2 });
    expect(r.entries.map((e) => [e.step, e.rank])).to.deep.equal([[2, 1], [1, 2]]);
    expect(onDisk(run).folders).to.deep.equal(['step-00000001', 'step-00000002']);
    expect(() => BestCheckpoints.load(run, { ...SETTINGS, samples: 32 })).to.throw(ConfigError, /ranks checkpoints by FID with samples 16.*now has samples 32/);
    fs.writeFileSync(path.join(bestDir(run), 'best.json'), '{"metric":"fid","entries":[{"step":1}]');
    expect(() => BestCheckpoints.load(run, SETTINGS)).to.throw(/best\.json: corrupt best-checkpoint list/);
    fs.rmSync(run, { recursive: true, force: true });
  });
});
