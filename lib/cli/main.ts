#!/usr/bin/env node
// The `mrigan` command: dispatches to lib/cli/commands/<name>.ts. Each command module exports
// `summary` (one line) and `run(argv: string[]): Promise<number>` (exit code).
import { commands } from './commands';
import { report } from './errors';

function usage(): string {
  const w = Math.max(...Object.keys(commands).map((k) => k.length));
  const lines = Object.entries(commands).map(([k, c]) => `  ${k.padEnd(w)}  ${c.summary}`);
  return `usage: mrigan <command> [options]   (mrigan <command> --help for its options)\n\ncommands:\n${lines.join('\n')}\n`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name ? 0 : 1;
  }
  const cmd = commands[name];
  if (!cmd) {
    process.stderr.write(`mrigan: unknown command '${name}' (mrigan --help lists them)\n`);
    return 2;
  }
  // every failure a command throws becomes its one-line report (lib/cli/errors.ts)
  try {
    return await (await cmd.load()).run(rest);
  } catch (e) {
    return report(name, e);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: Error) => {
      process.exit(report('', e));
    },
  );
}
