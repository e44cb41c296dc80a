"""mlp_xp: a two-layer network, its backprop and gradient checks on the Python array API.

The same code runs on NumPy, CuPy, PyTorch, JAX, array-api-strict and Dask arrays:
pass arrays of any of them and get arrays of the same library and device back.
"""

from .functions import log_softmax, sigmoid, sigmoid_grad, softmax
from .gradcheck import GradcheckResult, gradcheck, gradcheck_naive
from .network import forward_backward_prop, param_layout, sanity_check
from .validation import check_values

__all__ = [
    "GradcheckResult",
    "check_values",
    "forward_backward_prop",
    "gradcheck",
    "gradcheck_naive",
    "log_softmax",
    "param_layout",
    "sanity_check",
    "sigmoid",
    "sigmoid_grad",
    "softmax",
]
__version__ = "0.1.0"
