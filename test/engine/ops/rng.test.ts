// Philox4x32-10 and the uniform/normal draws addressed by (seed, stream, offset) (native/core/philox.h).
// Known answers: the three "philox4x32 10" lines of Random123's kat_vectors (counter[4] key[2] → output[4]):
//   philox4x32 10 00000000 00000000 00000000 00000000 00000000 00000000   6627e8d5 e169c58d bc57ac4c 9b00dbd8
//   philox4x32 10 ffffffff ffffffff ffffffff ffffffff ffffffff ffffffff   408f276d 41c83b0e a20bc7c6 6d5451fd
//   philox4x32 10 243f6a88 85a308d3 13198a2e 03707344 a4093822 299f31d0   d16cfe09 94fdcceb 5001e420 24126ea1
// Tolerances: uniform draws are exact (top 24 bits · 2^-24); normal draws against a float64 Box-Muller in TS:
// |err| <= 1e-6·max(1, |z|) (V8's log/sin/cos may differ from glibc by an ulp of float64 before rounding to float32).
// Offsets are exact: a draw at offset k equals the draw at offset 0 shifted by 4k elements.
// Statistics on 1e5 draws: mean and variance within 5 standard errors of the exact moments.
import { expect } from 'chai';
import { Rng, randUniform, randNormal, philox4x32, philoxBlocks } from '../../../lib/engine';
import { nativeUnchecked as native } from '../../../lib/engine/native';  // misuse tests call the addon with wrong arguments
import { philoxWords, philoxNormals, u01 } from '../../helpers/philox-ref';
import { expectClose } from '../../helpers';
import * as E from '../../../lib/engine';
import { opCase } from '../devices';

const hex = (ws: number[]): string[] => ws.map((w) => w.toString(16).padStart(8, '0'));

describe('philox4x32-10', () => {
  it('matches the Random123 known-answer vectors', () => {
    expect(hex(philox4x32([0, 0, 0, 0], [0, 0]))).to.deep.equal(['6627e8d5', 'e169c58d', 'bc57ac4c', '9b00dbd8']);
    const F = 0xffffffff;
    expect(hex(philox4x32([F, F, F, F], [F, F]))).to.deep.equal(['408f276d', '41c83b0e', 'a20bc7c6', '6d5451fd']);
    expect(hex(philox4x32([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0])))
      .to.deep.equal(['d16cfe09', '94fdcceb', '5001e420', '24126ea1']);
  });

  it('rejects malformed counters and keys', () => {
    const p = native().philox4x32;
    expect(() => p([0, 0, 0], [0, 0])).to.throw(/counter.*4 entries/);
    expect(() => p([0, 0, 0, 0], [0])).to.throw(/key.*2 entries/);
    expect(() => p([0, 0, 0, 2 ** 32], [0, 0])).to.throw(/counter.*uint32/);
    expect(() => p([0, 0, 0, -1], [0, 0])).to.throw(/counter.*uint32/);
    expect(() => p([0, 0, 0, 0.5], [0, 0])).to.throw(/counter.*integers/);
    expect(() => p('abcd', [0, 0])).to.throw(/counter.*array/);
    expect(() => p([0, 0, 0, 0])).to.throw(/philox4x32: expected 2 arguments/);
  });
});

describe('random draws', () => {
  const cases: { n: number; seed: number | bigint; stream: number; offset: number | bigint }[] = [
    { n: 1, seed: 0, stream: 0, offset: 0 },
    { n: 7, seed: 12345, stream: 1, offset: 3 },
    { n: 1001, seed: 0xdeadbeefcafen, stream: 0xffffffff, offset: 2 ** 32 - 2 },  // counter carries into word 1
    { n: 40002, seed: 2n ** 64n - 1n, stream: 5, offset: 2n ** 52n },
  ];

  opCase({ ops: ['rand_uniform'], name: 'uniform draws are exactly (word >> 8)·2^-24 of the addressed Philox lanes', cpu: () => {
    for (const c of cases) {
      const got = randUniform([c.n], { seed: c.seed, stream: c.stream, offset: Number(c.offset) }).toFloat32Array();
      const w = philoxWords(c.n, c.seed, c.stream, c.offset);
      for (let i = 0; i < c.n; i++) if (got[i] !== u01(w[i])) expect.fail(`n=${c.n} [${i}]: ${got[i]} vs ${u01(w[i])}`);
    }
  } });

  opCase({ ops: ['rand_normal'], name: 'normal draws are the Box-Muller of the addressed Philox lanes', cpu: () => {
    for (const c of cases) {
      const got = randNormal([c.n], { seed: c.seed, stream: c.stream, offset: Number(c.offset) }).toFloat32Array();
      const want = philoxNormals(c.n, c.seed, c.stream, c.offset);
      for (let i = 0; i < c.n; i++) {
        if (!(Math.abs(got[i] - want[i]) <= 1e-6 * Math.max(1, Math.abs(want[i])))) expect.fail(`n=${c.n} [${i}]: ${got[i]} vs ${want[i]}`);
      }
    }
  } });

  opCase({ ops: ['rand_uniform', 'rand_normal'], name: 'a draw at offset k is the draw at offset 0 shifted by 4k elements; draws are reproducible', cpu: () => {
    const n = 1003;
    for (const draw of [randUniform, randNormal]) {
      const base = draw([n], { seed: 77, stream: 2, offset: 0 }).toArray();
      for (const k of [1, 5, 100]) {
        const shifted = draw([n - 4 * k], { seed: 77, stream: 2, offset: k }).toArray();
        expect(shifted).to.deep.equal(base.slice(4 * k));
      }
      expect(draw([n], { seed: 77, stream: 2, offset: 0 }).toArray()).to.deep.equal(base);
      expect(draw([n], { seed: 77n, stream: 2, offset: 0 }).toArray()).to.deep.equal(base);
      expect(draw([n], { seed: 78, stream: 2, offset: 0 }).toArray()).to.not.deep.equal(base);
      expect(draw([n], { seed: 77, stream: 3, offset: 0 }).toArray()).to.not.deep.equal(base);
      // shape does not change the values, only their arrangement
      expect(draw([17, 59], { seed: 77, stream: 2, offset: 0 }).toArray()).to.deep.equal(base.slice(0, 17 * 59));
    }
  } });

  it('Rng.take advances by ceil(n/4) blocks so successive draws never overlap', () => {
    const r = new Rng(9, 4);
    const a = r.uniform([6]).toArray(), b = r.uniform([5]).toArray();
    expect(r.offset).to.equal(philoxBlocks(6) + philoxBlocks(5));
    const all = randUniform([16], { seed: 9, stream: 4, offset: 0 }).toArray();
    expect(a).to.deep.equal(all.slice(0, 6));
    expect(b).to.deep.equal(all.slice(8, 13));  // 6 elements used 2 blocks = 8 lanes
  });

  opCase({ ops: ['rand_uniform', 'rand_normal'], name: 'uniform and normal moments are within 5 standard errors on 1e5 draws', cpu: () => {
    const n = 100000;
    const u = randUniform([n], { seed: 2024, stream: 0, offset: 0 }).toFloat32Array();
    let s = 0, q = 0, lo = Infinity, hi = -Infinity;
    for (const v of u) { s += v; q += v * v; lo = Math.min(lo, v); hi = Math.max(hi, v); }
    const um = s / n, uv = q / n - um * um;
    expect(lo).to.be.at.least(0);
    expect(hi).to.be.below(1);
    expect(Math.abs(um - 0.5)).to.be.below(5 * Math.sqrt(1 / 12 / n));
    expect(Math.abs(uv - 1 / 12)).to.be.below(5 * Math.sqrt((1 / 80 - 1 / 144) / n));

    const z = randNormal([n], { seed: 2024, stream: 1, offset: 0 }).toFloat32Array();
    let zs = 0, zq = 0, z4 = 0, within1 = 0;
    for (const v of z) { zs += v; zq += v * v; z4 += v ** 4; if (Math.abs(v) < 1) within1++; }
    const zm = zs / n, zv = zq / n - zm * zm;
    expect(z.every(Number.isFinite)).to.equal(true);
    expect(Math.abs(zm)).to.be.below(5 / Math.sqrt(n));
    expect(Math.abs(zv - 1)).to.be.below(5 * Math.sqrt(2 / n));
    expect(Math.abs(z4 / n - 3)).to.be.below(5 * Math.sqrt(96 / n));      // Var(z⁴) = 105 − 9 = 96
    const p1 = 0.6826894921370859;                                          // P(|z| < 1)
    expect(Math.abs(within1 / n - p1)).to.be.below(5 * Math.sqrt(p1 * (1 - p1) / n));
  } });

  it('rejects bad arguments with errors that name them', () => {
    const r = { seed: 1, stream: 0, offset: 0 };
    expect(() => randUniform([2, -1], r)).to.throw(/shape.*negative/);
    expect(() => randUniform([2, 0.5], r)).to.throw(/shape.*integers/);
    expect(() => randNormal([3], { ...r, seed: -5 })).to.throw(/seed/);
    expect(() => randNormal([3], { ...r, stream: 1.5 })).to.throw(/stream/);
    expect(() => randNormal([3], { ...r, offset: NaN })).to.throw(/offset/);
    expect(() => randUniform([3], r, 'cuda:7')).to.throw(/not available/);
    expect(() => randUniform([3], r, 'tpu' as 'cpu')).to.throw(/'cpu', 'cuda' or 'cuda:N'/);
    expect(() => native().randUniform([3], 1, 0)).to.throw(/randUniform: expected 4 arguments/);
    expect(randUniform([0, 3], r).shape).to.deep.equal([0, 3]);
  });
});

// ---------------------------------------------------------------- CUDA: parity with the CPU twin (rules: ../devices.ts)
describe('random draws (CUDA vs the CPU twin)', () => {
  opCase({ ops: ['rand_uniform', 'rand_normal'], name: 'uniform and normal draws agree bit for bit (normal: within 1 ulp)', cuda: (dev) => {
    for (const n of [1, 5, 1000, 4099]) {
      const st = { seed: 2n ** 40n + 7n, stream: 301, offset: 3 };
      expect(E.randUniform([n], st, dev).toFloat32Array()).to.deep.equal(E.randUniform([n], st).toFloat32Array());
      const g = E.randNormal([n], st, dev).toFloat32Array(), c = E.randNormal([n], st).toFloat32Array();
      expectClose(g, c, 2 ** -23, 0, 'normal');
    }
  } });
});
