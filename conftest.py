pytest_plugins = ["mlp_xp.testing", "pytester"]
