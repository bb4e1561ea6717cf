# PyTorch peer of bench/inception-layers.ts: F.conv2d (with bias) + in-place ReLU for each InceptionV3 conv shape of
# SPEC.json ({batch, reps, layers: [{c, h, w, k, kh, kw, stride, padding}]}), torch.set_num_threads(OMP_NUM_THREADS);
# one warm-up, then the least process CPU time of `reps` calls per shape. Prints JSON {cpu: [seconds per layer]}.
import json, os, sys, time
import torch
import torch.nn.functional as F

torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS', '1')))
spec = json.load(open(sys.argv[1]))
g = torch.Generator().manual_seed(0)
out = []
with torch.no_grad():
    for l in spec['layers']:
        x = torch.randn(spec['batch'], l['c'], l['h'], l['w'], generator=g)
        w = torch.randn(l['k'], l['c'], l['kh'], l['kw'], generator=g) * 0.05
        b = torch.randn(l['k'], generator=g)
        pad = (l['kh'] // 2, l['kw'] // 2) if l['padding'] == 'same' else 0
        run = lambda: F.relu_(F.conv2d(x, w, b, l['stride'], pad))
        run()
        best = float('inf')
        for _ in range(spec['reps']):
            c0 = time.process_time()
            run()
            best = min(best, time.process_time() - c0)
        out.append(best)
print(json.dumps({'cpu': out}))
