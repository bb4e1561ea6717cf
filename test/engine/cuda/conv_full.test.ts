// DCGAN-256 critic layers at full size on the GPU, every conv kernel forced in turn, against the CPU twin
// (reductions of 10^4–10^5 terms, grids of thousands of tiles, the split-K choices of real runs). The small
// geometries are in ../ops/conv.test.ts; the check and its tolerances in ../ops/conv_parity.ts. Too big for the
// kernel emulator, which skips them; skipped, saying why, without a GPU.
import { Device } from '../../../lib/engine';
import { forDevices, emulated } from '../devices';
import { ConvGeom, conv2dParity } from '../ops/conv_parity';

const full: ConvGeom[] = [
  { name: 'D1 at 256² (batch 4, the GP test\'s shape)', n: 4, c: 1, h: 256, w: 256, k: 32, r: 4, s: 4, stride: [2, 2], pad: [1, 1, 1, 1] },
  { name: 'D2 at 128² (batch 2)', n: 2, c: 32, h: 128, w: 128, k: 64, r: 4, s: 4, stride: [2, 2], pad: [1, 1, 1, 1] },
  { name: 'D4 at 32² (batch 4)', n: 4, c: 128, h: 32, w: 32, k: 256, r: 4, s: 4, stride: [2, 2], pad: [1, 1, 1, 1] },
  { name: 'D6 at 8² (batch 8)', n: 8, c: 512, h: 8, w: 8, k: 1024, r: 4, s: 4, stride: [2, 2], pad: [1, 1, 1, 1] },
  { name: 'cepa2024 k3 s1 at 64² (batch 2)', n: 2, c: 64, h: 64, w: 64, k: 64, r: 3, s: 3, stride: [1, 1], pad: [1, 1, 1, 1] },
];

describe('cuda: conv2d at full DCGAN-256 size × every kernel', () => {
  forDevices((emulated ? [] : full).map((gm) => ({
    ops: ['conv2d_forward', 'conv2d_backward_data', 'conv2d_backward_weight'],
    name: `conv2d ${gm.name}: forward, backward-data, backward-weight × every kernel`,
    cuda: (dev: Device) => conv2dParity(dev, gm),
  })));
});
