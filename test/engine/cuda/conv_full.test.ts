// DCGAN-256 critic layers at full size on the GPU, every conv kernel forced in turn, against the CPU twin
// (reductions of 10^4–10^5 terms, grids of thousands of tiles, the split-K choices of real runs). The small
// geometries are in ../ops/conv.test.ts; the check and its tolerances in ../ops/conv_parity.ts. Too big for the
// kernel emulator, which skips them; skipped, saying why, without a GPU.
import { Device } from '../../../lib/engine';
import { forDevices, emulated } from '../devices';
import { ConvGeom, conv2dParity } from '../ops/conv_parity';
import { K4S2P1, K3S1P1 } from '../ops/conv_ref';

// A DCGAN-256 critic conv (k4 s2 p1) at an r×r input: 4096/r channels in (the 1-channel image at 256²), 8192/r out
// (lib/models/dcgan.ts at width 32); layer D1 takes 256².
const criticLayer = (r: number, n: number, note = ''): ConvGeom => ({
  name: `D${Math.log2(512 / r)} at ${r}² (batch ${n}${note})`, n, c: r === 256 ? 1 : 4096 / r, h: r, w: r, k: 8192 / r,
  ...K4S2P1,
});
const full: ConvGeom[] = [
  criticLayer(256, 4, ', the GP test\'s shape'), criticLayer(128, 2), criticLayer(32, 4), criticLayer(8, 8),
  { name: 'cepa2024 k3 s1 at 64² (batch 2)', n: 2, c: 64, h: 64, w: 64, k: 64, ...K3S1P1 },
];

describe('cuda: conv2d at full DCGAN-256 size × every kernel', () => {
  forDevices((emulated ? [] : full).map((gm) => ({
    ops: ['conv2d_forward', 'conv2d_backward_data', 'conv2d_backward_weight'],
    name: `conv2d ${gm.name}: forward, backward-data, backward-weight × every kernel`,
    cuda: (dev: Device) => conv2dParity(dev, gm),
  })));
});
