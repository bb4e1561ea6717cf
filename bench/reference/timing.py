"""One timing loop for the PyTorch peers (bench/reference/ops.py, misc_ops.py), as bench/timing.ts is for mrigan."""
import time


def time_ms(fn, stat, budget=0.3, lo=3, hi=25):
    """Runs fn twice to warm up, then at least lo and at most hi times within budget seconds; stat(times in ms)."""
    fn()
    fn()
    times = []
    start = time.perf_counter()
    while len(times) < hi and (len(times) < lo or time.perf_counter() - start < budget):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return stat(times), len(times)
