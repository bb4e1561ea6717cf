// The world of ranks (native/nccl via native/addon/dist.cc) and the rule that any rank's failure ends every rank.
// A plain `node`/`mrigan` process is a world of 1 with transport 'none' and never initialises MPI; under
// `mpirun -np N` or `srun --mpi=pmix -n N` rank and size come from MPI and local rank from the node's shared-memory
// split. Initialisation happens once, on the first world() call; later calls return the same world.
import { native } from '../engine/native';
import { Device } from '../engine';

export type Transport = 'none' | 'mpi' | 'nccl';

export interface World {
  rank: number;
  size: number;
  /** Rank among the ranks on this node; the rank's GPU is cuda:localRank. */
  localRank: number;
  localSize: number;
  transport: Transport;
  /** The device this rank trains on: cuda:localRank when it uses a GPU, else cpu. */
  device: Device;
  /** MPI_Init was called (false for a plain process). */
  mpi: boolean;
  /** NCCL's version code (e.g. 21805) when transport is 'nccl', else 0. */
  ncclVersion: number;
  /** MRIGAN_COLLECTIVE_TIMEOUT: a collective waiting longer aborts every rank. */
  timeoutSeconds: number;
  /** CPU all-reduces go through the node's shared-memory window (native/nccl/shm.cc; MRIGAN_SHM_ALLREDUCE=0: off). */
  shm: boolean;
}

let current: World | undefined;

/**
 * This process's place in the world. `device`: 'cuda' requires a GPU per rank on each node (clear error otherwise),
 * 'cpu' keeps every rank on the CPU, 'auto' (default) uses GPUs when the machine has any. Only the first call's
 * device counts.
 */
export function world(device: 'auto' | 'cpu' | 'cuda' = 'auto'): World {
  if (current) return current;
  current = native().distInit(device) as World;
  if (current.mpi) {
    // MPI_Finalize on a normal exit; without it OpenMPI reports the rank as failed.
    process.once('exit', () => native().distFinalize());
  }
  return current;
}

/** True when a launcher (mpirun, srun) started this process; initialises nothing. */
export function launchedByMpi(): boolean { return native().distLaunched(); }

/** MPI_Initialized(): lets tests check that a plain process never starts MPI. */
export function mpiInitialized(): boolean { return native().distMpiInitialized(); }

/** Rank 0 writes checkpoints, samples and logs. */
export function isRoot(): boolean { return world().rank === 0; }

/** Message prefix naming the rank, e.g. 'rank 1 of 4: '; empty in a world of 1. */
export function rankPrefix(): string {
  const w = current;
  return w && w.size > 1 ? `rank ${w.rank} of ${w.size}: ` : '';
}

/**
 * Ends every rank: prints 'mrigan: rank R of N: message' and calls MPI_Abort(code); in a plain process it prints
 * the message and exits. Never returns.
 */
export function abortAll(message: string, code = 1): never {
  if (!current) world();
  native().distAbort(Math.min(255, Math.max(1, code | 0)), message);
  throw new Error('unreachable: distAbort returned');
}

/**
 * Runs main; an exception (or rejected promise, or uncaught error anywhere) on any rank aborts all ranks with a
 * message naming the rank, instead of leaving the others blocked in a collective. In a world of 1 the error is
 * printed and the process exits with code 1 like any CLI failure. Returns main's exit code.
 */
export async function runRanked(main: () => Promise<number | void> | number | void): Promise<number> {
  installAbortOnError();
  try {
    const rc = await main();
    return typeof rc === 'number' ? rc : 0;
  } catch (e) {
    return failRank(e);
  }
}

function describe(e: unknown): string {
  return e instanceof Error ? (e.stack ?? e.message) : String(e);
}

function failRank(e: unknown): never {
  // `current`, not world(): the error may come from world() itself (then every rank throws it and exits)
  if (current && (current.size > 1 || current.mpi)) abortAll(describe(e), 1);
  process.stderr.write(`mrigan: ${describe(e)}\n`);
  process.exit(1);
}

let installed = false;
/** Turns uncaught exceptions and unhandled rejections into abortAll (idempotent). */
export function installAbortOnError(): void {
  if (installed) return;
  installed = true;
  process.on('uncaughtException', failRank);
  process.on('unhandledRejection', failRank);
}
