"""The scripts of ``scripts/`` as modules, for the tests of the reports they make."""

import importlib.util
import pathlib
import sys

SCRIPTS = pathlib.Path(__file__).parents[1] / "scripts"


def load_script(name: str):
    """``scripts/<name>.py``, imported under ``name`` (once: later calls return the same module)."""
    if str(SCRIPTS) not in sys.path:  # as `python scripts/<name>.py` has it: siblings import
        sys.path.append(str(SCRIPTS))
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # before running it: its dataclasses look their module up
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]  # no half-built module for the next test to find
            raise
    return sys.modules[name]
