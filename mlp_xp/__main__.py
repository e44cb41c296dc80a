"""``python -m mlp_xp`` runs the same command as ``mlp-xp``."""

from .cli import main

if __name__ == "__main__":
    main()
