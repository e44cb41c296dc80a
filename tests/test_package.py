"""The installed package: its typing marker, and every module importable (a wheel missing one fails)."""

import importlib
import importlib.resources
import inspect
import pkgutil

import pytest

import mlp_xp

MODULES = ["_common", "_host", "backends", "bench", "cli", "functions", "gradcheck", "layout", "network",
           "planted", "problems", "sanity", "testing", "validation"]


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
    user_facing = ["functions", "gradcheck", "layout", "network", "problems", "sanity", "validation"]
    missing = {f"{m}.{n}" for m in user_facing for n in importlib.import_module(f"mlp_xp.{m}").__all__
               if getattr(importlib.import_module(f"mlp_xp.{m}"), n) not in exported}
    # the building blocks of the checks stay in their modules, documented there
    assert missing == {"layout.check_dimensions", "layout.unravel_index", "validation.check_float_array",
                       "validation.check_network_inputs"}
