// Tensor: a typed handle on a native float32 NCHW buffer. Free it with dispose() or create it inside tidy().
// Safety net: the addon reports tensor bytes to V8 (GC pressure) and frees a collected tensor's memory, but Node
// runs those finalizers only when the event loop turns — a long synchronous loop must dispose/tidy, or yield.
// A FinalizationRegistry counts the tensors that were left to the collector, so tests can see leaks.
import { native } from './native';

export type Device = 'cpu' | `cuda:${number}`;
export type Shape = readonly number[];

const forgotten = { count: 0 };
const registry = new FinalizationRegistry<{ dispose(): void; disposed: boolean }>((h) => {
  if (!h.disposed) {
    forgotten.count++;
    h.dispose();
  }
});

export class Tensor {
  /** The native handle; ops pass it to the addon. */
  readonly h: NativeTensor;

  constructor(h: NativeTensor) {
    this.h = h;
    registry.register(this, h, this);
    if (scopes.length) scopes[scopes.length - 1].push(this);
  }

  static fromArray(data: ArrayLike<number>, shape: Shape, device: Device = 'cpu'): Tensor {
    const a = data instanceof Float32Array ? data : Float32Array.from(data);
    return new Tensor(native().tensorFromArray(a, [...shape], device));
  }
  static zeros(shape: Shape, device: Device = 'cpu'): Tensor {
    return new Tensor(native().tensorZeros([...shape], device));
  }
  static full(shape: Shape, value: number, device: Device = 'cpu'): Tensor {
    return new Tensor(native().tensorFull([...shape], value, device));
  }

  get shape(): number[] { return this.h.shape; }
  get device(): Device { return this.h.device as Device; }
  get disposed(): boolean { return this.h.disposed; }
  get numel(): number { return this.shape.reduce((a, b) => a * b, 1); }

  toFloat32Array(): Float32Array { return this.h.toFloat32Array(); }
  /** The values as a plain number array (tests, logging). */
  toArray(): number[] { return Array.from(this.toFloat32Array()); }
  /** The single value of a one-element tensor. */
  item(): number {
    if (this.numel !== 1) throw new Error(`item(): tensor has ${this.numel} elements, shape [${this.shape}]`);
    return this.toFloat32Array()[0];
  }

  /** Same storage, new shape. */
  reshape(shape: Shape): Tensor { return new Tensor(native().reshape(this.h, [...shape])); }
  clone(): Tensor { return new Tensor(native().clone(this.h)); }
  to(device: Device): Tensor { return new Tensor(native().to(this.h, device)); }
  /** Overwrites this tensor's values with src's (same shape, any device). */
  copyFrom(src: Tensor): this { native().copyInto(this.h, src.h); return this; }
  sharesStorageWith(o: Tensor): boolean { return this.h.sharesStorageWith(o.h); }

  dispose(): void {
    if (!this.h.disposed) this.h.dispose();
    registry.unregister(this);
  }

  toString(): string { return `Tensor(shape=[${this.shape}], device=${this.device})`; }
}

const scopes: Tensor[][] = [];
const kept = new WeakSet<Tensor>();

/** Exempts t from disposal by the enclosing tidy() scopes. */
export function keep<T extends Tensor>(t: T): T {
  kept.add(t);
  return t;
}

function collect(v: unknown, out: Set<Tensor>, depth = 0): void {
  if (v instanceof Tensor) out.add(v);
  else if (depth < 3 && Array.isArray(v)) for (const x of v) collect(x, out, depth + 1);
  else if (depth < 3 && v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype)
    for (const x of Object.values(v)) collect(x, out, depth + 1);
}

/**
 * Runs fn and disposes every tensor created during it, except those it returns (directly, or in an array or
 * plain object) and those passed to keep(). Returned tensors join the enclosing scope, if any.
 */
export function tidy<T>(fn: () => T): T {
  scopes.push([]);
  let result: T | undefined;
  let ok = false;
  try {
    result = fn();
    ok = true;
    return result;
  } finally {
    const created = scopes.pop()!;
    const survive = new Set<Tensor>();
    if (ok) collect(result, survive);
    for (const t of created) {
      if (survive.has(t) || kept.has(t)) {
        if (scopes.length && survive.has(t)) scopes[scopes.length - 1].push(t);
      } else t.dispose();
    }
  }
}

/** How many tensors were freed by the garbage collector instead of dispose(). */
export function forgottenTensors(): number { return forgotten.count; }

/** The native side of a tensor (native/addon/binding.cc). */
export interface NativeTensor {
  readonly shape: number[];
  readonly device: string;
  readonly disposed: boolean;
  dispose(): void;
  toFloat32Array(): Float32Array;
  sharesStorageWith(o: NativeTensor): boolean;
}

export interface EngineInfo {
  threads: number;
  cudaDevices: number;
  cudaStatus: string;
  cuda: boolean;
  blas: string;
  mpi: boolean;
}

export function engineInfo(): EngineInfo { return native().info(); }

/** Host tensor memory. Blocks of 256 KiB and more are cached on dispose and reused (MRIGAN_HOST_CACHE_MB caps the
 *  cache; default a quarter of physical memory, 0 disables it). */
export interface HostMemStats {
  liveBytes: number;
  peakBytes: number;
  cachedBytes: number;
  cacheLimit: number;
  /** Large blocks taken from the system / handed out again from the cache. */
  systemAllocs: number;
  cacheHits: number;
}
export function hostMemStats(): HostMemStats { return native().hostMemStats(); }
/** Returns every cached host block to the system. */
export function hostEmptyCache(): void { native().hostEmptyCache(); }
export function hostResetPeak(): void { native().hostResetPeak(); }
export function setThreads(n: number): void { native().setThreads(n); }
/** The default device: MRIGAN_DEVICE (cpu | cuda | cuda:N), else the first GPU if present, else cpu. */
export function defaultDevice(): Device {
  const e = process.env.MRIGAN_DEVICE;
  if (e) {
    if (e === 'cpu') return 'cpu';
    if (e === 'cuda') return 'cuda:0';
    if (/^cuda:\d+$/.test(e)) return e as Device;
    throw new Error(`MRIGAN_DEVICE must be cpu, cuda or cuda:N, got '${e}'`);
  }
  return engineInfo().cudaDevices > 0 ? 'cuda:0' : 'cpu';
}
