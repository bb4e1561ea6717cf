// Loads the native addon once and types it. MRIGAN_ADDON overrides the path (e.g. a sanitizer or CUDA build elsewhere).
import * as fs from 'fs';
import * as path from 'path';
import type { CudaMemStats } from './cuda';
import type { EngineInfo, HostMemStats, NativeTensor } from './tensor';

type T = NativeTensor;
/** 'cpu' | 'cuda' | 'cuda:N', or -1 (cpu) / N. */
type Dev = string | number;
/** [h, w] (the addon checks the length). */
type Pair = readonly number[];
/** [top, bottom, left, right] (the addon checks the length). */
type Pads = readonly number[];
type Seed = number | bigint;
/** The fused conv epilogue (core/conv_shape.h Act). */
type Act = 'none' | 'relu' | 'leaky_relu' | 'tanh' | 'sigmoid';
interface ConvTuning { tileCols: number; serialMacs: number; kernel: 'auto' | 'gemm' | 'direct' | 'wino'; winoTile: number }

/**
 * The raw addon: every function registered by native/addon/*.cc (MRIGAN_EXPORT), argument order as there.
 * Registry ops (native/core/ops.def) are named camelCase(op name); typed wrappers live in ./ops and ./cuda.
 * In-place ops return void; ops that make several tensors return them as a tuple.
 */
export interface NativeAddon {
  NativeTensor: new () => T;
  // ---- tensor.cc
  tensorFromArray(data: Float32Array, shape: number[], device?: Dev): T;
  tensorZeros(shape: number[], device?: Dev): T;
  tensorFull(shape: number[], value: number, device?: Dev): T;
  reshape(x: T, shape: number[]): T;
  clone(x: T): T;
  to(x: T, device: Dev): T;
  copyInto(dst: T, src: T): void;
  info(): EngineInfo;
  setThreads(threads: number): void;
  peakBytes(device?: Dev): number;
  hostMemStats(): HostMemStats;
  hostEmptyCache(): void;
  hostResetPeak(): void;
  // ---- elementwise.cc
  fill(t: T, value: number): void;
  add(a: T, b: T): T;
  mul(a: T, b: T): T;
  scale(x: T, alpha: number): T;
  axpy(alpha: number, x: T, y: T): void;
  sum(x: T): number;
  sumTo(x: T): T;
  meanTo(x: T): T;
  gatherScalars(scalars: T[], device?: Dev): T;
  firstNonFinite(tensors: T[]): number;
  lerpRows(a: T, b: T, t: T): T;
  biasAdd(y: T, b: T): void;
  biasGrad(dy: T, db: T): void;
  // ---- act.cc
  leakyReluForward(x: T, slope: number): T;
  leakyReluBackward(dy: T, x: T, slope: number): T;
  tanhForward(x: T): T;
  tanhBackward(dy: T, y: T): T;
  sigmoidForward(x: T): T;
  sigmoidBackward(dy: T, y: T): T;
  dropoutForward(x: T, p: number, seed: Seed, stream: number, offset: Seed): [T, T];
  // ---- rng.cc
  randUniform(shape: number[], seed: Seed, stream: number, offset: Seed, device?: Dev): T;
  randNormal(shape: number[], seed: Seed, stream: number, offset: Seed, device?: Dev): T;
  philox4x32(counter: number[], key: number[]): number[];
  // ---- conv.cc
  conv2dForward(x: T, w: T, b: T | null, stride: Pair, padding: Pads): T;
  conv2dBackwardData(dy: T, w: T, xShape: number[], stride: Pair, padding: Pads): T;
  conv2dBackwardWeight(dy: T, x: T, dw: T, stride: Pair, padding: Pads): void;
  conv2dForwardAct(x: T, w: T, b: T | null, stride: Pair, padding: Pads, act: Act, slope?: number): T;
  convTranspose2dForward(x: T, w: T, b: T | null, stride: Pair, padding: Pads, outputPadding: Pair): T;
  convTranspose2dBackwardData(dy: T, w: T, stride: Pair, padding: Pads): T;
  convTranspose2dBackwardWeight(dy: T, x: T, dw: T, stride: Pair, padding: Pads): void;
  convTranspose2dForwardAct(x: T, w: T, b: T | null, stride: Pair, padding: Pads, outputPadding: Pair, act: Act,
    slope?: number): T;
  /** Sets the fields given (kernel checked natively: 'auto' | 'gemm' | 'direct' | 'wino'); returns the previous tuning. */
  convTuning(set?: { tileCols?: number; serialMacs?: number; kernel?: string; winoTile?: number }): ConvTuning;
  // ---- dense.cc
  denseForward(x: T, w: T, b: T | null): T;
  denseBackwardData(dy: T, w: T): T;
  denseBackwardWeight(dy: T, x: T, dw: T): void;
  gemm(a: T, b: T, transA: boolean, transB: boolean, alpha?: number, beta?: number, c?: T | null): T;
  matmul(a: T, b: T, transA: boolean, transB: boolean): T;
  gemmBackend(name?: string): string;
  // ---- norm.cc (returns [y, mean, invstd])
  batchNormForwardTrain(x: T, gamma: T, beta: T, runMean: T, runVar: T, momentum: number, eps: number): [T, T, T];
  batchNormForwardEval(x: T, gamma: T, beta: T, runMean: T, runVar: T, eps: number): T;
  batchNormBackward(dy: T, x: T, gamma: T, mean: T, invstd: T, dgamma: T, dbeta: T): T;
  // ---- loss.cc
  bceWithLogits(logits: T, targets: T): [number, T];
  bceWithLogitsTo(logits: T, targets: T): [T, T];
  // ---- adam.cc
  adamStep(params: T[], grads: T[], m: T[], v: T[], lr: number, beta1: number, beta2: number, eps: number,
    weightDecay: number, step: number): void;
  // ---- gp.cc (returns [gp, v, norms])
  gpNormV(g: T, lambda: number): [number, T, T];
  gpNormVTo(g: T, lambda: number): [T, T, T];
  // ---- rop.cc (pair backwards return [xbar, xdotbar])
  tanhPairBackward(ybar: T | null, ydotbar: T, y: T, xdot: T): [T, T];
  sigmoidPairBackward(ybar: T | null, ydotbar: T, y: T, xdot: T): [T, T];
  batchNormJvp(xdot: T, x: T, gamma: T, mean: T, invstd: T): T;
  batchNormPairBackward(ybar: T | null, ydotbar: T, x: T, xdot: T, gamma: T, mean: T, invstd: T, dgamma: T,
    dbeta: T): [T, T];
  // ---- pool.cc
  maxPool2dForward(x: T, kernel: Pair, stride: Pair, padding: Pads): T;
  avgPool2dForward(x: T, kernel: Pair, stride: Pair, padding: Pads): T;
  globalAvgPool(x: T): T;
  concatChannels(xs: T[]): T;
  // ---- cuda.cc
  cudaSetTf32(on: boolean): void;
  cudaTf32(): boolean;
  cudaSetConvAlgo(pass: number, algo: number): void;
  cudaConvAlgos(): string[];
  cudaMemStats(device: Dev): CudaMemStats;
  cudaResetPeak(device: Dev): void;
  cudaEmptyCache(device: Dev): void;
  cudaSynchronize(device: Dev): void;
  // ---- dist.cc (native/nccl: the communicator; typed wrappers in lib/dist)
  distInit(device?: 'auto' | 'cpu' | 'cuda'): {
    rank: number; size: number; localRank: number; localSize: number; transport: 'none' | 'mpi' | 'nccl'; device: Dev;
    mpi: boolean; ncclVersion: number; timeoutSeconds: number; shm: boolean;
  };
  distAllReduceMean(ts: T[]): void;
  distAllReduceSum(ts: T[]): void;
  distStartAllReduce(ts: T[], op: 'mean' | 'sum'): number;
  distWait(handle: number): void;
  distPending(): number;
  distBroadcast(ts: T[], root: number): void;
  distBarrier(): void;
  distAllReduceScalars(x: Float64Array, op: 'sum' | 'max' | 'min'): Float64Array;
  distAbort(code: number, message: string): never;
  distFinalize(): void;
  distLaunched(): boolean;
  distMpiInitialized(): boolean;
  // ---- blas64.cc (float64 host kernels for lib/metrics, not device ops; typed wrappers in lib/metrics/blas64.ts).
  // Row-major (array, offset, row stride); every extent is checked against the array. tri: 0 all, 1 j ≤ i, 2 j ≥ i.
  f64Gemm(transA: boolean, transB: boolean, tri: 0 | 1 | 2, m: number, n: number, k: number, alpha: number,
    a: Float64Array, aOff: number, lda: number, b: Float64Array, bOff: number, ldb: number, beta: number,
    c: Float64Array, cOff: number, ldc: number): void;
  f64Gemv(trans: boolean, m: number, n: number, alpha: number, a: Float64Array, aOff: number, lda: number,
    x: Float64Array, xOff: number, incx: number, beta: number, y: Float64Array, yOff: number, incy: number): void;
  /** y = S x, S's upper triangle stored row-major. */
  f64Symv(m: number, a: Float64Array, aOff: number, lda: number, x: Float64Array, xOff: number, y: Float64Array,
    yOff: number): void;
}

let addon: NativeAddon | undefined;

export function addonPath(): string {
  if (process.env.MRIGAN_ADDON) return path.resolve(process.env.MRIGAN_ADDON);
  // dist/lib/engine → package root
  const root = path.resolve(__dirname, '..', '..', '..');
  return path.join(root, process.env.MRIGAN_BUILD_DIR || 'build', 'Release', 'mrigan.node');
}

export function native(): NativeAddon {
  if (addon) return addon;
  const p = addonPath();
  if (!fs.existsSync(p)) {
    throw new Error(`mrigan: native addon not found at ${p}; build it with 'npm run build:native'`);
  }
  addon = require(p) as NativeAddon;
  return addon;
}

/**
 * The same addon without types, for tests that call it with wrong arguments on purpose (to check the native
 * argument validation) — never for library code.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const nativeUnchecked = (): Record<string, any> => native() as unknown as Record<string, any>;
