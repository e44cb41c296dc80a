"""The benchmark tables and plot of the docs for this machine, from the ``mlp-xp bench`` command.

Runs, on every available backend, in float64:

1. ``mlp-xp``, the main job, its output saved as ``benchmarks/results/mlp-xp_<tag>.txt``;
2. ``mlp-xp bench --json`` at the default shapes -> ``<json-dir>/bench_<tag>.json``;
3. ``mlp-xp bench --sweep`` of M = 1 .. ``--max-batch`` at (Dx, H, Dy) = (784, 512, 10)
   -> ``<json-dir>/bench_<tag>_sweep.json`` and the plot ``benchmarks/results/bench_<tag>.png``;

then writes 2 and 3 as markdown tables to ``benchmarks/results/bench_<tag>.md`` (and prints them). Every
ratio in a table comes from medians measured in the same run of the command.

Run (five to ten minutes on 2 CPU cores; the lock keeps other benchmarks off the machine)::

    flock /tmp/mlp_xp_bench.lock python scripts/bench_readme.py

On a CUDA machine, ``--tag gpu --max-batch 65536`` gives the GPU table and plot.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mlp_xp.bench import describe_environment, format_seconds

RESULTS = Path(__file__).resolve().parent.parent / "benchmarks" / "results"


def mlp_xp_bench(*args: str) -> dict[str, Any]:
    """Run ``python -m mlp_xp bench ARGS --json FILE`` (output shown) and return the JSON."""
    json_path = Path(args[args.index("--json") + 1])
    subprocess.run([sys.executable, "-m", "mlp_xp", "bench", *args], check=True)
    return json.loads(json_path.read_text())


def markdown_table(doc: dict[str, Any]) -> str:
    lines = [
        "| backend | M x Dx x H x Dy | first call | median | IQR | runs | GFLOP/s | time/floor | vs numpy |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in doc["rows"]:
        if r["error"]:
            lines.append(f"| {r['backend']} | {r['shape']} | error: {r['error']} | | | | | | |")
            continue
        t = r["fbp"]
        lines.append(
            f"| {r['backend']} | {r['shape']} | {format_seconds(t['first_call_s'])} | "
            f"{format_seconds(t['median_s'])} | {format_seconds(t['iqr_s'])} | {t['n_runs']} | "
            f"{r['gflops']:.3g} | {r['time_over_floor']:.2f} | {r['speedup_vs_numpy']:.3g}x |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tag", default="cpu", help="file name part: benchmarks/results/bench_<tag>.*")
    parser.add_argument("--max-batch", default="8192", help="largest M of the sweep")
    parser.add_argument("--min-time", default="0.2", help="seconds of timed calls per measurement")
    parser.add_argument("--json-dir", type=Path, help="keep the two JSON documents here (megabytes: "
                        "every timed call is in them); default: a temporary folder")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = RESULTS / f"bench_{args.tag}"
    json_dir = args.json_dir or Path(tempfile.mkdtemp(prefix="mlp_xp_bench_"))
    json_dir.mkdir(parents=True, exist_ok=True)
    json_stem = json_dir / f"bench_{args.tag}"

    start = time.perf_counter()
    main_job = subprocess.run([sys.executable, "-m", "mlp_xp"], stdout=subprocess.PIPE, text=True)
    main_job_s = time.perf_counter() - start
    print(main_job.stdout)
    if main_job.returncode != 0:
        sys.exit(f"the main job failed (exit {main_job.returncode}): nothing written to benchmarks/results/")
    (RESULTS / f"mlp-xp_{args.tag}.txt").write_text(f"$ mlp-xp\n{main_job.stdout}")
    shapes = mlp_xp_bench("--min-time", args.min_time, "--json", f"{json_stem}.json")
    sweep = mlp_xp_bench("--sweep", "--max-batch", args.max_batch, "--min-time", args.min_time,
                         "--json", f"{json_stem}_sweep.json", "--plot", f"{stem}.png")
    crossover = "; ".join(
        f"{name}: {'from M = ' + str(M) if M is not None else 'not faster at the largest M'}"
        for name, M in sweep["crossover"].items()
    )
    text = "\n".join([
        f"Measured on: {describe_environment(shapes['environment'])}.",
        "",
        f"The main job (`mlp-xp`, every backend, default shapes) took {main_job_s:.0f} s wall.",
        "",
        f"Default shapes (`mlp-xp bench --min-time {args.min_time}`):",
        "",
        markdown_table(shapes),
        "",
        f"Sweep of M at (Dx, H, Dy) = (784, 512, 10) (`mlp-xp bench --sweep --max-batch {args.max_batch}`); "
        f"faster than NumPy from M on (the crossover): {crossover}.",
        "",
        markdown_table(sweep),
        "",
    ])
    Path(f"{stem}.md").write_text(text)
    print(text)
    print(f"JSON documents: {json_stem}.json, {json_stem}_sweep.json")


if __name__ == "__main__":
    main()
