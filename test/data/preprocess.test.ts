// Scaling and fitting against float64 references and closed forms.
import { expect } from 'chai';
import { percentiles, volumeScaling, applyScaling, resizeBilinear, fitSlice, fittedSize } from '../../lib/data/preprocess';
import { rng, expectClose } from '../helpers';

/** numpy.percentile (linear) on a sorted float64 copy. */
function refPercentile(values: ArrayLike<number>, p: number): number {
  const s = Float64Array.from(values).sort();
  const pos = (p / 100) * (s.length - 1);
  const f = Math.floor(pos);
  return f + 1 < s.length ? s[f] + (pos - f) * (s[f + 1] - s[f]) : s[f];
}

describe('data/preprocess', () => {
  it('percentiles match a sort-based float64 reference (continuous, heavy duplicates, tiny arrays)', () => {
    const r = rng(5);
    const sets: Float32Array[] = [
      Float32Array.from({ length: 10007 }, () => r() * 1000 - 300),
      Float32Array.from({ length: 5000 }, () => Math.floor(r() * 7)), // integers with many ties
      Float32Array.from({ length: 3000 }, () => (r() < 0.9 ? 42 : r())),
      Float32Array.from([3]),
      Float32Array.from([2, 1]),
    ];
    for (const s of sets) {
      for (const p of [0, 0.5, 1, 25, 50, 73.3, 99, 99.5, 100]) {
        const got = percentiles(Float32Array.from(s), [p])[0];
        const want = refPercentile(s, p);
        expect(got, `p${p} of ${s.length}`).to.be.closeTo(want, 1e-4 * Math.max(1, Math.abs(want)));
      }
    }
  });

  it('volume scaling: background exactly -1, [lo, hi] → [-1, 1], clamped outside', () => {
    const r = rng(9);
    const v = new Float32Array(20000);
    for (let i = 0; i < v.length; i++) v[i] = i % 3 === 0 ? 0 : 100 + 900 * r();
    const fg = v.filter((x) => x > 0);
    const sc = volumeScaling(v, 0.5, 99.5);
    expect(sc.background).to.equal(0);
    expect(sc.foreground).to.equal(fg.length);
    expect(sc.lo).to.be.closeTo(refPercentile(fg, 0.5), 1e-3);
    expect(sc.hi).to.be.closeTo(refPercentile(fg, 99.5), 1e-3);
    const out = applyScaling(Float32Array.from(v), sc);
    const want = Array.from(v, (x) => (x <= 0 ? -1 : Math.min(1, Math.max(-1, (2 * (x - sc.lo)) / (sc.hi - sc.lo) - 1))));
    expectClose(out, want, 0, 2e-6, 'scaled');
    for (let i = 0; i < v.length; i++) if (v[i] === 0) expect(out[i]).to.equal(-1);
    expect(Math.min(...out)).to.equal(-1);
    expect(Math.max(...out)).to.equal(1);
    // a constant foreground (a mask) becomes +1
    const m = applyScaling(Float32Array.from([0, 5, 5, 0]), volumeScaling(Float32Array.from([0, 5, 5, 0])));
    expect(Array.from(m)).to.deep.equal([-1, 1, 1, -1]);
  });

  it('integer volumes (histogram path) give the same percentiles as the float64 reference', () => {
    const r = rng(12);
    for (const [lo, hi] of [[0, 255], [-1000, 3000], [5, 6]]) {
      const v = Float32Array.from({ length: 30011 }, (_, i) => (i % 4 === 0 ? lo : lo + Math.floor(r() * r() * (hi - lo + 1))));
      const fg = v.filter((x) => x > lo);
      for (const [a, b] of [[0.5, 99.5], [0, 100], [10, 90], [50, 50.5]]) {
        const sc = volumeScaling(v, a, b);
        expect(sc.background).to.equal(lo);
        expect(sc.foreground).to.equal(fg.length);
        expect(sc.lo, `p${a} in [${lo}, ${hi}]`).to.be.closeTo(refPercentile(fg, a), 1e-9);
        expect(sc.hi, `p${b} in [${lo}, ${hi}]`).to.be.closeTo(refPercentile(fg, b), 1e-9);
      }
    }
    expect(volumeScaling(new Float32Array(10).fill(3))).to.deep.equal({ background: 3, lo: 3, hi: 3, foreground: 0 });
  });

  it('bilinear resize: identity, exact 2× averaging, linear ramps stay linear, constants stay constant', () => {
    const r = rng(3);
    const img = Float32Array.from({ length: 6 * 8 }, () => r());
    expect(Array.from(resizeBilinear(img, 6, 8, 6, 8))).to.deep.equal(Array.from(img));
    const half = resizeBilinear(img, 6, 8, 3, 4);
    const want: number[] = [];
    for (let y = 0; y < 3; y++) for (let x = 0; x < 4; x++) want.push((img[2 * y * 8 + 2 * x] + img[2 * y * 8 + 2 * x + 1] + img[(2 * y + 1) * 8 + 2 * x] + img[(2 * y + 1) * 8 + 2 * x + 1]) / 4);
    expectClose(half, want, 1e-6, 1e-7, 'half');
    // upscale a ramp 10 px → 25 px: interior samples lie on the line through the source pixel centres
    const ramp = Float32Array.from({ length: 10 }, (_, i) => 3 * i - 4);
    const up = resizeBilinear(ramp, 1, 10, 1, 25);
    for (let c = 0; c < 25; c++) {
      const t = Math.min(Math.max((c + 0.5) * (10 / 25) - 0.5, 0), 9);
      expect(up[c]).to.be.closeTo(3 * t - 4, 1e-5);
    }
    const k = resizeBilinear(new Float32Array(35).fill(-0.25), 5, 7, 13, 4);
    for (const x of k) expect(x).to.equal(-0.25);
  });

  it('fitting: 240 → 256 is an 8-pixel centred pad with -1; larger slices shrink with aspect kept; resize mode', () => {
    const img = Float32Array.from({ length: 240 * 240 }, (_, i) => (i % 97) / 97);
    const out = fitSlice(img, 240, 240, 256, 'pad');
    for (let r = 0; r < 256; r++) for (let c = 0; c < 256; c++) {
      const inside = r >= 8 && r < 248 && c >= 8 && c < 248;
      const want = inside ? img[(r - 8) * 240 + (c - 8)] : -1;
      if (out[r * 256 + c] !== want) expect.fail(`(${r},${c}) got ${out[r * 256 + c]} want ${want}`);
    }
    expect(fittedSize(370, 301, 256, 'pad')).to.deep.equal([256, 208]);
    expect(fittedSize(185, 151, 256, 'pad')).to.deep.equal([185, 151]);
    expect(fittedSize(185, 151, 256, 'resize')).to.deep.equal([256, 209]);
    // odd padding: 5 rows in 8 → offset floor(3/2) = 1
    const small = fitSlice(new Float32Array(5 * 6).fill(0.5), 5, 6, 8, 'pad');
    for (let r = 0; r < 8; r++) for (let c = 0; c < 8; c++) expect(small[r * 8 + c]).to.equal(r >= 1 && r < 6 && c >= 1 && c < 7 ? 0.5 : -1);
    // shrink: a 512×256 constant becomes a 256×128 block centred in 256×256
    const big = fitSlice(new Float32Array(512 * 256).fill(0.25), 512, 256, 256, 'pad');
    let n = 0;
    for (const x of big) if (x === 0.25) n++;
    expect(n).to.equal(256 * 128);
    expect(big[0 * 256 + 64]).to.equal(0.25);
    expect(big[0 * 256 + 63]).to.equal(-1);
  });
});
