"""The benchmark's method: what is inside the clock, statistics, FLOPs, ratios, report."""

import dataclasses
import io
import json
import math
import warnings

import numpy as np
import pytest

from mlp_xp import bench
from mlp_xp.backends import COMPILED_BACKENDS, get_backend
from mlp_xp.bench import MIN_RUNS, SCHEMA, Row, Shape, Timing


def test_shape_parse_and_str():
    s = Shape.parse("4096x784x512x10")
    assert s == Shape(4096, 784, 512, 10) and s.dimensions == (784, 512, 10)
    assert str(s) == "4096x784x512x10" and Shape.parse("2X3X4X5") == Shape(2, 3, 4, 5)


@pytest.mark.parametrize(
    "text", ["3x4", "4x4x4x4x4", "0x4x4x4", "4x-1x4x4", "ax4x4x4", "4.5x4x4x4", "", "x", "\u00b2x4x4x4"]
)
def test_shape_parse_refuses(text):
    with pytest.raises(ValueError, match=r"four positive integers joined by 'x' .* got "):
        Shape.parse(text)


def test_flops_are_the_five_matrix_products():
    M, Dx, H, Dy = 7, 3, 5, 2
    # (rows, inner, cols) of data@W1, h@W2, h.T@delta1, delta1@W2.T, data.T@delta3
    products = [(M, Dx, H), (M, H, Dy), (H, M, Dy), (M, Dy, H), (Dx, M, H)]
    assert Shape(M, Dx, H, Dy).flops == sum(2 * m * k * n for m, k, n in products)
    assert Shape(M, Dx, H, Dy).flops == 4 * M * Dx * H + 6 * M * H * Dy


def test_floor_is_the_networks_matrix_products(backend):
    shape = Shape(6, 3, 5, 2)
    products = backend.wait(bench.matmul_floor(backend, shape, "float64", seed=0)())
    assert [tuple(p.shape) for p in products] == [(6, 5), (6, 2), (5, 2), (6, 5), (3, 5)]


def test_timing_statistics():
    t = Timing(9.0, (5.0, 1.0, 4.0, 2.0, 3.0))
    assert (t.n, t.median_s, t.q1_s, t.q3_s, t.iqr_s) == (5, 3.0, 2.0, 4.0, 2.0)
    assert t.first_s == 9.0


class FakeDevice:
    """An asynchronous device: a call only queues its work; ``wait`` runs it, on a fake clock.

    Records the order of events so a test can see what lies between the clock's readings.
    """

    def __init__(self, work_s=1.0, first_extra_s=100.0):
        self.now, self.work_s, self.first_extra_s = 0.0, work_s, first_extra_s
        self.events, self.pending, self.calls = [], 0.0, 0

    def clock(self):
        self.events.append("clock")
        return self.now

    def f(self):
        self.events.append("call")
        self.calls += 1
        self.pending += self.work_s + (self.first_extra_s if self.calls == 1 else 0.0)
        return "result"

    def synchronize(self):
        self.events.append("sync")
        self.now += self.pending
        self.pending = 0.0

    def wait(self, result):
        assert result == "result"
        self.events.append("wait")
        self.synchronize()
        return result


def test_time_calls_stops_the_clock_only_after_the_device_finished():
    dev = FakeDevice(work_s=1.0, first_extra_s=0.5)
    t = bench.time_calls(dev, dev.f, min_time=16.0, clock=dev.clock)
    # every call's time is its queued work: a clock read before `wait` would give 0
    assert t.runs_s == (1.0,) * 16 and t.median_s == 1.0 and t.iqr_s == 0.0
    # the first call (compilation, handles) is reported alone and kept out of the runs
    assert t.first_s == 1.5
    # warm-up until, with the first call, min_time / 4 = 4 s: 3 calls, neither in runs nor first
    assert dev.calls == 1 + 3 + 16


def test_time_calls_brackets_every_call():
    dev = FakeDevice(work_s=0.5, first_extra_s=0.0)
    bench.time_calls(dev, dev.f, min_time=1.0, clock=dev.clock)
    pattern = ["sync", "clock", "call", "wait", "sync", "clock"]
    assert len(dev.events) == 6 * dev.calls
    for k in range(dev.calls):
        assert dev.events[6 * k : 6 * k + 6] == pattern


def test_time_calls_warms_up_at_most_max_warmup_and_times_at_least_min_runs():
    dev = FakeDevice(work_s=1.0, first_extra_s=0.0)  # warm-up budget 25 s: MAX_WARMUP stops it
    t = bench.time_calls(dev, dev.f, min_time=100.0, clock=dev.clock)
    assert t.n == 100 and dev.calls == 1 + bench.MAX_WARMUP + 100
    dev = FakeDevice(work_s=10.0)  # slow calls: the first one warmed up enough; MIN_RUNS however long
    t = bench.time_calls(dev, dev.f, min_time=1.0, clock=dev.clock)
    assert t.n == MIN_RUNS and dev.calls == 1 + MIN_RUNS and t.first_s == 110.0


@pytest.mark.parametrize("min_time", [math.inf, -math.inf, math.nan, 0.0, -1.0])
def test_time_calls_and_bench_shape_refuse_a_min_time_that_would_not_stop(min_time, monkeypatch):
    dev = FakeDevice()
    with pytest.raises(ValueError, match=rf"^time_calls: min_time must be a finite number of seconds > 0, "
                                         rf"got {min_time!r}$"):
        bench.time_calls(dev, dev.f, min_time=min_time, clock=dev.clock)
    assert dev.calls == 0
    monkeypatch.setattr(bench, "time_calls", None)  # not reached: the check comes first, not a row's error
    with pytest.raises(ValueError, match=r"^bench_shape: min_time must be a finite number of seconds > 0"):
        bench.bench_shape(get_backend("numpy"), Shape(2, 2, 2, 2), "float64", min_time=min_time)


@pytest.mark.parametrize(("work_s", "min_time"), [(0.0, 1.0), (1.0, 1e308)])
def test_time_calls_stops_at_max_runs(work_s, min_time, monkeypatch):
    # calls that a coarse clock reads as 0 s, or a min_time that no run would reach
    monkeypatch.setattr(bench, "MAX_RUNS", 1000)
    dev = FakeDevice(work_s=work_s, first_extra_s=0.0)
    f = dev.f

    def bounded():
        assert dev.calls < 2000, "time_calls did not stop at MAX_RUNS"
        return f()

    t = bench.time_calls(dev, bounded, min_time=min_time, clock=dev.clock)
    assert t.n == 1000 and dev.calls <= 1 + bench.MAX_WARMUP + 1000


def test_bytes_needed_counts_the_larger_of_the_network_and_its_floor():
    M, Dx, H, Dy = 7, 3, 5, 2
    params = (Dx + 1) * H + (H + 1) * Dy
    network = M * Dx + M * Dy + 3 * params + 2 * M * H + 2 * M * Dy  # inputs, the gradient, temporaries
    floor = (M * Dx + Dx * H + H * Dy + 2 * M * H + M * Dy) + (2 * M * H + M * Dy + H * Dy + Dx * H)
    assert floor > network  # small params: the floor's six operands and five products count
    assert bench.bytes_needed(Shape(M, Dx, H, Dy), "float64") == 8 * floor
    assert bench.bytes_needed(Shape(M, Dx, H, Dy), "float32") == 4 * floor
    big = Shape(10, 100_000, 100_000, 10)  # params dominate: the network's three copies of them
    data_labels, temporaries = 10 * 100_000 + 10 * 10, 2 * 10 * 100_000 + 2 * 10 * 10
    assert bench.bytes_needed(big, "float64") == 8 * (data_labels + 3 * 10_001_100_010 + temporaries)


def test_available_memory_reads_linux_meminfo_else_sysconf(monkeypatch):
    meminfo = "MemTotal:       32000000 kB\nMemFree:         1000 kB\nMemAvailable:    2048 kB\n"
    monkeypatch.setattr(bench, "open", lambda path: io.StringIO(meminfo), raising=False)
    assert bench.available_memory() == 2048 * 1024

    def no_proc(path):
        raise FileNotFoundError(path)

    monkeypatch.setattr(bench, "open", no_proc, raising=False)
    sizes = {"SC_AVPHYS_PAGES": 1000, "SC_PAGE_SIZE": 4096}
    monkeypatch.setattr(bench.os, "sysconf", sizes.__getitem__, raising=False)
    assert bench.available_memory() == 1000 * 4096
    monkeypatch.delattr(bench.os, "sysconf")  # as on Windows
    assert bench.available_memory() is None


def test_bench_shape_on_every_backend(backend):
    row = bench.bench_shape(backend, Shape(8, 4, 3, 2), "float64", min_time=1e-3)
    assert row.error is None, row.error
    assert (row.backend, row.device, row.version) == (backend.name, backend.device_name, backend.version)
    assert row.timing.n >= MIN_RUNS and row.floor.n >= MIN_RUNS
    assert row.timing.median_s > 0 and row.floor.median_s > 0 and row.timing.first_s > 0
    assert row.gflops == pytest.approx(Shape(8, 4, 3, 2).flops / row.timing.median_s / 1e9)
    assert row.time_over_floor == pytest.approx(row.timing.median_s / row.floor.median_s)


def test_bench_shape_records_an_error_and_goes_on(monkeypatch):
    def broken(*args):
        raise RuntimeError("CUDA out of memory\nsecond line")

    monkeypatch.setattr(bench, "forward_backward_prop", broken)
    row = bench.bench_shape(get_backend("numpy"), Shape(4, 3, 2, 2), "float64", min_time=1e-3)
    assert row.error == "RuntimeError: CUDA out of memory" and row.timing is None


def test_bench_shape_checks_the_values_it_generated(monkeypatch):
    def not_one_hot(M, dims, seed):
        data, labels, params = real(M, dims, seed)
        return data, 0.5 * labels, params

    real = bench.random_problem
    monkeypatch.setattr(bench, "random_problem", not_one_hot)
    row = bench.bench_shape(get_backend("numpy"), Shape(4, 3, 2, 2), "float64", min_time=1e-3)
    assert "not one-hot" in row.error and row.timing is None


def _row(backend, M, median, dims=(8, 8, 8)):
    return Row(backend, "cpu", "1", "float64", Shape(M, *dims), timing=Timing(median, (median,) * MIN_RUNS))


def test_speedups_are_ratios_of_medians_at_the_same_shape():
    rows = [_row("numpy", 1, 2.0), _row("gpu", 1, 0.5), _row("gpu", 2, 1.0), _row("numpy", 1, 1.0, (1, 1, 1))]
    out = bench.with_speedups(rows)
    assert [r.speedup for r in out] == [1.0, 4.0, None, 1.0]
    assert rows[1].speedup is None  # inputs untouched


def test_speedups_of_both_modes_are_against_numpy_eager():
    compiled = [dataclasses.replace(_row(b, 1, s), mode="compiled")
                for b, s in (("numpy", 0.1), ("jax", 0.25))]
    out = bench.with_speedups([*compiled, _row("numpy", 1, 2.0), _row("jax", 1, 1.0)])
    assert [r.speedup for r in out] == [20.0, 8.0, 1.0, 2.0]


def test_crossover_is_where_it_stays_faster():
    numpy = [_row("numpy", M, float(M)) for M in (1, 2, 4, 8, 16)]
    lucky = [_row("lucky", M, s) for M, s in zip((1, 2, 4, 8, 16), (0.5, 3.0, 5.0, 7.0, 15.0), strict=True)]
    never = [_row("never", M, 2.0 * M) for M in (1, 2, 4, 8, 16)]
    always = [_row("always", M, 0.1) for M in (1, 2, 4, 8, 16)]
    missing = [_row("missing", 32, 0.1)]  # no numpy row at M = 32
    compiled = [dataclasses.replace(r, mode="compiled") for r in always]  # its own key, same baseline
    numpy_compiled = [dataclasses.replace(_row("numpy", M, 0.01), mode="compiled") for M in (1, 2, 4, 8, 16)]
    result = bench.crossover(numpy + lucky + never + always + missing + compiled + numpy_compiled)
    assert result == {("lucky", "eager"): 8, ("never", "eager"): None, ("always", "eager"): 1,
                      ("missing", "eager"): None, ("always", "compiled"): 1, ("numpy", "compiled"): 1}


def test_environment_records_the_variables_that_change_timings(monkeypatch):
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "268435456")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    env = bench.environment([get_backend("numpy")], "float64")
    assert env["variables"]["MALLOC_MMAP_THRESHOLD_"] == "268435456"
    assert "OMP_NUM_THREADS" not in env["variables"]
    assert "; MALLOC_MMAP_THRESHOLD_=268435456" in bench.describe_environment(env)


def test_report_is_json_with_every_row_and_the_environment():
    rows = bench.with_speedups([_row("numpy", 4, 1e-3), _row("torch", 4, 5e-4)])
    rows[1] = Row(**{**rows[1].__dict__, "floor": Timing(1e-3, (2.5e-4,) * MIN_RUNS)})
    rows.append(Row("jax", "cpu", "1", "float64", Shape(4, 8, 8, 8), error="MemoryError: boom",
                    mode="compiled", compiler="jax.jit"))
    env = bench.environment([get_backend("numpy")], "float64")
    sweep = {("torch", "eager"): 4, ("jax", "compiled"): None}
    doc = json.loads(json.dumps(bench.report(rows, env, 0.5, sweep, ("eager", "compiled"))))
    assert doc["schema"] == SCHEMA == "mlp_xp.bench/2"
    assert doc["crossover"] == [{"backend": "torch", "mode": "eager", "M": 4},
                                {"backend": "jax", "mode": "compiled", "M": None}]
    assert doc["settings"] == {"min_time_s": 0.5, "min_runs": MIN_RUNS, "max_warmup": bench.MAX_WARMUP,
                               "modes": ["eager", "compiled"]}
    assert [(r["mode"], r["compiler"]) for r in doc["rows"]] == [
        ("eager", None), ("eager", None), ("compiled", "jax.jit")]
    keys = ("mlp_xp", "python", "cpu", "threadpools", "backends", "dtype", "tf32", "variables", "timestamp")
    for key in keys:
        assert key in doc["environment"]
    assert doc["environment"]["backends"]["numpy"]["version"] == np.__version__
    torch_row = doc["rows"][1]
    assert torch_row["shape"] == "4x8x8x8" and torch_row["flops"] == Shape(4, 8, 8, 8).flops
    assert torch_row["fbp"]["median_s"] == 5e-4 and torch_row["fbp"]["n_runs"] == MIN_RUNS
    assert torch_row["speedup_vs_numpy"] == 2.0 and torch_row["time_over_floor"] == 2.0
    assert doc["rows"][2]["fbp"] is None and doc["rows"][2]["error"] == "MemoryError: boom"


def test_plot_sweep_writes_an_image_with_a_line_per_backend_and_mode(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")  # the 'plot' extra; the 'test' extra installs it
    from matplotlib.figure import Figure

    rows = [_row(b, M, s * M) for b, s in (("numpy", 1.0), ("torch", 0.5)) for M in (1, 2, 4)]
    rows += [dataclasses.replace(_row("torch", M, 0.1 * M), mode="compiled") for M in (1, 2, 4)]
    figures = []
    real_savefig = Figure.savefig
    monkeypatch.setattr(Figure, "savefig",
                        lambda fig, *a, **k: figures.append(fig) or real_savefig(fig, *a, **k))
    path = tmp_path / "sweep.png"
    bench.plot_sweep(rows, {("torch", "eager"): 1, ("torch", "compiled"): 2}, str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ax_time, ax_rate = figures[0].axes
    lines = {line.get_label(): line for line in ax_time.get_lines() if not line.get_label().startswith("_")}
    assert list(lines) == ["numpy", "torch", "torch compiled"]
    assert lines["torch compiled"].get_color() == lines["torch"].get_color()
    assert lines["torch compiled"].get_linestyle() == "--" and lines["torch"].get_linestyle() == "-"
    crossings = [line.get_xdata()[0] for line in ax_time.get_lines() if line.get_linestyle() == ":"]
    assert sorted(crossings) == [1, 2]
    assert len([line for line in ax_rate.get_lines() if line.get_linestyle() != ":"]) == 3


def test_compiled_mode_on_every_backend_that_has_a_compiler(backend, monkeypatch):
    if backend.compiler is None:
        assert backend.name not in COMPILED_BACKENDS
        with pytest.raises(ValueError, match=rf"^bench_shape: backend '{backend.name}' has no compiler, "
                                             r"so no compiled mode; use mode='eager'"):
            bench.bench_shape(backend, Shape(6, 4, 3, 2), "float64", min_time=1e-3, mode="compiled")
        return
    assert backend.name in COMPILED_BACKENDS
    if backend.library == "torch":
        pytest.importorskip("torch._inductor")
    compiled = []
    real_compile = type(backend).compile
    monkeypatch.setattr(type(backend), "compile",
                        lambda b, f: compiled.append(f.__name__) or real_compile(b, f))
    # warnings are errors here: the compilers' known noise is kept out, anything else would fail
    row = bench.bench_shape(backend, Shape(6, 4, 3, 2), "float64", min_time=1e-3, mode="compiled")
    assert row.error is None, row.error
    assert compiled == ["network", "_products"]  # the network, then its floor, each compiled
    assert (row.mode, row.compiler) == ("compiled", backend.compiler)
    assert row.timing.n >= MIN_RUNS and row.floor.n >= MIN_RUNS
    # the first call traced and compiled: slower than the steady calls (by far: seconds vs µs)
    assert row.timing.first_s > row.timing.median_s and row.floor.first_s > row.floor.median_s


def test_compiled_network_gives_the_eager_result(backend):
    if backend.compiler is None:
        pytest.skip(f"{backend.name} has no compiler")
    call = bench._network_call(backend, Shape(6, 4, 3, 2), "float64", 0, "eager")
    with bench._quiet_compilers("compiled"):
        compiled = bench._network_call(backend, Shape(6, 4, 3, 2), "float64", 0, "compiled")
        (cost, grad), (cost_c, grad_c) = call(), compiled()
    np.testing.assert_allclose(backend.to_numpy(cost_c), backend.to_numpy(cost), rtol=1e-12)
    np.testing.assert_allclose(backend.to_numpy(grad_c), backend.to_numpy(grad), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("mode", ["Compiled", "jit", None, 1])
def test_bench_shape_and_floor_refuse_an_unknown_mode(mode):
    numpy = get_backend("numpy")
    with pytest.raises(ValueError, match=r"^bench_shape: mode must be one of 'eager', 'compiled', got "):
        bench.bench_shape(numpy, Shape(2, 2, 2, 2), "float64", min_time=1e-3, mode=mode)
    with pytest.raises(ValueError, match=r"^matmul_floor: mode must be one of 'eager', 'compiled', got "):
        bench.matmul_floor(numpy, Shape(2, 2, 2, 2), "float64", seed=0, mode=mode)


def test_a_compiler_that_fails_gives_a_row_with_its_reason(monkeypatch):
    # as torch's inductor does on a CPU without a C++ compiler: at the first call, a two-line message
    class BackendCompilerFailed(RuntimeError):
        pass

    def compile_that_fails(f):
        def first_call(*args):
            raise BackendCompilerFailed("backend='inductor' raised:\nInvalidCxxCompiler: No working C++ "
                                        "compiler found in torch._inductor.config.cpp.cxx: (None, 'g++')")
        return first_call

    numpy = dataclasses.replace(get_backend("numpy"), compiler="torch.compile", _compile=compile_that_fails)
    row = bench.bench_shape(numpy, Shape(4, 3, 2, 2), "float64", min_time=1e-3, mode="compiled")
    assert row.timing is None and row.mode == "compiled"
    assert row.error == ("BackendCompilerFailed: backend='inductor' raised: InvalidCxxCompiler: No working "
                         "C++ compiler found in torch._inductor.config.cpp.cxx: (None, 'g++')")


def test_only_the_compilers_known_noise_is_kept_out():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with bench._quiet_compilers("compiled"):
            warnings.warn("Dynamo detected a call to a `functools.lru_cache`-wrapped function at 'x.py:1'",
                          UserWarning, stacklevel=1)
            warnings.warn("`torch.jit.script_method` is deprecated.", DeprecationWarning, stacklevel=1)
            warnings.warn("something else", UserWarning, stacklevel=1)
        with bench._quiet_compilers("eager"):  # eager: nothing is filtered
            warnings.warn("Dynamo detected a call to a `functools.lru_cache`-wrapped function", UserWarning,
                          stacklevel=1)
    assert [str(w.message) for w in caught] == [
        "something else", "Dynamo detected a call to a `functools.lru_cache`-wrapped function"]


def test_torch_tf32_switches_are_read_without_a_warning_escaping():
    class Flag:
        @property
        def allow_tf32(self):
            warnings.warn("This API is going to be deprecated, please see ...", UserWarning, stacklevel=1)
            return False

    class Torch:
        class backends:  # noqa: N801 (torch's own name)
            class cuda:  # noqa: N801
                matmul = Flag()

            class cudnn:  # noqa: N801
                allow_tf32 = True
                fp32_precision = "none"

        @staticmethod
        def get_float32_matmul_precision():
            return "highest"

    # warnings are errors in this suite: one escaping would fail the test
    assert bench._torch_tf32(Torch) == {
        "torch.backends.cuda.matmul.allow_tf32": False,
        "torch.backends.cudnn.allow_tf32": True,
        "torch.backends.cudnn.fp32_precision": "none",
        "torch.float32_matmul_precision": "highest",
    }
