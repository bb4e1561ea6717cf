"""nibabel peer for bench/data.ts: load the same BraTS-layout FLAIR volumes and build Set 3 the same way.

usage: python3 nibabel_load.py BRATS_DIR OUT.npy [N_SUBJECTS] [FIRST-LAST]
Prints JSON timings. The .npy holds [N*slices, 256, 256] float32 slices, computed as mrigan prepare does
(docs/dataset-format.md): reorient to RAS (as_closest_canonical), foreground = voxels above the volume minimum,
numpy.percentile 0.5/99.5 of the foreground -> [-1, 1] (clamped), background -1, radiological display
(row 0 anterior, column 0 patient right), centred padding to 256. bench/data.ts compares it with mrigan's dataset.
Also: python3 nibabel_load.py --one FILE  (time nibabel loading one volume to float32).
"""
import glob
import json
import os
import sys
import time

import nibabel as nib
import numpy as np


def load(path):
    img = nib.as_closest_canonical(nib.load(path))
    return img.get_fdata(dtype=np.float32)


def main():
    if sys.argv[1] == '--one':
        t = time.perf_counter()
        data = load(sys.argv[2])
        print(json.dumps({'load_s': time.perf_counter() - t, 'shape': list(data.shape)}))
        return
    d, npy = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 48
    a, b = (int(x) for x in (sys.argv[4] if len(sys.argv) > 4 else '52-115').split('-'))
    files = sorted(glob.glob(os.path.join(d, '*', '*_flair.nii*')))[:n]
    ks = range(a, b + 1)
    out = np.lib.format.open_memmap(npy, mode='w+', dtype=np.float32, shape=(len(files) * len(ks), 256, 256))
    t_load = t_prep = 0.0
    t0 = time.perf_counter()
    for i, f in enumerate(files):
        t = time.perf_counter()
        data = load(f)
        t_load += time.perf_counter() - t
        t = time.perf_counter()
        mn = data.min()
        fg = data[data > mn]
        lo, hi = np.percentile(fg, [0.5, 99.5])
        for j, k in enumerate(ks):
            v = data[:, :, k].T[::-1, ::-1]  # rows: anterior first; columns: patient right first
            s = np.where(v > mn, np.clip(2 * (v.astype(np.float64) - lo) / (hi - lo) - 1, -1, 1), -1)
            nx, ny = v.shape[1], v.shape[0]
            r0, c0 = (256 - ny) // 2, (256 - nx) // 2
            o = out[i * len(ks) + j]
            o[:] = -1
            o[r0:r0 + ny, c0:c0 + nx] = s
        t_prep += time.perf_counter() - t
    out.flush()
    print(json.dumps({'files': len(files), 'slices': len(files) * len(ks), 'load_s': t_load, 'preprocess_s': t_prep,
                      'total_s': time.perf_counter() - t0}))


if __name__ == '__main__':
    main()
