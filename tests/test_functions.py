import numpy as np
import pytest
from scipy.special import expit

from mlp_xp import log_softmax, sigmoid, sigmoid_grad, softmax

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
    out = softmax(backend.asarray(x, "float64"))
    assert isinstance(out, type(backend.asarray([0.0], "float64")))
    np.testing.assert_allclose(backend.to_numpy(out), expected, rtol=1e-6)


def test_sigmoid_course_checks(backend):
    s = sigmoid(backend.asarray([[1.0, 2.0], [-1.0, -2.0]], "float64"))
    np.testing.assert_allclose(
        backend.to_numpy(s), [[0.73105858, 0.88079708], [0.26894142, 0.11920292]], rtol=1e-6
    )
    np.testing.assert_allclose(
        backend.to_numpy(sigmoid_grad(s)),
        [[0.19661193, 0.10499359], [0.19661193, 0.10499359]],
        rtol=1e-6,
    )


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_extremes_are_finite_and_exact(backend, dtype):
    # warnings are errors in this test run, so an overflow in exp would fail here
    values = [-1e3, -40.0, 0.0, 40.0, 1e3]
    s = backend.to_numpy(sigmoid(backend.asarray(values, dtype)))
    assert s.dtype == np.dtype(dtype)
    expected = expit(np.asarray(values)).astype(dtype)  # exp(-1e3) underflows to 0 in both
    np.testing.assert_allclose(s, expected, rtol=1e-6, atol=np.finfo(dtype).smallest_normal)
    p = backend.to_numpy(softmax(backend.asarray([[1e4, -1e4, 0.0]], dtype)))
    np.testing.assert_allclose(p, [[1.0, 0.0, 0.0]])
    ls = backend.to_numpy(log_softmax(backend.asarray([[1e4, -1e4]], dtype)))
    np.testing.assert_allclose(ls, [[0.0, -2e4]])


def test_sigmoid_keeps_precision_of_tiny_values(backend):
    s = backend.to_numpy(sigmoid(backend.asarray([-40.0], "float64")))
    np.testing.assert_allclose(s, [np.exp(-40) / (1 + np.exp(-40))], rtol=1e-14)


def test_functions_are_differentiable_by_torch_autograd():
    # none of them may change in place an output that torch saved for its backward pass
    torch = pytest.importorskip("torch")
    x = torch.asarray(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    for f in (softmax, log_softmax, sigmoid, lambda x: sigmoid_grad(sigmoid(x))):
        assert torch.autograd.gradcheck(f, (x,))
