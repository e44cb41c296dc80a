"""Properties that hold for every input (hypothesis), and stability at the extremes, on every backend.

Warnings are errors in this test run (pyproject), so an overflow in ``exp`` fails here too.
Each property draws a few dozen examples per backend (``max_examples``), without a deadline:
the backends' first calls compile kernels.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.special import expit
from scipy.special import log_softmax as ref_log_softmax
from scipy.special import softmax as ref_softmax

from mlp_xp import forward_backward_prop, gradcheck, param_layout, sigmoid, softmax
from mlp_xp.testing import assert_close, assert_equal

# The backend fixture returns a cached, stateless Backend: safe to share between examples.
PER_BACKEND = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
DTYPES = ["float64", "float32"]


def floats(dtype, bound):
    return st.floats(-bound, bound, width=np.dtype(dtype).itemsize * 8)


# A few shapes, among them M = 1 and Dy = 1: JAX compiles anew for every new shape, so the
# values vary freely and the shapes come from this short list.
NETWORK_SHAPES = [(1, (3, 2, 2)), (4, (2, 3, 1)), (5, (3, 4, 3)), (2, (1, 1, 4))]


@st.composite
def networks(draw, bound_data=50.0, bound_params=50.0, dtype="float64"):
    """A small random network: (data, one-hot labels, params, dimensions) on the host."""
    M, (Dx, H, Dy) = draw(st.sampled_from(NETWORK_SHAPES))
    data = draw(arrays(dtype, (M, Dx), elements=floats(dtype, bound_data)))
    labels = np.eye(Dy, dtype=dtype)[draw(arrays(np.int64, M, elements=st.integers(0, Dy - 1)))]
    params = draw(arrays(dtype, param_layout((Dx, H, Dy)).size, elements=floats(dtype, bound_params)))
    return data, labels, params, (Dx, H, Dy)


# --- softmax -------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@PER_BACKEND
@given(data=st.data())
def test_softmax_rows_are_distributions(backend, dtype, data):
    shape = data.draw(st.tuples(st.integers(1, 5), st.integers(1, 6)))
    x = data.draw(arrays(dtype, shape, elements=floats(dtype, 1e4)))
    p = softmax(backend.asarray(x, dtype))
    expected = backend.asarray(ref_softmax(x.astype(np.float64), axis=1), dtype)
    assert_close(p, expected, rtol=0, atol=10 * float(np.finfo(dtype).eps))
    p = backend.to_numpy(p)
    assert np.all((p >= 0) & (p <= 1))
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=0, atol=shape[1] * np.finfo(dtype).eps)


@pytest.mark.parametrize("dtype", DTYPES)
@PER_BACKEND
@given(data=st.data())
def test_softmax_invariant_to_adding_a_constant_to_a_row(backend, dtype, data):
    # Multiples of 1/8 up to +-2000: x + c is exact in float32 too, so any difference
    # would come from softmax itself, not from rounding the shifted input.
    m, n = data.draw(st.tuples(st.integers(1, 5), st.integers(1, 6)))
    x = data.draw(arrays(np.int64, (m, n), elements=st.integers(-8000, 8000))) / 8
    c = data.draw(arrays(np.int64, (m, 1), elements=st.integers(-1000, 1000))).astype(np.float64)
    p = softmax(backend.asarray(x, dtype))
    q = softmax(backend.asarray(x + c, dtype))
    assert_close(q, p, rtol=4 * float(np.finfo(dtype).eps), atol=float(np.finfo(dtype).tiny))


# --- sigmoid -------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@PER_BACKEND
@given(data=st.data())
def test_sigmoid_in_unit_interval_and_symmetric(backend, dtype, data):
    width = np.dtype(dtype).itemsize * 8
    x = data.draw(arrays(dtype, st.integers(1, 8), elements=st.floats(allow_nan=False, width=width)))
    s = sigmoid(backend.asarray(x, dtype))
    s_neg = sigmoid(backend.asarray(-x, dtype))
    eps = float(np.finfo(dtype).eps)
    assert_close(s_neg, 1 - s, rtol=0, atol=2 * eps)
    with np.errstate(over="ignore"):  # the reference's own exp overflows; ours must not
        expected = backend.asarray(expit(x.astype(np.float64)), dtype)
    assert_close(s, expected, rtol=4 * eps, atol=float(np.finfo(dtype).smallest_normal))
    s = backend.to_numpy(s)
    assert np.all((s >= 0) & (s <= 1))


# --- the network ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@PER_BACKEND
@given(data=st.data())
def test_cost_is_non_negative_and_finite(backend, dtype, data):
    x, labels, params, dims = data.draw(networks(dtype=dtype))
    cost, grad = forward_backward_prop(*(backend.asarray(a, dtype) for a in (x, labels, params)), dims)
    cost, grad = backend.to_numpy(cost), backend.to_numpy(grad)
    assert cost >= 0
    assert np.isfinite(cost) and np.all(np.isfinite(grad))


@settings(PER_BACKEND, max_examples=8)
@given(problem=networks(bound_data=2.0, bound_params=2.0))
def test_gradcheck_passes_true_gradient_of_random_networks(backend, problem):
    x, labels, params, dims = problem
    data, labels = backend.asarray(x, "float64"), backend.asarray(labels, "float64")
    f = lambda p: forward_backward_prop(data, labels, p, dims)  # noqa: E731
    result = gradcheck(f, backend.asarray(params, "float64"), layout=param_layout(dims))
    assert result.passed, str(result)


# --- the network at the extremes -----------------------------------------------------------


def extreme_network(label):
    """Hidden pre-activations of exactly +-1e3 and logits of exactly +-1e4, known results.

    ``h = sigmoid([1e3, -1e3]) = [1, 0]`` and ``z2 = [1e4, -1e4]``: ``yhat = [1, 0]``.
    """
    data = np.asarray([[1.0]])
    W1, b1 = np.asarray([[1e3, -1e3]]), np.zeros(2)
    W2, b2 = np.asarray([[1e4, -1e4], [0.0, 0.0]]), np.zeros(2)
    labels = np.eye(2)[[label]]
    return data, labels, np.concatenate([W1.ravel(), b1, W2.ravel(), b2]), (1, 2, 2)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("label", "cost", "grad"),
    [
        # labels [0, 1]: cost -log(yhat_1) = 2e4; delta1 = yhat - labels = [1, -1]; delta3 = 0 as h(1-h) = 0
        (1, 2e4, [0, 0, 0, 0, 1, -1, 0, 0, 1, -1]),
        # labels [1, 0]: the confident right answer, cost 0 and no gradient
        (0, 0.0, [0] * 10),
    ],
)
def test_network_at_saturation_exact(backend, dtype, label, cost, grad):
    arrays_ = (backend.asarray(a, dtype) for a in extreme_network(label)[:3])
    c, g = forward_backward_prop(*arrays_, (1, 2, 2))
    assert_equal(c, backend.asarray(cost, dtype))
    # A sigmoid layer cuts -z at log(max) - 1 before exp, so a saturated h is below the dtype's
    # smallest normal number rather than 0: the gradient is exact up to that much.
    assert_close(g, backend.asarray(grad, dtype), rtol=0, atol=float(np.finfo(dtype).smallest_normal))


def stable_reference(data, labels, params, dims):
    """The network in float64 from SciPy's overflow-free expit and log_softmax."""
    W1, b1, W2, b2 = (params[b.offset : b.stop].reshape(b.shape) for b in param_layout(dims))
    h = expit(data @ W1 + b1)
    z2 = h @ W2 + b2
    cost = -np.sum(labels * ref_log_softmax(z2, axis=1))
    d1 = ref_softmax(z2, axis=1) - labels
    d3 = (d1 @ W2.T) * h * (1 - h)
    grad = np.concatenate([(data.T @ d3).ravel(), d3.sum(0), (h.T @ d1).ravel(), d1.sum(0)])
    return cost, grad, np.abs(data @ W1 + b1).max(), np.abs(z2).max()


@pytest.mark.parametrize("dtype", DTYPES)
def test_network_with_huge_activations_matches_stable_reference(backend, dtype):
    # Weights scaled so that hidden pre-activations reach about 1e3 and logits about 1e4.
    dims, M = (4, 6, 5), 32
    rng = np.random.default_rng(6)
    data = rng.standard_normal((M, dims[0]))
    labels = np.eye(dims[2])[rng.integers(0, dims[2], M)]
    layout = param_layout(dims)
    params = rng.standard_normal(layout.size)
    params[: layout["b1"].stop] *= 500
    params[layout["W2"].offset :] *= 5e3
    host = [a.astype(dtype).astype(np.float64) for a in (data, labels, params)]  # the values the backend sees
    ref_cost, ref_grad, max_z1, max_z2 = stable_reference(*host, dims)
    assert max_z1 > 1e3 and max_z2 > 1e4  # the test reaches the extremes it is about

    cost, grad = forward_backward_prop(*(backend.asarray(a, dtype) for a in host), dims)
    cost, grad = backend.to_numpy(cost), backend.to_numpy(grad)
    assert np.isfinite(cost) and np.all(np.isfinite(grad))
    # float32 logits of 1e4 carry an absolute rounding error of about 1e-3: relative 1e-3 on the
    # gradient (whose softmax factor sees those errors), while float64 is held to 1e-9.
    tol = 1e-9 if dtype == "float64" else 1e-3
    assert abs(cost - ref_cost) <= tol * ref_cost
    assert np.linalg.norm(grad - ref_grad) <= tol * np.linalg.norm(ref_grad)
