"""The installed package: its typing marker, and every module importable (a wheel missing one fails)."""

import ast
import importlib
import importlib.resources
import inspect
import pathlib
import pkgutil

import pytest

import mlp_xp

MODULES = ["_assertions", "_common", "_devices", "_estimator_host", "_host", "_host_reads", "_solvers",
           "backends", "bench", "cli", "estimators", "functions", "gradcheck", "layout", "network", "planted",
           "problems", "sanity", "testing", "validation"]


def test_ships_py_typed():
    # PEP 561: without the marker, type checkers ignore mlp_xp's annotations
    assert importlib.resources.files("mlp_xp").joinpath("py.typed").is_file()


def test_every_module_is_there_and_imports():
    found = sorted(m.name for m in pkgutil.iter_modules(mlp_xp.__path__) if m.name != "__main__")
    assert found == MODULES
    for name in found:
        importlib.import_module(f"mlp_xp.{name}")


def _defined_here(module):
    """The public functions and classes that ``module`` defines (not those it imports)."""
    return {name for name, obj in vars(module).items()
            if not name.startswith("_") and getattr(obj, "__module__", None) == module.__name__
            and (inspect.isfunction(obj) or inspect.isclass(obj))}


@pytest.mark.parametrize("name", MODULES)
def test_all_lists_the_public_definitions_of_each_module(name):
    module = importlib.import_module(f"mlp_xp.{name}")
    assert len(module.__all__) == len(set(module.__all__))
    assert [n for n in module.__all__ if not hasattr(module, n)] == []
    assert _defined_here(module) <= set(module.__all__)


def test_package_all_is_every_public_function_and_class_users_need():
    exported = {getattr(mlp_xp, n) for n in mlp_xp.__all__}
    user_facing = ["estimators", "functions", "gradcheck", "layout", "network", "problems", "sanity",
                   "validation"]
    missing = {f"{m}.{n}" for m in user_facing for n in importlib.import_module(f"mlp_xp.{m}").__all__
               if getattr(importlib.import_module(f"mlp_xp.{m}"), n) not in exported}
    # the building blocks of the checks stay in their modules, documented there
    # (and the network's option names, documented there)
    assert missing == {"layout.check_dimensions", "layout.n_params", "layout.unravel_index",
                       "network.ACTIVATIONS", "network.OUTPUTS", "validation.check_float_array",
                       "validation.check_network_inputs"}


def _package_imports(path):
    """The mlp_xp modules that the module at ``path`` imports, at top level or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:  # from .x import y / from . import y
            found |= {node.module} if node.module else {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mlp_xp."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("mlp_xp.")}
    return {m.split(".")[0] for m in found}


def _imported_names(path):
    tree = ast.parse(path.read_text())
    return {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names} | {
        n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 0 and n.module}


def test_imports_run_one_way():
    # every import counts, a function's too: none may close a cycle, and the leaves import nothing
    root = pathlib.Path(mlp_xp.__file__).parent
    graph = {m: _package_imports(root / f"{m}.py") & set(MODULES) for m in MODULES}
    assert graph["layout"] == graph["_common"] == set()
    done, visiting = set(), []

    def visit(m):
        assert m not in visiting, f"import cycle: {' -> '.join([*visiting[visiting.index(m):], m])}"
        if m not in done:
            visiting.append(m)
            for n in sorted(graph[m]):
                visit(n)
            visiting.pop()
            done.add(m)

    for m in MODULES:
        visit(m)
    top_level = {m: {n.split(".")[0] for n in _imported_names(root / f"{m}.py")} for m in MODULES}
    importers = {m for m, names in top_level.items() if "click" in names}
    assert importers == {"cli"}  # click belongs to the CLI
