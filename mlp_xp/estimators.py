"""MLPClassifier and MLPRegressor: scikit-learn's estimators, trained on any array-API library.

The parameters, their defaults and meanings, the fitted attributes, the methods and the loss
are scikit-learn's (``sklearn.neural_network``): mean loss over the batch plus
``alpha / 2 * sum(W**2) / n_samples``, with the same Glorot initialisation, the same
shuffles, the same SGD and Adam steps and L-BFGS through ``scipy.optimize``. Every step
calls :func:`~mlp_xp.forward_backward_prop`, the gradient-checked backprop.

Everything follows X: pass NumPy, CuPy, torch, JAX, Dask or array-api-strict arrays, and
the training runs in that library on that device; the fitted ``coefs_``, ``intercepts_``
and the predictions come back in it. What runs on the host, and why:

- the random draws (initial weights, shuffles, the early-stopping split), with NumPy from
  ``random_state`` exactly as scikit-learn draws them, then moved to X's device: every
  library trains the same model;
- the class labels: ``y`` is read back once at fit time to find the classes (strings are
  allowed); numeric ``classes_`` then live on X's device, string ones stay NumPy;
- one number per epoch (the loss, and the validation score with early stopping), and for
  L-BFGS one ``(loss, gradient)`` vector per evaluation, which SciPy needs on the host.

Needs scikit-learn: ``pip install 'mlp_xp[sklearn]'``.
"""

from __future__ import annotations

import inspect
import numbers
import warnings
from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np
from array_api_compat import device

from ._common import Array, describe, namespace
from ._estimator_host import (
    compiled,
    glorot_params,
    host_indices,
    is_foreign_array,
    library_name,
    persist,
    take_rows,
    to_device,
    to_host,
)
from ._solvers import SGD, Adam
from .functions import sigmoid, softmax
from .layout import param_layout
from .network import _backprop, _hidden_layer, forward_backward_prop

try:
    import scipy.optimize
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import LabelBinarizer
    from sklearn.utils import check_random_state, column_or_1d
    from sklearn.utils._param_validation import InvalidParameterError
    from sklearn.utils.metaestimators import available_if
    from sklearn.utils.multiclass import type_of_target, unique_labels
    from sklearn.utils.validation import check_array, check_is_fitted, validate_data
except ImportError as exc:  # pragma: no cover - the test extra has scikit-learn
    raise ImportError(
        "mlp_xp.MLPClassifier and mlp_xp.MLPRegressor need scikit-learn, which is not installed "
        f"({exc}); install it with: pip install 'mlp_xp[sklearn]'"
    ) from exc

__all__ = ["MLPClassifier", "MLPRegressor"]

#: scikit-learn's activation names -> forward_backward_prop's
_HIDDEN = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}
#: out_activation_ -> forward_backward_prop's output
_OUTPUT = {"softmax": "softmax", "logistic": "sigmoid", "identity": "identity"}
_STOCHASTIC = ("sgd", "adam")


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))


def _is_real(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) and v == v


def _is_bool(v: Any) -> bool:
    return isinstance(v, (bool, np.bool_))


def _options(*names: str) -> tuple[Any, Any, str]:
    return (lambda v: isinstance(v, str)), (lambda v: v in names), " or ".join(map(repr, names))


def _real(low: float, high: float = float("inf"), closed: str = "left") -> tuple[Any, Any, str]:
    lo_ok = (lambda v: v >= low) if closed in ("left", "both") else (lambda v: v > low)
    hi_ok = (lambda v: v <= high) if closed in ("right", "both") else (lambda v: v < high)
    left, right = "[" if closed in ("left", "both") else "(", "]" if closed in ("right", "both") else ")"
    shown = f"{left}{low:g}, {high:g}{right}"
    return _is_real, (lambda v: lo_ok(v) and hi_ok(v)), f"a real number in {shown}"


def _whole(low: int) -> tuple[Any, Any, str]:
    return _is_int, (lambda v: v >= low), f"a whole number >= {low}"


_BOOL = (_is_bool, lambda v: True, "True or False")

#: name -> (right type?, right value?, what is expected). The defaults come from the signature.
_CHECKS: dict[str, tuple[Any, Any, str]] = {
    "activation": _options("identity", "logistic", "tanh", "relu"),
    "solver": _options("lbfgs", "sgd", "adam"),
    "alpha": _real(0),
    "batch_size": (lambda v: isinstance(v, str) or _is_int(v), lambda v: v == "auto" if isinstance(v, str)
                   else v >= 1, "'auto' or a whole number >= 1"),
    "learning_rate": _options("constant", "invscaling", "adaptive"),
    "learning_rate_init": _real(0, closed="neither"),
    "power_t": _real(0),
    "max_iter": _whole(1),
    "shuffle": _BOOL,
    "tol": _real(0),
    "verbose": (lambda v: _is_bool(v) or _is_int(v), lambda v: v >= 0, "True, False or a whole number >= 0"),
    "warm_start": _BOOL,
    "momentum": _real(0, 1, closed="both"),
    "nesterovs_momentum": _BOOL,
    "early_stopping": _BOOL,
    "validation_fraction": _real(0, 1),
    "beta_1": _real(0, 1),
    "beta_2": _real(0, 1),
    "epsilon": _real(0, closed="neither"),
    "n_iter_no_change": (lambda v: _is_int(v) or _is_real(v),
                         lambda v: v >= 1 and (_is_int(v) or v == float("inf")),
                         "a whole number >= 1, or numpy.inf"),
    "max_fun": _whole(1),
    "loss": _options("squared_error"),
}


class _BaseMLP(BaseEstimator):
    """What the classifier and the regressor share: validation, the solvers, the forward pass."""

    _is_classifier = False

    # ---- parameters ---------------------------------------------------------------------

    def _where(self, method: str) -> str:
        return f"{type(self).__name__}.{method}"

    def _set_params_as_given(self, given: dict[str, Any]) -> None:
        """``__init__``'s arguments (its ``locals()``) stored as they came, as scikit-learn
        requires; ``fit`` checks them. A subclass's own ``__init__`` sets its own."""
        for name, value in given.items():
            if name != "self":
                setattr(self, name, value)

    def _check_params(self, where: str) -> list[int]:
        """Every parameter checked; the hidden layer sizes as a list."""
        defaults = {k: v.default for k, v in _signature_defaults(type(self)).items()}
        for name, (type_ok, value_ok, expected) in _CHECKS.items():
            if name not in defaults:
                continue
            value = getattr(self, name)
            if not (type_ok(value) and value_ok(value)):
                shown = repr(value[:40]) if isinstance(value, str) else describe(value)
                positional_slip = name == "loss" and not isinstance(value, str)
                hint = ("; as in scikit-learn, MLPRegressor's first positional argument is loss: pass "
                        "hidden_layer_sizes=... by name") if positional_slip else ""
                raise InvalidParameterError(f"{where}: {name} must be {expected}, got {shown}; the default "
                                            f"is {defaults[name]!r}{hint}")
        sizes = self.hidden_layer_sizes
        sizes_list = [sizes] if _is_int(sizes) else sizes
        expected = "a whole number >= 1 or a sequence of them (one per hidden layer), e.g. (100,)"
        if isinstance(sizes_list, str) or not isinstance(sizes_list, (Sequence, np.ndarray)) \
                or not all(_is_int(h) for h in sizes_list):
            raise InvalidParameterError(f"{where}: hidden_layer_sizes must be {expected}, got "
                                        f"{describe(sizes)}; the default is (100,)")
        if any(h < 1 for h in sizes_list):
            raise InvalidParameterError(f"{where}: hidden_layer_sizes must be {expected}, got "
                                        f"{list(sizes_list)!r}; the default is (100,)")
        return [int(h) for h in sizes_list]

    # ---- data ---------------------------------------------------------------------------

    def _check_X(self, X: Any, where: str, reset: bool) -> Array:
        """X as a 2-D float array: NumPy data through scikit-learn's checks, others kept as they are."""
        if not is_foreign_array(X):
            return validate_data(self, X, reset=reset, dtype=(np.float64, np.float32))
        xp = namespace(X)
        if X.ndim != 2:
            raise ValueError(f"{where}: X must be a 2-D array of shape (n_samples, n_features), got "
                             f"{describe(X)}; reshape it, e.g. xp.reshape(X, (-1, 1)) for one feature")
        if not all(n == n and n is not None for n in X.shape):
            raise ValueError(f"{where}: X must have a known shape, got {describe(X)}; on Dask, call "
                             "X.compute_chunk_sizes() first")
        if X.shape[0] < 1:
            raise ValueError(f"{where}: X must have at least one sample, got {describe(X)}")
        if xp.isdtype(X.dtype, "complex floating"):
            raise ValueError(f"{where}: X must be real, got {describe(X)}; take xp.real(X) or xp.abs(X)")
        if not xp.isdtype(X.dtype, "real floating"):
            X = xp.astype(X, xp.float64)  # as scikit-learn does with integer data
        if not bool(xp.all(xp.isfinite(X))):  # one value read back
            raise ValueError(f"{where}: X contains NaN or infinity; remove or impute them first")
        n_features = X.shape[1]
        if reset:
            self.n_features_in_ = n_features
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        elif n_features != self.n_features_in_:
            raise ValueError(f"X has {n_features} features, but {type(self).__name__} is expecting "
                             f"{self.n_features_in_} features as input ({where})")
        return X

    def _check_X_y(self, X: Any, y: Any, where: str, reset: bool) -> tuple[Array, np.ndarray]:
        """X as :meth:`_check_X` makes it, and y as host NumPy data of as many rows."""
        if y is None:
            raise ValueError(f"{where}: requires y to be passed, but the target y is None")
        y = to_host(y)
        if not is_foreign_array(X):
            X, y = validate_data(self, X, y, reset=reset, dtype=(np.float64, np.float32), multi_output=True,
                                 y_numeric=not self._is_classifier)
        else:
            X = self._check_X(X, where, reset)
            y = check_array(y, ensure_2d=False, dtype=None if self._is_classifier else "numeric",
                            input_name="y")
            if y.shape[0] != X.shape[0]:
                raise ValueError(f"{where}: X and y must have as many samples, got {X.shape[0]} rows in X "
                                 f"and {y.shape[0]} in y")
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y

    def _check_same_namespace(self, X: Any, method: str) -> Array:
        """X checked for predict: from the library and device the model was fitted on."""
        check_is_fitted(self)
        where = f"{type(self).__name__}.{method}()"
        self._same_namespace(X, where)
        X = self._check_X(X, where, reset=False)
        ref = self.coefs_[0]
        if X.dtype != ref.dtype:
            X = namespace(X).astype(X, ref.dtype)
        return X

    def _same_namespace(self, X: Any, where: str) -> None:
        ref = self.coefs_[0]
        if is_foreign_array(ref) != is_foreign_array(X) or (
                is_foreign_array(X) and namespace(X) is not namespace(ref)):
            raise ValueError(
                f"{where}: X must use the same namespace as the arrays the model was fitted on "
                f"({library_name(ref)}), got {library_name(X)}; move X there first, or fit again on "
                f"{library_name(X)} data")
        if is_foreign_array(X) and device(X) != device(ref):
            raise ValueError(f"{where}: X must be on the device the model was fitted on ({device(ref)}), "
                             f"got {device(X)}; move it there first")

    # ---- the network --------------------------------------------------------------------

    def _dimensions(self) -> list[int]:
        return [self.coefs_[0].shape[0], *(W.shape[1] for W in self.coefs_)]

    def _packed(self) -> Array:
        """``W1, b1, ..., WL, bL`` as one new 1-D array (the layout forward_backward_prop reads)."""
        xp = namespace(self.coefs_[0])
        blocks = []
        for W, b in zip(self.coefs_, self.intercepts_, strict=True):
            blocks += [xp.reshape(W, (-1,)), b]
        return xp.concat(blocks)

    def _unpack(self, params: Array) -> None:
        xp = namespace(params)
        blocks = self._layout.blocks
        self.coefs_ = [xp.reshape(params[b.offset:b.stop], b.shape) for b in blocks[0::2]]
        self.intercepts_ = [params[b.offset:b.stop] for b in blocks[1::2]]

    def _forward(self, X: Array) -> Array:
        """The network's output ``yhat`` for ``X``: forward_backward_prop's hidden layers, then
        the output activation."""
        xp = namespace(X)
        a = X
        for W, b in zip(self.coefs_[:-1], self.intercepts_[:-1], strict=True):
            a = _hidden_layer(xp, _HIDDEN[self.activation], a, W, b)
        z = a @ self.coefs_[-1] + self.intercepts_[-1]
        if self.out_activation_ == "softmax":
            return softmax(z)
        return sigmoid(z) if self.out_activation_ == "logistic" else z

    def _weight_mask(self, params: Array) -> Array:
        """1 on the weights, 0 on the biases: the L2 penalty's support."""
        xp = namespace(params)
        parts = []
        for block in self._layout.blocks:
            fill = xp.ones if block.name.startswith("W") else xp.zeros
            parts.append(fill((block.size,), dtype=params.dtype, device=device(params)))
        return xp.concat(parts)

    # ---- fitting ------------------------------------------------------------------------

    def _fit(self, X: Any, y: Any, incremental: bool, where: str, classes: Any = None) -> Any:
        hidden = self._check_params(where)
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        if not first_pass:  # warm start and partial_fit go on where the model lives
            self._same_namespace(X, where + "()")
        X, y = self._check_X_y(X, y, where, reset=first_pass)
        Y_host = self._encode(y, incremental, first_pass, classes, where)
        Y = to_device(Y_host, like=X, rows=True)
        dims = [X.shape[1], *hidden, Y.shape[1]]
        if not first_pass and dims != self._dimensions():
            raise ValueError(f"{where}: the network's shape {tuple(dims)} (n_features, hidden_layer_sizes, "
                             f"n_outputs) differs from the fitted one {tuple(self._dimensions())}; "
                             "set warm_start=False to start afresh")
        self._dims = dims
        self._layout = param_layout(dims)
        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(dims, X)
        # on JAX one jax.jit of the step, kept across fits (one compile per batch shape and
        # network); it runs the checks while tracing only, so it keeps them
        step = compiled(_loss_grad, like=X, static_argnames=_STATIC)
        config = dict(alpha=self.alpha, dims=tuple(dims), layout=self._layout,
                      activation=_HIDDEN[self.activation], output=_OUTPUT[self.out_activation_])
        loss_grad = partial(step, checked=True, **config)
        if self.solver in _STOCHASTIC:
            unchecked = partial(step, checked=step is not _loss_grad, **config)
            self._fit_stochastic(X, Y, Y_host, incremental, loss_grad, unchecked)
        else:
            self._fit_lbfgs(X, Y, loss_grad)
        params = self._packed()
        if not bool(namespace(params).all(namespace(params).isfinite(params))):
            raise ValueError(f"{where}: the solver produced non-finite parameter weights. The input data "
                             "may contain large values and need to be preprocessed.")
        return self

    def _encode(self, y: np.ndarray, incremental: bool, first_pass: bool, classes: Any,
                where: str) -> np.ndarray:
        """The targets as a 2-D host array (regression: as they are)."""
        return y.reshape(-1, 1) if y.ndim == 1 else y

    def _initialize(self, dims: list[int], X: Array) -> None:
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = dims[-1]
        self.n_layers_ = len(dims)
        self.out_activation_ = self._out_activation()
        factor = 2.0 if self.activation == "logistic" else 6.0
        self._unpack(to_device(glorot_params(self._random_state, dims, factor), like=X))
        if self.solver in _STOCHASTIC:
            self.loss_curve_: list[float] = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_: list[float] | None = []
                self.best_validation_score_: float | None = -np.inf
                self.best_loss_: float | None = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None

    def _out_activation(self) -> str:
        return "identity"

    def _fit_lbfgs(self, X: Array, Y: Array, loss_grad: Any) -> None:
        xp = namespace(X)
        params = self._packed()
        mask = self._weight_mask(params)

        def host_loss_grad(p: np.ndarray) -> tuple[float, np.ndarray]:
            loss, grad = loss_grad(X, Y, to_device(p, like=X), mask)
            both = to_host(xp.concat([xp.reshape(loss, (1,)), grad]))  # one transfer per evaluation
            return float(both[0]), np.asarray(both[1:], dtype=np.float64)

        result = scipy.optimize.minimize(
            host_loss_grad, np.asarray(to_host(params), dtype=np.float64), method="L-BFGS-B", jac=True,
            options={"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol})
        if result.status != 0:
            warnings.warn(f"lbfgs failed to converge after {result.nit} iteration(s) "
                          f"(status={result.status}): {result.message}. Increase the number of iterations "
                          f"to improve the convergence (max_iter={self.max_iter}).", ConvergenceWarning,
                          stacklevel=4)
        self.n_iter_ = min(int(result.nit), self.max_iter)
        self.loss_ = float(result.fun)
        self._unpack(to_device(result.x, like=X))
        if self.verbose:
            print(f"lbfgs: {self.n_iter_} iterations, loss = {self.loss_:.8f}")

    def _fit_stochastic(self, X: Array, Y: Array, Y_host: np.ndarray, incremental: bool,
                        loss_grad: Any, unchecked_loss_grad: Any) -> None:
        params = self._packed()
        if not incremental or not hasattr(self, "_optimizer"):
            if self.solver == "sgd":
                self._optimizer: SGD | Adam = SGD(params, self.learning_rate_init, self.learning_rate,
                                                  self.momentum, self.nesterovs_momentum, self.power_t)
            else:
                self._optimizer = Adam(params, self.learning_rate_init, self.beta_1, self.beta_2,
                                       self.epsilon)
        if self.early_stopping and incremental:
            raise ValueError(f"{type(self).__name__}.partial_fit does not support early_stopping=True; "
                             "use fit, or set early_stopping=False")
        mask = self._weight_mask(params)
        n_total = X.shape[0]
        if self.early_stopping:
            stratify = Y_host if self._is_classifier and self.n_outputs_ == 1 else None
            train, val = train_test_split(np.arange(n_total), random_state=self._random_state,
                                          test_size=self.validation_fraction, stratify=stratify)
            if val.shape[0] < 2:
                raise ValueError(f"{type(self).__name__}.fit: the validation set is too small. Increase "
                                 "'validation_fraction' or the size of your dataset.")
            X_val, Y_val = _take(X, val), _take(Y, val)
            X, Y = _take(X, train), _take(Y, train)
        n = X.shape[0]
        if self.batch_size == "auto":
            batch_size = min(200, n)
        else:
            if self.batch_size > n:
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going to be "
                              "clipped", stacklevel=4)
            batch_size = min(max(self.batch_size, 1), n)
        sample_idx = np.arange(n)
        self.n_iter_ = 0
        checked_once = False
        for _ in range(self.max_iter):
            if self.shuffle:
                # sklearn.utils.shuffle's draw (resample without replacement) without its
                # argument checks, which cost a batch's worth of time on small data
                permutation = np.arange(n)
                self._random_state.shuffle(permutation)
                sample_idx = sample_idx[permutation]
                order = host_indices(sample_idx, like=X)  # one transfer per epoch
            total: Any = None
            for start in range(0, n, batch_size):  # gen_batches(n, batch_size), unchecked
                batch = slice(start, min(start + batch_size, n))
                if self.shuffle:
                    Xb, Yb = take_rows(X, order[batch]), take_rows(Y, order[batch])
                else:
                    Xb, Yb = X[batch, ...], Y[batch, ...]
                # the first batch of each fit through the checked public function, the others
                # (same dtypes, same widths, fewer or as many rows) without its checks
                loss, grad = (unchecked_loss_grad if checked_once else loss_grad)(Xb, Yb, params, mask)
                checked_once = True
                params = self._optimizer.step(params, grad)
                part = loss * (batch.stop - batch.start)
                total = part if total is None else total + part
            params, total, *state = persist(params, total, *self._optimizer.state)
            self._optimizer.state = state
            self._unpack(params)
            self.n_iter_ += 1
            self.loss_ = float(total) / n  # one value read back per epoch
            self.t_ += n
            self.loss_curve_.append(self.loss_)
            if self.verbose:
                print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")
            if self.early_stopping:
                self._update_no_improvement(self._validation_score(X_val, Y_val), params)
            else:
                self._update_no_improvement(None, params)
            self._optimizer.iteration_ends(self.t_)
            if self._no_improvement_count > self.n_iter_no_change:
                what = "Validation score" if self.early_stopping else "Training loss"
                msg = (f"{what} did not improve more than tol={self.tol:f} for {self.n_iter_no_change} "
                       "consecutive epochs.")
                if self._optimizer.trigger_stopping(msg, self.verbose):
                    break
                self._no_improvement_count = 0
            if incremental:
                break
            if self.n_iter_ == self.max_iter:
                warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                              "optimization hasn't converged yet.", ConvergenceWarning, stacklevel=4)
        if self.early_stopping:
            self._unpack(self._best_params)

    def _update_no_improvement(self, score: float | None, params: Array) -> None:
        """scikit-learn's bookkeeping: the count of epochs without improvement by ``tol``."""
        if score is not None:
            assert self.validation_scores_ is not None and self.best_validation_score_ is not None
            self.validation_scores_.append(score)
            if self.verbose:
                print(f"Validation score: {score:f}")
            self._no_improvement_count = (self._no_improvement_count + 1
                                          if score < self.best_validation_score_ + self.tol else 0)
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_params = params * 1  # a copy: the solver steps params in place
        else:
            assert self.best_loss_ is not None
            last = self.loss_curve_[-1]
            worse = last > self.best_loss_ - self.tol
            self._no_improvement_count = self._no_improvement_count + 1 if worse else 0
            self.best_loss_ = min(self.best_loss_, last)

    def _validation_score(self, X: Array, Y: Array) -> float:
        raise NotImplementedError

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.array_api_support = True
        return tags


_STATIC = ("dims", "layout", "activation", "output", "checked")


def _loss_grad(X: Array, Y: Array, params: Array, mask: Array, *, alpha: float, dims: tuple[int, ...],
               layout: Any, activation: str, output: str, checked: bool) -> tuple[Array, Array]:
    """scikit-learn's loss and its gradient: ``cost / n + alpha / 2 * |W|^2 / n`` (``mask``: 1 on W).

    ``checked=False`` skips forward_backward_prop's argument checks (see :func:`_unchecked_backprop`):
    for the batches after the first of a fit, whose shapes and dtypes the first call checked.
    """
    xp = namespace(params)
    n = X.shape[0]
    if checked:
        cost, grad = forward_backward_prop(X, Y, params, dims, activation=activation, output=output)
    else:
        cost, grad = _unchecked_backprop(xp, X, Y, params, layout, activation, output)
    W = params * mask
    if output == "identity":
        cost = cost / Y.shape[1]  # scikit-learn's squared error is a mean over every entry
    loss = (cost + 0.5 * alpha * (W @ params)) / n  # |W|^2 by one product, as scikit-learn takes it
    W *= alpha  # W is this function's own temporary: one pass and no new array
    grad += W
    grad /= n
    return loss, grad


def _unchecked_backprop(xp: Any, X: Array, Y: Array, params: Array, layout: Any, activation: str,
                        output: str) -> tuple[Array, Array]:
    """forward_backward_prop's cost and gradient without its argument checks: what it runs once
    they pass (tested equal). Only for arrays that the public function has already accepted,
    with at least one row: the estimators call it on the second and later batches of a fit,
    whose shapes and dtypes match the first's."""
    activations = (activation,) * (len(layout.blocks) // 2 - 1)  # one per hidden layer
    cost, grad = _backprop(xp, X, Y, params, layout, activations, output, False)
    return cost, grad


def _signature_defaults(cls: type) -> dict[str, Any]:
    return dict(inspect.signature(cls).parameters)


def _take(x: Array, idx: np.ndarray) -> Array:
    return take_rows(x, host_indices(idx, like=x))


def _index_dtype(x: Array) -> Any:
    """The namespace's default integer dtype for ``x``'s device: int32 on JAX without x64, where
    asking for int64 warns."""
    xp = namespace(x)
    return xp.__array_namespace_info__().default_dtypes(device=device(x))["indexing"]


def _r2(y: Array, yhat: Array) -> float:
    """scikit-learn's R², averaged over the outputs, in y's namespace: one value read back."""
    xp = namespace(y)
    # one column each: a y of shape (n, 1) against a prediction of shape (n,) must not broadcast
    y, yhat = xp.reshape(y, (y.shape[0], -1)), xp.reshape(yhat, (yhat.shape[0], -1))
    r = y - yhat
    num = xp.sum(r * r, axis=0)
    c = y - xp.mean(y, axis=0)
    den = xp.sum(c * c, axis=0)
    safe = xp.where(den == 0, xp.ones_like(den), den)
    score = xp.where(den == 0, xp.where(num == 0, xp.ones_like(num), xp.zeros_like(num)), 1 - num / safe)
    return float(xp.mean(score))


def _has_stochastic_solver(estimator: Any) -> bool:
    """partial_fit's availability, as scikit-learn decides it: sgd and adam only."""
    if estimator.solver not in _STOCHASTIC:
        raise AttributeError(f"partial_fit is only available for stochastic optimizers. "
                             f"{estimator.solver} is not stochastic.")
    return True


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier: scikit-learn's, on any array-API library.

    The parameters, their defaults and their meanings are those of
    ``sklearn.neural_network.MLPClassifier`` (see its documentation). The output layer is
    softmax for multi-class targets and logistic for binary and multi-label ones; the loss
    is the log-loss averaged over the batch plus ``alpha / 2 * sum(W**2) / n_samples``.

    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int, default=(100,)
        Width of each hidden layer.
    activation : {'identity', 'logistic', 'tanh', 'relu'}, default='relu'
        The hidden layers' activation.
    solver : {'lbfgs', 'sgd', 'adam'}, default='adam'
        ``'lbfgs'`` runs ``scipy.optimize.minimize`` on the host, with one transfer of
        ``(loss, gradient)`` per evaluation.
    alpha : float, default=0.0001
        Strength of the L2 penalty.
    batch_size : int or 'auto', default='auto'
        Minibatch size of the stochastic solvers; ``'auto'`` is ``min(200, n_samples)``.
    learning_rate : {'constant', 'invscaling', 'adaptive'}, default='constant'
        The schedule of ``'sgd'``.
    learning_rate_init : float, default=0.001
        The initial learning rate (``'sgd'``, ``'adam'``).
    power_t : float, default=0.5
        Exponent of ``'invscaling'``.
    max_iter : int, default=200
        Epochs of the stochastic solvers, iterations of ``'lbfgs'``.
    shuffle : bool, default=True
        Shuffle the samples in each epoch.
    random_state : int, RandomState or None, default=None
        Seeds the initial weights, the shuffles and the early-stopping split (drawn with
        NumPy, in scikit-learn's order, then moved to X's device).
    tol : float, default=1e-4
        The improvement that counts, for ``n_iter_no_change``.
    verbose : bool, default=False
        Print the loss after each epoch.
    warm_start : bool, default=False
        Start ``fit`` from the current weights.
    momentum : float, default=0.9
        Momentum of ``'sgd'``.
    nesterovs_momentum : bool, default=True
        Nesterov's momentum for ``'sgd'``.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data and stop when its accuracy stops improving.
    validation_fraction : float, default=0.1
        The held-out share for early stopping.
    beta_1, beta_2, epsilon : float, default=0.9, 0.999, 1e-8
        Adam's parameters.
    n_iter_no_change : int, default=10
        Epochs without an improvement of ``tol`` before stopping.
    max_fun : int, default=15000
        Most loss evaluations of ``'lbfgs'``.

    Attributes
    ----------
    classes_ : array
        The class labels: in X's namespace and on its device for numeric labels, NumPy for
        strings.
    coefs_, intercepts_ : list of arrays
        ``W1 .. WL`` and ``b1 .. bL``, in X's namespace and on its device.
    loss_, best_loss_, loss_curve_, validation_scores_, best_validation_score_ : float, list
        As in scikit-learn (Python floats).
    n_iter_, t_, n_layers_, n_outputs_, out_activation_, n_features_in_
        As in scikit-learn.

    Examples
    --------
    >>> import numpy as np
    >>> from mlp_xp import MLPClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((60, 2))
    >>> y = (X[:, 0] * X[:, 1] > 0).astype(int)
    >>> clf = MLPClassifier((16,), solver="lbfgs", random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape, clf.score(X, y) > 0.9
    ((2, 2), True)
    """

    _is_classifier = True

    def __init__(
        self, hidden_layer_sizes: Any = (100,), activation: str = "relu", *, solver: str = "adam",
        alpha: float = 0.0001, batch_size: int | str = "auto", learning_rate: str = "constant",
        learning_rate_init: float = 0.001, power_t: float = 0.5, max_iter: int = 200, shuffle: bool = True,
        random_state: Any = None, tol: float = 1e-4, verbose: bool | int = False, warm_start: bool = False,
        momentum: float = 0.9, nesterovs_momentum: bool = True, early_stopping: bool = False,
        validation_fraction: float = 0.1, beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-8,
        n_iter_no_change: int = 10, max_fun: int = 15000,
    ):
        self._set_params_as_given(locals())

    def fit(self, X: Any, y: Any) -> MLPClassifier:
        """Fit the model to ``X`` (n_samples x n_features) and the labels ``y``; returns ``self``."""
        return self._fit(X, y, incremental=False, where="MLPClassifier.fit")

    @available_if(_has_stochastic_solver)
    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> MLPClassifier:
        """One epoch over ``X, y``; ``classes`` (all the labels) is needed on the first call."""
        where = "MLPClassifier.partial_fit"
        if classes is not None:
            classes = to_host(classes)
        if not hasattr(self, "classes_"):
            if classes is None:
                raise ValueError(f"{where}: classes must be passed on the first call to partial_fit "
                                 "(every label, e.g. numpy.unique(y_all))")
            self._label_binarizer = LabelBinarizer()
            y_host = to_host(y)
            self._label_binarizer.fit(y_host if type_of_target(y_host).startswith("multilabel") else classes)
            self._set_classes(X)
        elif classes is not None and not np.array_equal(np.unique(classes), self._label_binarizer.classes_):
            raise ValueError(f"{where}: `classes={np.unique(classes)!r}` is not the same as on the first "
                             f"call to partial_fit, which was {self._label_binarizer.classes_!r}")
        return self._fit(X, y, incremental=True, where=where)

    def _set_classes(self, X: Any) -> None:
        classes = self._label_binarizer.classes_
        numeric = classes.dtype.kind in "iufb"
        self.classes_ = to_device(classes, like=X, dtype=classes.dtype) \
            if numeric and is_foreign_array(X) else classes

    def _encode(self, y: np.ndarray, incremental: bool, first_pass: bool, classes: Any,
                where: str) -> np.ndarray:
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer().fit(y)
        else:
            known = self._label_binarizer.classes_
            seen = unique_labels(y)
            if self.warm_start and not incremental and set(seen) != set(known):
                raise ValueError(f"{where}: warm_start can only be used where `y` has the same classes as in "
                                 f"the previous call to fit. Previously got {known}, `y` has {seen}")
            if len(np.setdiff1d(seen, known, assume_unique=True)):
                raise ValueError(f"{where}: `y` has classes not in `self.classes_`. `self.classes_` has "
                                 f"{known}. 'y' has {seen}.")
        return self._label_binarizer.transform(y)

    def _fit(self, X: Any, y: Any, incremental: bool, where: str, classes: Any = None) -> Any:
        super()._fit(X, y, incremental, where)
        if not incremental:
            self._set_classes(X)
        return self

    def _out_activation(self) -> str:
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _class_indices(self, yhat: Array) -> Array:
        xp = namespace(yhat)
        if self.out_activation_ == "softmax":
            return xp.argmax(yhat, axis=1)
        idx = xp.astype(yhat[:, 0] > 0.5, _index_dtype(yhat))
        return idx * 0 if self._label_binarizer.classes_.shape[0] == 1 else idx

    def predict(self, X: Any) -> Array:
        """The predicted labels, in X's namespace (NumPy for string labels)."""
        X = self._check_same_namespace(X, "predict")
        yhat = self._forward(X)
        xp = namespace(yhat)
        if self._label_binarizer.y_type_.startswith("multilabel"):
            return xp.astype(yhat > 0.5, _index_dtype(yhat))
        idx = self._class_indices(yhat)
        if is_foreign_array(idx) and not is_foreign_array(self.classes_):  # string labels stay on the host
            return np.take(self.classes_, to_host(idx))
        return namespace(self.classes_).take(self.classes_, idx)

    def predict_proba(self, X: Any) -> Array:
        """Probability of each class (columns in the order of ``classes_``), in X's namespace."""
        return self._proba(self._check_same_namespace(X, "predict_proba"))

    def _proba(self, X: Array) -> Array:
        yhat = self._forward(X)
        if self.n_outputs_ == 1:
            xp = namespace(yhat)
            return xp.concat([1 - yhat, yhat], axis=1)
        return yhat

    def predict_log_proba(self, X: Any) -> Array:
        """``log(predict_proba(X))``, in X's namespace."""
        p = self._proba(self._check_same_namespace(X, "predict_log_proba"))
        return namespace(p).log(p)

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Mean accuracy on ``X, y`` (the predictions are read back to the host once)."""
        pred = self.predict(X)
        return float(accuracy_score(to_host(y), to_host(pred), sample_weight=to_host(sample_weight)))

    def _validation_score(self, X: Array, Y: Array) -> float:
        """Accuracy on the held-out rows, from the encoded labels, on X's device."""
        yhat = self._forward(X)
        xp = namespace(yhat)
        if self._label_binarizer.y_type_.startswith("multilabel"):
            right = xp.all((yhat > 0.5) == (Y > 0.5), axis=1)
        elif self.out_activation_ == "softmax":
            right = xp.argmax(yhat, axis=1) == xp.argmax(Y, axis=1)
        else:
            right = self._class_indices(yhat) == xp.astype(Y[:, 0] > 0.5, _index_dtype(Y))
        return float(xp.mean(xp.astype(right, yhat.dtype)))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor: scikit-learn's, on any array-API library.

    The parameters, defaults, attributes and meanings are those of
    ``sklearn.neural_network.MLPRegressor`` and of :class:`MLPClassifier` here. The output
    layer is the identity, and the loss scikit-learn's: half the squared error averaged
    over every entry, plus ``alpha / 2 * sum(W**2) / n_samples``. ``loss='poisson'`` is
    not offered (the network has no exponential output).

    Examples
    --------
    >>> import numpy as np
    >>> from mlp_xp import MLPRegressor
    >>> X = np.linspace(-1, 1, 50)[:, None]
    >>> reg = MLPRegressor(hidden_layer_sizes=(20,), activation="tanh", solver="lbfgs", random_state=0)
    >>> reg = reg.fit(X, X[:, 0] ** 2)
    >>> reg.predict(X).shape, reg.score(X, X[:, 0] ** 2) > 0.99
    ((50,), True)
    """

    def __init__(
        self, loss: str = "squared_error", hidden_layer_sizes: Any = (100,), activation: str = "relu", *,
        solver: str = "adam", alpha: float = 0.0001, batch_size: int | str = "auto",
        learning_rate: str = "constant", learning_rate_init: float = 0.001, power_t: float = 0.5,
        max_iter: int = 200, shuffle: bool = True, random_state: Any = None, tol: float = 1e-4,
        verbose: bool | int = False, warm_start: bool = False, momentum: float = 0.9,
        nesterovs_momentum: bool = True, early_stopping: bool = False, validation_fraction: float = 0.1,
        beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-8, n_iter_no_change: int = 10,
        max_fun: int = 15000,
    ):
        self._set_params_as_given(locals())

    def fit(self, X: Any, y: Any) -> MLPRegressor:
        """Fit the model to ``X`` (n_samples x n_features) and the targets ``y``; returns ``self``."""
        return self._fit(X, y, incremental=False, where="MLPRegressor.fit")

    @available_if(_has_stochastic_solver)
    def partial_fit(self, X: Any, y: Any) -> MLPRegressor:
        """One epoch over ``X, y``, from the current weights."""
        return self._fit(X, y, incremental=True, where="MLPRegressor.partial_fit")

    def predict(self, X: Any) -> Array:
        """The predictions, 1-D for one output, in X's namespace and on its device."""
        X = self._check_same_namespace(X, "predict")
        yhat = self._forward(X)
        return namespace(yhat).reshape(yhat, (-1,)) if yhat.shape[1] == 1 else yhat

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """R² of the predictions on ``X`` against ``y``, computed on X's device (one value read back)."""
        pred = self.predict(X)
        if sample_weight is not None:
            return float(r2_score(to_host(y), to_host(pred), sample_weight=to_host(sample_weight)))
        y = to_host(y)
        return _r2(to_device(np.asarray(y, dtype=np.float64), like=pred), pred)

    def _validation_score(self, X: Array, Y: Array) -> float:
        return _r2(Y, self._forward(X))
