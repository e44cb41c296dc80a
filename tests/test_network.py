import importlib.util

import numpy as np
import pytest

from mlp_xp import forward_backward_prop, gradcheck_naive, param_layout, sanity_check
from mlp_xp.gradcheck import GradcheckWarning
from mlp_xp.problems import random_problem, seed_problem
from mlp_xp.testing import assert_close, assert_equal

from ._reference import reference_forward_backward

SHAPES = [(1, (3, 4, 2)), (20, (10, 5, 10)), (7, (1, 1, 1)), (64, (32, 16, 5)), (5, (4, 6, 1))]


def test_param_layout():
    layout = param_layout((10, 5, 10))
    assert layout.size == (10 + 1) * 5 + (5 + 1) * 10
    assert [(b.name, b.shape, b.offset) for b in layout] == [
        ("W1", (10, 5), 0), ("b1", (5,), 50), ("W2", (5, 10), 55), ("b2", (10,), 105)
    ]
    assert layout.entry_name(0) == "W1[0, 0]"
    assert layout.entry_name(13) == "W1[2, 3]"
    assert layout.entry_name(52) == "b1[2]"
    assert layout.entry_name(55 + 1 * 10 + 2) == "W2[1, 2]"
    assert layout.entry_name(114) == "b2[9]"
    with pytest.raises(IndexError):
        layout.entry_name(115)


@pytest.mark.parametrize(("M", "dims"), SHAPES)
def test_matches_numpy_reference_float64(backend, M, dims):
    data, labels, params = seed_problem(M, dims, seed=M)
    ref_cost, ref_grad = reference_forward_backward(data, labels, params, dims)
    cost, grad = forward_backward_prop(*(backend.asarray(a, "float64") for a in (data, labels, params)), dims)
    # results stay in the caller's namespace and device, as a 0-d cost and a flat gradient; the
    # type too, which assert_close does not check: a NumPy scalar is no 0-d array
    assert type(cost) is type(backend.asarray(params, "float64"))
    assert_close(cost, backend.asarray(ref_cost, "float64"), rtol=1e-12)
    # relative to the gradient's scale: entries near 0 carry only absolute rounding error
    assert_close(grad, backend.asarray(ref_grad, "float64"), rtol=1e-12, atol=1e-12 * np.abs(ref_grad).max())


@pytest.mark.parametrize(("M", "dims"), [(20, (10, 5, 10)), (256, (128, 64, 10))])
def test_float32_within_stated_tolerance(backend, M, dims):
    # float32 rounding (eps = 1.2e-7) accumulates over sums of up to max(M, Dx, H) terms of
    # either sign; a normwise error of 1e-5 leaves room for sqrt(n) growth with n in the
    # hundreds and is still 100x below any bug the gradient checks look for.
    data, labels, params = random_problem(M, dims, seed=1)
    ref_cost, ref_grad = reference_forward_backward(data, labels, params, dims)
    cost, grad = forward_backward_prop(*(backend.asarray(a, "float32") for a in (data, labels, params)), dims)
    cost, grad = backend.to_numpy(cost), backend.to_numpy(grad)
    assert grad.dtype == np.float32 and cost.dtype == np.float32
    assert abs(cost - ref_cost) <= 1e-5 * abs(ref_cost)
    assert np.linalg.norm(grad - ref_grad) <= 1e-5 * np.linalg.norm(ref_grad)


def test_network_passes_gradcheck_naive(backend, capsys):
    dims = (6, 4, 3)
    data, labels, params = (backend.asarray(a, "float64") for a in seed_problem(5, dims, seed=3))
    assert gradcheck_naive(lambda p: forward_backward_prop(data, labels, p, dims), params)
    assert capsys.readouterr().out == "Gradient check passed!\n"


@pytest.mark.skip_backends("dask", reason="tests/test_cli.py's main-job test runs this same check on "
                            "every backend, Dask's included, and checks its output and warnings; on Dask "
                            "it takes 20 s")
def test_sanity_check(backend, capsys):
    assert sanity_check(backend.name) is True
    assert capsys.readouterr().out == "Running sanity check...\nGradient check passed!\n"


def test_does_not_modify_inputs(backend):
    dims = (4, 3, 2)
    host = seed_problem(6, dims, seed=4)
    arrays = [backend.asarray(a, "float64") for a in host]
    forward_backward_prop(*arrays, dims)
    for before, after in zip(host, arrays, strict=False):
        assert_equal(after, backend.asarray(before, "float64"))


def test_logits_of_1e4_give_finite_exact_cost_and_gradient(backend, capsys):
    # b2 = (1e4, -1e4, 0): yhat underflows to exactly 0 in two classes, so log(yhat) would be
    # -inf (and warn: warnings are errors here). The cost must come from the logits.
    from scipy.special import expit, log_softmax

    dims = (3, 4, 3)
    data, _, params = seed_problem(6, dims, seed=5)
    labels = np.eye(3)[[0, 1, 2, 0, 1, 2]]
    layout = param_layout(dims)
    W1, b1, W2, b2 = (params[b.offset : b.stop].reshape(b.shape) for b in layout)
    b2[:] = [1e4, -1e4, 0.0]  # a view into params
    arrays = [backend.asarray(a, "float64") for a in (data, labels, params)]

    cost, grad = forward_backward_prop(*arrays, dims)
    assert np.all(np.isfinite(backend.to_numpy(grad)))
    z2 = expit(data @ W1 + b1) @ W2 + b2
    expected = -np.sum(labels * log_softmax(z2, axis=1))
    assert expected > 5e4  # two rows pay about 2e4 and two about 1e4
    assert_close(cost, backend.asarray(expected, "float64"), rtol=1e-12)
    # yhat is (1, 0, 0) in every row, so dcost/db2 = sum over rows of (yhat - labels), exactly
    assert_equal(grad[layout["b2"].offset :], backend.asarray([4.0, -2.0, -2.0], "float64"))
    # and the rest of the gradient agrees with finite differences of the cost
    assert gradcheck_naive(lambda p: forward_backward_prop(arrays[0], arrays[1], p, dims), arrays[2])
    assert capsys.readouterr().out == "Gradient check passed!\n"


def test_sanity_check_in_float32(backend, capsys):
    with pytest.warns(GradcheckWarning, match="float32"):
        assert sanity_check(backend.name, dtype="float32") is True
    assert capsys.readouterr().out == "Running sanity check...\nGradient check passed!\n"


def test_torch_params_that_require_grad_give_no_warning():
    torch = pytest.importorskip("torch")
    dims = (4, 3, 2)
    data, labels, params = (torch.asarray(a) for a in seed_problem(6, dims, seed=5))
    params.requires_grad_(True)
    cost, grad = forward_backward_prop(data, labels, params, dims)  # warnings are errors here
    ref_cost, ref_grad = reference_forward_backward(*seed_problem(6, dims, seed=5), dims)
    np.testing.assert_allclose(cost.item(), ref_cost, rtol=1e-12)
    np.testing.assert_allclose(grad.detach().numpy(), ref_grad, rtol=1e-12, atol=1e-14)


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
@pytest.mark.parametrize(("dims", "activation"), [((6, 4, 3), "sigmoid"), ((5, 4, 4, 3), "relu")])
def test_gradient_is_joined_by_layer_rows(dims, activation):
    """Each layer's [dW; db] joined by rows, then the layers: one concatenation of the four
    flattened blocks gives the same vector, but under jax.jit on the CPU it ran up to 69 times
    slower at some batch sizes (scripts/jax_jit_concat.py). The same numbers cannot tell the
    two apart; the traced program can."""
    import jax

    from mlp_xp.backends import get_backend

    b = get_backend("jax")
    data, labels, params = (b.asarray(a, "float64") for a in random_problem(3, dims, seed=2))
    program = jax.make_jaxpr(lambda p: forward_backward_prop(data, labels, p, dims, activation=activation))

    def equations(jaxpr):  # with those of any sub-program (a jnp function jitted inside)
        for e in jaxpr.eqns:
            yield e
            for v in e.params.values():
                inner = getattr(v, "jaxpr", v)
                if hasattr(inner, "eqns"):
                    yield from equations(inner)

    joins = [e for e in equations(program(params).jaxpr) if e.primitive.name == "concatenate"]
    L = len(dims) - 1
    # (result's ndim, operands): one 2-D join of [dW; db] per layer, then one 1-D join of L layers
    assert sorted((e.outvars[0].aval.ndim, len(e.invars)) for e in joins) == [(1, L)] + [(2, 2)] * L
