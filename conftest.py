import os

# The project's own runs split Dask arrays into chunks of 4 rows (unless told otherwise),
# so every backend test on Dask crosses chunk boundaries; the default (16384) would give
# the tests' small arrays a single chunk. Costs a few seconds over the whole suite.
os.environ.setdefault("MLP_XP_DASK_CHUNK_ROWS", "4")

pytest_plugins = ["mlp_xp.testing", "pytester"]
