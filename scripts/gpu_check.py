"""One command that checks mlp_xp on a CUDA machine: install, probe, host reads, tests, timings.

For a machine that has CUDA, CuPy, PyTorch and JAX preinstalled and no network. Two steps:

1. here, with network: ``python scripts/gpu_check.py prepare`` downloads the project's
   pure-Python dependencies as wheels into ``.gpu_wheels/`` (gitignored; it travels with
   the working tree);
2. there: ``python scripts/gpu_check.py run --out "$OUT"`` (``--out`` defaults to ``$OUT``).

``run`` makes these steps, each under a timeout, all within ``--budget`` seconds:

- install: a virtual environment that sees the preinstalled packages
  (``--system-site-packages``), the wheels installed into it with ``--no-index
  --find-links`` and the preinstalled CuPy, torch, JAX and NumPy pinned as they are, then
  the project (editable);
- probe: each GPU backend in a fresh process, JAX before torch (JAX may lose its GPU if
  torch's CUDA libraries load first): available or why not, version, device, and the
  device-to-host reads of ``gradcheck`` (fast and full) and ``forward_backward_prop`` at
  two sizes, which must be equal;
- pytest: the suite with ``--backend cupy --backend torch-cuda --backend jax-gpu``
  required, ``-n auto``;
- bench: ``mlp-xp bench`` in both modes in float64 and float32 at the default shapes, and
  an eager ``--sweep`` up to M = 65536 in float32. A step that runs out of time is killed
  (an ``mlp-xp bench`` killed so writes no JSON; its log keeps what it printed) and the
  steps after it get what is left.

It writes at most seven files into the output folder: ``summary.json`` (every step's
command, exit status and seconds; the probes and read counts), ``steps.log``,
``pytest.log``, ``bench.log`` and three ``mlp-xp bench --json`` documents (their
``runs_s`` lists dropped to keep them small). ``--dry`` runs the same steps on the CPU
backends (numpy, torch, jax), for a test here.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from mlp_xp.cli import OneLineGroup

ROOT = Path(__file__).resolve().parent.parent
#: Where ``prepare`` puts the wheels and ``run`` finds them: ignored by git, carried with the tree.
WHEELS = ROOT / ".gpu_wheels"
#: The device machine's copy takes at most 64 MiB of carried paths.
MAX_WHEELS_MIB = 64
#: Installed from the wheels: the project's dependencies and the test suite's, without the
#: compiled ones (NumPy, SciPy, matplotlib, ...), which the GPU machine has with its torch and
#: JAX, or the tests that need them skip. setuptools builds the project's editable install.
REQUIREMENTS = (
    "array-api-compat>=1.12", "array-api-extra>=0.8", "click>=8.2", "threadpoolctl>=3.1",
    "pytest>=8", "pytest-xdist>=3.5", "array-api-strict>=2.3", "hypothesis>=6.100",
    "dask[array]>=2024.12", "setuptools>=77", "wheel",
)
#: The preinstalled libraries that the install must leave as they are (pinned by a constraints file).
PREINSTALLED = ("numpy", "scipy", "torch", "jax", "jaxlib", "cupy-cuda12x", "cupy-cuda13x", "ml_dtypes")
GPU_BACKENDS = ("jax-gpu", "torch-cuda", "cupy")  # JAX first: before torch's CUDA libraries load
#: --dry: the CPU twins, in the same order.
DRY_BACKENDS = {"jax-gpu": "jax", "torch-cuda": "torch", "cupy": "numpy"}
#: Each step's timeout in seconds (a step never gets more than what is left of --budget).
TIMEOUTS = {"install": 90, "probe": 40, "pytest": 150, "bench": 100, "sweep": 60}
#: The output files, at most eight.
FILES = ("summary.json", "steps.log", "pytest.log", "bench.log",
         "bench_float64.json", "bench_float32.json", "sweep_float32.json")


# ---- counting device-to-host reads (in a probe's fresh process) ----

def _patch(stack: contextlib.ExitStack, cls: type, name: str, kind: str, reads: Counter[str]) -> None:
    original = cls.__dict__.get(name)
    if original is None:
        return

    @functools.wraps(original)
    def counted(*args: Any, **kwargs: Any) -> Any:
        reads[kind] += 1
        return original(*args, **kwargs)

    setattr(cls, name, counted)
    stack.callback(setattr, cls, name, original)


@contextlib.contextmanager
def count_reads(library: str) -> Iterator[Counter[str]]:
    """Count the device-to-host reads of ``library``'s arrays made inside the block, by kind.

    torch: scalar reads (``aten._local_scalar_dense``) and copies from a device to the CPU;
    CuPy: ``get`` and the scalar conversions of ``cupy.ndarray``; JAX: fetches of an array's
    value (``ArrayImpl._value``, once per array: then it is cached). NumPy: none (no device).
    """
    reads: Counter[str] = Counter()
    with contextlib.ExitStack() as stack:
        if library == "torch":
            import torch
            from torch.utils._python_dispatch import TorchDispatchMode

            aten = torch.ops.aten

            class Watch(TorchDispatchMode):
                def __torch_dispatch__(self, func: Any, types: Any, args: Any = (),
                                       kwargs: Any = None) -> Any:
                    if func is aten._local_scalar_dense.default:
                        reads["torch scalar read"] += 1
                    elif func is aten._to_copy.default and args[0].device.type != "cpu" \
                            and str((kwargs or {}).get("device", "")) == "cpu":
                        reads["torch copy to the host"] += 1  # x.cpu(), x.to("cpu")
                    elif func is aten.copy_.default and args[1].device.type != "cpu" \
                            and args[0].device.type == "cpu":
                        reads["torch copy to the host"] += 1  # host_tensor.copy_(x)
                    return func(*args, **(kwargs or {}))

            stack.enter_context(Watch())
        elif library == "cupy":
            import cupy

            for name in ("get", "__float__", "__bool__", "__int__", "item", "tolist"):
                _patch(stack, cupy.ndarray, name, f"cupy {name}", reads)
        elif library == "jax":
            from jax._src.array import ArrayImpl

            value = ArrayImpl.__dict__["_value"]

            def counted_value(self: Any) -> Any:
                if getattr(self, "_npy_value", None) is None:
                    reads["jax fetch of a value"] += 1
                return value.fget(self)

            ArrayImpl._value = property(counted_value)  # type: ignore[assignment]
            stack.callback(setattr, ArrayImpl, "_value", value)
        yield reads


#: Two problem sizes (M, (Dx, H, Dy)): the reads must not depend on them.
SIZES = ((8, (4, 3, 3)), (16, (6, 4, 3)))  # 27 and 43 parameters: full mode calls f 2n times


def probe(name: str) -> dict[str, Any]:
    """Backend ``name`` in this process: available or why not; its host reads at two sizes."""
    from mlp_xp import forward_backward_prop, gradcheck, param_layout, random_problem
    from mlp_xp.backends import BackendUnavailable, get_backend

    try:
        b = get_backend(name)
    except BackendUnavailable as exc:
        return {"backend": name, "available": False, "reason": exc.reason}
    result: dict[str, Any] = {"backend": name, "available": True, "version": b.version,
                              "device": b.device_name, "compiler": b.compiler, "reads": {}}
    for M, dims in SIZES:
        data, labels, params = (b.asarray(a, "float64") for a in random_problem(M, dims, 0))
        b.wait((data, labels, params))

        def f(p: Any, data: Any = data, labels: Any = labels, dims: Any = dims) -> Any:
            return forward_backward_prop(data, labels, p, dims)

        calls: dict[str, Callable[[], Any]] = {
            "forward_backward_prop": lambda f=f, params=params: b.wait(f(params)),
            "gradcheck fast": lambda f=f, params=params, dims=dims: gradcheck(
                f, params, mode="fast", layout=param_layout(dims)),
            "gradcheck full": lambda f=f, params=params: gradcheck(f, params, mode="full"),
        }
        for what, call in calls.items():
            call()  # once uncounted: first-use work (kernels, caches) is not what is counted
            with count_reads(b.library) as reads:
                call()
            result["reads"].setdefault(what, []).append(
                {"M": M, "dims": list(dims), "n": sum(reads.values()), "by_kind": dict(reads)})
    result["reads_equal"] = all(len({r["n"] for r in rs}) == 1 for rs in result["reads"].values())
    return result


# ---- the steps ----

class Steps:
    """Runs commands under timeouts within one budget, logging them; records each in ``summary``."""

    def __init__(self, out: Path, budget: float):
        self.out, self.deadline = out, time.monotonic() + budget
        self.summary: dict[str, Any] = {"steps": []}
        self.log = (out / "steps.log").open("a")

    def run(self, name: str, argv: list[str], timeout: float, log: str = "steps.log",
            check: bool = True) -> subprocess.CompletedProcess[str] | None:
        """Run ``argv``; ``check``: a non-zero exit, a timeout or a skip makes the run fail."""
        left = self.deadline - time.monotonic()
        limit = min(timeout, left)
        record: dict[str, Any] = {"step": name, "command": argv, "timeout_s": round(limit, 1), "check": check}
        self.summary["steps"].append(record)
        if limit < 1:
            record["skipped"] = "the budget is spent"
            return None
        start = time.monotonic()
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=limit, cwd=ROOT)
        except subprocess.TimeoutExpired as exc:
            record.update(rc=None, timed_out=True, seconds=round(time.monotonic() - start, 1))
            text = _text(exc.stdout) + _text(exc.stderr)
            self._write(log, name, argv, f"{text}\n[timed out after {limit:.0f} s]\n")
            return None
        record.update(rc=done.returncode, timed_out=False, seconds=round(time.monotonic() - start, 1))
        self._write(log, name, argv, done.stdout + done.stderr)
        return done

    def _write(self, log: str, name: str, argv: list[str], text: str) -> None:
        f = self.log if log == "steps.log" else (self.out / log).open("a")
        f.write(f"==== {name}: {' '.join(argv)}\n{text}\n")
        f.flush()
        if f is not self.log:
            f.close()


def _text(b: bytes | str | None) -> str:
    return b.decode(errors="replace") if isinstance(b, bytes) else (b or "")


def install(steps: Steps, wheels: Path, dry: bool) -> str:
    """The Python to run the other steps with: a venv that has the project and the wheels."""
    if not wheels.is_dir() or not any(wheels.glob("*.whl")):
        steps.summary["install"] = (f"skipped: no wheels in {wheels} (run 'prepare' first); "
                                    f"using {sys.executable}")
        return sys.executable
    venv = Path(tempfile.mkdtemp(prefix="mlp_xp_gpu_check_")) / "venv"
    python = sys.executable
    if not dry:
        made = steps.run("venv", [sys.executable, "-m", "venv", "--system-site-packages", str(venv)], 30,
                         check=False)  # else: the interpreter itself
        if made is not None and made.returncode == 0:
            python = str(venv / "bin" / "python")
            _see_this_environment(venv)
    pins = steps.run("pins", [python, "-c", _PINS], 20, check=False)
    constraints = venv.parent / "constraints.txt"
    constraints.write_text(pins.stdout if pins is not None and pins.returncode == 0 else "")
    pip = [python, "-m", "pip", "install", "--no-index", "--find-links", str(wheels), "-c", str(constraints),
           "--disable-pip-version-check", *(["--dry-run"] if dry else [])]
    steps.run("install wheels", [*pip, *REQUIREMENTS], TIMEOUTS["install"])
    if not dry:
        steps.run("install project", [*pip, "--no-deps", "-e", str(ROOT)], TIMEOUTS["install"])
    steps.summary["install"] = f"python {python}; wheels from {wheels}" + (" (pip --dry-run)" if dry else "")
    return python


def _see_this_environment(venv: Path) -> None:
    """Let the venv import what this interpreter imports (CuPy, torch, JAX), after its own packages.

    ``--system-site-packages`` shows the base Python's packages only; where this interpreter
    is itself a venv or a conda environment, its packages are in its own site folders.
    """
    own = [p for p in sys.path if p.endswith("site-packages") or p.endswith("dist-packages")]
    for site_packages in venv.glob("lib/python*/site-packages"):
        (site_packages / "_gpu_check_outer.pth").write_text("".join(f"{p}\n" for p in own))


_PINS = ("import importlib.metadata as m\n"
         f"for n in {PREINSTALLED!r}:\n"
         "    try: print(f'{n}=={m.version(n)}')\n"
         "    except m.PackageNotFoundError: pass\n")


def _slim(path: Path) -> None:
    """Drop every row's ``runs_s`` (each timed call) from a bench JSON: the quartiles stay."""
    if not path.exists():
        return
    doc = json.loads(path.read_text())
    for row in doc["rows"]:
        for key in ("fbp", "floor"):
            if row.get(key):
                row[key].pop("runs_s", None)
    doc["runs_s_dropped_by"] = "scripts/gpu_check.py"
    path.write_text(json.dumps(doc, indent=1))


def _out_dir(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path:
    value = value or (Path(os.environ["OUT"]) if os.environ.get("OUT") else None)
    if value is None:
        raise click.BadParameter("give the output folder, or set $OUT")
    try:
        value.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise click.BadParameter(f"cannot make the folder {str(value)!r}: {exc.strerror}") from None
    return value


@click.group(cls=OneLineGroup, help=__doc__.split("\n\n")[0],
             context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    pass


@main.command()
@click.option("--wheels", type=click.Path(file_okay=False, path_type=Path), default=WHEELS, show_default=True,
              help="Folder to download the wheels into.")
@click.option("--python-version", default=f"{sys.version_info.major}.{sys.version_info.minor}",
              show_default=True, help="The GPU machine's Python, for pip download's resolution.")
def prepare(wheels: Path, python_version: str) -> None:
    """Download the pure-Python wheels for 'run' (needs network); says their size."""
    wheels.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--dest", str(wheels), "--only-binary=:all:",
                    "--python-version", python_version, "--disable-pip-version-check", *REQUIREMENTS],
                   check=True)
    for wheel in wheels.glob("*.whl"):
        if not wheel.name.endswith("-none-any.whl"):  # compiled for this machine's Python and CPU
            wheel.unlink()
            name = wheel.name.split("-")[0]
            # some (hypothesis) published pure wheels until lately: the newest pure one will do
            wanted = next((r for r in REQUIREMENTS if r.split(">")[0].replace("-", "_") == name), name)
            pure = subprocess.run([sys.executable, "-m", "pip", "download", "--dest", str(wheels),
                                   "--no-deps", "--only-binary=:all:", "--platform", "any",
                                   "--python-version", python_version, "--disable-pip-version-check",
                                   wanted], capture_output=True, text=True)
            verdict = "its newest pure-Python wheel instead" if pure.returncode == 0 else \
                "no pure-Python wheel: the GPU machine must have it"
            click.echo(f"{wheel.name} is compiled; {verdict}")
    size = sum(w.stat().st_size for w in wheels.glob("*.whl")) / 2**20
    click.echo(f"{len(list(wheels.glob('*.whl')))} wheels, {size:.1f} MiB in {wheels}")
    if size > MAX_WHEELS_MIB:
        raise click.ClickException(f"{size:.1f} MiB is more than the {MAX_WHEELS_MIB} MiB "
                                   "that the device copy takes")


@main.command("probe", hidden=True)
@click.argument("name")
def probe_command(name: str) -> None:
    """One backend's probe, as JSON on stdout (run by 'run' in a fresh process)."""
    click.echo(json.dumps(probe(name)))


@main.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), callback=_out_dir,
              help="Output folder; default: $OUT.", show_default=True)
@click.option("--dry", is_flag=True, help="The same steps on the CPU backends (numpy, torch, jax).")
@click.option("--wheels", type=click.Path(file_okay=False, path_type=Path), default=WHEELS, show_default=True,
              help="The wheels of 'prepare'.")
@click.option("--budget", type=click.FloatRange(min=10, max=3600), default=470, show_default=True,
              help="Seconds for the whole run; each step gets at most what is left.")
@click.option("--backend", "backends", multiple=True, show_default=True,
              help="Probe, test and time these (repeatable) instead of cupy, torch-cuda and jax-gpu "
              "(with --dry: numpy, torch and jax).")
@click.option("--tests", default="", show_default=True,
              help="What pytest runs (space-separated paths or node ids); default: the whole suite.")
@click.option("--shape", "shapes", multiple=True, show_default=True,
              help="mlp-xp bench --shape (repeatable); default: its default shapes.")
@click.option("--max-batch", type=click.IntRange(min=1), default=65536, show_default=True,
              help="Largest M of the sweep.")
@click.option("--min-time", type=click.FloatRange(min=0.001, max=5), default=0.1, show_default=True,
              help="mlp-xp bench --min-time (the sweep takes half of it).")
def run(out: Path, dry: bool, wheels: Path, budget: float, backends: tuple[str, ...], tests: str,
        shapes: tuple[str, ...], max_batch: int, min_time: float) -> None:
    """Install, probe, count host reads, run the tests and the benchmark; write everything to --out."""
    for name in FILES:
        (out / name).unlink(missing_ok=True)
    steps = Steps(out, budget)
    steps.summary.update(dry=dry, started=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                         python=sys.version.split()[0])
    try:
        python = install(steps, wheels, dry)
        probes = []
        # each in a fresh process, JAX first
        for name in backends or [DRY_BACKENDS[n] if dry else n for n in GPU_BACKENDS]:
            done = steps.run(f"probe {name}", [python, str(Path(__file__).resolve()), "probe", name],
                             TIMEOUTS["probe"])
            try:
                probes.append(json.loads(done.stdout.strip().splitlines()[-1]) if done else None)
            except (ValueError, IndexError):
                probes.append(None)
            if probes[-1] is None:
                probes[-1] = {"backend": name, "available": False,
                              "reason": "the probe failed: see steps.log"}
        steps.summary["probes"] = probes
        available = [p["backend"] for p in probes if p["available"]]
        required = [a for p in probes for a in ("--backend", p["backend"])]
        xdist = steps.run("is pytest-xdist here", [python, "-c", "import xdist"], 20, check=False)
        parallel = ["-n", "auto"] if xdist is not None and xdist.returncode == 0 else []
        steps.run("pytest", [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *parallel, *required,
                             *tests.split()], TIMEOUTS["pytest"], log="pytest.log")
        chosen = ["--backend", "numpy", *[a for n in available if n != "numpy" for a in ("--backend", n)]]
        shape_args = [a for s in shapes for a in ("--shape", s)]
        bench = [python, "-m", "mlp_xp", "bench", *chosen]
        for dtype in ("float32", "float64"):  # float32 first: where a GPU is fast
            path = out / f"bench_{dtype}.json"
            steps.run(f"bench {dtype}", [*bench, *shape_args, "--mode", "both", "--dtype", dtype,
                                         "--min-time", str(min_time), "--json", str(path)],
                      TIMEOUTS["bench"], log="bench.log")
            _slim(path)
        sweep = out / "sweep_float32.json"
        # eager: torch.compile would compile anew at each of the 17 batch sizes, minutes in all
        steps.run("sweep float32", [*bench, "--sweep", "--max-batch", str(max_batch), "--mode", "eager",
                                    "--dtype", "float32", "--min-time", str(min_time / 2),
                                    "--json", str(sweep)], TIMEOUTS["sweep"], log="bench.log")
        _slim(sweep)
    finally:
        steps.log.close()
        steps.summary["failed"] = [s["step"] for s in steps.summary["steps"]
                                   if s["check"] and s.get("rc") != 0]
        steps.summary["files"] = [*sorted(p.name for p in out.iterdir() if p.name in FILES), "summary.json"]
        (out / "summary.json").write_text(json.dumps(steps.summary, indent=1))
    failed = steps.summary["failed"]
    probes = steps.summary.get("probes", [])
    unequal = [p["backend"] for p in probes if p["available"] and not p["reads_equal"]]
    missing = [p["backend"] for p in probes if not p["available"]]
    click.echo(f"wrote {', '.join(steps.summary['files'])} to {out}")
    for what, names in (("failed, timed out or skipped", failed), ("unavailable", missing),
                        ("host reads that depend on the size", unequal)):
        if names:
            click.echo(f"{what}: {', '.join(names)}")
    sys.exit(1 if failed or unequal or missing else 0)


if __name__ == "__main__":
    main()
