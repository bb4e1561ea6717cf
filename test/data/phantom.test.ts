// The phantom: deterministic per seed and subject, anatomically ordered contrasts, BraTS files that independent
// readers accept.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { phantomSubject, writePhantom, blur3 } from '../../lib/data/phantom';
import { rng, expectClose } from '../helpers';
import { readNifti } from '../../lib/data/nifti';
import { rasView } from '../../lib/data/orient';
import { scanBrats } from '../../lib/data/brats';
import { tmpdir, rmrf, referenceRead } from './util';

// internal labels (lib/data/phantom.ts)
const L = { BG: 0, SCALP: 1, SKULL: 2, CSF: 3, GM: 4, WM: 5, DEEP: 6, EDEMA: 7, NCR: 8, ET: 9, VENT: 10 };

describe('data/phantom', () => {
  let dir: string;
  before(() => { dir = tmpdir('phantom'); });
  after(() => rmrf(dir));

  const shape: [number, number, number] = [96, 96, 62]; // 2.5 mm voxels over the BraTS field of view

  it('is deterministic per (seed, subject) and differs across subjects and seeds', () => {
    const shape: [number, number, number] = [48, 48, 31];
    const a = phantomSubject(2, 9, shape).contrast('flair');
    const b = phantomSubject(2, 9, shape).contrast('flair');
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).to.equal(true);
    const c = phantomSubject(3, 9, shape).contrast('flair');
    const d = phantomSubject(2, 10, shape).contrast('flair');
    expect(Buffer.from(a.buffer).equals(Buffer.from(c.buffer))).to.equal(false);
    expect(Buffer.from(a.buffer).equals(Buffer.from(d.buffer))).to.equal(false);
  });

  it('blur: separable [1 2 1]/4 with replicated edges equals the direct 3×3×3 float64 sum', () => {
    const [nx, ny, nz] = [7, 5, 4];
    const r = rng(2);
    const a = Float32Array.from({ length: nx * ny * nz }, () => r());
    const w = [0.25, 0.5, 0.25];
    const cl = (v: number, n: number) => Math.min(Math.max(v, 0), n - 1);
    const want: number[] = [];
    for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) {
      let s = 0;
      for (let c = -1; c <= 1; c++) for (let b = -1; b <= 1; b++) for (let d = -1; d <= 1; d++) {
        s += w[c + 1] * w[b + 1] * w[d + 1] * a[cl(i + d, nx) + nx * (cl(j + b, ny) + ny * cl(k + c, nz))];
      }
      want.push(s);
    }
    blur3(a, nx, ny, nz);
    expectClose(a, want, 1e-6, 1e-7, 'blur');
  });

  it('tissues: plausible volumes, a tumour with all three BraTS labels, background exactly 0 off the head', () => {
    for (const idx of [0, 3]) {
      const s = phantomSubject(idx, 1, shape);
      const voxelMl = (s.spacing[0] * s.spacing[1] * s.spacing[2]) / 1000;
      const count = new Array(12).fill(0);
      for (const l of s.labels) count[l]++;
      const brain = (count[L.GM] + count[L.WM] + count[L.DEEP] + count[L.EDEMA] + count[L.NCR] + count[L.ET] + count[L.VENT] + count[11]) * voxelMl;
      expect(brain, `subject ${idx} brain volume (ml)`).to.be.within(900, 1900);
      expect(count[L.GM] / count[L.WM], 'grey/white ratio').to.be.within(0.4, 2.5);
      expect(count[L.VENT] * voxelMl, 'ventricles (ml)').to.be.within(3, 80);
      const seg = s.seg();
      const segCount = [0, 0, 0, 0, 0];
      for (const v of seg) segCount[v]++;
      expect(segCount[1] + segCount[2] + segCount[4], 'tumour present').to.be.greaterThan(10);
      expect(segCount[2], 'edema around the tumour').to.be.greaterThan(segCount[4]);
      expect(segCount[3]).to.equal(0);
      const flair = s.contrast('flair');
      // background: exactly 0 away from the head (the blur reaches one voxel out)
      const [nx, ny, nz] = shape;
      // (separable 3-tap passes: the 3×3×3 neighbourhood)
      const around: number[] = [];
      for (let c = -1; c <= 1; c++) for (let b = -1; b <= 1; b++) for (let a = -1; a <= 1; a++) around.push(a + nx * (b + ny * c));
      let leak = 0, holes = 0;
      for (let k = 1; k < nz - 1; k++) for (let j = 1; j < ny - 1; j++) for (let i = 1; i < nx - 1; i++) {
        const p = i + nx * (j + ny * k);
        if (flair[p] !== 0) {
          let allBg = true;
          for (let q = 0; q < 27 && allBg; q++) if (s.labels[p + around[q]] !== L.BG) allBg = false;
          if (allBg) leak++;
        }
        if (s.labels[p] !== L.BG && flair[p] < 1) holes++;
      }
      expect(leak, 'signal far from the head').to.equal(0);
      expect(holes, 'zero voxels inside the head').to.equal(0);
    }
  });

  it('contrasts: T1 dark CSF / bright WM, T2 bright CSF, FLAIR suppressed CSF and bright edema, T1ce enhancing rim', () => {
    // tissue means over voxels whose whole 3×3×3 neighbourhood has one label (no partial volume from the blur)
    const sh: [number, number, number] = [160, 160, 104];
    const s = phantomSubject(1, 1, sh);
    const [nx, ny] = sh;
    const around: number[] = [];
    for (let c = -1; c <= 1; c++) for (let b = -1; b <= 1; b++) for (let a = -1; a <= 1; a++) around.push(a + nx * (b + ny * c));
    const interior = new Uint8Array(s.labels.length);
    const lab = s.labels;
    for (let p = nx * ny + nx + 1; p < lab.length - nx * ny - nx - 1; p++) {
      let same = 1;
      for (let q = 0; q < 27 && same; q++) if (lab[p + around[q]] !== lab[p]) same = 0;
      interior[p] = same;
    }
    const mean = (img: Int16Array, l: number) => {
      let sum = 0, n = 0;
      for (let p = 0; p < img.length; p++) if (interior[p] && s.labels[p] === l) { sum += img[p]; n++; }
      expect(n, `interior voxels of label ${l}`).to.be.greaterThan(5);
      return sum / n;
    };
    const t1 = s.contrast('t1'), t1ce = s.contrast('t1ce'), t2 = s.contrast('t2'), flair = s.contrast('flair');
    expect(mean(t1, L.VENT)).to.be.lessThan(0.6 * mean(t1, L.GM));
    expect(mean(t1, L.GM)).to.be.lessThan(0.85 * mean(t1, L.WM));
    expect(mean(t2, L.VENT)).to.be.greaterThan(1.5 * mean(t2, L.GM));
    expect(mean(t2, L.GM)).to.be.greaterThan(1.2 * mean(t2, L.WM));
    expect(mean(flair, L.VENT)).to.be.lessThan(0.5 * mean(flair, L.WM));
    expect(mean(flair, L.WM)).to.be.lessThan(0.9 * mean(flair, L.GM));
    expect(mean(flair, L.EDEMA)).to.be.greaterThan(1.4 * mean(flair, L.GM));
    expect(mean(t1ce, L.ET)).to.be.greaterThan(1.5 * mean(t1, L.ET));
    expect(mean(t1ce, L.NCR)).to.be.lessThan(0.5 * mean(t1ce, L.ET));
  });

  it('skull-stripped option leaves only brain and its CSF', () => {
    const s = phantomSubject(0, 1, shape, { skull: false });
    expect(s.labels.includes(L.SKULL)).to.equal(false);
    expect(s.labels.includes(L.SCALP)).to.equal(false);
  });

  it('writes BraTS 2021 / 2020 layouts that nifti-reader-js reads identically, LPS like BraTS; subject i is the same whatever N', async () => {
    const small: [number, number, number] = [24, 24, 20];
    const d1 = path.join(dir, 'a'), d2 = path.join(dir, 'b');
    const r = await writePhantom({ subjects: 2, seed: 4, out: d1, shape: small });
    expect(r.files.length).to.equal(10);
    expect(fs.existsSync(path.join(d1, 'BraTS2021_00001', 'BraTS2021_00001_seg.nii.gz'))).to.equal(true);
    await writePhantom({ subjects: 1, first: 1, seed: 4, out: d2, shape: small, contrasts: ['t2'], layout: 2020, level: 0 });
    expect(scanBrats(d2).map((s) => [s.id, Object.keys(s.files)])).to.deep.equal([['BraTS20_Training_002', ['t2']]]);
    const a = await readNifti(path.join(d1, 'BraTS2021_00001', 'BraTS2021_00001_t2.nii.gz'));
    const b = await readNifti(path.join(d2, 'BraTS20_Training_002', 'BraTS20_Training_002_t2.nii'));
    expect(Array.from(a.data)).to.deep.equal(Array.from(b.data));
    expect(a.dtype.name).to.equal('int16');
    expect(rasView(a.data, a.shape, a.affine).code).to.equal('LPS');
    expect(a.affineSource).to.equal('sform');
    const ref = referenceRead(path.join(d1, 'BraTS2021_00001', 'BraTS2021_00001_t2.nii.gz'));
    expect(Array.from(ref.values)).to.deep.equal(Array.from(a.data));
    // the qform says the same as the sform
    for (let i = 0; i < 3; i++) for (let j = 0; j < 4; j++) expect(ref.header.affine[i][j]).to.be.closeTo(a.affine[i][j], 1e-5);
    const seg = await readNifti(path.join(d1, 'BraTS2021_00001', 'BraTS2021_00001_seg.nii.gz'));
    expect(seg.dtype.name).to.equal('uint8');
    expect([...new Set(seg.data)].every((v) => [0, 1, 2, 4].includes(v))).to.equal(true);
  });
});
