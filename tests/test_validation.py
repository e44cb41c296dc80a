"""Bad input gets a clear error (type, argument, what was expected, what came), on every backend.

The structural checks must not read the data: on torch no scalar is read back, on JAX no
device-to-host transfer happens. The opt-in ``check_values`` reads back exactly once.
"""

import re

import numpy as np
import pytest
from array_api_extra.testing import lazy_xp_function

from mlp_xp import (
    check_values,
    forward_backward_prop,
    gradcheck,
    gradcheck_naive,
    log_softmax,
    sigmoid,
    sigmoid_grad,
    softmax,
)
from mlp_xp.backends import get_backend
from mlp_xp.layout import check_dimensions
from mlp_xp.problems import seed_problem
from mlp_xp.testing import assert_close, count_host_reads, reads_are_counted
from mlp_xp.validation import check_network_inputs

DIMS = (4, 3, 2)  # params: (4 + 1) * 3 + (3 + 1) * 2 = 23
M = 6


def host_problem():
    return seed_problem(M, DIMS, seed=0)


def on(backend, *arrays, dtype="float64"):
    return [backend.asarray(a, dtype) for a in arrays]


def test_good_input_passes(backend):
    data, labels, params = on(backend, *host_problem())
    cost, _ = forward_backward_prop(data, labels, params, DIMS)
    assert np.isfinite(backend.to_numpy(cost))
    check_values(data, labels, params, DIMS)
    check_values(data, labels, params)


# (what to change, exception, pattern): each pattern names the argument, the expectation and what came
SHAPE_ERRORS = {
    "data 1-D": (
        lambda d, y, p: (d[0, :], y, p),
        ValueError,
        r"forward_backward_prop: data must be a 2-D array \(M x Dx.*got a 1-D float64 array of shape \(4,\)",
    ),
    "data 3-D": (
        lambda d, y, p: (d[None, ...], y, p),
        ValueError,
        r"data must be a 2-D array.*got a 3-D float64 array of shape \(1, 6, 4\)",
    ),
    "labels 1-D": (
        lambda d, y, p: (d, y[:, 0], p),
        ValueError,
        r"labels must be a 2-D array \(M x Dy.*got a 1-D float64 array of shape \(6,\)",
    ),
    "params 2-D": (
        lambda d, y, p: (d, y, p[None, ...]),
        ValueError,
        r"params must be a 1-D array \(W1, b1, \.\.\., WL, bL flattened\), got a 2-D .* shape \(1, 23\)",
    ),
    "labels rows": (
        lambda d, y, p: (d, y[:5, :], p),
        ValueError,
        r"labels must have one row per row of data \(M = 6\), got .* shape \(5, 2\)",
    ),
    "data columns": (
        lambda d, y, p: (d[:, :3], y, p),
        ValueError,
        r"data must have Dx = 4 columns \(dimensions \(4, 3, 2\)\), got .* shape \(6, 3\)",
    ),
    "labels columns": (
        lambda d, y, p: (d, y[:, :1], p),
        ValueError,
        r"labels must have Dy = 2 columns \(dimensions \(4, 3, 2\)\), got .* shape \(6, 1\)",
    ),
    "params too short": (
        lambda d, y, p: (d, y, p[:22]),
        ValueError,
        re.escape(
            "params must have (Dx + 1) * H + (H + 1) * Dy = (4 + 1) * 3 + (3 + 1) * 2 = 23 entries "
            "(W1 4x3, b1 3, W2 3x2, b2 2, each row-major, concatenated), got 22"
        ),
    ),
}


@pytest.mark.parametrize("case", SHAPE_ERRORS, ids=list(SHAPE_ERRORS))
def test_shape_errors(backend, case):
    change, exc, pattern = SHAPE_ERRORS[case]
    data, labels, params = change(*on(backend, *host_problem()))
    with pytest.raises(exc, match=pattern):
        forward_backward_prop(data, labels, params, DIMS)
    if case not in ("data columns", "labels columns", "params too short"):  # need dimensions
        with pytest.raises(exc, match=pattern.replace("forward_backward_prop", "check_values")):
            check_values(data, labels, params)


@pytest.mark.parametrize(
    ("dimensions", "exc"),
    [
        ((4,), ValueError),
        ((), ValueError),
        (None, TypeError),
        (4, TypeError),
        ("432", TypeError),
        ((4, 0, 2), ValueError),
        ((4, 3, 3, 0, 2), ValueError),
        ((4, 3, -2), ValueError),
        ((4.0, 3, 2), TypeError),
        (("4", 3, 2), TypeError),
        ((True, 3, 2), TypeError),
    ],
)
def test_dimensions_must_be_at_least_two_positive_integers(dimensions, exc):
    data, labels, params = host_problem()
    expected = ("dimensions must be at least two positive integers (Dx, H1, ..., Hk, Dy)"
                f", got {dimensions!r}")
    with pytest.raises(exc, match=re.escape(expected)):
        forward_backward_prop(data, labels, params, dimensions)


def test_a_hundred_thousand_dimensions_give_a_short_message():
    data, labels, params = host_problem()
    for dimensions in ([0] * 10**5, [4, *[3] * 10**5, 2]):
        with pytest.raises(ValueError) as caught:
            forward_backward_prop(data, labels, params, dimensions)
        assert len(str(caught.value)) < 400, str(caught.value)[:400]


def test_dimensions_accept_any_integers():
    assert check_dimensions([np.int64(4), 3, np.int32(2)]) == (4, 3, 2)
    assert all(type(d) is int for d in check_dimensions(np.asarray([4, 3, 2])))


@pytest.mark.parametrize("kind", ["int64", "int32", "bool"])
def test_integer_or_boolean_data_is_refused(backend, kind):
    # The documented choice: a TypeError (the caller picks float32 or float64), never a silent cast.
    data, labels, params = host_problem()
    (bad,) = on(backend, data > 0 if kind == "bool" else data.round(), dtype=kind)
    labels, params = on(backend, labels, params)
    with pytest.raises(
        TypeError, match=rf"data must have a real floating dtype .* got {kind}; convert it first"
    ):
        forward_backward_prop(bad, labels, params, DIMS)


@pytest.mark.parametrize(
    ("name", "dtype"), [("labels", "int64"), ("labels", "float32"), ("params", "float32")]
)
def test_dtypes_must_agree(backend, name, dtype):
    data, labels, params = host_problem()
    arrays = {"data": data, "labels": labels, "params": params}
    args = [backend.asarray(a, dtype if n == name else "float64") for n, a in arrays.items()]
    with pytest.raises(TypeError, match=rf"{name} must have data's dtype float64, got {dtype}"):
        forward_backward_prop(*args, DIMS)


@pytest.mark.parametrize("position", [0, 1, 2])
def test_non_arrays_are_refused(position):
    args = list(host_problem())
    name = ["data", "labels", "params"][position]
    args[position] = args[position].tolist()
    with pytest.raises(
        TypeError, match=rf"{name} must be an array of an array-API library .*got builtins.list"
    ):
        forward_backward_prop(*args, DIMS)


def test_mixed_libraries_name_both(backend):
    other = get_backend("array_api_strict" if backend.name == "numpy" else "numpy")
    data, labels, params = host_problem()
    mixed = (
        backend.asarray(data, "float64"),
        backend.asarray(labels, "float64"),
        other.asarray(params, "float64"),
    )
    pattern = r"data and params must come from one array library, got data from \S+ \(.*\) and params from"
    with pytest.raises(TypeError, match=pattern):
        forward_backward_prop(*mixed, DIMS)
    with pytest.raises(TypeError, match=pattern.replace("params", "labels")):
        forward_backward_prop(mixed[0], mixed[2], mixed[1], DIMS)


def test_mixed_devices_name_both_array_api_strict():
    xp = get_backend("array_api_strict").xp
    data, labels, params = host_problem()
    cpu, other = xp.Device("CPU_DEVICE"), xp.Device("device1")
    args = [xp.asarray(data, device=cpu), xp.asarray(labels, device=other), xp.asarray(params, device=cpu)]
    with pytest.raises(
        TypeError,
        match=r"data and labels must be on one device, got data on .*CPU_DEVICE.* "
        r"and labels on .*device1.*; move them onto one device",
    ):
        forward_backward_prop(*args, DIMS)


def test_mixed_devices_name_both_torch():
    torch = pytest.importorskip("torch")
    data, labels, params = (torch.from_numpy(a) for a in host_problem())
    params = params.to("meta")  # a second device every torch build has
    with pytest.raises(
        TypeError, match="data and params must be on one device, got data on cpu and params on meta"
    ):
        forward_backward_prop(data, labels, params, DIMS)
    # a Parameter and a Tensor are two types of one library: the general path, same verdict
    with pytest.raises(TypeError, match="data and params must be on one device"):
        forward_backward_prop(data, labels, torch.nn.Parameter(params), DIMS)
    check_network_inputs(data, labels, torch.nn.Parameter(torch.from_numpy(host_problem()[2])), DIMS)


@pytest.mark.parametrize("f", [softmax, log_softmax])
def test_softmax_rank_and_dtype(backend, f):
    name = f.__name__
    with pytest.raises(
        ValueError, match=rf"{name}: x must be a 1-D or 2-D array, got a 3-D float64 array of shape"
    ):
        f(backend.asarray(np.zeros((2, 2, 2)), "float64"))
    with pytest.raises(ValueError, match=rf"{name}: x must be a 1-D or 2-D array, got a 0-D float64 array"):
        f(backend.asarray(1.0, "float64"))
    with pytest.raises(TypeError, match=rf"{name}: x must have a real floating dtype .*got int64"):
        f(backend.asarray([1, 2], "int64"))
    with pytest.raises(
        TypeError, match=rf"{name}: x must be an array of an array-API library .*got builtins.list"
    ):
        f([1.0, 2.0])


@pytest.mark.parametrize(("f", "arg"), [(sigmoid, "x"), (sigmoid_grad, "s")])
def test_sigmoid_dtype_any_rank(backend, f, arg):
    name = f.__name__
    for kind in ("int64", "bool"):
        with pytest.raises(TypeError, match=rf"{name}: {arg} must have a real floating dtype .*got {kind}"):
            f(backend.asarray([1, 0], kind))
    with pytest.raises(
        TypeError, match=rf"{name}: {arg} must be an array of an array-API library .*got builtins.float"
    ):
        f(0.5)
    # elementwise: every rank is right, including 0-D and 3-D
    for shape in [(), (2, 2, 2)]:
        out = backend.to_numpy(f(backend.asarray(np.full(shape, 0.5), "float64")))
        assert out.shape == shape


def labels_with_row(row):
    labels = np.eye(3)[[0, 1, 2, 1]]
    labels[2] = row
    return labels


@pytest.mark.parametrize(
    ("row", "n_bad", "total"),
    [
        ([0.5, 0.5, 0.0], 2, 1.0),
        ([1.0, 1.0, 0.0], 0, 2.0),
        ([0.0, 0.0, 0.0], 0, 0.0),
        ([np.nan, 1.0, 0.0], 1, np.nan),
        ([-1.0, 1.0, 1.0], 1, 1.0),
    ],
)
def test_check_values_labels_one_hot(backend, row, n_bad, total):
    data, labels, params = on(
        backend, np.ones((4, 2)), labels_with_row(row), np.ones((2 + 1) * 3 + (3 + 1) * 3)
    )
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"check_values: labels row 2 is not one-hot (entries 0 or 1, exactly one 1): it has {n_bad} "
            f"entries that are not 0 or 1 and sums to {total}"
        ),
    ):
        check_values(data, labels, params, (2, 3, 3))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_check_values_finite(backend, bad):
    dims = (2, 3, 3)
    data, labels, params = np.ones((4, 2)), np.eye(3)[[0, 1, 2, 1]], np.ones((2 + 1) * 3 + (3 + 1) * 3)
    data[3, 1] = data[2, 0] = bad
    params[12] = bad  # W1 has entries 0-5, b1 6-8, W2 9-17: 12 is W2[1, 0]
    d, y, p = on(backend, data, labels, params)
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"check_values: data must be finite, got 2 NaN or infinite entries, the first data[2, 0] = {bad}"
        ),
    ):
        check_values(d, y, p, dims)
    d = backend.asarray(np.ones((4, 2)), "float64")
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"params must be finite, got 1 NaN or infinite entry, the first params[12] (W2[1, 0]) = {bad}"
        ),
    ):
        check_values(d, y, p, dims)
    with pytest.raises(ValueError, match=re.escape(f"the first params[12] = {bad}")):
        check_values(d, y, p)


def test_check_values_is_exported_and_checks_structure_first():
    import mlp_xp

    assert "check_values" in mlp_xp.__all__
    data, labels, params = host_problem()
    with pytest.raises(TypeError, match="data must have a real floating dtype"):
        check_values(data.astype(int), labels, params, DIMS)


def test_gradcheck_naive_raises_gradcheck_errors(backend, xp):
    # gradcheck's errors are tested in tests/test_gradcheck.py; the seed's wrapper must raise
    # the same, naming itself: a non-scalar cost, a grad of the wrong shape, integer or boolean x.
    x = backend.asarray([1.0, 2.0, 3.0], "float64")
    cases = [
        (lambda y: (y**2, 2 * y), x, ValueError),
        (lambda y: (xp.sum(y**2), 2 * y[:2]), x, ValueError),
        (lambda y: (xp.sum(y), y), backend.asarray([1, 0, 1], "int64"), TypeError),
        (lambda y: (xp.sum(y), y), backend.asarray([1, 0, 1], "bool"), TypeError),
    ]
    for f, x0, exc in cases:
        with pytest.raises(exc) as expected:
            gradcheck(f, x0)
        # the same message, under the name the user called
        naive = "gradcheck_naive:" + str(expected.value).removeprefix("gradcheck:")
        with pytest.raises(exc, match=re.escape(naive)):
            gradcheck_naive(f, x0)


# --- no device-to-host transfer on the hot path; one in check_values -----------------------


@pytest.mark.max_host_reads(0)
def test_the_hot_path_reads_nothing_back(backend, xp):
    data, labels, params = on(backend, *host_problem())
    forward_backward_prop(data, labels, params, DIMS)
    softmax(data), sigmoid(data), sigmoid_grad(data)


def test_check_values_reads_back_once(backend, xp):
    data, labels, params = on(backend, *host_problem())
    with count_host_reads() as reads:
        float(data[0, 0])
    assert reads.n == reads_are_counted(backend)  # the counter counts here
    with count_host_reads() as reads:
        check_values(data, labels, params, DIMS)  # its one read-back: a bool() of "all finite"
    assert reads.n == reads_are_counted(backend), reads


def test_dask_unknown_row_counts_pass_the_structural_check():
    da = pytest.importorskip("dask.array")
    data, labels, params = host_problem()
    keep = da.from_array(np.arange(M) % 2 == 0, chunks=3)
    d, y = da.from_array(data, chunks=(3, 4))[keep], da.from_array(labels, chunks=(3, 2))[keep]
    assert np.isnan(d.shape[0])  # the row count is unknown until computed
    cost, _ = forward_backward_prop(d, y, da.from_array(params), DIMS)
    assert np.isfinite(float(cost.compute()))
    with pytest.raises(ValueError, match=r"data must have Dx = 4 columns .* shape \(nan, 3\)"):
        forward_backward_prop(d[:, :3], y, da.from_array(params), DIMS)


def cost_and_grad(data, labels, params):
    """The network on ``DIMS``, tagged below: the ``xp`` fixture runs it lazily on JAX and Dask."""
    return forward_backward_prop(data, labels, params, DIMS)


# A function of this module's own: the tag is an attribute of the function object, so tagging
# forward_backward_prop itself would make it lazy in every test module that imports it.
lazy_xp_function(cost_and_grad)


def test_checks_work_under_jit_and_without_computes(backend, xp):
    # On JAX cost_and_grad runs under jax.jit: its arguments are tracers, which have no device
    # (None) and another type than arrays. On Dask it may compute nothing (the checks read no data).
    assert hasattr(cost_and_grad, "__wrapped__") is (backend.library in ("jax", "dask"))  # xp patched it
    data, labels, params = on(backend, *host_problem())
    expected_cost, expected_grad = forward_backward_prop(data, labels, params, DIMS)  # eager
    cost, grad = cost_and_grad(data, labels, params)
    assert_close(cost, expected_cost, rtol=1e-12)
    assert_close(grad, expected_grad, rtol=1e-12)
    with pytest.raises(ValueError, match=r"params must have .* = 23 entries .*got 22"):
        cost_and_grad(data, labels, params[:22])


def test_checks_work_under_jax_grad_and_vmap():
    # lazy_xp_function knows jit only. grad and vmap trace some arguments and not others, so
    # a tracer (device None) meets a concrete array in the device check.
    jax = pytest.importorskip("jax")
    b = get_backend("jax")
    data, labels, params = on(b, *host_problem())
    cost, grad = forward_backward_prop(data, labels, params, DIMS)
    assert_close(jax.grad(lambda p: forward_backward_prop(data, labels, p, DIMS)[0])(params), grad)
    costs = jax.vmap(lambda p: forward_backward_prop(data, labels, p, DIMS)[0])(b.xp.stack([params, params]))
    assert_close(costs, b.xp.stack([cost, cost]), rtol=1e-12)
    with pytest.raises(ValueError, match=r"params must have .* = 23 entries .*got 22"):
        jax.vmap(lambda p: forward_backward_prop(data, labels, p, DIMS)[0])(b.xp.stack([params[:22]] * 2))
