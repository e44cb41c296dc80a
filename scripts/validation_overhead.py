"""Cost of the argument checks per call, against forward_backward_prop itself.

Run: ``python scripts/validation_overhead.py [--backend numpy --backend torch ...]``

Prints, per backend, the median time per call (over ``--repeats`` rounds of ``--number``
calls) of ``check_network_inputs`` (what ``forward_backward_prop`` runs first), of
``check_float_array`` (what ``softmax``/``sigmoid`` run first), of the opt-in
``check_values``, and of a whole ``forward_backward_prop``, at the seed's size
(M = 20, dimensions 10 x 5 x 10, float64), and the checks' share of the call.
"""

from __future__ import annotations

import argparse
import statistics
import timeit

from mlp_xp import forward_backward_prop
from mlp_xp._host import seed_problem
from mlp_xp.backends import get_backend
from mlp_xp.validation import check_float_array, check_network_inputs, check_values


def median_seconds(fn, number: int, repeats: int) -> float:
    return statistics.median(t / number for t in timeit.repeat(fn, number=number, repeat=repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", action="append", default=[])
    parser.add_argument("--number", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    dims = (10, 5, 10)
    print(
        f"{'backend':<18}{'check_network_inputs':>22}{'check_float_array':>19}"
        f"{'check_values':>14}{'forward_backward_prop':>23}{'share':>8}"
    )
    for name in args.backend or ["numpy"]:
        b = get_backend(name)
        data, labels, params = (b.asarray(a, "float64") for a in seed_problem(20, dims))
        n, r = args.number, args.repeats
        t_net = median_seconds(lambda: check_network_inputs(data, labels, params, dims), n, r)
        t_arr = median_seconds(lambda: check_float_array(data, where="softmax", ndims=(1, 2)), n, r)
        t_val = median_seconds(lambda: check_values(data, labels, params), max(n // 20, 1), r)
        t_fbp = median_seconds(lambda: b.wait(forward_backward_prop(data, labels, params, dims)), n, r)
        print(
            f"{name:<18}{t_net * 1e6:>19.2f} us{t_arr * 1e6:>16.2f} us{t_val * 1e6:>11.1f} us"
            f"{t_fbp * 1e6:>20.1f} us{t_net / t_fbp:>8.1%}"
        )


if __name__ == "__main__":
    main()
