"""Compare gradient checkers on the same function and the same planted backprop bugs.

Checkers: mlp_xp's ``gradcheck`` (full and fast mode), ``torch.autograd.gradcheck`` (slow and
fast mode) and ``scipy.optimize.check_grad`` (``direction="all"`` and ``"random"``), each with
its own defaults. Functions: the two-layer network's cost and gradient, true and with each
planted bug of :mod:`mlp_xp.planted`, on the seed's 20 x (10, 5, 10) problem and on a
32 x (784, 128, 10) one (101,770 parameters). For each check: calls of ``f``, seconds, and
whether it caught the bug (or, on the true gradient, passed). Prints markdown tables.

A check that would need more than ``--budget`` calls of ``f`` is stopped there and shown as
such (on the large network a full scan needs 2 n + 1 = 203,541 calls). SciPy returns a norm,
not a verdict: it counts as "caught" when the norm exceeds ``1e-5 * max(1, |grad|)``.

Run (takes a few minutes on 2 CPU cores)::

    flock /tmp/mlp_xp_bench.lock python scripts/compare_checkers.py
"""

from __future__ import annotations

import importlib.util
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click
import numpy as np

from mlp_xp import gradcheck, param_layout
from mlp_xp.cli import OneLineCommand
from mlp_xp.planted import PLANTED_BUGS, planted_forward_backward
from mlp_xp.problems import random_problem, seed_problem

SCIPY_REL_TOL = 1e-5


class BudgetExceeded(Exception):
    """Raised by a counted ``f`` past the call budget: the check is stopped there."""


@dataclass
class Problem:
    name: str
    dims: tuple[int, int, int]
    data: np.ndarray
    labels: np.ndarray
    params: np.ndarray

    @property
    def n(self) -> int:
        return self.params.size

    def bugs(self) -> list[str | None]:
        square = self.dims[0] == self.dims[1]
        return [None, *(b for b in PLANTED_BUGS if square or b != "W1_transposed")]


@dataclass
class Outcome:
    flagged: bool | None  # the checker said "wrong gradient" (None: stopped, no verdict)
    calls: int
    seconds: float


class Counted:
    """``f`` for one problem and bug, on NumPy or torch arrays, counting calls against a budget."""

    def __init__(self, problem: Problem, bug: str | None, budget: int, arrays: Callable[[Any], Any]):
        self.problem, self.bug, self.budget = problem, bug, budget
        self.data, self.labels = arrays(problem.data), arrays(problem.labels)
        self.calls = 0

    def __call__(self, p: Any) -> tuple[Any, Any]:
        self.calls += 1
        if self.budget and self.calls > self.budget:
            raise BudgetExceeded
        return planted_forward_backward(self.data, self.labels, p, self.problem.dims, bug=self.bug)


def timed(f: Counted, check: Callable[[], bool]) -> Outcome:
    """Run ``check()`` (True: it flagged the gradient), timing it; stopped past the budget."""
    start = time.perf_counter()
    try:
        flagged: bool | None = check()
    except BudgetExceeded:
        flagged = None
    return Outcome(flagged, min(f.calls, f.budget or f.calls), time.perf_counter() - start)


def run_mlp_xp(mode: str) -> Runner:
    def run(problem: Problem, bug: str | None, budget: int) -> Outcome:
        f = Counted(problem, bug, budget, np.asarray)
        layout = param_layout(problem.dims)
        return timed(f, lambda: not gradcheck(f, problem.params, mode=mode, layout=layout).passed)

    return run


def run_torch(fast_mode: bool) -> Runner:
    import torch

    def run(problem: Problem, bug: str | None, budget: int) -> Outcome:
        f = Counted(problem, bug, budget, torch.asarray)

        class Cost(torch.autograd.Function):
            @staticmethod
            def forward(ctx: Any, p: torch.Tensor) -> torch.Tensor:
                cost, grad = f(p)
                ctx.save_for_backward(grad)
                return cost

            @staticmethod
            def backward(ctx: Any, g: torch.Tensor) -> torch.Tensor:
                (grad,) = ctx.saved_tensors
                return g * grad

        p = torch.asarray(problem.params).requires_grad_()
        return timed(f, lambda: not torch.autograd.gradcheck(
            Cost.apply, (p,), fast_mode=fast_mode, raise_exception=False))

    return run


def run_scipy(direction: str) -> Runner:
    from scipy.optimize import check_grad

    def run(problem: Problem, bug: str | None, budget: int) -> Outcome:
        f = Counted(problem, bug, budget, np.asarray)
        grad_norm = np.linalg.norm(
            planted_forward_backward(problem.data, problem.labels, problem.params, problem.dims, bug=bug)[1]
        )

        def check() -> bool:
            err = check_grad(lambda p: float(f(p)[0]), lambda p: f(p)[1], problem.params,
                             direction=direction, rng=0)
            return bool(err > SCIPY_REL_TOL * max(1.0, grad_norm))

        return timed(f, check)

    return run


Runner = Callable[[Problem, str | None, int], Outcome]

#: name -> (runner factory, its argument, calls of f it needs at least for n parameters)
CHECKERS: dict[str, tuple[Callable[[Any], Runner], Any, Callable[[int], int]]] = {
    "mlp_xp full": (run_mlp_xp, "full", lambda n: 2 * n + 1),
    "mlp_xp fast": (run_mlp_xp, "fast", lambda n: 13),
    "torch slow": (run_torch, False, lambda n: 2 * n),
    "torch fast": (run_torch, True, lambda n: 2),
    "scipy all": (run_scipy, "all", lambda n: n + 1),
    "scipy random": (run_scipy, "random", lambda n: 2),
}


def problems(large_m: int) -> list[Problem]:
    return [
        Problem("seed: 20 x (10, 5, 10), 115 parameters", (10, 5, 10), *seed_problem(20, (10, 5, 10))),
        Problem(
            f"large: {large_m} x (784, 128, 10), 101,770 parameters",
            (784, 128, 10),
            *random_problem(large_m, (784, 128, 10)),
        ),
    ]


def cell(bug: str | None, out: Outcome | None, needs: int) -> str:
    if out is None:
        return "not run"
    if out.flagged is None:
        return f"stopped at {out.calls:,} calls"
    good = out.flagged == (bug is not None)
    word = ("caught" if out.flagged else "MISSED") if bug is not None else ("pass" if good else "FALSE ALARM")
    return f"{word}, {out.calls:,}"


def table(problem: Problem, budget: int, checkers: list[str]) -> str:
    bugs = problem.bugs()
    head = ["checker", "calls of f (true gradient)", "seconds (true gradient)",
            *("true gradient" if b is None else f"`{b}`" for b in bugs)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in checkers:
        runner, arg, needs_of = CHECKERS[name]
        run, needs = runner(arg), needs_of(problem.n)
        if budget and needs > budget:
            # a full scan: every variant would be stopped at the budget; time it once, to the budget
            first = run(problem, None, budget)
            outs: list[Outcome | None] = [first] + [None] * (len(bugs) - 1)
        else:
            outs = [run(problem, bug, budget) for bug in bugs]
        true = outs[0]
        if true.flagged is not None:
            calls, secs = f"{true.calls:,}", f"{true.seconds:.3f}"
        else:  # stopped: the rate measured up to the budget, extrapolated to the calls it needs
            calls = f"needs {needs:,}"
            secs = f"≈ {true.seconds / true.calls * needs / 60:.0f} min (extrapolated)"
        row = [name, calls, secs, *(cell(b, o, needs) for b, o in zip(bugs, outs, strict=True))]
        lines.append("| " + " | ".join(row) + " |")
        print(f"  done: {name}", flush=True, file=sys.stderr)
    return "\n".join(lines)


#: The library a checker's runner imports, for the checkers that need one besides NumPy.
LIBRARY = {run_torch: "torch", run_scipy: "scipy"}


def _installed(library: str) -> bool:
    return importlib.util.find_spec(library) is not None


def _check_checkers(ctx: click.Context, param: click.Parameter, names: tuple[str, ...]) -> tuple[str, ...]:
    """Every chosen checker's library is installed: found before the first table, not after."""
    for name in names:
        library = LIBRARY.get(CHECKERS[name][0])
        if library is not None and not _installed(library):
            raise click.BadParameter(f"{name!r} needs {library}, which is not installed: "
                                     f"pip install {library} (or the 'peers' extra)")
    return names


@click.command(cls=OneLineCommand, help=__doc__.split("\n\n")[0],
               context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--budget", type=click.IntRange(min=0), default=500, show_default=True,
              help="Stop a check of the large problem past this many calls of f (0: never).")
@click.option("--large-m", type=click.IntRange(min=1), default=32, show_default=True,
              help="Examples in the 101,770-parameter problem.")
@click.option("--checkers", multiple=True, default=tuple(CHECKERS), show_default=True,
              type=click.Choice(list(CHECKERS)), callback=_check_checkers,
              help="Checkers to run, in this order; repeatable (quote each name: it has a space).")
def main(budget: int, large_m: int, checkers: tuple[str, ...]) -> None:
    warnings.simplefilter("ignore", UserWarning)  # torch's float64 / sparse notes
    for problem in problems(large_m):
        problem_budget = budget if problem.n > 1000 else 0
        stop = f" (checks stopped past {problem_budget:,} calls of f)" if problem_budget else ""
        print(f"\n**{problem.name}**{stop}\n")
        print(table(problem, problem_budget, checkers))
    print(
        "\nCells: verdict, calls of f (`caught` and `pass` are right answers). `stopped`: still running "
        "past the budget (torch's fast mode reruns a full slow-mode Jacobian to word its failure "
        "message). `not run`: a full scan, over the budget on every variant, timed once. SciPy returns "
        f"a norm: counted as caught above {SCIPY_REL_TOL:g} x max(1, |grad|). Each tool uses its own "
        "default tolerances; mlp_xp and SciPy run on NumPy, torch on torch (CPU)."
    )


if __name__ == "__main__":
    main()
