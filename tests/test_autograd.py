"""Cost and gradient agree with PyTorch autograd and ``jax.value_and_grad`` of the same loss.

The loss, written with each library's own ``sigmoid`` and ``log_softmax``:
``-sum(labels * log_softmax(sigmoid(data W1 + b1) W2 + b2))``. Agreement is asked to 1e-10
in float64 with the seed's error measure ``|a - b| / max(1, |a|, |b|)`` (relative, and
absolute below 1), for the cost and every gradient entry. Each comparison is skipped only
where its library is not installed.
"""

from functools import cache

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mlp_xp import forward_backward_prop, param_layout

TOL = 1e-10
REFERENCES = ["torch", "jax"]


def torch_value_and_grad(data, labels, params, dims):
    torch = pytest.importorskip("torch")
    p = torch.from_numpy(params.copy()).requires_grad_(True)
    W1, b1, W2, b2 = (p[b.offset : b.stop].reshape(b.shape) for b in param_layout(dims))
    h = torch.sigmoid(torch.from_numpy(data) @ W1 + b1)
    cost = -(torch.from_numpy(labels) * torch.log_softmax(h @ W2 + b2, dim=1)).sum()
    cost.backward()
    return cost.detach().numpy(), p.grad.numpy()


@cache
def _jax_value_and_grad(dims):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)  # as the jax backend does: float64 stays float64

    def loss(params, data, labels):
        W1, b1, W2, b2 = (params[b.offset : b.stop].reshape(b.shape) for b in param_layout(dims))
        h = jax.nn.sigmoid(data @ W1 + b1)
        return -(labels * jax.nn.log_softmax(h @ W2 + b2, axis=1)).sum()

    return jax.jit(jax.value_and_grad(loss))


def jax_value_and_grad(data, labels, params, dims):
    cost, grad = _jax_value_and_grad(dims)(params, data, labels)
    return np.asarray(cost), np.asarray(grad)


VALUE_AND_GRAD = {"torch": torch_value_and_grad, "jax": jax_value_and_grad}


def assert_agree(cost, grad, ref_cost, ref_grad):
    assert cost.dtype == grad.dtype == ref_grad.dtype == np.float64
    for name, a, b in (("cost", cost, ref_cost), ("grad", grad, ref_grad)):
        error = np.abs(a - b) / np.maximum(1.0, np.maximum(np.abs(a), np.abs(b)))
        assert np.all(error <= TOL), f"{name}: error {error.max():.3g} > {TOL}\nours {a}\nreference {b}"


@st.composite
def problems(draw, shapes):
    """Values drawn for a shape ``(M, (Dx, H, Dy))`` from ``shapes``: data, one-hot labels, params."""
    M, (Dx, H, Dy) = draw(shapes)
    elements = st.floats(-10, 10)
    data = draw(arrays(np.float64, (M, Dx), elements=elements))
    labels = np.eye(Dy)[draw(arrays(np.int64, M, elements=st.integers(0, Dy - 1)))]
    params = draw(arrays(np.float64, param_layout((Dx, H, Dy)).size, elements=elements))
    return data, labels, params, (Dx, H, Dy)


RANDOM_SHAPES = st.tuples(
    st.integers(1, 8), st.tuples(st.integers(1, 6), st.integers(1, 6), st.integers(1, 5))
)
# Every backend of the fixture runs on a few shapes only: JAX compiles anew for each new shape.
SHAPES = [(1, (3, 4, 2)), (5, (3, 4, 1)), (7, (2, 5, 3))]


def one_example(M, dims, seed=0):
    rng = np.random.default_rng(seed)
    return (
        rng.standard_normal((M, dims[0])),
        np.eye(dims[2])[rng.integers(0, dims[2], M)],
        rng.standard_normal(param_layout(dims).size),
        dims,
    )


@pytest.mark.parametrize("library", REFERENCES)
@settings(max_examples=30, deadline=None)
@given(problem=problems(RANDOM_SHAPES))
@example(problem=one_example(1, (3, 4, 2)))  # M = 1
@example(problem=one_example(5, (3, 4, 1)))  # Dy = 1: yhat = 1, cost and gradient 0
@example(problem=one_example(1, (1, 1, 1)))
def test_numpy_agrees_with_autograd_on_random_shapes(library, problem):
    data, labels, params, dims = problem
    ref_cost, ref_grad = VALUE_AND_GRAD[library](data, labels, params, dims)
    assert_agree(*forward_backward_prop(data, labels, params, dims), ref_cost, ref_grad)


@pytest.mark.parametrize("library", REFERENCES)
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(problem=problems(st.sampled_from(SHAPES)))
def test_every_backend_agrees_with_autograd(backend, library, problem):
    *host, dims = problem
    ref_cost, ref_grad = VALUE_AND_GRAD[library](*host, dims)
    cost, grad = forward_backward_prop(*(backend.asarray(a, "float64") for a in host), dims)
    assert_agree(backend.to_numpy(cost), backend.to_numpy(grad), ref_cost, ref_grad)


def test_autodiff_next_to_infinite_rows_is_exact_and_zero_in_them():
    # finite rows keep their true derivative; rows whose maximum is infinite are constant
    # (the limit), so their gradient is 0, never NaN, on torch and JAX
    from scipy.special import softmax as scipy_softmax

    from mlp_xp import log_softmax, softmax
    from mlp_xp.backends import get_backend

    x = np.asarray([[3.0, -2.0, 0.5], [np.inf, 1.0, np.inf], [-np.inf] * 3, [1.0, 1.0, -1.0]])
    w = np.random.default_rng(1).standard_normal(x.shape)
    s = scipy_softmax(x[[0, 3]], axis=1)
    expected_softmax = np.zeros_like(x)
    expected_softmax[[0, 3]] = s * (w[[0, 3]] - np.sum(s * w[[0, 3]], axis=1, keepdims=True))
    expected_log = np.zeros_like(x)
    expected_log[[0, 3]] = w[[0, 3]] - s * np.sum(w[[0, 3]], axis=1, keepdims=True)
    torch = pytest.importorskip("torch")
    jax = pytest.importorskip("jax")
    b = get_backend("jax")
    jxp, wj = b.xp, b.asarray(w, "float64")
    for f, expected in ((softmax, expected_softmax), (log_softmax, expected_log)):
        t = torch.asarray(x).requires_grad_(True)
        (torch.asarray(w) * f(t)).sum().backward()
        np.testing.assert_allclose(t.grad.numpy(), expected, rtol=1e-12, atol=1e-300)
        grad = jax.grad(lambda z, f=f: jxp.sum(jxp.where(jxp.isfinite(f(z)), wj * f(z), 0.0)))
        got = b.to_numpy(grad(b.asarray(x, "float64")))
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-300)
