"""Peak memory of PerturbedVAE.fit with the rows on the device vs streamed from host memory.

Each case runs in a fresh subprocess (one thread): the rows (float32, in memory,
or a float32 memmap) are built first, then the process's resident set size is
sampled every 2 ms while ``fit`` runs one epoch (hidden (16,), batch 1024, to
keep the run short: the data path, not the network, sets the memory). The
figure is (peak RSS during fit - RSS just before it) / data bytes.

    OMP_NUM_THREADS=1 python benchmarks/train_memory.py            # 10^6 x 64
    OMP_NUM_THREADS=1 python benchmarks/train_memory.py --rows 200000

On a CPU ``"device"`` is host memory too: the figure shows what the in-memory
path holds beyond the data (an epoch's shuffled copy), and what streaming holds
instead (blocks). On a GPU the same script gives the host side.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

CHILD = r"""
import json, sys, threading, time, warnings
import numpy as np
import psutil
import torch
torch.set_num_threads(1)
warnings.simplefilter("ignore")
from perturbvae import PerturbedVAE

placement, rows, source, path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
proc = psutil.Process()
if source == "memmap":
    X = np.memmap(path, dtype=np.float32, mode="r", shape=(rows, 64))
else:
    X = np.random.default_rng(0).standard_normal((rows, 64), dtype=np.float32)
kw = dict(n_components=8, hidden_layer_sizes=(16,), batch_size=1024, max_epochs=1,
          random_state=0, data_placement=placement)
PerturbedVAE(**kw).fit(np.asarray(X[:5000]))  # warm-up
peak = [0]
stop = threading.Event()
def sample():
    while not stop.is_set():
        peak[0] = max(peak[0], proc.memory_info().rss)
        time.sleep(0.002)
before = proc.memory_info().rss
peak[0] = before
t = threading.Thread(target=sample, daemon=True)
t.start()
t0 = time.perf_counter()
PerturbedVAE(**kw).fit(X)
secs = time.perf_counter() - t0
stop.set(); t.join()
print(json.dumps({"extra": peak[0] - before, "data": X.nbytes, "secs": secs}))
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "X.f32")
        import numpy as np

        mm = np.memmap(path, dtype=np.float32, mode="w+", shape=(args.rows, 64))
        mm[:] = np.random.default_rng(0).standard_normal((args.rows, 64), dtype=np.float32)
        mm.flush()
        del mm
        print("| rows | source | data_placement | data MB | extra peak MB | x data | fit s |")
        print("|---|---|---|---|---|---|---|")
        for source in ("array", "memmap"):
            for placement in ("device", "stream"):
                out = subprocess.run([sys.executable, "-c", CHILD, placement, str(args.rows),
                                      source, path], capture_output=True, text=True, env=env)
                if out.returncode:
                    print(out.stderr[-2000:])
                    continue
                r = json.loads(out.stdout.strip().splitlines()[-1])
                print(f"| {args.rows:,} | {source} | {placement} | {r['data'] / 2**20:.0f} | "
                      f"{r['extra'] / 2**20:.0f} | {r['extra'] / r['data']:.2f} | "
                      f"{r['secs']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
