// The HDF5 side of lib/metrics/keras_h5.ts, run inside a worker_threads Worker (keras_h5_reader.ts starts it): h5wasm
// can loop forever on a damaged file, synchronously, and only terminating the thread stops it. One request at a time:
//   in:  { id, file, fileBytes }
//   out: { ready: true } once h5wasm is loaded; { id, file: RawKerasFile } with every weight's buffer transferred, or
//        { id, problem, fatal } (fatal, on either: a WebAssembly trap, after which the module's state is no longer
//        trusted, or a heap grown past HEAP_LIMIT; the host then replaces this thread).
import fs = require('fs'); // the module object itself (not a namespace copy), so writeSync can be replaced
import { parentPort, workerData } from 'worker_threads';

export interface RawWeight { name: string; shape: number[]; data: Float32Array }
export interface RawKerasFile { format: 'weights-only' | 'full-model'; layers: { name: string; weights: RawWeight[] }[]; kerasVersion?: string; backend?: string }

/** A problem with the file, said without the file name (the host adds it). */
class Problem extends Error {}

// h5wasm is an ES module; a CommonJS build must load it with a real dynamic import (tsc would turn `import()` into
// require()).
const dynamicImport = new Function('s', 'return import(s)') as (s: string) => Promise<any>;
export async function importH5wasm(): Promise<any> {
  const m = await dynamicImport('h5wasm/node');
  await m.ready;
  return m.default ?? m;
}

// A heap that a damaged file grew this far (WASM memory never shrinks) is dropped with its thread: the weights of a
// full-size InceptionV3 file pass through a heap of tens of MB (the largest dataset is 3.7 MB).
const HEAP_LIMIT = 512 << 20;

/** A string-list attribute, also when Keras split it into name0, name1, … */
function stringListAttr(node: any, name: string): string[] | null {
  const attrs = node.attrs as Record<string, any>;
  // an empty list (layers without weights) may come back as [] or as a single '' depending on how it was written
  const asList = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : v == null ? [] : [String(v)]).filter((x) => x.length > 0);
  if (name in attrs) return asList(attrs[name].value);
  if (`${name}0` in attrs) {
    const out: string[] = [];
    for (let i = 0; `${name}${i}` in attrs; i++) out.push(...asList(attrs[`${name}${i}`].value));
    return out;
  }
  return null;
}

/** A Float32Array that owns its whole buffer (so the buffer can be transferred without taking anything else along). */
function owned(v: Float32Array | Float64Array): Float32Array {
  if (v instanceof Float64Array) return Float32Array.from(v);
  return v.byteOffset === 0 && v.buffer.byteLength === v.byteLength && !(v.buffer instanceof SharedArrayBuffer) ? v : v.slice();
}

/** Every layer's weights, in the file's layer order; throws Problem for what is wrong with the file. */
export function readStructure(h5: any, file: string, fileBytes: number): RawKerasFile {
  let f: any;
  try { f = new h5.File(file, 'r'); } catch (e) { throw new Problem(`HDF5 open failed (${(e as Error).message}); the file may be truncated`); }
  if (!f || typeof f.file_id !== 'bigint' || f.file_id < 0n) throw new Problem('HDF5 open failed; the file may be truncated or corrupt');
  try {
    let root = f, format: RawKerasFile['format'] = 'weights-only';
    let names = stringListAttr(f, 'layer_names');
    if (!names) {
      const mw = f.get('model_weights');
      if (mw && (names = stringListAttr(mw, 'layer_names'))) { root = mw; format = 'full-model'; }
    }
    if (!names) {
      const keras3 = f.get('layers') || f.get('_layer_checkpoint_dependencies');
      throw new Problem("no 'layer_names' attribute at the root or in 'model_weights/' — not a Keras 2 / tf.keras HDF5 weight file"
        + (keras3 ? " (this looks like Keras 3's '.weights.h5' layout, which is not supported: save with tf.keras / Keras 2, or use the published _notop.h5 files)" : ''));
    }
    const readAttr = (node: any, n: string): string | undefined => { const a = node.attrs[n]; return a ? String(a.value) : undefined; };
    const layers: RawKerasFile['layers'] = [];
    for (const name of names) {
      const g = root.get(name);
      if (!g) throw new Problem(`layer '${name}' is listed in layer_names but its group is missing (truncated file?)`);
      const wnames = stringListAttr(g, 'weight_names') ?? [];
      const weights: RawWeight[] = [];
      for (const wn of wnames) {
        const ds = g.get(wn);
        if (!ds || !ds.shape) throw new Problem(`layer '${name}': weight '${wn}' is listed but missing`);
        // a corrupt header can claim a huge dataset: refuse before h5wasm tries to read it (Keras does not compress)
        const claimed = (ds.shape as number[]).reduce((a: number, b: number) => a * Number(b), 1);
        if (!Number.isFinite(claimed) || claimed * 4 > Math.max(16 * fileBytes, 1 << 20))
          throw new Problem(`layer '${name}': weight '${wn}' claims shape [${ds.shape}] — more than the ${fileBytes}-byte file can hold; corrupt file?`);
        let v: unknown;
        try { v = ds.value; } catch (e) { throw new Problem(`layer '${name}': weight '${wn}' cannot be read (${(e as Error).message}); truncated file?`); }
        if (!(v instanceof Float32Array) && !(v instanceof Float64Array)) {
          throw new Problem(`layer '${name}': weight '${wn}' is not a float array (dtype ${JSON.stringify(ds.dtype)})`);
        }
        const shape = (ds.shape as number[]).map(Number);
        const count = shape.reduce((a, b) => a * b, 1);
        if (v.length !== count) throw new Problem(`layer '${name}': weight '${wn}' has ${v.length} values for shape [${shape.join(', ')}]`);
        weights.push({ name: wn, shape, data: owned(v) });
      }
      layers.push({ name, weights });
    }
    return { format, layers, kerasVersion: readAttr(f, 'keras_version') ?? readAttr(root, 'keras_version'), backend: readAttr(f, 'backend') ?? readAttr(root, 'backend') };
  } catch (e) {
    if (e instanceof Problem || e instanceof WebAssembly.RuntimeError) throw e;
    throw new Problem(`cannot read the HDF5 structure (${(e as Error).message}); truncated or corrupt file?`);
  } finally {
    try { f.close(); } catch { /* already failed */ }
  }
}

// only in the thread keras_h5_reader.ts starts (this module is also imported on the main thread for importH5wasm)
if (parentPort && workerData?.mriganKerasH5) {
  const port = parentPort;
  // HDF5 prints its error stack (dozens of lines) for every damaged file, and h5wasm a warning for bad UTF-8: kept
  // off the terminal so a command's error stays one line (MRIGAN_DEBUG=1 shows them). Emscripten's NODERAWFS writes
  // to fd 1/2 with this thread's fs.writeSync (this thread's own module object: the main thread is untouched);
  // console.error before the import, since Emscripten binds it when the module loads.
  if (!workerData.debug) {
    const writeSync = fs.writeSync;
    // report the bytes as written (Emscripten retries a short write forever)
    const dropped = (data: unknown, offset: unknown, length: unknown): number => (typeof data === 'string' ? Buffer.byteLength(data)
      : typeof length === 'number' ? length : (data as ArrayBufferView).byteLength - (typeof offset === 'number' ? offset : 0));
    (fs as { writeSync: unknown }).writeSync = (fd: number, data: unknown, ...rest: unknown[]) =>
      (fd === 1 || fd === 2 ? dropped(data, rest[0], rest[1]) : (writeSync as (...a: unknown[]) => number)(fd, data, ...rest));
    console.error = console.warn = console.log = () => {};
  }
  Promise.all([importH5wasm(), dynamicImport('h5wasm/node')]).then(([h5, ns]) => {
    const heapBytes = (): number => ns.Module?.HEAP8?.byteLength ?? 0;
    port.on('message', (m: { id: number; file: string; fileBytes: number }) => {
      try {
        const out = readStructure(h5, m.file, m.fileBytes);
        const buffers = new Set<ArrayBuffer>();
        for (const l of out.layers) for (const w of l.weights) buffers.add(w.data.buffer as ArrayBuffer);
        port.postMessage({ id: m.id, file: out, fatal: heapBytes() > HEAP_LIMIT }, [...buffers]);
      } catch (e) {
        const fatal = e instanceof WebAssembly.RuntimeError || heapBytes() > HEAP_LIMIT;
        const problem = e instanceof Problem ? e.message : `HDF5 reader failed (${(e as Error)?.message ?? String(e)}); truncated or corrupt file?`;
        port.postMessage({ id: m.id, problem, fatal });
      }
    });
    port.postMessage({ ready: true });
  }, (e) => port.postMessage({ loadFailed: `cannot load h5wasm (${(e as Error)?.message ?? String(e)})` }));
}
