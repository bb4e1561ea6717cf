// Losses (native/cpu/loss.cc).
import { native } from '../native';
import { Tensor } from '../tensor';

/** Mean BCE-with-logits; grad = (sigmoid(x) − t) / n. */
export function bceWithLogits(logits: Tensor, targets: Tensor): { loss: number; grad: Tensor } {
  const [loss, grad] = native().bceWithLogits(logits.h, targets.h);
  return { loss, grad: new Tensor(grad) };
}

/** bceWithLogits with the loss as a [1] tensor on the logits' device (no host sync; see gatherScalars). */
export function bceWithLogitsTo(logits: Tensor, targets: Tensor): { loss: Tensor; grad: Tensor } {
  const [loss, grad] = native().bceWithLogitsTo(logits.h, targets.h);
  return { loss: new Tensor(loss), grad: new Tensor(grad) };
}
