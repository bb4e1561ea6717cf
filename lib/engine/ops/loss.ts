// Losses (native/cpu/loss.cc).
import { native } from '../native';
import { Tensor } from '../tensor';

/** Mean BCE-with-logits; grad = (sigmoid(x) − t) / n. */
export function bceWithLogits(logits: Tensor, targets: Tensor): { loss: number; grad: Tensor } {
  const [loss, grad] = native().bceWithLogits(logits.h, targets.h);
  return { loss, grad: new Tensor(grad) };
}
