# The two PyTorch builds of Keras InceptionV3 (include_top=False, pooling='avg') used as peers by bench/fid-inception.ts
# and bench/fid-e2e.ts, both reading a Keras-2 weights-only .h5 with h5py (conv2d_N / batch_normalization_N in
# creation order = keras/applications/inception_v3.py's conv2d_bn call order):
#   torchvision  torchvision.models.inception_v3 (Debian python3-torchvision), its 94 BasicConv2d units (conv without
#                bias → BatchNorm2d ε 1e-3 → ReLU, BN unfolded, eval mode) loaded in module order — the same order as
#                Keras's units — with fc = Identity, and its branch average pools switched to count_include_pad=False
#                (TensorFlow 'same'), as pytorch-fid's FIDInceptionA/C/E do. Keras averages in mixed10 as in mixed9,
#                so unlike pytorch-fid's FIDInceptionE_2 no max pool there.
#   plain        the same graph written with F.conv2d / F.batch_norm (kept for machines without torchvision).
# load(h5, graph) returns net(x [n, 3, 299, 299] preprocessed) → [n, 2048], to be called under torch.no_grad(); h5 may
# also be the JSON manifest of raw float32 units (bench/fid-inception-gpu.ts).
import functools, types
import numpy as np, torch
import torch.nn.functional as F


def raw_units(manifest):  # bench/fid-inception-gpu.ts's raw float32 units (machines without h5wasm / h5py)
    import json, os
    m = json.load(open(manifest))
    data = np.fromfile(os.path.join(os.path.dirname(manifest), m['data']), dtype=np.float32)
    units, at = [], 0
    def take(n):
        nonlocal at
        at += n
        return torch.from_numpy(data[at - n:at].copy())
    for kh, kw, cin, cout in m['units']:
        k = take(kh * kw * cin * cout).reshape(kh, kw, cin, cout).permute(3, 2, 0, 1).contiguous()
        units.append((k, take(cout), take(cout), take(cout)))
    return units


def keras_units(h5):
    if h5.endswith('.json'):
        return raw_units(h5)
    import h5py
    f = h5py.File(h5, 'r')
    def w(layer, key): return torch.from_numpy(np.array(f[layer][layer][key + ':0']))
    units, i = [], 1  # (kernel OIHW, beta, mean, var) in creation order
    while f'conv2d_{i}' in f:
        k = w(f'conv2d_{i}', 'kernel').permute(3, 2, 0, 1).contiguous()
        bn = f'batch_normalization_{i}'
        units.append((k, w(bn, 'beta'), w(bn, 'moving_mean'), w(bn, 'moving_variance')))
        i += 1
    assert len(units) == 94, len(units)
    return units


def torchvision_net(units):
    import torchvision.models.inception as tvi
    # the blocks call tvi's F.avg_pool2d: point that module at a namespace whose avg_pool2d excludes the pads
    tvi.F = types.SimpleNamespace(**{**vars(F), 'avg_pool2d': functools.partial(F.avg_pool2d, count_include_pad=False)})
    m = tvi.inception_v3(weights=None, aux_logits=False, init_weights=False, transform_input=False)
    m.fc = torch.nn.Identity()
    basics = [mod for mod in m.modules() if isinstance(mod, tvi.BasicConv2d)]
    assert len(basics) == len(units), (len(basics), len(units))
    for b, (k, beta, mean, var) in zip(basics, units):
        assert b.conv.weight.shape == k.shape, (b.conv.weight.shape, k.shape)
        b.conv.weight.data.copy_(k)
        b.bn.weight.data.fill_(1.0)  # Keras BatchNormalization(scale=False)
        b.bn.bias.data.copy_(beta)
        b.bn.running_mean.copy_(mean)
        b.bn.running_var.copy_(var)
    return m.eval()


def plain_net(units):
    def net(x):
        cur = iter(units)
        def cbn(x, stride=1, padding='same'):
            k, beta, mean, var = next(cur)
            pad = (k.shape[2] // 2, k.shape[3] // 2) if padding == 'same' else 0
            return F.relu(F.batch_norm(F.conv2d(x, k, None, stride, pad), mean, var, None, beta, False, 0.0, 1e-3))
        avg = lambda x: F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
        mx = lambda x: F.max_pool2d(x, 3, 2)
        cat = lambda xs: torch.cat(xs, 1)
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
    return net


def load(h5, graph='torchvision', device='cpu'):
    units = keras_units(h5)
    if graph == 'torchvision':
        try:
            return torchvision_net(units).to(device), 'torchvision'
        except ImportError:
            pass
    return plain_net([tuple(t.to(device) for t in u) for u in units]), 'plain'
