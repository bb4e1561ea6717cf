// The two kinds of failure a command reports (README "Errors"): a usage error (a bad option or value; exit 2) and
// everything else (a file that cannot be read or written, a run that failed; exit 1). Both carry what they are about
// (`option` or `file`) so the CLI prints one line: `mrigan <command>: <what> (<file or option>)`.

export class UsageError extends Error {
  readonly option?: string;
  constructor(msg: string, option?: string) {
    super(msg);
    this.name = 'UsageError';
    this.option = option;
  }
}

/** Any error about one file; `problem` is the message without the file name. */
export class FileError extends Error {
  readonly file: string;
  readonly problem: string;
  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'FileError';
    this.file = file;
    this.problem = problem;
  }
}

/** A Node fs error (ENOENT, EISDIR, EACCES, ...) as a FileError about `file` that says it in words. */
export function fsError(e: unknown, file: string, doing = 'cannot open'): Error {
  const code = (e as NodeJS.ErrnoException)?.code;
  const what: Record<string, string> = {
    ENOENT: 'no such file or folder', EISDIR: 'is a folder, expected a file', ENOTDIR: 'a part of the path is not a folder',
    EACCES: 'permission denied', EPERM: 'operation not permitted', EROFS: 'read-only filesystem', ENOSPC: 'no space left on device',
    EEXIST: 'already exists', EMFILE: 'too many open files', ENAMETOOLONG: 'name too long', ELOOP: 'too many symbolic links',
    EXDEV: 'cannot rename across filesystems', EIO: 'input/output error', EDQUOT: 'disk quota exceeded',
  };
  if (code && what[code]) return new FileError(file, `${doing}: ${what[code]}`);
  if (e instanceof FileError) return e;
  return new FileError(file, `${doing}: ${(e as Error)?.message ?? String(e)}`);
}
