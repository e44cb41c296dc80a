"""The pytest plugin: selection by option and environment, and loud failure when unavailable."""

from mlp_xp.backends import BackendUnavailable, known_backends

TEST_FILE = """
def test_one(backend, xp):
    assert backend.xp is xp
"""


def _unavailable():
    return [n for n, b in known_backends().items() if isinstance(b, BackendUnavailable)]


def test_selected_backend_runs_alone(pytester):
    pytester.makeconftest('pytest_plugins = ["mlp_xp.testing"]')
    pytester.makepyfile(TEST_FILE)
    result = pytester.runpytest("--backend", "numpy", "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*test_one[[]numpy[]] PASSED*"])


def test_environment_variable_selects(pytester, monkeypatch):
    monkeypatch.setenv("MLP_XP_BACKENDS", "numpy, array_api_strict")
    pytester.makeconftest('pytest_plugins = ["mlp_xp.testing"]')
    pytester.makepyfile(TEST_FILE)
    pytester.runpytest().assert_outcomes(passed=2)


def test_unselected_unavailable_backends_are_skipped_with_reason(pytester, monkeypatch):
    monkeypatch.delenv("MLP_XP_BACKENDS", raising=False)
    pytester.makeconftest('pytest_plugins = ["mlp_xp.testing"]')
    pytester.makepyfile(TEST_FILE)
    result = pytester.runpytest("-rs")
    missing = _unavailable()
    result.assert_outcomes(passed=len(known_backends()) - len(missing), skipped=len(missing))
    for name in missing:
        reason = known_backends()[name].reason
        result.stdout.fnmatch_lines([f"*{reason}*"])


def test_requested_but_unavailable_backend_is_an_error(pytester, monkeypatch):
    # simulated, so the test runs on a GPU machine where every backend is available too
    from mlp_xp import backends

    real_load = backends._load

    def load(name):
        return BackendUnavailable(name, "no CUDA device (simulated)") if name == "jax" else real_load(name)

    monkeypatch.setattr(backends, "_load", load)
    pytester.makeconftest('pytest_plugins = ["mlp_xp.testing"]')
    pytester.makepyfile(TEST_FILE)
    result = pytester.runpytest("--backend", "numpy", "--backend", "jax")
    assert result.ret == 4  # pytest's usage error, not a green run with skips
    result.stderr.fnmatch_lines(["*--backend jax: backend 'jax' is not available: no CUDA*(simulated)*"])


def test_unknown_backend_is_an_error(pytester):
    pytester.makeconftest('pytest_plugins = ["mlp_xp.testing"]')
    pytester.makepyfile(TEST_FILE)
    result = pytester.runpytest("--backend", "numpi")
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*unknown backend 'numpi'; known backends: numpy*"])
