// Sequential: runs layers in order. Parameter and buffer names are PyTorch nn.Sequential's: `<index>.<name>`
// (nested: `2.0.weight`), so a state exchanged through safetensors loads into the same PyTorch nn.Sequential.
//
// Ownership: forward borrows x and returns the last layer's output (owned by the caller, who keeps it alive until
// backward is done). The intermediate activations are owned by the Sequential and kept until the next forward,
// release() or dispose(), because layers cache borrowed references to them (backward, jvp and pairBackward use
// them). backward borrows dy, frees each intermediate gradient as soon as the layer below has consumed it, and
// returns dx of the first layer (owned by the caller).
//
// Fusion (GPU only): a Conv2d / ConvTranspose2d directly followed by LeakyReLU (slope >= 0), ReLU, Tanh or Sigmoid
// runs as one conv whose epilogue adds the bias and applies the activation (cuda.conv2dForwardAct), saving a
// full-size write, read and tensor. The pre-activation output then never exists, which is exact because nothing
// reads it: the conv's backward / jvp / pair-backward use its input x and padding only; Tanh and Sigmoid cache
// their output, which is the fused output; LeakyReLU caches its input, but every reader (act.ts) only
// tests x > 0, and for slope >= 0, y > 0 ⇔ x > 0, so the activation adopts y as its cache (adoptOutput). A negative
// slope flips signs and is not fused. A fused activation that ends the Sequential caches the returned output, which
// the caller keeps alive until backward anyway (layer.ts). The CPU runs the separate ops (fusing brings nothing there).
import { Tensor, Shape, Device, keep } from '../engine';
import { Activation } from '../engine/cuda';
import { Layer, LayerBase, PairNeeds, PairResult, Param, StateBuffer } from './layer';
import { chainBackwardData, chainJvp, chainPairBackward } from './tangent';
import { BatchNorm } from './norm';
import { Conv2d, ConvTranspose2d } from './conv';
import { LeakyReLU, ReLU, Tanh, Sigmoid } from './act';

/** Fusion switches: `enabled` (off: the separate ops everywhere, for A/B runs); `cpu` (tests: fuse on the CPU too,
 *  through the CPU twin of the epilogue, which is bit-identical to the separate ops). */
export const fusion = { enabled: true, cpu: false };

/** A conv → activation pair that forward runs as one fused kernel: layers[conv] and layers[conv + 1]. */
export interface FusedPair { conv: number; act: Activation; slope: number }

/**
 * The conv → activation pairs of `layers` that Sequential.forward fuses on `device` (none on the CPU). Exact classes
 * only: a subclass may override forward, and nested Sequentials fuse their own pairs (none across the boundary).
 */
export function fusablePairs(layers: readonly Layer[], device: Device): FusedPair[] {
  const out: FusedPair[] = [];
  if (!fusion.enabled || (device === 'cpu' && !fusion.cpu)) return out;
  for (let i = 0; i + 1 < layers.length; i++) {
    const c = layers[i].constructor, a = layers[i + 1];
    if (c !== Conv2d && c !== ConvTranspose2d) continue;
    if (a.constructor === ReLU) out.push({ conv: i, act: 'relu', slope: 0 });
    else if (a.constructor === LeakyReLU && (a as LeakyReLU).slope >= 0) out.push({ conv: i, act: 'leaky_relu', slope: (a as LeakyReLU).slope });
    else if (a.constructor === Tanh) out.push({ conv: i, act: 'tanh', slope: 0 });
    else if (a.constructor === Sigmoid) out.push({ conv: i, act: 'sigmoid', slope: 0 });
  }
  return out;
}

export interface SummaryRow { index: string; layer: string; output: number[]; params: number }

export class Sequential extends LayerBase {
  readonly kind = 'Sequential';
  readonly layers: Layer[];
  /** Cache (owned): outputs of layers 0..n−2 of the last forward, in order; acts[i] is the input of layer i + 1,
   *  except that a fused pair (GPU) contributes only the activation's output (one entry fewer per pair). */
  acts: Tensor[] = [];
  /** Tangent cache (owned): input tangents of layers 1..n−1 of the last jvp; null when none. */
  tangents: Tensor[] | null = null;

  constructor(layers: Layer[]) {
    super();
    this.layers = layers;
  }

  forward(x: Tensor): Tensor {
    this.release();
    const fused = fusablePairs(this.layers, x.device), n = this.layers.length;
    let h = x;
    for (let i = 0, f = 0; i < n; i++) {
      if (f < fused.length && fused[f].conv === i) {
        const p = fused[f++];
        h = (this.layers[i] as Conv2d | ConvTranspose2d).forwardAct(h, p.act, p.slope);
        (this.layers[++i] as LeakyReLU | Tanh | Sigmoid).adoptOutput(h);  // borrowed, as forward's cache would be
      } else h = this.layers[i].forward(h);
      if (i < n - 1) this.acts.push(keep(h));
    }
    return h;
  }

  /**
   * Back-propagates dy. `onReady`, when given, is called with each layer's parameters as soon as their grads are
   * final for this pass (last layer first): data-parallel training starts reducing them while the layers below are
   * still working. A layer with backwardParams (conv, dense) hands them over before computing its input gradient,
   * so their reduction overlaps that too; the others after their backward.
   */
  backward(dy: Tensor, onReady?: (params: Param[]) => void): Tensor {
    let g = dy;
    for (let i = this.layers.length - 1; i >= 0; i--) {
      const l = this.layers[i];
      const own = onReady && !(l instanceof Sequential) && l.params().length > 0;
      let gi: Tensor;
      if (l instanceof Sequential) gi = l.backward(g, onReady);
      else if (own && l.backwardParams) {
        l.backwardParams(g);
        onReady!(l.params());
        gi = l.backwardData(g);
      } else gi = l.backward(g);
      if (g !== dy) g.dispose();
      g = gi;
      if (own && !l.backwardParams) onReady!(l.params());
    }
    return g === dy ? dy.reshape(dy.shape) : g;
  }

  jvp(xdot: Tensor): Tensor {
    this.releaseTangents();
    const { ydot, between } = chainJvp(this.layers, xdot);
    this.tangents = between;
    return ydot;
  }
  backwardData(dy: Tensor): Tensor { return chainBackwardData(this.layers, dy); }
  /**
   * The input gradient for upstream dy, keeping the gradient at every layer's output: signals[i] = ∂/∂(output of
   * layer i) for i < n − 1 (owned by the caller). Pass them to pairBackward with ydotbar = dy (tangent.ts).
   */
  backwardDataSignals(dy: Tensor): { dx: Tensor; signals: Tensor[] } {
    const signals: Tensor[] = new Array(Math.max(0, this.layers.length - 1));
    const dx = chainBackwardData(this.layers, dy, signals);
    return { dx, signals };
  }
  /** Pair-backward through every layer (after jvp); frees the tangent cache. `signals`: see backwardDataSignals. */
  pairBackward(ybar: Tensor | null, ydotbar: Tensor, need?: PairNeeds, signals?: Tensor[]): PairResult {
    if (!this.tangents) throw new Error('Sequential.pairBackward: no tangent cache (call jvp first)');
    try {
      return chainPairBackward(this.layers, ybar, ydotbar, need, signals);
    } finally {
      this.releaseTangents();
    }
  }
  releaseTangents(): void {
    for (const t of this.tangents ?? []) t.dispose();
    this.tangents = null;
    for (const l of this.layers) l.releaseTangents();
  }

  params(): Param[] {
    return this.layers.flatMap((l, i) => l.params().map((p) => ({ ...p, name: `${i}.${p.name}` })));
  }
  buffers(): StateBuffer[] {
    return this.layers.flatMap((l, i) => l.buffers().map((b) => ({ ...b, name: `${i}.${b.name}` })));
  }
  /** Parameters and buffers by name (what a safetensors file of this model holds). */
  stateDict(): Map<string, Tensor> {
    const m = new Map<string, Tensor>();
    for (const p of this.params()) m.set(p.name, p.value);
    for (const b of this.buffers()) m.set(b.name, b.value);
    return m;
  }
  /** BatchNorm `num_batches_tracked` counters by PyTorch name (written as I64 scalars by saveModel). */
  counters(): Map<string, { get(): number; set(v: number): void }> {
    const m = new Map<string, { get(): number; set(v: number): void }>();
    this.layers.forEach((l, i) => {
      if (l instanceof Sequential) for (const [k, c] of l.counters()) m.set(`${i}.${k}`, c);
      else if (l instanceof BatchNorm) m.set(`${i}.num_batches_tracked`, { get: () => l.numBatchesTracked, set: (v) => { l.numBatchesTracked = v; } });
    });
    return m;
  }
  numParams(): number { return this.params().reduce((a, p) => a + p.value.numel, 0); }

  train(mode = true): this {
    this.training = mode;
    for (const l of this.layers) l.train(mode);
    return this;
  }
  zeroGrad(): void { for (const l of this.layers) l.zeroGrad(); }

  outputShape(s: Shape): number[] {
    let h = [...s];
    for (const l of this.layers) h = l.outputShape(h);
    return h;
  }

  /** One row per layer (nested Sequentials expanded), with output shapes for an input of shape inShape. */
  summaryRows(inShape: Shape, prefix = ''): SummaryRow[] {
    const rows: SummaryRow[] = [];
    let h = [...inShape];
    this.layers.forEach((l, i) => {
      if (l instanceof Sequential) rows.push(...l.summaryRows(h, `${prefix}${i}.`));
      else rows.push({ index: `${prefix}${i}`, layer: l.describe(), output: l.outputShape(h), params: l.params().reduce((a, p) => a + p.value.numel, 0) });
      h = l.outputShape(h);
    });
    return rows;
  }

  /** A text table of layers, output shapes and parameter counts (for `--dry-run`). */
  summary(inShape: Shape, title = 'Sequential'): string {
    const rows = this.summaryRows(inShape);
    const fmt = (n: number): string => n.toLocaleString('en-US');
    const cells = rows.map((r) => [r.index, r.layer, `[${r.output.join(', ')}]`, r.params ? fmt(r.params) : '']);
    const head = ['#', 'layer', 'output', 'params'];
    const width = head.map((h, j) => Math.max(h.length, ...cells.map((c) => c[j].length)));
    const line = (c: string[]): string => c.map((s, j) => (j === 3 ? s.padStart(width[j]) : s.padEnd(width[j]))).join('  ').trimEnd();
    const total = rows.reduce((a, r) => a + r.params, 0);
    return [
      `${title}: input [${inShape.join(', ')}]`,
      line(head),
      line(width.map((w) => '-'.repeat(w))),
      ...cells.map(line),
      `total parameters: ${fmt(total)}`,
    ].join('\n');
  }

  describe(): string { return `Sequential(${this.layers.length} layers)`; }

  release(): void {
    for (const t of this.acts) t.dispose();
    this.acts = [];
    for (const l of this.layers) l.release();
  }
  dispose(): void {
    this.release();
    this.releaseTangents();
    for (const l of this.layers) l.dispose();
  }
}
