"""The ``mlp-xp`` command: check the network's gradients and time it on every backend here.

``mlp-xp`` alone runs the main job (sanity check and timing table on every available
backend); ``mlp-xp backends``, ``mlp-xp sanity`` and ``mlp-xp bench`` do one part each.
A user's mistake gets one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import click

from . import bench
from .backends import (
    BACKEND_NAMES,
    COMPILED_BACKENDS,
    Backend,
    BackendUnavailable,
    available_backends,
    dask_chunk_rows,
    get_backend,
    known_backends,
)
from .bench import DEFAULT_SHAPES, MODES, SWEEP_BATCHES, SWEEP_DIMENSIONS, Row, Shape, format_seconds
from .sanity import sanity_check

__all__ = ["OneLineCommand", "OneLineErrors", "OneLineGroup", "main", "main_job"]

#: Seconds of timed calls per measurement (at least ``bench.MIN_RUNS`` calls are always
#: timed). 0.2 s keeps the main job at about a minute on a 2-core CPU with five backends,
#: where the MNIST-like shape's minimum of five calls already takes longer than this.
DEFAULT_MIN_TIME = 0.2
#: The largest ``--min-time``: a backend at one shape takes about 2.5 times it (the network
#: and its floor, each with warm-up), so a sweep of 17 batch sizes on five backends at 60 s
#: takes about 3.5 hours already, and a minute of calls is far more than a median needs.
MAX_MIN_TIME = 60.0
DTYPES = ("float64", "float32")
#: ``--mode`` values: each of :data:`mlp_xp.bench.MODES`, or both.
MODE_CHOICES = (*MODES, "both")


class OneLineErrors:
    """A Click command or group whose usage errors print as one line (``Error: ...``), exit code 2.

    Click's own format adds the usage and a hint on separate lines; a user's mistake gets
    just the message, naming the option, with where to look for help. Mixed into
    :class:`OneLineGroup` (``mlp-xp``) and :class:`OneLineCommand` (the scripts' commands).
    """

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True, **extra: Any) -> Any:
        run = super().main  # type: ignore[misc]
        if not standalone_mode:
            return run(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            rv = run(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            click.echo(f"Error: {exc.format_message()}{where}", err=True)
            sys.exit(2)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


class OneLineGroup(OneLineErrors, click.Group):
    """A :class:`click.Group` with :class:`OneLineErrors`."""


class OneLineCommand(OneLineErrors, click.Command):
    """A :class:`click.Command` with :class:`OneLineErrors`."""


class _EnvironmentMistake(click.ClickException):
    """A bad environment variable: one line and exit code 2 like a usage error, without the
    pointer to ``--help`` (no option is at fault)."""

    exit_code = 2


class _Parsed(click.ParamType):
    """An option value made by ``parse(text)``; its ``ValueError`` or ``BackendUnavailable``
    becomes a usage error that quotes it."""

    def __init__(self, name: str, parse: Callable[[str], Any]):
        self.name, self.parse = name, parse

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):  # a default that is already parsed
            return value
        try:
            return self.parse(value)
        except (ValueError, BackendUnavailable) as exc:
            self.fail(str(exc), param, ctx)


def _seconds(text: str) -> float:
    """``--min-time``: a finite number of seconds > 0 and at most ``MAX_MIN_TIME``."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds <= MAX_MIN_TIME:  # nan compares false: refused too
        raise ValueError(f"expected seconds, a number > 0 and at most {MAX_MIN_TIME:g}, got {text!r}")
    return seconds


def _not_empty(ctx: click.Context, param: click.Parameter, path: str | None) -> str | None:
    if path == "":
        raise click.BadParameter("an empty path names no file", ctx, param)
    return path


backend_option = click.option(
    "--backend", "backends", multiple=True, type=_Parsed("backend", lambda name: get_backend(name)),
    help=f"Repeatable; default: every available one. Known: {', '.join(BACKEND_NAMES)}.",
)
dtype_option = click.option("--dtype", type=click.Choice(DTYPES), default="float64", show_default=True,
                            help="Floating dtype of every array.")


def _modes(choice: str) -> tuple[str, ...]:
    return MODES if choice == "both" else (choice,)


def _check_modes(backends: Sequence[Backend], modes: Sequence[str]) -> None:
    """Fail before any work if ``--mode compiled`` would compile nothing."""
    if "eager" not in modes and not any(b.compiler for b in backends):
        chosen = ", ".join(b.name for b in backends)
        raise click.BadParameter(
            f"none of the chosen backends ({chosen}) has a compiler, so nothing would be compiled; "
            f"choose one that has ({', '.join(COMPILED_BACKENDS)}) or --mode eager",
            param_hint=["--mode"],
        )


def _check_writable(path: str, option: str) -> None:
    """Fail before any work if ``path`` cannot be written (a file made by the check is removed)."""
    existed = os.path.exists(path)
    try:
        with open(path, "a"):
            pass
    except OSError as exc:
        raise click.BadParameter(f"cannot write {path!r}: {exc.strerror}", param_hint=[option]) from None
    if not existed:
        os.remove(path)


def _check_plot(path: str) -> None:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise click.UsageError(
            "--plot needs matplotlib, which is not installed: pip install matplotlib"
        ) from None
    formats = Figure().canvas.get_supported_filetypes()
    ext = os.path.splitext(path)[1].lstrip(".").lower()
    if ext not in formats:
        raise click.BadParameter(
            f"cannot tell the image format of {path!r}; end it with one of .{', .'.join(sorted(formats))}",
            param_hint=["--plot"],
        )
    _check_writable(path, "--plot")


def _check_float64(backends: Sequence[Backend], dtype: str) -> None:
    for b in backends:
        if dtype == "float64" and not b.supports_float64:
            raise click.BadParameter(
                f"backend {b.name!r} cannot make float64 arrays on {b.device_name}; use --dtype float32",
                param_hint=["--dtype"],
            )


def _check_dask_chunk_rows(backends: Sequence[Backend]) -> None:
    """Fail before any work if the Dask backend is chosen and its chunk-size variable is bad."""
    if any(b.name == "dask" for b in backends):
        try:
            dask_chunk_rows()
        except ValueError as exc:
            raise _EnvironmentMistake(str(exc)) from None


def _check_memory(shapes: Sequence[Shape], dtype: str, sweep: bool) -> None:
    """Fail before any work if the largest shape needs more memory than this machine has now.

    Host memory is a sane first bound for GPU backends too: their data are drawn on the host.
    """
    available = bench.available_memory()
    if available is None or not shapes:
        return
    shape = max(shapes, key=lambda s: bench.bytes_needed(s, dtype))
    needed = bench.bytes_needed(shape, dtype)
    if needed > available:
        smaller = "--max-batch, Dx, H or Dy" if sweep else "M, Dx, H or Dy"
        raise click.BadParameter(
            f"{shape} needs about {_gib(needed)} in {dtype} (data, labels, params, gradient and "
            f"temporaries), but this machine has {_gib(available)} available; choose a smaller {smaller}",
            param_hint=["--shape", "--max-batch"] if sweep else ["--shape"],
        )


def _gib(n: int) -> str:
    gib = n / 2**30
    return f"{gib:.3g} GiB" if gib < 1000 else f"{gib:,.0f} GiB"


def _run_sanity(backend: Backend, dtype: str, seed: int) -> tuple[bool, str]:
    """The seed's sanity check on one backend: its verdict and what it printed.

    An exception inside the check (a library bug, an unsupported operation) is a failed
    check with the exception as its message, so the other backends still run.
    """
    out = io.StringIO()
    with contextlib.redirect_stdout(out), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # shown in the report, once per check, not on stderr
        try:
            passed = sanity_check(backend.name, dtype, seed)
        except Exception as exc:
            passed = False
            print(f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}")
    notes = "".join(f"warning: {w.message}\n" for w in caught)
    return passed, out.getvalue() + notes


def _fmt(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], left: int) -> str:
    """Plain-text table: the first ``left`` columns (names) left-aligned, the others (numbers) right."""
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        pairs = enumerate(zip(cells, widths, strict=True))
        padded = (c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in pairs)
        return "  ".join(padded).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def _timing_table(rows: Sequence[Row], sanity: dict[str, bool] | None = None) -> str:
    headers = ["backend", "mode", "device", *(["sanity"] if sanity else []), "shape M x Dx x H x Dy",
               "first call", "median", "IQR", "runs", "GFLOP/s", "time/floor", "vs numpy"]
    lines = []
    for r in rows:
        verdict = (["passed" if sanity.get(r.backend) else "FAILED"] if sanity else [])
        if r.error:
            error = [f"error: {r.error}", *[""] * 6]
            lines.append([r.backend, r.mode, r.device, *verdict, str(r.shape), *error])
            continue
        t = r.timing
        assert t is not None  # a row without an error was timed
        lines.append([
            r.backend, r.mode, r.device, *verdict, str(r.shape),
            *map(format_seconds, (t.first_s, t.median_s, t.iqr_s)), str(t.n),
            _fmt(r.gflops, ".3g"), _fmt(r.time_over_floor, ".3g"),
            "-" if r.speedup is None else f"{r.speedup:.3g}x",
        ])
    return _table(headers, lines, left=len(headers) - 7)


TABLE_LEGEND = (
    "median and IQR (interquartile range) of the timed calls after the first call and warm-up;\n"
    "mode compiled: jax.jit or torch.compile, its first call includes the compilation;\n"
    "GFLOP/s counts the five matrix products (4*M*Dx*H + 6*M*H*Dy); time/floor = median over the\n"
    "median of those five products alone, in the same mode; vs numpy = numpy's eager median / this\n"
    "median (same run)."
)


def _bench_jobs(
    backends: Sequence[Backend], shapes: Sequence[Shape], modes: Sequence[str]
) -> list[tuple[Shape, Backend, str]]:
    """(shape, backend, mode) to time: the compiled mode only where a backend has a compiler,
    and NumPy eager (the baseline of every speedup) always."""
    return [
        (shape, b, mode)
        for shape in shapes  # all backends at one shape, close in time
        for b in backends
        for mode in MODES
        if (mode in modes or (b.name, mode) == ("numpy", "eager")) and (mode == "eager" or b.compiler)
    ]


def _bench_rows(
    backends: Sequence[Backend], shapes: Sequence[Shape], dtype: str, min_time: float,
    modes: Sequence[str] = ("eager",),
) -> list[Row]:
    """Every backend at every shape in each mode, a progress bar on stderr, speedups against NumPy."""
    jobs = _bench_jobs(backends, shapes, modes)
    with click.progressbar(jobs, label="timing", file=sys.stderr,
                           item_show_func=lambda job: job and f"{job[1].name} {job[2]} {job[0]}") as bar:
        rows = [bench.bench_shape(b, shape, dtype, min_time, 0, mode) for shape, b, mode in bar]
    return bench.with_speedups(rows)


def _eager_only_note(backends: Sequence[Backend], modes: Sequence[str]) -> str | None:
    eager_only = [b.name for b in backends if b.compiler is None]
    if "compiled" not in modes or not eager_only:
        return None
    return f"Eager only (no compiler): {', '.join(eager_only)}."


def _no_gpu_note() -> str | None:
    accel = {n: b for n, b in known_backends().items() if n in ("cupy", "torch-cuda", "jax-gpu")}
    reasons = [f"{n}: {b.reason}" for n, b in accel.items() if isinstance(b, BackendUnavailable)]
    if len(reasons) < len(accel):
        return None
    return "No GPU backend here: " + "; ".join(reasons) + "."


def main_job() -> int:
    """The seed's sanity check and the timing at the default shapes, on every available backend.

    Each backend is timed eagerly, and compiled where it has a compiler (both modes).

    Prints one table; returns the exit status: 0 when every sanity check passes, 1 otherwise.
    A bad ``$MLP_XP_DASK_CHUNK_ROWS`` (when Dask is here) is a ``click.ClickException``
    raised before any work.
    """
    backends = available_backends()
    _check_dask_chunk_rows(backends)
    env = bench.environment(backends, "float64")
    click.echo(bench.describe_environment(env))
    click.echo(f"Sanity check (the seed's gradient check) and timing of forward_backward_prop; "
               f"{DEFAULT_MIN_TIME:g} s of timed calls per measurement.\n")
    sanity, failures = {}, []
    for b in backends:
        sanity[b.name], output = _run_sanity(b, "float64", 0)
        if not sanity[b.name]:
            failures.append(f"{b.name}: " + " | ".join(output.strip().splitlines()[1:]))
    rows = _bench_rows(backends, DEFAULT_SHAPES, "float64", DEFAULT_MIN_TIME, MODES)
    click.echo(_timing_table(rows, sanity))
    click.echo("\n" + TABLE_LEGEND)
    for note in (_eager_only_note(backends, MODES), _no_gpu_note()):
        if note:
            click.echo(note)
    for line in failures:
        click.echo(f"Sanity check FAILED on {line}")
    passed = sum(sanity.values())
    click.echo(f"Sanity: {passed} of {len(sanity)} backends passed.")
    return 0 if passed == len(sanity) else 1


@click.group(cls=OneLineGroup, invoke_without_command=True)
@click.version_option(package_name="mlp_xp")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Check the two-layer network's gradients and time it on every backend of this machine.

    Without a command, runs the main job: the seed's sanity check (gradient check) and the
    timing of forward_backward_prop at the default shapes, on every available backend,
    eager and compiled (jax.jit, torch.compile), in one table. Exit status 0 when every
    sanity check passes, 1 otherwise.
    """
    if ctx.invoked_subcommand is None:
        ctx.exit(main_job())


@main.command("backends")
def backends_command() -> None:
    """Every known backend: available or not (and why), version, device, float64 support."""
    rows = []
    for name, b in known_backends().items():
        if isinstance(b, Backend):
            rows.append([name, "yes", b.version, b.device_name, "yes" if b.supports_float64 else "no", ""])
        else:
            rows.append([name, "no", "-", "-", "-", b.reason])
    click.echo(_table(["backend", "available", "version", "device", "float64", "why not"], rows, left=6))


@main.command()
@backend_option
@dtype_option
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of the random problem, a whole number >= 0.")
@click.pass_context
def sanity(ctx: click.Context, backends: tuple[Backend, ...], dtype: str, seed: int) -> None:
    """The seed's sanity check: gradient check of a 20-example network (10, 5, 10).

    Exit status 0 when it passes on every chosen backend, 1 otherwise.
    """
    backends = backends or tuple(available_backends())
    _check_float64(backends, dtype)
    _check_dask_chunk_rows(backends)
    failed = 0
    for b in backends:
        passed, output = _run_sanity(b, dtype, seed)
        failed += not passed
        click.echo(f"== {b.name} ({b.device_name}, {dtype}): {'passed' if passed else 'FAILED'}")
        click.echo(output.rstrip())
    ctx.exit(1 if failed else 0)


@main.command("bench")
@backend_option
@click.option("--shape", "shapes", multiple=True, type=_Parsed("shape", Shape.parse), metavar="MxDXxHxDY",
              help=f"Repeatable; default: {', '.join(map(str, DEFAULT_SHAPES))}. With --sweep, its "
              f"Dx x H x Dy (M is swept; default {'x'.join(map(str, SWEEP_DIMENSIONS))}).")
@dtype_option
@click.option("--min-time", type=_Parsed("seconds", _seconds), default=DEFAULT_MIN_TIME,
              show_default=True, help=f"Seconds of timed calls per measurement, > 0 and at most "
              f"{MAX_MIN_TIME:g} (each backend and shape takes about 2.5 times it; a sweep has up "
              f"to {len(SWEEP_BATCHES)} shapes). At least {bench.MIN_RUNS} and at most "
              f"{bench.MAX_RUNS} calls are timed.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), callback=_not_empty,
              help="Write every row and the environment to this JSON file (schema in docs/bench-json.md).")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), callback=_not_empty,
              help="With --sweep: plot time and GFLOP/s against M to this image (needs the 'plot' "
              "extra: matplotlib).")
@click.option("--sweep", is_flag=True, help="Time batch sizes M = 1, 2, 4, ... up to --max-batch "
              "and report where each backend starts beating NumPy.")
@click.option("--max-batch", type=click.IntRange(min=1), default=SWEEP_BATCHES[-1], show_default=True,
              help="Largest M of --sweep.")
@click.option("--mode", "mode_choice", type=click.Choice(MODE_CHOICES), default="both", show_default=True,
              help="eager: op by op; compiled: jax.jit on JAX, torch.compile on torch (the first call "
              "includes the compilation; other backends are eager only); both.")
@click.pass_context
def bench_command(ctx: click.Context, backends: tuple[Backend, ...], shapes: tuple[Shape, ...], dtype: str,
                  min_time: float, json_path: str | None, plot_path: str | None, sweep: bool,
                  max_batch: int, mode_choice: str) -> None:
    """Time forward_backward_prop, and its five matrix products alone, on each backend.

    NumPy eager, the baseline of every speedup, is always timed. Exit status 1 if a
    measurement failed (its error is in the table), else 0.
    """
    plan = _bench_plan(backends, shapes, dtype, json_path, plot_path, sweep, max_batch, _modes(mode_choice))
    rows = _bench_rows(plan.backends, plan.shapes, dtype, min_time, plan.modes)
    ctx.exit(_bench_report(plan, rows, dtype, min_time))


@dataclasses.dataclass(frozen=True)
class _BenchPlan:
    """What ``mlp-xp bench`` will time and where it writes, settled before any work."""

    backends: tuple[Backend, ...]
    shapes: tuple[Shape, ...]
    sweep: bool
    json_path: str | None
    plot_path: str | None
    modes: tuple[str, ...] = ("eager",)


def _bench_plan(backends: tuple[Backend, ...], shapes: tuple[Shape, ...], dtype: str, json_path: str | None,
                plot_path: str | None, sweep: bool, max_batch: int,
                modes: tuple[str, ...] = ("eager",)) -> _BenchPlan:
    """Parse: the options checked together (a usage error before any work), and the runs they ask for."""
    if plot_path and not sweep:
        raise click.UsageError("--plot draws time against the batch size M, so it needs --sweep")
    if sweep and len(shapes) > 1:
        raise click.UsageError("--sweep takes at most one --shape (its Dx x H x Dy; M is swept)")
    if plot_path:
        _check_plot(plot_path)
    if json_path:
        _check_writable(json_path, "--json")
    backends = backends or tuple(available_backends())
    if "numpy" not in {b.name for b in backends}:
        backends = (get_backend("numpy"), *backends)
    backends = tuple({b.name: b for b in backends}.values())  # each once, in the order given
    _check_modes(backends, modes)
    _check_float64(backends, dtype)
    _check_dask_chunk_rows(backends)
    if sweep:
        dims = shapes[0].dimensions if shapes else SWEEP_DIMENSIONS
        shapes = tuple(Shape(M, *dims) for M in SWEEP_BATCHES if max_batch >= M)
    shapes = shapes or DEFAULT_SHAPES
    _check_memory(shapes, dtype, sweep)
    return _BenchPlan(backends, shapes, sweep, json_path, plot_path, modes)


def _bench_report(plan: _BenchPlan, rows: list[Row], dtype: str, min_time: float) -> int:
    """Report: the table, the crossovers of a sweep, the JSON and the plot; the exit status."""
    env = bench.environment(plan.backends, dtype)
    click.echo(bench.describe_environment(env))
    click.echo(_timing_table(rows))
    click.echo("\n" + TABLE_LEGEND)
    if note := _eager_only_note(plan.backends, plan.modes):
        click.echo(note)
    crossovers = None
    if plan.sweep:
        crossovers = bench.crossover(rows)
        for (name, mode), M in crossovers.items():
            kind = "GPU" if get_backend(name).is_accelerator else "CPU"
            verdict = f"faster from M = {M} on" if M is not None else "not faster at the largest M"
            click.echo(f"crossover: {name} {mode} ({kind}) against numpy eager: {verdict}")
    if plan.json_path:
        with open(plan.json_path, "w") as f:
            json.dump(bench.report(rows, env, min_time, crossovers, plan.modes), f, indent=2)
    if plan.plot_path:
        bench.plot_sweep(rows, crossovers or {}, plan.plot_path)
    return 1 if any(r.error for r in rows) else 0


# ---- mlp-xp train: MLPClassifier on digits -------------------------------------------------


def _hidden_sizes(text: str) -> tuple[int, ...]:
    """``'100'`` or ``'100,50'``: one width per hidden layer, each a whole number >= 1."""
    parts = [p.strip() for p in text.split(",")]
    if not all(p.isdigit() and int(p) >= 1 for p in parts):
        raise ValueError(f"expected widths >= 1 separated by commas, e.g. 100 or 100,50; got {text!r}")
    return tuple(int(p) for p in parts)


@main.command("train")
@click.option("--backend", "backend", type=_Parsed("backend", lambda name: get_backend(name)),
              default="numpy", show_default=True, help="Backend to train on (see 'mlp-xp backends').")
@click.option("--hidden", type=_Parsed("widths", _hidden_sizes), default="100", show_default=True,
              help="Hidden layer widths, separated by commas, e.g. 100,50.")
@click.option("--solver", type=click.Choice(["adam", "sgd", "lbfgs"]), default="adam", show_default=True,
              help="scikit-learn's solver.")
@click.option("--epochs", type=click.IntRange(1, 10_000), default=100, show_default=True,
              help="Epochs (adam, sgd) or most iterations (lbfgs).")
@click.option("--plot", "plot_path", default=None, callback=_not_empty,
              help="Draw the training loss and the test accuracy per epoch to this image (adam, sgd).")
def train_command(backend: Backend, hidden: tuple[int, ...], solver: str, epochs: int,
                  plot_path: str | None) -> None:
    """Train MLPClassifier on scikit-learn's digits (75/25 stratified split, scaled) and report accuracy.

    Adam and SGD run one epoch at a time (partial_fit), with a progress bar; lbfgs runs to
    --epochs iterations in one fit.
    """
    if plot_path and solver == "lbfgs":
        raise click.BadParameter("lbfgs has no epochs to draw; use --solver adam or sgd with --plot",
                                 param_hint=["--plot"])
    if plot_path:
        _check_plot(plot_path)
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler

        from .estimators import MLPClassifier
    except ImportError as exc:
        raise click.ClickException(f"train needs scikit-learn: pip install 'mlp_xp[sklearn]' ({exc})") \
            from None
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    scaler = StandardScaler().fit(X_train)
    dtype = "float64" if backend.supports_float64 else "float32"
    Xb_train, Xb_test = (backend.asarray(scaler.transform(a), dtype) for a in (X_train, X_test))
    yb_train = backend.asarray(y_train, "int64")
    clf = MLPClassifier(hidden, solver=solver, max_iter=epochs, random_state=0)
    classes = sorted(set(y.tolist()))
    losses: list[float] = []
    accuracies: list[float] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a short run that stops short of tol is what was asked for
        if solver == "lbfgs":
            clf.fit(Xb_train, yb_train)
        else:
            label = f"{solver} on {backend.name}"
            with click.progressbar(range(epochs), label=label, file=sys.stderr) as bar:
                for _ in bar:
                    clf.partial_fit(Xb_train, yb_train, classes=classes)
                    losses.append(clf.loss_)
                    accuracies.append(clf.score(Xb_test, y_test))
    n_done = clf.n_iter_ if solver == "lbfgs" else len(losses)
    click.echo(f"MLPClassifier{hidden} {solver} on {backend.name} ({dtype}): {n_done} "
               f"{'iterations' if solver == 'lbfgs' else 'epochs'}, loss {clf.loss_:.4f}, train accuracy "
               f"{clf.score(Xb_train, y_train):.4f}, test accuracy {clf.score(Xb_test, y_test):.4f}")
    if plot_path:
        _plot_training(losses, accuracies, plot_path, f"MLPClassifier{hidden} {solver} on {backend.name}")
        click.echo(f"wrote {plot_path}")


def _plot_training(losses: Sequence[float], accuracies: Sequence[float], path: str, title: str) -> None:
    from matplotlib.figure import Figure  # _check_plot saw it installed

    fig = Figure(figsize=(8, 3.5))
    ax_loss, ax_acc = fig.subplots(1, 2)
    epochs = range(1, len(losses) + 1)
    ax_loss.plot(epochs, losses)
    ax_loss.set(xlabel="epoch", ylabel="training loss", yscale="log")
    ax_acc.plot(epochs, accuracies)
    ax_acc.set(xlabel="epoch", ylabel="test accuracy")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path)
