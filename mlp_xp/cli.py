"""The ``mlp-xp`` command (Click)."""

from __future__ import annotations

import click

from .backends import BACKEND_NAMES, BackendUnavailable, get_backend
from .network import sanity_check


@click.command()
@click.option("--backend", "backend_name", default="numpy", show_default=True,
              help=f"One of: {', '.join(BACKEND_NAMES)}.")
def main(backend_name: str) -> None:
    """Run the seed's sanity check (gradient check of the network) on a backend."""
    try:
        get_backend(backend_name)
    except (ValueError, BackendUnavailable) as exc:
        raise click.UsageError(str(exc)) from None
    if not sanity_check(backend_name):
        raise SystemExit(1)
