"""float16 and bfloat16: what works, to which tolerance, and what is refused (docs: trust).

The decisions: ``softmax``, ``log_softmax``, ``sigmoid``, ``sigmoid_grad``, ``check_values``
and ``forward_backward_prop`` work in them with the tolerances below; ``gradcheck``,
``gradcheck_naive`` and ``sanity_check`` refuse them with a ``TypeError`` (their rounding
swamps any finite difference, so a true gradient would fail). float16 exists on NumPy, Dask,
torch and JAX; bfloat16 on torch and JAX (NumPy's array API does not know ml_dtypes'
bfloat16: refused by name); array-api-strict has neither (the standard has neither).
"""

import numpy as np
import pytest
from scipy.special import expit
from scipy.special import log_softmax as ref_log_softmax
from scipy.special import softmax as ref_softmax

from mlp_xp import (
    check_values,
    forward_backward_prop,
    gradcheck,
    gradcheck_naive,
    log_softmax,
    sanity_check,
    seed_problem,
    sigmoid,
    sigmoid_grad,
    softmax,
)

HALF = ["float16", "bfloat16"]
#: machine epsilon of each
EPS = {"float16": 2.0**-10, "bfloat16": 2.0**-7}


def half(backend, host, dtype):
    """``host`` on ``backend`` in ``dtype``, or a skip where the backend has no such dtype."""
    xp = backend.xp
    if not hasattr(xp, dtype):
        pytest.skip(f"{backend.name} has no {dtype}")
    if dtype == "float16":
        return backend.asarray(host, "float16")
    return xp.asarray(backend.asarray(host, "float32"), dtype=xp.bfloat16)  # NumPy has no bfloat16


def to_float64(backend, x):
    xp = backend.xp
    return backend.to_numpy(xp.astype(x, xp.float32)).astype(np.float64)


def _never_called(y):
    raise AssertionError("f was called before x was checked")


@pytest.mark.parametrize("dtype", HALF)
def test_functions_work_to_two_units_of_the_dtype(backend, dtype):
    x = half(backend, np.random.default_rng(0).uniform(-10, 10, (6, 5)), dtype)
    h = to_float64(backend, x)  # the reference starts from the rounded input
    tol = 2 * EPS[dtype]
    for f, ref in ((softmax, ref_softmax(h, axis=1)), (sigmoid, expit(h)),
                   (lambda x: sigmoid_grad(sigmoid(x)), expit(h) * expit(-h))):
        out = f(x)
        assert out.dtype == x.dtype
        np.testing.assert_allclose(to_float64(backend, out), ref, rtol=0, atol=tol)
    ref = ref_log_softmax(h, axis=1)
    out = to_float64(backend, log_softmax(x))
    assert np.all(np.abs(out - ref) <= tol * np.maximum(1, np.abs(ref)))


@pytest.mark.parametrize("dtype", HALF)
def test_network_and_check_values_work_to_eight_units_of_the_dtype(backend, dtype):
    dims = (10, 5, 10)
    data, labels, params = (half(backend, a, dtype) for a in seed_problem(20, dims))
    check_values(data, labels, params, dims)  # passes: the values are good
    rounded = (to_float64(backend, a) for a in (data, labels, params))
    ref_cost, ref_grad = forward_backward_prop(*rounded, dims)
    cost, grad = forward_backward_prop(data, labels, params, dims)
    assert cost.dtype == grad.dtype == data.dtype
    # measured: 2.8e-3 (float16) and 3.3e-2 (bfloat16), the seed's error measure
    for ours, ref in ((to_float64(backend, cost), ref_cost), (to_float64(backend, grad), ref_grad)):
        assert np.all(np.abs(ours - ref) <= 8 * EPS[dtype] * np.maximum(1, np.abs(ref)))
    broken = np.asarray(seed_problem(20, dims)[2])
    broken[7] = np.nan
    with pytest.raises(ValueError, match=r"check_values: params must be finite.*params\[7\] \(W1\[1, 2\]\)"):
        check_values(data, labels, half(backend, broken, dtype), dims)


@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("check", [gradcheck, gradcheck_naive], ids=["gradcheck", "gradcheck_naive"])
def test_gradient_checks_refuse_half_precision_before_calling_f(backend, dtype, check):
    # the hard rule: a check in float16 must never report "failed" for a true gradient, and
    # at any step the seed's network fails 54 of its 115 true entries there
    x = half(backend, [1.0, -2.0, 0.5], dtype)
    expected = rf"{check.__name__}: x must be float64 or float32, got {dtype}, whose rounding swamps"
    with pytest.raises(TypeError, match=expected + r".*xp.astype\(x, xp.float64\)"):
        check(_never_called, x)


def test_a_cost_coarser_than_x_or_a_half_precision_gradient_is_refused(backend, xp):
    x = backend.asarray([1.0, -2.0, 0.5], "float64")
    f32 = backend.asarray([0.0], "float32")[0]
    with pytest.raises(ValueError, match=r"cost in x's precision \(float64\) or finer; got a 0-D float32"):
        gradcheck(lambda y: (xp.astype(xp.sum(y**2), xp.float32) + f32, 2 * y), x)
    if hasattr(xp, "float16"):
        with pytest.raises(ValueError, match=r"grad in float32 or finer; got a 1-D float16 array"):
            gradcheck(lambda y: (xp.sum(y**2), xp.astype(2 * y, xp.float16)), x)
    # float32 x, float32 cost, float64 gradient: all fine
    x32 = backend.asarray([1.0, -2.0, 0.5], "float32")
    with pytest.warns(UserWarning, match="float32"):
        assert gradcheck(lambda y: (xp.sum(y**2), xp.astype(2 * y, xp.float64)), x32)


@pytest.mark.parametrize("dtype", HALF)
def test_sanity_check_refuses_half_precision(dtype):
    with pytest.raises(TypeError, match=rf"sanity_check: dtype must be 'float64' or 'float32', "
                                        rf"got '{dtype}': in \w+ rounding swamps any finite difference"):
        sanity_check("numpy", dtype)


def test_numpy_arrays_of_ml_dtypes_bfloat16_are_refused_by_name():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    x = np.ones((2, 3), dtype=ml_dtypes.bfloat16)
    for f in (softmax, log_softmax, sigmoid, sigmoid_grad):
        match = rf"{f.__name__}: \w+ must have a real floating dtype .*got bfloat16"
        with pytest.raises(TypeError, match=match):
            f(x)
    with pytest.raises(TypeError, match=r"gradcheck: x must have a real floating dtype.*got bfloat16, which "
                                        r"array_api_compat.numpy does not know"):
        gradcheck(_never_called, x)
    with pytest.raises(TypeError, match=r"forward_backward_prop: data must have a real floating dtype"):
        forward_backward_prop(x, x, np.ones(3 * 2 + 3 * 3, dtype=ml_dtypes.bfloat16), (3, 2, 3))
