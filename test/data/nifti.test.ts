// NIfTI reading/writing: every datatype, .nii and .nii.gz, NIfTI-1 and -2, both byte orders, intensity scaling,
// sform/qform, reorientation of permuted/flipped volumes, and every bad-file case. Reference: nifti-reader-js
// (an independent reader) and volumes built in the test.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { readNifti, readNiftiInfo, writeNifti, encodeNifti, niftiAffine, parseNiftiHeader } from '../../lib/data/nifti';
import { rasView, axialSlice, resampleIso, rasAxes } from '../../lib/data/orient';
import { DataError } from '../../lib/data/errors';
import { rng } from '../helpers';
import { tmpdir, rmrf, referenceRead, rasReference, referenceAxial, permuteVolume, PERMUTATIONS } from './util';

const CH2 = '/usr/share/mricron/templates/ch2bet.nii.gz';

async function expectDataError(p: Promise<unknown>, file: string, re: RegExp): Promise<void> {
  try {
    await p;
  } catch (e) {
    expect(e).to.be.instanceOf(DataError);
    expect((e as Error).message.startsWith(file + ':'), `message names the file: ${(e as Error).message}`).to.equal(true);
    expect((e as Error).message).to.match(re);
    return;
  }
  expect.fail(`expected an error matching ${re}`);
}

describe('data/nifti', () => {
  let dir: string;
  before(() => { dir = tmpdir('nifti'); });
  after(() => rmrf(dir));

  const shape: [number, number, number] = [7, 5, 4];
  const n = 7 * 5 * 4;
  const r = rng(11);
  const cases: [string, () => Uint8Array | Int8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | Float32Array | Float64Array][] = [
    ['uint8', () => Uint8Array.from({ length: n }, () => Math.floor(r() * 256))],
    ['int8', () => Int8Array.from({ length: n }, () => Math.floor(r() * 256) - 128)],
    ['int16', () => Int16Array.from({ length: n }, () => Math.floor(r() * 65536) - 32768)],
    ['uint16', () => Uint16Array.from({ length: n }, () => Math.floor(r() * 65536))],
    ['int32', () => Int32Array.from({ length: n }, () => Math.floor(r() * 2e7) - 1e7)], // |v| < 2^24: exact in float32
    ['uint32', () => Uint32Array.from({ length: n }, () => Math.floor(r() * 1.6e7))],
    ['float32', () => Float32Array.from({ length: n }, () => (r() - 0.5) * 1e4)],
    ['float64', () => Float64Array.from({ length: n }, () => (r() - 0.5) * 1e4)],
  ];

  for (const [name, make] of cases) {
    for (const version of [1, 2] as const) {
      for (const gz of [false, true]) {
        for (const le of [true, false]) {
          for (const scaled of [false, true]) {
            it(`${name} NIfTI-${version}${gz ? ' .gz' : ''}${le ? '' : ' big-endian'}${scaled ? ' scaled' : ''}: exact voxels, header as nifti-reader-js reads it`, async () => {
              const data = make();
              const file = path.join(dir, `${name}-${version}-${gz}-${le}-${scaled}.nii${gz ? '.gz' : ''}`);
              const slope = scaled ? 0.5 : 0, inter = scaled ? -100.25 : 0;
              await writeNifti(file, shape, data, { version, littleEndian: le, sclSlope: slope, sclInter: inter });
              const v = await readNifti(file);
              expect(v.shape).to.deep.equal(shape);
              expect(v.gzip).to.equal(gz);
              expect(v.header.version).to.equal(version);
              expect(v.header.littleEndian).to.equal(le);
              for (let i = 0; i < n; i++) {
                const want = Math.fround(scaled ? data[i] * 0.5 - 100.25 : Number(data[i]));
                if (v.data[i] !== want) expect.fail(`voxel ${i}: got ${v.data[i]}, want ${want}`);
              }
              const ref = referenceRead(file);
              expect(ref.header.dims.slice(0, 4)).to.deep.equal([3, ...shape]);
              expect(ref.header.datatypeCode).to.equal(v.header.datatype);
              for (let i = 0; i < n; i++) if (Math.fround(ref.values[i]) !== v.data[i]) expect.fail(`voxel ${i} differs from nifti-reader-js`);
            });
          }
        }
      }
    }
  }

  it('sform wins over qform; qform alone is decoded like nifti-reader-js does; no xform = pixdim scaling', async () => {
    const data = new Int16Array(n);
    // a rotated (30° about S), anisotropic, flipped affine written as qform only
    const c = Math.cos(Math.PI / 6), s = Math.sin(Math.PI / 6);
    const A = [[c * 2, -s * 0.5, 0, 10], [s * 2, c * 0.5, 0, -20], [0, 0, -3, 30], [0, 0, 0, 1]];
    const fq = path.join(dir, 'qform.nii');
    await writeNifti(fq, shape, data, { affine: A, sform: false });
    const iq = await readNiftiInfo(fq);
    expect(iq.affineSource).to.equal('qform');
    const ref = referenceRead(fq).header;
    for (let a = 0; a < 3; a++) for (let b = 0; b < 4; b++) {
      expect(iq.affine[a][b]).to.be.closeTo(A[a][b], 1e-5);
      expect(iq.affine[a][b]).to.be.closeTo(ref.affine[a][b], 1e-5);
    }
    // both present, disagreeing: the sform is used (nibabel's and FSL's rule)
    const fb = path.join(dir, 'both.nii');
    const buf = encodeNifti(shape, data, { affine: A });
    buf.writeFloatLE(7, 280); // srow_x[0]
    fs.writeFileSync(fb, buf);
    const ib = await readNiftiInfo(fb);
    expect(ib.affineSource).to.equal('sform');
    expect(ib.affine[0][0]).to.equal(7);
    const fn = path.join(dir, 'none.nii');
    await writeNifti(fn, shape, data, { affine: [[2, 0, 0, 0], [0, 3, 0, 0], [0, 0, 4, 0]], sform: false, qform: false });
    const inone = await readNiftiInfo(fn);
    expect(inone.affineSource).to.equal('pixdim');
    expect(inone.affine.slice(0, 3)).to.deep.equal([[2, 0, 0, 0], [0, 3, 0, 0], [0, 0, 4, 0]]);
  });

  it('quaternion whose b²+c²+d² rounds above 1 still decodes (nifti-reader-js gives NaN)', () => {
    const b = encodeNifti(shape, new Uint8Array(n), { affine: [[-1, 0, 0, 0], [0, -1, 0, 0], [0, 0, 1, 0]], sform: false });
    b.writeFloatLE(1.0000001, 264); // quatern_d
    const { affine } = niftiAffine(parseNiftiHeader(b, 'x.nii'));
    expect(affine[0][0]).to.be.closeTo(-1, 1e-6);
    expect(affine[1][1]).to.be.closeTo(-1, 1e-6);
    expect(affine[2][2]).to.be.closeTo(1, 1e-6);
  });

  describe('orientation', () => {
    const ras: [number, number, number] = [5, 6, 7];
    const V = rasReference(...ras);
    let combo = 0;
    for (const axes of PERMUTATIONS) {
      for (let f = 0; f < 8; f++) {
        const flips = [!!(f & 1), !!(f & 2), !!(f & 4)];
        const mode = combo++ % 3; // rotate through sform NIfTI-1, qform-only NIfTI-1, sform NIfTI-2 .gz
        it(`axes [${axes}] flips [${flips.map(Number)}] (${['sform', 'qform', 'NIfTI-2 gz'][mode]}): axial slice k is the same anatomy`, async () => {
          const { data, shape: fshape, affine } = permuteVolume(V, ras, axes, flips);
          const file = path.join(dir, `o-${axes.join('')}-${f}.nii${mode === 2 ? '.gz' : ''}`);
          await writeNifti(file, fshape, data, { affine, sform: mode !== 1, version: mode === 2 ? 2 : 1 });
          const v = await readNifti(file);
          const view = rasView(v.data, v.shape, v.affine, file);
          expect(view.shape).to.deep.equal(ras);
          for (let k = 0; k < ras[2]; k++) expect(Array.from(axialSlice(view, k))).to.deep.equal(Array.from(referenceAxial(V, ras[0], ras[1], k)));
        });
      }
    }

    it('orientation codes: BraTS LPS, canonical RAS, oblique read along the nearest axes', () => {
      expect(rasAxes([[-1, 0, 0, 0], [0, -1, 0, 239], [0, 0, 1, 0]]).code).to.equal('LPS');
      expect(rasAxes([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]).code).to.equal('RAS');
      expect(rasAxes([[0, 0, -1, 0], [1, 0, 0, 0], [0, -1, 0, 0]]).code).to.equal('AIL');
      const t = (10 * Math.PI) / 180;
      const o = rasAxes([[Math.cos(t), -Math.sin(t), 0, 0], [Math.sin(t), Math.cos(t), 0, 0], [0, 0, 1, 0]]);
      expect(o.axis).to.deep.equal([0, 1, 2]);
      expect(o.flip).to.deep.equal([false, false, false]);
    });

    it('resampling to 1 mm is exact on a linear field (trilinear)', () => {
      const sh: [number, number, number] = [9, 7, 4];
      const sp: [number, number, number] = [0.5, 0.75, 2];
      const f = (x: number, y: number, z: number) => 3 + 2 * x - 1.5 * y + 0.25 * z; // in mm
      const d = new Float32Array(9 * 7 * 4);
      for (let z = 0; z < 4; z++) for (let y = 0; y < 7; y++) for (let x = 0; x < 9; x++) d[x + 9 * (y + 7 * z)] = f(x * sp[0], y * sp[1], z * sp[2]);
      const res = resampleIso({ shape: sh, spacing: sp, offset: 0, strides: [1, 9, 63], data: d, code: 'RAS' }, 1);
      expect(res.shape).to.deep.equal([5, 5, 7]); // floor(extent / 1 mm) + 1
      for (let z = 0; z < 7; z++) for (let y = 0; y < 5; y++) for (let x = 0; x < 5; x++) {
        expect(res.data[x + 5 * (y + 5 * z)]).to.be.closeTo(f(x, y, z), 1e-4);
      }
    });
  });

  describe('bad files: an error that names the file and the problem', () => {
    const good = () => encodeNifti(shape, new Int16Array(n).fill(5));
    const write = (name: string, b: Buffer) => {
      const f = path.join(dir, name);
      fs.writeFileSync(f, b);
      return f;
    };

    it('missing file', async () => expectDataError(readNiftiInfo(path.join(dir, 'nope.nii.gz')), path.join(dir, 'nope.nii.gz'), /no such file/));

    it('wrong magic (not NIfTI at all, and a bad n+1 string)', async () => {
      const f1 = write('text.nii', Buffer.from('hello, this is not a volume at all'.repeat(20)));
      await expectDataError(readNiftiInfo(f1), f1, /not a NIfTI file: wrong magic/);
      const b = good();
      b.write('xx1', 344, 'latin1');
      const f2 = write('magic.nii', b);
      await expectDataError(readNiftiInfo(f2), f2, /wrong magic/);
      const b2 = good();
      b2.write('ni1', 344, 'latin1');
      const f3 = write('pair.nii', b2);
      await expectDataError(readNiftiInfo(f3), f3, /\.hdr\/\.img pair/);
    });

    it('truncated gzip (cut in the middle of the stream) is found while reading', async () => {
      const z = zlib.gzipSync(encodeNifti([64, 64, 16], Int16Array.from({ length: 64 * 64 * 16 }, (_, i) => (i * 7919) % 3001)));
      const f = write('cut.nii.gz', z.subarray(0, Math.floor(z.length / 2)));
      await expectDataError(readNifti(f), f, /corrupt or truncated gzip stream/);
    });

    it('corrupt gzip data (bytes flipped after a good header)', async () => {
      const z = zlib.gzipSync(encodeNifti([64, 64, 16], Int16Array.from({ length: 64 * 64 * 16 }, (_, i) => (i * 7919) % 3001)));
      for (let i = Math.floor(z.length / 2); i < Math.floor(z.length / 2) + 64; i++) z[i] ^= 0x5a;
      const f = write('flip.nii.gz', z);
      await expectDataError(readNifti(f), f, /corrupt or truncated gzip stream/);
    });

    it('header/size mismatch: .nii shorter than its header says, and .nii.gz whose trailer says so', async () => {
      const b = good();
      const f = write('short.nii', b.subarray(0, b.length - 10));
      await expectDataError(readNiftiInfo(f), f, /header\/size mismatch/);
      await expectDataError(readNifti(f), f, /truncated: header says 7×5×4 int16/);
      const big = good();
      big.writeInt16LE(50, 42); // dim[1] 7 → 50
      const fz = write('dims.nii.gz', zlib.gzipSync(big));
      await expectDataError(readNiftiInfo(fz), fz, /header\/size mismatch.*gzip trailer/);
      await expectDataError(readNifti(fz), fz, /truncated/);
    });

    it('4-D where 3-D is required (a 4-D file with one frame is fine)', async () => {
      const f = path.join(dir, 'four.nii');
      await writeNifti(f, shape, new Int16Array(2 * n), { extraDims: [2] });
      await expectDataError(readNiftiInfo(f), f, /4-D volume \(7×5×4×2\) where a 3-D volume is required/);
      const f1 = path.join(dir, 'four1.nii');
      await writeNifti(f1, shape, new Int16Array(n), { extraDims: [1] });
      expect((await readNiftiInfo(f1)).shape).to.deep.equal(shape);
    });

    it('NaN and Inf voxels', async () => {
      for (const bad of [NaN, Infinity, -Infinity]) {
        const d = new Float32Array(n).fill(1);
        d[3 + 7 * (2 + 5 * 1)] = bad;
        const f = path.join(dir, `bad-${bad}.nii.gz`);
        await writeNifti(f, shape, d);
        await expectDataError(readNifti(f), f, /1 NaN\/Inf voxel \(first at voxel \(3, 2, 1\)\)/);
      }
    });

    it('absurd dimensions, unsupported datatypes, bitpix mismatch', async () => {
      const cases: [string, (b: Buffer) => void, RegExp][] = [
        ['zero-dim', (b) => b.writeInt16LE(0, 42), /absurd dimensions/],
        ['negative-dim', (b) => b.writeInt16LE(-5, 44), /absurd dimensions/],
        ['huge-dim', (b) => b.writeInt16LE(30000, 42), /absurd dimensions/],
        ['dim0', (b) => b.writeInt16LE(9, 40), /dim\[0\] = 9/],
        ['many-voxels', (b) => { b.writeInt16LE(4000, 42); b.writeInt16LE(4000, 44); b.writeInt16LE(4000, 46); }, /exceeds the limit/],
        ['complex', (b) => { b.writeInt16LE(32, 70); b.writeInt16LE(64, 72); }, /unsupported datatype complex64/],
        ['rgb', (b) => { b.writeInt16LE(128, 70); b.writeInt16LE(24, 72); }, /unsupported datatype rgb24/],
        ['bitpix', (b) => b.writeInt16LE(8, 72), /bitpix is 8/],
        ['voxoffset', (b) => b.writeFloatLE(100, 108), /vox_offset 100/],
        ['singular', (b) => { for (let k = 0; k < 12; k++) b.writeFloatLE(0, 280 + 4 * k); b.writeInt16LE(0, 252); }, /singular/],
      ];
      for (const [name, edit, re] of cases) {
        const b = good();
        edit(b);
        const f = write(`${name}.nii`, b);
        await expectDataError(readNiftiInfo(f), f, re);
      }
      const b2 = encodeNifti(shape, new Int16Array(n), { version: 2 });
      b2.writeBigInt64LE(100000n, 16 + 8);
      const f2 = write('huge2.nii', b2);
      await expectDataError(readNiftiInfo(f2), f2, /absurd dimensions 100000×5×4/);
    });

    it('too-short files', async () => {
      const f = write('tiny.nii', Buffer.from([0x5c, 0x01]));
      await expectDataError(readNiftiInfo(f), f, /too short/);
      const g = good();
      const f2 = write('halfhead.nii.gz', zlib.gzipSync(g.subarray(0, 200)));
      await expectDataError(readNiftiInfo(f2), f2, /truncated header: 200 of 348/);
    });
  });

  it('reads a real brain (Debian mricron-data ch2bet) exactly as nifti-reader-js does', async function () {
    if (!fs.existsSync(CH2)) this.skip(); // CI installs mricron-data; a bare checkout may not have it
    const v = await readNifti(CH2);
    expect(v.shape).to.deep.equal([181, 217, 181]);
    expect(v.dtype.name).to.equal('uint8');
    const ref = referenceRead(CH2);
    expect(ref.values.length).to.equal(v.data.length);
    let diff = 0;
    for (let i = 0; i < v.data.length; i++) if (v.data[i] !== ref.values[i]) diff++;
    expect(diff).to.equal(0);
    expect(rasView(v.data, v.shape, v.affine).code).to.equal('RAS');
  });
});
