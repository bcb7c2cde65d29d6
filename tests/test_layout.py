"""The package's layout: no import cycle (imports inside functions included), and the
spectral half never imports the VAE half (the VAE may use the spectrum, not the reverse)."""

import ast
import importlib
import pkgutil
from pathlib import Path

import perturbvae

ROOT = Path(perturbvae.__file__).parent
MODULES = sorted(m.name for m in pkgutil.walk_packages(perturbvae.__path__, "perturbvae.")
                 if not m.name.endswith("__main__"))


def _module_of(path):
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts), parts[-1] == "__init__"


def _resolve(name):
    """The longest prefix of ``name`` that is a module of the package."""
    while name and name not in MODULES and name != "perturbvae":
        name = name.rpartition(".")[0]
    return name or None


def import_graph():
    """Module -> set of package modules it imports anywhere in its source."""
    graph = {}
    for path in ROOT.rglob("*.py"):
        mod, is_pkg = _module_of(path)
        if mod.endswith("__main__"):
            continue
        package = mod if is_pkg else mod.rpartition(".")[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                names = [f"{base}.{a.name}" for a in node.names] + [base]
            else:
                continue
            for name in names:
                target = _resolve(name) if name.startswith("perturbvae") else None
                if target and target != mod:
                    edges.add(target)
        graph[mod] = edges
    # the package imports its public classes on first use (perturbvae._LAZY): edges too
    graph["perturbvae"] |= {_resolve("perturbvae" + target) for target in perturbvae._LAZY.values()}
    return graph


def _cycle(graph):
    state = {}

    def visit(node, stack):
        state[node] = 1
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt] if nxt in stack else [node, nxt]
            if nxt not in state:
                found = visit(nxt, stack + [nxt])
                if found:
                    return found
        state[node] = 2
        return None

    for node in graph:
        if node not in state:
            found = visit(node, [node])
            if found:
                return found
    return None


def test_graph_sees_modules():
    # the graph must see the package's real edges, or the checks below prove nothing
    graph = import_graph()
    assert "perturbvae._spectral._estimator" in graph["perturbvae"]
    assert "perturbvae._vae._estimator" in graph["perturbvae"]
    assert "perturbvae._spectral._estimator" in graph["perturbvae.potentials"]


def test_no_import_cycle():
    # packages import their submodules, so edges into a package's __init__ from inside
    # it are the only ones left out (perturbvae.__version__, re-exported classes)
    graph = {m: {t for t in e if not (m.startswith(t + ".") and t in graph_packages())}
             for m, e in import_graph().items()}
    assert _cycle(graph) is None, f"import cycle: {' -> '.join(_cycle(graph))}"


def graph_packages():
    return {m for m in MODULES + ["perturbvae"]
            if (ROOT.parent / m.replace(".", "/") / "__init__.py").exists()}


def test_detects_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) is not None
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_spectral_never_imports_vae():
    for mod, edges in import_graph().items():
        if mod.startswith("perturbvae._spectral"):
            bad = {e for e in edges if e.startswith(("perturbvae._vae", "perturbvae.potentials",
                                                     "perturbvae._cli", "perturbvae.metrics"))}
            assert not bad, f"{mod} imports {bad}"


def test_every_module_imports():
    # each module alone in a fresh interpreter: ``python tools/check_imports.py``
    for module in MODULES:
        importlib.import_module(module)


def test_public_submodules_are_attributes_of_the_package():
    # ``import perturbvae`` then ``perturbvae.metrics.seed_stability`` (the README's words)
    # raised AttributeError: a subpackage is an attribute only once something imports it.
    # A fresh interpreter: in this one other tests have imported them already
    import subprocess
    import sys

    code = ("import perturbvae, sys\n"
            "for name in perturbvae._SUBMODULES:\n"
            "    assert 'perturbvae.' + name not in sys.modules, name\n"
            "    assert getattr(perturbvae, name) is sys.modules['perturbvae.' + name]\n"
            "assert callable(perturbvae.metrics.seed_stability)\n"
            "assert set(perturbvae._SUBMODULES) <= set(dir(perturbvae))\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
