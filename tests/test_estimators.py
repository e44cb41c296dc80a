"""MLPClassifier and MLPRegressor: every backend, against scikit-learn, its estimator checks, errors."""

import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy
from click.testing import CliRunner
from packaging.version import Version
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.neural_network import MLPClassifier as SkClassifier
from sklearn.neural_network import MLPRegressor as SkRegressor
from sklearn.utils.estimator_checks import parametrize_with_checks

from mlp_xp import MLPClassifier, MLPRegressor
from mlp_xp.backends import get_backend

from ._scripts import load_script

# a short training does not converge, on purpose: the tests compare models, not optima
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _problem(n=48, d=5, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    W = rng.standard_normal((d, classes))
    y = np.argmax(X @ W + 0.3 * rng.standard_normal((n, classes)), axis=1)
    return X, y


# few epochs: on Dask (chunks of 4 rows) and JAX (eager) each costs tenths of a second
SOLVERS = [
    dict(solver="adam", max_iter=3, batch_size=16),  # batches smaller than the data: the shuffles count
    dict(solver="sgd", max_iter=3, batch_size=16, learning_rate_init=0.05, early_stopping=True,
         validation_fraction=0.25),
    dict(solver="lbfgs", max_iter=8),
]


@pytest.mark.parametrize("kw", SOLVERS, ids=lambda kw: kw["solver"])
def test_the_same_model_on_every_backend(backend, xp, kw):
    X, y = _problem()
    ref = MLPClassifier((7,), random_state=0, **kw).fit(X, y)
    Xb = backend.asarray(X, "float64")
    clf = MLPClassifier((7,), random_state=0, **kw).fit(Xb, backend.asarray(y, "int64"))
    proba = clf.predict_proba(Xb)
    assert type(proba) is type(Xb) and type(clf.coefs_[0]) is type(Xb) and type(clf.classes_) is type(Xb)
    np.testing.assert_allclose(backend.to_numpy(proba), ref.predict_proba(X), rtol=0, atol=1e-6)
    np.testing.assert_array_equal(backend.to_numpy(clf.predict(Xb)), ref.predict(X))
    assert clf.n_iter_ == ref.n_iter_ and clf.score(Xb, backend.asarray(y, "int64")) == ref.score(X, y)
    np.testing.assert_allclose(backend.to_numpy(clf.predict_log_proba(Xb)), np.log(ref.predict_proba(X)),
                               atol=1e-5)


def test_regression_and_multilabel_on_every_backend(backend, xp):
    X, _ = _problem(n=40, d=4)
    Y = np.stack([X[:, 0] ** 2, np.sin(X[:, 1])], axis=1)
    Xb = backend.asarray(X, "float64")
    for target in (Y, Y[:, 0]):  # multi- and single-output
        ref = MLPRegressor(hidden_layer_sizes=(6,), random_state=1, max_iter=3).fit(X, target)
        reg = MLPRegressor(hidden_layer_sizes=(6,), random_state=1, max_iter=3).fit(
            Xb, backend.asarray(target, "float64"))
        pred = reg.predict(Xb)
        assert type(pred) is type(Xb) and pred.shape == target.shape
        np.testing.assert_allclose(backend.to_numpy(pred), ref.predict(X), atol=1e-9)
        score = reg.score(Xb, backend.asarray(target, "float64"))
        assert score == pytest.approx(ref.score(X, target), abs=1e-9)
    labels = (np.median(Y, axis=0) < Y).astype(np.int64)
    clf = MLPClassifier((6,), solver="lbfgs", random_state=0, max_iter=4)
    clf.fit(Xb, backend.asarray(labels, "int64"))
    assert clf.out_activation_ == "logistic" and clf.predict_proba(Xb).shape == (40, 2)
    assert backend.to_numpy(clf.predict(Xb)).shape == (40, 2)


# ---- scikit-learn's own MLP, on NumPy: the same draws and the same arithmetic ----------------


@pytest.mark.parametrize("activation", ["relu", "logistic", "tanh", "identity"])
@pytest.mark.parametrize("kw", [
    dict(solver="adam"),
    dict(solver="sgd", learning_rate="invscaling", learning_rate_init=0.1),
    dict(solver="sgd", learning_rate="adaptive", nesterovs_momentum=False, n_iter_no_change=2, tol=0.5),
    dict(solver="adam", early_stopping=True, batch_size=16),
    dict(solver="lbfgs"),
], ids=["adam", "sgd-invscaling", "sgd-adaptive", "adam-early", "lbfgs"])
def test_agrees_with_scikit_learn(activation, kw):
    X, y = _problem(n=60)
    common = dict(hidden_layer_sizes=(8, 5), activation=activation, random_state=3, max_iter=12, **kw)
    ours, theirs = MLPClassifier(**common).fit(X, y), SkClassifier(**common).fit(X, y)
    # the same steps from the same draws: they differ by rounding only (ours sums the
    # gradient blocks in another order), which stays below 1e-9 over these steps
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=0, atol=1e-9)
    assert ours.n_iter_ == theirs.n_iter_ and ours.loss_ == pytest.approx(theirs.loss_, rel=1e-9)
    if kw["solver"] != "lbfgs":
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
        assert ours.t_ == theirs.t_
    for W, V in zip(ours.coefs_, theirs.coefs_, strict=True):
        np.testing.assert_allclose(W, V, atol=1e-9)


def test_agrees_with_scikit_learn_binary_regression_partial_fit_and_warm_start():
    X, y = _problem(n=50, classes=2)
    kw = dict(hidden_layer_sizes=(6,), random_state=0, max_iter=15)
    np.testing.assert_allclose(MLPClassifier(**kw).fit(X, y == 1).predict_proba(X),
                               SkClassifier(**kw).fit(X, y == 1).predict_proba(X), atol=1e-9)
    Y = np.stack([X[:, 0] ** 2, X[:, 1]], axis=1)
    ours, theirs = MLPRegressor(**kw).fit(X, Y), SkRegressor(**kw).fit(X, Y)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), atol=1e-9)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-9)  # half the mean squared error, every entry
    ours, theirs = MLPClassifier(**kw), SkClassifier(**kw)
    for _ in range(3):
        ours.partial_fit(X, y, classes=[0, 1])
        theirs.partial_fit(X, y, classes=[0, 1])
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-9)
    ours, theirs = MLPClassifier(warm_start=True, **kw), SkClassifier(warm_start=True, **kw)
    for _ in range(2):
        ours.fit(X, y)
        theirs.fit(X, y)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-9)
    assert ours.n_iter_ == theirs.n_iter_


def test_verbose_prints_the_loss_of_each_epoch(capsys):
    X, y = _problem(n=20)
    clf = MLPClassifier((4,), max_iter=3, verbose=True, random_state=0).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"Iteration {i + 1}, loss = {loss:.8f}" for i, loss in enumerate(clf.loss_curve_)]


# ---- scikit-learn's estimator checks: all of them, on NumPy, and its array-API ones ---------


@parametrize_with_checks([MLPClassifier((20,), max_iter=100),
                          MLPRegressor(hidden_layer_sizes=(20,), max_iter=100)])
def test_scikit_learn_estimator_checks(estimator, check, monkeypatch):
    name = getattr(check, "func", check).__name__
    if name.startswith("check_array_api") and Version(scipy.__version__) < Version("1.14"):
        # the lowest versions' job (SciPy 1.11): our own every-backend tests above still run
        pytest.skip("scikit-learn's array-API dispatch needs SciPy >= 1.14")
    if name.startswith("check_array_api"):
        # they compare namespaces, devices, shapes and dtypes, not accuracy: a few epochs do
        estimator = clone(estimator).set_params(max_iter=5)  # a copy: the instance is shared
    # scikit-learn's array-API checks (array_api_strict and torch, here) run only with this set
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


# ---- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("param", "value", "expected"), [
    ("alpha", -1.0, r"MLPClassifier.fit: alpha must be a real number in \[0, inf\), got "),
    ("alpha", "big", r"alpha must be a real number in \[0, inf\), got 'big'; the default is 0\.0001$"),
    ("solver", "newton", r"solver must be 'lbfgs' or 'sgd' or 'adam', got 'newton'"),
    ("batch_size", 0, r"batch_size must be 'auto' or a whole number >= 1"),
    ("momentum", 1.5, r"momentum must be a real number in \[0, 1\]"),
    ("shuffle", "yes", r"shuffle must be True or False, got 'yes'"),
    ("max_iter", 2.5, r"max_iter must be a whole number >= 1, got a float 2.5"),
    ("hidden_layer_sizes", (10, 0),
     r"hidden_layer_sizes must be a whole number >= 1 or a seq.*got \[10, 0\]; the default is \(100,\)$"),
    ("hidden_layer_sizes", "10", r"hidden_layer_sizes must be .*; the default is \(100,\)$"),
    ("n_iter_no_change", 0.5, r"n_iter_no_change must be a whole number >= 1, or numpy.inf"),
])
def test_bad_parameters_are_named(param, value, expected):
    # scikit-learn's own error, a ValueError and a TypeError at once, as its estimators raise
    from sklearn.utils._param_validation import InvalidParameterError

    X, y = _problem(n=10)
    with pytest.raises(InvalidParameterError, match=expected) as caught:
        MLPClassifier(**{param: value}).fit(X, y)
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, TypeError)


def test_subclasses_keep_the_parameters_they_pass_on_as_scikit_learn_s_do():
    class Wider(MLPClassifier):  # a parameter of its own
        def __init__(self, extra=1, hidden_layer_sizes=(7,)):
            self.extra = extra
            super().__init__(hidden_layer_sizes=hidden_layer_sizes, solver="sgd")

    class Fixed(MLPRegressor):  # fewer parameters than the parent
        def __init__(self, alpha=0.5):
            super().__init__(alpha=alpha, solver="lbfgs", max_iter=3)

    wider, fixed = Wider(extra=2), Fixed()
    assert (wider.extra, wider.hidden_layer_sizes, wider.solver, wider.alpha) == (2, (7,), "sgd", 0.0001)
    assert (fixed.alpha, fixed.solver, fixed.max_iter, fixed.random_state) == (0.5, "lbfgs", 3, None)
    assert wider.get_params() == {"extra": 2, "hidden_layer_sizes": (7,)}


def test_the_first_positional_argument_of_the_regressor_is_loss_as_in_scikit_learn():
    X, y = _problem(n=10)
    with pytest.raises(TypeError, match=r"first positional argument is loss: pass hidden_layer_sizes="):
        MLPRegressor((5,)).fit(X, y.astype(float))


def test_predict_refuses_arrays_of_another_library():
    strict = get_backend("array_api_strict")
    X, y = _problem(n=12)
    clf = MLPClassifier((3,), max_iter=2, random_state=0).fit(strict.asarray(X, "float64"), y)
    with pytest.raises(ValueError, match=r"MLPClassifier.predict\(\): X must use the same namespace as the "
                                         r"arrays the model was fitted on \(array_api_strict\), got numpy"):
        clf.predict(X)
    numpy_model = MLPRegressor(hidden_layer_sizes=(3,), max_iter=2).fit(X, y.astype(float))
    with pytest.raises(ValueError, match=r"MLPRegressor.predict\(\): .* \(numpy\), got array_api_strict"):
        numpy_model.predict(strict.asarray(X, "float64"))
    with pytest.raises(ValueError, match=r"partial_fit\(\): X must use the same namespace"):
        model = MLPClassifier((3,), max_iter=2).partial_fit(X, y, classes=[0, 1, 2])
        model.partial_fit(strict.asarray(X, "float64"), y)


def test_other_mistakes_say_what_came(backend, xp):
    X, y = _problem(n=12)
    with pytest.raises(NotFittedError):
        MLPClassifier().predict(backend.asarray(X, "float64"))
    with pytest.raises(ValueError, match="classes must be passed on the first call to partial_fit"):
        MLPClassifier().partial_fit(backend.asarray(X, "float64"), y)
    with pytest.raises(ValueError, match="does not support early_stopping=True"):
        MLPClassifier(early_stopping=True).partial_fit(backend.asarray(X, "float64"), y, classes=[0, 1, 2])
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    if backend.name != "numpy":  # NumPy data goes through scikit-learn's own checks
        with pytest.raises(ValueError, match=r"MLPClassifier.fit: X and y must have as many samples, got 12 "
                                             r"rows in X and 11 in y"):
            MLPClassifier().fit(backend.asarray(X, "float64"), y[:11])
        with pytest.raises(ValueError, match=r"MLPRegressor.fit: X must be a 2-D array .* got a 1-D float64"):
            MLPRegressor().fit(backend.asarray(X[:, 0], "float64"), y.astype(float))
        bad = X.copy()
        bad[3, 1] = np.nan
        with pytest.raises(ValueError, match=r"MLPClassifier\.fit: X contains NaN or infinity"):
            MLPClassifier().fit(backend.asarray(bad, "float64"), y)


def test_without_scikit_learn_import_works_and_the_estimators_say_how_to_install_it():
    code = (
        "import sys; sys.modules['sklearn'] = None\n"
        "import mlp_xp\n"
        "from mlp_xp import *\n"
        "assert 'MLPClassifier' not in mlp_xp.__all__\n"
        "try:\n"
        "    from mlp_xp import MLPClassifier\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "need scikit-learn" in out and "pip install 'mlp_xp[sklearn]'" in out


def test_the_digits_script_refuses_a_bad_backend_in_one_line():
    load_script("compare_peers")  # estimator_digits imports it from its own folder
    result = CliRunner().invoke(load_script("estimator_digits").main, ["--backend", "nope"])
    assert result.exit_code == 2 and "unknown backend 'nope'" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_lbfgs_on_a_dask_cluster_matches_numpy_and_partial_fit_runs_over_blocks():
    # lbfgs: each evaluation computes the full gradient over every chunk, on the cluster's
    # workers (memory bounded); partial_fit: a plain loop over row blocks, one epoch each
    da = pytest.importorskip("dask.array")
    distributed = pytest.importorskip("distributed")
    X, y = _problem(n=64, d=5)
    Xd, yd = da.from_array(X, chunks=(16, -1)), da.from_array(y, chunks=16)
    ref = MLPClassifier((7,), solver="lbfgs", max_iter=8, random_state=0).fit(X, y)
    ref_blocks = MLPClassifier((7,), batch_size=8, random_state=0)
    blocks = MLPClassifier((7,), batch_size=8, random_state=0)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, memory_limit="512MiB",
                                  host="127.0.0.1", dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:
        with distributed.get_task_stream(client) as tasks:
            clf = MLPClassifier((7,), solver="lbfgs", max_iter=8, random_state=0).fit(Xd, yd)
        assert len(tasks.data) > 0  # the gradients were computed on the cluster
        np.testing.assert_allclose(clf.predict_proba(Xd).compute(), ref.predict_proba(X), rtol=0, atol=1e-6)
        assert clf.n_iter_ == ref.n_iter_
        for start in range(0, 64, 16):
            rows = slice(start, start + 16)
            blocks.partial_fit(Xd[rows], yd[rows], classes=np.arange(3))
            ref_blocks.partial_fit(X[rows], y[rows], classes=np.arange(3))
        np.testing.assert_allclose(blocks.predict_proba(Xd).compute(), ref_blocks.predict_proba(X), atol=1e-6)
        assert blocks.t_ == ref_blocks.t_ == 64


def test_train_command_trains_on_digits_and_draws_its_curves(tmp_path):
    from mlp_xp.backends import available_backends
    from mlp_xp.cli import main

    # torch is no dependency: without it (as in CI's wheel environment) array_api_strict trains
    second = "torch" if "torch" in [b.name for b in available_backends()] else "array_api_strict"
    plot = tmp_path / "curves.png"
    result = CliRunner().invoke(main, ["train", "--hidden", "16", "--epochs", "3", "--plot", str(plot)])
    assert result.exit_code == 0, result.output
    assert "MLPClassifier(16,) adam on numpy (float64): 3 epochs" in result.output
    assert "test accuracy 0." in result.output and plot.stat().st_size > 1000
    result = CliRunner().invoke(main, ["train", "--solver", "lbfgs", "--hidden", "8,8", "--epochs", "5",
                                       "--backend", second])
    assert result.exit_code == 0, result.output
    assert f"MLPClassifier(8, 8) lbfgs on {second} (float64): 5 iterations" in result.output


@pytest.mark.parametrize("args, expected", [
    (["--backend", "nope"], "unknown backend 'nope'"),
    (["--hidden", "10,x"], "expected widths >= 1 separated by commas"),
    (["--hidden", "0"], "expected widths >= 1"),
    (["--epochs", "0"], "'--epochs': 0 is not in the range"),
    (["--solver", "newton"], "'--solver'"),
    (["--plot", "a.xyz"], "cannot tell the image format"),
    (["--solver", "lbfgs", "--plot", "a.png"], "lbfgs has no epochs to draw"),
])
def test_train_command_refuses_bad_input_in_one_line_before_any_work(args, expected, tmp_path, monkeypatch):
    from mlp_xp import cli

    monkeypatch.chdir(tmp_path)
    import sklearn.datasets

    monkeypatch.setattr(sklearn.datasets, "load_digits", lambda **kw: pytest.fail("work before the checks"))
    result = CliRunner().invoke(cli.main, ["train", *args], standalone_mode=True)
    assert result.exit_code == 2 and expected in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "a.png").exists()


@pytest.mark.parametrize("activation, output, dims", [
    ("sigmoid", "softmax", (5, 4, 3)), ("relu", "softmax", (5, 4, 4, 3)), ("tanh", "sigmoid", (5, 4, 2)),
    ("identity", "identity", (5, 2)),
])
def test_the_unchecked_backprop_of_later_batches_is_forward_backward_prop(backend, xp, activation, output,
                                                                         dims):
    # the estimators check the first batch of a fit with the public function and send the
    # others through the private one it dispatches to: they must agree exactly
    from mlp_xp import forward_backward_prop, param_layout
    from mlp_xp.estimators import _unchecked_backprop

    rng = np.random.default_rng(0)
    X = backend.asarray(rng.standard_normal((6, dims[0])), "float64")
    Y = backend.asarray(rng.uniform(size=(6, dims[-1])), "float64")
    p = backend.asarray(rng.standard_normal(param_layout(dims).size), "float64")
    want = forward_backward_prop(X, Y, p, dims, activation=activation, output=output)
    got = _unchecked_backprop(xp, X, Y, p, param_layout(dims), activation, output)
    for w, g in zip(want, got, strict=True):
        np.testing.assert_array_equal(backend.to_numpy(g), backend.to_numpy(w))


def test_the_synthetic_script_refuses_a_bad_backend_and_too_few_rows_in_one_line():
    load_script("compare_peers")
    main = load_script("estimator_synthetic").main
    for args, expected in [(["regression", "--backend", "nope"], "unknown backend 'nope'"),
                           (["speed", "--rows", "10"], "'--rows': 10 is not in the range")]:
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2 and expected in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1


def test_regressor_score_takes_a_column_target_as_scikit_learn_does(backend):
    # a y of shape (n, 1) against predictions of shape (n,) must not broadcast to (n, n)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    y = X[:, 0] + 0.1 * rng.standard_normal(40)
    Xb, yb = backend.asarray(X, "float64"), backend.asarray(y, "float64")
    r = MLPRegressor(hidden_layer_sizes=(5,), solver="lbfgs", max_iter=20, random_state=0).fit(Xb, yb)
    sk = SkRegressor(hidden_layer_sizes=(5,), solver="lbfgs", max_iter=20, random_state=0).fit(X, y)
    column = backend.asarray(y[:, None], "float64")
    assert r.score(Xb, column) == pytest.approx(r.score(Xb, yb), abs=1e-12)
    assert r.score(Xb, column) == pytest.approx(sk.score(X, y[:, None]), abs=1e-9)


JAX_WITHOUT_X64 = """
import warnings
warnings.simplefilter("error")
from sklearn.exceptions import ConvergenceWarning
warnings.simplefilter("ignore", ConvergenceWarning)
import jax, jax.numpy as jnp, numpy as np
assert not jax.config.jax_enable_x64
from mlp_xp import MLPClassifier
rng = np.random.default_rng(0)
X = rng.standard_normal((40, 3)).astype("float32")
y = (X[:, 0] > 0).astype(int)
clf = MLPClassifier((5,), max_iter=3, random_state=0, batch_size=16).fit(jnp.asarray(X), jnp.asarray(y))
print(type(clf.predict(jnp.asarray(X))).__module__.split(".")[0], clf.predict_proba(jnp.asarray(X)).dtype)
"""


def test_jax_without_x64_fits_and_predicts_without_a_warning():
    # JAX's default (x64 off) warns when int64 is asked for: the estimators use the namespace's
    # default index dtype. A fresh process: the suite's JAX backend turns x64 on.
    pytest.importorskip("jax")
    run = subprocess.run([sys.executable, "-c", JAX_WITHOUT_X64], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["jaxlib", "float32"]
