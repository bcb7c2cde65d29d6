"""Old module names kept for pickles (perturbvae._pickle_names)."""

import subprocess
import sys
import textwrap

import pytest

import perturbvae  # noqa: F401 - registers the old names
from perturbvae._pickle_names import _MOVED


@pytest.mark.parametrize("old", sorted(set(_MOVED) - {"_vae", "_spectral"}))
def test_an_old_name_answers_module_probes_without_importing(old):
    alias = sys.modules[f"perturbvae.{old}"]
    # what inspect.getmodule asks of every module: an AttributeError, nothing else
    for attr in ("__file__", "__wrapped__", "__path__"):
        assert not hasattr(alias, attr)
    with pytest.raises(AttributeError):
        alias.no_such_name  # noqa: B018 - the lookup is the test


def test_old_names_resolve_to_the_classes_of_today():
    from perturbvae._spectral._multiplets import group_levels
    from perturbvae._vae._estimator import PerturbedVAE

    assert sys.modules["perturbvae._multiplets"].group_levels is group_levels
    assert sys.modules["perturbvae._vae"].PerturbedVAE is PerturbedVAE
    assert callable(sys.modules["perturbvae._dynamics"].pcca)


def test_a_fit_in_a_plain_script_runs():
    # A fresh interpreter: the first optimiser imports torch._dynamo, which walks
    # sys.modules with inspect.getmodule (the old names included).
    code = textwrap.dedent("""
        import numpy as np
        from perturbvae import PerturbedVAE
        X = np.random.RandomState(0).normal(size=(40, 3))
        PerturbedVAE(hidden_layer_sizes=(2,), max_epochs=1, random_state=0).fit(X)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
