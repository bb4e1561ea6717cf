# FID trace-term reference for bench/fid-trace.ts: the pytorch-fid computation with scipy.linalg.sqrtm.
#   make A.npz B.npz D SEED   two statistics files (mu, sigma) from Gaussian samples with n = D + 500 rows and random
#                             mixing matrices (full-rank covariances with a spread spectrum), as np.savez writes them
#   sqrtm A.npz B.npz         prints JSON {"trace": tr sqrtm(Σ1Σ2).real, "fid": ..., "seconds"/"cpu": wall and CPU time
#                             of s1.dot(s2) + sqrtm alone}
# Thread count: whatever OPENBLAS_NUM_THREADS says (the driver sets it).
import json, sys, time
import numpy as np

def make(a, b, d, seed):
    rng = np.random.default_rng(seed)
    n = d + 500
    for f, scale, shift in ((a, 1.0, 0.0), (b, 1.3, 0.2)):
        m = rng.standard_normal((d, d)) / np.sqrt(d)
        x = np.maximum(rng.standard_normal((n, d)) @ m * scale + shift, 0) + 0.01 * rng.standard_normal((n, d))
        np.savez(f, mu=x.mean(0), sigma=np.cov(x, rowvar=False))

def sqrtm(a, b):
    import scipy.linalg
    za, zb = np.load(a), np.load(b)
    mu1, s1, mu2, s2 = za['mu'], za['sigma'], zb['mu'], zb['sigma']
    t, c = time.perf_counter(), time.process_time()
    covmean, _ = scipy.linalg.sqrtm(s1.dot(s2), disp=False)
    sec, cpu = time.perf_counter() - t, time.process_time() - c
    tr = float(np.trace(covmean.real))
    diff = mu1 - mu2
    print(json.dumps({"trace": tr, "fid": float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * tr), "seconds": sec, "cpu": cpu,
                      "scipy": __import__('scipy').__version__, "numpy": np.__version__}))

if __name__ == '__main__':
    if sys.argv[1] == 'make':
        make(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    else:
        sqrtm(sys.argv[2], sys.argv[3])
