// The one error style (README "Errors") as a user meets it: child processes of the real CLI with bad input. Every
// failure is one stderr line `mrigan <command>: ...` naming the file or option, exit 2 for usage errors and 1 for
// the rest, no stack unless MRIGAN_DEBUG=1; and the issue-14 cases: --data a folder, a truncated state.json,
// --resume --epochs 0/-1/2.5, out-of-range values up front, --out checked before any work (a folder, /proc).
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { DatasetWriter } from '../../lib/data';
import { writePngGray } from '../../lib/data/png';
import { formatError, oneLine } from '../../lib/cli/errors';
import { UsageError, FileError } from '../../lib/util/errors';
import { DataError } from '../../lib/data/errors';
import { ConfigError } from '../../lib/train/config';
import { randArray } from '../helpers';

const cli = path.resolve(__dirname, '..', '..', 'lib', 'cli', 'main.js');
const mrigan = (args: string[], env: Record<string, string> = {}) => {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60000, env: { ...process.env, MRIGAN_DEVICE: 'cpu', MRIGAN_THREADS: '1', ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr, signal: r.signal };
};

/** The error contract: exactly one line, the command's prefix, the given exit code, no stack. */
function expectOneLine(r: ReturnType<typeof mrigan>, cmd: string, code: number, re: RegExp, what: string): void {
  expect(r.signal, what).to.equal(null);
  expect(r.code, `${what}: ${r.err}`).to.equal(code);
  const lines = r.err.split('\n').filter((l) => l !== '');
  expect(lines.length, `${what}: ${r.err}`).to.equal(1);
  expect(lines[0].startsWith(`mrigan ${cmd}: `), what).to.equal(true);
  expect(lines[0], what).to.match(re);
  expect(r.err, what).to.not.match(/\n\s+at /);
}

function writeSet(file: string, n: number, size: number, poison = -1): void {
  const w = new DatasetWriter(file, {
    shape: [n, 1, size, size], dtype: 'float32', created: 'test', tool: 'test', recipe: {}, sources: [],
    slices: Array.from({ length: n }, (_, i) => ({ subject: 's', contrast: 'flair', slice: i, source: 0 })),
  });
  for (let i = 0; i < n; i++) {
    const x = randArray(size * size, 100 + i);
    if (i === poison) x[7] = NaN;
    w.writeSlice(i, x);
  }
  w.commit();
}

describe('cli: one error style', function () {
  this.timeout(300000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mrigan-err-'));
  const set = path.join(dir, 'set.mrigan'), run = path.join(dir, 'run');
  const tiny = ['--model', 'dcgan', '--width', '2', '--batch', '4', '--epochs', '1', '--progress', 'none'];
  before(() => {
    writeSet(set, 8, 64);
    const r = mrigan(['train', '--data', set, ...tiny, '--out', run]);
    expect(r.code, r.err).to.equal(0);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('formats errors: file errors name the file, usage errors the option and --help, control characters escaped', () => {
    expect(formatError('prepare', new DataError('/a/b.nii', 'truncated'))).to.deep.equal({ line: 'mrigan prepare: truncated (/a/b.nii)', code: 1 });
    expect(formatError('train', new ConfigError('--lr must be in (0, 1), got 3'))).to.deep.equal({ line: 'mrigan train: --lr must be in (0, 1), got 3 (see mrigan train --help)', code: 2 });
    expect(formatError('x', new UsageError('bad')).code).to.equal(2);
    expect(formatError('x', new FileError('a\nb', 'gone')).line).to.equal('mrigan x: gone (a\\nb)');
    const raw = Object.assign(new Error("EISDIR: illegal operation on a directory, read"), { code: 'EISDIR', path: '/d' });
    expect(formatError('x', raw)).to.deep.equal({ line: 'mrigan x: cannot open: is a folder, expected a file (/d)', code: 1 });
    expect(formatError('x', new TypeError('boom')).code).to.equal(1);
    expect(oneLine('a\r\n\tb\x07')).to.equal('a\\r\\n b\\x07');
  });

  it('usage errors exit 2 on one line, across commands', () => {
    const cases: [string, string[], RegExp][] = [
      ['train', ['--data', set, ...tiny, '--out', dir, '--bogus'], /Unknown option '--bogus'/],
      ['train', ['--data', set, ...tiny, '--out', path.join(dir, 'l'), '--lambda', '1e300'], /--lambda must be in \[0, 10000\], got 1e\+300/],
      ['train', ['--data', set, ...tiny, '--out', path.join(dir, 'l'), '--threads', '0'], /--threads must be a positive integer/],
      ['train', ['--data', set, ...tiny, '--out', path.join(dir, 'l'), '--device', 'tpu'], /--device must be cpu, cuda or cuda:N, got 'tpu'/],
      ['sample', ['--checkpoint', run, '--out', dir, '--device', 'gpu0'], /--device must be/],
      ['prepare', ['--images', dir], /--out FILE is required/],
      ['prepare', ['--images', dir, '--out', dir], /--out .* is an existing folder/],
      ['phantom', ['--subjects', 'x', '--out', dir], /--subjects N/],
    ];
    for (const [cmd, args, re] of cases) expectOneLine(mrigan([cmd, ...args]), cmd, 2, re, args.join(' '));
    expect(fs.existsSync(path.join(dir, 'l'))).to.equal(false); // nothing started
  });

  it('--resume --epochs 0, -1 and 2.5 are refused; fewer than completed too', () => {
    for (const e of ['--epochs=0', '--epochs=-1', '--epochs=2.5']) expectOneLine(mrigan(['train', '--out', run, '--resume', e]), 'train', 2, /--epochs must be a positive integer/, e);
    expectOneLine(mrigan(['train', '--out', run, '--resume', '--epochs', '-1']), 'train', 2, /'--epochs' argument is ambiguous/, 'parseArgs');
    fs.cpSync(run, path.join(dir, 'run3'), { recursive: true });
    const st = path.join(dir, 'run3', 'checkpoints', JSON.parse(fs.readFileSync(path.join(run, 'checkpoints', 'latest.json'), 'utf8')).dir, 'state.json');
    const s = JSON.parse(fs.readFileSync(st, 'utf8'));
    s.epoch = 3;
    fs.writeFileSync(st, JSON.stringify(s));
    expectOneLine(mrigan(['train', '--out', path.join(dir, 'run3'), '--resume', '--epochs', '2']), 'train', 2, /--epochs 2 is fewer than the 3 epochs/, 'fewer');
  });

  it('file errors exit 1 and name the file: --data a folder, a truncated state.json or latest.json, NaN in the data', () => {
    expectOneLine(mrigan(['train', '--data', dir, ...tiny, '--out', path.join(dir, 'r2')]), 'train', 1, new RegExp(`is a folder, not a dataset file; give the file written by mrigan prepare \\(${dir}\\)$`), 'folder');
    const bad = path.join(dir, 'bad');
    fs.cpSync(run, bad, { recursive: true });
    const latest = path.join(bad, 'checkpoints', 'latest.json');
    const step = JSON.parse(fs.readFileSync(latest, 'utf8')).dir;
    const st = path.join(bad, 'checkpoints', step, 'state.json');
    const text = fs.readFileSync(st, 'utf8');
    fs.writeFileSync(st, text.slice(0, text.length >> 1));
    expectOneLine(mrigan(['train', '--out', bad, '--resume', '--epochs', '2']), 'train', 1, new RegExp(`truncated or corrupt JSON .*\\(${st}\\)$`), 'state');
    fs.writeFileSync(st, JSON.stringify({ ...JSON.parse(text), step: -4 }));
    expectOneLine(mrigan(['train', '--out', bad, '--resume']), 'train', 1, /'step' must be a non-negative integer/, 'state field');
    fs.writeFileSync(latest, JSON.stringify({ dir: '../../etc' }));
    expectOneLine(mrigan(['train', '--out', bad, '--resume']), 'train', 1, /corrupt checkpoint pointer.*latest\.json\)$/, 'pointer');
    const nan = path.join(dir, 'nan.mrigan');
    writeSet(nan, 8, 64, 5);
    expectOneLine(mrigan(['train', '--data', nan, ...tiny, '--out', path.join(dir, 'r3')]), 'train', 1, /slice 5 holds NaN or Inf values .*\(.*nan\.mrigan\)$/, 'nan');
  });

  it('prepare checks --out before any work: a missing folder under /proc fails at once instead of spinning', () => {
    fs.mkdirSync(path.join(dir, 'png'));
    writePngGray(path.join(dir, 'png', 'a.png'), 16, 16, randArray(256, 3));
    const full = fs.readFileSync(path.join(dir, 'png', 'a.png'));
    fs.writeFileSync(path.join(dir, 'png', 'a.png'), full.subarray(0, full.length - 20));
    const t0 = Date.now();
    expectOneLine(mrigan(['prepare', '--images', path.join(dir, 'png'), '--out', '/proc/mrigan-no/x.mrigan']), 'prepare', 1, /cannot create folder: no such file or folder \(\/proc\/mrigan-no\)/, 'proc');
    expect(Date.now() - t0).to.be.below(30000);
    expectOneLine(mrigan(['prepare', '--images', path.join(dir, 'png'), '--out', '/proc/x.mrigan']), 'prepare', 1, /cannot write/, 'proc file');
    expectOneLine(mrigan(['prepare', '--images', path.join(dir, 'png'), '--out', path.join(dir, 'o.mrigan')]), 'prepare', 1, /truncated PNG .*a\.png\)$/, 'png');
    const nl = path.join(dir, 'two\nlines.nii');
    expectOneLine(mrigan(['prepare', '--nifti', nl, '--out', path.join(dir, 'o.mrigan')]), 'prepare', 1, /two\\nlines\.nii/, 'newline');
  });

  it('MRIGAN_DEBUG=1 adds the stack', () => {
    const r = mrigan(['train', '--data', dir, ...tiny, '--out', path.join(dir, 'r2')], { MRIGAN_DEBUG: '1' });
    expect(r.code).to.equal(1);
    expect(r.err).to.match(/\n\s+at /);
  });
});
