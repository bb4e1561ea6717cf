// One error type for the whole data pipeline: every message starts with the file it is about, then says what
// is wrong and, where we can tell, what would fix it.

export class DataError extends Error {
  readonly file: string;
  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'DataError';
    this.file = file;
  }
}
