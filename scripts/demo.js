#!/usr/bin/env node
// npm run demo: the whole pipeline on the embedded default data, in a few minutes on a laptop CPU (a GPU is used
// when present): procedural BraTS-layout phantoms → mrigan prepare (64×64 FLAIR slices) → mrigan train (DCGAN,
// narrow 64×64 network, time-limited) → sample grid and loss curve in demo-out/.
// Environment: DEMO_SECONDS (training time budget, default 300), DEMO_SUBJECTS (default 6).
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const out = path.join(root, 'demo-out');
const cli = path.join(root, 'dist', 'lib', 'cli', 'main.js');
const seconds = Number(process.env.DEMO_SECONDS || 300);
const subjects = Number(process.env.DEMO_SUBJECTS || 6);

function mrigan(args) {
  console.log(`\n$ mrigan ${args.join(' ')}`);
  const r = spawnSync(process.execPath, [cli, ...args], { stdio: 'inherit', cwd: root });
  if (r.status !== 0) {
    console.error(`demo: 'mrigan ${args[0]}' failed (exit ${r.status ?? r.signal})`);
    process.exit(1);
  }
}

fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });
const rel = (p) => path.relative(root, p);
const brats = path.join(out, 'phantoms'), data = path.join(out, 'phantom-flair-64.mrigan'), run = path.join(out, 'run');

mrigan(['info']);
mrigan(['phantom', '--subjects', String(subjects), '--contrasts', 'flair', '--out', rel(brats), '--quiet']);
mrigan(['prepare', '--brats', rel(brats), '--contrasts', 'flair', '--slices', '40-119', '--size', '64', '--fit', 'resize',
  '--out', rel(data), '--preview', rel(path.join(out, 'real.png'))]);
mrigan(['train', '--data', rel(data), '--model', 'dcgan', '--arch', 'dcgan', '--width', '8', '--batch', '32', '--lr', '2e-4',
  '--epochs', '200', '--time-limit', String(seconds), '--seed', '1', '--out', rel(run)]);

const samples = path.join(run, 'samples');
const grids = fs.readdirSync(samples).filter((f) => /^grid-\d+\.png$/.test(f)).sort();
const last = grids[grids.length - 1];
fs.copyFileSync(path.join(samples, last), path.join(out, 'samples.png'));
fs.copyFileSync(path.join(run, 'loss.png'), path.join(out, 'loss.png'));
console.log(`
demo done. Look at:
  ${rel(path.join(out, 'samples.png'))}   8×8 generated slices after ${grids.length} epoch(s) (fixed noise; all epochs: ${rel(samples)}/grid-NNN.png)
  ${rel(path.join(out, 'real.png'))}      real (phantom) training slices, for comparison
  ${rel(path.join(out, 'loss.png'))}      discriminator (red) and generator (blue) loss per step
  ${rel(path.join(run, 'metrics.jsonl'))}   per-step and per-epoch metrics
Continue training:  node dist/lib/cli/main.js train --out ${rel(run)} --resume --epochs 400
More samples:       node dist/lib/cli/main.js sample --checkpoint ${rel(run)} --n 256 --out ${rel(path.join(out, 'more'))}`);
