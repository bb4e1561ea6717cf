// BatchNorm over the channels of [n, c, h, w] (BatchNorm2d) or the features of [n, f] (BatchNorm1d), PyTorch
// semantics: training normalises with the biased batch variance and updates running stats with the unbiased one,
// run = (1 − momentum)·run + momentum·batch. Keras' BatchNormalization(momentum = 0.99, epsilon = 1e-3) is
// momentum 0.01, eps 1e-3 here (KERAS_BN).
// Penalty rules: in training mode the batch statistics couple the samples, so the tangent and pair-backward carry
// their terms (batchNormJvp / batchNormPairBackward kernels); in eval mode the layer is affine per channel. Both
// Jacobians are symmetric (per channel γr(I − 11ᵀ/m − x̂x̂ᵀ/m), or diagonal), so backwardData applies J itself.
import {
  Tensor, Shape, Device, keep, batchNormTrain, batchNormEval, batchNormBackward, batchNormJvp, batchNormPairBackward, mul,
  biasGrad,
} from '../engine';
import { LayerBase, Param, PairNeeds, PairResult, StateBuffer, expectRank, drop, trimPair } from './layer';

export interface BatchNormOptions { momentum?: number; eps?: number; device?: Device }
/** PyTorch defaults. */
export const TORCH_BN = { momentum: 0.1, eps: 1e-5 } as const;
/** Keras defaults (momentum 0.99 in Keras' convention = 0.01 in PyTorch's). */
export const KERAS_BN = { momentum: 0.01, eps: 1e-3 } as const;

export abstract class BatchNorm extends LayerBase {
  abstract readonly rank: number;
  readonly weight: Param;
  readonly bias: Param;
  readonly runningMean: StateBuffer;
  readonly runningVar: StateBuffer;
  readonly momentum: number;
  readonly eps: number;
  /** PyTorch's num_batches_tracked (not used by the math with a fixed momentum; kept for the record). */
  numBatchesTracked = 0;
  /** Cache: the input (borrowed), and in training mode the batch mean and 1/sqrt(var + eps) per channel (owned). */
  x: Tensor | null = null;
  mean: Tensor | null = null;
  invstd: Tensor | null = null;
  /** Whether the cached forward ran in training mode (batch statistics) or eval mode (running statistics). */
  cachedTraining = true;

  constructor(readonly numFeatures: number, o: BatchNormOptions = {}) {
    super();
    const dev = o.device ?? 'cpu';
    this.momentum = o.momentum ?? TORCH_BN.momentum;
    this.eps = o.eps ?? TORCH_BN.eps;
    if (!(this.momentum >= 0 && this.momentum <= 1)) throw new Error(`${new.target.name}: momentum must be in [0, 1], got ${this.momentum}`);
    if (!(this.eps > 0)) throw new Error(`${new.target.name}: eps must be > 0, got ${this.eps}`);
    this.weight = this.addParam('weight', [numFeatures], 'gamma', 1, dev);
    this.bias = this.addParam('bias', [numFeatures], 'beta', 0, dev);
    this.runningMean = this.addBuffer('running_mean', [numFeatures], 0, dev);
    this.runningVar = this.addBuffer('running_var', [numFeatures], 1, dev);
  }

  forward(x: Tensor): Tensor {
    this.outputShape(x.shape);
    this.release();
    this.x = x;
    this.cachedTraining = this.training;
    const g = this.weight.value, b = this.bias.value;
    if (!this.training) return batchNormEval(x, g, b, this.runningMean.value, this.runningVar.value, this.eps);
    const count = x.numel / this.numFeatures;
    if (count < 2) throw new Error(`${this.kind}: training mode needs more than 1 value per channel, got input shape [${x.shape}]`);
    const r = batchNormTrain(x, g, b, this.runningMean.value, this.runningVar.value, this.momentum, this.eps);
    this.mean = keep(r.mean);
    this.invstd = keep(r.invstd);
    this.numBatchesTracked++;
    return r.y;
  }

  backward(dy: Tensor): Tensor {
    const x = this.need(this.x, 'backward');
    if (this.cachedTraining) {
      return batchNormBackward(dy, x, this.weight.value, this.need(this.mean, 'backward'), this.need(this.invstd, 'backward'),
        this.weight.grad, this.bias.grad);
    }
    // Eval mode is affine per channel: y = γ·x̂ + β with x̂ = (x − μ_run)/sqrt(σ²_run + ε), so
    // dx = γ·dy/sqrt(σ²_run + ε) (eval-BN of dy with zero mean and shift), dγ += Σ dy·x̂, dβ += Σ dy.
    const c = [this.numFeatures];
    const zeros = Tensor.zeros(c, x.device), ones = Tensor.full(c, 1, x.device);
    try {
      const xhat = batchNormEval(x, ones, zeros, this.runningMean.value, this.runningVar.value, this.eps);
      const p = mul(dy, xhat);
      biasGrad(p, this.weight.grad);
      biasGrad(dy, this.bias.grad);
      xhat.dispose();
      p.dispose();
      return batchNormEval(dy, this.weight.value, zeros, zeros, this.runningVar.value, this.eps);
    } finally {
      zeros.dispose();
      ones.dispose();
    }
  }

  jvp(xdot: Tensor): Tensor { return this.applyJ(this.keepXdot(xdot), 'jvp'); }
  backwardData(dy: Tensor): Tensor { return this.applyJ(dy, 'backwardData'); }
  pairBackward(ybar: Tensor | null, ydotbar: Tensor, need?: PairNeeds): PairResult {
    const x = this.need(this.x, 'pairBackward'), xdot = this.needXdot();
    if (this.cachedTraining) {
      return trimPair(batchNormPairBackward(ybar, ydotbar, x, xdot, this.weight.value, this.need(this.mean, 'pairBackward'),
        this.need(this.invstd, 'pairBackward'), this.weight.grad, this.bias.grad), need);
    }
    return trimPair(this.evalPairBackward(ybar, ydotbar, x, xdot), need);
  }

  /** J t at the cached forward (training: through the batch statistics; eval: γ s t with s = 1/√(σ²_run + ε)). */
  private applyJ(t: Tensor, what: string): Tensor {
    const x = this.need(this.x, what);
    if (this.cachedTraining) return batchNormJvp(t, x, this.weight.value, this.need(this.mean, what), this.need(this.invstd, what));
    return this.evalScale(t);
  }
  private evalScale(t: Tensor): Tensor {
    const z = Tensor.zeros([this.numFeatures], t.device);
    try { return batchNormEval(t, this.weight.value, z, z, this.runningVar.value, this.eps); } finally { z.dispose(); }
  }
  /** Eval mode, y = γ x̂ + β with x̂ = (x − μ_run) s: γ̄ += Σ ȳ x̂ + Σ ẏ̄ s ẋ, β̄ += Σ ȳ, x̄ = γ s ȳ, ẋ̄ = γ s ẏ̄. */
  private evalPairBackward(ybar: Tensor | null, ydotbar: Tensor, x: Tensor, xdot: Tensor): PairResult {
    const c = [this.numFeatures], dev = x.device;
    const z = Tensor.zeros(c, dev), one = Tensor.full(c, 1, dev);
    const tmp: Tensor[] = [z, one];
    try {
      const sxd = batchNormEval(xdot, one, z, z, this.runningVar.value, this.eps);
      const p = mul(ydotbar, sxd);
      tmp.push(sxd, p);
      biasGrad(p, this.weight.grad);
      if (ybar) {
        const xh = batchNormEval(x, one, z, this.runningMean.value, this.runningVar.value, this.eps);
        const q = mul(ybar, xh);
        tmp.push(xh, q);
        biasGrad(q, this.weight.grad);
        biasGrad(ybar, this.bias.grad);
      }
      return { xbar: ybar ? this.evalScale(ybar) : null, xdotbar: this.evalScale(ydotbar) };
    } finally {
      for (const t of tmp) t.dispose();
    }
  }

  outputShape(s: Shape): number[] {
    expectRank(this.kind, s, this.rank);
    if (s[1] !== this.numFeatures) throw new Error(`${this.kind}: input has ${s[1]} channels, layer expects ${this.numFeatures}`);
    return [...s];
  }
  describe(): string { return `${this.kind}(${this.numFeatures}, eps ${this.eps}, momentum ${this.momentum})`; }
  release(): void {
    this.x = null;
    this.mean = drop(this.mean);
    this.invstd = drop(this.invstd);
  }
}

/** BatchNorm over the features of [n, f] (after a Dense). */
export class BatchNorm1d extends BatchNorm {
  readonly kind = 'BatchNorm1d';
  readonly rank = 2;
}

/** BatchNorm over the channels of [n, c, h, w]. */
export class BatchNorm2d extends BatchNorm {
  readonly kind = 'BatchNorm2d';
  readonly rank = 4;
}
