# Keras InceptionV3 features in PyTorch (bench/reference/inception_ref.py: torchvision's inception_v3 with the Keras
# weights, or the plain F.conv2d graph), the peer of bench/fid-inception.ts:
#   inception_torch.py WEIGHTS.h5|UNITS.json INPUT.f32 N FEATURES_OUT.f32 REPS [torchvision|plain] [cpu|cuda]
# INPUT: N×3×299×299 float32 (already preprocessed). Threads: OMP_NUM_THREADS (default 1). Prints JSON {graph,
# seconds, cpu, imgs_per_s, imgs_per_cpu_s} for REPS timed forwards (after one warm-up; on cuda three, fp32 with TF32
# off and cudnn.benchmark on, each forward ending with the features on the host) and writes the last features.
import json, os, sys, time
import numpy as np, torch
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from inception_ref import load  # noqa: E402

torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS', '1')))
h5, inp, n, out, reps = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
dev = sys.argv[7] if len(sys.argv) > 7 else 'cpu'
net, graph = load(h5, sys.argv[6] if len(sys.argv) > 6 else 'torchvision', dev)
x = torch.from_numpy(np.fromfile(inp, dtype=np.float32).reshape(n, 3, 299, 299))
warm = 1
if dev != 'cpu':
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    x, warm = x.to(dev), 3
with torch.no_grad():
    for r in range(reps + warm):
        if r == warm: t0, c0 = time.perf_counter(), time.process_time()
        feats = net(x).cpu()
t, c = time.perf_counter() - t0, time.process_time() - c0
feats.numpy().astype(np.float32).tofile(out)
print(json.dumps({'graph': graph, 'threads': torch.get_num_threads(), 'seconds': t, 'cpu': c, 'torch': torch.__version__,
                  'cudnn': torch.backends.cudnn.version() if dev != 'cpu' else None,
                  'imgs_per_s': n * reps / t, 'imgs_per_cpu_s': n * reps / c}))
