#!/usr/bin/env node
// The `mrigan` command: dispatches to lib/cli/commands/<name>.ts. Each command module exports
// `summary` (one line) and `run(argv: string[]): Promise<number>` (exit code).
import { commands } from './commands';

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
    process.stderr.write(`mrigan: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  return (await cmd.load()).run(rest);
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: Error) => {
      process.stderr.write(`mrigan: ${e.message}\n`);
      if (process.env.MRIGAN_DEBUG) process.stderr.write(`${e.stack}\n`);
      process.exit(1);
    },
  );
}
