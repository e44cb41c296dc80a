"""The ``mlp-xp`` command: every command, every user mistake (one line, exit 2), the entry point."""

import dataclasses
import json
import re
import shutil
import subprocess
import sys
import sysconfig
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlp_xp import bench, cli, sanity
from mlp_xp.backends import (
    BACKEND_NAMES,
    COMPILED_BACKENDS,
    Backend,
    BackendUnavailable,
    available_backends,
    get_backend,
    known_backends,
)
from mlp_xp.bench import SCHEMA, Shape

TINY = ["--shape", "6x4x3x2", "--min-time", "0.001"]
AVAILABLE = [b.name for b in available_backends()]


def run(*args):
    return CliRunner().invoke(cli.main, list(args), prog_name="mlp-xp")


@pytest.fixture
def tiny_main_job(monkeypatch):
    """The main job on one small shape, briefly timed, so the test stays fast."""
    monkeypatch.setattr(cli, "DEFAULT_SHAPES", (Shape(6, 4, 3, 2),))
    monkeypatch.setattr(cli, "DEFAULT_MIN_TIME", 0.001)


@pytest.fixture
def light_compilers(monkeypatch):
    """torch's compiled mode runs uncompiled: torch.compile takes seconds per shape on a CPU
    (tests/test_bench.py runs it for real); jax.jit stays, it takes a fraction of a second."""
    real = Backend.compile
    monkeypatch.setattr(Backend, "compile", lambda b, f: f if b.library == "torch" else real(b, f))


@pytest.fixture
def planted_bug(monkeypatch):
    """A network whose gradient is 1% off its cost's."""
    real = sanity.forward_backward_prop

    def wrong(data, labels, params, dimensions):
        cost, grad = real(data, labels, params, dimensions)
        return cost, grad * 1.01

    monkeypatch.setattr(sanity, "forward_backward_prop", wrong)


def no_work(*args, **kwargs):
    raise AssertionError("work started before the mistake was caught")


def table_lines(output, first_column, mode=None):
    return [line for line in output.splitlines() if line.split(" ", 1)[0] == first_column
            and (mode is None or line.split()[1] == mode)]


def test_main_job_checks_and_times_every_available_backend_in_both_modes(tiny_main_job, light_compilers,
                                                                         monkeypatch):
    outputs, real = {}, cli._run_sanity

    def recorded(b, dtype, seed):  # each backend's sanity output, its warnings included
        passed, outputs[b.name] = real(b, dtype, seed)
        return passed, outputs[b.name]

    monkeypatch.setattr(cli, "_run_sanity", recorded)
    result = run()
    assert result.exit_code == 0, result.output
    # the seed's check, word for word and without a warning, on every backend (Dask's runs only here)
    assert outputs == {name: "Running sanity check...\nGradient check passed!\n" for name in AVAILABLE}
    for name in AVAILABLE:
        modes = ["eager", "compiled"] if name in COMPILED_BACKENDS else ["eager"]
        assert [line.split()[1] for line in table_lines(result.stdout, name)] == modes
        for line in table_lines(result.stdout, name):
            assert " passed " in line and "6x4x3x2" in line and line.endswith("x")
    [numpy_line] = table_lines(result.stdout, "numpy")
    assert numpy_line.endswith(" 1x")  # the baseline against itself
    eager_only = [name for name in AVAILABLE if name not in COMPILED_BACKENDS]
    assert f"Eager only (no compiler): {', '.join(eager_only)}." in result.stdout
    assert "its first call includes the compilation" in result.stdout
    assert f"Sanity: {len(AVAILABLE)} of {len(AVAILABLE)} backends passed." in result.stdout
    if not any(b.is_accelerator for b in available_backends()):
        assert "No GPU backend here: cupy: " in result.stdout


def test_main_job_fails_when_a_sanity_check_fails(tiny_main_job, planted_bug, monkeypatch):
    two = [get_backend("numpy"), get_backend("array_api_strict")]
    monkeypatch.setattr(cli, "available_backends", lambda: two)
    result = run()
    assert result.exit_code == 1
    assert "FAILED" in table_lines(result.stdout, "numpy")[0]
    assert "Sanity check FAILED on numpy: Gradient check failed." in result.stdout
    assert "Sanity: 0 of 2 backends passed." in result.stdout


def test_python_dash_m_is_the_same_command():
    from mlp_xp import __main__

    assert __main__.main is cli.main


def table_rows(output):
    """The rows of the table in ``output``, each a dict by header, cut at the columns of its dashes.

    Cells may hold spaces (a device named ``NVIDIA H200``, a reason), so they are read by
    position under the ``----`` line, not split on whitespace.
    """
    lines = output.splitlines()
    rule = next(i for i, line in enumerate(lines) if line and set(line) <= {"-", " "})
    spans = [m.span() for m in re.finditer(r"-+", lines[rule])]
    starts = [a for a, _ in spans]
    ends = [*starts[1:], None]

    def cells(line):
        return [line[a:b].strip() for a, b in zip(starts, ends, strict=True)]

    headers = cells(lines[rule - 1])
    return [dict(zip(headers, cells(line), strict=True)) for line in lines[rule + 1 :] if line.strip()]


def check_backends_table(output, backends):
    rows = {row["backend"]: row for row in table_rows(output)}
    assert list(rows) == list(backends)
    for name, b in backends.items():
        row = rows[name]
        if isinstance(b, BackendUnavailable):
            assert (row["available"], row["why not"]) == ("no", b.reason)
        else:
            assert [row[k] for k in ("available", "version", "device", "float64", "why not")] == [
                "yes", b.version, b.device_name, "yes" if b.supports_float64 else "no", ""]


def test_backends_lists_every_known_backend_and_why():
    result = run("backends")
    assert result.exit_code == 0
    check_backends_table(result.stdout, known_backends())


def test_backends_table_reads_a_device_name_with_spaces(monkeypatch):
    # a GPU machine prints e.g. "NVIDIA H200": the columns must still be read right
    gpu = dataclasses.replace(get_backend("numpy"), name="cupy", device_name="NVIDIA H200 NVL")
    backends = {"numpy": get_backend("numpy"), "cupy": gpu,
                "jax-gpu": BackendUnavailable("jax-gpu", "no GPU device visible to JAX")}
    monkeypatch.setattr(cli, "known_backends", lambda: backends)
    result = run("backends")
    assert result.exit_code == 0, result.output
    assert "NVIDIA H200 NVL" in result.stdout
    check_backends_table(result.stdout, backends)


def test_sanity_passes_on_the_chosen_backends():
    # every available backend is checked by the main job's test; two keep this one fast
    result = run("sanity", "--backend=numpy", "--backend", "array_api_strict", "--seed", "3")
    assert result.exit_code == 0, result.output
    verdicts = {line.split()[1]: line.rsplit(" ", 1)[1] for line in result.stdout.splitlines()
                if line.startswith("== ")}
    assert verdicts == {"numpy": "passed", "array_api_strict": "passed"}
    assert result.stdout.count("Gradient check passed!") == 2


def test_sanity_in_float32_passes_with_the_dtypes_tolerances():
    # torch is no dependency: without it (as in CI's wheel environment) array_api_strict is second
    second = "torch" if "torch" in AVAILABLE else "array_api_strict"
    result = run("sanity", "--backend", "numpy", "--backend", second, "--dtype", "float32")
    assert result.exit_code == 0, result.output
    assert result.stdout.count("Gradient check passed!") == 2
    assert "warning: " in result.stdout  # gradcheck says float32 checks are coarse


def test_sanity_fails_with_exit_1_and_says_where(planted_bug):
    result = run("sanity", "--backend", "numpy")
    assert result.exit_code == 1
    assert "== numpy (cpu, float64): FAILED" in result.stdout
    assert "First gradient error found at index" in result.stdout


def test_sanity_reports_an_exception_as_a_failure(monkeypatch):
    def crash(*args):
        raise RuntimeError("cuBLAS handle could not be created")

    monkeypatch.setattr(cli, "sanity_check", crash)
    result = run("sanity", "--backend", "numpy", "--dtype", "float32")
    assert result.exit_code == 1
    assert "== numpy (cpu, float32): FAILED" in result.stdout
    assert "RuntimeError: cuBLAS handle could not be created" in result.stdout


def test_sanity_shows_warnings_in_its_report_not_on_stderr(monkeypatch):
    def warns(*args):
        warnings.warn("gradcheck in float32: rough", UserWarning, stacklevel=1)
        return True

    monkeypatch.setattr(cli, "sanity_check", warns)
    result = run("sanity", "--backend", "numpy", "--dtype", "float32")
    assert result.exit_code == 0 and result.stderr == ""
    assert "warning: gradcheck in float32: rough" in result.stdout


def test_bench_writes_rows_and_environment_as_json(tmp_path):
    path = tmp_path / "out.json"
    result = run("bench", "--backend", "array_api_strict", *TINY, "--dtype", "float32", "--json", str(path))
    assert result.exit_code == 0, result.output
    doc = json.loads(path.read_text())
    assert doc["schema"] == SCHEMA and doc["environment"]["dtype"] == "float32"
    # numpy, the baseline, is always timed
    assert [(r["backend"], r["shape"], r["dtype"]) for r in doc["rows"]] == [
        ("numpy", "6x4x3x2", "float32"), ("array_api_strict", "6x4x3x2", "float32")
    ]
    strict = doc["rows"][1]
    assert strict["speedup_vs_numpy"] == pytest.approx(
        doc["rows"][0]["fbp"]["median_s"] / strict["fbp"]["median_s"]
    )
    assert strict["fbp"]["n_runs"] >= bench.MIN_RUNS and strict["floor"]["n_runs"] >= bench.MIN_RUNS
    assert doc["crossover"] is None
    assert table_lines(result.stdout, "array_api_strict")


def test_bench_default_shapes(monkeypatch):
    seen = []
    monkeypatch.setattr(cli.bench, "bench_shape", lambda b, shape, *a: seen.append(shape) or
                        bench.Row(b.name, "cpu", "1", "float64", shape, error="RuntimeError: not run"))
    result = run("bench", "--backend", "numpy")
    assert seen == list(bench.DEFAULT_SHAPES)
    assert result.exit_code == 1  # a row with an error
    assert "error: RuntimeError: not run" in table_lines(result.stdout, "numpy")[0]


def test_bench_sweep_reports_crossover_and_plots(tmp_path):
    pytest.importorskip("matplotlib")
    json_path, plot_path = tmp_path / "sweep.json", tmp_path / "sweep.png"
    result = run("bench", "--sweep", "--backend", "torch" if "torch" in AVAILABLE else "numpy",
                 "--shape", "1x4x3x2", "--max-batch", "4", "--min-time", "0.001", "--mode", "eager",
                 "--json", str(json_path), "--plot", str(plot_path))
    assert result.exit_code == 0, result.output
    doc = json.loads(json_path.read_text())
    assert sorted({r["M"] for r in doc["rows"]}) == [1, 2, 4]
    assert {(r["Dx"], r["H"], r["Dy"]) for r in doc["rows"]} == {(4, 3, 2)}
    assert plot_path.read_bytes()[:4] == b"\x89PNG"
    assert "timing" in result.stderr  # the progress bar (its label, when not on a terminal)
    assert {r["mode"] for r in doc["rows"]} == {"eager"}
    if "torch" in AVAILABLE:
        assert [(c["backend"], c["mode"]) for c in doc["crossover"]] == [("torch", "eager")]
        assert "crossover: torch eager (CPU) against numpy eager: " in result.stdout


@pytest.mark.parametrize(("mode", "timed"), [
    ("both", [("numpy", "eager"), ("jax", "eager"), ("jax", "compiled"), ("array_api_strict", "eager")]),
    ("compiled", [("numpy", "eager"), ("jax", "compiled")]),  # numpy eager: the baseline, always
    ("eager", [("numpy", "eager"), ("jax", "eager"), ("array_api_strict", "eager")]),
])
def test_bench_mode_times_what_it_says(mode, timed, monkeypatch):
    pytest.importorskip("jax")
    seen = []
    monkeypatch.setattr(cli.bench, "bench_shape", lambda b, shape, dtype, min_time, seed, mode:
                        seen.append((b.name, mode)) or bench.Row(b.name, "cpu", "1", dtype, shape, mode=mode,
                                                                 error="RuntimeError: not run"))
    result = run("bench", "--backend", "jax", "--backend", "array_api_strict", "--shape", "2x2x2x2",
                 "--mode", mode)
    assert seen == timed
    assert result.exit_code == 1
    eager_only = "Eager only (no compiler): numpy, array_api_strict." in result.stdout
    assert eager_only == (mode != "eager")


def test_bench_sweep_in_both_modes_has_a_crossover_per_backend_and_mode(tmp_path):
    pytest.importorskip("jax")
    json_path = tmp_path / "sweep.json"
    # a fresh process, as a user runs it (test_compiled_rows_survive_a_run_before_them runs two in one)
    result = subprocess.run([sys.executable, "-m", "mlp_xp", "bench", "--sweep", "--backend", "jax",
                             "--shape", "1x4x3x2", "--max-batch", "2", "--min-time", "0.001",
                             "--json", str(json_path)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    doc = json.loads(json_path.read_text())
    assert [(r["backend"], r["mode"], r["M"]) for r in doc["rows"]] == [
        ("numpy", "eager", 1), ("jax", "eager", 1), ("jax", "compiled", 1),
        ("numpy", "eager", 2), ("jax", "eager", 2), ("jax", "compiled", 2)]
    assert [r["compiler"] for r in doc["rows"][:3]] == [None, None, "jax.jit"]
    assert doc["settings"]["modes"] == ["eager", "compiled"]
    assert [(c["backend"], c["mode"]) for c in doc["crossover"]] == [("jax", "eager"), ("jax", "compiled")]
    assert "crossover: jax compiled (CPU) against numpy eager: " in result.stdout
    assert len(table_lines(result.stdout, "jax", "compiled")) == 2


def test_compiled_rows_survive_a_run_before_them():
    # Nothing made in one jax.jit trace may outlive it: a 0-d array that forward_backward_prop
    # once cached across traces made every compiled row of a second run in the same process
    # fail ("Execution supplied 3 arguments but compiled program expected 4").
    pytest.importorskip("jax")
    first = run("bench", "--backend", "jax", "--mode", "compiled", "--shape", "6x4x3x2",
                "--min-time", "0.001")
    second = run("bench", "--sweep", "--backend", "jax", "--mode", "compiled", "--shape", "1x4x3x2",
                 "--max-batch", "2", "--min-time", "0.001")
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    assert len(table_lines(second.stdout, "jax", "compiled")) == 2


def test_bench_sweep_default_batches(monkeypatch):
    seen = []
    monkeypatch.setattr(cli.bench, "bench_shape", lambda b, shape, *a: seen.append(shape) or
                        bench.Row(b.name, "cpu", "1", "float64", shape, error="RuntimeError: not run"))
    run("bench", "--sweep", "--backend", "numpy")
    assert [s.M for s in seen] == [2**k for k in range(17)]
    assert {s.dimensions for s in seen} == {(784, 512, 10)}


def _unavailable(monkeypatch):
    """A backend that is not available here: a real one if there is one, else a simulated cupy."""
    for name, b in known_backends().items():
        if isinstance(b, BackendUnavailable):
            return name, b.reason
    real = cli.get_backend

    def get_backend(name):
        if name == "cupy":
            raise BackendUnavailable("cupy", "no CUDA device")
        return real(name)

    monkeypatch.setattr(cli, "get_backend", get_backend)
    return "cupy", "no CUDA device"


#: The memory the mistakes' test says this machine has available: 21.3 GiB.
AVAILABLE_MEMORY = int(21.3 * 2**30)
#: Environment variables that the mistakes' test sets for a mistake, by its name.
MISTAKE_ENVIRONMENT = {
    "bad dask chunk rows (bench)": {"MLP_XP_DASK_CHUNK_ROWS": "abc"},
    "bad dask chunk rows (bench, default backends)": {"MLP_XP_DASK_CHUNK_ROWS": "-3"},
    "empty dask chunk rows (sanity)": {"MLP_XP_DASK_CHUNK_ROWS": ""},
    "bad dask chunk rows (sanity, default backends)": {"MLP_XP_DASK_CHUNK_ROWS": "1.5"},
    "bad dask chunk rows (main job)": {"MLP_XP_DASK_CHUNK_ROWS": "0"},
}


def _dask_rows_line(raw):
    return (f"Error: $MLP_XP_DASK_CHUNK_ROWS must be a positive whole number of rows, got {raw!r}; "
            "set it to one (e.g. 16384, the default) or unset it")


def _mistakes(tmp_path):
    """name -> (arguments, the one-line message); ``tmp_path/a_directory`` is a folder.

    A message starting with ``Error: `` is the whole line; any other is a part of it.
    """
    directory = tmp_path / "a_directory"
    min_time = "Error: Invalid value for '--min-time': expected seconds, a number > 0 and at most 60, got "
    bench_help, sanity_help = " (see 'mlp-xp bench --help')", " (see 'mlp-xp sanity --help')"
    return {
        "unknown backend": (["bench", "--backend", "nope"],
                            "unknown backend 'nope'; known backends: " + ", ".join(BACKEND_NAMES)),
        "unknown backend (sanity)": (["sanity", "--backend", "nope"], "unknown backend 'nope'"),
        "malformed shape": (["bench", "--shape", "4096x784"], "four positive integers joined by 'x'"),
        "non-numeric shape": (["bench", "--shape", "ax2x2x2"], "got 'ax2x2x2'"),
        "zero in a shape": (["bench", "--shape", "0x784x512x10"], "got '0x784x512x10'"),
        "unknown dtype": (["bench", "--dtype", "float16"], "'float16' is not one of 'float64', 'float32'"),
        "unknown dtype (sanity)": (["sanity", "--dtype", "int8"], "'int8' is not one of"),
        "json in a missing folder": (["bench", "--json", str(tmp_path / "no" / "x.json")], "cannot write"),
        "json is a folder": (["bench", "--json", str(directory)], "is a directory"),
        "plot in a missing folder": (["bench", "--sweep", "--plot", str(tmp_path / "no" / "x.png")],
                                     "cannot write"),
        "plot of unknown format": (["bench", "--sweep", "--plot", str(tmp_path / "x.abc")],
                                   "cannot tell the image format"),
        "plot without sweep": (["bench", "--plot", str(tmp_path / "x.png")], "needs --sweep"),
        "sweep with two shapes": (["bench", "--sweep", "--shape", "1x2x2x2", "--shape", "1x3x3x3"],
                                  "at most one --shape"),
        "non-positive min-time": (["bench", "--min-time", "0"], f"{min_time}'0'{bench_help}"),
        "infinite min-time": (["bench", "--shape", "1x1x1x1", "--min-time", "inf"],
                              f"{min_time}'inf'{bench_help}"),
        "nan min-time": (["bench", "--min-time", "nan"], f"{min_time}'nan'{bench_help}"),
        "min-time above its bound": (["bench", "--min-time", "61"], f"{min_time}'61'{bench_help}"),
        "non-numeric min-time": (["bench", "--min-time", "1s"], f"{min_time}'1s'{bench_help}"),
        "shape too large for memory": (
            ["bench", "--shape", "10x100000x100000x10"],
            "Error: Invalid value for '--shape': 10x100000x100000x10 needs about 224 GiB in float64 (data, "
            "labels, params, gradient and temporaries), but this machine has 21.3 GiB available; choose a "
            f"smaller M, Dx, H or Dy{bench_help}"),
        "sweep too large for memory": (
            ["bench", "--sweep", "--shape", "1x100000x10000x10", "--dtype", "float32"],
            "Error: Invalid value for '--shape' / '--max-batch': 65536x100000x10000x10 needs about 41.6 GiB "
            "in float32 (data, labels, params, gradient and temporaries), but this machine has 21.3 GiB "
            f"available; choose a smaller --max-batch, Dx, H or Dy{bench_help}"),
        "empty json path": (["bench", "--json", ""],
                            f"Error: Invalid value for '--json': an empty path names no file{bench_help}"),
        "empty plot path": (["bench", "--sweep", "--plot", ""],
                            f"Error: Invalid value for '--plot': an empty path names no file{bench_help}"),
        "negative seed": (["sanity", "--seed", "-1"],
                          f"Error: Invalid value for '--seed': -1 is not in the range x>=0.{sanity_help}"),
        "bad dask chunk rows (bench)": (["bench", "--backend", "dask"], _dask_rows_line("abc")),
        "bad dask chunk rows (bench, default backends)": (["bench"], _dask_rows_line("-3")),
        "empty dask chunk rows (sanity)": (["sanity", "--backend", "dask"], _dask_rows_line("")),
        "bad dask chunk rows (sanity, default backends)": (["sanity"], _dask_rows_line("1.5")),
        "bad dask chunk rows (main job)": ([], _dask_rows_line("0")),
        "bad max-batch": (["bench", "--sweep", "--max-batch", "0"], "'--max-batch'"),
        "bad seed": (["sanity", "--seed", "x"], "'x' is not a valid integer"),
        "unknown option": (["bench", "--frob"], "--frob"),
        "unknown mode": (["bench", "--mode", "jit"], "'jit' is not one of 'eager', 'compiled', 'both'"),
        "compiled mode without a compiler": (
            ["bench", "--backend", "array_api_strict", "--mode", "compiled"],
            "Error: Invalid value for '--mode': none of the chosen backends (numpy, array_api_strict) has a "
            "compiler, so nothing would be compiled; choose one that has (torch, jax, torch-cuda, jax-gpu) "
            f"or --mode eager{bench_help}"),
        "unknown command": (["benchmark"], "No such command 'benchmark'"),
    }


@pytest.mark.parametrize("mistake", list(_mistakes(Path())))
def test_a_mistake_gets_one_line_and_exit_2_before_any_work(mistake, tmp_path, monkeypatch):
    if "dask" in mistake and "dask" not in AVAILABLE:
        pytest.skip("dask is not installed")
    monkeypatch.setattr(cli.bench, "bench_shape", no_work)
    monkeypatch.setattr(cli, "sanity_check", no_work)
    monkeypatch.setattr(cli.bench, "available_memory", lambda: AVAILABLE_MEMORY)
    for name, value in MISTAKE_ENVIRONMENT.get(mistake, {}).items():
        monkeypatch.setenv(name, value)
    (tmp_path / "a_directory").mkdir()
    args, message = _mistakes(tmp_path)[mistake]
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    exact = message.startswith("Error: ")
    assert line == message if exact else line.startswith("Error: ") and message in line
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not (tmp_path / "no").exists() and not (tmp_path / "x.png").exists()


def test_memory_and_dask_checks_stop_only_what_they_concern(monkeypatch):
    seen = []
    monkeypatch.setattr(cli.bench, "bench_shape", lambda b, shape, *a: seen.append(shape) or
                        bench.Row(b.name, "cpu", "1", "float64", shape, error="RuntimeError: not run"))
    monkeypatch.setenv("MLP_XP_DASK_CHUNK_ROWS", "abc")  # Dask is not chosen: no matter
    monkeypatch.setattr(cli.bench, "available_memory", lambda: None)  # unknown here: no check
    result = run("bench", "--backend", "numpy", "--shape", "10x100000x100000x10")
    assert result.exit_code == 1 and seen == [Shape(10, 100000, 100000, 10)], result.output
    monkeypatch.setattr(cli.bench, "available_memory", lambda: AVAILABLE_MEMORY)
    result = run("bench", "--sweep", "--backend", "numpy", "--shape", "1x100000x10000x10", "--max-batch", "4",
                 "--dtype", "float32")
    assert result.exit_code == 1 and [s.M for s in seen[1:]] == [1, 2, 4], result.output  # fits at M <= 4


def test_unavailable_backend_says_why(monkeypatch):
    monkeypatch.setattr(cli.bench, "bench_shape", no_work)
    name, reason = _unavailable(monkeypatch)
    for command in ("bench", "sanity"):
        result = run(command, "--backend", name)
        assert result.exit_code == 2 and result.stdout == ""
        [line] = result.stderr.splitlines()
        assert line.startswith("Error: ") and f"backend {name!r} is not available: {reason}" in line


def test_plot_without_matplotlib_is_a_clear_mistake(tmp_path, monkeypatch):
    for module in ("matplotlib", "matplotlib.figure"):
        monkeypatch.setitem(sys.modules, module, None)  # makes `import matplotlib` raise ImportError
    monkeypatch.setattr(cli.bench, "bench_shape", no_work)
    result = run("bench", "--sweep", "--plot", str(tmp_path / "x.png"))
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [
        "Error: --plot needs matplotlib, which is not installed: pip install matplotlib "
        "(see 'mlp-xp bench --help')"
    ]


def test_an_existing_output_file_is_kept_when_the_check_passes(tmp_path):
    path = tmp_path / "keep.json"
    path.write_text("old")
    cli._check_writable(str(path), "--json")
    assert path.read_text() == "old"
    cli._check_writable(str(tmp_path / "new.json"), "--json")
    assert not (tmp_path / "new.json").exists()


def test_installed_command_runs_as_a_subprocess(tmp_path):
    # the entry point installed for this interpreter, whether or not its environment is activated
    exe = shutil.which("mlp-xp", path=sysconfig.get_path("scripts"))
    assert exe, "the mlp-xp entry point is not installed (pip install -e .)"
    path = tmp_path / "out.json"
    ok = subprocess.run([exe, "bench", "--backend", "numpy", *TINY, "--json", str(path)],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert table_lines(ok.stdout, "numpy") and json.loads(path.read_text())["schema"] == SCHEMA
    bad = subprocess.run([exe, "bench", "--shape", "1x2"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.splitlines() == [
        "Error: Invalid value for '--shape': expected M x Dx x H x Dy as four positive integers joined "
        "by 'x' (e.g. 4096x784x512x10), got '1x2' (see 'mlp-xp bench --help')"
    ]
