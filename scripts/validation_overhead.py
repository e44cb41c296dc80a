"""Cost of the argument checks per call, against forward_backward_prop itself.

Run: ``flock /tmp/mlp_xp_bench.lock python scripts/validation_overhead.py [--backend NAME ...]``

Prints, per backend, the median time per call of ``check_network_inputs`` (what
``forward_backward_prop`` runs first), of ``check_float_array`` (what ``softmax`` and
``sigmoid`` run first), of the opt-in ``check_values``, and of a whole
``forward_backward_prop`` at the seed's size (M = 20, dimensions 10 x 5 x 10, float64),
and the structural check's share of the call. Each median is over ``--repeats`` rounds of
as many calls as fill about 0.2 s (``timeit``'s autorange), all measured in one run.
"""

from __future__ import annotations

import argparse
import statistics
import timeit
from collections.abc import Callable

from mlp_xp import forward_backward_prop
from mlp_xp.backends import get_backend
from mlp_xp.problems import seed_problem
from mlp_xp.validation import check_float_array, check_network_inputs, check_values


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    timer = timeit.Timer(fn)
    number, _ = timer.autorange()
    return statistics.median(t / number for t in timer.repeat(number=number, repeat=repeats))


def measure(name: str, repeats: int) -> tuple[float, float, float, float]:
    """Seconds per call of the three checks and of forward_backward_prop on backend ``name``."""
    b, dims = get_backend(name), (10, 5, 10)
    data, labels, params = (b.asarray(a, "float64") for a in seed_problem(20, dims))
    return (
        median_seconds(lambda: check_network_inputs(data, labels, params, dims), repeats),
        median_seconds(lambda: check_float_array(data, where="softmax", ndims=(1, 2)), repeats),
        median_seconds(lambda: check_values(data, labels, params), repeats),
        median_seconds(lambda: b.wait(forward_backward_prop(data, labels, params, dims)), repeats),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", action="append", default=[], help="repeatable; default numpy")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    print(
        f"{'backend':<18}{'check_network_inputs':>22}{'check_float_array':>19}"
        f"{'check_values':>14}{'forward_backward_prop':>23}{'share':>8}"
    )
    for name in args.backend or ["numpy"]:
        t_net, t_arr, t_val, t_fbp = measure(name, args.repeats)
        print(
            f"{name:<18}{t_net * 1e6:>19.2f} us{t_arr * 1e6:>16.2f} us{t_val * 1e6:>11.1f} us"
            f"{t_fbp * 1e6:>20.1f} us{t_net / t_fbp:>8.1%}"
        )


if __name__ == "__main__":
    main()
