// lib/train outputs that need no network: presets and validation, PNG images and grids, loss curves, atomic
// writes, metrics.jsonl, progress lines.
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PNG } from 'pngjs';
import { resolveConfig, checkDataset, PRESETS, ConfigError } from '../../lib/train/config';
import { imagePng, gridPng, readPng, toByte } from '../../lib/train/image';
import { lossCurvePng } from '../../lib/train/plot';
import { writeFileAtomic, JsonLines, readJsonLines } from '../../lib/train/fsutil';
import { EpochProgress } from '../../lib/train/progress';

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'mrigan-train-io-'));

describe('train: config and presets', () => {
  it('Table I presets resolve with architecture cepa2024 and every field overridable', () => {
    const c = resolveConfig({ preset: 'dcgan-set3' });
    expect(c).to.include({ model: 'dcgan', arch: 'cepa2024', epochs: 100, lr: 2e-4, batch: 32, dropout: 0.5, preset: 'dcgan-set3' });
    const w = resolveConfig({ preset: 'wgangp-set1', lr: 1e-3, batch: 16, arch: 'dcgan' });
    expect(w).to.include({ model: 'wgan-gp', lr: 1e-3, batch: 16, epochs: 50, dropout: 0.2, lambda: 5, nCritic: 3, arch: 'dcgan' });
    expect(Object.keys(PRESETS)).to.deep.equal(['dcgan-set1', 'dcgan-set2', 'dcgan-set3', 'wgangp-set1']);
    expect(resolveConfig({ preset: 'dcgan-set1' })).to.include({ epochs: 50, lr: 1e-4, batch: 8, dropout: 0.2 });
    expect(resolveConfig({ preset: 'dcgan-set2' })).to.include({ epochs: 100, lr: 2e-4, batch: 64, dropout: 0.5 });
  });

  it('bad input gives errors naming the option', () => {
    expect(() => resolveConfig({ preset: 'dcgan-set9' })).to.throw(ConfigError, /unknown preset 'dcgan-set9'.*dcgan-set1/);
    expect(() => resolveConfig({ preset: 'wgangp-set1', model: 'dcgan' })).to.throw(/wgan-gp preset/);
    expect(() => resolveConfig({})).to.throw(/--model is required/);
    expect(() => resolveConfig({ model: 'dcgan', batch: 1 })).to.throw(/--batch/);
    expect(() => resolveConfig({ model: 'dcgan', lr: -1 })).to.throw(/--lr/);
    expect(() => resolveConfig({ model: 'dcgan', dropout: 1 })).to.throw(/--dropout/);
    expect(() => resolveConfig({ model: 'dcgan', size: 100 as 64 })).to.throw(/--size/);
    expect(() => resolveConfig({ model: 'gan' as 'dcgan' })).to.throw(/--model/);
    const c = resolveConfig({ model: 'dcgan', size: 64, batch: 16 });
    expect(() => checkDataset(c, { count: 10, size: 64, channels: 1 }, 'd.bin')).to.throw(/--batch 16 is larger than the dataset \(10 images\)/);
    expect(() => checkDataset(c, { count: 100, size: 128, channels: 1 }, 'd.bin')).to.throw(/128×128 but the model is 64×64/);
    expect(() => checkDataset(c, { count: 100, size: 64, channels: 3 }, 'd.bin')).to.throw(/channel/);
    checkDataset(c, { count: 16, size: 64, channels: 1 }, 'd.bin');
  });
});

describe('train: images and plots', () => {
  it('maps [-1, 1] to bytes and round-trips a grayscale image', () => {
    expect([-1, -2, 0, 1, 5, NaN].map(toByte)).to.deep.equal([0, 0, 128, 255, 255, 0]);
    const h = 5, w = 7, data = new Float32Array(2 * h * w).map((_, i) => (i % 17) / 8 - 1);
    const buf = imagePng({ data, n: 2, c: 1, h, w }, 1);
    const p = PNG.sync.read(buf);
    expect([p.width, p.height, p.colorType]).to.deep.equal([w, h, 0]);
    const back = readPng(buf);
    for (let k = 0; k < h * w; k++) expect(Math.round((back.data[k] + 1) * 127.5)).to.equal(toByte(data[h * w + k]));
  });

  it('tiles a batch into a grid with gaps, RGB for 3 channels', () => {
    const n = 6, h = 4, w = 3;
    const data = new Float32Array(n * h * w).map((_, i) => (Math.floor(i / (h * w)) / 5) * 2 - 1); // image i is flat
    const p = PNG.sync.read(gridPng({ data, n, c: 1, h, w }, 2, 3, 1));
    expect([p.width, p.height]).to.deep.equal([3 * w + 2, 2 * h + 1]);
    for (let i = 0; i < n; i++) {
      const x = (i % 3) * (w + 1) + 1, y = Math.floor(i / 3) * (h + 1) + 2;
      expect(p.data[(y * p.width + x) * 4]).to.equal(toByte((i / 5) * 2 - 1));
    }
    expect(p.data[(0 * p.width + w) * 4]).to.equal(0); // gap column is black
    const rgb = new Float32Array(3 * h * w);
    rgb.fill(-1).fill(1, 0, h * w); // red plane at 1, green and blue at -1
    const q = PNG.sync.read(gridPng({ data: rgb, n: 1, c: 3, h, w }, 1, 1));
    expect(Array.from(q.data.subarray(0, 3))).to.deep.equal([255, 0, 0]);
    expect(() => gridPng({ data: rgb, n: 1, c: 2, h, w }, 1, 1)).to.throw(/1 or 3 channels/);
  });

  it('draws loss curves (series colours appear, non-finite points are skipped)', () => {
    const d = Array.from({ length: 50 }, (_, i) => Math.exp(-i / 10));
    const g = Array.from({ length: 50 }, (_, i) => (i === 20 ? NaN : 1 + Math.sin(i / 5)));
    const p = PNG.sync.read(lossCurvePng([{ name: 'D', values: d, color: [200, 0, 0] }, { name: 'G', values: g, color: [0, 0, 200] }]));
    expect([p.width, p.height]).to.deep.equal([640, 360]);
    let red = 0, blue = 0;
    for (let k = 0; k < p.data.length; k += 4) {
      if (p.data[k] === 200 && p.data[k + 2] === 0) red++;
      if (p.data[k] === 0 && p.data[k + 2] === 200) blue++;
    }
    expect(red).to.be.greaterThan(500);
    expect(blue).to.be.greaterThan(500);
    lossCurvePng([{ name: 'D', values: [], color: [1, 2, 3] }]); // empty does not throw
  });
});

describe('train: files and progress', () => {
  it('atomic writes replace whole files and leave no temp files', () => {
    const d = tmp(), f = path.join(d, 'a.json');
    writeFileAtomic(f, 'one');
    writeFileAtomic(f, Buffer.from('two'));
    expect(fs.readFileSync(f, 'utf8')).to.equal('two');
    expect(fs.readdirSync(d)).to.deep.equal(['a.json']);
    expect(() => writeFileAtomic(path.join(d, 'missing', 'x'), 'x')).to.throw();
  });

  it('metrics.jsonl appends records and tolerates a torn last line', () => {
    const d = tmp(), f = path.join(d, 'metrics.jsonl');
    const j = new JsonLines(f);
    j.write({ step: 1, d: 0.5 });
    j.write({ step: 2, d: 0.25 });
    j.close();
    fs.appendFileSync(f, '{"step": 3, "d"');
    expect(readJsonLines(f)).to.deep.equal([{ step: 1, d: 0.5 }, { step: 2, d: 0.25 }]);
  });

  it('prints plain progress lines without a TTY', () => {
    const lines: string[] = [];
    const p = new EpochProgress(2, 5, 10, { tty: false, every: 4, out: (s) => lines.push(s) });
    for (let s = 1; s <= 10; s++) p.update(s, { d: 0.5, g: 1.25, imgPerSec: 12.5 });
    p.stop();
    expect(lines).to.deep.equal([
      'epoch 2/5 step 4/10  D 0.5000  G 1.2500  12.5 img/s\n',
      'epoch 2/5 step 8/10  D 0.5000  G 1.2500  12.5 img/s\n',
      'epoch 2/5 step 10/10  D 0.5000  G 1.2500  12.5 img/s\n',
    ]);
  });
});
