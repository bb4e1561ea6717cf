// Child process of boundary.test.ts: calls every addon export with bad arguments and prints one JSON line with the
// counts. A crash (abort, segfault) kills this process; the case being tried is in MRIGAN_NAPI_CURRENT.
//  1. Templates: a tiny DCGAN and WGAN-GP training step runs with every export wrapped, recording up to 4 argument
//     lists per export (tensors cloned), so each export is also called near its valid use.
//  2. Cases per export: no arguments; each template with one position replaced by each bad value (wrong types,
//     wrong shapes, disposed and empty handles, fake devices, absurd sizes); and seeded random argument lists.
import * as fs from 'fs';
import { nativeUnchecked } from '../../lib/engine/native';
import { Trainer, memorySource, resolveConfig } from '../../lib/train';
import { mulberry32 } from '../../lib/util/prng';

/* eslint-disable @typescript-eslint/no-explicit-any */
const m = nativeUnchecked();
const names = Object.keys(m).filter((k) => typeof m[k] === 'function' && k !== 'NativeTensor').sort();
const T = (shape: number[]) => m.tensorFromArray(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => (i % 7) / 7 - 0.4), shape, 'cpu');
const isTensor = (x: any) => x instanceof m.NativeTensor;
const cloneRaw = m.clone; // the unwrapped one: copyArg runs inside the recording wrappers
const copyArg = (x: any): any => (isTensor(x) ? (x.disposed ? x : cloneRaw(x)) : Array.isArray(x) ? x.map(copyArg)
  : x && typeof x === 'object' && !ArrayBuffer.isView(x) ? Object.fromEntries(Object.entries(x).map(([k, v]) => [k, copyArg(v)]))
    : ArrayBuffer.isView(x) ? (x as any).slice() : x);

// ---- 1. record templates from a real training step
const templates: Record<string, any[][]> = {};
const orig: Record<string, any> = {};
for (const k of names) {
  orig[k] = m[k];
  m[k] = (...a: any[]) => {
    const list = (templates[k] ??= []);
    const sig = a.map((x) => (isTensor(x) ? `T${x.shape}` : Array.isArray(x) ? `A${x.length}` : typeof x)).join(',');
    if (list.length < 4 && !list.some((t: any) => (t as any).sig === sig)) list.push(Object.assign(a.map(copyArg), { sig }));
    return orig[k](...a);
  };
}
async function record(): Promise<void> {
  for (const model of ['dcgan', 'wgan-gp'] as const) {
    const cfg = resolveConfig({ model, size: 64, width: 2, batch: 2, epochs: 1, nCritic: 1, dropout: 0.1, seed: 3 });
    const data = memorySource(Float32Array.from({ length: 4 * 64 * 64 }, (_, i) => Math.sin(i) * 0.9), [4, 1, 64, 64]);
    const t = Trainer.create(cfg, { data, out: null, device: 'cpu', progress: 'none', stopAfter: 1 });
    await t.run();
    t.dispose();
  }
  for (const k of names) m[k] = orig[k];
  // hand templates for simple exports the training step does not reach (signatures from lib/engine)
  const hand: Record<string, () => any[]> = {
    add: () => [T([2, 3]), T([2, 3])], mul: () => [T([2, 3]), T([2, 3])], scale: () => [T([2, 3]), 2], sigmoidForward: () => [T([2, 3])],
    biasAdd: () => [T([2, 3]), T([3])], denseForward: () => [T([2, 3]), T([4, 3]), T([4])], matmul: () => [T([2, 3]), T([3, 4]), false, false],
    copyInto: () => [T([2, 3]), T([2, 3])], clone: () => [T([2, 3])], to: () => [T([2, 3]), 'cpu'], peakBytes: () => ['cpu'],
    reshape: () => [T([2, 3]), [3, 2]], tensorZeros: () => [[2, 3], 'cpu'], tensorFull: () => [[2, 3], 1.5, 'cpu'],
    tensorFromArray: () => [new Float32Array(6), [2, 3], 'cpu'], setThreads: () => [1], sum: () => [T([2, 3])],
    // float64 host kernels (blas64.cc): plain Float64Arrays with offsets and strides, checked against their lengths
    f64Gemm: () => [false, true, 1, 2, 3, 4, 1, new Float64Array(9), 1, 4, new Float64Array(12), 0, 4, 0, new Float64Array(6), 0, 3],
    f64Gemv: () => [true, 2, 3, -1, new Float64Array(6), 0, 3, new Float64Array(4), 0, 2, 1, new Float64Array(3), 0, 1],
    f64Symv: () => [3, new Float64Array(10), 1, 3, new Float64Array(3), 0, new Float64Array(3), 0],
  };
  for (const [k, f] of Object.entries(hand)) if (names.includes(k)) (templates[k] ??= []).push(Object.assign(f(), { sig: 'hand' }));
}

// ---- 2. bad values
const disposed = T([2, 3]);
disposed.dispose();
const BAD: [string, () => any][] = [
  ['undefined', () => undefined], ['null', () => null], ['true', () => true], ['string', () => 'x'], ['fake device', () => 'fake:0'],
  ['cuda:7', () => 'cuda:7'], ['cuda:-1', () => 'cuda:-1'], ['-1', () => -1], ['0', () => 0], ['1.5', () => 1.5], ['NaN', () => NaN],
  ['Infinity', () => Infinity], ['2^40', () => 2 ** 40], ['-2^40', () => -(2 ** 40)], ['2^53+', () => 2 ** 60], ['bigint', () => 2n ** 70n],
  ['{}', () => ({})], ['[]', () => []], ['[2^40]', () => [2 ** 40]], ['[2^20,2^20]', () => [2 ** 20, 2 ** 20]], ['[2^14]*3', () => [2 ** 14, 2 ** 14, 2 ** 14]],
  ['[-1,2]', () => [-1, 2]], ['[NaN]', () => [NaN]], ['9 dims', () => [1, 1, 1, 1, 1, 1, 1, 1, 2]], ['[\'a\']', () => ['a']],
  ['disposed tensor', () => disposed], ['empty handle', () => new m.NativeTensor()], ['tensor [3]', () => T([3])],
  ['tensor [1,1,1,1]', () => T([1, 1, 1, 1])], ['tensor [0]', () => T([0])], ['tensor [2,1,64,64]', () => T([2, 1, 64, 64])],
  ['Float32Array(3)', () => new Float32Array(3)], ['Float64Array', () => new Float64Array(6)], ['Int32Array', () => new Int32Array(6)],
  ['function', () => () => 1], ['symbol', () => Symbol('s')], ['tensor list w/ disposed', () => [T([2, 3]), disposed]],
  ['rng state bad', () => ({ seed: -1, stream: 2 ** 40, offset: NaN })],
];
const GOOD: (() => any)[] = [() => T([2, 3]), () => T([2, 1, 4, 4]), () => T([4]), () => 1, () => 0.5, () => 'cpu', () => [2, 3], () => true, () => ({ seed: 1, stream: 2, offset: 0 })];

const cur = process.env.MRIGAN_NAPI_CURRENT ? fs.openSync(process.env.MRIGAN_NAPI_CURRENT, 'w') : -1;
let cases = 0, threw = 0, returned = 0;
/** Template calls that returned although one argument was certainly invalid. */
const accepted: string[] = [];
const perExport: Record<string, number> = {};
const call = (k: string, args: any[], what: string) => {
  if (cur >= 0) { const b = Buffer.from(`${k}: ${what}\n`.padEnd(200)); fs.writeSync(cur, b, 0, b.length, 0); }
  cases++;
  perExport[k] = (perExport[k] ?? 0) + 1;
  let out: any;
  try {
    out = m[k](...args);
    returned++;
    if (/= (disposed tensor|empty handle|fake device|cuda:7|NaN|Infinity|\[2\^40\]|symbol|function)$/.test(what)) accepted.push(`${k}: ${what}`);
  } catch (e) {
    if (!(e instanceof Error)) throw new Error(`${k}(${what}) threw a non-Error: ${String(e)}`);
    threw++;
    return;
  }
  // whatever came back must be usable: dispose returned tensors (arrays of them too)
  for (const x of Array.isArray(out) ? out : [out]) if (isTensor(x) && !x.disposed) x.dispose();
};

async function main(): Promise<void> {
  await record();
  const r = mulberry32(Number(process.env.MRIGAN_NAPI_SEED ?? 7));
  for (const k of names) {
    if (k === 'setThreads' || k === 'hostEmptyCache' || k === 'cudaEmptyCache') { /* still fuzzed below, without templates */ }
    call(k, [], 'no args');
    for (const tpl of templates[k] ?? []) {
      for (let i = 0; i < tpl.length; i++) {
        for (const [bn, bv] of BAD) {
          const a = tpl.map(copyArg);
          a[i] = bv();
          call(k, a, `template ${(tpl as any).sig} arg ${i} = ${bn}`);
        }
      }
      call(k, [...tpl.map(copyArg), T([2, 3]), 'extra'], 'template + extra args');
    }
    for (let j = 0; j < 120; j++) {
      const n = 1 + Math.floor(r() * 7);
      // dist*: a valid call could start MPI or abort the process on purpose (distAbort), so bad values only
      const good = k.startsWith('dist') ? 0 : 0.5;
      const a = Array.from({ length: n }, () => (r() >= good ? BAD[Math.floor(r() * BAD.length)][1]() : GOOD[Math.floor(r() * GOOD.length)]()));
      call(k, a, `random #${j} (${n} args)`);
    }
  }
  const recorded = names.filter((k) => templates[k]?.length).length;
  process.stdout.write(JSON.stringify({ exports: names.length, recorded, cases, threw, returned, accepted, perExport }) + '\n');
}
main().then(() => process.exit(0), (e) => { process.stderr.write(`${e.stack}\n`); process.exit(3); });
