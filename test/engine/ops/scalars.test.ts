// Device scalars (native/core/ops.def "_to" ops and gather_scalars): results stay in 1-element tensors on the input's
// device so a training step reads all its scalars with one copy.
// References: float64 loops written here. Each op accumulates in float64 and rounds once to float32, so against a
// float64 reference the result is within one float32 rounding: |got − ref| <= 2^-24·|ref| (+ 1e-12·|ref| for the
// difference in float64 summation order). Against the number-returning op of the same device (same summation order)
// the result must be exactly Math.fround of that number.
// GPU section (skipped without a GPU, runs on the emulator build too): the same checks on 'cuda:0', and GPU vs CPU.
import { expect } from 'chai';
import {
  Device, Tensor, bceWithLogits, bceWithLogitsTo, engineInfo, gatherScalars, gpNormV, gpNormVTo, meanTo, sum, sumTo,
} from '../../../lib/engine';
import { nativeUnchecked } from '../../../lib/engine/native';
import { expectClose, randArray } from '../../helpers';
import { forDevices } from '../devices';

const ULP = 2 ** -24;
const within1Rounding = (got: number, ref: number, what: string): void => {
  expect(Math.abs(got - ref), `${what}: got ${got}, want ${ref}`).to.be.at.most((ULP + 1e-12) * Math.abs(ref) + 1e-300);
};

const sum64 = (a: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s;
};
const bce64 = (x: ArrayLike<number>, t: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += Math.max(x[i], 0) - x[i] * t[i] + Math.log1p(Math.exp(-Math.abs(x[i])));
  return s / x.length;
};
// GP = λ mean_i (‖g_i‖ − 1)² over the rows of g [n, d]
const gp64 = (g: ArrayLike<number>, n: number, d: number, lambda: number): number => {
  let s = 0;
  for (let i = 0; i < n; i++) {
    let q = 0;
    for (let j = 0; j < d; j++) q += g[i * d + j] * g[i * d + j];
    s += (Math.sqrt(q) - 1) ** 2;
  }
  return (lambda * s) / n;
};

// sizes: one element, odd, several CPU chunks / GPU blocks (the GPU sum uses up to 1024 blocks of 256)
const SIZES = [[1], [7], [3, 5, 7], [300001]];

const CASES: { name: string; ops: string[]; check: (device: Device) => void }[] = [
  { name: 'sumTo / meanTo: float64 sum rounded once, a [1] tensor on the device', ops: ['sum_to', 'mean_to'], check: (device: Device) => {
    SIZES.forEach((s, k) => {
      const n = s.reduce((a, b) => a * b, 1);
      const a = randArray(n, 70 + k, -1, 3);
      const x = Tensor.fromArray(a, s, device);
      const st = sumTo(x), mt = meanTo(x);
      expect(st.shape).to.deep.equal([1]);
      expect(st.device).to.equal(device);
      expect(mt.device).to.equal(device);
      within1Rounding(st.item(), sum64(a), `sumTo ${s}`);
      within1Rounding(mt.item(), sum64(a) / n, `meanTo ${s}`);
      // same device, same float64 order as the number-returning sum: exactly its rounding
      const s64 = sum(x);
      expect(st.item()).to.equal(Math.fround(s64));
      expect(mt.item()).to.equal(Math.fround(s64 / n));
    });
  } },

  { name: 'sumTo of an empty tensor is 0; meanTo of one is an error', ops: ['sum_to', 'mean_to'], check: (device: Device) => {
    const e = Tensor.zeros([0, 3], device);
    expect(sumTo(e).item()).to.equal(0);
    expect(() => meanTo(e)).to.throw(/meanTo: x is empty/);
  } },

  { name: 'gatherScalars: the values of many 1-element tensors in one [count] tensor', ops: ['gather_scalars'], check: (device: Device) => {
    const vals = [1.5, -2.25, 3e-30, 7e30, 0, -0.1];
    // mixed 1-element shapes, and results of the other scalar ops
    const shapes = [[1], [1, 1], [], [1, 1, 1, 1], [1], [1]];
    const ts = vals.map((v, i) => Tensor.fromArray([v], shapes[i], device));
    const y = gatherScalars(ts);
    expect(y.shape).to.deep.equal([vals.length]);
    expect(y.device).to.equal(device);
    expect(y.toArray()).to.deep.equal(vals.map(Math.fround));
    // more tensors than one GPU parameter table holds (448): the groups must land at the right offsets
    const many = Array.from({ length: 1000 }, (_, i) => Tensor.fromArray([i * 0.5 - 7], [1], device));
    expect(gatherScalars(many).toArray()).to.deep.equal(Array.from({ length: 1000 }, (_, i) => i * 0.5 - 7));
    const z = gatherScalars([]);
    expect(z.shape).to.deep.equal([0]);
  } },

  { name: 'gatherScalars rejects tensors that are not one element, naming them', ops: ['gather_scalars'], check: (device: Device) => {
    const one = Tensor.fromArray([1], [1], device), two = Tensor.fromArray([1, 2], [2], device);
    expect(() => gatherScalars([one, two])).to.throw(/gatherScalars: scalars\[1\] must have one element, got shape \[2\]/);
    expect(() => gatherScalars([Tensor.zeros([0], device)])).to.throw(/scalars\[0\] must have one element/);
    expect(() => nativeUnchecked().gatherScalars([one.h, 3])).to.throw(/scalars.*\[1\] must be a Tensor/);
    expect(() => nativeUnchecked().gatherScalars(one.h)).to.throw(/scalars.*array of Tensors/);
  } },

  { name: 'bceWithLogitsTo: the loss of bceWithLogits as a [1] tensor, the same gradient', ops: ['bce_with_logits_to'], check: (device: Device) => {
    [[1], [8, 1], [64, 1], [20001]].forEach((s, k) => {
      const n = s.reduce((a, b) => a * b, 1);
      const xa = randArray(n, 300 + k, -8, 8);
      const ta = Float32Array.from(randArray(n, 330 + k, 0, 1), (u, i) => (i % 2 ? 1 - 0.05 * u : 0.05 * u));
      const x = Tensor.fromArray(xa, s, device), t = Tensor.fromArray(ta, s, device);
      const r = bceWithLogitsTo(x, t), ref = bceWithLogits(x, t);
      expect(r.loss.shape).to.deep.equal([1]);
      expect(r.loss.device).to.equal(device);
      expect(r.loss.item()).to.equal(Math.fround(ref.loss));
      within1Rounding(r.loss.item(), bce64(xa, ta), `bce ${s}`);
      expect(r.grad.toArray()).to.deep.equal(ref.grad.toArray());
    });
    const x = Tensor.zeros([0], device);
    expect(() => bceWithLogitsTo(x, x)).to.throw(/bceWithLogitsTo: logits is empty/);
    expect(() => bceWithLogitsTo(Tensor.zeros([2], device), Tensor.zeros([3], device))).to.throw(/targets/);
  } },

  { name: 'gpNormVTo: GP of gpNormV as a [1] tensor, the same v and norms', ops: ['gp_norm_v_to'], check: (device: Device) => {
    [[1, 5], [4, 3, 8, 8], [2, 70000]].forEach((s, k) => {
      const n = s[0], d = s.slice(1).reduce((a, b) => a * b, 1);
      const ga = randArray(n * d, 500 + k, -0.05, 0.05);
      const g = Tensor.fromArray(ga, s, device);
      const r = gpNormVTo(g, 5), ref = gpNormV(g, 5);
      expect(r.gp.shape).to.deep.equal([1]);
      expect(r.gp.device).to.equal(device);
      expect(r.gp.item()).to.equal(Math.fround(ref.gp));
      within1Rounding(r.gp.item(), gp64(ga, n, d, 5), `gp ${s}`);
      expect(r.v.toArray()).to.deep.equal(ref.v.toArray());
      expect(r.norms.toArray()).to.deep.equal(ref.norms.toArray());
    });
    expect(() => gpNormVTo(Tensor.zeros([2, 2], device), -1)).to.throw(/gpNormVTo: lambda must be finite and >= 0/);
    expect(() => gpNormVTo(Tensor.zeros([0], device), 1)).to.throw(/gpNormVTo: g must be a non-empty/);
  } },

  { name: 'an iteration\'s scalars read with one copy', ops: ['gather_scalars', 'bce_with_logits_to', 'mean_to', 'gp_norm_v_to', 'sum_to'], check: (device: Device) => {
    const x = Tensor.fromArray(randArray(16, 7, -3, 3), [16, 1], device);
    const t = Tensor.fromArray(randArray(16, 8, 0, 1), [16, 1], device);
    const g = Tensor.fromArray(randArray(4 * 12, 9, -1, 1), [4, 12], device);
    const parts = [bceWithLogitsTo(x, t).loss, meanTo(x), gpNormVTo(g, 10).gp, sumTo(g)];
    const all = gatherScalars(parts).toArray();
    expect(all).to.deep.equal(parts.map((p) => p.item()));
  } },
];

describe('device scalars', () => forDevices(CASES.map((c) => ({ name: c.name, ops: c.ops, cpu: () => c.check('cpu'), cuda: (dev: Device) => c.check(dev) }))));

describe('device scalars: GPU vs CPU', () => forDevices([{ name: 'GPU results equal the CPU ones within one float32 rounding',
  ops: ['sum_to', 'mean_to', 'gp_norm_v_to', 'gather_scalars'], cuda: (dev: Device) => {
    const a = randArray(100003, 11, -2, 2);
    const c = Tensor.fromArray(a, [100003]), g = c.to(dev);
    within1Rounding(sumTo(g).item(), sumTo(c).item(), 'sumTo');
    within1Rounding(meanTo(g).item(), meanTo(c).item(), 'meanTo');
    const gr = randArray(3 * 999, 12, -0.1, 0.1);
    const gc = Tensor.fromArray(gr, [3, 999]);
    within1Rounding(gpNormVTo(gc.to(dev), 5).gp.item(), gpNormVTo(gc, 5).gp.item(), 'gp');
    expectClose(gpNormVTo(gc.to(dev), 5).v.toFloat32Array(), gpNormVTo(gc, 5).v.toFloat32Array(), 1e-6, 1e-12, 'v');
    // scalars on two devices cannot be gathered together
    expect(() => gatherScalars([Tensor.zeros([1]), Tensor.zeros([1], dev)])).to.throw(/scalars\[1\].*is on cuda:0/);
  } }]));
