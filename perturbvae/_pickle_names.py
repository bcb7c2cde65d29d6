"""Module names in pickles made before the package had its ``_vae`` and ``_spectral``
subpackages: a pickle names each class by its module, so those names stay importable.

Each old module is an alias whose attributes are looked up in the modules that hold
its classes now; nothing is imported until a pickle asks for it.
"""

import importlib
import sys
import types

# old module -> the modules its names live in now
_MOVED = {
    "_vae": ["_vae._estimator", "_vae._device"],
    "_vae_inference": ["_vae._inference"],
    "_network": ["_vae._network"],
    "_training": ["_vae._net", "_vae._callbacks", "_vae._feeding"],
    "_streaming": ["_vae._feeding"],
    "_steps": ["_vae._steps"],
    "_checkpoint": ["_vae._checkpoint", "_vae._callbacks"],
    "_accelerate": ["_vae._accelerate"],
    "_persistence": ["_vae._persistence", "_archive"],
    "_chunks": ["_vae._chunks"],
    "_spectral": ["_spectral._estimator"],
    "_spectral_galerkin": ["_spectral._galerkin"],
    "_spectral_graph": ["_spectral._graph"],
    "_spectral_landscape": ["_spectral._density"],
    "_landscape_levels": ["_spectral._finite_volumes"],
    "_multiplets": ["_spectral._multiplets"],
    "_dynamics": ["_spectral._pcca", "_spectral._rates", "_spectral._langevin"],
    "_rows": ["_spectral._samples"],
    "_dequantize": ["_spectral._dequantize"],
    "_exact": ["datasets"],
}


class _Alias(types.ModuleType):
    def __init__(self, name, targets):
        super().__init__(name, f"Old name of {', '.join(targets)} (for pickles).")
        self._targets = targets

    def __getattr__(self, attr):
        if attr.startswith("__"):  # inspect and pickle probe dunders: answer without importing
            raise AttributeError(attr)
        for target in self._targets:
            module = importlib.import_module(f"perturbvae.{target}")
            if hasattr(module, attr):
                return getattr(module, attr)
        raise AttributeError(f"module {self.__name__!r} has no attribute {attr!r}")


def register():
    """Make the old names importable; a subpackage now under an old name keeps its own
    module and only gains the old attributes (see the subpackages' ``__init__``)."""
    for old, targets in _MOVED.items():
        name = f"perturbvae.{old}"
        if name not in sys.modules and old not in ("_vae", "_spectral"):
            sys.modules[name] = _Alias(name, targets)
