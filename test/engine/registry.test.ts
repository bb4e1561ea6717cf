// The op registry (native/core/ops.def; native/cpu/ops.def before it moved) against what is built and tested. For
// every MRIGAN_OP(ret, c_name, …): (a) the addon exports camelCase(c_name) as a function, (b) lib/engine exports a
// wrapper of that name, (c) a CPU case against float64 and (d) a CUDA parity case are declared for it in the case
// tables (test/engine/devices.ts; (d) is checked as declared, so this runs without a GPU). A failure lists one line
// per missing item. Also: native/cuda never includes native/cpu.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { execFileSync } from 'child_process';
import * as E from '../../lib/engine';
import { native } from '../../lib/engine/native';

const root = path.resolve(__dirname, '..', '..', '..');

/** snake_case → camelCase, digits kept: conv_transpose2d_backward_data → convTranspose2dBackwardData. */
export const camelCase = (s: string): string => s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** The op names of the registry, in order, with the file they came from. */
export function registryOps(): { file: string; ops: string[] } {
  const file = ['native/core/ops.def', 'native/cpu/ops.def'].map((f) => path.join(root, f)).find((f) => fs.existsSync(f));
  if (!file) throw new Error(`no op registry: neither native/core/ops.def nor native/cpu/ops.def under ${root}`);
  const text = fs.readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
  const ops = [...text.matchAll(/\bMRIGAN_OP\s*\(\s*[^,()]+,\s*([A-Za-z_][A-Za-z0-9_]*)\s*,/g)].map((m) => m[1]);
  return { file: path.relative(root, file), ops };
}

type Declared = { op: string; kind: 'cpu' | 'cuda'; name: string }[];
/** The cases the test files declare (a child process loads them with stand-ins for mocha: see collect_cases.ts). */
function declaredCases(): { files: string[]; declared: Declared } {
  const out = execFileSync(process.execPath, [path.join(__dirname, 'collect_cases.js')], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return JSON.parse(out);
}

/** One line per missing item, for the ops of the registry. */
export function missingItems(ops: string[], addon: Record<string, unknown>, engine: Record<string, unknown>, declared: Declared): string[] {
  const have = (kind: 'cpu' | 'cuda'): Set<string> => new Set(declared.filter((d) => d.kind === kind).map((d) => d.op));
  const cpu = have('cpu'), cuda = have('cuda'), missing: string[] = [];
  for (const op of ops) {
    const js = camelCase(op);
    if (typeof addon[js] !== 'function') missing.push(`${op}: the addon does not export ${js}()`);
    if (typeof engine[js] !== 'function') missing.push(`${op}: lib/engine does not export a wrapper ${js}()`);
    if (!cpu.has(op)) missing.push(`${op}: no CPU case against float64 declares it (opCase/forDevices with ops: ['${op}'] and cpu)`);
    if (!cuda.has(op)) missing.push(`${op}: no CUDA parity case declares it (opCase/forDevices with ops: ['${op}'] and cuda)`);
  }
  const known = new Set(ops);
  const unknown = new Map<string, string[]>();
  for (const d of declared) if (!known.has(d.op)) unknown.set(d.op, [...(unknown.get(d.op) ?? []), d.name]);
  for (const [op, names] of unknown) missing.push(`${op}: declared by ${names.length} case(s) (e.g. '${names[0]}') but not in the registry`);
  return [...new Set(missing)];
}

describe('op registry', function () {
  this.timeout(60000);

  it('names are parsed from the registry, and camelCase follows the rule', () => {
    const { file, ops } = registryOps();
    expect(ops.length, `ops in ${file}`).to.be.at.least(30);
    expect(new Set(ops).size, `duplicate names in ${file}`).to.equal(ops.length);
    for (const op of ['conv2d_forward', 'gp_norm_v', 'adam_step']) expect(ops, file).to.include(op);
    expect(ops, `${file}: the header comment is not an op`).to.not.include('name');
    expect(camelCase('conv2d_forward')).to.equal('conv2dForward');
    expect(camelCase('conv_transpose2d_backward_data')).to.equal('convTranspose2dBackwardData');
    expect(camelCase('gp_norm_v')).to.equal('gpNormV');
    expect(camelCase('batch_norm_forward_train')).to.equal('batchNormForwardTrain');
  });

  it('the check names what is missing, one line each', () => {
    const addon = { fooBar: () => 0 }, engine = { fooBar: () => 0, bazQux: 1 };
    const lines = missingItems(['foo_bar', 'baz_qux'], addon, engine, [{ op: 'foo_bar', kind: 'cpu', name: 'a' }, { op: 'nope', kind: 'cuda', name: 'b' }]);
    expect(lines).to.deep.equal([
      "foo_bar: no CUDA parity case declares it (opCase/forDevices with ops: ['foo_bar'] and cuda)",
      'baz_qux: the addon does not export bazQux()',
      'baz_qux: lib/engine does not export a wrapper bazQux()',
      "baz_qux: no CPU case against float64 declares it (opCase/forDevices with ops: ['baz_qux'] and cpu)",
      "baz_qux: no CUDA parity case declares it (opCase/forDevices with ops: ['baz_qux'] and cuda)",
      "nope: declared by 1 case(s) (e.g. 'b') but not in the registry",
    ]);
  });

  it('every op: addon export, lib/engine wrapper, a CPU case against float64, a CUDA parity case', () => {
    const { file, ops } = registryOps();
    const { files, declared } = declaredCases();
    expect(files.length, 'test files found under dist/test/engine').to.be.at.least(10);
    const missing = missingItems(ops, native() as unknown as Record<string, unknown>, E as unknown as Record<string, unknown>, declared);
    if (missing.length) expect.fail(`${file}: ${missing.length} missing\n      ${missing.join('\n      ')}`);
  });

  it('nothing in native/cuda includes native/cpu (what both need lives in native/core)', () => {
    const dir = path.join(root, 'native', 'cuda');
    const bad = fs.readdirSync(dir).filter((f) => fs.statSync(path.join(dir, f)).isFile() &&
      /#include\s+"cpu\//.test(fs.readFileSync(path.join(dir, f), 'utf8')));
    expect(bad, 'native/cuda files including cpu/').to.deep.equal([]);
  });
});
