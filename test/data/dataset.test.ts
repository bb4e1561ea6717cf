// Dataset files: round trips in every dtype, the documented byte layout, shards (disjoint, covering, balanced
// for any world size), atomic writes, and refusal of corrupt files.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { DatasetWriter, openDataset, readDatasetHeader, permutation, SliceDType } from '../../lib/data/dataset';
import { DataError } from '../../lib/data/errors';
import { rng, expectClose } from '../helpers';
import { tmpdir, rmrf } from './util';

function makeSlices(n: number, hw: number, seed: number): Float32Array[] {
  const r = rng(seed);
  return Array.from({ length: n }, (_, i) => Float32Array.from({ length: hw }, (_, k) => (k === 0 ? -1 : k === 1 ? 1 : i % 2 ? 2 * r() - 1 : -1)));
}

function write(file: string, slices: Float32Array[], h: number, w: number, dtype: SliceDType = 'float32'): DatasetWriter {
  const wr = new DatasetWriter(file, {
    shape: [slices.length, 1, h, w], dtype, created: 'test', tool: 'test', recipe: { test: true },
    sources: [{ path: 'a.nii.gz', bytes: 123, subject: 's0', contrast: 'flair', kind: 'nifti' }],
    slices: slices.map((_, i) => ({ subject: 's0', contrast: 'flair', slice: 10 + i, source: 0 })),
  });
  slices.forEach((s, i) => wr.writeSlice(i, s));
  return wr;
}

describe('data/dataset', () => {
  let dir: string;
  before(() => { dir = tmpdir('ds'); });
  after(() => rmrf(dir));

  for (const dtype of ['float32', 'int16', 'uint8'] as SliceDType[]) {
    it(`${dtype}: slices and batches read back (quantisation within half a step), ±1 exact`, () => {
      const file = path.join(dir, `rt-${dtype}.mrids`);
      const slices = makeSlices(13, 6 * 5, 1);
      write(file, slices, 6, 5, dtype).commit();
      const ds = openDataset(file);
      expect(ds.count).to.equal(13);
      expect(ds.shape).to.deep.equal([13, 1, 6, 5]);
      expect(ds.meta.slices[4]).to.deep.equal({ subject: 's0', contrast: 'flair', slice: 14, source: 0 });
      const tol = dtype === 'float32' ? 0 : dtype === 'int16' ? 0.5 / 32767 + 1e-7 : 1 / 255 + 1e-7;
      for (let i = 0; i < 13; i++) {
        const s = ds.slice(i);
        expectClose(s, slices[i], 0, tol, `slice ${i}`);
        expect(s[0]).to.equal(-1);
        expect(s[1]).to.equal(1);
      }
      const idx = [3, 4, 5, 0, 12, 11, 4];
      const b = ds.batch(idx);
      expect(b.length).to.equal(idx.length * 30);
      idx.forEach((g, k) => expectClose(b.subarray(k * 30, (k + 1) * 30), slices[g], 0, tol, `batch ${k}`));
      expect(() => ds.slice(13)).to.throw(RangeError);
      expect(() => ds.batch([0, -1])).to.throw(RangeError);
      ds.close();
    });
  }

  it('byte layout: magic, version, JSON length, 4096-aligned data offset, little-endian float32 slices', () => {
    const file = path.join(dir, 'layout.mrids');
    const slices = makeSlices(3, 4 * 4, 2);
    write(file, slices, 4, 4).commit();
    const b = fs.readFileSync(file);
    expect(b.toString('latin1', 0, 8)).to.equal('MRIGANDS');
    expect(b.readUInt32LE(8)).to.equal(1);
    const jlen = b.readUInt32LE(12);
    const off = Number(b.readBigUInt64LE(16));
    expect(off % 4096).to.equal(0);
    expect(Number(b.readBigUInt64LE(24))).to.equal(3 * 16 * 4);
    const h = JSON.parse(b.toString('utf8', 32, 32 + jlen));
    expect(h.dataOffset).to.equal(off);
    expect(h.shape).to.deep.equal([3, 1, 4, 4]);
    expect(h.sources[0].bytes).to.equal(123);
    expect(b.length).to.equal(off + 3 * 64);
    for (let i = 0; i < 3; i++) for (let k = 0; k < 16; k++) expect(b.readFloatLE(off + (i * 16 + k) * 4)).to.equal(slices[i][k]);
    expect(readDatasetHeader(file).recipe).to.deep.equal({ test: true });
  });

  it('shards: disjoint, covering, sizes within 1, for every world size 1..17 (and with a shared shuffle seed)', () => {
    const file = path.join(dir, 'shard.mrids');
    const n = 37;
    write(file, makeSlices(n, 4, 3), 2, 2).commit();
    const ds = openDataset(file);
    for (const seed of [undefined, 7]) {
      for (let size = 1; size <= 17; size++) {
        const seen = new Int32Array(n);
        const sizes: number[] = [];
        for (let rank = 0; rank < size; rank++) {
          const sh = ds.shard(rank, size, seed);
          sizes.push(sh.count);
          for (let i = 0; i < sh.count; i++) {
            seen[sh.indices[i]]++;
            // a shard's slice i is the file's slice indices[i]
            if (i === 0) expect(Array.from(sh.slice(0))).to.deep.equal(Array.from(ds.slice(sh.indices[0])));
          }
        }
        expect(Array.from(seen).every((c) => c === 1), `size ${size}: every slice exactly once`).to.equal(true);
        expect(Math.max(...sizes) - Math.min(...sizes)).to.be.at.most(1);
      }
    }
    // shards of shards (e.g. nodes then GPUs) still partition
    const a = ds.shard(1, 3).shard(0, 2), b = ds.shard(1, 3).shard(1, 2);
    expect([...a.indices, ...b.indices].sort((x, y) => x - y)).to.deep.equal(Array.from(ds.shard(1, 3).indices));
    // the same seed gives the same permutation on every rank; different seeds differ
    expect(Array.from(permutation(n, 7))).to.deep.equal(Array.from(permutation(n, 7)));
    expect(Array.from(permutation(n, 7))).to.not.deep.equal(Array.from(permutation(n, 8)));
    expect(() => ds.shard(3, 3)).to.throw(RangeError);
    expect(() => ds.shard(0, 0)).to.throw(RangeError);
    ds.close();
    expect(() => ds.slice(0)).to.throw(/closed/);
  });

  it('atomic: nothing at the target until commit; abort removes the temp file and keeps an older dataset', () => {
    const file = path.join(dir, 'atomic.mrids');
    const wr = write(file, makeSlices(2, 4, 4), 2, 2);
    expect(fs.existsSync(file)).to.equal(false);
    expect(fs.existsSync(wr.tmp)).to.equal(true);
    wr.abort();
    expect(fs.existsSync(wr.tmp)).to.equal(false);
    expect(fs.existsSync(file)).to.equal(false);
    write(file, makeSlices(2, 4, 5), 2, 2).commit();
    const before = fs.readFileSync(file);
    const wr2 = write(file, makeSlices(3, 4, 6), 2, 2);
    wr2.abort();
    expect(fs.readFileSync(file).equals(before)).to.equal(true);
    // a slice never written fails the commit and leaves no temp
    const wr3 = new DatasetWriter(path.join(dir, 'hole.mrids'), {
      shape: [2, 1, 2, 2], dtype: 'float32', created: '', tool: '', recipe: {}, sources: [],
      slices: [{ subject: 'a', contrast: 'c', slice: 0, source: 0 }, { subject: 'a', contrast: 'c', slice: 1, source: 0 }],
    });
    wr3.writeSlice(0, new Float32Array(4));
    expect(() => wr3.commit()).to.throw(/slice 1 was never written/);
    expect(fs.existsSync(wr3.tmp)).to.equal(false);
    expect(fs.existsSync(path.join(dir, 'hole.mrids'))).to.equal(false);
  });

  it('refuses files that are not datasets, truncated, or padded', () => {
    const file = path.join(dir, 'ok.mrids');
    write(file, makeSlices(4, 16, 7), 4, 4).commit();
    const b = fs.readFileSync(file);
    const bad = (name: string, bytes: Buffer, re: RegExp) => {
      const f = path.join(dir, name);
      fs.writeFileSync(f, bytes);
      expect(() => openDataset(f)).to.throw(DataError, re);
      try { openDataset(f); } catch (e) { expect((e as Error).message.startsWith(f + ':')).to.equal(true); }
    };
    bad('trunc.mrids', b.subarray(0, b.length - 4), /truncated or padded/);
    bad('pad.mrids', Buffer.concat([b, Buffer.alloc(1)]), /truncated or padded/);
    bad('magic.mrids', Buffer.concat([Buffer.from('NOTADSET'), b.subarray(8)]), /not an mrigan dataset/);
    const v = Buffer.from(b); v.writeUInt32LE(99, 8);
    bad('version.mrids', v, /version 99/);
    const j = Buffer.from(b); j.write('}', 32);
    bad('json.mrids', j, /corrupt dataset header/);
    expect(() => openDataset(path.join(dir, 'absent.mrids'))).to.throw(DataError, /no such dataset file/);
  });
});
