// evalQuality (the function the trainer calls every --eval-every epochs), its metrics.jsonl record and curve PNG.
import { expect } from 'chai';
import { PNG } from 'pngjs';
import { evalQuality, qualityRecord, qualityCurvePng, pick, realSubset } from '../../lib/metrics/quality';
import { msssimDiversity } from '../../lib/metrics/msssim';
import { HostRng } from '../../lib/metrics/random';
import { ImageBatch } from '../../lib/train/image';

function set(n: number, S: number, seed: number): ImageBatch {
  const r = new HostRng(seed), data = new Float32Array(n * S * S);
  for (let i = 0; i < n; i++) {
    const f = 0.1 + 0.4 * r.next(), ph = 6 * r.next();
    for (let k = 0; k < S * S; k++) data[i * S * S + k] = 0.8 * Math.sin(f * (k % S) + 0.2 * Math.floor(k / S) + ph);
  }
  return { data, n, c: 1, h: S, w: S };
}

describe('metrics/quality', function () {
  this.timeout(120000);
  const real = set(20, 32, 1), fake = set(12, 32, 2);

  it('uses min(real, fake, maxImages) images per set for SWD and reports the real set\'s MS-SSIM (or the one given)', () => {
    const q = evalQuality(real, fake, { maxImages: 10, pairs: 15, seed: 3 });
    expect(q.n).to.equal(10);
    expect(q.swd.resolutions).to.deep.equal([32, 16]);
    expect(q.msssim).to.be.closeTo(msssimDiversity(fake, { pairs: 15, seed: 4 }), 1e-12);
    expect(q.msssimReal).to.be.closeTo(msssimDiversity(real, { pairs: 15, seed: 5 }), 1e-12);
    expect(evalQuality(real, fake, { maxImages: 10, pairs: 15, seed: 3, msssimReal: 0.123 }).msssimReal).to.equal(0.123);
    expect(() => evalQuality(real, set(4, 16, 1))).to.throw(/real images are 1×32×32 but generated ones 1×16×16/);
    const sub = realSubset({ count: real.n, shape: [real.n, 1, 32, 32], batch: (idx) => pick(real, idx).data }, 5, 7);
    expect([sub.n, sub.c, sub.h, sub.w]).to.deep.equal([5, 1, 32, 32]);
    expect(realSubset({ count: real.n, shape: [real.n, 1, 32, 32], batch: (idx) => pick(real, idx).data }, 5, 7).data).to.deep.equal(sub.data);
    expect(pick(real, [3, 1]).data.subarray(0, 32 * 32)).to.deep.equal(real.data.subarray(3 * 1024, 4 * 1024));
  });

  it('the record and the curve: fields for metrics.jsonl, a 640×600 PNG with the SWD line drawn in red', () => {
    const q = evalQuality(real, fake, { maxImages: 8, pairs: 5 });
    const rec = qualityRecord(q, 3, 45, 1.5);
    expect(rec).to.include({ type: 'eval', epoch: 3, step: 45, swd: q.swd.mean, msssim: q.msssim, msssim_real: q.msssimReal, n: 8, seconds: 1.5 });
    const recs = [0, 1, 2].map((k) => ({ swd: 100 - 10 * k, swd_levels: [120 - 10 * k, 80 - 10 * k], msssim: 0.8 - 0.1 * k, msssim_real: 0.5 }));
    const png = PNG.sync.read(qualityCurvePng(recs));
    expect([png.width, png.height]).to.deep.equal([640, 600]);
    let red = 0, blue = 0;
    for (let i = 0; i < png.data.length; i += 4) {
      if (png.data[i] === 200 && png.data[i + 1] === 30 && png.data[i + 2] === 30) red += i < 640 * 300 * 4 ? 1 : -1000;
      if (png.data[i] === 30 && png.data[i + 1] === 60 && png.data[i + 2] === 200) blue += i >= 640 * 300 * 4 ? 1 : -1000;
    }
    expect(red, 'SWD line in the top panel only').to.be.above(50);
    expect(blue, 'MS-SSIM line in the bottom panel only').to.be.above(50);
  });
});
