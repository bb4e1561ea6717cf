// mrigan info [--json]
import { parseArgs } from 'util';
import { engineInfo, addonPath } from '../../engine';
import { world } from '../../dist';

export const summary = 'print the engine build (threads, BLAS, CUDA devices, MPI) and this process\'s rank in the world';

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write('usage: mrigan info [--json]\n  --json  machine-readable output (default: false)\n');
    return 0;
  }
  // world(): rank/size from MPI under mpirun or srun --mpi=pmix; a plain process is rank 0 of 1, transport none.
  const w = world();
  const i = { ...engineInfo(), addon: addonPath(), rank: w.rank, size: w.size, localRank: w.localRank,
    localSize: w.localSize, transport: w.transport, device: w.device };
  if (values.json) process.stdout.write(JSON.stringify(i) + '\n');
  else for (const [k, v] of Object.entries(i)) process.stdout.write(`${k.padEnd(12)} ${v}\n`);
  return 0;
}
