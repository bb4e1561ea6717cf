# Keras InceptionV3 (include_top=False, pooling='avg') written directly in PyTorch from keras/applications/
# inception_v3.py (conv2d_bn in its call order = the conv2d_N / batch_normalization_N creation numbers), reading a
# Keras-2 weights-only .h5 with h5py. BN unfolded (F.batch_norm, eps 1e-3). Used by bench/fid-inception.ts:
#   inception_torch.py WEIGHTS.h5 INPUT.f32 N FEATURES_OUT.f32 REPS
# INPUT: N×3×299×299 float32 (already preprocessed). Prints JSON {seconds, cpu, imgs_per_s} for REPS timed forwards
# (after one warm-up) with torch.set_num_threads(1), and writes the features of the last forward.
import json, sys, time
import h5py, numpy as np, torch
import torch.nn.functional as F

torch.set_num_threads(1)
h5, inp, n, out, reps = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
f = h5py.File(h5, 'r')
def w(layer, key): return torch.from_numpy(np.array(f[layer][layer][key + ':0']))

units = []  # (kernel OIHW, beta, mean, var) in creation order
i = 1
while f'conv2d_{i}' in f:
    k = w(f'conv2d_{i}', 'kernel').permute(3, 2, 0, 1).contiguous()
    bn = f'batch_normalization_{i}'
    units.append((k, w(bn, 'beta'), w(bn, 'moving_mean'), w(bn, 'moving_variance')))
    i += 1
assert len(units) == 94, len(units)

def cbn(x, stride=1, padding='same'):
    k, beta, mean, var = next(cur)
    pad = (k.shape[2] // 2, k.shape[3] // 2) if padding == 'same' else 0
    y = F.conv2d(x, k, None, stride, pad)
    return F.relu(F.batch_norm(y, mean, var, None, beta, False, 0.0, 1e-3))

avg = lambda x: F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
mx = lambda x: F.max_pool2d(x, 3, 2)
cat = lambda xs: torch.cat(xs, 1)

def net(x):
    x = cbn(x, 2, 'valid'); x = cbn(x, 1, 'valid'); x = cbn(x); x = mx(x)
    x = cbn(x, 1, 'valid'); x = cbn(x, 1, 'valid'); x = mx(x)
    for _ in range(3):
        b1 = cbn(x); b5 = cbn(cbn(x)); b3 = cbn(cbn(cbn(x))); bp = cbn(avg(x))
        x = cat([b1, b5, b3, bp])
    b3 = cbn(x, 2, 'valid'); bd = cbn(cbn(cbn(x), 1), 2, 'valid'); x = cat([b3, bd, mx(x)])
    for _ in range(4):
        b1 = cbn(x); b7 = cbn(cbn(cbn(x))); bd = cbn(cbn(cbn(cbn(cbn(x))))); bp = cbn(avg(x))
        x = cat([b1, b7, bd, bp])
    b3 = cbn(cbn(x), 2, 'valid'); b7 = cbn(cbn(cbn(cbn(x))), 2, 'valid'); x = cat([b3, b7, mx(x)])
    for _ in range(2):
        b1 = cbn(x); b3 = cbn(x); b3 = cat([cbn(b3), cbn(b3)])
        bd = cbn(cbn(x)); bd = cat([cbn(bd), cbn(bd)]); bp = cbn(avg(x))
        x = cat([b1, b3, bd, bp])
    return x.mean((2, 3))

x = torch.from_numpy(np.fromfile(inp, dtype=np.float32).reshape(n, 3, 299, 299))
with torch.no_grad():
    for r in range(reps + 1):
        cur = iter(units)
        if r == 1: t0, c0 = time.perf_counter(), time.process_time()
        feats = net(x)
t, c = time.perf_counter() - t0, time.process_time() - c0
feats.numpy().astype(np.float32).tofile(out)
print(json.dumps({'seconds': t, 'cpu': c, 'imgs_per_s': n * reps / t, 'imgs_per_cpu_s': n * reps / c}))
