// Adam over a parameter list, one native call per step (torch.optim.Adam semantics: bias correction, L2 weight
// decay added to the gradient, step counted from 1). GAN defaults β1 = 0.5, β2 = 0.999; eps 1e-8 (PyTorch).
// State (m = exp_avg, v = exp_avg_sq, step) is exported/imported by parameter name for checkpoints.
import { Tensor, keep, fill, adamStep } from '../engine';
import { Param } from './layer';

export interface AdamOptions { lr: number; beta1?: number; beta2?: number; eps?: number; weightDecay?: number }

export interface AdamState {
  step: number;
  /** `<param name>.exp_avg` and `<param name>.exp_avg_sq` (the optimizer owns them; copy before disposing it). */
  tensors: Map<string, Tensor>;
}

export class Adam {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Steps taken so far (the next step() uses steps + 1 for bias correction). */
  steps = 0;
  readonly params: Param[];
  readonly m: Tensor[];
  readonly v: Tensor[];

  constructor(params: Param[], o: AdamOptions) {
    this.params = params;
    this.lr = o.lr;
    this.beta1 = o.beta1 ?? 0.5;
    this.beta2 = o.beta2 ?? 0.999;
    this.eps = o.eps ?? 1e-8;
    this.weightDecay = o.weightDecay ?? 0;
    const bad = (what: string, v: number, ok: boolean): void => {
      if (!ok) throw new Error(`Adam: ${what} out of range: ${v}`);
    };
    bad('lr', this.lr, this.lr >= 0 && Number.isFinite(this.lr));
    bad('beta1', this.beta1, this.beta1 >= 0 && this.beta1 < 1);
    bad('beta2', this.beta2, this.beta2 >= 0 && this.beta2 < 1);
    bad('eps', this.eps, this.eps >= 0 && Number.isFinite(this.eps));
    bad('weightDecay', this.weightDecay, this.weightDecay >= 0 && Number.isFinite(this.weightDecay));
    const names = new Set<string>();
    for (const p of params) {
      if (names.has(p.name)) throw new Error(`Adam: parameter name '${p.name}' appears twice`);
      names.add(p.name);
    }
    this.m = params.map((p) => keep(Tensor.zeros(p.value.shape, p.value.device)));
    this.v = params.map((p) => keep(Tensor.zeros(p.value.shape, p.value.device)));
  }

  /** One update of every parameter from its current grad. */
  step(): void {
    if (!this.params.length) return;
    this.steps++;
    adamStep(this.params.map((p) => p.value), this.params.map((p) => p.grad), this.m, this.v,
      { lr: this.lr, beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: this.weightDecay, step: this.steps });
  }

  /** Sets every parameter grad to 0. */
  zeroGrad(): void { for (const p of this.params) fill(p.grad, 0); }

  exportState(): AdamState {
    const tensors = new Map<string, Tensor>();
    this.params.forEach((p, i) => {
      tensors.set(`${p.name}.exp_avg`, this.m[i]);
      tensors.set(`${p.name}.exp_avg_sq`, this.v[i]);
    });
    return { step: this.steps, tensors };
  }

  /** Copies a saved state in (checks every name and shape first; changes nothing on error). */
  importState(s: AdamState): void {
    if (!Number.isInteger(s.step) || s.step < 0) throw new Error(`Adam.importState: step must be an integer >= 0, got ${s.step}`);
    const want = this.exportState().tensors;
    for (const [name, t] of want) {
      const src = s.tensors.get(name);
      if (!src) throw new Error(`Adam.importState: missing '${name}'`);
      if (src.shape.join() !== t.shape.join())
        throw new Error(`Adam.importState: '${name}' has shape [${src.shape}], the parameter needs [${t.shape}]`);
    }
    for (const name of s.tensors.keys()) if (!want.has(name)) throw new Error(`Adam.importState: unexpected '${name}'`);
    for (const [name, t] of want) t.copyFrom(s.tensors.get(name)!);
    this.steps = s.step;
  }

  dispose(): void {
    for (const t of [...this.m, ...this.v]) t.dispose();
  }
}
