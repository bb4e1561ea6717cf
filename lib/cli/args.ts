// Options every command shares, for util.parseArgs: --json, --quiet, --help.
export const COMMON_OPTIONS = {
  json: { type: 'boolean', default: false },
  quiet: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Prints the command's help and returns true when --help was given. */
export function printedHelp(v: { help?: boolean }, help: string): boolean {
  if (v.help) process.stdout.write(help);
  return !!v.help;
}
