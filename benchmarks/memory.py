"""Peak memory of inference on 10^6 rows, as a multiple of (input + output) bytes.

Each measurement runs in a fresh subprocess (one thread): the model is fitted (or loaded) and
the input built first, a small warm-up call loads the code paths, then the process's resident
set size is sampled every 2 ms in a thread while the measured call runs. The figure is

    (peak RSS during the call - RSS just before it) / (input bytes + output bytes)

``ru_maxrss`` (the kernel's high-water mark) is printed alongside as a cross-check: its growth
over the call bounds the same quantity from below when the pre-call RSS was already a peak.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/memory.py            # all cases
    OMP_NUM_THREADS=1 python benchmarks/memory.py --rows 200000
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

CHILD = r"""
import json, os, resource, sys, threading, time, warnings
import numpy as np
import psutil
import torch
torch.set_num_threads(1)
warnings.simplefilter("ignore")
from perturbvae import PerturbedVAE, SpectralDegeneracy

case, rows, model_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
proc = psutil.Process()
rng = np.random.default_rng(0)
if case.startswith("vae"):
    est = PerturbedVAE.load(model_path)
    X = rng.standard_normal((rows, 64), dtype=np.float32)
    fn = est.transform if case == "vae.transform" else est.score_samples
else:
    method = case.split(".")[1]
    est = SpectralDegeneracy(method=method, random_state=0)
    est.fit(rng.standard_normal((20000 if method == "galerkin" else 5000, 8)))
    X = rng.standard_normal((rows, 8))
    fn = est.transform
fn(X[:2000])  # warm-up

peak = [0]
stop = threading.Event()
def sample():
    while not stop.is_set():
        peak[0] = max(peak[0], proc.memory_info().rss)
        time.sleep(0.002)
before = proc.memory_info().rss
maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
peak[0] = before
t = threading.Thread(target=sample, daemon=True)
t.start()
t0 = time.perf_counter()
out = fn(X)
elapsed = time.perf_counter() - t0
stop.set(); t.join()
peak[0] = max(peak[0], proc.memory_info().rss)
maxrss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
io_bytes = X.nbytes + out.nbytes
print(json.dumps(dict(case=case, rows=rows, in_shape=list(X.shape), in_dtype=str(X.dtype),
                      out_shape=list(out.shape), out_dtype=str(out.dtype),
                      input_mb=X.nbytes / 2**20, output_mb=out.nbytes / 2**20,
                      extra_peak_mb=(peak[0] - before) / 2**20,
                      ratio=(peak[0] - before) / io_bytes,
                      maxrss_growth_mb=(maxrss_after - maxrss_before) / 2**20,
                      seconds=elapsed)))
"""

CASES = ["vae.transform", "vae.score_samples", "sd.galerkin", "sd.graph"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--cases", nargs="*", default=CASES)
    args = parser.parse_args()

    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1")
    with tempfile.TemporaryDirectory() as tmp:
        model = os.path.join(tmp, "vae.pt")
        fit = (
            "import numpy as np, torch; torch.set_num_threads(1)\n"
            "from perturbvae import PerturbedVAE\n"
            "X = np.random.default_rng(1).standard_normal((5000, 64), dtype=np.float32)\n"
            "PerturbedVAE(n_components=8, max_epochs=2, random_state=0).fit(X)"
            f".save({model!r})\n"
        )
        subprocess.run([sys.executable, "-c", fit], check=True, env=env)
        print(f"{'case':<18} {'input':>10} {'output':>10} {'extra peak':>11} "
              f"{'x (in+out)':>10} {'maxrss +':>9} {'time':>7}")
        for case in args.cases:
            res = subprocess.run([sys.executable, "-c", CHILD, case, str(args.rows), model],
                                 check=True, env=env, capture_output=True, text=True)
            r = json.loads(res.stdout.strip().splitlines()[-1])
            print(f"{r['case']:<18} {r['input_mb']:>7.1f} MB {r['output_mb']:>7.1f} MB "
                  f"{r['extra_peak_mb']:>8.1f} MB {r['ratio']:>10.2f} "
                  f"{r['maxrss_growth_mb']:>6.1f} MB {r['seconds']:>6.1f}s"
                  f"   ({r['in_dtype']} {r['in_shape']} -> {r['out_dtype']} {r['out_shape']})")


if __name__ == "__main__":
    main()
