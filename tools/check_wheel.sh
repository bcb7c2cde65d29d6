#!/usr/bin/env bash
# Install the built wheel, then the sdist, into a fresh virtual environment outside the
# checkout and run a smoke test with each: the package imports from site-packages, fits,
# and the console script answers. Run after `python -m build` (which fills dist/).
set -euo pipefail
cd "$(dirname "$0")/.."
dist=$(pwd)/dist
wheel=$(ls "$dist"/perturbvae-*.whl | tail -n 1)
sdist=$(ls "$dist"/perturbvae-*.tar.gz | tail -n 1)
env_dir=$(mktemp -d)
trap 'rm -rf "$env_dir"' EXIT
python3 -m venv "$env_dir/venv"
py="$env_dir/venv/bin/python"
# torch first, as in README.md's set-up (a CPU build where a local wheel is provided)
"$py" -m pip install -q torch==2.13.0

smoke() {
  (cd "$env_dir" && "$py" - <<'PY'
import numpy as np
import perturbvae
from perturbvae import PerturbedVAE, SpectralDegeneracy

assert "site-packages" in perturbvae.__file__, perturbvae.__file__
X = np.random.default_rng(0).normal(size=(200, 5))
Z = PerturbedVAE(n_components=2, max_epochs=2, random_state=0).fit_transform(X)
sd = SpectralDegeneracy(n_levels=4, random_state=0).fit(Z)
assert Z.shape == (200, 2) and np.isfinite(sd.energies_).all()
print("smoke test passed:", perturbvae.__version__, perturbvae.__file__)
PY
  )
  "$env_dir/venv/bin/perturbvae" --version
}

"$py" -m pip install -q "$wheel"
smoke
"$py" -m pip install -q --force-reinstall --no-deps "$sdist"
smoke
