// The op registry's naming rule (native/core/ops.def): every MRIGAN_OP(ret, c_name, …) is exported by the addon as
// camelCase(c_name) and by lib/engine (top level) as a TypeScript function of exactly that name. The list is read
// from the file itself, so a new op without its binding or wrapper fails here.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import * as engine from '../../../lib/engine';
import { nativeUnchecked } from '../../../lib/engine/native';

const root = path.resolve(__dirname, '..', '..', '..', '..');  // dist/test/engine/ops → package root
const camel = (s: string): string => s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

function registryOps(): string[] {
  const text = fs.readFileSync(path.join(root, 'native', 'core', 'ops.def'), 'utf8');
  const ops: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*MRIGAN_OP\(\s*[^,]+,\s*([a-z0-9_]+)\s*,/.exec(line);
    if (m) ops.push(m[1]);
  }
  return ops;
}

describe('op registry (native/core/ops.def)', () => {
  const ops = registryOps();

  it('camelCase keeps digits and joins words', () => {
    expect(camel('conv2d_forward')).to.equal('conv2dForward');
    expect(camel('conv_transpose2d_backward_data')).to.equal('convTranspose2dBackwardData');
    expect(camel('gp_norm_v')).to.equal('gpNormV');
  });

  it('lists every op once, the fused convs and device scalars included', () => {
    expect(ops.length).to.be.greaterThan(40);
    expect(new Set(ops).size).to.equal(ops.length);
    for (const op of ['conv2d_forward_act', 'conv_transpose2d_forward_act', 'sum_to', 'mean_to', 'gather_scalars',
      'bce_with_logits_to', 'gp_norm_v_to', 'gemm', 'batch_norm_forward_train'])
      expect(ops, op).to.include(op);
  });

  it('the addon exports camelCase(op) for every op', () => {
    const addon = nativeUnchecked();
    const missing = ops.filter((op) => typeof addon[camel(op)] !== 'function');
    expect(missing, 'ops without an addon export').to.deep.equal([]);
  });

  it('lib/engine exports a wrapper of the same name for every op', () => {
    const e = engine as unknown as Record<string, unknown>;
    const missing = ops.filter((op) => typeof e[camel(op)] !== 'function');
    expect(missing, 'ops without a lib/engine wrapper').to.deep.equal([]);
  });

  it('nothing in native/cuda includes native/cpu', () => {
    const dir = path.join(root, 'native', 'cuda');
    const bad: string[] = [];
    for (const f of fs.readdirSync(dir)) {
      const p = path.join(dir, f);
      if (!fs.statSync(p).isFile()) continue;
      if (/#include\s+"cpu\//.test(fs.readFileSync(p, 'utf8'))) bad.push(f);
    }
    expect(bad).to.deep.equal([]);
  });
});
