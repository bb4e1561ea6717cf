// Issue 14, data side: symlinked subject and PNG folders are followed, PNGs come in path order, a tRNS colour keeps
// its value, multi-member .nii.gz files read like single-member ones, stale temps of dead writers are removed
// (dataset and checkpoint folders), and the diverged-training message follows the facts.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { spawnSync } from 'child_process';
import { PNG } from 'pngjs';
import { encodeNifti, readNifti, readNiftiInfo } from '../../lib/data/nifti';
import { scanBrats } from '../../lib/data/brats';
import { pngSources } from '../../lib/data/prepare';
import { readPngGray } from '../../lib/data/png';
import { DatasetWriter } from '../../lib/data/dataset';
import { writePhantom } from '../../lib/data/phantom';
import { DataError } from '../../lib/data/errors';
import { cleanCheckpointTemps } from '../../lib/train/checkpoint';
import { nonFiniteMessage, publishedCheckpoint, firstNonFiniteHost } from '../../lib/train/errors';
import { tmpdir, rmrf } from './util';

const deadPid = (): number => Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);

// CRC-32 (IEEE) by the bitwise definition, for hand-made PNG chunks.
function crc32(b: Buffer): number {
  let c = 0xffffffff;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}
/** Inserts `extra` chunks right after IHDR. */
function withChunks(png: Buffer, extra: Buffer[]): Buffer {
  const ihdrEnd = 8 + 12 + png.readUInt32BE(8);
  return Buffer.concat([png.subarray(0, ihdrEnd), ...extra, png.subarray(ihdrEnd)]);
}

describe('data reliability (issue 14)', function () {
  this.timeout(120000);
  const dir = tmpdir('rely');
  after(() => rmrf(dir));

  it('follows subject folders that are symbolic links (BraTS in a shared store)', async () => {
    const store = path.join(dir, 'store'), brats = path.join(dir, 'brats');
    await writePhantom({ subjects: 4, seed: 1, out: store, shape: [8, 8, 8], contrasts: ['flair'] });
    const subs = fs.readdirSync(store).sort();
    expect(subs.length).to.equal(4);
    fs.mkdirSync(brats);
    fs.renameSync(path.join(store, subs[0]), path.join(brats, subs[0])); // one real folder, three links
    for (const s of subs.slice(1)) fs.symlinkSync(path.join(store, s), path.join(brats, s));
    fs.symlinkSync(path.join(dir, 'nowhere'), path.join(brats, 'BraTS2021_09999')); // dangling folder link: ignored
    const found = scanBrats(brats);
    expect(found.map((s) => s.id)).to.deep.equal(subs);
    for (const s of found) expect(fs.statSync(s.files.flair!).isFile()).to.equal(true);
  });

  it('walks PNG folders through links (a cycle once), in sorted path order', () => {
    const root = path.join(dir, 'pngs'), other = path.join(dir, 'other');
    fs.mkdirSync(path.join(root, 'a'), { recursive: true });
    fs.mkdirSync(other);
    const png = PNG.sync.write(Object.assign(new PNG({ width: 2, height: 2 }), { data: Buffer.alloc(16, 255) }));
    for (const f of ['a.png', 'a-b.png', 'a/x.png', 'B.png', 'a/Z.png']) fs.writeFileSync(path.join(root, f), png);
    fs.writeFileSync(path.join(other, 'y.png'), png);
    fs.symlinkSync(other, path.join(root, 'linked'));
    fs.symlinkSync(root, path.join(root, 'a', 'loop')); // a cycle back to the root
    const rel = pngSources(root).map((s) => path.relative(root, s.path));
    // code-unit order of the relative paths: 'B' < 'a', '-' < '.' < '/', 'Z' < 'x'
    expect(rel).to.deep.equal(['B.png', 'a-b.png', 'a.png', 'a/Z.png', 'a/x.png', 'linked/y.png']);
  });

  it('ignores tRNS: the transparent gray and RGB colours keep their values', () => {
    const gray = new PNG({ width: 3, height: 1, colorType: 0, inputColorType: 0, bitDepth: 8 });
    gray.data = Buffer.from([100, 7, 100]);
    const g = PNG.sync.write(gray, { colorType: 0, inputColorType: 0, bitDepth: 8 });
    const f1 = path.join(dir, 'trns-gray.png');
    fs.writeFileSync(f1, withChunks(g, [chunk('tRNS', Buffer.from([0, 100]))]));
    expect(Array.from(readPngGray(f1).data)).to.deep.equal([100, 7, 100]);
    const rgb = new PNG({ width: 2, height: 1, colorType: 2, inputColorType: 2, bitDepth: 8 });
    rgb.data = Buffer.from([10, 20, 30, 50, 50, 50]);
    const c = PNG.sync.write(rgb, { colorType: 2, inputColorType: 2, bitDepth: 8 });
    const f2 = path.join(dir, 'trns-rgb.png');
    fs.writeFileSync(f2, withChunks(c, [chunk('tRNS', Buffer.from([0, 10, 0, 20, 0, 30]))]));
    const v = readPngGray(f2).data;
    expect(v[0]).to.be.closeTo(0.2989 * 10 + 0.587 * 20 + 0.114 * 30, 1e-4);
    expect(v[1]).to.equal(50);
  });

  it('reports truncated and corrupt PNGs itself, naming the file', () => {
    const p = new PNG({ width: 8, height: 8 });
    p.data = Buffer.alloc(256, 9);
    const full = PNG.sync.write(p);
    const cases: [Buffer, RegExp][] = [
      [full.subarray(0, full.length - 12), /truncated PNG \(\d+ bytes, ends inside a chunk header/],
      [full.subarray(0, 60), /truncated PNG \(60 bytes; chunk '[A-Za-z]{4}' at byte 33 declares \d+ bytes\)/],
      [Buffer.concat([full.subarray(0, 8), chunk('IEND', Buffer.alloc(0))]), /no IHDR chunk first/],
    ];
    cases.forEach(([b, re], i) => {
      const f = path.join(dir, `cut${i}.png`);
      fs.writeFileSync(f, b);
      expect(() => readPngGray(f)).to.throw(DataError, re).with.property('file', f);
    });
  });

  it('reads multi-member .nii.gz files (valid gzip) like single-member ones; a truncated one still fails', async () => {
    const shape = [6, 5, 4], n = 120;
    const raw = encodeNifti(shape, Float32Array.from({ length: n }, (_, i) => i * 0.5 - 7));
    const one = path.join(dir, 'one.nii.gz'), multi = path.join(dir, 'multi.nii.gz'), cut = path.join(dir, 'cut.nii.gz');
    fs.writeFileSync(one, zlib.gzipSync(raw));
    const parts = [raw.subarray(0, 200), raw.subarray(200, 400), raw.subarray(400)].map((b) => zlib.gzipSync(b));
    fs.writeFileSync(multi, Buffer.concat(parts));
    const a = await readNifti(one), b = await readNifti(multi);
    expect(Array.from(b.data)).to.deep.equal(Array.from(a.data));
    expect((await readNiftiInfo(multi)).shape).to.deep.equal(shape);
    fs.writeFileSync(cut, Buffer.concat(parts.slice(0, 2)));
    let err: unknown;
    try { await readNiftiInfo(cut); } catch (e) { err = e; }
    expect(err).to.be.instanceOf(DataError);
    expect((err as Error).message).to.match(/truncated gzip/);
  });

  it('a dataset writer removes FILE.tmp-<pid> of dead writers, not of live ones', () => {
    const out = path.join(dir, 'ds', 'x.mrigan');
    fs.mkdirSync(path.dirname(out));
    const dead = deadPid();
    fs.writeFileSync(`${out}.tmp-${dead}`, 'left by kill -9');
    fs.writeFileSync(`${out}.tmp-1`, 'pid 1 is alive'); // init: always alive
    const w = new DatasetWriter(out, { shape: [1, 1, 2, 2], dtype: 'uint8', created: 't', tool: 't', recipe: {}, sources: [], slices: [{ subject: 's', contrast: 'c', slice: 0, source: 0 }] });
    w.writeSlice(0, new Float32Array(4));
    w.commit();
    expect(fs.readdirSync(path.dirname(out)).sort()).to.deep.equal(['x.mrigan', 'x.mrigan.tmp-1']);
  });

  it('a checkpoint folder loses the pointer temps and staging folders of dead writers', () => {
    const run = path.join(dir, 'run'), ck = path.join(run, 'checkpoints');
    fs.mkdirSync(ck, { recursive: true });
    const dead = deadPid();
    const names = [`.latest.json.tmp-${dead}-1`, `.staging-step-00000004-${dead}`, `.latest.json.tmp-${process.pid}-9`, 'latest.json', 'step-00000002'];
    for (const n of names) n.includes('staging') || n.startsWith('step') ? fs.mkdirSync(path.join(ck, n)) : fs.writeFileSync(path.join(ck, n), '{"dir":"step-00000002"}');
    const removed = cleanCheckpointTemps(run).map((p) => path.basename(p)).sort();
    expect(removed).to.deep.equal(names.slice(0, 2).sort());
    expect(fs.readdirSync(ck).sort()).to.deep.equal(names.slice(2).sort());
    expect(publishedCheckpoint(run)).to.equal('step-00000002');
    expect(publishedCheckpoint(path.join(dir, 'none'))).to.equal(null);
  });

  it('the diverged-training message blames the data or the lr, and mentions a checkpoint only if one exists', () => {
    const m = (badData: string | null, checkpoint: string | null) => nonFiniteMessage({ step: 7, what: 'the D loss', badData, checkpoint });
    expect(m(null, 'step-00000005')).to.equal('training diverged at step 7: the D loss is not finite (NaN or Inf); the last good checkpoint (step-00000005) is kept; try a lower --lr');
    expect(m(null, null)).to.match(/no checkpoint was written yet/).and.not.match(/last good checkpoint/);
    expect(m('d.mrigan slice 3', null)).to.match(/input batch holds NaN or Inf values \(d\.mrigan slice 3\)/).and.not.match(/--lr/);
    for (const s of [m(null, null), m('x', 'y')]) expect(s).to.not.include('\n');
    expect(firstNonFiniteHost([1, 2, Infinity, NaN])).to.equal(2);
    expect(firstNonFiniteHost(new Float32Array(5))).to.equal(-1);
  });
});
