// Keras HDF5 read time of a full-size (div 1, 21.8 M parameters, ~96 MB) random-weight InceptionV3 notop file:
// readInceptionV3Weights through the reader thread (cold: thread start + h5wasm load; warm: the thread reused)
// against the peer, the same HDF5 walk on the main thread (how keras_h5.ts read before the thread). Wall and process
// CPU time (getrusage: both threads), min of REPS. Sizes the default deadline (DEFAULT_H5_TIMEOUT_S).
//   node dist/bench/keras-h5.js [REPS]
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readInceptionV3Weights, loadH5wasm, stopH5Reader, DEFAULT_H5_TIMEOUT_S } from '../lib/metrics/keras_h5';
import { readStructure } from '../lib/metrics/keras_h5_worker';
import { writeRandomInception } from '../test/metrics/inception_file';

async function timed(f: () => Promise<unknown> | unknown): Promise<{ wall: number; cpu: number }> {
  const c = process.cpuUsage(), t = process.hrtime.bigint();
  await f();
  const u = process.cpuUsage(c);
  return { wall: Number(process.hrtime.bigint() - t) / 1e9, cpu: (u.user + u.system) / 1e6 };
}

async function main(): Promise<void> {
  const reps = Number(process.argv[2] ?? 3);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mrigan-bench-h5-'));
  try {
    const file = path.join(dir, 'inception_v3_notop.h5');
    await writeRandomInception(file, 1, 7);
    const bytes = fs.statSync(file).size;
    const h5 = await loadH5wasm();
    const rows: Record<string, { wall: number; cpu: number }[]> = { 'main thread (peer)': [], 'reader thread, cold': [], 'reader thread, warm': [] };
    for (let r = 0; r < reps; r++) {
      rows['main thread (peer)'].push(await timed(() => readStructure(h5, file, bytes)));
      await stopH5Reader();
      rows['reader thread, cold'].push(await timed(() => readInceptionV3Weights(file)));
      rows['reader thread, warm'].push(await timed(() => readInceptionV3Weights(file)));
    }
    const peer = Math.min(...rows['main thread (peer)'].map((x) => x.wall));
    process.stdout.write(`file ${(bytes / 1e6).toFixed(1)} MB, min of ${reps}; load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}; default deadline ${DEFAULT_H5_TIMEOUT_S} s\n`);
    process.stdout.write('| read | wall (s) | CPU (s) | wall / peer |\n|---|---|---|---|\n');
    for (const [k, v] of Object.entries(rows)) {
      const w = Math.min(...v.map((x) => x.wall)), c = Math.min(...v.map((x) => x.cpu));
      process.stdout.write(`| ${k} | ${w.toFixed(3)} | ${c.toFixed(3)} | ${(w / peer).toFixed(2)} |\n`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => { process.stderr.write(`${(e as Error).stack}\n`); process.exit(1); });
