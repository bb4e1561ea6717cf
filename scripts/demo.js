#!/usr/bin/env node
// npm run demo: the whole pipeline on the embedded default data, in about five minutes on a 2-core laptop CPU (a GPU
// is used when present): procedural BraTS-layout phantoms → mrigan prepare (64×64 FLAIR slices) → mrigan train
// (DCGAN, narrow 64×64 network, time-limited) → sample grid, loss curve, and weight-free quality numbers (mrigan eval:
// SWD against the real slices, lower is better; MS-SSIM between random pairs, a diverse generator sits near the real
// set's own value) measured after the first epoch and at the end, so the numbers show whether it learned.
// Environment: DEMO_SECONDS (training time budget, default 300), DEMO_SUBJECTS (default 6).
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const out = path.join(root, 'demo-out');
const cli = path.join(root, 'dist', 'lib', 'cli', 'main.js');
const seconds = Number(process.env.DEMO_SECONDS || 300);
const subjects = Number(process.env.DEMO_SUBJECTS || 6);
// The training configuration (evidence: bench/NOTES.md, "Sample quality").
const TRAIN = ['--model', 'dcgan', '--arch', 'dcgan', '--width', '8', '--batch', '16', '--lr', '5e-4', '--seed', '1',
  '--eval-every', '0'];  // the demo measures before and after itself (mrigan eval below)
const EVAL = ['--n', '200', '--pairs', '200', '--json'];

function mrigan(args, capture = false) {
  if (!capture) console.log(`\n$ mrigan ${args.join(' ')}`);
  const r = spawnSync(process.execPath, [cli, ...args], { stdio: capture ? ['ignore', 'pipe', 'inherit'] : 'inherit', cwd: root, encoding: 'utf8' });
  if (r.status !== 0) {
    console.error(`demo: 'mrigan ${args[0]}' failed (exit ${r.status ?? r.signal})`);
    process.exit(1);
  }
  return r.stdout;
}

fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });
const rel = (p) => path.relative(root, p);
const brats = path.join(out, 'phantoms'), data = path.join(out, 'phantom-flair-64.mrigan'), run = path.join(out, 'run');

mrigan(['info']);
mrigan(['phantom', '--subjects', String(subjects), '--contrasts', 'flair', '--out', rel(brats), '--quiet']);
mrigan(['prepare', '--brats', rel(brats), '--contrasts', 'flair', '--slices', '40-119', '--size', '64', '--fit', 'resize',
  '--out', rel(data), '--preview', rel(path.join(out, 'real.png'))]);

// One epoch, a quality measurement, then the rest of the time budget and a second measurement.
const t0 = Date.now();
const evals = [];
const measure = () => {
  console.log(`\n$ mrigan eval ${rel(data)} ${rel(run)} ${EVAL.join(' ')}`);
  const q = JSON.parse(mrigan(['eval', rel(data), rel(run), ...EVAL], true));
  const ck = JSON.parse(fs.readFileSync(path.join(run, 'checkpoints', 'latest.json'), 'utf8'));
  evals.push({ ...q, epoch: ck.epoch, step: ck.step });
  console.log(`epoch ${ck.epoch} (step ${ck.step}): SWD×10³ ${q.swd.toFixed(1)} [${q.swd_levels.map((v) => v.toFixed(0)).join(' ')}], ` +
    `MS-SSIM generated ${q.msssim.toFixed(3)} vs real ${q.msssim_real.toFixed(3)}`);
};
mrigan(['train', '--data', rel(data), ...TRAIN, '--epochs', '1', '--out', rel(run)]);
measure();
const left = Math.max(1, seconds - (Date.now() - t0) / 1000);
mrigan(['train', '--out', rel(run), '--resume', '--epochs', '100', '--time-limit', String(Math.round(left))]);
measure();

const samples = path.join(run, 'samples');
const grids = fs.readdirSync(samples).filter((f) => /^grid-\d+\.png$/.test(f)).sort();
fs.copyFileSync(path.join(samples, grids[grids.length - 1]), path.join(out, 'samples.png'));
fs.copyFileSync(path.join(samples, grids[0]), path.join(out, 'samples-epoch-001.png'));
fs.copyFileSync(path.join(run, 'loss.png'), path.join(out, 'loss.png'));
fs.writeFileSync(path.join(out, 'quality.json'), JSON.stringify(evals, null, 1) + '\n');
const [a, b] = [evals[0], evals[evals.length - 1]];
const gap = b.msssim - b.msssim_real;
console.log(`
demo done: ${b.epoch} epochs, ${b.step} steps in ${((Date.now() - t0) / 1000).toFixed(0)} s of training and measuring.
Quality (mrigan eval, ${b.n} images; no network weights needed):
  SWD ×10³ vs the real slices (lower is better): ${a.swd.toFixed(1)} after epoch ${a.epoch} → ${b.swd.toFixed(1)} after epoch ${b.epoch}` +
  ` (${(100 * (1 - b.swd / a.swd)).toFixed(0)}% lower${b.swd < 0.8 * a.swd ? '' : ' — not clearly falling: train longer, DEMO_SECONDS=900'})
  MS-SSIM of random pairs (diversity; lower = more varied): generated ${b.msssim.toFixed(3)}, real ${b.msssim_real.toFixed(3)}` +
  ` (${gap >= 0 ? '+' : ''}${gap.toFixed(3)}${gap <= 0.05 ? ', as varied as the real slices' : ', less varied than the real slices'})
Look at:
  ${rel(path.join(out, 'samples.png'))}   8×8 generated slices at the end (fixed noise; every epoch: ${rel(samples)}/grid-NNN.png)
  ${rel(path.join(out, 'samples-epoch-001.png'))}   the same noise after the first epoch
  ${rel(path.join(out, 'real.png'))}      real (phantom) training slices, for comparison
  ${rel(path.join(out, 'loss.png'))}      discriminator (red) and generator (blue) loss per step
  ${rel(path.join(out, 'quality.json'))}  the two measurements; ${rel(path.join(run, 'metrics.jsonl'))}: per-step and per-epoch metrics
Continue training:  node dist/lib/cli/main.js train --out ${rel(run)} --resume --epochs 400
Score again:        node dist/lib/cli/main.js eval ${rel(data)} ${rel(run)}
More samples:       node dist/lib/cli/main.js sample --checkpoint ${rel(run)} --n 256 --out ${rel(path.join(out, 'more'))}`);
