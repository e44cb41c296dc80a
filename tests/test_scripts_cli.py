"""The command lines of scripts/bench_readme.py, compare_checkers.py, dask_scale.py,
jax_jit_concat.py, row_blocks.py and validation_overhead.py: ``--help`` lists every option,
and a user's mistake is one line on stderr and exit status 2, before any work. No benchmark
runs: in the tests of mistakes, what a script calls to start its work is replaced by something
that fails the test when used."""

import importlib.util
import json
import subprocess
import sys
from types import SimpleNamespace

import click
import numpy as np
import pytest
from click.testing import CliRunner

from ._scripts import SCRIPTS, load_script

#: Each script's options, as --help must list them.
OPTIONS = {
    "bench_readme": ["--tag", "--results-dir", "--sweep-mode", "--max-batch", "--min-time", "--json-dir"],
    "compare_checkers": ["--budget", "--large-m", "--checkers"],
    "dask_scale": ["--rows", "--dims", "--chunk-rows", "--workers", "--address"],
    "jax_jit_concat": ["--rows", "--rounds"],
    "row_blocks": ["--shape", "--dtype", "--min-rounds"],
    "validation_overhead": ["--backend", "--repeats"],
}

#: The names in each script through which its work starts.
WORK = {
    "bench_readme": ["subprocess"],  # the main job and mlp-xp bench run as subprocesses
    "compare_checkers": ["problems", "table"],
    "dask_scale": ["LocalCluster", "Client", "measure"],
    "jax_jit_concat": ["measure"],
    "row_blocks": ["measure"],
    "validation_overhead": ["measure"],
}


class _Work:
    """Stands in for what starts a script's work: calling it, or any of its attributes, fails."""

    def __init__(self, name: str):
        self.name = name

    def __call__(self, *args, **kwargs):
        raise AssertionError(f"the work started: {self.name} was called before the mistake was reported")

    def __getattr__(self, attr: str):
        raise AssertionError(f"the work started: {self.name}.{attr} was used before the mistake was reported")


@pytest.fixture
def no_work(monkeypatch):
    """``no_work(name)``: scripts/<name>.py, loaded, with its work replaced by ``_Work``."""

    def load(name: str):
        module = load_script(name)
        for attr in WORK[name]:
            monkeypatch.setattr(module, attr, _Work(attr))
        return module

    return load


def _one_line_error(module, args: list[str], *fragments: str) -> str:
    """Run ``module.main`` on ``args``: exit status 2, nothing on stdout, and on stderr one line,
    holding every fragment."""
    result = CliRunner().invoke(module.main, args)
    assert result.exit_code == 2, (result.output, result.exception)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_help_lists_every_option_with_its_default(name):
    # run as a script, as `python scripts/<name>.py --help` is
    run = subprocess.run([sys.executable, str(SCRIPTS / f"{name}.py"), "--help"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"Usage: {name}.py [OPTIONS]")
    for option in OPTIONS[name]:
        assert f"  {option} " in run.stdout
    assert "[default: " in run.stdout
    assert run.stderr == ""


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_every_option_has_help_and_shows_its_default(name):
    options = [p for p in load_script(name).main.params if isinstance(p, click.Option)]
    assert sorted(o.opts[0] for o in options) == sorted(OPTIONS[name])  # no option left out, none added
    for option in options:
        assert option.help and option.show_default is True, option.opts


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_h_is_help_too(name):
    runner = CliRunner()
    short, long = (runner.invoke(load_script(name).main, [flag]) for flag in ("-h", "--help"))
    assert short.exit_code == long.exit_code == 0 and short.stdout == long.stdout


@pytest.mark.parametrize(("args", "fragments"), [
    (["--max-batch", "0"], ["'--max-batch'", "0 is not in the range x>=1"]),
    (["--min-time", "0"], ["'--min-time'", "0<x<=60"]),
    (["--min-time", "inf"], ["'--min-time'", "0<x<=60"]),
    (["--min-time", "nan"], ["'--min-time'", "expected a finite number of seconds, got nan"]),
    (["--min-time", "fast"], ["'--min-time'", "'fast' is not a valid float"]),
    (["--tag", "gpu/h200"], ["'--tag'", "'gpu/h200' is not a part of a file name"]),
    (["--tag", ""], ["'--tag'", "not empty"]),
    (["--sweep-mode", "jit"], ["'--sweep-mode'", "'jit' is not one of 'eager', 'compiled', 'both'"]),
])
def test_bench_readme_mistakes(no_work, args, fragments):
    _one_line_error(no_work("bench_readme"), args, *fragments)


def test_bench_readme_json_dir_must_be_a_folder(no_work, tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    _one_line_error(no_work("bench_readme"), ["--json-dir", str(a_file)], "'--json-dir'", "is a file")
    _one_line_error(no_work("bench_readme"), ["--json-dir", str(a_file / "json")], "--json-dir",
                    "cannot make the folder")


def test_bench_readme_results_dir_must_be_a_folder_that_can_be_made(no_work, tmp_path, monkeypatch):
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    monkeypatch.delenv("OUT", raising=False)
    _one_line_error(no_work("bench_readme"), ["--results-dir", str(a_file / "r")], "--results-dir",
                    "cannot make the folder")
    monkeypatch.setenv("OUT", str(a_file / "out"))  # the default follows $OUT
    _one_line_error(no_work("bench_readme"), [], "--results-dir", "cannot make the folder", "a_file/out")


def test_bench_readme_writes_under_dollar_out(no_work, tmp_path, monkeypatch):
    module = no_work("bench_readme")
    monkeypatch.setenv("OUT", str(tmp_path / "out"))
    result = CliRunner().invoke(module.main, ["--json-dir", str(tmp_path / "json")])
    assert isinstance(result.exception, AssertionError) and "the work started" in str(result.exception)
    assert (tmp_path / "out").is_dir()  # made there, before the work, not in benchmarks/results


def test_bench_readme_needs_matplotlib_before_it_starts(no_work, monkeypatch):
    module = no_work("bench_readme")
    monkeypatch.setattr(module, "_installed", lambda name: name != "matplotlib")
    _one_line_error(module, [], "matplotlib, which is not installed")


@pytest.mark.parametrize(("args", "fragments"), [
    (["--budget", "-1"], ["'--budget'", "-1 is not in the range x>=0"]),
    (["--large-m", "0"], ["'--large-m'", "0 is not in the range x>=1"]),
    (["--checkers", "mlp_xp"], ["'--checkers'", "'mlp_xp' is not one of 'mlp_xp full'"]),
    (["--checkers", "mlp_xp full", "torch fast"], ["unexpected extra argument (torch fast)"]),
])
def test_compare_checkers_mistakes(no_work, args, fragments):
    _one_line_error(no_work("compare_checkers"), args, *fragments)


def test_compare_checkers_needs_each_chosen_checker_s_library(no_work, monkeypatch):
    module = no_work("compare_checkers")
    monkeypatch.setattr(module, "_installed", lambda library: library != "torch")
    _one_line_error(module, [], "'--checkers'", "'torch slow' needs torch, which is not installed")
    args = ["--checkers", "mlp_xp full", "--checkers", "torch fast"]
    _one_line_error(module, args, "'torch fast' needs torch")
    # without torch, the other checkers still run: the check lets them through to the work
    result = CliRunner().invoke(module.main, ["--checkers", "mlp_xp full", "--checkers", "scipy all"])
    assert isinstance(result.exception, AssertionError) and "the work started" in str(result.exception)


@pytest.mark.parametrize(("args", "fragments"), [
    (["--rows", "0"], ["'--rows'", "0 is not in the range x>=1"]),
    (["--dims", "256", "0", "10"], ["'--dims'", "0 is not in the range x>=1"]),
    (["--dims", "256", "128"], ["'--dims' requires 3 arguments"]),
    (["--chunk-rows", "many"], ["'--chunk-rows'", "'many' is not a valid integer"]),
    (["--workers", "0"], ["'--workers'", "0 is not in the range x>=1"]),
    (["--address", "scheduler"], ["'--address'", "missing port number"]),
    (["--address", "tpc://scheduler:8786"], ["'--address'", "unknown address scheme 'tpc'"]),
    (["--address", "tcp://scheduler:8786", "--workers", "4"], ["--workers", "with --address"]),
])
def test_dask_scale_mistakes(no_work, args, fragments):
    _one_line_error(no_work("dask_scale"), args, *fragments)


def test_dask_scale_address_where_nothing_answers(no_work, monkeypatch):
    module = no_work("dask_scale")

    def client(address):
        raise OSError(f"Timed out trying to connect to {address} after 30 s")

    monkeypatch.setattr(module, "Client", client)
    _one_line_error(module, ["--address", "tcp://scheduler:8786"], "--address", "cannot connect",
                    "Timed out trying to connect to tcp://scheduler:8786")


@pytest.mark.parametrize(("args", "fragments"), [
    (["--shape", "4096x784"], ["'--shape'", "expected M x D0 x ... x DL", "got '4096x784'"]),
    (["--dtype", "float16"], ["'--dtype'", "'float16' is not one of 'float64', 'float32'"]),
    (["--min-rounds", "3"], ["'--min-rounds'", "3 is not in the range x>=15"]),
])
def test_row_blocks_mistakes(no_work, args, fragments):
    _one_line_error(no_work("row_blocks"), args, *fragments)


def test_row_blocks_measures_each_part(monkeypatch):
    module = load_script("row_blocks")
    ran = []

    seconds = {"product whole": 1.0, "product blocks": 1.5, "exp whole": 1.0, "exp blocks": 0.5,
               "network whole": 1.0, "network blocks": 1.25, "products": 0.25}

    def timings(calls, **kwargs):  # each call run once, then given its own time in 15 rounds
        ran.extend(name for name, f in calls.items() if f() is not None)
        return {name: SimpleNamespace(runs_s=[seconds[name]] * 15) for name in calls}

    monkeypatch.setattr(module, "time_interleaved", timings)
    result = CliRunner().invoke(module.main, ["--shape", "600x30x20x5", "--dtype", "float32"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()[1:]
    # net/prod 4; the bound 1 + (4 - 1) * 0.5, from the exp's blocks / whole
    assert [line.split(maxsplit=2)[2].split(maxsplit=2) for line in lines] == [
        ["product", "1.500", "[1.500, 1.500]"], ["exp", "0.500", "[0.500, 0.500]"],
        ["network", "1.250", "[1.250, 1.250]"], ["net/prod", "4.000", "[4.000, 4.000]"],
        ["bound", "2.500", "[2.500, 2.500]"]]
    assert len(ran) == 7


def test_row_blocks_bound_splits_no_pass_that_loses_in_blocks():
    module = load_script("row_blocks")
    rng = np.random.default_rng(0)

    def timings(exp_blocks):
        runs = {"exp blocks": exp_blocks, "exp whole": 1.0, "network whole": 1.5, "products": 1.0}
        return {k: SimpleNamespace(runs_s=list(v * (1 + 0.1 * rng.random(21)))) for k, v in runs.items()}

    value, (lo, hi) = module.split_passes_bound(timings(exp_blocks=2.0))  # exp loses: net/prod
    assert 1.2 < lo <= value <= hi < 1.8 and value == pytest.approx(1.5, abs=0.1)
    value, (lo, hi) = module.split_passes_bound(timings(exp_blocks=0.5))  # 1 + 0.5 * 0.5
    assert lo <= value <= hi and value == pytest.approx(1.25, abs=0.1)
    few = {k: SimpleNamespace(runs_s=v.runs_s[:14]) for k, v in timings(0.5).items()}
    assert module.split_passes_bound(few)[1] is None  # too few rounds for an interval


@pytest.mark.parametrize(("args", "fragments"), [
    (["--rows", "0"], ["'--rows'", "0 is not in the range x>=1"]),
    (["--rounds", "2"], ["'--rounds'", "2 is not in the range x>=3"]),
])
def test_jax_jit_concat_mistakes(no_work, args, fragments):
    _one_line_error(no_work("jax_jit_concat"), args, *fragments)


def _backends_unavailable(monkeypatch, module, reason: str) -> None:
    """Every backend ``module`` asks for is unavailable, for ``reason``."""
    from mlp_xp.backends import BackendUnavailable

    def get_backend(name):
        raise BackendUnavailable(name, reason)

    monkeypatch.setattr(module, "get_backend", get_backend)


def test_jax_jit_concat_without_jax_says_so_in_one_line(no_work, monkeypatch):
    module = no_work("jax_jit_concat")
    _backends_unavailable(monkeypatch, module, "jax is not installed")
    line = _one_line_error(module, [], "this probe needs JAX: jax is not installed")
    assert line.startswith("Error: this probe needs JAX") and "--rows" not in line  # not the user's --rows


def test_jax_jit_concat_times_every_form_and_their_ratios(monkeypatch):
    module = load_script("jax_jit_concat")
    monkeypatch.setattr(module, "get_backend", lambda name: None)  # no JAX needed for the table
    times = {"mlp_xp": (0.005, 0.0005), "flat": (0.1, 0.02), "rows": (0.006, 0.001), "blocks": (0.004, 0.0)}
    monkeypatch.setattr(module, "measure", lambda M, rounds: times)
    result = CliRunner().invoke(module.main, ["--rows", "32", "--rows", "64", "--rounds", "3"])
    assert result.exit_code == 0, result.output
    rows = [line.replace("(", " ").replace(")", " ").split() for line in result.stdout.splitlines()[2:]]
    assert rows == [[M, "5.00", "0.50", "100.00", "20.00", "6.00", "1.00", "4.00", "0.00", "25.00", "1.50"]
                    for M in ("32", "64")]


def test_jax_jit_concat_interleaves_its_calls_and_gives_median_and_iqr(monkeypatch):
    module = load_script("jax_jit_concat")
    monkeypatch.setitem(sys.modules, "jax", SimpleNamespace(block_until_ready=lambda x: x))
    order, clock = [], {"now": 0.0}
    monkeypatch.setattr(module.time, "perf_counter", lambda: clock["now"])

    def call(name, seconds):  # each call moves the fake clock on by its own time
        def f():
            order.append(name)
            clock["now"] += seconds
        return f

    out = module.interleaved_seconds({"a": call("a", 1.0), "b": call("b", 3.0)}, rounds=4)
    assert order == ["a", "b"] + ["a", "b"] * 4  # one warm-up each, then one of each per round
    assert out == {"a": (1.0, 0.0), "b": (3.0, 0.0)}


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
def test_jax_jit_concat_forms_give_the_same_gradient():
    module = load_script("jax_jit_concat")
    from mlp_xp import forward_backward_prop, param_layout
    from mlp_xp.backends import get_backend

    b, rng = get_backend("jax"), np.random.default_rng(1)
    dims = module.DIMENSIONS
    data = b.asarray(rng.standard_normal((3, dims[0])), "float64")
    labels = b.asarray(np.eye(dims[-1])[[0, 4, 9]], "float64")
    params = b.asarray(0.05 * rng.standard_normal(param_layout(dims).size), "float64")
    cost, grad = forward_backward_prop(data, labels, params, dims)
    for form in ("flat", "rows"):
        c, g = module.plain(data, labels, params, form)
        np.testing.assert_allclose(np.asarray(g), np.asarray(grad), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(float(c), float(cost), rtol=1e-12)
    c, blocks = module.plain(data, labels, params, "blocks")
    flat = np.concatenate([np.asarray(x).ravel() for x in blocks])
    np.testing.assert_allclose(flat, np.asarray(grad), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(("args", "fragments"), [
    (["--backend", "numpy", "--backend", "nonesuch"], ["'--backend'", "unknown backend 'nonesuch'"]),
    (["--repeats", "0"], ["'--repeats'", "0 is not in the range x>=1"]),
])
def test_validation_overhead_mistakes(no_work, args, fragments):
    _one_line_error(no_work("validation_overhead"), args, *fragments)


def test_validation_overhead_backend_that_cannot_run_here(no_work, monkeypatch):
    module = no_work("validation_overhead")
    _backends_unavailable(monkeypatch, module, "cupy is not installed")
    _one_line_error(module, ["--backend", "cupy"], "'--backend'", "backend 'cupy' is not available")


def _gpu_check():
    return load_script("gpu_check")


def test_gpu_check_help_lists_its_commands_and_options():
    run = subprocess.run([sys.executable, str(SCRIPTS / "gpu_check.py"), "run", "--help"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    for option in ("--out", "--dry", "--wheels", "--budget", "--backend", "--tests", "--shape", "--max-batch",
                   "--min-time"):
        assert f"  {option} " in run.stdout, option
    top = CliRunner().invoke(_gpu_check().main, ["--help"])
    commands = [line.split()[0] for line in top.stdout.split("Commands:")[1].splitlines() if line.strip()]
    assert commands == ["prepare", "run"]  # probe: internal, run by run


@pytest.mark.parametrize(("args", "fragments"), [
    (["run"], ["'--out'", "give the output folder, or set $OUT"]),
    (["run", "--out", "x", "--budget", "5"], ["'--budget'", "5.0 is not in the range 10<=x<=3600"]),
    (["run", "--out", "x", "--max-batch", "0"], ["'--max-batch'"]),
    (["runn"], ["No such command 'runn'"]),
])
def test_gpu_check_mistakes(args, fragments, monkeypatch, tmp_path):
    monkeypatch.delenv("OUT", raising=False)
    monkeypatch.chdir(tmp_path)
    module = _gpu_check()
    monkeypatch.setattr(module, "Steps", _Work("Steps"))
    _one_line_error(module, args, *fragments)
    assert not (tmp_path / "x" / "summary.json").exists()


def test_gpu_check_out_defaults_to_dollar_out(monkeypatch, tmp_path):
    module = _gpu_check()
    monkeypatch.setenv("OUT", str(tmp_path / "from_env"))
    monkeypatch.setattr(module, "Steps", _Work("Steps"))
    result = CliRunner().invoke(module.main, ["run", "--dry"])
    assert isinstance(result.exception, AssertionError) and "the work started" in str(result.exception)
    assert (tmp_path / "from_env").is_dir()


def test_gpu_check_counts_host_reads():
    module = _gpu_check()
    torch = pytest.importorskip("torch")
    x = torch.ones(3)
    with module.count_reads("torch") as reads:
        float(x.sum()), bool(x[0] > 0), x * 2
    assert reads == {"torch scalar read": 2}
    jnp = pytest.importorskip("jax.numpy")
    total = jnp.sum(jnp.ones(3) * 2)
    with module.count_reads("jax") as reads:
        float(total), jnp.ones(2) + 1  # one fetch; the sum stays on the device
    assert reads == {"jax fetch of a value": 1}


def test_gpu_check_dry_run_writes_every_file(tmp_path):
    """The whole run on numpy alone, tiny shapes, one test: every step, every file."""
    out = tmp_path / "out"
    run = subprocess.run(
        [sys.executable, str(SCRIPTS / "gpu_check.py"), "run", "--dry", "--out", str(out),
         "--backend", "numpy", "--wheels", str(tmp_path / "no_wheels"),
         "--tests", "tests/test_backends.py::test_registry_names",
         "--shape", "6x4x3x2", "--max-batch", "2", "--min-time", "0.001", "--budget", "200"],
        capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, (run.stdout, run.stderr)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["files"] == [*sorted(_gpu_check().FILES[1:]), "summary.json"]
    assert sorted(p.name for p in out.iterdir()) == sorted(_gpu_check().FILES)
    assert summary["failed"] == [] and summary["install"].startswith("skipped: no wheels")
    [probe] = summary["probes"]
    assert probe["available"] and probe["reads_equal"]
    assert set(probe["reads"]) == {"forward_backward_prop", "gradcheck fast", "gradcheck full"}
    steps = {s["step"]: s for s in summary["steps"]}
    assert {"probe numpy", "pytest", "bench float64", "bench float32", "sweep float32"} <= set(steps)
    assert "--backend" in steps["pytest"]["command"] and "1 passed" in (out / "pytest.log").read_text()
    bench64 = json.loads((out / "bench_float64.json").read_text())
    assert {r["shape"] for r in bench64["rows"]} == {"6x4x3x2"}
    assert all("runs_s" not in r["fbp"] for r in bench64["rows"])  # kept small
    sweep = json.loads((out / "sweep_float32.json").read_text())
    assert sorted({r["M"] for r in sweep["rows"]}) == [1, 2]
    assert sum(p.stat().st_size for p in out.iterdir()) < 200_000


def test_gpu_check_records_a_step_that_runs_out_of_time(tmp_path, monkeypatch):
    module = _gpu_check()
    steps = module.Steps(tmp_path, budget=60)
    sleep = "import time; print('started', flush=True); time.sleep(30)"
    done = steps.run("sleep", [sys.executable, "-c", sleep], timeout=2)
    steps.deadline = 0  # the budget is spent: the next step is skipped
    skipped = steps.run("late", [sys.executable, "-c", "pass"], timeout=10)
    steps.log.close()
    assert done is None and skipped is None
    first, second = steps.summary["steps"]
    assert first["timed_out"] and first["rc"] is None and first["seconds"] < 20
    assert second["skipped"] == "the budget is spent"
    assert "[timed out after 2 s]" in (tmp_path / "steps.log").read_text()


def test_gpu_check_probes_jax_before_torch_and_requires_each_in_pytest(tmp_path, monkeypatch):
    module = _gpu_check()
    commands = []
    monkeypatch.setattr(module.Steps, "run", lambda self, name, argv, *a, **k: commands.append((name, argv)))
    result = CliRunner().invoke(module.main, ["run", "--dry", "--out", str(tmp_path), "--wheels",
                                              str(tmp_path / "none")])
    assert result.exit_code == 1  # nothing ran: every probe "failed"
    probes = [name for name, _ in commands if name.startswith("probe ")]
    assert probes == ["probe jax", "probe torch", "probe numpy"]  # the CPU twins of jax-gpu, torch-cuda, cupy
    [pytest_argv] = [argv for name, argv in commands if name == "pytest"]
    assert " ".join(pytest_argv).endswith("--backend jax --backend torch --backend numpy")
    assert module.GPU_BACKENDS[0] == "jax-gpu" and module.DRY_BACKENDS[module.GPU_BACKENDS[0]] == "jax"
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert [p["reason"] for p in summary["probes"]] == ["the probe failed: see steps.log"] * 3
