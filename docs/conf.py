"""Sphinx configuration. Build: sphinx-build -W -b html docs docs/_build/html"""

import os
import re
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import perturbvae  # noqa: E402

project = "perturbvae"
author = "perturbvae developers"
copyright = "2025, perturbvae developers"
release = perturbvae.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = []
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
root_doc = "index"

# autodoc / autosummary: pages generated under docs/generated (git-ignored).
autosummary_generate = True
# scikit-learn's generated metadata-routing setters (set_fit_request, ...) are left out: their
# docstrings link into scikit-learn's own glossary.
autodoc_default_options = {
    "members": True,
    # the package's own mixins (InferenceMixin, WellsMixin, ...) are documented; members
    # inherited from these bases are not
    "inherited-members": ",".join((
        "BaseEstimator", "TransformerMixin", "ClassNamePrefixFeaturesOutMixin", "_SetOutputMixin",
        "_MetadataRequester", "Callback", "FloatingPointError", "ArithmeticError", "Exception",
        "BaseException", "object")),
    "exclude-members": ",".join(
        f"set_{m}_request" for m in
        ("fit", "partial_fit", "transform", "inverse_transform", "score", "predict",
         "predict_proba", "fit_predict", "score_samples")),
}
autodoc_typehints = "none"

# numpydoc renders the docstrings; no per-member tables (autosummary lists the API).
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_attributes_as_param_list = True

nitpicky = False

# No intersphinx: builds must work offline (links to numpy/sklearn render as plain names).

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "within_subsection_order": "FileNameSortKey",
    "write_computation_times": False,
    # A cell's last expression (a title, an Axes) is not echoed as output such as "Text(...)".
    "capture_repr": (),
}

try:
    import pydata_sphinx_theme  # noqa: F401

    html_theme = "pydata_sphinx_theme"
    html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}
except ImportError:  # pragma: no cover
    html_theme = "alabaster"
html_title = f"perturbvae {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]  # long code and output lines wrap instead of running off


# In "ndarray of shape (n_samples, n_features_in_)", reStructuredText reads the trailing
# underscore of a fitted attribute as a link to a target "n_features_in". Escape it in shape
# specifications, after numpydoc has turned the docstring into reStructuredText.
_SHAPE = re.compile(r"shape \(([^)]*)\)")
_TRAILING = re.compile(r"(?<=\w)_(?=[,\s]|$)")


def _escape_shape_underscores(app, what, name, obj, options, lines):
    for i, line in enumerate(lines):
        if "shape (" in line:
            lines[i] = _SHAPE.sub(
                lambda m: "shape (" + _TRAILING.sub(r"\\_", m.group(1)) + ")", line)


def setup(app):
    app.connect("autodoc-process-docstring", _escape_shape_underscores, priority=600)
