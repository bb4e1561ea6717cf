// The host side of keras_h5_worker.ts: one long-lived reader thread (loading h5wasm costs a few hundred ms, so it is
// reused across files), one file at a time, each with a deadline. A damaged file can send h5wasm into a synchronous
// loop that nothing inside the thread can interrupt: at the deadline the thread is terminated (V8 stops the WASM loop)
// and the next read starts a fresh one; the same after a crash or a WebAssembly trap. The thread is unref'd, so an
// idle reader never keeps the process alive (a read in flight does, through its deadline timer).
import * as path from 'path';
import { Worker } from 'worker_threads';
import type { RawKerasFile } from './keras_h5_worker';
import { UsageError } from '../util/errors';

/** Seconds a file may take: far above need (a full-size InceptionV3 file reads in ~0.3 s with the thread start,
 *  bench/NOTES.md "Keras HDF5"), room for a slow network filesystem or a loaded machine. */
export const DEFAULT_H5_TIMEOUT_S = 60;

/** The deadline: `explicit`, else MRIGAN_H5_TIMEOUT (seconds), else the default. */
export function h5TimeoutSeconds(explicit?: number): number {
  const env = process.env.MRIGAN_H5_TIMEOUT;
  const [v, from] = explicit !== undefined ? [explicit, 'timeoutS'] : env ? [Number(env), 'MRIGAN_H5_TIMEOUT'] : [DEFAULT_H5_TIMEOUT_S, ''];
  if (!(Number.isFinite(v) && v > 0)) throw new UsageError(`${from} must be a positive number of seconds, got '${explicit ?? env}' (${from})`, from);
  return v;
}

/** A read that did not finish within its deadline (the thread has been terminated). */
export class H5TimeoutError extends Error {}

type Reply = { id: number; file?: RawKerasFile; problem?: string; fatal?: boolean };

class ReaderThread {
  readonly worker: Worker;
  /** Settles when h5wasm has loaded in the thread (or the thread failed first). */
  readonly ready: Promise<void>;
  private waiter: { resolve(m: Reply): void; reject(e: Error): void } | null = null;
  private dead: Error | null = null;
  private loaded: { resolve(): void; reject(e: Error): void } | null = null;

  constructor() {
    this.ready = new Promise((resolve, reject) => { this.loaded = { resolve, reject }; });
    this.ready.catch(() => undefined); // a spare may fail with nobody waiting; readOnce sees it when it awaits
    // (not `stdout/stderr: true`: piped worker stdio keeps the process alive even when the worker is unref'd)
    this.worker = new Worker(path.join(__dirname, 'keras_h5_worker.js'), { workerData: { mriganKerasH5: true, debug: process.env.MRIGAN_DEBUG === '1' } });
    this.worker.on('message', (m: Reply & { ready?: true; loadFailed?: string }) => {
      if (m.ready) return this.loaded?.resolve();
      if (m.loadFailed) return this.fail(new Error(m.loadFailed));
      const w = this.waiter;
      this.waiter = null;
      w?.resolve(m);
    });
    this.worker.on('error', (e) => this.fail(new Error(`the HDF5 reader thread failed (${e.message})`)));
    this.worker.on('exit', (code) => this.fail(new Error(`the HDF5 reader thread exited (code ${code})`)));
    this.worker.unref();
  }

  private fail(e: Error): void {
    this.dead ??= e;
    this.loaded?.reject(e);
    if (live === this) live = null;
    if (spare === this) spare = null;
    const w = this.waiter;
    this.waiter = null;
    w?.reject(e);
  }

  /** Terminates the thread; a process that has met one damaged file likely meets more (a fuzzer, a batch), so a
   *  spare starts loading now and the next read does not wait for h5wasm (~0.3 s). */
  kill(startSpare = true): void {
    this.fail(new Error('the HDF5 reader thread was stopped'));
    void this.worker.terminate();
    if (startSpare && !spare) spare = new ReaderThread();
  }

  /** The reply to a request; after `ms` without one the thread is terminated and `late()` is the rejection. */
  reply(ms: number, late: () => Error): Promise<Reply> {
    if (this.dead) return Promise.reject(this.dead);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.waiter = null; this.kill(); reject(late()); }, ms);
      this.waiter = { resolve: (m) => { clearTimeout(timer); resolve(m); }, reject: (e) => { clearTimeout(timer); reject(e); } };
    });
  }
}

let live: ReaderThread | null = null, spare: ReaderThread | null = null;
let chain: Promise<unknown> = Promise.resolve();
let nextId = 1;

async function readOnce(file: string, fileBytes: number, timeoutS: number): Promise<RawKerasFile> {
  if (!live) { live = spare ?? new ReaderThread(); spare = null; }
  const t = live;
  // loading is not the file's fault: its own, generous bound
  const loadS = Math.max(60, timeoutS);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([t.ready, new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`h5wasm did not load within ${loadS} s`)), loadS * 1000); })]);
  } catch (e) { t.kill(false); throw e; } finally { clearTimeout(timer); }
  const id = nextId++;
  const reply = t.reply(timeoutS * 1000, () => new H5TimeoutError(`HDF5 reader did not finish within ${timeoutS} s: the file is damaged?`));
  t.worker.postMessage({ id, file, fileBytes });
  const m = await reply;
  if (m.fatal) t.kill();
  if (m.id !== id) { t.kill(); throw new Error('the HDF5 reader thread answered out of turn'); }
  if (m.problem !== undefined) throw new Error(m.problem);
  return m.file!;
}

/** Reads `file` in the reader thread; a rejection's message is the problem without the file name. */
export function readInWorker(file: string, fileBytes: number, timeoutS: number): Promise<RawKerasFile> {
  const run = chain.then(() => readOnce(file, fileBytes, timeoutS));
  chain = run.catch(() => undefined);
  return run;
}

/** Stops the reader threads now (tests; a process does not need it: the threads are unref'd). */
export async function stopH5Reader(): Promise<void> {
  const ts = [live, spare].filter((t): t is ReaderThread => t !== null);
  for (const t of ts) t.kill(false);
  await Promise.all(ts.map((t) => t.worker.terminate()));
}
