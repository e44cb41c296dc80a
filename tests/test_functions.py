import numpy as np
import pytest
from array_api_extra.testing import lazy_xp_function
from scipy.special import expit
from scipy.special import softmax as scipy_softmax

from mlp_xp import log_softmax, sigmoid, sigmoid_grad, softmax
from mlp_xp.backends import get_backend
from mlp_xp.testing import assert_close, assert_equal

S1, S2 = 0.26894142, 0.73105858


@pytest.mark.parametrize(
    ("x", "expected"),
    [
        ([1.0, 2.0], [S1, S2]),
        ([[1001.0, 1002.0], [3.0, 4.0]], [[S1, S2], [S1, S2]]),
        ([[-1001.0, -1002.0]], [[S2, S1]]),
    ],
)
def test_softmax_course_checks(backend, xp, x, expected):
    assert_close(softmax(backend.asarray(x, "float64")), backend.asarray(expected, "float64"), rtol=1e-6)


def test_sigmoid_course_checks(backend):
    s = sigmoid(backend.asarray([[1.0, 2.0], [-1.0, -2.0]], "float64"))
    expected = backend.asarray([[0.73105858, 0.88079708], [0.26894142, 0.11920292]], "float64")
    assert_close(s, expected, rtol=1e-6)
    expected_grad = backend.asarray([[0.19661193, 0.10499359], [0.19661193, 0.10499359]], "float64")
    assert_close(sigmoid_grad(s), expected_grad, rtol=1e-6)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_extremes_are_finite_and_exact(backend, dtype):
    # warnings are errors in this test run, so an overflow in exp would fail here
    values = [-1e3, -40.0, 0.0, 40.0, 1e3]
    expected = backend.asarray(expit(np.asarray(values)), dtype)  # exp(-1e3) underflows to 0 in both
    assert_close(sigmoid(backend.asarray(values, dtype)), expected, rtol=1e-6,
                 atol=float(np.finfo(dtype).smallest_normal))
    # rtol=1e-7 (numpy.testing's default) in float32 too, whose default would be looser
    p = softmax(backend.asarray([[1e4, -1e4, 0.0]], dtype))
    assert_close(p, backend.asarray([[1.0, 0.0, 0.0]], dtype), rtol=1e-7)
    ls = log_softmax(backend.asarray([[1e4, -1e4]], dtype))
    assert_close(ls, backend.asarray([[0.0, -2e4]], dtype), rtol=1e-7)


def test_sigmoid_keeps_precision_of_tiny_values(backend):
    s = sigmoid(backend.asarray([-40.0], "float64"))
    assert_close(s, backend.asarray([np.exp(-40) / (1 + np.exp(-40))], "float64"), rtol=1e-14)


def test_functions_are_differentiable_by_torch_autograd():
    # none of them may change in place an output that torch saved for its backward pass
    torch = pytest.importorskip("torch")
    x = torch.asarray(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    for f in (softmax, log_softmax, sigmoid, lambda x: sigmoid_grad(sigmoid(x))):
        assert torch.autograd.gradcheck(f, (x,))


#: Where autodiff of a piecewise formula goes wrong: zeros of both signs, subnormals, ties,
#: and the far ends where exp underflows.
SIGMOID_POINTS = [0.0, -0.0, 5e-324, -5e-324, 2.2e-308, -2.2e-308, 1.0, -1.0, 40.0, -40.0, 700.0, -700.0]
#: Rows with equal entries (the max is a tie), zeros of both signs, a subnormal, huge gaps.
SOFTMAX_ROWS = [[0.0, 0.0, 0.0], [1.0, 1.0, -1.0], [-0.0, 0.0, 5e-324], [1e4, 1e4, -1e4], [3.0, -2.0, 0.5]]


def _vjp(library, f, x, w):
    """Gradient of ``sum(w * f(x))`` with respect to ``x``, by the library's own autodiff."""
    if library == "torch":
        torch = pytest.importorskip("torch")
        t = torch.asarray(x, dtype=torch.float64).requires_grad_(True)
        (torch.asarray(w, dtype=torch.float64) * f(t)).sum().backward()
        return t.grad.numpy()
    jax = pytest.importorskip("jax")
    b = get_backend("jax")  # with float64 on, as the backend sets it
    w = b.asarray(w, "float64")
    return b.to_numpy(jax.grad(lambda z: b.xp.sum(w * f(z)))(b.asarray(x, "float64")))


@pytest.mark.parametrize("library", ["torch", "jax"])
def test_autodiff_of_sigmoid_is_its_derivative_at_zeros_subnormals_and_extremes(library):
    x = np.asarray(SIGMOID_POINTS)
    w = np.ones_like(x)
    expected = expit(x) * expit(-x)  # s (1 - s), without the cancellation of 1 - s near 1
    np.testing.assert_allclose(_vjp(library, sigmoid, x, w), expected, rtol=1e-13, atol=0)


@pytest.mark.parametrize("library", ["torch", "jax"])
def test_autodiff_of_softmax_and_log_softmax_is_exact_at_ties(library):
    x = np.asarray(SOFTMAX_ROWS)
    w = np.random.default_rng(0).standard_normal(x.shape)
    s = scipy_softmax(x, axis=1)
    # d sum(w softmax)/dx = s (w - <s, w>);  d sum(w log_softmax)/dx = w - s sum(w)
    expected_softmax = s * (w - np.sum(s * w, axis=1, keepdims=True))
    expected_log = w - s * np.sum(w, axis=1, keepdims=True)
    np.testing.assert_allclose(_vjp(library, softmax, x, w), expected_softmax, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(_vjp(library, log_softmax, x, w), expected_log, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("shape", [(3, 0), (0,), (0, 4)])
@pytest.mark.parametrize("f", [softmax, log_softmax], ids=["softmax", "log_softmax"])
def test_empty_rows_and_no_rows_give_empty_results(backend, f, shape):
    # the decision (docs: trust): an empty array of the same shape, not a reduction error
    assert_equal(f(backend.asarray(np.zeros(shape), "float64")), backend.asarray(np.zeros(shape), "float64"))


# --- non-finite input: the limit where there is one (docs: trust) --------------------------

INF, NAN = np.inf, np.nan
#: rows, and softmax of each: +inf entries share the mass; -inf entries get 0; a row of only
#: -inf (no limit) is uniform, as any row of equal entries; a NaN makes its row NaN.
NON_FINITE_ROWS = [
    ([INF, 5.0, INF, -INF], [0.5, 0.0, 0.5, 0.0]),
    ([1e4, INF, -1e4, 0.0], [0.0, 1.0, 0.0, 0.0]),
    ([-INF, -INF, -INF, -INF], [0.25, 0.25, 0.25, 0.25]),
    ([-INF, 0.0, -INF, 0.0], [0.0, 0.5, 0.0, 0.5]),
    ([1.0, NAN, 2.0, 3.0], [NAN] * 4),
    ([NAN, INF, -INF, 1.0], [NAN] * 4),
    ([0.0, 0.0, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25]),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_softmax_of_non_finite_rows_is_the_limit(backend, dtype):
    # warnings are errors here: no inf - inf, 0/0 or overflow anywhere, not even in a dropped branch
    x = backend.asarray([row for row, _ in NON_FINITE_ROWS], dtype)
    expected = np.asarray([p for _, p in NON_FINITE_ROWS])
    assert_close(softmax(x), backend.asarray(expected, dtype), rtol=1e-6)
    with np.errstate(divide="ignore"):
        log_expected = np.log(expected)
    assert_close(log_softmax(x), backend.asarray(log_expected, dtype), rtol=1e-6)
    one_row = backend.asarray(NON_FINITE_ROWS[0][0], dtype)  # 1-D, the same rule
    assert_equal(softmax(one_row), backend.asarray(NON_FINITE_ROWS[0][1], dtype))


def test_sigmoid_of_non_finite_values(backend):
    x = backend.asarray([INF, -INF, NAN, 0.0], "float64")
    assert_equal(sigmoid(x), backend.asarray([1.0, 0.0, NAN, 0.5], "float64"))
    s = backend.asarray([NAN, 1.0, 0.0], "float64")  # sigmoid_grad is s (1 - s), as written
    assert_equal(sigmoid_grad(s), backend.asarray([NAN, 0.0, 0.0], "float64"))


def limits(x):
    """softmax, log_softmax and sigmoid of ``x``, tagged below: the ``xp`` fixture runs it lazily."""
    return softmax(x), log_softmax(x), sigmoid(x)


# A function of this module's own: the tag is an attribute of the function object, so tagging
# softmax itself would make it lazy in every test module that imports it.
lazy_xp_function(limits)


def test_limits_hold_under_jit_and_without_computes(backend, xp):
    # no host read, no data-dependent shape: the same code compiles under jax.jit, and computes
    # nothing on Dask
    assert hasattr(limits, "__wrapped__") is (backend.library in ("jax", "dask"))  # xp patched it
    x = backend.asarray([row for row, _ in NON_FINITE_ROWS], "float64")
    for got, f in zip(limits(x), (softmax, log_softmax, sigmoid), strict=True):
        assert_equal(got, f(x))
