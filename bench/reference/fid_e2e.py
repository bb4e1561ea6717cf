# pytorch-fid's route rebuilt from Debian's PyTorch, torchvision, SciPy and PIL, the peer of bench/fid-e2e.ts:
#   fid_e2e.py DIR_A DIR_B WEIGHTS.h5 [--batch 16]
# For each folder of grayscale PNGs (sorted): PIL read → float32 [b, 1, H, W] in [0, 255] → F.interpolate to 299×299
# (bilinear, align_corners=False: what pytorch-fid's InceptionV3 does, = TF half-pixel bilinear) → x/127.5 − 1
# (Keras 'tf' mode) → 3 channels → torchvision inception_v3 with the Keras weights (inception_ref.py) → features;
# then numpy mean / cov (rowvar=False) and pytorch-fid's calculate_frechet_distance (scipy.linalg.sqrtm, eps offset
# when the product is singular, real part). Threads: OMP_NUM_THREADS. Prints JSON {fid, graph, stages_cpu, stages_wall}.
import argparse, json, os, sys, time
import numpy as np, torch
import torch.nn.functional as F
from PIL import Image
from scipy import linalg
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from inception_ref import load  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument('a'); ap.add_argument('b'); ap.add_argument('weights'); ap.add_argument('--batch', type=int, default=16)
args = ap.parse_args()
torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS', '1')))
cpu = {'read_resize': 0.0, 'features': 0.0, 'stats': 0.0, 'trace': 0.0}
wall = dict(cpu)
class stage:
    def __init__(self, name): self.name = name
    def __enter__(self): self.c, self.w = time.process_time(), time.perf_counter()
    def __exit__(self, *a):
        cpu[self.name] += time.process_time() - self.c
        wall[self.name] += time.perf_counter() - self.w

net, graph = load(args.weights)

def features(folder):
    files = sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.lower().endswith('.png'))
    out = np.empty((len(files), 2048), dtype=np.float32)
    with torch.no_grad():
        for lo in range(0, len(files), args.batch):
            with stage('read_resize'):
                x = np.stack([np.asarray(Image.open(f).convert('L'), dtype=np.float32) for f in files[lo:lo + args.batch]])
                x = F.interpolate(torch.from_numpy(x)[:, None], size=(299, 299), mode='bilinear', align_corners=False)
                x = (x / 127.5 - 1).expand(-1, 3, -1, -1).contiguous()
            with stage('features'):
                out[lo:lo + len(x)] = net(x).numpy()
    return out

def frechet(mu1, s1, mu2, s2, eps=1e-6):  # pytorch-fid's calculate_frechet_distance
    diff = mu1 - mu2
    covmean, _ = linalg.sqrtm(s1.dot(s2), disp=False)
    if not np.isfinite(covmean).all():
        off = np.eye(s1.shape[0]) * eps
        covmean = linalg.sqrtm((s1 + off).dot(s2 + off))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))

stats = []
for folder in (args.a, args.b):
    f = features(folder)
    with stage('stats'):
        stats.append((np.mean(f, axis=0, dtype=np.float64), np.cov(f.astype(np.float64), rowvar=False)))
with stage('trace'):
    fid = frechet(stats[0][0], stats[0][1], stats[1][0], stats[1][1])
print(json.dumps({'fid': fid, 'graph': graph, 'stages_cpu': cpu, 'stages_wall': wall}))
