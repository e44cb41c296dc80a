"""The installed package: its typing marker, and every module importable (a wheel missing one fails)."""

import importlib
import importlib.resources
import pkgutil

import mlp_xp

MODULES = ["_host", "backends", "bench", "cli", "functions", "gradcheck", "network", "planted", "testing",
           "validation"]


def test_ships_py_typed():
    # PEP 561: without the marker, type checkers ignore mlp_xp's annotations
    assert importlib.resources.files("mlp_xp").joinpath("py.typed").is_file()


def test_every_module_is_there_and_imports():
    found = sorted(m.name for m in pkgutil.iter_modules(mlp_xp.__path__) if m.name != "__main__")
    assert found == MODULES
    for name in found:
        importlib.import_module(f"mlp_xp.{name}")
