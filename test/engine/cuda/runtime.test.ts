// The CUDA runtime: host ↔ device copies, default device, device mixing, the caching allocator (skipped, saying why,
// without a GPU); and the argument checks of the CUDA bindings, which run on every build. The per-op GPU-vs-CPU
// parity cases live in each op's own file (test/engine/ops/*.test.ts, through ../devices.ts); the full-size conv
// rows in conv_full.test.ts, the fused Sequential in sequential.test.ts, whole training iterations in
// test/train/gpu_iterations.test.ts.
import { expect } from 'chai';
import * as E from '../../../lib/engine';
import { Tensor, Device } from '../../../lib/engine';
import * as C from '../../../lib/engine/cuda';
import { native } from '../../../lib/engine/native';
import { randArray, maxAbs } from '../../helpers';
import { info, cudaSuite, both } from '../devices';

const GPU: Device = 'cuda:0';

describe('cuda: runtime', function () {
  cudaSuite(this, 'cuda runtime tests');
  it('copies host ↔ device ↔ device exactly; clone, reshape and copyFrom keep devices', () => {
    const a = randArray(1001, 1);
    const g = Tensor.fromArray(a, [7, 11, 13], GPU);
    expect(g.device).to.equal(GPU);
    expect(g.toFloat32Array()).to.deep.equal(a);
    const g2 = g.clone();
    expect(g2.sharesStorageWith(g)).to.equal(false);
    expect(g2.toFloat32Array()).to.deep.equal(a);
    expect(g.reshape([1001]).toFloat32Array()).to.deep.equal(a);
    const c = g.to('cpu');
    expect(c.device).to.equal('cpu');
    expect(c.toFloat32Array()).to.deep.equal(a);
    const z = Tensor.zeros([7, 11, 13], GPU);
    expect(maxAbs(z.toFloat32Array())).to.equal(0);
    z.copyFrom(c);
    expect(z.toFloat32Array()).to.deep.equal(a);
    expect(Tensor.full([3], -2.5, GPU).toArray()).to.deep.equal([-2.5, -2.5, -2.5]);
    expect(Tensor.zeros([0, 4], GPU).toArray()).to.deep.equal([]);
    for (const t of [g, g2, c, z]) t.dispose();
  });

  it('picks the GPU by default; MRIGAN_DEVICE overrides', () => {
    const saved = process.env.MRIGAN_DEVICE;
    try {
      delete process.env.MRIGAN_DEVICE;
      expect(E.defaultDevice()).to.equal('cuda:0');
      process.env.MRIGAN_DEVICE = 'cpu';
      expect(E.defaultDevice()).to.equal('cpu');
    } finally {
      if (saved === undefined) delete process.env.MRIGAN_DEVICE; else process.env.MRIGAN_DEVICE = saved;
    }
  });

  it('refuses to mix devices and names the argument', () => {
    const x = both(GPU, [2, 3], 2);
    expect(() => E.add(x.c, x.g)).to.throw(/cuda:0|cpu/);
    expect(() => Tensor.zeros([2], `cuda:${info.cudaDevices}` as Device)).to.throw(/not available/);
  });

  it('caching allocator: a repeated step does not call cudaMalloc again; peak memory is tracked', () => {
    const step = (): void => E.tidy(() => {
      const a = Tensor.zeros([64, 1000], GPU), b = Tensor.full([64, 1000], 1, GPU);
      E.add(a, b);
      E.mul(a, b);
      Tensor.zeros([3, 3], GPU);
    });
    step();
    const s1 = C.memStats(GPU);
    C.resetPeak(GPU);
    step();
    step();
    const s2 = C.memStats(GPU);
    expect(s2.mallocs, 'cudaMalloc calls in the steady state').to.equal(s1.mallocs);
    expect(s2.peak).to.be.at.least(4 * 64 * 1000 * 4);
    expect(s2.reserved).to.be.at.least(s2.inUse);
  });
});

// These run on every build, GPU or not.
describe('cuda bindings (any machine)', () => {

  it('reject bad arguments with errors that name them', () => {
    const x = Tensor.zeros([1, 3, 5, 5]), w = Tensor.zeros([2, 3, 3, 3]);
    expect(() => C.conv2dForwardAct(x, w, null, 'gelu' as C.Activation)).to.throw(/act.*'none', 'relu'/);
    expect(() => C.conv2dForwardAct(x, Tensor.zeros([2, 4, 3, 3]), null, 'relu')).to.throw(/w.*expects 4 input channels/);
    expect(() => C.conv2dForwardAct(x, w, Tensor.zeros([3]), 'relu')).to.throw(/argument 3 \(b\)/);
    expect(() => C.conv2dForwardAct(x, w, null, 'relu', { stride: 0 })).to.throw(/stride/);
    expect(() => C.conv2dForwardAct(x, Tensor.zeros([2, 3, 9, 9]), null, 'relu')).to.throw(/larger than the padded input/);
    expect(() => C.convTranspose2dForwardAct(x, Tensor.zeros([3, 2, 3, 3]), null, 'none', { stride: 2, outputPadding: 2 })).to.throw(/outputPadding/);
    expect(() => native().cudaSetConvAlgo(3, 0)).to.throw(/pass/);
    expect(() => native().cudaSetConvAlgo(0, 1.5)).to.throw(/algo/);
    expect(() => C.memStats('cpu')).to.throw(/GPU/);
    if (info.cuda) {
      expect(() => C.setConvAlgo(0, 99)).to.throw(/out of range/);
      expect(C.convAlgos()).to.include.members(['direct', 'simt128x128', 'tf32_128x128']);
      C.setTf32(true);
      expect(C.tf32()).to.equal(true);
      C.setTf32(false);
      expect(C.tf32()).to.equal(false);
    } else {
      expect(() => C.setTf32(true)).to.throw(/no CUDA support/);
      expect(C.convAlgos()).to.deep.equal([]);
    }
    C.synchronize('cpu');  // a no-op
  });
});
