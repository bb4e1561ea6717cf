// `mrigan train` and `mrigan sample` as a user runs them (child processes): error messages for bad input, and a
// tiny end-to-end run → resume → sample.
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { DatasetWriter, openDataset } from '../../lib/data';
import { randArray } from '../helpers';

const cli = path.resolve(__dirname, '..', '..', 'lib', 'cli', 'main.js');
const mrigan = (...args: string[]) => {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, MRIGAN_DEVICE: 'cpu' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

function writeSet(file: string, n: number, size: number): void {
  const w = new DatasetWriter(file, {
    shape: [n, 1, size, size], dtype: 'float32', created: 'test', tool: 'test', recipe: {}, sources: [],
    slices: Array.from({ length: n }, (_, i) => ({ subject: 's', contrast: 'flair', slice: i, source: 0 })),
  });
  for (let i = 0; i < n; i++) w.writeSlice(i, randArray(size * size, 100 + i));
  w.commit();
}

describe('cli: mrigan train / sample', function () {
  this.timeout(120000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mrigan-cli-'));
  const set64 = path.join(dir, 'set64.mrigan');
  before(() => writeSet(set64, 8, 64));

  it('explains bad input and exits with code 2', () => {
    const cases: [string[], RegExp][] = [
      [['--data', set64, '--preset', 'dcgan-set7', '--out', dir], /unknown preset 'dcgan-set7' \(expected one of dcgan-set1/],
      [['--data', set64, '--model', 'dcgan', '--size', '128', '--out', dir], /images are 64×64 but the model is 128×128/],
      [['--data', set64, '--model', 'dcgan', '--batch', '16', '--out', dir], /--batch 16 is larger than the dataset \(8 images\)/],
      [['--data', set64, '--model', 'dcgan', '--lr', 'fast', '--out', dir], /--lr must be a number, got 'fast'/],
      [['--data', set64, '--model', 'gan', '--out', dir], /--model must be dcgan or wgan-gp/],
      [['--data', set64, '--model', 'dcgan'], /--out RUN_DIR is required/],
      [['--model', 'dcgan', '--out', dir], /--data FILE is required/],
      [['--out', path.join(dir, 'none'), '--resume'], /no such run folder/],
      [['--data', set64, '--model', 'dcgan', '--out', dir, '--bogus'], /Unknown option '--bogus'/],
    ];
    for (const [args, re] of cases) {
      const r = mrigan('train', ...args);
      expect(r.err, args.join(' ')).to.match(re);
      expect(r.code, args.join(' ')).to.equal(2);
    }
    // a file that cannot be read is not a usage error: exit 1 (README "Errors")
    const nope = mrigan('train', '--data', path.join(dir, 'nope.mrigan'), '--model', 'dcgan', '--out', dir);
    expect([nope.code, nope.err.trim()]).to.satisfy(([c, e]: [number, string]) => c === 1 && /^mrigan train: no such dataset file \(\S*nope\.mrigan\)$/.test(e));
    const s = mrigan('sample', '--checkpoint', path.join(dir, 'none'), '--out', dir);
    expect([s.code, s.err]).to.satisfy(([c, e]: [number, string]) => c === 2 && /no such run folder/.test(e));
    expect(mrigan('train', '--help').out).to.match(/--preset P/);
  });

  it('--dry-run prints the layer tables and parameter counts of the paper preset', () => {
    const r = mrigan('train', '--preset', 'wgangp-set1', '--dry-run');
    expect(r.code).to.equal(0);
    expect(r.out).to.match(/"arch":"cepa2024"/);
    expect(r.out).to.match(/generator \(cepa2024\)[\s\S]*total parameters: 13,323,693/);
    expect(r.out).to.match(/critic \(cepa2024\)[\s\S]*Sigmoid[\s\S]*total parameters: 23,588,449/);
  });

  it('trains, resumes to more epochs, and samples PNGs and a dataset file', () => {
    const run = path.join(dir, 'run');
    const common = ['--progress', 'lines', '--threads', '2'];
    const a = mrigan('train', '--data', set64, '--model', 'wgan-gp', '--width', '2', '--batch', '4', '--epochs', '1', '--n-critic', '1', '--out', run, ...common);
    expect(a.code, a.err).to.equal(0);
    expect(a.out).to.match(/epoch 1\/1 step 2\/2 +D -?\d/);
    const b = mrigan('train', '--out', run, '--resume', '--epochs', '2', ...common);
    expect(b.code, b.err).to.equal(0);
    expect(b.out).to.match(/resuming .* at epoch 2, step 2/);
    const lines = fs.readFileSync(path.join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.filter((l) => l.type === 'step').map((l) => l.step)).to.deep.equal([1, 2, 3, 4]);
    expect(lines.filter((l) => l.type === 'epoch').map((l) => l.epoch)).to.deep.equal([1, 2]);
    const out = path.join(dir, 'samples');
    const s = mrigan('sample', '--checkpoint', run, '--n', '3', '--out', out, '--seed', '5');
    expect(s.code, s.err).to.equal(0);
    expect(fs.readdirSync(out).sort()).to.deep.equal(['grid.png', 'sample-00000.png', 'sample-00001.png', 'sample-00002.png', 'samples.mrigan']);
    const d = openDataset(path.join(out, 'samples.mrigan'));
    expect(d.shape).to.deep.equal([3, 1, 64, 64]);
    const v = d.batch([0, 1, 2]);
    expect(v.every((x) => x >= -1 && x <= 1)).to.equal(true);
    d.close();
    // same seed → same images
    const out2 = path.join(dir, 'samples2');
    mrigan('sample', '--checkpoint', run, '--n', '3', '--out', out2, '--seed', '5', '--no-png');
    const d2 = openDataset(path.join(out2, 'samples.mrigan'));
    expect(Buffer.compare(Buffer.from(d2.batch([0, 1, 2]).buffer), Buffer.from(v.buffer))).to.equal(0);
    d2.close();
  });
});
