import math
import random
import subprocess
import sys
import warnings

import numpy as np
import pytest

from mlp_xp import GradcheckResult, gradcheck, gradcheck_naive, param_layout
from mlp_xp.gradcheck import DEFAULT_DIRECTIONS, GradcheckError, GradcheckWarning
from mlp_xp.planted import MATERIAL_BUGS, PLANTED_BUGS, planted_forward_backward
from mlp_xp.problems import random_problem, seed_problem
from mlp_xp.testing import assert_close, assert_equal, count_host_reads


def _quad(xp):
    return lambda x: (xp.sum(x**2), 2 * x)


@pytest.mark.parametrize("shape", [(), (4,), (3, 2)])
def test_gradcheck_naive_passes_quadratic(backend, xp, shape, capsys):
    host = np.arange(1.0, 1.0 + np.prod(shape, dtype=int)).reshape(shape) * 0.3
    x = backend.asarray(host, "float64")
    assert gradcheck_naive(_quad(xp), x) is True
    assert capsys.readouterr().out == "Gradient check passed!\n"
    assert_equal(x, backend.asarray(host, "float64"))

@pytest.mark.parametrize(("shape", "index"), [((), "()"), ((4,), "(2,)"), ((3, 2), "(1, 0)")])
def test_gradcheck_naive_rejects_wrong_gradient(backend, xp, shape, index, capsys):
    host = np.ones(shape)
    x = backend.asarray(host, "float64")
    n = int(np.prod(shape, dtype=int))
    wrong = np.zeros(n)
    wrong[{"()": 0, "(2,)": 2, "(1, 0)": 2}[index]] = 0.5  # one entry off by 0.5
    wrong = backend.asarray(wrong.reshape(shape), "float64")
    assert gradcheck_naive(lambda x: (xp.sum(x**2), 2 * x + wrong), x) is False
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Gradient check failed."
    assert out[1] == f"First gradient error found at index {index}"
    assert out[2] == "Your gradient: 2.500000 \t Numerical gradient: 2.000000"

def test_gradcheck_naive_freezes_global_random_state(backend, xp):
    # f samples from both global generators; without restoring, its cost would jump between calls
    x = backend.asarray([0.5, -1.0], "float64")

    def f(x):
        c = random.random() + np.random.rand()
        return xp.sum(x**2) + c, 2 * x

    random.seed(1)
    np.random.seed(1)
    expected = (random.random(), np.random.rand())
    random.seed(1)
    np.random.seed(1)
    assert gradcheck_naive(f, x)
    assert (random.random(), np.random.rand()) == expected  # caller's state as it was

def test_gradcheck_naive_leaves_x_intact_when_f_raises(backend, xp):
    host = np.asarray([1.0, 2.0, 3.0])
    x = backend.asarray(host, "float64")
    calls = []

    def f(y):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("boom")
        return xp.sum(y**2), 2 * y

    with pytest.raises(RuntimeError, match="boom"):
        gradcheck_naive(f, x)
    assert_equal(x, backend.asarray(host, "float64"))


# --- gradcheck: planted backprop bugs --------------------------------------------------------




TINY = (3, 3, 3)  # square W1 (for W1_transposed), W2[1, 2] and b1[2] exist; 24 parameters


def _network(backend, dims, M=10, bug=None, dtype="float64", problem=seed_problem):
    data, labels, params = (backend.asarray(a, dtype) for a in problem(M, dims))

    def f(p):
        return planted_forward_backward(data, labels, p, dims, bug=bug)

    return f, params


@pytest.mark.parametrize("mode", ["full", "fast"])
def test_true_gradient_passes(backend, mode):
    f, params = _network(backend, TINY)
    result = gradcheck(f, params, mode=mode, layout=param_layout(TINY))
    assert result.passed and bool(result) and result.failing_blocks == ()
    assert result.max_error < 1e-7
    assert result.n_evaluations == (2 * params.shape[0] + 1 if mode == "full" else 2 * DEFAULT_DIRECTIONS + 1)


#: The planted cases that also run on Dask, where each takes about 4 to 5 s (f builds a graph per
#: call): every block, one entry named, the subtle 1e-3 error, and both modes. The checker's
#: Dask path (lazy derivatives, one read) is the same whichever entry is wrong.
DASK_CASES = {("full", "W2_entry_off"), ("full", "b1_entry_off_1e-3"), ("full", "mean_cost_gradient"),
              ("fast", "b2_sign_flipped"), ("fast", "sigmoid_factor_missing")}


# an error of 1e-3 in one entry is full mode's job (see gradcheck's docstring)
@pytest.mark.parametrize(
    ("mode", "bug"), [("full", b) for b in PLANTED_BUGS] + [("fast", b) for b in MATERIAL_BUGS]
)
def test_planted_bug_is_caught_and_its_block_named(backend, mode, bug):
    if backend.name == "dask" and (mode, bug) not in DASK_CASES:
        pytest.skip("on Dask only DASK_CASES run (each case takes seconds there); this one runs on "
                    "every other backend")
    f, params = _network(backend, TINY, bug=bug)
    result = gradcheck(f, params, mode=mode, layout=param_layout(TINY))
    expected_blocks = PLANTED_BUGS[bug][1]
    assert not result.passed
    assert result.failing_blocks == expected_blocks
    assert result.worst is not None and result.worst.name.split("[")[0] in expected_blocks
    assert result.worst.error > result.tol
    if bug == "W2_entry_off":
        assert result.worst.name == "W2[1, 2]" and result.worst.index == (3 * 3 + 3 + 1 * 3 + 2,)
    if bug == "b1_entry_off_1e-3":
        assert result.worst.name == "b1[2]"
        assert result.worst.analytic - result.worst.numeric == pytest.approx(1e-3, rel=1e-3)


@pytest.mark.parametrize("bug", [b for b in PLANTED_BUGS if b != "W1_transposed"])
def test_planted_bugs_on_the_seed_network(bug):
    # the seed's 20 x (10, 5, 10) problem (W1 is not square): both modes, NumPy
    from mlp_xp.backends import get_backend

    f, params = _network(get_backend("numpy"), (10, 5, 10), M=20, bug=bug)
    layout = param_layout((10, 5, 10))
    full = gradcheck(f, params, layout=layout)
    assert not full and full.failing_blocks == PLANTED_BUGS[bug][1]
    if bug in MATERIAL_BUGS:
        fast = gradcheck(f, params, mode="fast", layout=layout)
        assert not fast and fast.failing_blocks == PLANTED_BUGS[bug][1]


@pytest.mark.parametrize("bug", [None, *(b for b in MATERIAL_BUGS if b != "W1_transposed")])
def test_fast_mode_on_100k_parameters_needs_a_few_dozen_calls(bug):
    from mlp_xp.backends import get_backend

    dims = (784, 128, 10)
    f, params = _network(get_backend("numpy"), dims, M=32, bug=bug, problem=random_problem)
    assert params.shape == (101_770,)
    result = gradcheck(f, params, mode="fast", layout=param_layout(dims))
    detect = 2 * DEFAULT_DIRECTIONS + 1
    assert result.n_evaluations - result.n_localize == detect == 13  # caught (or passed) here
    if bug is None:
        assert result.passed and result.n_evaluations == detect
        return
    assert not result.passed
    assert result.failing_blocks == PLANTED_BUGS[bug][1]
    # narrowed down to one wrong entry: ~2 log2(size) calls instead of ~2e5 for a full scan
    assert result.worst is not None and result.worst.name.split("[")[0] in PLANTED_BUGS[bug][1]
    assert result.n_localize <= 2 * 4 + 2 * math.ceil(math.log2(784 * 128)) + 2
    if bug == "W2_entry_off":
        assert result.worst.name == "W2[1, 2]"


def test_without_a_layout_a_failure_names_the_multi_index(backend, xp):
    host = np.linspace(-1.0, 1.0, 32).reshape(4, 8)
    x = backend.asarray(host, "float64")
    off = np.zeros((4, 8))
    off[3, 5] = 0.25
    off = backend.asarray(off, "float64")
    for mode in ("full", "fast"):
        result = gradcheck(lambda y: (xp.sum(y**3), 3 * y**2 + off), x, mode=mode)
        assert not result
        assert result.worst.index == (3, 5) and result.worst.name == "x[3, 5]"
        assert result.worst.analytic == pytest.approx(3 * host[3, 5] ** 2 + 0.25)
        assert result.worst.numeric == pytest.approx(3 * host[3, 5] ** 2, abs=1e-7)
        assert result.n_localize == (0 if mode == "full" else 2 * 5 + 2)  # 5 halvings of 32
        assert result.failing_blocks == ()


def test_fast_mode_stops_at_the_block_when_bisection_is_not_far_cheaper(backend, xp):
    x = backend.asarray([1.0, 2.0, 3.0, 4.0], "float64")
    result = gradcheck(lambda y: (xp.sum(y**2), 2 * y + 0.5), x, mode="fast")
    assert not result and result.worst is None and result.n_localize == 0
    assert "run mode='full'" in str(result)


# --- the report -----------------------------------------------------------------------------


def test_report_names_the_wrong_weight_and_raise_exception_carries_it():
    from mlp_xp.backends import get_backend

    f, params = _network(get_backend("numpy"), TINY, bug="W2_entry_off")
    result = gradcheck(f, params, layout=param_layout(TINY))
    assert isinstance(result, GradcheckResult)
    report = str(result)
    assert report.splitlines()[0].startswith("gradcheck FAILED (full mode, float64, 49 calls of f")
    assert "wrong block(s): W2" in report
    assert "worst entry W2[1, 2]: your gradient" in report and "numerical gradient" in report
    with pytest.raises(GradcheckError) as info:
        gradcheck(f, params, layout=param_layout(TINY), raise_exception=True)
    assert str(info.value).splitlines()[1:] == report.splitlines()[1:]
    assert info.value.result.worst.name == "W2[1, 2]"
    passed = gradcheck(_network(get_backend("numpy"), TINY)[0], params, mode="fast")
    assert str(passed).startswith("gradcheck passed (fast mode, float64, 13 calls of f")
    assert "over 6 random directions" in str(passed)


# --- honest on GPUs: transfers do not grow with x.size ------------------------------------


@pytest.mark.parametrize("wrong", [False, True])
@pytest.mark.parametrize("mode", ["full", "fast"])
def test_device_to_host_transfers_do_not_grow_with_x(mode, wrong):
    from mlp_xp.backends import get_backend

    b = get_backend("array_api_strict")
    xp = b.xp
    seen = []
    for n in (64, 512):
        x = b.asarray(np.linspace(-1.0, 1.0, n), "float64")
        off = b.asarray(np.eye(n)[n // 3] * 0.5 * wrong, "float64")
        with count_host_reads() as reads:
            result = gradcheck(lambda y, off=off: (xp.sum(y**2), 2 * y + off), x, mode=mode)
        assert result.passed is not wrong
        if wrong:
            assert result.worst.index == (n // 3,)  # the bisection ran, on the device
        seen.append(reads.n)
    assert seen[0] == seen[1] and 0 < seen[0] <= 20, seen


# --- dtypes, malformed f, the caller's x and random state -----------------------------------


def test_float32_warns_and_uses_its_own_defaults(backend, xp):
    f, params = _network(backend, TINY, dtype="float32")
    with pytest.warns(GradcheckWarning, match="float32"):
        result = gradcheck(f, params, mode="fast")
    assert result.passed and (result.eps, result.tol) == (1e-2, 1e-2) and result.dtype == "float32"
    f, params = _network(backend, TINY, dtype="float32", bug="b2_sign_flipped")
    with pytest.warns(GradcheckWarning):
        assert not gradcheck(f, params, mode="fast")


@pytest.mark.parametrize("dtype", ["int64", "bool"])
def test_integer_or_boolean_x_is_an_error(backend, xp, dtype):
    x = backend.asarray([1, 0, 1], dtype)
    with pytest.raises(TypeError, match=r"x must have a real floating dtype .*got .*(int64|bool)"):
        gradcheck(lambda y: (xp.sum(y), y), x)


def test_x_that_is_not_an_array_is_an_error():
    with pytest.raises(TypeError, match=r"gradcheck: x must be an array of an array-API library.*got a list"):
        gradcheck(lambda y: (0.0, y), [1.0, 2.0])


def test_malformed_f_gets_a_value_error_saying_what_came_back(backend, xp):
    x = backend.asarray([1.0, 2.0, 3.0], "float64")
    with pytest.raises(ValueError, match=r"scalar cost; got an array of shape \(3,\)"):
        gradcheck(lambda y: (y**2, 2 * y), x)
    with pytest.raises(ValueError, match=r"grad of shape \(2,\), but x has shape \(3,\)"):
        gradcheck(lambda y: (xp.sum(y**2), 2 * y[:2]), x)
    with pytest.raises(ValueError, match=r"must return a pair \(cost, grad\)"):
        gradcheck(lambda y: xp.sum(y**2), x)


def test_bad_arguments_are_named(backend, xp):
    x = backend.asarray([1.0, 2.0], "float64")
    f = lambda y: (xp.sum(y**2), 2 * y)  # noqa: E731
    with pytest.raises(ValueError, match="mode must be 'full' or 'fast'; got 'slow'"):
        gradcheck(f, x, mode="slow")
    with pytest.raises(ValueError, match="n_directions must be a positive int of at most 1024; got 0"):
        gradcheck(f, x, mode="fast", n_directions=0)
    with pytest.raises(ValueError, match=r"layout describes 115 parameters \(W1 10x5.*\) but x has 2"):
        gradcheck(f, x, layout=param_layout((10, 5, 10)))


def test_scipy_style_numpy_function_with_python_float_cost():
    from scipy.optimize import rosen, rosen_der

    x = np.asarray([0.3, -1.2, 0.8, 1.5])
    assert gradcheck(lambda y: (float(rosen(y)), rosen_der(y)), x)
    assert gradcheck(lambda y: (rosen(y), list(rosen_der(y))), x, mode="fast")  # NumPy scalar, list
    wrong = gradcheck(lambda y: (rosen(y), rosen_der(y) * [1, 1, 1.01, 1]), x)
    assert not wrong and wrong.worst.index == (2,)


@pytest.mark.parametrize("mode", ["full", "fast"])
def test_x_is_intact_even_when_f_writes_into_its_argument(backend, xp, mode):
    host = np.asarray([0.5, -1.0, 2.0])
    x = backend.asarray(host, "float64")

    def f(y):
        cost, grad = xp.sum(y**2), 2 * y
        y *= 3.0  # in place where the library allows it (not on JAX)
        return cost, grad

    assert gradcheck(f, x, mode=mode)
    assert_equal(x, backend.asarray(host, "float64"))


def test_fast_mode_leaves_the_callers_random_state_alone(backend, xp):
    x = backend.asarray(np.linspace(0, 1, 10), "float64")
    np.random.seed(3)
    random.seed(3)
    expected = (np.random.rand(), random.random())
    np.random.seed(3)
    random.seed(3)
    r1 = gradcheck(lambda y: (xp.sum(y**2), 2 * y), x, mode="fast", seed=7)
    assert (np.random.rand(), random.random()) == expected
    r2 = gradcheck(lambda y: (xp.sum(y**2), 2 * y), x, mode="fast", seed=7)
    assert r1.max_error == r2.max_error  # the seed fixes the directions


def test_progress_bar_on_stderr_for_full_checks(capsys):
    x = np.linspace(0, 1, 30)
    assert gradcheck(lambda y: (np.sum(y**2), 2 * y), x, progress=True)
    captured = capsys.readouterr()
    assert "gradcheck" in captured.err and captured.out == ""
    assert gradcheck(lambda y: (np.sum(y**2), 2 * y), x)
    assert capsys.readouterr().err == ""


def test_dask_numeric_derivatives_are_computed_a_fixed_number_of_times():
    # lazy all along: the number of Dask computations does not grow with x
    da = pytest.importorskip("dask.array")
    import array_api_compat.dask.array as xp

    for mode, sizes in (("full", (6, 12)), ("fast", (64, 512))):
        seen = []
        for n in sizes:
            x = da.from_array(np.linspace(-1.0, 1.0, n))
            off = da.from_array(np.eye(n)[1] * 0.5)
            with count_host_reads() as computes:  # on Dask, a read is a compute
                result = gradcheck(lambda y, off=off: (xp.sum(y**2), 2 * y + off), x, mode=mode)
            assert result.worst.index == (1,)
            seen.append(computes.n)
        assert seen[0] == seen[1] <= 6, (mode, seen)


def test_planted_without_a_bug_is_the_network(backend):
    from mlp_xp import forward_backward_prop

    dims = (4, 3, 5)
    data, labels, params = (backend.asarray(a, "float64") for a in seed_problem(6, dims, seed=2))
    want = forward_backward_prop(data, labels, params, dims)
    got = planted_forward_backward(data, labels, params, dims)
    assert_close(got[0], want[0], rtol=1e-13)
    assert_close(got[1], want[1], rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="unknown bug 'nope'; planted bugs are sigmoid_grad_of_pre"):
        planted_forward_backward(data, labels, params, dims, bug="nope")
    with pytest.raises(ValueError, match=r"needs a square W1 \(Dx == H\); got dimensions \(4, 3, 5\)"):
        planted_forward_backward(data, labels, params, dims, bug="W1_transposed")


@pytest.mark.parametrize("mode", ["full", "fast"])
def test_nan_never_passes(backend, xp, mode):
    x = backend.asarray(np.linspace(-1.0, 1.0, 40), "float64")
    nan_at_7 = backend.asarray(np.where(np.arange(40) == 7, np.nan, 0.0), "float64")
    result = gradcheck(lambda y: (xp.sum(y**2), 2 * y + nan_at_7), x, mode=mode)
    assert not result and result.max_error == math.inf
    assert result.worst.index == (7,) and math.isnan(result.worst.analytic)
    assert not gradcheck(lambda y: (xp.sum(y**2) * math.nan, 2 * y), x, mode=mode)


def test_works_on_jax_without_x64():
    # the test process has JAX's x64 on (the jax backend turns it on), so check in a fresh one
    # that no int64 / float64 is asked of a JAX that has none (it would warn: an error here)
    pytest.importorskip("jax")
    code = """
import warnings
import jax, jax.numpy as jnp
from mlp_xp import gradcheck
from mlp_xp.gradcheck import GradcheckWarning
assert not jax.config.jax_enable_x64
x = jnp.linspace(-1, 1, 12, dtype=jnp.float32).reshape(3, 4)
wrong = (jnp.arange(12) == 5).reshape(3, 4) * jnp.float32(0.5)
warnings.simplefilter("ignore", GradcheckWarning)
assert gradcheck(lambda y: (jnp.sum(y**2), 2 * y), x)
for mode in ("full", "fast"):
    assert not gradcheck(lambda y: (jnp.sum(y**2), 2 * y + wrong), x, mode=mode)
"""
    run = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def _never_called(y):
    raise AssertionError("f was called before the arguments were checked")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"tol": float("nan")}, ValueError, r"gradcheck: tol must be finite and > 0.*got nan"),
        ({"tol": -1.0}, ValueError, r"gradcheck: tol must be finite and > 0.*got -1.0"),
        ({"tol": 0}, ValueError, r"gradcheck: tol must be finite and > 0"),
        ({"tol": True}, TypeError, r"gradcheck: tol must be a real number > 0 or None.*got a bool True"),
        ({"tol": "1e-5"}, TypeError, r"gradcheck: tol must be a real number"),
        ({"eps": 0.0}, ValueError, r"gradcheck: eps must be finite and > 0.*got 0.0"),
        ({"eps": float("inf")}, ValueError, r"gradcheck: eps must be finite and > 0.*got inf"),
        ({"eps": 1j}, TypeError, r"gradcheck: eps must be a real number"),
        ({"mode": "slow"}, ValueError, r"gradcheck: mode must be 'full' or 'fast'; got 'slow'"),
        ({"mode": None}, TypeError, r"gradcheck: mode must be 'full' or 'fast'; got a NoneType None"),
        ({"n_directions": 0}, ValueError, r"^gradcheck: n_directions must be a positive int.*1024; got 0$"),
        ({"n_directions": 10**9}, ValueError, r"n_directions must be .* at most 1024; got 10+$"),
        ({"n_directions": 2.0}, ValueError, r"n_directions must be a positive int.*got a float 2.0"),
        ({"n_directions": True}, ValueError, r"n_directions must be a positive int.*got a bool True"),
        ({"seed": -1}, ValueError, r"gradcheck: seed must be an int >= 0.*got -1"),
        ({"seed": 1.5}, ValueError, r"gradcheck: seed must be an int >= 0.*got a float 1.5"),
        ({"layout": (10, 5, 10)}, TypeError, r"gradcheck: layout must be a ParamLayout.*got a tuple"),
        ({"layout": param_layout((10, 5, 10))}, ValueError, r"gradcheck: layout describes 115 parameters"),
        ({"raise_exception": "yes"}, TypeError, r"gradcheck: raise_exception must be True or False"),
        ({"progress": 1}, TypeError, r"gradcheck: progress must be True, False or a function"),
    ],
    ids=lambda v: repr(v) if not isinstance(v, dict) else ",".join(f"{k}={v[k]!r}"[:30] for k in v),
)
@pytest.mark.parametrize("mode", ["full", "fast"])
def test_every_argument_is_checked_before_f_is_called(kwargs, error, match, mode):
    x = np.asarray([1.0, 2.0])
    with pytest.raises(error, match=match):
        gradcheck(_never_called, x, **{"mode": mode, **kwargs})


def test_f_must_be_callable():
    with pytest.raises(TypeError, match=r"gradcheck: f must be a function f\(x\) -> \(cost, grad\); got a"):
        gradcheck([1.0], np.asarray([1.0]))


@pytest.mark.parametrize(
    ("returns", "match"),
    [
        (lambda xp, y: (xp.sum(y**2), None), r"f\(x\) must return grad as an array.*got a NoneType None"),
        (lambda xp, y: (xp.sum(y**2), "2y"), r"f\(x\) must return grad as an array.*got a str"),
        (lambda xp, y: (1j, 2 * y), r"f\(x\) must return a real scalar cost; got a complex"),
        (lambda xp, y: (None, 2 * y), r"f\(x\) must return a real scalar cost; got a NoneType"),
        (lambda xp, y: (True, 2 * y), r"f\(x\) must return a real scalar cost; got a bool"),
        (lambda xp, y: (xp.sum(y**2), y > 0), r"f\(x\) must return a real gradient; got a 1-D bool array"),
    ],
)
def test_what_f_returns_is_checked_and_never_judged(backend, xp, returns, match):
    x = backend.asarray([1.0, 2.0, 3.0], "float64")
    with pytest.raises(ValueError, match=match):
        gradcheck(lambda y: returns(xp, y), x)


def test_a_complex_gradient_is_refused_not_cast():
    x = np.asarray([1.0, 2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NumPy's ComplexWarning would say it was cast
        with pytest.raises(ValueError, match=r"must return a real gradient; got a 1-D complex128 array"):
            gradcheck(lambda y: (np.sum(y**2), 2 * y + 0j), x)
        with pytest.raises(ValueError, match=r"must return a real floating cost; got a 0-D complex128"):
            gradcheck(lambda y: (np.sum(y**2) + 0j, 2 * y), x)


def test_a_gradient_of_another_library_is_refused():
    torch = pytest.importorskip("torch")
    x = torch.asarray([1.0, 2.0], dtype=torch.float64)
    with pytest.raises(ValueError, match=r"grad as an array of x's library \(array_api_compat.torch\); "
                                         r"got one of array_api_compat.numpy"):
        gradcheck(lambda y: (torch.sum(y**2), 2 * y.numpy()), x)


@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
@pytest.mark.parametrize(
    "odd", [lambda: np.matrix([[1.0, 2.0]]), lambda: np.ma.masked_array([1.0, 2.0], mask=[0, 1])],
    ids=["matrix", "masked"],
)
def test_numpy_matrix_and_masked_arrays_are_refused(odd):
    odd = odd()
    with pytest.raises(TypeError, match=r"gradcheck: x must be a plain array, not a numpy"):
        gradcheck(lambda y: (np.sum(y**2), 2 * y), odd)


def test_an_f_that_reuses_its_buffers_is_judged_on_what_it_returned():
    # f fills the same 0-d cost and gradient arrays on every call (torch's .grad pattern):
    # gradcheck must keep copies, or every difference is 0 (a false pass) and the reported
    # gradient is the last perturbed call's (a false failure)
    cost_buffer, grad_buffer = np.zeros(()), np.zeros(3)

    def f(y, wrong=0.0):
        np.sum(y**2, out=cost_buffer)
        np.multiply(y, 2 + wrong, out=grad_buffer)
        return cost_buffer, grad_buffer

    x = np.asarray([0.5, -1.0, 2.0])
    for mode in ("full", "fast"):
        assert gradcheck(f, x, mode=mode)
        assert not gradcheck(lambda y: f(y, wrong=0.5), x, mode=mode)


def test_values_read_back_in_float64_on_torch():
    torch = pytest.importorskip("torch")
    x = torch.asarray([0.1, 0.2], dtype=torch.float64)
    result = gradcheck(lambda y: (torch.sum(y**2), 2 * y + 1e-9 * torch.asarray([0.0, 1.0])), x, tol=1e-12)
    assert not result and result.worst.analytic == pytest.approx(0.4 + 1e-9, rel=1e-12)
