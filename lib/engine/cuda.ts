// CUDA-backend controls (native/addon/cuda.cc): TF32 for convolutions, conv kernel choice, GPU memory statistics,
// and (re-exported from ops/conv) the fused conv + bias + activation forwards.
import { native } from './native';
import { Device } from './tensor';

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

/** The fused conv + bias + activation forwards (registry ops, also exported top-level from lib/engine). */
export { Activation, conv2dForwardAct, convTranspose2dForwardAct } from './ops/conv';
