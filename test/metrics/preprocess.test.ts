// Inception preprocessing: the half-pixel bilinear resize against a hand-computed 2→4 case and against PyTorch's
// F.interpolate(bilinear, align_corners=False, antialias=False) (the same convention as TF2 tf.image.resize
// bilinear) at 256→299 when /usr/bin/python3 has torch; the 'tf' and 'caffe' modes' per-channel arithmetic and
// the BGR order; bad shapes and modes.
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { preprocessForInception, resizeBilinear, CAFFE_BGR_MEAN, modeForWeights } from '../../lib/metrics/preprocess';
import { randArray } from '../helpers';
import { pythonHas, runPython } from './util';

describe('metrics preprocess', () => {
  it('2×2 → 4×4 half-pixel bilinear: rows/cols weights (1, ¾|¼, ¼|¾, 1)', () => {
    const src = new Float32Array([0, 4, 8, 12]), out = new Float32Array(16);
    resizeBilinear(src, 2, 2, out, 4, 4);
    const axis = (a: number, b: number): number[] => [a, 0.75 * a + 0.25 * b, 0.25 * a + 0.75 * b, b];
    const top = axis(0, 4), bot = axis(8, 12);
    const want: number[] = [];
    for (let y = 0; y < 4; y++) { const w = axis(0, 1)[y]; for (let x = 0; x < 4; x++) want.push(top[x] * (1 - w) + bot[x] * w); }
    expect(Array.from(out)).to.deep.equal(want);
  });

  it('256×256 → 299×299 equals torch F.interpolate(bilinear, align_corners=False, antialias=False)', function () {
    if (!pythonHas('torch', 'numpy')) { this.skip(); return; }
    this.timeout(60000);
    const x = randArray(2 * 256 * 256, 7, -1, 1), dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mrigan-pp-'));
    fs.writeFileSync(path.join(dir, 'x.f32'), Buffer.from(x.buffer));
    runPython(`
import sys, numpy as np, torch, torch.nn.functional as F
x = torch.from_numpy(np.fromfile(sys.argv[1] + '/x.f32', dtype=np.float32).reshape(2, 1, 256, 256).astype(np.float64))
y = F.interpolate((x + 1) * 127.5, size=(299, 299), mode='bilinear', align_corners=False, antialias=False)
y.numpy().astype(np.float64).tofile(sys.argv[1] + '/y.f64')
`, [dir]);
    const want = new Float64Array(fs.readFileSync(path.join(dir, 'y.f64')).buffer.slice(0));
    const r = preprocessForInception(x, [2, 1, 256, 256], { mode: 'tf' });
    expect(r.shape).to.deep.equal([2, 3, 299, 299]);
    let worst = 0;
    for (let n = 0; n < 2; n++) for (let c = 0; c < 3; c++) for (let p = 0; p < 299 * 299; p++) {
      const got = (r.data[(n * 3 + c) * 299 * 299 + p] + 1) * 127.5; // undo 'tf' scaling
      worst = Math.max(worst, Math.abs(got - want[n * 299 * 299 + p]));
    }
    expect(worst).to.be.below(1e-3); // float32 arithmetic on values up to 255
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("'tf' mode: x/127.5 − 1 of [0,255]; 'caffe' mode: BGR minus the ImageNet means, ÷255", () => {
    // constant gray image v ∈ [-1, 1] → 255·(v+1)/2 in every channel
    const v = 0.2, g = new Float32Array(8 * 8).fill(v), px = 127.5 * (v + 1);
    const tf = preprocessForInception(g, [1, 1, 8, 8], { mode: 'tf', size: 5 });
    for (const y of tf.data) expect(y).to.be.closeTo(px / 127.5 - 1, 1e-6);
    expect(tf.description).to.match(/'tf' mode/);
    const cf = preprocessForInception(g, [1, 1, 8, 8], { mode: 'caffe', size: 5 });
    for (let c = 0; c < 3; c++) for (let p = 0; p < 25; p++) expect(cf.data[c * 25 + p]).to.be.closeTo((px - CAFFE_BGR_MEAN[c]) / 255, 1e-6);
    // RGB input [0,255] with distinct channels: caffe output channel 0 is B (input channel 2)
    const rgb = new Float32Array(3 * 4).map((_, i) => [10, 20, 30][Math.floor(i / 4)]);
    const o = preprocessForInception(rgb, [1, 3, 2, 2], { mode: 'caffe', inputRange: '[0,255]', size: 2 });
    expect(o.data[0]).to.be.closeTo((30 - 103.939) / 255, 1e-6);
    expect(o.data[4]).to.be.closeTo((20 - 116.779) / 255, 1e-6);
    expect(o.data[8]).to.be.closeTo((10 - 123.68) / 255, 1e-6);
    const t = preprocessForInception(rgb, [1, 3, 2, 2], { mode: 'tf', inputRange: '[0,255]', size: 2 });
    expect([t.data[0], t.data[4], t.data[8]].map((y) => (y + 1) * 127.5)).to.satisfy((a: number[]) => a.every((y, i) => Math.abs(y - [10, 20, 30][i]) < 1e-4));
    expect(modeForWeights('imagenet')).to.equal('tf');
    expect(modeForWeights('radimagenet')).to.equal('caffe');
  });

  it('bad shapes and modes are errors', () => {
    expect(() => preprocessForInception(new Float32Array(4), [1, 2, 2], { mode: 'tf' })).to.throw(/NCHW/);
    expect(() => preprocessForInception(new Float32Array(8), [1, 2, 2, 2], { mode: 'tf' })).to.throw(/1 \(gray\) or 3/);
    expect(() => preprocessForInception(new Float32Array(3), [1, 1, 2, 2], { mode: 'tf' })).to.throw(/3 values/);
    expect(() => preprocessForInception(new Float32Array(4), [1, 1, 2, 2], { mode: 'torch' as 'tf' })).to.throw(/unknown mode 'torch'/);
  });
});
