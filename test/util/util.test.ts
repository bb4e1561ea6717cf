// lib/util: mulberry32 against a BigInt re-derivation of the published algorithm, the temp naming and the removal
// of stale temps (a real dead child's pid, not a guessed one), atomic writes, --device parsing.
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { mulberry32, tempName, tempPid, removeStaleTemps, removeStaleTempsIn, pidAlive, writeFileAtomic, parseDevice, UsageError, fsError, FileError } from '../../lib/util';

// mulberry32 in 64-bit BigInt arithmetic, masking to 32 bits by hand (no Math.imul).
function mulberryRef(seed: number, n: number): number[] {
  const M = (1n << 32n) - 1n;
  const mul = (a: bigint, b: bigint) => (a * b) & M;
  let a = BigInt(seed >>> 0);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5n) & M;
    let t = a;
    t = mul(t ^ (t >> 15n), t | 1n);
    t = (t ^ ((t + mul(t ^ (t >> 7n), t | 61n)) & M)) & M;
    out.push(Number((t ^ (t >> 14n)) & M) / 4294967296);
  }
  return out;
}

const deadPid = (): number => spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout as unknown as number;

describe('util', () => {
  it('mulberry32 matches a BigInt reference for several seeds', () => {
    for (const seed of [0, 1, 42, 0xdeadbeef, -7]) {
      const r = mulberry32(seed);
      const got = Array.from({ length: 1000 }, () => r());
      expect(got).to.deep.equal(mulberryRef(seed, 1000));
      expect(Math.min(...got)).to.be.at.least(0);
      expect(Math.max(...got)).to.be.below(1);
    }
  });

  it('names temps and recognises only its own naming', () => {
    const f = path.join('/x', 'data.mrigan');
    expect(tempName(f)).to.equal(`${f}.tmp-${process.pid}`);
    const h = path.basename(tempName(f, true));
    expect(h.startsWith(`.data.mrigan.tmp-${process.pid}-`)).to.equal(true);
    expect(tempPid(path.basename(tempName(f)), 'data.mrigan')).to.equal(process.pid);
    expect(tempPid(h, 'data.mrigan')).to.equal(process.pid);
    for (const n of ['data.mrigan', 'data.mrigan.tmp-', 'data.mrigan.tmp-12x', 'dataXmrigan.tmp-5', 'other.tmp-5', '.data.mrigan.tmp-']) expect(tempPid(n, 'data.mrigan'), n).to.equal(null);
  });

  it('removes temps of dead writers and keeps live ones and other files', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mrigan-util-'));
    try {
      const dead = Number(deadPid());
      expect(pidAlive(dead)).to.equal(false);
      expect(pidAlive(process.pid)).to.equal(true);
      const f = path.join(dir, 'out.mrigan');
      for (const n of [`out.mrigan.tmp-${dead}`, `.out.mrigan.tmp-${dead}-3`, `out.mrigan.tmp-${process.pid}`, 'out.mrigan', 'keep.txt', `other.tmp-${dead}`])
        fs.writeFileSync(path.join(dir, n), 'x');
      fs.mkdirSync(path.join(dir, `.staging-a-${dead}`));
      const removed = removeStaleTemps(f, (n) => (/^\.staging-.*-(\d+)$/.exec(n) ? Number(/-(\d+)$/.exec(n)![1]) : null)).map((p) => path.basename(p)).sort();
      expect(removed).to.deep.equal([`.out.mrigan.tmp-${dead}-3`, `.staging-a-${dead}`, `out.mrigan.tmp-${dead}`].sort());
      expect(fs.readdirSync(dir).sort()).to.deep.equal(['keep.txt', 'out.mrigan', `other.tmp-${dead}`, `out.mrigan.tmp-${process.pid}`].sort());
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('removeStaleTempsIn clears every dead writer\'s temp of a folder', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mrigan-util-'));
    try {
      const dead = Number(deadPid());
      const names = [`.a.png.tmp-${dead}-4`, `b.mrigan.tmp-${dead}`, `.c.tmp-${process.pid}-1`, 'a.png', '.tmp-5', `x.tmp-${dead}x`];
      for (const n of names) fs.writeFileSync(path.join(dir, n), '');
      expect(removeStaleTempsIn(dir).map((p) => path.basename(p)).sort()).to.deep.equal(names.slice(0, 2).sort());
      expect(fs.readdirSync(dir).sort()).to.deep.equal(names.slice(2).sort());
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes atomically and leaves no temp behind on failure', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mrigan-util-'));
    try {
      const f = path.join(dir, 'a.json');
      writeFileAtomic(f, 'one');
      writeFileAtomic(f, new Uint8Array([50, 51]));
      expect(fs.readFileSync(f, 'utf8')).to.equal('23');
      fs.mkdirSync(path.join(dir, 'sub'));
      expect(() => writeFileAtomic(path.join(dir, 'sub'), 'x')).to.throw();
      expect(fs.readdirSync(dir).sort()).to.deep.equal(['a.json', 'sub']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('parses --device and names the option when it cannot', () => {
    expect(parseDevice('cpu')).to.equal('cpu');
    expect(parseDevice('cuda')).to.equal('cuda:0');
    expect(parseDevice('cuda:3')).to.equal('cuda:3');
    for (const bad of ['gpu', 'cuda:', 'cuda:-1', 'CPU', 'cuda:1:2', ' cpu', 'cuda:99999'])
      expect(() => parseDevice(bad, '--dev'), bad).to.throw(UsageError, /^--dev must be cpu, cuda or cuda:N/);
  });

  it('turns fs error codes into words naming the file', () => {
    const e = fsError(Object.assign(new Error('EISDIR: illegal operation'), { code: 'EISDIR' }), '/d', 'cannot read');
    expect(e).to.be.instanceOf(FileError);
    expect(e.message).to.equal('/d: cannot read: is a folder, expected a file');
  });
});
