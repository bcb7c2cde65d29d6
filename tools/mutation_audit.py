"""Deliberate bugs, one at a time: does a test of the module catch each one?

Each mutant is a small text patch (a threshold moved, a normalisation removed, a parameter left
out, a sign flipped) in one file of the package, with the test files of that module to run.
The tree (tracked and untracked files that git does not ignore) is copied once to a temporary
folder; each mutant is applied there, its tests run with one thread and a timeout, and the file
is put back. The real tree is never changed. A mutant is *caught* when its tests fail (or time
out), *missed* when they pass, *stale* when its snippet is no longer in the file (the code
moved: update the patch).

Usage (from the repository root, with the project's Python)::

    python tools/mutation_audit.py                 # every mutant
    python tools/mutation_audit.py --module _vae/_checkpoint.py --module metrics.py
    python tools/mutation_audit.py --list          # the mutants, without running them
    python tools/mutation_audit.py --baseline      # the tests must pass without any mutant
    python tools/mutation_audit.py --markdown      # a table for tests/README.md
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import namedtuple
from pathlib import Path

from mutants import MUTANTS  # noqa: E402  (tools/mutants.py, next to this script)

ROOT = Path(__file__).resolve().parent.parent
Result = namedtuple("Result", "mutant status seconds")


def _copy_tree(dest):
    """Copy the files git knows of (committed or not, but not ignored) into ``dest``."""
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                         check=True, capture_output=True).stdout
    for rel in filter(None, out.decode().split("\0")):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


def _env(tree):
    env = dict(os.environ, PYTHONPATH=str(tree), MPLBACKEND="Agg", OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1")
    return env


def _run_tests(tree, tests, timeout):
    """``"pass"``, ``"fail"`` or ``"timeout"`` for the pytest arguments ``tests``."""
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
           "--no-header", "-o", "addopts=", *tests]
    try:
        proc = subprocess.run(cmd, cwd=tree, env=_env(tree), capture_output=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout"
    if proc.returncode not in (0, 1):  # collection or usage errors also break the tests
        return "fail"
    return "pass" if proc.returncode == 0 else "fail"


def _apply(tree, m):
    """Apply a mutant; returns the original text, or None when its snippet is gone."""
    path = tree / "perturbvae" / m.file
    text = path.read_text()
    if text.count(m.old) != 1:
        return None
    path.write_text(text.replace(m.old, m.new))
    return text


def audit(mutants, timeout, baseline=False):
    """Run every mutant (or, with ``baseline``, its tests on the clean tree)."""
    results = []
    with tempfile.TemporaryDirectory(prefix="mutation-audit-") as tmp:
        tree = Path(tmp)
        _copy_tree(tree)
        for m in mutants:
            t0 = time.perf_counter()
            if baseline:
                status = _run_tests(tree, m.tests, timeout)
            else:
                original = _apply(tree, m)
                if original is None:
                    status = "stale"
                else:
                    try:
                        run = _run_tests(tree, m.tests, timeout)
                    finally:
                        (tree / "perturbvae" / m.file).write_text(original)
                    status = "missed" if run == "pass" else f"caught ({run})"
            results.append(Result(m, status, time.perf_counter() - t0))
            print(f"{status:18s} {results[-1].seconds:6.1f}s  {m.file}: {m.what}", flush=True)
    return results


def summary(results):
    """Caught / total per module and overall, as text lines."""
    lines, total, caught = [], 0, 0
    for module in dict.fromkeys(r.mutant.file for r in results):
        rs = [r for r in results if r.mutant.file == module and r.status != "stale"]
        c = sum(r.status.startswith("caught") for r in rs)
        lines.append(f"{module:32s} {c}/{len(rs)} caught")
        total, caught = total + len(rs), caught + c
    stale = sum(r.status == "stale" for r in results)
    rate = caught / total if total else float("nan")
    lines.append(f"TOTAL {caught}/{total} caught ({rate:.0%})" + (f", {stale} stale" if stale
                                                                    else ""))
    return lines


def markdown(results):
    rows = ["| module | deliberate bug | tests run | result |", "|---|---|---|---|"]
    for r in results:
        tests = ", ".join(f"`{t}`" for t in r.mutant.tests)
        rows.append(f"| `{r.mutant.file}` | {r.mutant.what} | {tests} | {r.status} |")
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--module", action="append", help="only the mutants of this file "
                    "(path under perturbvae/, repeatable)")
    ap.add_argument("--list", action="store_true", help="list the mutants and stop")
    ap.add_argument("--baseline", action="store_true",
                    help="run each mutant's tests on the clean tree (all must pass)")
    ap.add_argument("--markdown", action="store_true", help="also print a markdown table")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per mutant")
    args = ap.parse_args(argv)
    chosen = [m for m in MUTANTS if not args.module or m.file in args.module]
    if args.list:
        for m in chosen:
            print(f"{m.file}: {m.what}  [{' '.join(m.tests)}]")
        return 0
    results = audit(chosen, args.timeout, baseline=args.baseline)
    if args.baseline:
        bad = [r for r in results if r.status != "pass"]
        print(f"baseline: {len(results) - len(bad)}/{len(results)} pass")
        return 1 if bad else 0
    print("\n".join(summary(results)))
    if args.markdown:
        print("\n".join(markdown(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
