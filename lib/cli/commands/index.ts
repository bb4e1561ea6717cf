// The command table. Add one line per command; modules load lazily so `mrigan --help` stays fast.
export interface Command { summary: string; run(argv: string[]): Promise<number> }
interface Entry { summary: string; load(): Promise<Command> }

export const commands: Record<string, Entry> = {
  info: { summary: 'print the engine build (threads, BLAS, CUDA, MPI) and this process\'s rank, size, local rank, transport', load: () => import('./info') },
  train: { summary: 'train a DCGAN or WGAN-GP on a dataset file (--preset for the paper\'s Table I)', load: () => import('./train') },
  sample: { summary: 'generate images from a training run\'s latest checkpoint (PNGs and a dataset file)', load: () => import('./sample') },
  prepare: { summary: 'turn BraTS folders, NIfTI volumes or PNG slices into a dataset file', load: () => import('./prepare') },
  eval: { summary: 'score generated images against real ones without network weights: SWD and MS-SSIM diversity', load: () => import('./eval') },
  stats: { summary: 'InceptionV3 feature statistics (mu, sigma) of PNGs or a dataset file, as a pytorch-fid .npz', load: () => import('./stats') },
  fid: { summary: 'FID (and KID, PRDC) between PNG folders, dataset files or .npz statistics', load: () => import('./fid') },
  phantom: { summary: 'write procedural BraTS-layout brain volumes with tumours', load: () => import('./phantom') },
};
