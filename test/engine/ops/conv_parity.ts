// CUDA parity of the conv ops for one geometry, under the automatic kernel choice and then each kernel forced
// (C.convAlgos(): direct, SIMT tiles, TF32 tiles), against the CPU twin with the mag rule of ../devices.ts
// (rel 2e-5 fp32, 4e-3 TF32). Used by conv.test.ts (small geometries) and ../cuda/conv_full.test.ts (full-size
// DCGAN-256 layers).
import * as E from '../../../lib/engine';
import { Device } from '../../../lib/engine';
import * as C from '../../../lib/engine/cuda';
import { both, abs, closeMag } from '../devices';

export interface ConvGeom {
  name: string; n: number; c: number; h: number; w: number; k: number; r: number; s: number;
  stride: [number, number]; pad: [number, number, number, number];
}
export interface ConvTGeom {
  name: string; n: number; cin: number; cout: number; p: number; q: number; r: number; s: number;
  stride: [number, number]; pad: [number, number, number, number]; op: [number, number];
}

/** Each kernel variant in turn: -1 is the automatic choice; rel is 4e-3 for the TF32 ones. */
function eachAlgo(f: (name: string, rel: number) => void): void {
  const algos = C.convAlgos();
  for (let a = -1; a < algos.length; a++) {
    const name = a < 0 ? 'auto' : algos[a], rel = /tf32/.test(name) ? 4e-3 : 2e-5;
    for (let pass = 0; pass < 3; pass++) C.setConvAlgo(pass, a);
    f(name, rel);
  }
}

export function conv2dParity(dev: Device, gm: ConvGeom): void {
  const opts = { stride: gm.stride, padding: gm.pad };
  const p = Math.floor((gm.h + gm.pad[0] + gm.pad[1] - gm.r) / gm.stride[0]) + 1;
  const q = Math.floor((gm.w + gm.pad[2] + gm.pad[3] - gm.s) / gm.stride[1]) + 1;
  const x = both(dev, [gm.n, gm.c, gm.h, gm.w], 200), w = both(dev, [gm.k, gm.c, gm.r, gm.s], 201), b = both(dev, [gm.k], 202);
  const dy = both(dev, [gm.n, gm.k, p, q], 203), dw0 = both(dev, [gm.k, gm.c, gm.r, gm.s], 204);
  const y = E.conv2dForward(x.c, w.c, b.c, opts).toFloat32Array();
  const yMag = E.conv2dForward(abs(x.c), abs(w.c), abs(b.c), opts).toFloat32Array();
  const dx = E.conv2dBackwardData(dy.c, w.c, x.c.shape, opts).toFloat32Array();
  const dxMag = E.conv2dBackwardData(abs(dy.c), abs(w.c), x.c.shape, opts).toFloat32Array();
  const dwc = dw0.c.clone();
  E.conv2dBackwardWeight(dy.c, x.c, dwc, opts);
  const dwMag = abs(dw0.c);
  E.conv2dBackwardWeight(abs(dy.c), abs(x.c), dwMag, opts);
  eachAlgo((name, rel) => {
    closeMag(E.conv2dForward(x.g, w.g, b.g, opts).toFloat32Array(), y, yMag, rel, `${name} forward`);
    closeMag(E.conv2dBackwardData(dy.g, w.g, x.c.shape, opts).toFloat32Array(), dx, dxMag, rel, `${name} backward-data`);
    const dwg = dw0.g.clone();
    E.conv2dBackwardWeight(dy.g, x.g, dwg, opts);
    closeMag(dwg.toFloat32Array(), dwc.toFloat32Array(), dwMag.toFloat32Array(), rel, `${name} backward-weight`);
    dwg.dispose();
  });
}

export function convTranspose2dParity(dev: Device, t: ConvTGeom): void {
  const o = { stride: t.stride, padding: t.pad, outputPadding: t.op };
  const x = both(dev, [t.n, t.cin, t.p, t.q], 210), w = both(dev, [t.cin, t.cout, t.r, t.s], 211), b = both(dev, [t.cout], 212);
  const y = E.convTranspose2dForward(x.c, w.c, b.c, o);
  const yMag = E.convTranspose2dForward(abs(x.c), abs(w.c), abs(b.c), o).toFloat32Array();
  const dy = both(dev, y.shape, 213), dw0 = both(dev, w.c.shape, 214);
  const dx = E.convTranspose2dBackwardData(dy.c, w.c, o).toFloat32Array();
  const dxMag = E.convTranspose2dBackwardData(abs(dy.c), abs(w.c), o).toFloat32Array();
  const dwc = dw0.c.clone(), dwMag = abs(dw0.c);
  E.convTranspose2dBackwardWeight(dy.c, x.c, dwc, o);
  E.convTranspose2dBackwardWeight(abs(dy.c), abs(x.c), dwMag, o);
  eachAlgo((name, rel) => {
    closeMag(E.convTranspose2dForward(x.g, w.g, b.g, o).toFloat32Array(), y.toFloat32Array(), yMag, rel, `${name} forward`);
    closeMag(E.convTranspose2dBackwardData(dy.g, w.g, o).toFloat32Array(), dx, dxMag, rel, `${name} backward-data`);
    const dwg = dw0.g.clone();
    E.convTranspose2dBackwardWeight(dy.g, x.g, dwg, o);
    closeMag(dwg.toFloat32Array(), dwc.toFloat32Array(), dwMag.toFloat32Array(), rel, `${name} backward-weight`);
  });
}
