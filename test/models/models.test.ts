// The two pinned architectures (docs/design.md §4): parameter counts at 256 as pinned in docs/design.md, every parameter name,
// shape and per-layer output shape vs the PyTorch builds in bench/reference/models.py (its output is stored in
// bench/reference/models.json, regenerate with `python3 bench/reference/models.py --json`), and forward + backward
// of every network on a batch of 2 at 256×256 (~8 s for the five on 2 cores; 64 and 128 too with MRIGAN_SLOW=1).
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { Tensor, Rng } from '../../lib/engine';
import { buildModel, inputShape, Arch, Role, ImageSize } from '../../lib/models';
import { Sequential } from '../../lib/nn';
import { randArray } from '../helpers';

interface RefModel { arch: Arch; role: Role; size: ImageSize; params: number; names: Record<string, number[]>; shapes: number[][] }
const refs: RefModel[] = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'bench', 'reference', 'models.json'), 'utf8'));

const NETS: [Arch, Role][] = [['dcgan', 'generator'], ['dcgan', 'discriminator'], ['dcgan', 'critic'], ['cepa2024', 'generator'], ['cepa2024', 'discriminator']];

describe('models', () => {
  it('parameter counts at 256×256, C = 1, as pinned in docs/design.md §4 (critic: no BN, biases on)', () => {
    const count = (a: Arch, r: Role): number => {
      const m = buildModel(a, r, { init: false });
      const n = m.numParams();
      m.dispose();
      return n;
    };
    expect(count('dcgan', 'generator')).to.equal(12_816_832);
    expect(count('dcgan', 'discriminator')).to.equal(11_194_785);
    expect(count('dcgan', 'critic')).to.equal(11_192_801);
    expect(count('cepa2024', 'generator')).to.equal(13_323_693);
    expect(count('cepa2024', 'discriminator')).to.equal(23_588_449);
  });

  it('names, shapes and layer output shapes match the PyTorch builds at 64, 128 and 256', () => {
    expect(refs.length).to.equal(15);
    for (const r of refs) {
      const what = `${r.arch} ${r.role} ${r.size}`;
      const m = buildModel(r.arch, r.role, { size: r.size, init: false });
      expect(m.numParams(), what).to.equal(r.params);
      const names: Record<string, number[]> = {};
      for (const [k, t] of m.stateDict()) names[k] = t.shape;
      expect(names, what).to.deep.equal(r.names);
      expect(m.summaryRows(inputShape(r.arch, r.role, 2, { size: r.size })).map((x) => x.output), what).to.deep.equal(r.shapes);
      m.dispose();
    }
  });

  it('options: channels, latent, width, dropout reach the layers; bad options are refused', () => {
    const g = buildModel('cepa2024', 'generator', { size: 64, channels: 3, latent: 64, width: 16, dropout: 0.5, init: false });
    expect(g.outputShape([2, 64])).to.deep.equal([2, 3, 64, 64]);
    expect(g.params()[0].value.shape).to.deep.equal([512 * 16, 64]);
    expect(g.summary([2, 64])).to.match(/Dropout\(0\.5\)/);
    const d = buildModel('dcgan', 'discriminator', { size: 128, channels: 3, width: 64, init: false });
    expect(d.params()[0].value.shape, "width 64 = channels at 128×128, so 128 at 64×64").to.deep.equal([128, 3, 4, 4]);
    expect(() => buildModel('dcgan', 'generator', { size: 100 as ImageSize })).to.throw(/size must be 64, 128 or 256/);
    expect(() => buildModel('dcgan', 'generator', { width: 2.5 })).to.throw(/width must be a positive integer, got 2.5/);
    expect(() => buildModel('cepa2024', 'discriminator', { channels: 0 })).to.throw(/channels must be a positive integer/);
    expect(() => buildModel('nope' as Arch, 'generator')).to.throw(/unknown architecture 'nope'/);
    g.dispose();
    d.dispose();
  });

  const sizes: ImageSize[] = process.env.MRIGAN_SLOW ? [256, 128, 64] : [256];
  for (const size of sizes) for (const [arch, role] of NETS) {
    it(`${arch} ${role} at ${size}×${size}: forward + backward on a batch of 2 reach every parameter`, function () {
      this.timeout(600_000);
      const m: Sequential = buildModel(arch, role, { size, seed: 1, dropout: 0.2 });
      const xs = inputShape(arch, role, 2, { size });
      const n = xs.reduce((a, b) => a * b, 1);
      const x = Tensor.fromArray(role === 'generator' ? new Rng(3, 0).normal(xs).toFloat32Array() : randArray(n, 4), xs);
      const y = m.forward(x);
      const want = role === 'generator' ? [2, 1, size, size] : [2, 1];
      expect(y.shape).to.deep.equal(want);
      const yv = y.toFloat32Array();
      expect(yv.every(Number.isFinite)).to.equal(true);
      if (role === 'generator') expect(yv.every((v) => v >= -1 && v <= 1)).to.equal(true);
      const dy = Tensor.fromArray(randArray(yv.length, 5), y.shape);
      const dx = m.backward(dy);
      expect(dx.shape).to.deep.equal(xs);
      expect(dx.toFloat32Array().every(Number.isFinite)).to.equal(true);
      // A bias right before a training-mode BatchNorm has a zero gradient in exact arithmetic (BN removes the
      // channel mean), so only finiteness is asserted for those.
      const beforeBN = new Set(m.layers.flatMap((l, i) => (m.layers[i + 1]?.kind.startsWith('BatchNorm') ? [`${i}.bias`] : [])));
      for (const p of m.params()) {
        const g = p.grad.toFloat32Array();
        expect(g.every(Number.isFinite), p.name).to.equal(true);
        if (!beforeBN.has(p.name)) expect(g.some((v) => v !== 0), `${p.name} got a gradient`).to.equal(true);
      }
      for (const t of [x, y, dy, dx]) t.dispose();
      m.dispose();
    });
  }
});
