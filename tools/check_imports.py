"""Import each module of perturbvae alone, each in a fresh interpreter, and print the
time it takes; exits 1 if any import fails (an import cycle shows up here as an
ImportError of a partially initialised module).

    python tools/check_imports.py
"""

import pkgutil
import subprocess
import sys
import time

import perturbvae


def main():
    failed = 0
    for m in sorted(pkgutil.walk_packages(perturbvae.__path__, "perturbvae."),
                    key=lambda m: m.name):
        if m.name.endswith("__main__"):
            continue
        t = time.perf_counter()
        run = subprocess.run([sys.executable, "-c", f"import {m.name}"], capture_output=True,
                             text=True)
        status = "ok" if run.returncode == 0 else "FAILED\n" + run.stderr
        failed += run.returncode != 0
        print(f"{m.name:45s} {time.perf_counter() - t:5.1f} s  {status}")
    return int(failed > 0)


if __name__ == "__main__":
    sys.exit(main())
