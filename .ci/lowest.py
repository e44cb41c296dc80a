"""Print pip constraints that pin every dependency to the lowest version pyproject.toml allows.

Reads the core dependencies and the ``test`` extra (and any other extras named on the command
line) and turns each ``name>=X`` into ``name==X``, as the minimum-dependency jobs of NumPy,
SciPy and scikit-learn do. A requirement without a lower bound is an error: it is a promise
that nothing tests.
"""

import re
import sys
from pathlib import Path

import tomllib

project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]
groups = {"dependencies": project["dependencies"]}
for extra in ["test", *sys.argv[1:]]:
    groups[f"[{extra}]"] = project["optional-dependencies"][extra]

pins = {}
for group, requirements in groups.items():
    for requirement in requirements:
        pattern = r"([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*>=\s*([0-9][0-9A-Za-z.]*)"
        match = re.fullmatch(pattern, requirement)
        if match is None:
            sys.exit(f".ci/lowest.py: {group} has {requirement!r}, not 'name>=version': give it a bound")
        name, _, version = match.groups()
        pins[name.lower()] = version
print("\n".join(f"{name}=={version}" for name, version in sorted(pins.items())))
