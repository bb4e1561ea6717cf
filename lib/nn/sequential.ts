// Sequential: runs layers in order. Parameter and buffer names are PyTorch nn.Sequential's: `<index>.<name>`
// (nested: `2.0.weight`), so a state exchanged through safetensors loads into the same PyTorch nn.Sequential.
//
// Ownership: forward borrows x and returns the last layer's output (owned by the caller, who keeps it alive until
// backward is done). The intermediate activations are owned by the Sequential and kept until the next forward,
// release() or dispose(), because layers cache borrowed references to them (backward, jvp and pairBackward use
// them). backward borrows dy, frees each intermediate gradient as soon as the layer below has consumed it, and
// returns dx of the first layer (owned by the caller).
import { Tensor, Shape, keep } from '../engine';
import { Layer, LayerBase, Param, StateBuffer } from './layer';
import { BatchNorm } from './norm';

export interface SummaryRow { index: string; layer: string; output: number[]; params: number }

export class Sequential extends LayerBase {
  readonly kind = 'Sequential';
  readonly layers: Layer[];
  /** Cache (owned): outputs of layers 0..n−2 of the last forward; acts[i] is the input of layer i + 1. */
  acts: Tensor[] = [];

  constructor(layers: Layer[]) {
    super();
    this.layers = layers;
  }

  forward(x: Tensor): Tensor {
    this.release();
    let h = x;
    this.layers.forEach((l, i) => {
      h = l.forward(h);
      if (i < this.layers.length - 1) this.acts.push(keep(h));
    });
    return h;
  }

  backward(dy: Tensor): Tensor {
    let g = dy;
    for (let i = this.layers.length - 1; i >= 0; i--) {
      const gi = this.layers[i].backward(g);
      if (g !== dy) g.dispose();
      g = gi;
    }
    return g === dy ? dy.reshape(dy.shape) : g;
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
    for (const l of this.layers) l.dispose();
  }
}
