// Op test cases as tables over devices. An entry names the registry ops it covers (native/core/ops.def C names) and
// how to check them: `cpu` against an independent float64 reference (loops, closed forms, finite differences),
// `cuda` on a CUDA device against the CPU twin (which `cpu` has checked). forDevices turns each entry into one `it`
// on 'cpu' and one per CUDA device; without a GPU the CUDA ones are pending and say why. The registry test
// (test/engine/registry.test.ts) collects the declared ops to check that every op has both kinds of case.
//
// CUDA tolerances (the same for every op file). Elementwise ops: a few float32 ulps (libm differences). Reductions:
// float64 sums on both sides. Convolutions and GEMMs: |gpu − cpu| ≤ rel·mag + 1e-6·max|mag|, where mag = Σ|terms| of
// each output, computed by the CPU op on |inputs| (the scale of float32 rounding in a sum); rel = 2e-5 in fp32,
// 4e-3 for TF32 (10-bit mantissa inputs, ~2^-11 relative rounding each).
//
// Without a GPU: native/cuda/emu/build.sh builds an addon whose "cuda:0" is a CPU emulator of the kernels
// (MRIGAN_BUILD_DIR=build-cuda-emu); `emulated` lets big cases shrink or skip there.
import { expect } from 'chai';
import * as E from '../../lib/engine';
import { Tensor, Device } from '../../lib/engine';
import * as C from '../../lib/engine/cuda';
import { randArray, expectClose, maxAbs } from '../helpers';

export const info = E.engineInfo();
export const cudaSkipReason = !info.cuda
  ? `this addon was built without CUDA (${info.cudaStatus})`
  : info.cudaDevices === 0 ? `no GPU: ${info.cudaStatus}` : '';
export const emulated = /emulator/.test(info.cudaStatus);
/** The CUDA devices the parity cases run on (none without a GPU). */
export const cudaDevices: Device[] = cudaSkipReason ? [] : Array.from({ length: info.cudaDevices }, (_, i) => `cuda:${i}` as Device);

export interface OpCase {
  /** What the case checks (the `it` title, before the device). */
  name: string;
  /** The registry ops (C names, e.g. 'conv2d_backward_data') whose results the case checks. */
  ops: string[];
  /** Check on the CPU against a float64 reference. */
  cpu?: () => void | Promise<void>;
  /** Check on CUDA device `dev` against the CPU twin. */
  cuda?: (dev: Device) => void | Promise<void>;
}

/** What the case tables declare: which ops have a CPU case and which a CUDA one (read by the registry test). */
export const declared: { op: string; kind: 'cpu' | 'cuda'; name: string }[] = [];

let skipSaid = false;
/** One `it` per case and device: `name [cpu]`, `name [cuda:N]` (pending, with the reason, when there is no GPU). */
export function forDevices(cases: OpCase[]): void {
  for (const c of cases) {
    if (c.ops.length === 0) throw new Error(`op case '${c.name}' declares no ops`);
    if (!c.cpu && !c.cuda) throw new Error(`op case '${c.name}' has neither a cpu nor a cuda check`);
    for (const op of c.ops) {
      if (c.cpu) declared.push({ op, kind: 'cpu', name: c.name });
      if (c.cuda) declared.push({ op, kind: 'cuda', name: c.name });
    }
    if (c.cpu) it(`${c.name} [cpu]`, c.cpu);
    if (!c.cuda) continue;
    const check = c.cuda;
    const devs: (Device | null)[] = cudaDevices.length ? cudaDevices : [null];
    for (const dev of devs) {
      it(`${c.name} [${dev ?? 'cuda'}]`, async function () {
        if (!dev) {
          if (!skipSaid) console.log(`      cuda parity cases skipped: ${cudaSkipReason}`);
          skipSaid = true;
          this.skip();
        }
        this.timeout(emulated ? 600000 : 120000);
        try {
          await check(dev!);
        } finally {
          resetGpuControls();
        }
      });
    }
  }
}

/** Puts back the GPU controls a case may have set: the automatic conv kernel choice for every pass, TF32 off. */
export function resetGpuControls(): void {
  for (const pass of [0, 1, 2]) C.setConvAlgo(pass, -1);
  C.setTf32(false);
}

/**
 * Setup for a describe block of GPU-only tests (call with the suite's `this`): the GPU timeout, the whole block
 * skipped without a GPU with a line saying why (`what skipped: reason`), and the GPU controls reset after each test.
 */
export function cudaSuite(suite: Mocha.Suite, what: string): void {
  suite.timeout(emulated ? 600000 : 120000);
  before(function () {
    if (cudaSkipReason) {
      console.log(`      ${what} skipped: ${cudaSkipReason}`);
      this.skip();
    }
  });
  afterEach(resetGpuControls);
}

/** A table of one. */
export const opCase = (c: OpCase): void => forDevices([c]);

// ---- parity helpers: the same data on the CPU and on `dev`, and the comparisons stated above

/** The same random data as a CPU tensor and a device tensor. */
export function both(dev: Device, shape: number[], seed: number, lo = -1, hi = 1): { c: Tensor; g: Tensor; a: Float32Array } {
  const a = randArray(shape.reduce((x, y) => x * y, 1), seed, lo, hi);
  return { c: Tensor.fromArray(a, shape), g: Tensor.fromArray(a, shape, dev), a };
}
/** |t| elementwise, on the CPU (the inputs of a magnitude pass). */
export const abs = (t: Tensor): Tensor => Tensor.fromArray(t.toFloat32Array().map(Math.abs), t.shape);
/** g (on a CUDA device) equals c (CPU) within |g − c| ≤ atol + rtol·|c|, same shape. */
export const same = (g: Tensor, c: Tensor, rtol: number, atol: number, what: string): void => {
  expect(g.device, `${what}: device`).to.match(/^cuda:/);
  expect(g.shape, `${what}: shape`).to.deep.equal(c.shape);
  expectClose(g.toFloat32Array(), c.toFloat32Array(), rtol, atol, what);
};
/** |g − c| ≤ rel·mag + 1e-6·max|mag| elementwise. */
export function closeMag(g: Float32Array, c: Float32Array, mag: Float32Array, rel: number, what: string): void {
  expect(g.length, `${what}: length`).to.equal(c.length);
  const floor = 1e-6 * maxAbs(mag) + 1e-30;
  let worst = -1, excess = 0;
  for (let i = 0; i < g.length; i++) {
    const e = Math.abs(g[i] - c[i]) - (rel * mag[i] + floor);
    if (!(e <= 0) && (worst < 0 || !(e <= excess))) { worst = i; excess = e; }
  }
  if (worst >= 0) expect.fail(`${what}[${worst}]: gpu ${g[worst]}, cpu ${c[worst]}, |err| ${Math.abs(g[worst] - c[worst])} > ${rel}·${mag[worst]} + ${floor}`);
}
