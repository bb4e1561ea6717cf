// safetensors: round trip through our writer and reader, the file read by an independent parser written here from
// the format's description, bad files rejected with clear errors, atomic writes, model save/load.
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Tensor } from '../../lib/engine';
import {
  Sequential, Conv2d, BatchNorm2d, Dense, Flatten, encodeSafetensors, decodeSafetensors, writeSafetensors, readSafetensors,
  saveTensors, loadTensorsInto, saveModel, loadModel, hostF32, hostI64, asF32, HostTensor,
} from '../../lib/nn';
import { randArray } from '../helpers';

/** An independent reader: u64 LE length, JSON, raw LE data; returns name → {dtype, shape, values as numbers}. */
function plainParse(buf: Buffer): { meta: Record<string, string>; t: Record<string, { dtype: string; shape: number[]; values: number[] }> } {
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  const t: Record<string, { dtype: string; shape: number[]; values: number[] }> = {};
  for (const [k, v] of Object.entries<{ dtype: string; shape: number[]; data_offsets: [number, number] }>(header)) {
    if (k === '__metadata__') continue;
    const [b, e] = v.data_offsets;
    const values: number[] = [];
    for (let p = 8 + n + b; p < 8 + n + e; p += v.dtype === 'F32' ? 4 : 8)
      values.push(v.dtype === 'F32' ? buf.readFloatLE(p) : Number(buf.readBigInt64LE(p)));
    t[k] = { dtype: v.dtype, shape: v.shape, values };
  }
  return { meta: header.__metadata__ ?? {}, t };
}

/** A hand-made file: entries given as header JSON and a data buffer (to build bad files). */
function rawFile(header: unknown, data: Buffer): Buffer {
  const j = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(j.length));
  return Buffer.concat([len, j, data]);
}

describe('nn safetensors', () => {
  let dir: string;
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mrigan-st-')); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes the documented layout and reads it back', () => {
    const a = randArray(6, 1), b = randArray(5, 2);
    const m = new Map<string, HostTensor>([['a', hostF32(a, [2, 3])], ['b.c', hostF32(b, [5])], ['n', hostI64(BigInt64Array.of(-3n), [])], ['e', hostF32(new Float32Array(0), [0, 4])]]);
    const buf = encodeSafetensors(m, { format: 'pt', note: 'ü' });
    const hlen = Number(buf.readBigUInt64LE(0));
    expect((8 + hlen) % 8, 'data starts 8-byte aligned').to.equal(0);
    const head = buf.subarray(8, 8 + hlen).toString();
    expect(head.trimEnd().endsWith('}') && /^[^ ]*\} *$/.test(head.slice(head.lastIndexOf('}'))), 'padded with spaces').to.equal(true);
    expect(buf.length).to.equal(8 + hlen + 24 + 20 + 8);
    const p = plainParse(buf);
    expect(p.meta).to.deep.equal({ format: 'pt', note: 'ü' });
    expect(p.t.a).to.deep.equal({ dtype: 'F32', shape: [2, 3], values: Array.from(a) });
    expect(p.t['b.c'].values).to.deep.equal(Array.from(b));
    expect(p.t.n).to.deep.equal({ dtype: 'I64', shape: [], values: [-3] });
    expect(p.t.e).to.deep.equal({ dtype: 'F32', shape: [0, 4], values: [] });
    const f = decodeSafetensors(buf);
    expect([...f.tensors.keys()]).to.deep.equal(['a', 'b.c', 'n', 'e']);
    expect(Array.from(asF32(f.tensors.get('a')!))).to.deep.equal(Array.from(a));
    expect(f.metadata.note).to.equal('ü');
  });

  it('reads a file written by another writer (hand-built, tensors out of order)', () => {
    const data = Buffer.alloc(12);
    data.writeFloatLE(1.5, 0); data.writeFloatLE(-2, 4); data.writeFloatLE(7, 8);
    const f = decodeSafetensors(rawFile({ y: { dtype: 'F32', shape: [1], data_offsets: [8, 12] }, x: { dtype: 'F32', shape: [2, 1], data_offsets: [0, 8] } }, data));
    expect(Array.from(asF32(f.tensors.get('x')!))).to.deep.equal([1.5, -2]);
    expect(Array.from(asF32(f.tensors.get('y')!))).to.deep.equal([7]);
  });

  it('rejects bad files with errors that say what is wrong', () => {
    const ok = { x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
    const bad = (buf: Buffer, re: RegExp): void => { expect(() => decodeSafetensors(buf, 'f.safetensors')).to.throw(re); };
    bad(Buffer.alloc(5), /f\.safetensors: truncated: 5 bytes/);
    bad(rawFile(ok, Buffer.alloc(8)).subarray(0, 20), /truncated: the header needs/);
    bad(rawFile(ok, Buffer.alloc(6)), /truncated: tensor 'x' ends at data byte 8 but the data section has only 6/);
    bad(rawFile(ok, Buffer.alloc(12)), /4 bytes after the last tensor/);
    bad(Buffer.concat([Buffer.from([3, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{x}')]), /header is not valid JSON/);
    const huge = Buffer.alloc(16); huge.writeBigUInt64LE(1n << 40n);
    bad(huge, /over the format's 100 MB limit/);
    bad(rawFile({ x: { dtype: 'F31', shape: [2], data_offsets: [0, 8] } }, Buffer.alloc(8)), /tensor 'x': unknown dtype "F31"/);
    bad(rawFile({ x: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, Buffer.alloc(8)), /needs 12 bytes, data_offsets span 8/);
    bad(rawFile({ x: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, Buffer.alloc(8)), /shape must be an array of non-negative integers/);
    bad(rawFile({ x: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, y: { dtype: 'F32', shape: [1], data_offsets: [2, 6] } }, Buffer.alloc(6)), /overlaps/);
    bad(rawFile({ x: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, Buffer.alloc(8)), /data bytes 0\.\.4 belong to no tensor/);
    bad(rawFile({ __metadata__: { a: 1 } }, Buffer.alloc(0)), /__metadata__\.a must be a string/);
    expect(() => encodeSafetensors(new Map([['x', hostF32(new Float32Array(3), [2])]]))).to.throw(/needs 8 bytes, data has 12/);
  });

  it('writes atomically and loads into tensors with name, shape and dtype checks', () => {
    const file = path.join(dir, 't.safetensors');
    const w = Tensor.fromArray(randArray(6, 3), [2, 3]), b = Tensor.fromArray(randArray(2, 4), [2]);
    saveTensors(file, new Map([['w', w], ['b', b]]), { step: '3' });
    expect(fs.readdirSync(dir)).to.deep.equal(['t.safetensors']);
    const w2 = Tensor.zeros([2, 3]), b2 = Tensor.zeros([2]);
    const f = loadTensorsInto(file, new Map([['w', w2], ['b', b2]]));
    expect(f.metadata).to.deep.equal({ step: '3' });
    expect(w2.toArray()).to.deep.equal(w.toArray());
    expect(b2.toArray()).to.deep.equal(b.toArray());
    const z = Tensor.zeros([2, 3]);
    expect(() => loadTensorsInto(file, new Map([['w', Tensor.zeros([3, 2])], ['b', b2]]))).to.throw(/t\.safetensors: tensor 'w' has shape \[2,3\], the model needs \[3,2\]/);
    expect(() => loadTensorsInto(file, new Map([['w', z], ['b', b2], ['c', z]]))).to.throw(/missing tensors c/);
    expect(() => loadTensorsInto(file, new Map([['w', z]]))).to.throw(/unexpected tensors b/);
    expect(z.toArray().every((v) => v === 0), 'nothing copied on error').to.equal(true);
    loadTensorsInto(file, new Map([['w', z]]), { allowUnexpected: true });
    expect(z.toArray()).to.deep.equal(w.toArray());
    const f64file = path.join(dir, 'd.safetensors');
    fs.writeFileSync(f64file, rawFile({ w: { dtype: 'F64', shape: [2], data_offsets: [0, 16] } }, Buffer.alloc(16)));
    expect(() => loadTensorsInto(f64file, new Map([['w', Tensor.zeros([2])]]))).to.throw(/tensor 'w' has dtype F64; mrigan loads F32 only/);
    const trunc = path.join(dir, 'trunc.safetensors');
    fs.writeFileSync(trunc, fs.readFileSync(file).subarray(0, fs.statSync(file).size - 3));
    expect(() => readSafetensors(trunc)).to.throw(/trunc\.safetensors: truncated/);
    // a failed write leaves the old file and no temporary behind
    expect(() => writeSafetensors(file, new Map([['x', hostF32(new Float32Array(1), [2])]]))).to.throw(/needs 8 bytes/);
    expect(fs.readdirSync(dir).filter((n) => n.includes('.tmp'))).to.deep.equal([]);
    expect(readSafetensors(file).tensors.has('w')).to.equal(true);
    fs.rmSync(f64file); fs.rmSync(trunc);
  });

  it('saves a model with PyTorch state_dict names (I64 num_batches_tracked) and loads it into a fresh one', () => {
    const mk = (): Sequential => new Sequential([new Conv2d(1, 2, 3, { padding: 1 }), new BatchNorm2d(2), new Flatten(), new Dense(32, 1)]);
    const a = mk();
    a.params().forEach((p, i) => p.value.copyFrom(Tensor.fromArray(randArray(p.value.numel, 30 + i), p.value.shape)));
    a.forward(Tensor.fromArray(randArray(32, 9), [2, 1, 4, 4]));
    a.forward(Tensor.fromArray(randArray(32, 10), [2, 1, 4, 4]));
    const file = path.join(dir, 'm.safetensors');
    saveModel(file, a, { arch: 'toy' });
    const p = plainParse(fs.readFileSync(file));
    expect(Object.keys(p.t)).to.deep.equal(['0.weight', '0.bias', '1.weight', '1.bias', '3.weight', '3.bias', '1.running_mean', '1.running_var', '1.num_batches_tracked']);
    expect(p.t['1.num_batches_tracked']).to.deep.equal({ dtype: 'I64', shape: [], values: [2] });
    const b = mk();
    expect(loadModel(file, b)).to.deep.equal({ arch: 'toy' });
    for (const [k, t] of a.stateDict()) expect(b.stateDict().get(k)!.toArray(), k).to.deep.equal(t.toArray());
    expect((b.layers[1] as BatchNorm2d).numBatchesTracked).to.equal(2);
    const other = new Sequential([new Conv2d(1, 3, 3, { padding: 1 }), new BatchNorm2d(3), new Flatten(), new Dense(48, 1)]);
    expect(() => loadModel(file, other)).to.throw(/'0.weight' has shape \[2,1,3,3\], the model needs \[3,1,3,3\]/);
  });
});
