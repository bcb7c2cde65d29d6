"""Scaling of SpectralDegeneracy against scikit-learn's SpectralEmbedding.

Fit (+ transform of all points) time and peak memory for N(0, I_8) samples, n = 1e4 .. 1e6, one
BLAS thread, each case in its own subprocess (peak RSS from getrusage; a case is killed after
--timeout seconds and the competitor stops at the next larger n). Same number of eigenpairs
(10) everywhere. Energies of SpectralDegeneracy are checked against the exact ladder (0, 1 x 8, 2).
``SpectralDegeneracy:dask`` fits a dask array generated block by block (100,000 rows a block,
synchronous scheduler: one core), so the data are never in memory as a whole.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
        python benchmarks/spectrum_scaling.py [--sizes 10000 20000 100000 1000000] [--timeout 300]
"""

import argparse
import json
import os
import subprocess
import sys

CASE = r"""
import json, resource, sys, time
import numpy as np
from threadpoolctl import threadpool_limits
threadpool_limits(1)
name, n, d = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if name.endswith("dask"):  # generated block by block, never in memory as a whole
    import dask, dask.array as da
    dask.config.set(scheduler="synchronous")  # one core, like the others
    Z = da.random.default_rng(0).standard_normal((n, d), chunks=(min(n, 100_000), d))
else:
    Z = np.random.default_rng(0).standard_normal((n, d))
from perturbvae import SpectralDegeneracy
from sklearn.manifold import SpectralEmbedding
t = time.perf_counter()
err = None
if name.startswith("SpectralDegeneracy"):
    kw = {"method": "graph"} if name.endswith("graph") else {}
    sd = SpectralDegeneracy(n_levels=10, n_components=9, random_state=0, **kw)
    out = sd.fit(Z).transform(Z)
    out = out.compute() if hasattr(out, "compute") else out
    dt = time.perf_counter() - t
    exact = np.array([0] + [1] * 8 + [2.0])
    err = float(np.max(np.abs(sd.energies_[1:] - exact[1:]) / exact[1:]))
else:
    solver = name.split(":")[1]
    out = SpectralEmbedding(n_components=10, eigen_solver=solver, random_state=0).fit_transform(Z)
    dt = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"time_s": dt, "peak_mb": peak / 1024, "data_mb": Z.nbytes / 2**20,
                  "max_rel_err": err}))
"""

METHODS = ["SpectralDegeneracy", "SpectralDegeneracy:dask", "SpectralDegeneracy:graph",
           "SpectralEmbedding:arpack", "SpectralEmbedding:lobpcg"]


def run_case(name, n, d, timeout):
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    try:
        p = subprocess.run([sys.executable, "-c", CASE, name, str(n), str(d)], env=env,
                           capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"time_s": None, "note": f">{timeout} s (killed)"}
    if p.returncode != 0:
        return {"time_s": None, "note": "failed: " + p.stderr.strip().splitlines()[-1]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 20_000, 100_000, 1_000_000])
    ap.add_argument("--d", type=int, default=8)
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--methods", nargs="+", default=METHODS)
    args = ap.parse_args()
    stopped = set()
    results = {}
    for n in args.sizes:
        for name in args.methods:
            if name in stopped:
                results[(name, n)] = {"time_s": None, "note": "skipped (slower run before)"}
            else:
                results[(name, n)] = r = run_case(name, n, args.d, args.timeout)
                if r["time_s"] is None or r["time_s"] > args.timeout:
                    stopped.add(name)
            r = results[(name, n)]
            t = f"{r['time_s']:8.2f} s" if r["time_s"] is not None else r["note"]
            extra = (f"  peak {r['peak_mb']:7.0f} MB (data {r['data_mb']:.0f} MB)"
                     if r["time_s"] is not None else "")
            if r.get("max_rel_err") is not None:
                extra += f"  max level error {100 * r['max_rel_err']:.1f} %"
            print(f"n={n:>8} d={args.d} {name:<26} {t}{extra}", flush=True)
        ours = results[("SpectralDegeneracy", n)]["time_s"]
        for name in args.methods[1:]:
            other = results[(name, n)]["time_s"]
            if ours and other:
                print(f"    ratio {name} / SpectralDegeneracy(auto) = {other / ours:.1f}x",
                      flush=True)


if __name__ == "__main__":
    main()
