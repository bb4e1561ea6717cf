// mrigan info [--json]
import { parseArgs } from 'util';
import { engineInfo, addonPath } from '../../engine';

export const summary = 'print the engine build: threads, BLAS, CUDA devices, MPI';

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write('usage: mrigan info [--json]\n  --json  machine-readable output (default: false)\n');
    return 0;
  }
  const i = { ...engineInfo(), addon: addonPath() };
  if (values.json) process.stdout.write(JSON.stringify(i) + '\n');
  else for (const [k, v] of Object.entries(i)) process.stdout.write(`${k.padEnd(12)} ${v}\n`);
  return 0;
}
