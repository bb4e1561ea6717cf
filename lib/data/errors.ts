// One error type for the whole data pipeline: every message starts with the file it is about, then says what
// is wrong and, where we can tell, what would fix it.

import { FileError } from '../util/errors';

export class DataError extends FileError {
  constructor(file: string, problem: string) {
    super(file, problem);
    this.name = 'DataError';
  }
}
