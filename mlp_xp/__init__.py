"""mlp_xp: multilayer perceptrons, their backprop and gradient checks on the Python array API.

The same code runs on NumPy, CuPy, PyTorch, JAX, array-api-strict and Dask arrays:
pass arrays of any of them and get arrays of the same library and device back.
"""

from importlib import metadata as _metadata
from importlib.util import find_spec as _find_spec
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from .functions import log_softmax, sigmoid, sigmoid_grad, softmax
from .gradcheck import (
    GradcheckEntry,
    GradcheckError,
    GradcheckResult,
    GradcheckWarning,
    gradcheck,
    gradcheck_naive,
)
from .layout import Block, ParamLayout, param_layout
from .network import forward_backward_prop
from .problems import random_problem, seed_problem
from .sanity import sanity_check
from .validation import check_values

__all__ = [
    "Block",
    "GradcheckEntry",
    "GradcheckError",
    "GradcheckResult",
    "GradcheckWarning",
    "ParamLayout",
    "check_values",
    "forward_backward_prop",
    "gradcheck",
    "gradcheck_naive",
    "log_softmax",
    "param_layout",
    "random_problem",
    "sanity_check",
    "seed_problem",
    "sigmoid",
    "sigmoid_grad",
    "softmax",
]
if _TYPE_CHECKING:
    from .estimators import MLPClassifier as MLPClassifier
    from .estimators import MLPRegressor as MLPRegressor
#: scikit-learn's estimators, imported on first use: scikit-learn is an extra (mlp_xp[sklearn])
_ESTIMATORS = ("MLPClassifier", "MLPRegressor")
if _find_spec("sklearn") is not None:  # so that `from mlp_xp import *` works without it
    __all__ += _ESTIMATORS


def __getattr__(name: str) -> _Any:
    if name in _ESTIMATORS:
        from . import estimators  # raises ImportError saying `pip install 'mlp_xp[sklearn]'`

        return getattr(estimators, name)
    raise AttributeError(f"module 'mlp_xp' has no attribute {name!r}")


__version__ = _metadata.version("mlp_xp")  # one version, pyproject.toml's
