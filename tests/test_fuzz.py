"""Fuzzing: random bad and extreme inputs to every public function and the CLI, every outcome classified.

Each call ends in one of three ways:

- a **clear error**: a ``TypeError`` or ``ValueError`` whose message starts with the public
  function's name (for the command line: exit status 2, one line, before any work);
- a **right result**: checked against a property or a NumPy float64 reference of the
  documented decisions (docs: trust), including the limits of softmax at infinities;
- a **defect**: anything else: another exception type, a warning (they are errors in this
  suite), NaN out of finite input, an input modified, a call that runs past its time bound.

Bounded: about a minute of CPU in all (the ``FUZZ`` settings below; every backend of the
fixture). Defects it found in modules it does not own are in ``KNOWN_DEFECTS``, fixed and
called there as clear errors.
"""

from __future__ import annotations

import itertools
import math
import signal
import warnings
from contextlib import contextmanager

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.special import expit

import mlp_xp
from mlp_xp import (
    check_values,
    forward_backward_prop,
    gradcheck,
    gradcheck_naive,
    log_softmax,
    param_layout,
    sanity_check,
    sigmoid,
    sigmoid_grad,
    softmax,
)
from mlp_xp import cli as cli_module
from mlp_xp.backends import BACKEND_NAMES, BackendUnavailable, get_backend

FUZZ = settings(
    max_examples=15, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
#: Seconds any one call may take before it counts as a hang (JAX compiles each new shape).
BOUND_S = 20

#: What a hostile user passes where an array, a number or a name belongs.
ANYTHING = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True),
    st.complex_numbers(max_magnitude=1e3), st.text(max_size=4), st.binary(max_size=2),
    st.lists(st.floats(-2, 2), max_size=3), st.tuples(st.integers(-2, 4), st.integers(-2, 4)),
    st.just(np.float32(1.5)), st.just(np.int64(3)), st.just({"a": 1}), st.just(object()),
)
#: Values at the edges of floating point: zeros of both signs, subnormals, huge, infinite, NaN.
EXTREME = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.sampled_from([0.0, -0.0, 5e-324, -5e-324, 1e-310, 1e4, -1e4, 3e38, -3e38, 1.7e308, -1.7e308,
                     math.inf, -math.inf, math.nan]),
)


@contextmanager
def bounded(seconds=BOUND_S):
    """Fail a call that runs longer than ``seconds`` (a hang is a defect); POSIX main thread."""
    def hang(signum, frame):
        raise TimeoutError(f"a call ran past its bound of {seconds} s")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def call(where, fn, *args, **kwargs):
    """``("clear", exc)`` or ``("result", value)``; any other outcome fails the test as a defect."""
    try:
        with bounded(), warnings.catch_warnings():
            warnings.simplefilter("error")
            # the one documented warning: gradcheck in float32 is coarse (not a defect)
            warnings.filterwarnings("ignore", category=mlp_xp.GradcheckWarning)
            return "result", fn(*args, **kwargs)
    except (TypeError, ValueError) as exc:
        message = str(exc)
        assert message.startswith(f"{where}:") or message.startswith(f"{where} "), \
            f"defect: {type(exc).__name__} not naming {where}: {message[:300]}"
        assert len(message) < 800, f"defect: a message of {len(message)} characters"
        return "clear", exc


def host(backend, x):
    return np.array(backend.to_numpy(backend.xp.astype(x, backend.xp.float64) if x.ndim >= 0 else x))


def on_backend(backend, a, dtype):
    """``a`` rounded to ``dtype`` (overflowing to inf: an extreme input too) on ``backend``."""
    if not hasattr(backend.xp, dtype):
        return None
    with np.errstate(over="ignore"):
        rounded = np.asarray(a, dtype=np.float64).astype(dtype)
    return backend.asarray(rounded, dtype)


# --- softmax, log_softmax, sigmoid, sigmoid_grad ----------------------------------------------


def reference(h, log=False):
    """The documented rules, row by row, in float64: NaN row; ties at an infinite maximum; else exact."""
    h = np.atleast_2d(h)
    out = np.empty_like(h)
    for i, row in enumerate(h):
        m = np.max(row)
        if np.isnan(m):
            out[i] = np.nan
        elif np.isinf(m):
            with np.errstate(divide="ignore"):
                p = (row == m) / np.sum(row == m)
                out[i] = np.log(p) if log else p
        else:
            shifted = row - m
            total = np.sum(np.exp(shifted))
            out[i] = shifted - np.log(total) if log else np.exp(shifted) / total
    return out


FLOAT_DTYPES = ["float64", "float32", "float16"]


@st.composite
def float_arrays(draw, ranks=(1, 2)):
    ndim = draw(st.sampled_from(ranks))
    shape = tuple(draw(st.lists(st.integers(0, 4), min_size=ndim, max_size=ndim)))
    return draw(arrays(np.float64, shape, elements=EXTREME)), draw(st.sampled_from(FLOAT_DTYPES))


@FUZZ
@given(case=float_arrays(ranks=(1, 2)))
@example(case=(np.zeros((3, 0)), "float64"))
@example(case=(np.asarray([[math.inf, 1.0, math.inf], [-math.inf] * 3]), "float32"))
def test_softmax_and_log_softmax_give_the_limit_or_nan_only_from_nan(backend, case):
    a, dtype = case
    x = on_backend(backend, a, dtype)
    if x is None:
        return
    before = host(backend, x)
    h = before.reshape(before.shape)  # the input as rounded to its dtype
    eps = float(np.finfo(dtype).eps)
    for f in (softmax, log_softmax):
        kind, out = call(f.__name__, f, x)
        assert kind == "result", out
        assert out.dtype == x.dtype and tuple(out.shape) == a.shape
        got = host(backend, out).reshape(-1, a.shape[-1]) if a.size else host(backend, out)
        if a.size == 0:
            continue
        ref = reference(h, log=f is log_softmax)
        nan_rows = np.isnan(h.reshape(ref.shape)).any(axis=1)
        assert np.array_equal(np.isnan(got).all(axis=1), nan_rows), "NaN out of a row without NaN"
        assert not np.isnan(got[~nan_rows]).any(), "NaN out of a row without NaN"
        got, ref = got[~nan_rows], ref[~nan_rows]
        if f is softmax:
            np.testing.assert_allclose(got, ref, rtol=0, atol=8 * eps)
        else:  # exact where softmax underflows: -746 stays -746, not log(0)
            assert np.array_equal(got == -np.inf, ref == -np.inf)
            finite = np.isfinite(ref)
            assert np.all(np.abs(got[finite] - ref[finite]) <= 8 * eps * np.maximum(1, np.abs(ref[finite])))
    np.testing.assert_array_equal(host(backend, x), before)  # the input is intact


@FUZZ
@given(case=float_arrays(ranks=(0, 1, 2, 3)))
def test_sigmoid_and_sigmoid_grad_are_right_everywhere(backend, case):
    a, dtype = case
    x = on_backend(backend, a, dtype)
    if x is None:
        return
    h = host(backend, x)
    eps = float(np.finfo(dtype).eps)
    kind, s = call("sigmoid", sigmoid, x)
    assert kind == "result" and s.dtype == x.dtype
    got = host(backend, s)
    assert np.array_equal(np.isnan(got), np.isnan(h)), "NaN out of a number, or a NaN lost"
    np.testing.assert_allclose(got, expit(h), rtol=0, atol=2 * eps)
    kind, g = call("sigmoid_grad", sigmoid_grad, s)  # s in [0, 1]: its domain
    assert kind == "result"
    np.testing.assert_allclose(host(backend, g), expit(h) * expit(-h), rtol=0, atol=2 * eps)
    np.testing.assert_array_equal(host(backend, x), h)


@FUZZ
@given(bad=st.one_of(ANYTHING, st.sampled_from(["int64", "bool", "0d", "3d", "complex128"])))
def test_the_functions_refuse_what_is_not_a_float_array_clearly(backend, bad):
    if isinstance(bad, str) and bad in ("int64", "bool", "complex128", "0d", "3d"):
        if bad == "0d":
            bad = backend.asarray(1.0, "float64")
        elif bad == "3d":
            bad = backend.asarray(np.zeros((2, 2, 2)), "float64")
        elif bad == "complex128" and backend.name == "dask":
            return
        else:
            bad = backend.asarray(np.ones(3), bad)
    for f in (softmax, log_softmax, sigmoid, sigmoid_grad):
        kind, _ = call(f.__name__, f, bad)
        rank = getattr(bad, "ndim", None)
        floating = rank is not None and "float" in str(bad.dtype) and "complex" not in str(bad.dtype)
        if not floating or (f in (softmax, log_softmax) and rank not in (1, 2)):
            assert kind == "clear"


# --- gradcheck, gradcheck_naive ---------------------------------------------------------------

GRADCHECK_KWARGS = st.fixed_dictionaries({}, optional={
    "mode": st.one_of(st.sampled_from(["full", "fast"]), ANYTHING),
    "eps": st.one_of(st.none(), st.floats(1e-6, 1e-2), ANYTHING),
    "tol": st.one_of(st.none(), st.floats(1e-6, 1e-1), ANYTHING),
    "n_directions": st.one_of(st.integers(-1, 8), ANYTHING),
    "seed": st.one_of(st.integers(-3, 10**6), ANYTHING),
    "layout": st.one_of(st.none(), st.just(param_layout((1, 1, 1))), ANYTHING),
    "raise_exception": st.one_of(st.booleans(), ANYTHING),
    "progress": st.one_of(st.booleans(), st.just(lambda d, t: None), ANYTHING),
})


@FUZZ
@given(kwargs=GRADCHECK_KWARGS, dtype=st.sampled_from(["float64", "float32", "float16"]),
       wrong=st.booleans())
@example(kwargs={"tol": math.nan}, dtype="float64", wrong=True)
@example(kwargs={"eps": 0.0}, dtype="float64", wrong=False)
@example(kwargs={}, dtype="float16", wrong=False)
def test_gradcheck_is_refused_or_right_never_a_lie(backend, kwargs, dtype, wrong):
    xp = backend.xp
    x = on_backend(backend, [0.5, -1.0, 2.0, 0.25], dtype)
    if x is None:
        return
    calls = []
    off = xp.asarray(backend.asarray([0.0, 0.5, 0.0, 0.0], dtype), dtype=x.dtype)

    def f(y):
        calls.append(1)
        return xp.sum(y**2), 2 * y + (off if wrong else 0.0)

    before = host(backend, x)
    try:
        kind, result = call("gradcheck", gradcheck, f, x, **kwargs)
    except mlp_xp.GradcheckError as exc:  # raise_exception=True on a failure: the report
        assert wrong and kwargs.get("raise_exception") is True
        kind, result = "result", exc.result
    if kind == "clear":
        assert calls == [], "an argument was checked after f ran"
    else:
        # every argument was valid: a true gradient passes, a wrong one (0.5 off) fails
        assert dtype != "float16", "a float16 check gave a verdict"
        assert bool(result) is not wrong, f"a {'wrong' if wrong else 'true'} gradient got {result}"
    np.testing.assert_array_equal(host(backend, x), before)


F_RETURNS = st.sampled_from([
    "none", "scalar", "tuple1", "cost_vector", "cost_complex", "cost_bool", "cost_str", "grad_none",
    "grad_short", "grad_complex", "grad_bool", "grad_list", "grad_str", "cost_nan", "grad_inf", "ok",
])


def _returns(xp, backend, how, y):
    cost, grad = xp.sum(y**2), 2 * y
    return {
        "none": None, "scalar": cost, "tuple1": (cost,), "cost_vector": (y**2, grad),
        "cost_complex": (1j, grad), "cost_bool": (True, grad), "cost_str": ("1", grad),
        "grad_none": (cost, None), "grad_short": (cost, grad[:2]), "grad_complex": (cost, [1j, 0, 0, 0]),
        "grad_bool": (cost, y > 0), "grad_list": (cost, [2 * v for v in (0.5, -1.0, 2.0, 0.25)]),
        "grad_str": (cost, "grad"), "cost_nan": (cost * math.nan, grad), "grad_inf": (cost, grad * math.inf),
        "ok": (cost, grad),
    }[how]


@FUZZ
@given(how=F_RETURNS, naive=st.booleans(), mode=st.sampled_from(["full", "fast"]))
def test_what_f_returns_is_refused_or_judged_never_cast(backend, how, naive, mode, capsys):
    xp = backend.xp
    x = backend.asarray([0.5, -1.0, 2.0, 0.25], "float64")
    f = lambda y: _returns(xp, backend, how, y)  # noqa: E731
    if naive:
        kind, result = call("gradcheck_naive", gradcheck_naive, f, x)
    else:
        kind, result = call("gradcheck", gradcheck, f, x, mode=mode)
    capsys.readouterr()
    if how in ("ok", "grad_list") and not (how == "grad_list" and backend.name != "numpy"):
        assert kind == "result" and bool(result)
    elif how in ("cost_nan", "grad_inf"):
        assert kind == "result" and not bool(result)  # NaN never passes
    else:
        assert kind == "clear", (how, result)


# --- check_values and forward_backward_prop -------------------------------------------------


@FUZZ
@given(M=st.integers(0, 3), dims=st.sampled_from([(2, 3, 2), (1, 1, 1), (3, 2, 4)]),
       data=st.data(), dtype=st.sampled_from(["float64", "float32"]))
def test_check_values_is_exactly_one_hot_and_finite(backend, M, dims, data, dtype):
    Dx, _, Dy = dims
    d = data.draw(arrays(np.float64, (M, Dx), elements=EXTREME))
    labels = data.draw(arrays(np.float64, (M, Dy), elements=st.sampled_from([0.0, 1.0, 0.5, -1.0, math.nan])))
    params = data.draw(arrays(np.float64, param_layout(dims).size, elements=EXTREME))
    arrays_on = [on_backend(backend, a, dtype) for a in (d, labels, params)]
    h = [host(backend, a) for a in arrays_on]
    kind, out = call("check_values", check_values, *arrays_on, dims)
    good = (np.all(np.isin(h[1], (0.0, 1.0))) and np.all(h[1].sum(axis=1) == 1)
            and np.all(np.isfinite(h[0])) and np.all(np.isfinite(h[2])))
    assert (kind == "result" and out is None) if good else kind == "clear"
    for a, b in zip(arrays_on, h, strict=True):
        np.testing.assert_array_equal(host(backend, a), b)


@FUZZ
@given(data=st.data())
def test_forward_backward_prop_refuses_bad_structure_or_is_finite(backend, data):
    xp = backend.xp
    dims = data.draw(st.one_of(st.sampled_from([(2, 3, 2), (2, 2), (2, 3, 3, 2)]), ANYTHING))
    M = data.draw(st.integers(0, 3))
    good = param_layout((2, 3, 2))
    shapes = {"data": (M, 2), "labels": (M, 2), "params": (good.size,)}
    which = data.draw(st.sampled_from(["none", "data", "labels", "params"]))
    arrays_on = {}
    for name, shape in shapes.items():
        values = np.eye(2)[np.arange(M) % 2] if name == "labels" else \
            data.draw(arrays(np.float64, shape, elements=st.floats(-1e3, 1e3)))
        arrays_on[name] = backend.asarray(values, "float64")
    if which != "none":
        arrays_on[which] = data.draw(st.one_of(ANYTHING, st.just(xp.astype(arrays_on[which], xp.float32)),
                                               st.just(arrays_on[which][..., :1])))
    kwargs = data.draw(st.fixed_dictionaries({}, optional={
        "activation": st.one_of(st.sampled_from(["sigmoid", "tanh", "relu", "identity"]), ANYTHING),
        "output": st.one_of(st.sampled_from(["softmax", "sigmoid", "identity"]), ANYTHING),
        "input_grad": st.one_of(st.booleans(), ANYTHING),
    }))
    kind, out = call("forward_backward_prop", forward_backward_prop, *arrays_on.values(), dims, **kwargs)
    if kind == "result":
        for a in out:
            assert np.all(np.isfinite(host(backend, a))), "NaN or inf out of finite input"
        if kwargs.get("output", "softmax") == "softmax":
            assert host(backend, out[0]) >= 0


# --- sanity_check, param_layout, the package's names -----------------------------------------


@settings(FUZZ, max_examples=10)
@given(backend_name=st.one_of(st.sampled_from(["numpy", *BACKEND_NAMES[5:]]), ANYTHING),
       dtype=st.one_of(st.sampled_from(["float64", "float32", "float16", "bfloat16"]), ANYTHING),
       seed=st.one_of(st.integers(-2, 3), ANYTHING))
def test_sanity_check_refuses_or_passes(backend_name, dtype, seed, capsys):
    try:
        kind, out = call("sanity_check", sanity_check, backend_name, dtype, seed)
    except BackendUnavailable:  # a known backend that cannot run here: its own clear error
        return
    finally:
        capsys.readouterr()
    if kind == "result":
        assert out is True


@FUZZ
@given(dims=st.one_of(ANYTHING, st.lists(st.one_of(st.integers(-1, 4), ANYTHING), max_size=4)))
def test_param_layout_refuses_or_lays_out(dims):
    kind, layout = call("param_layout", param_layout, dims)
    if kind == "result":
        assert layout.size == sum((a + 1) * b for a, b in itertools.pairwise(dims))


#: Every public name and the test that fuzzes it, or why none does.
COVERED = {
    "softmax": "above", "log_softmax": "above", "sigmoid": "above", "sigmoid_grad": "above",
    "gradcheck": "above", "gradcheck_naive": "above", "check_values": "above",
    "forward_backward_prop": "above", "sanity_check": "above", "param_layout": "above",
    "seed_problem": "KNOWN_DEFECTS", "random_problem": "KNOWN_DEFECTS",
    "Block": "built by param_layout", "ParamLayout": "built by param_layout",
    "GradcheckEntry": "a result type", "GradcheckResult": "a result type",
    "GradcheckError": "an exception type", "GradcheckWarning": "a warning type",
    "MLPClassifier": "tests/test_estimators.py (check_estimator)",
    "MLPRegressor": "tests/test_estimators.py (check_estimator)",
}


def test_every_public_name_is_fuzzed_or_says_why_not():
    assert sorted(set(mlp_xp.__all__) - set(COVERED)) == []


# --- known defects, in modules this suite does not own ----------------------------------------

# Defects this suite found in modules it does not own, fixed since (the fuzz calls them here,
# as clear errors now): problems.py checked none of its arguments; get_backend took a list
# for a name, and Backend.asarray passed NumPy's own error on for an unknown dtype name.
KNOWN_DEFECTS = {
    "seed_problem": (lambda: mlp_xp.seed_problem(-1, (2, 2, 2)), "seed_problem"),
    "random_problem": (lambda: mlp_xp.random_problem(-1, (2, 2, 2)), "random_problem"),
    "get_backend": (lambda: get_backend([1]), "get_backend"),
    "Backend.asarray": (lambda: get_backend("numpy").asarray([1.0], "float17"), "Backend.asarray"),
}


@pytest.mark.parametrize("name", list(KNOWN_DEFECTS))
def test_defects_found_elsewhere_are_clear_errors_now(name):
    fn, where = KNOWN_DEFECTS[name]
    assert call(where, fn)[0] == "clear"


# --- the command line ------------------------------------------------------------------------

CLI_VALUES = st.sampled_from(["", "-1", "0", "1", "nan", "inf", "1e9", "abc", "1x1x1x1", "0x1x1x1",
                              "10x100000x100000x10", "2x3x4x5", "numpy", "nope", "float64", "float16",
                              "--", "-", "\u00e9"])
CLI_OPTIONS = {
    "sanity": ["--backend", "--dtype", "--seed"],
    "bench": ["--backend", "--shape", "--dtype", "--min-time", "--json", "--plot", "--max-batch", "--mode"],
    "backends": [],
}


@pytest.fixture
def no_work(monkeypatch):
    """Stubs for the work itself: the fuzz is of the checks before it, which must come first."""
    started = []

    def run_sanity(backend, dtype, seed):
        started.append("sanity")
        return True, "Gradient check passed!\n"

    def bench_rows(*args, **kwargs):
        started.append("bench")
        return []

    monkeypatch.setattr(cli_module, "_run_sanity", run_sanity)
    monkeypatch.setattr(cli_module, "_bench_rows", bench_rows)
    return started


@FUZZ
@given(command=st.sampled_from(list(CLI_OPTIONS)), data=st.data())
@example(command="bench", data=None)
def test_cli_refuses_in_one_line_before_any_work(no_work, tmp_path, command, data):
    args = [command]
    if data is not None:
        for _ in range(data.draw(st.integers(0, 3))):
            options = CLI_OPTIONS[command] + ["--unknown"]
            args += [data.draw(st.sampled_from(options)), data.draw(CLI_VALUES)]
    else:
        args += ["--min-time", "inf"]
    args = [str(tmp_path / a) if a.endswith((".json", ".png")) else a for a in args]
    no_work.clear()
    with bounded():
        result = CliRunner().invoke(cli_module.main, args, catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"defect: {args} raised {type(result.exception).__name__}: {result.exception}")
    if result.exit_code == 2:
        assert len(result.stderr.strip().splitlines()) == 1, f"{args}: {result.stderr!r}"
        assert no_work == [], f"{args}: work started before the refusal"
    else:
        assert result.exit_code == 0 or (command == "bench" and result.exit_code == 1), (args, result.output)
