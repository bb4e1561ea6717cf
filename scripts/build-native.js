#!/usr/bin/env node
// Builds build/Release/mrigan.node: cmake-js (CPU + CUDA when nvcc is found + MPI when found), else node-gyp (CPU).
// Offline: node-addon-api headers come from node_modules. Run by `npm install`; `--force` rebuilds.
// Environment: CMAKE_CUDA_ARCHITECTURES (default 80;90), MRIGAN_NO_CUDA=1, MRIGAN_SANITIZE=1, MRIGAN_BUILD_DIR.
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const out = process.env.MRIGAN_BUILD_DIR || 'build';
const target = path.join(root, out, 'Release', 'mrigan.node');
if (!process.argv.includes('--force') && fs.existsSync(target)) {
  console.log(`mrigan: ${path.relative(root, target)} exists (npm run build:native to rebuild)`);
  process.exit(0);
}
const bin = (name) => path.join(root, 'node_modules', '.bin', name);
const run = (cmd, args) => spawnSync(cmd, args, { cwd: root, stdio: 'inherit' }).status === 0;

const defs = [];
if (process.env.CMAKE_CUDA_ARCHITECTURES) defs.push(`--CDCMAKE_CUDA_ARCHITECTURES=${process.env.CMAKE_CUDA_ARCHITECTURES}`);
if (process.env.MRIGAN_NO_CUDA) defs.push('--CDMRIGAN_NO_CUDA=ON');
if (process.env.MRIGAN_SANITIZE) defs.push('--CDMRIGAN_SANITIZE=ON');
if (process.env.MRIGAN_PORTABLE) defs.push('--CDMRIGAN_NATIVE=OFF');
const hasCmake = spawnSync('cmake', ['--version'], { stdio: 'ignore' }).status === 0;
if (hasCmake && run(bin('cmake-js'), ['compile', '-O', out, ...defs])) process.exit(0);
console.warn(hasCmake ? 'mrigan: cmake-js build failed, trying node-gyp (CPU only)' : 'mrigan: no cmake, building CPU-only with node-gyp');
process.exit(run(bin('node-gyp'), ['rebuild', '--nodedir=/usr']) ? 0 : 1);
