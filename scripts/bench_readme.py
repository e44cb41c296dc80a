"""The benchmark tables and plot of the docs for this machine, from the ``mlp-xp bench`` command.

Runs, on every available backend, in float64, eager and compiled (``jax.jit``, ``torch.compile``):

1. ``mlp-xp``, the main job, its output saved as ``<results-dir>/mlp-xp_<tag>.txt``;
2. ``mlp-xp bench --json`` at the default shapes -> ``<json-dir>/bench_<tag>.json``;
3. ``mlp-xp bench --sweep`` of M = 1 .. ``--max-batch`` at (Dx, H, Dy) = (784, 512, 10), in
   ``--sweep-mode`` -> ``<json-dir>/bench_<tag>_sweep.json`` and the plot
   ``<results-dir>/bench_<tag>.png`` (one line per backend and mode);

then writes 2 and 3 as markdown tables to ``<results-dir>/bench_<tag>.md`` (and prints them).
``<results-dir>`` is ``benchmarks/results/``, or ``$OUT`` where that is set (a machine whose
``$OUT`` is what comes back from it). Every ratio in a table comes from medians measured in
the same run of the command.

Run (about ten minutes on 2 CPU cores; the lock keeps other benchmarks off the machine)::

    flock /tmp/mlp_xp_bench.lock python scripts/bench_readme.py

On a CUDA machine, ``--tag gpu --max-batch 65536`` gives the GPU table and plot
(``scripts/gpu_check.py`` runs the GPU checks and timings in one command).
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import click

from mlp_xp.bench import describe_environment, format_seconds
from mlp_xp.cli import OneLineCommand

RESULTS = Path(__file__).resolve().parent.parent / "benchmarks" / "results"


def mlp_xp_bench(*args: str) -> dict[str, Any]:
    """Run ``python -m mlp_xp bench ARGS --json FILE`` (output shown) and return the JSON."""
    json_path = Path(args[args.index("--json") + 1])
    subprocess.run([sys.executable, "-m", "mlp_xp", "bench", *args], check=True)
    return json.loads(json_path.read_text())


def markdown_table(doc: dict[str, Any]) -> str:
    lines = [
        "| backend | mode | M x Dx x H x Dy | first call | median | IQR | runs | GFLOP/s | time/floor "
        "| vs numpy |",
        "|---|---|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in doc["rows"]:
        mode = r.get("mode", "eager")  # schema 1 had eager rows only
        if r["error"]:
            lines.append(f"| {r['backend']} | {mode} | {r['shape']} | error: {r['error']} | | | | | | |")
            continue
        t = r["fbp"]
        lines.append(
            f"| {r['backend']} | {mode} | {r['shape']} | {format_seconds(t['first_call_s'])} | "
            f"{format_seconds(t['median_s'])} | {format_seconds(t['iqr_s'])} | {t['n_runs']} | "
            f"{r['gflops']:.3g} | {r['time_over_floor']:.2f} | {r['speedup_vs_numpy']:.3g}x |"
        )
    return "\n".join(lines)


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _check_tag(ctx: click.Context, param: click.Parameter, tag: str) -> str:
    """The tag goes into file names in benchmarks/results/: not empty, no folder in it."""
    if not tag or any(sep in tag for sep in ("/", os.sep, os.altsep) if sep):
        raise click.BadParameter(f"{tag!r} is not a part of a file name: give one that is not empty, "
                                 "without '/'")
    return tag


def _finite(seconds: float) -> float:
    """A --min-time that is a number: click's range lets nan through (it compares false)."""
    if not math.isfinite(seconds):
        raise click.BadParameter(f"expected a finite number of seconds, got {seconds}")
    return seconds


@click.command(cls=OneLineCommand, help=__doc__.split("\n\n")[0],
               context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--tag", default="cpu", show_default=True, callback=_check_tag,
              help="File name part: <results-dir>/bench_<tag>.*.")
@click.option("--results-dir", type=click.Path(file_okay=False, path_type=Path), show_default=True,
              help="Where the tables, the main job's output and the plot go; default: $OUT where it is "
              "set, else benchmarks/results.")
@click.option("--sweep-mode", type=click.Choice(["eager", "compiled", "both"]), default="both",
              show_default=True, help="mlp-xp bench --mode of the sweep (torch.compile compiles anew at "
              "each M: 'eager' saves minutes).")
@click.option("--max-batch", type=click.IntRange(min=1), default=8192, show_default=True,
              help="Largest M of the sweep (mlp-xp bench --sweep --max-batch).")
@click.option("--min-time", type=click.FloatRange(min=0, min_open=True, max=60), default=0.2,
              show_default=True, callback=lambda ctx, param, v: _finite(v),
              help="Seconds of timed calls per measurement (mlp-xp bench --min-time; at most 60).")
@click.option("--json-dir", type=click.Path(file_okay=False, writable=True, path_type=Path),
              show_default=True, help="Keep the two JSON documents here (megabytes: every timed call "
              "is in them); default: a temporary folder.")
def main(tag: str, results_dir: Path | None, sweep_mode: str, max_batch: int, min_time: float,
         json_dir: Path | None) -> None:
    if not _installed("matplotlib"):  # for the sweep's plot, minutes into the run
        raise click.UsageError("the sweep's plot needs matplotlib, which is not installed: "
                               "pip install matplotlib (or the project's 'plot' extra)")
    results = results_dir or (Path(os.environ["OUT"]) if os.environ.get("OUT") else RESULTS)
    for folder, option in ((json_dir, "--json-dir"), (results, "--results-dir")):
        if folder is None:
            continue
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise click.BadParameter(f"cannot make the folder {str(folder)!r}: {exc.strerror}",
                                     param_hint=option) from None
    max_batch_arg, min_time_arg = str(max_batch), str(min_time)  # as mlp-xp bench is given them
    stem = results / f"bench_{tag}"
    json_dir = json_dir or Path(tempfile.mkdtemp(prefix="mlp_xp_bench_"))
    json_stem = json_dir / f"bench_{tag}"

    start = time.perf_counter()
    main_job = subprocess.run([sys.executable, "-m", "mlp_xp"], stdout=subprocess.PIPE, text=True)
    main_job_s = time.perf_counter() - start
    print(main_job.stdout)
    if main_job.returncode != 0:
        sys.exit(f"the main job failed (exit {main_job.returncode}): nothing written to {results}")
    (results / f"mlp-xp_{tag}.txt").write_text(f"$ mlp-xp\n{main_job.stdout}")
    shapes = mlp_xp_bench("--mode", "both", "--min-time", min_time_arg, "--json", f"{json_stem}.json")
    sweep = mlp_xp_bench("--sweep", "--mode", sweep_mode, "--max-batch", max_batch_arg, "--min-time",
                         min_time_arg, "--json", f"{json_stem}_sweep.json", "--plot", f"{stem}.png")
    crossover = "; ".join(
        f"{c['backend']} {c['mode']}: "
        + (f"from M = {c['M']}" if c["M"] is not None else "not faster at the largest M")
        for c in sweep["crossover"]
    )
    text = "\n".join([
        f"Measured on: {describe_environment(shapes['environment'])}.",
        "",
        f"The main job (`mlp-xp`, every backend, default shapes) took {main_job_s:.0f} s wall.",
        "",
        f"Default shapes (`mlp-xp bench --mode both --min-time {min_time_arg}`):",
        "",
        markdown_table(shapes),
        "",
        f"Sweep of M at (Dx, H, Dy) = (784, 512, 10) (`mlp-xp bench --sweep --mode {sweep_mode} "
        f"--max-batch {max_batch_arg}`); faster than NumPy eager from M on (the crossover): {crossover}.",
        "",
        markdown_table(sweep),
        "",
    ])
    Path(f"{stem}.md").write_text(text)
    print(text)
    print(f"JSON documents: {json_stem}.json, {json_stem}_sweep.json")


if __name__ == "__main__":
    main()
