"""Scaling benchmark: grid search on 1 process / loky / Dask, and out-of-core memory.

Run::

    OMP_NUM_THREADS=1 python benchmarks/scale.py            # ~2 GB memmap
    OMP_NUM_THREADS=1 python benchmarks/scale.py --rows 200000   # quick check

Part 1: wall time of a 12-fit grid search (6 candidates x cv=2) over
PerturbedVAE with n_jobs=1, joblib's loky with 2 workers, and a Dask
LocalCluster with 2 single-threaded worker processes.

Part 2: peak resident memory (/proc/self/status VmHWM) of one epoch of training over a
float32 memmap of ``rows x cols`` (default 4e6 x 128 = 2.05 GB), each case in a
fresh subprocess (peak = VmHWM): out-of-core (``fit_chunks`` over the memmap, 65536-row
blocks) against in-memory (the whole array loaded, then ``partial_fit`` on it
once), with the same network and the same number of rows trained. The
baseline is the peak RSS of a process that only imported perturbvae and
opened the memmap.
"""

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402


def _model(**kw):
    from perturbvae import PerturbedVAE

    params = dict(n_components=2, hidden_layer_sizes=(32,), max_epochs=5, batch_size=128,
                  device="cpu", random_state=0)
    params.update(kw)
    return PerturbedVAE(**params)


def grid_search():
    import joblib
    import torch
    from sklearn.datasets import load_digits
    from sklearn.model_selection import GridSearchCV
    from sklearn.preprocessing import StandardScaler

    torch.set_num_threads(1)
    X = StandardScaler().fit_transform(load_digits().data).astype(np.float32)
    grid = {"beta": [0.5, 1.0, 2.0], "perturbation_strength": [0.0, 1.0]}  # 6 x cv=2

    def run(**kw):
        t0 = time.perf_counter()
        gs = GridSearchCV(_model(max_epochs=15), grid, cv=2, **kw).fit(X)
        return time.perf_counter() - t0, gs.cv_results_["mean_test_score"]

    rows = []
    t, ref = run(n_jobs=1)
    rows.append(("n_jobs=1", t, True))
    with joblib.parallel_config(backend="loky", inner_max_num_threads=1):
        t, s = run(n_jobs=2)
    rows.append(("loky, 2 workers", t, np.array_equal(s, ref)))

    import distributed

    from perturbvae import dask_setup

    t0 = time.perf_counter()
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=40)
    client = distributed.Client(cluster)
    dask_setup(client)
    t_start = time.perf_counter() - t0
    with joblib.parallel_config(backend="dask"):
        t, s = run(n_jobs=-1)
    rows.append((f"Dask LocalCluster, 2 workers (+{t_start:.1f} s start)", t,
                 np.array_equal(s, ref)))
    client.close()
    cluster.close()

    print(f"Grid search: 12 fits (6 candidates x cv=2), digits {X.shape}, "
          "15 epochs, hidden (32,), 1 torch thread per process")
    print(f"  {'backend':<48} {'wall s':>8}  {'same scores as n_jobs=1'}")
    for name, t, same in rows:
        print(f"  {name:<48} {t:8.1f}  {same}")


def _peak_mb():
    # VmHWM: this process's peak RSS, reset by exec. (ru_maxrss is not: a child
    # started by fork+exec inherits the parent's peak, e.g. a written memmap.)
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(mode, path, rows, cols):
    import torch

    torch.set_num_threads(1)
    from perturbvae import fit_chunks

    mm = np.memmap(path, dtype=np.float32, mode="r", shape=(rows, cols))
    vae = _model(hidden_layer_sizes=(16,), batch_size=1024)
    t0 = time.perf_counter()
    if mode == "out_of_core":
        fit_chunks(vae, mm, chunk_rows=65536)
    elif mode == "in_memory":
        X = np.array(mm)  # the whole data set in memory
        vae.partial_fit(X)
    elif mode != "baseline":
        raise ValueError(mode)
    print(f"{mode} {_peak_mb():.0f} {time.perf_counter() - t0:.1f}")


def memory(rows, cols):
    tmp = tempfile.mkdtemp(prefix="perturbvae-scale-")
    path = os.path.join(tmp, "X.f32")
    size_mb = rows * cols * 4 / 2**20
    try:
        # Write in blocks from a fresh subprocess-free loop; rows are i.i.d.,
        # so the first block is a fair sample for the closed-form start.
        mm = np.memmap(path, dtype=np.float32, mode="w+", shape=(rows, cols))
        rng = np.random.default_rng(0)
        scale = np.linspace(3.0, 0.1, cols).astype(np.float32)
        for start in range(0, rows, 262144):
            stop = min(rows, start + 262144)
            mm[start:stop] = rng.standard_normal((stop - start, cols), dtype=np.float32) * scale
        mm.flush()
        del mm
        results = {}
        for mode in ("baseline", "out_of_core", "in_memory"):
            out = subprocess.run(
                [sys.executable, __file__, "--child", mode, path, str(rows), str(cols)],
                check=True, capture_output=True, text=True,
                env=dict(os.environ, OMP_NUM_THREADS="1"),
            ).stdout.split()
            results[mode] = (float(out[-2]), float(out[-1]))
        print(f"\nOut-of-core: one epoch over a float32 memmap of {rows} x {cols} "
              f"= {size_mb / 1024:.2f} GiB, hidden (16,), batch 1024, fresh process each")
        print(f"  {'case':<44} {'peak RSS MiB':>12} {'train s':>8}")
        base = results["baseline"][0]
        labels = {"baseline": "baseline (import + open memmap)",
                  "out_of_core": "fit_chunks(memmap), 65536-row blocks",
                  "in_memory": "np.array(memmap) + partial_fit"}
        for mode, (peak, secs) in results.items():
            print(f"  {labels[mode]:<44} {peak:12.0f} {secs:8.1f}")
        print(f"  above baseline: out-of-core {results['out_of_core'][0] - base:.0f} MiB, "
              f"in-memory {results['in_memory'][0] - base:.0f} MiB (data {size_mb:.0f} MiB)")
    finally:
        if os.path.exists(path):
            os.remove(path)
        os.rmdir(tmp)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4_000_000)
    parser.add_argument("--cols", type=int, default=128)
    parser.add_argument("--skip-grid", action="store_true")
    parser.add_argument("--child", nargs=4, metavar=("MODE", "PATH", "ROWS", "COLS"))
    args = parser.parse_args()
    if args.child:
        mode, path, rows, cols = args.child
        child(mode, path, int(rows), int(cols))
        return
    t0 = time.perf_counter()
    if not args.skip_grid:
        grid_search()
    memory(args.rows, args.cols)
    print(f"\nTotal {time.perf_counter() - t0:.0f} s; "
          f"{os.cpu_count()} CPUs, torch threads per process: 1")


if __name__ == "__main__":
    main()
