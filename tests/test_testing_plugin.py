"""The pytest plugin: selection, loud failure when unavailable, and a sample project using all of it."""

import importlib.util

import numpy as np
import pytest

from mlp_xp._devices import on_devices
from mlp_xp.backends import Backend, BackendUnavailable, available_backends, known_backends
from mlp_xp.testing import (
    _backend_on,
    assert_close,
    assert_equal,
    backend_params,
    count_host_reads,
    reads_are_counted,
)


@pytest.fixture(autouse=True, scope="module")
def _libraries_imported_here():
    # Each library is imported here, not first inside an in-process pytester run: JAX's
    # imports install importlib_metadata, which removes the standard metadata finder, and
    # the run's end then drops its replacement (later runs cannot find pytest's plugins).
    # Likewise torch's dispatch mode imports torch._dynamo, which cannot be imported twice.
    known_backends()
    with count_host_reads():
        for b in available_backends():
            float(b.xp.sum(b.asarray([1.0], "float64")))

TEST_FILE = """
def test_one(backend, xp):
    assert backend.xp is xp
"""


def _unavailable():
    return [n for n, b in known_backends().items() if isinstance(b, BackendUnavailable)]


def test_selected_backend_runs_alone(pytester):
    pytester.makeconftest('pytest_plugins = ["mlp_xp.testing"]')
    pytester.makepyfile(TEST_FILE)
    result = pytester.runpytest("--backend", "numpy", "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*test_one[[]numpy[]] PASSED*"])


def test_environment_variable_selects(pytester, monkeypatch):
    monkeypatch.setenv("MLP_XP_BACKENDS", "numpy, array_api_strict")
    pytester.makeconftest('pytest_plugins = ["mlp_xp.testing"]')
    pytester.makepyfile(TEST_FILE)
    pytester.runpytest().assert_outcomes(passed=3)  # array_api_strict on its two devices


def test_unselected_unavailable_backends_are_skipped_with_reason(pytester, monkeypatch):
    monkeypatch.delenv("MLP_XP_BACKENDS", raising=False)
    pytester.makeconftest('pytest_plugins = ["mlp_xp.testing"]')
    pytester.makepyfile(TEST_FILE)
    result = pytester.runpytest("-rs")
    missing = _unavailable()
    result.assert_outcomes(passed=len(backend_params()) - len(missing), skipped=len(missing))
    for name in missing:
        reason = known_backends()[name].reason
        result.stdout.fnmatch_lines([f"*{reason}*"])


def test_requested_but_unavailable_backend_is_an_error(pytester, monkeypatch):
    # simulated, so the test runs on a GPU machine where every backend is available too
    from mlp_xp import backends

    real_load = backends._load

    def load(name):
        return BackendUnavailable(name, "no CUDA device (simulated)") if name == "jax" else real_load(name)

    monkeypatch.setattr(backends, "_load", load)
    pytester.makeconftest('pytest_plugins = ["mlp_xp.testing"]')
    pytester.makepyfile(TEST_FILE)
    result = pytester.runpytest("--backend", "numpy", "--backend", "jax")
    assert result.ret == 4  # pytest's usage error, not a green run with skips
    result.stderr.fnmatch_lines(["*--backend jax: backend 'jax' is not available: no CUDA*(simulated)*"])


def test_unknown_backend_is_an_error(pytester):
    pytester.makeconftest('pytest_plugins = ["mlp_xp.testing"]')
    pytester.makepyfile(TEST_FILE)
    result = pytester.runpytest("--backend", "numpi")
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*unknown backend 'numpi'; known backends: numpy*"])


# --- the sample project: every marker and fixture, on every CPU backend -------------------

SAMPLE = '''
import pytest
from array_api_extra.testing import lazy_xp_function

from mlp_xp.testing import assert_close


def doubled(x):
    return x * 2


def scaled_by_first(x):
    return x * float(x[0])  # a read: fails under jax.jit, and is a compute on Dask


lazy_xp_function(doubled)
lazy_xp_function(scaled_by_first)


def test_fixtures(backend, xp, dtype):
    x = xp.ones(3, dtype=dtype, device=backend.device)
    assert xp is backend.xp and x.dtype == dtype
    assert_close(doubled(x), xp.full(3, 2.0, dtype=dtype, device=backend.device))


@pytest.mark.xfail_backends("lazy", reason="reads a value back", strict=True)
def test_lazy_functions_are_patched(backend, xp):
    scaled_by_first(backend.asarray([2.0, 3.0], "float64"))


@pytest.mark.skip_backends("numpy", "gpu", reason="not this one")
def test_skip_by_name(backend):
    pass


@pytest.mark.skip_backends("cpu", reason="GPU only")
def test_skip_cpu(backend):
    pass


@pytest.mark.skip_backends("no_float64", reason="needs float64")
def test_skip_no_float64(backend):
    pass


@pytest.mark.xfail_backends("torch", reason="a known bug")
def test_xfail(backend):
    assert backend.name != "torch"


@pytest.mark.xfail_backends("numpy", reason="fixed upstream", strict=True)
def test_xpass_strict(backend):
    pass


@pytest.mark.max_host_reads(1)
def test_one_read_allowed(backend, xp):
    float(xp.sum(backend.asarray([1.0, 2.0], "float64")))


@pytest.mark.max_host_reads(1)
def test_two_reads_are_too_many(backend, xp):
    x = backend.asarray([1.0, 2.0], "float64")
    float(xp.sum(x)), backend.to_numpy(x)


def test_without_a_backend():
    pass
'''


def _cpu_backends():
    return [n for n, b in known_backends().items() if isinstance(b, Backend) and not b.is_accelerator]


def _expected(ident, backend):
    """Outcome of each sample test on one backend parameter (torch is made to lack float64)."""
    lazy = backend.library in ("jax", "dask")
    counts_reads = backend.library in ("torch", "array-api-strict", "dask")  # JAX on the CPU: no transfer
    outcomes = {
        f"test_fixtures[{ident}-float32]": "passed",
        f"test_fixtures[{ident}-float64]": "skipped" if backend.name == "torch" else "passed",
        # XPASS(strict) would fail it: on JAX and Dask the lazy patching must make it fail
        f"test_lazy_functions_are_patched[{ident}]": "xfailed" if lazy else "passed",
        f"test_skip_by_name[{ident}]": "skipped" if backend.name == "numpy" else "passed",
        f"test_skip_cpu[{ident}]": "skipped",
        f"test_skip_no_float64[{ident}]": "skipped" if backend.name == "torch" else "passed",
        f"test_xfail[{ident}]": "xfailed" if backend.name == "torch" else "passed",
        f"test_xpass_strict[{ident}]": "failed" if backend.name == "numpy" else "passed",
        f"test_one_read_allowed[{ident}]": "passed",
        f"test_two_reads_are_too_many[{ident}]": "failed" if counts_reads else "passed",
    }
    return outcomes


def _outcomes(recorder):
    found = {}
    for report in recorder.getreports("pytest_runtest_logreport"):
        name = report.nodeid.split("::")[-1]
        if report.when == "call" or report.outcome != "passed":
            outcome = "xfailed" if hasattr(report, "wasxfail") and report.skipped else report.outcome
            found.setdefault(name, outcome)
    return found


def test_sample_project_uses_every_marker_and_fixture_on_every_cpu_backend(pytester, monkeypatch):
    # torch is made to lack float64 (as on Apple's MPS), so the dtype skip and "no_float64" show
    monkeypatch.setattr(Backend, "supports_float64", property(lambda self: self.name != "torch"))
    pytester.makeconftest('pytest_plugins = ["mlp_xp.testing"]')
    pytester.makepyfile(SAMPLE)
    names = _cpu_backends()
    recorder = pytester.inline_run("--strict-markers", *(a for n in names for a in ("--backend", n)))
    expected = {"test_without_a_backend": "passed"}
    for p in backend_params(names):
        expected |= _expected(p.id, _backend_on(p.id))
    found = _outcomes(recorder)
    assert found == expected
    failures = {r.nodeid.split("::")[-1]: str(r.longrepr) for r in recorder.getfailures()}
    assert failures["test_xpass_strict[numpy]"] == "[XPASS(strict)] xfail_backends on numpy: fixed upstream"
    assert failures["test_two_reads_are_too_many[dask]"] == (
        "max_host_reads(1): the test read data back from the device 2 times (dask: compute x2); "
        "keep values on the device until the end, or allow more reads")
    skipped = {r.nodeid.split("::")[-1]: r.longrepr[2] for r in
               recorder.getreports("pytest_runtest_logreport") if r.skipped and not hasattr(r, "wasxfail")}
    if "torch" in names:  # torch is no dependency (CI's wheel environment runs without it)
        assert "(torch: scalar read (float(), bool(), int(), .item()) x1, torch: copy to NumPy x1)" in (
            failures["test_two_reads_are_too_many[torch]"])
        assert skipped["test_fixtures[torch-float64]"] == "Skipped: torch on cpu has no float64"
    assert skipped["test_skip_by_name[numpy]"] == "Skipped: skip_backends on numpy: not this one"


def test_array_backend_marks_every_test_parametrized_by_backend(pytester):
    pytester.makeconftest('pytest_plugins = ["mlp_xp.testing"]')
    pytester.makepyfile(SAMPLE)
    result = pytester.runpytest("--strict-markers", "--backend", "numpy", "-m", "array_backend",
                                "--collect-only", "-q")
    assert result.ret == 0
    assert "test_without_a_backend" not in result.stdout.str()
    result.stdout.fnmatch_lines(["*test_fixtures[[]numpy-float32[]]",
                                 "*10/11 tests collected (1 deselected)*"])


@pytest.mark.parametrize(("marker", "error"), [
    ('skip_backends("nmupy", reason="r")', "'nmupy' is none of the backend names (numpy, "),
    ('skip_backends("numpy")', "give a reason='...' saying why"),
    ('xfail_backends("gpu", reason="r", strict="yes")', "strict must be True or False; got a str 'yes'"),
    ("max_host_reads(-1)", "takes one whole number >= 0, the reads allowed; got args (-1,)"),
])
def test_a_malformed_marker_is_a_usage_error_before_any_test_runs(pytester, marker, error):
    pytester.makeconftest('pytest_plugins = ["mlp_xp.testing"]')
    pytester.makepyfile(f"import pytest\n@pytest.mark.{marker}\ndef test_it(backend):\n    pass\n")
    result = pytester.runpytest("--backend", "numpy", "--collect-only")
    assert result.ret == 4
    result.stderr.fnmatch_lines([f"ERROR: *.py::test_it[[]numpy[]]: @pytest.mark.*{error}*"])


# --- assert_close, assert_equal, count_host_reads on each backend -------------------------


def test_assert_close_checks_library_device_dtype_shape_then_values(backend, xp):
    x = backend.asarray([1.0, 2.0], "float64")
    assert_close(x, backend.asarray([1.0, 2.0 + 1e-9], "float64"))
    assert_equal(x, backend.asarray([1.0, 2.0], "float64"))
    cases = [
        (backend.asarray([1.0, 2.0], "float32"), "the dtypes differ: actual is float64, desired float32"),
        (backend.asarray([[1.0, 2.0]], "float64"),
         r"the shapes differ: actual has shape \(2,\), desired \(1, 2\)"),
        (backend.asarray([1.0, 2.001], "float64"), "(?i)not equal"),
    ]
    if backend.name != "numpy":
        cases.append((np.asarray([1.0, 2.0]), "the arrays are of different libraries: actual is .*, desired"))
    for _, other in on_devices(backend.name):
        if other.device != backend.device:
            cases.append((other.asarray([1.0, 2.0], "float64"), "the arrays are on different devices"))
    for desired, message in cases:
        for check in (assert_close, assert_equal):
            with pytest.raises(AssertionError, match=message):
                check(x, desired)


def test_assert_close_rtol_defaults_by_dtype(backend, xp):
    for dtype, passes in (("float32", True), ("float64", False)):
        actual, desired = backend.asarray([1.0 + 1e-4], dtype), backend.asarray([1.0], dtype)
        if passes:
            assert_close(actual, desired)  # float32: rtol 1.4e-3
        else:
            with pytest.raises(AssertionError, match=r"Not equal to tolerance rtol=5\.96"):
                assert_close(actual, desired)  # float64: rtol 6e-8
            assert_close(actual, desired, rtol=2e-4)
            assert_close(actual, desired, atol=2e-4)


def test_assert_close_takes_numpy_tolerances_and_numpy_scalars():
    x = np.asarray([1.0], dtype=np.float32)
    assert_close(x + np.float32(1e-7), x, rtol=4 * np.finfo(np.float32).eps)  # a NumPy float32
    # NumPy's reductions give scalars, also through array-api-compat: they equal 0-d arrays
    assert_equal(np.sum(np.ones(3)), np.asarray(3.0))


def test_assert_close_compares_the_shape_of_a_dask_array_that_does_not_know_it():
    da = pytest.importorskip("dask.array")

    def unknown():  # shape (nan,), (6,) once computed; a comparison may learn it in place
        x = da.ones(6)
        return x[x > 0]

    assert_close(unknown(), da.ones(6))
    for desired in (da.ones(()), da.ones((1, 6))):
        for check in (assert_close, assert_equal):
            with pytest.raises(AssertionError, match=r"(?i)shape"):
                check(unknown(), desired)


def test_assert_close_compares_a_torch_tensor_that_requires_grad():
    torch = pytest.importorskip("torch")
    p = torch.ones(3, dtype=torch.float64, requires_grad=True)
    assert_close(p * 2, torch.full((3,), 2.0, dtype=torch.float64))
    assert_equal(p, torch.ones(3, dtype=torch.float64))


def test_assert_close_refuses_bad_arguments_by_name():
    x = np.asarray([1.0])
    with pytest.raises(TypeError, match=r"assert_close: actual must be an array .*; got a list \[1.0\]"):
        assert_close([1.0], x)
    with pytest.raises(TypeError, match=r"assert_equal: desired must be an array .*got a float 1.0"):
        assert_equal(x, 1.0)
    with pytest.raises(ValueError, match=r"assert_close: rtol must be a finite number >= 0; got -1"):
        assert_close(x, x, rtol=-1)
    with pytest.raises(TypeError, match=r"assert_close: atol must be a real number >= 0; got a bool True"):
        assert_close(x, x, atol=True)
    with pytest.raises(ValueError, match=r"atol must be a finite number >= 0; got nan"):
        assert_close(x, x, atol=float("nan"))


def test_count_host_reads_counts_scalars_and_copies_once_each(backend, xp):
    x = backend.asarray([1.0, 2.0, 3.0], "float64")
    expected = int(reads_are_counted(backend))
    with count_host_reads() as outer:
        y = xp.exp(x) * 2  # no read: stays on the device (lazy on Dask)
        with count_host_reads() as scalar:
            float(xp.sum(y))
        with count_host_reads() as copy:
            backend.to_numpy(y)  # .cpu().numpy() and np.asarray(...) count once
        assert_close(y, y)  # the assertions' own reads are not counted
    assert (scalar.n, copy.n, outer.n) == (expected, expected, 2 * expected), outer
    if backend.name == "torch":
        with count_host_reads() as nested:
            np.asarray(y)  # __array__ calls .numpy(): one read
        assert nested.n == 1, nested


def test_count_host_reads_leaves_the_libraries_as_they_were():
    import array_api_strict

    Array = type(array_api_strict.asarray(0.0))
    patched = [Array]
    if importlib.util.find_spec("torch") is not None:  # no dependency of mlp_xp
        import torch

        patched.append(torch.Tensor)
    before = [dict(vars(cls)) for cls in patched]
    with count_host_reads():
        assert vars(Array)["__float__"] is not before[0]["__float__"]
    assert [dict(vars(cls)) for cls in patched] == before
