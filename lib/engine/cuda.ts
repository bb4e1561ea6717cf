// CUDA-backend controls (native/addon/cuda.cc): TF32 for convolutions, conv kernel choice, GPU memory statistics,
// and the fused conv + bias + activation forwards (one output write on the GPU; the separate ops on the CPU).
import { native } from './native';
import { Device, Tensor } from './tensor';
import { ConvOpts, ConvTransposeOpts, pads, pair } from './ops/conv';

/** TF32 tensor cores for convolutions (like torch.backends.cudnn.allow_tf32). Also MRIGAN_TF32=1 at start-up. */
export const setTf32 = (on: boolean): void => native().cudaSetTf32(on);
export const tf32 = (): boolean => native().cudaTf32();

/** Conv passes for setConvAlgo. */
export enum ConvPass { Forward = 0, BackwardData = 1, BackwardWeight = 2 }
/** Names of the conv kernels, index = algo for setConvAlgo ('direct', 'simt128x128', …, 'tf32_64x64'). */
export const convAlgos = (): string[] => native().cudaConvAlgos();
/** Forces one conv kernel for a pass (tests, benchmarks); -1 restores the automatic choice. */
export const setConvAlgo = (pass: ConvPass, algo: number): void => native().cudaSetConvAlgo(pass, algo);

export interface CudaMemStats {
  /** Bytes handed out now (allocator bucket sizes). */
  inUse: number;
  /** Most bytes handed out at once since the last resetPeak. */
  peak: number;
  /** Bytes held from the driver (in use + cached). */
  reserved: number;
  /** cudaMalloc calls so far: constant across steady-state training steps. */
  mallocs: number;
  frees: number;
}
export const memStats = (device: Device = 'cuda:0'): CudaMemStats => native().cudaMemStats(device);
export const resetPeak = (device: Device = 'cuda:0'): void => native().cudaResetPeak(device);
export const emptyCache = (device: Device = 'cuda:0'): void => native().cudaEmptyCache(device);
/** Waits for the device's stream (timing). A no-op for 'cpu'. */
export const synchronize = (device: Device): void => native().cudaSynchronize(device);

export type Activation = 'none' | 'relu' | 'leaky_relu' | 'tanh' | 'sigmoid';

/** act(conv2d(x, w) + b). slope is LeakyReLU's negative slope. */
export const conv2dForwardAct = (x: Tensor, w: Tensor, b: Tensor | null, act: Activation, o: ConvOpts = {}, slope = 0.2): Tensor =>
  new Tensor(native().conv2dForwardAct(x.h, w.h, b ? b.h : null, pair(o.stride, 1), pads(o.padding), act, slope));

/** act(convTranspose2d(x, w) + b). */
export const convTranspose2dForwardAct = (x: Tensor, w: Tensor, b: Tensor | null, act: Activation, o: ConvTransposeOpts = {},
  slope = 0.2): Tensor =>
  new Tensor(native().convTranspose2dForwardAct(x.h, w.h, b ? b.h : null, pair(o.stride, 1), pads(o.padding),
    pair(o.outputPadding, 0), act, slope));
