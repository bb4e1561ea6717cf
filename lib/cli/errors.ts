// One error style for every command (README "Errors"): one line `mrigan <command>: <what> (<file or option>)` on
// stderr, exit 2 for usage errors (bad options) and 1 for everything else, the stack only with MRIGAN_DEBUG=1.
import { UsageError, FileError, fsError } from '../util/errors';

export { UsageError, FileError };

/** Control characters (a newline in a file name or in a library's message) are escaped, so the report is one line. */
export function oneLine(s: string): string {
  return s.trim().replace(/[\x00-\x1f\x7f]/g, (c) => (c === '\n' ? '\\n' : c === '\t' ? ' ' : c === '\r' ? '\\r' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
}

const isUsage = (e: unknown): boolean =>
  e instanceof UsageError || /^ERR_PARSE_ARGS_/.test(String((e as NodeJS.ErrnoException)?.code ?? ''));

/** The line and exit code a command reports for `e`. */
export function formatError(command: string, e: unknown): { line: string; code: number } {
  let err = e as Error & { code?: string; path?: string };
  // a raw fs error that escaped (EISDIR, EACCES, ...): in words, naming its path
  if (!(err instanceof FileError) && typeof err?.code === 'string' && /^E[A-Z]+$/.test(err.code) && err.path) err = fsError(err, err.path) as typeof err;
  let what: string;
  if (err instanceof FileError) what = `${err.problem} (${err.file})`;
  else if (err instanceof Error) what = err.message || err.name;
  else what = String(e);
  const usage = isUsage(e);
  const pre = command ? `mrigan ${command}` : 'mrigan';
  if (usage && !/--help\b/.test(what)) what += ` (see ${pre} --help)`;
  return { line: `${pre}: ${oneLine(what)}`, code: usage ? 2 : 1 };
}

/** Writes the report for `e` (and its stack with MRIGAN_DEBUG=1) and returns the exit code. */
export function report(command: string, e: unknown): number {
  const { line, code } = formatError(command, e);
  process.stderr.write(line + '\n');
  if (process.env.MRIGAN_DEBUG === '1' && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
  return code;
}

/** For commands that return an exit code: prints a usage error and returns 2. */
export function usageFail(command: string, msg: string): number {
  return report(command, new UsageError(msg));
}
