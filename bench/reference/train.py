#!/usr/bin/env python3
"""PyTorch peer of mrigan's training loops (lib/train/trainer.ts) on the same networks (models.py), for bench/train.ts,
and the check of mrigan's exact gradient-penalty gradient against PyTorch's double backprop.

  /usr/bin/python3 bench/reference/train.py bench SIZE BATCH REPS      # img/s per iteration, JSON lines
  /usr/bin/python3 bench/reference/train.py gpcheck DIR                # DIR written by bench/reference/gp-check.ts

One iteration = one batch of real images, as in mrigan:
  DCGAN:   fake = G(z); D step on real (targets 1 − 0.05·U) and fake.detach() (0.05·U), BCE-with-logits; G step
           through the updated D with target 1 (non-saturating), reusing the same fakes. Adam(lr, 0.5, 0.999).
  WGAN-GP: 3 × [fake = G(z) without grad; x̂ = fake + ε(real − fake); GP = λ mean(‖∇x̂ ΣD(x̂)‖ − 1)² by
           autograd.grad(create_graph=True); loss = mean D(fake) − mean D(real) + GP; step], then a G step −mean D(G(z)).
Threads: MRIGAN_THREADS (the same as mrigan's pool), else all cores.
"""
import json
import os
import sys
import time

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from models import build, cepa_generator, dcgan_generator, read_safetensors  # noqa: E402

LAMBDA = 5.0


def gradient_penalty(D, real, fake, eps, lam=LAMBDA):
    shape = [-1] + [1] * (real.dim() - 1)
    xhat = (fake + eps.view(shape) * (real - fake)).requires_grad_(True)
    out = D(xhat)
    (g,) = torch.autograd.grad(out.sum(), xhat, create_graph=True)
    norms = g.flatten(1).norm(dim=1)
    return lam * ((norms - 1) ** 2).mean(), norms


def make(arch, model, size, dropout):
    if arch == 'dcgan':
        G = dcgan_generator(size)
    else:
        G = cepa_generator(size, dropout=dropout)
    D, _ = build(arch, 'critic' if model == 'wgan-gp' else 'discriminator', size)
    return G.train(), D.train()


def iteration(model, G, D, optG, optD, real, latent, n_critic=3):
    """One iteration as lib/train/step.ts does it, every tensor on real's device (bench/reference/gpu_ops.py too)."""
    b, dev = real.shape[0], real.device
    bce = nn.functional.binary_cross_entropy_with_logits
    if model == 'dcgan':
        fake = G(torch.randn(b, latent, device=dev))
        optD.zero_grad()
        out_r = D(real)
        out_f = D(fake.detach())
        loss_d = bce(out_r, 1 - 0.05 * torch.rand_like(out_r)) + bce(out_f, 0.05 * torch.rand_like(out_f))
        loss_d.backward()
        optD.step()
        out = D(fake)
        loss_g = bce(out, torch.ones_like(out))
    else:
        for _ in range(n_critic):
            with torch.no_grad():
                fake = G(torch.randn(b, latent, device=dev))
            optD.zero_grad()
            gp, _ = gradient_penalty(D, real, fake, torch.rand(b, device=dev))
            loss_d = D(fake).mean() - D(real).mean() + gp
            loss_d.backward()
            optD.step()
        loss_g = -D(G(torch.randn(b, latent, device=dev))).mean()
    optG.zero_grad()
    loss_g.backward()
    optG.step()
    return loss_d.item(), loss_g.item()


def bench(size, batch, reps):
    torch.set_num_threads(int(os.environ.get('MRIGAN_THREADS', os.cpu_count())))
    torch.manual_seed(0)
    models = os.environ.get('BENCH_MODELS', 'dcgan,wgan-gp').split(',')
    archs = os.environ.get('BENCH_ARCHS', 'dcgan,cepa2024').split(',')
    for model in models:
        for arch in archs:
            G, D = make(arch, model, size, 0.2 if arch == 'cepa2024' else 0.0)
            optG = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
            optD = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
            latent = 100 if arch == 'dcgan' else 128
            real = torch.rand(batch, 1, size, size) * 2 - 1
            times = []
            for _ in range(reps + 1):
                t = time.perf_counter()
                iteration(model, G, D, optG, optD, real, latent)
                times.append(time.perf_counter() - t)
            best = min(times[1:])
            print(json.dumps({'model': model, 'arch': arch, 'size': size, 'batch': batch, 'seconds': best,
                              'img_per_s': batch / best, 'threads': torch.get_num_threads(), 'torch': torch.__version__}),
                  flush=True)


def gpcheck(d):
    """mrigan's GP and ∂GP/∂θ (float32) vs PyTorch double backprop in float64 on the same weights and inputs."""
    meta = json.load(open(os.path.join(d, 'meta.json')))
    ok = True
    for case in meta['cases']:
        D, _ = build(case['arch'], 'critic', case['size'])
        D.load_state_dict(read_safetensors(os.path.join(d, case['weights'])), strict=True)
        D = D.double().train()
        io = read_safetensors(os.path.join(d, case['io']))
        mine = read_safetensors(os.path.join(d, case['grads']))
        real, fake, eps = io['real'].double(), io['fake'].double(), io['eps'].double()
        gp, norms = gradient_penalty(D, real, fake, eps, case['lambda'])
        D.zero_grad()
        gp.backward()
        for p in D.parameters():  # parameters the penalty does not depend on (the score's bias) get no grad
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        gp_err = abs(gp.item() - case['gp']) / abs(gp.item())
        scale = max(p.grad.abs().max().item() for p in D.parameters())
        worst, worst_name = 0.0, ''
        for name, p in D.named_parameters():
            err = (mine[name].double() - p.grad).abs().max().item() / scale
            if err > worst:
                worst, worst_name = err, name
        good = gp_err < 1e-4 and worst < 1e-4
        ok &= good
        print(f"{case['arch']:9s} critic {case['size']}×{case['size']} batch {real.shape[0]}: GP {gp.item():.6g} "
              f"(mrigan {case['gp']:.6g}, rel err {gp_err:.2e}); ∂GP/∂θ max |err| / max |grad| = {worst:.2e} "
              f"at {worst_name} — {'OK' if good else 'MISMATCH'}")
    return ok


if __name__ == '__main__':
    if sys.argv[1] == 'bench':
        bench(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 2)
    elif sys.argv[1] == 'gpcheck':
        sys.exit(0 if gpcheck(sys.argv[2]) else 1)
    else:
        sys.exit(__doc__)
