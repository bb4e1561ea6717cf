// native/cpu/blas64.cc picks its vector width from the build's ISA (AVX-512, AVX2, or the portable 2-wide path):
// the addon exercises only the host's. This compiles the kernels three ways with g++ (portable x86-64, AVX2+FMA,
// -march=native) beside a driver (blas64_isa.cc) that checks them against float64 loops, so the paths this host's
// addon never runs stay correct. Skipped without g++.
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.resolve(__dirname, '..', '..', '..');
const hasGxx = spawnSync('g++', ['--version']).status === 0;

describe('native blas64 on every vector ISA path (g++ builds of the kernels)', function () {
  this.timeout(240000);
  const flags: [string, string[], number][] = [['portable', ['-mno-avx'], 2], ['avx2', ['-mavx2', '-mfma'], 4], ['native', ['-march=native'], 0]];
  for (const [name, isa, vd] of flags) {
    it(`${name}: dgemm, dgemv and dsymv match float64 loops`, function () {
      if (!hasGxx) this.skip();
      const exe = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mrigan-blas64-')), 'isa');
      const cc = spawnSync('g++', ['-std=c++17', '-O2', '-fno-math-errno', ...isa, `-I${path.join(root, 'native')}`, '-o', exe,
        path.join(root, 'test', 'metrics', 'blas64_isa.cc'), path.join(root, 'native', 'cpu', 'blas64.cc')], { encoding: 'utf8' });
      expect(cc.status, cc.stderr).to.equal(0);
      const r = spawnSync(exe, { encoding: 'utf8' });
      fs.rmSync(path.dirname(exe), { recursive: true, force: true });
      expect(r.status, `${name}: ${r.stdout}${r.stderr}`).to.equal(0);
      const [width] = r.stdout.trim().split(' ').map(Number);
      if (vd) expect(width, 'vector width of this build').to.equal(vd);
    });
  }
});
