"""Time this checkout's ``forward_backward_prop`` against an older commit's, side by side in one run.

The older commit's ``mlp_xp`` is exported from git (``git archive``) into a temporary folder
and imported under another name, so both versions live in one process and their calls are
interleaved round by round, in a shuffled order (``compare_peers.time_interleaved``). For
each shape and dtype it prints the ratio new / old of the medians with its 95% bootstrap
interval over the rounds (``compare_peers.ratio_ci``), and checks that both give the same
cost and gradient. This is how a change that must "lose nothing" is judged: the seed's path
after the deep-network work, against the commit before it::

    flock /tmp/mlp_xp_bench.lock python scripts/compare_versions.py --base 69be06c \\
        --threads 1 --clock cpu --min-rounds 61
"""

from __future__ import annotations

import importlib.util
import io
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import click
import numpy as np
from compare_peers import CLOCKS, Net, ratio_ci, time_interleaved  # this folder is on sys.path
from threadpoolctl import threadpool_limits

import mlp_xp
from mlp_xp.cli import OneLineCommand
from mlp_xp.problems import random_problem

ROOT = Path(__file__).resolve().parents[1]
SHAPES = ("20x10x5x10", "4096x784x512x10")


def load_version(commit: str, folder: Path) -> Any:
    """``mlp_xp`` as it was at ``commit``, imported as the module ``mlp_xp_<commit>``."""
    try:
        tar = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "mlp_xp"], check=True,
                             capture_output=True).stdout
    except subprocess.CalledProcessError as e:
        raise click.BadParameter(f"git cannot export mlp_xp at {commit!r}: {e.stderr.decode().strip()}",
                                 param_hint="--base") from None
    with tarfile.open(fileobj=io.BytesIO(tar)) as t:
        t.extractall(folder, filter="data")
    name = f"mlp_xp_{commit.replace('-', '_').replace('.', '_')}"
    spec = importlib.util.spec_from_file_location(name, folder / "mlp_xp" / "__init__.py",
                                                  submodule_search_locations=[str(folder / "mlp_xp")])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its relative imports find their package here
    spec.loader.exec_module(module)
    return module


@click.command(cls=OneLineCommand, help=__doc__.split("\n\n")[0])
@click.option("--base", required=True, help="The older commit (anything git rev-parse takes).")
@click.option("-s", "--shape", "shapes", multiple=True, default=SHAPES, show_default=True,
              help="M x D0 x ... x DL, repeatable.")
@click.option("-d", "--dtype", "dtypes", multiple=True, default=("float64", "float32"), show_default=True,
              type=click.Choice(["float64", "float32"]), help="Repeatable.")
@click.option("--min-rounds", type=click.IntRange(min=15, max=10_000), default=41, show_default=True,
              help="Interleaved rounds (each times both versions once).")
@click.option("--threads", type=click.IntRange(min=1), help="BLAS threads (default: the BLAS's own count).")
@click.option("--clock", type=click.Choice(list(CLOCKS)), default="wall", show_default=True,
              help="wall: elapsed time; cpu: CPU time of the process (steady with --threads 1).")
def main(base: str, shapes: tuple[str, ...], dtypes: tuple[str, ...], min_rounds: int, threads: int | None,
         clock: str) -> None:
    try:
        nets = [Net.parse(s) for s in shapes]
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--shape") from None
    with tempfile.TemporaryDirectory() as folder:
        old = load_version(base, Path(folder))
        click.echo(f"new: this checkout; old: {base}; {clock} clock, "
                   f"{threads or 'default'} BLAS thread(s); {min_rounds} rounds")
        with threadpool_limits(limits=threads):
            for net in nets:
                for dtype in dtypes:
                    click.echo(compare(net, dtype, old, min_rounds, CLOCKS[clock]))


def compare(net: Net, dtype: str, old: Any, min_rounds: int, clock: Callable[[], float]) -> str:
    """One line: the medians of both versions, new / old with its interval, and their agreement."""
    data, labels, params = (a.astype(dtype) for a in random_problem(net.M, net.dimensions))
    calls = {version.__name__: partial(version.forward_backward_prop, data, labels, params, net.dimensions)
             for version in (mlp_xp, old)}
    (c_new, g_new), (c_old, g_old) = (f() for f in calls.values())
    diff = float(np.max(np.abs(g_new - g_old)) / np.max(np.abs(g_old)))
    t = time_interleaved(calls, min_time=0, min_rounds=min_rounds, clock=clock)
    new, before = (t[k] for k in calls)
    lo, hi = ratio_ci(new, before)
    return (f"{net} {dtype}: new {new.median_s * 1e3:.4g} ms, old {before.median_s * 1e3:.4g} ms; "
            f"new/old {new.median_s / before.median_s:.3f} [{lo:.3f}, {hi:.3f}]; "
            f"cost diff {abs(float(c_new) - float(c_old)):.1e}, grad diff {diff:.1e}")

if __name__ == "__main__":
    main()
