"""scripts/compare_peers.py (the interval of a ratio, the verdicts, a whole run on tiny shapes) and
scripts/elementwise_costs.py."""

import json
import random
import re
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from mlp_xp.bench import Timing

from ._scripts import SCRIPTS, load_script


@pytest.fixture(scope="module")
def peers():
    mp = pytest.MonkeyPatch()
    mp.setenv("OMP_WAIT_POLICY", "PASSIVE")  # the script sets it on import: keep it out of other tests
    try:
        yield load_script("compare_peers")
    finally:
        mp.undo()


def _timing(runs):
    return Timing(first_s=runs[0], runs_s=tuple(runs))


def test_ratio_interval_holds_the_ratio_and_keeps_rounds_paired(peers):
    rng = np.random.default_rng(1)
    n = 41
    load = rng.uniform(1.0, 1.6, n)  # a shared machine slows a whole round: both calls alike
    ours, theirs = (_timing(0.1 * c * load * rng.normal(1, 0.01, n)) for c in (1.08, 1.0))
    lo, hi = peers.ratio_ci(ours, theirs)
    assert lo < 1.08 < hi
    # the same runs with the rounds shuffled apart: unpaired, the load no longer cancels
    unpaired = peers.ratio_ci(ours, _timing(rng.permutation(theirs.runs_s)))
    assert hi - lo < (unpaired[1] - unpaired[0]) / 3
    assert peers.ratio_ci(ours, theirs) == (lo, hi)  # a saved run reprints the same interval


def test_ratio_interval_needs_enough_rounds_and_one_run_of_each_per_round(peers):
    few = _timing([1.0] * (peers.MIN_CI_ROUNDS - 1))
    assert peers.ratio_ci(few, few) is None
    enough = _timing([1.0] * peers.MIN_CI_ROUNDS)
    assert peers.ratio_ci(enough, enough) == (1.0, 1.0)
    with pytest.raises(ValueError, match="one run of each per round, got 15 and 14 runs"):
        peers.ratio_ci(enough, few)


def test_verdict_is_decided_only_by_an_interval_on_one_side(peers):
    assert peers.verdict(1.05, 1.10, (1.03, 1.08)) == "met"
    assert peers.verdict(1.12, 1.10, (1.11, 1.14)) == "missed"
    assert peers.verdict(1.09, 1.10, (1.07, 1.12)) == "on the line"
    assert peers.verdict(1.12, 1.10, (1.08, 1.14)) == "on the line"
    assert peers.verdict(0.5, 0.65, None) == "met" and peers.verdict(0.7, 0.65, None) == "missed"


def test_a_run_writes_json_that_reprints_the_same_tables(peers, tmp_path):
    torch = pytest.importorskip("torch")
    out = tmp_path / "peers.json"
    args = ["-s", "8x4x3x2", "-s", "128x64x64x32", "-s", "64x32x16x16x8", "-d", "float64", "--peer", "torch",
            "--min-time", "0", "--min-rounds", str(peers.MIN_CI_ROUNDS), "--json", str(out)]
    threads, state = torch.get_num_threads(), random.getstate()
    try:  # the run sets torch's threads and shuffles with the global random: give them back
        run = CliRunner().invoke(peers.main, args)
    finally:
        torch.set_num_threads(threads)
        random.setstate(state)
    assert run.exit_code == 0, run.output
    doc = json.loads(out.read_text())
    impls = {(r["shape"], r["implementation"]) for r in doc["results"]}
    shapes, implementations = ("8x4x3x2", "128x64x64x32"), ("mlp_xp", "seed", "products", "torch")
    deep = {("64x32x16x16x8", i) for i in ("mlp_xp", "products", "torch")}  # no seed's code for 3 layers
    assert impls == {(s, i) for s in shapes for i in implementations} | deep
    for r in doc["results"]:
        assert len(r["runs_s"]) >= 3 and r["median_s"] > 0
        if r["implementation"] in ("seed", "torch"):  # the same cost and gradient as mlp_xp's
            assert r["cost_diff"] < 1e-12 and r["grad_diff"] < 1e-12
    whats = [(t["shape"], t["what"]) for t in doc["targets"]]
    assert whats == [("8x4x3x2", "time / seed's"), ("128x64x64x32", "time / products"),
                     ("128x64x64x32", "peak memory / seed's"), ("128x64x64x32", "time / torch's"),
                     ("64x32x16x16x8", "time / products"), ("64x32x16x16x8", "peak memory / bound"),
                     ("64x32x16x16x8", "time / torch's")]
    bound = peers.memory_bound(peers.Net.parse("64x32x16x16x8"), 8)
    assert bound == 8 * (64 * (16 + 16) + 2 * 64 * 16 + 2 * (33 * 16 + 17 * 16 + 17 * 8))
    peak = next(r["peak_bytes"] for r in doc["results"]
                if (r["shape"], r["implementation"]) == ("64x32x16x16x8", "mlp_xp"))
    assert [t["value"] for t in doc["targets"] if t["what"] == "peak memory / bound"] == [peak / bound]
    for t in doc["targets"]:
        assert (t["ci95"] is None) == t["what"].startswith("peak memory")
        if t["ci95"] is not None:  # enough rounds: an interval, and a verdict from it
            assert t["ci95"][0] <= t["ci95"][1] and t["verdict"] in ("met", "missed", "on the line")
        assert t["met"] == (t["verdict"] == "met")
    report = CliRunner().invoke(peers.main, ["--report", str(out)])
    assert report.exit_code == 0, report.output
    assert peers.targets_table(doc["targets"]) in report.output
    assert "| 128x64x64x32 | float64 | time / products |" in report.output
    # a file from before the environment had "variables" and targets had verdicts reprints too
    del doc["environment"]["variables"], doc["targets"]
    out.write_text(json.dumps(doc))
    old = CliRunner().invoke(peers.main, ["--report", str(out)])
    assert old.exit_code == 0 and old.output.split("\n", 1)[1] == report.output.split("\n", 1)[1]


def test_elementwise_costs_prints_every_operation_and_mlp_xp_s_sum(peers):
    # run as a script: it imports compare_peers from its own folder, as `python scripts/...` does
    script = str(SCRIPTS / "elementwise_costs.py")
    run = subprocess.run([sys.executable, script, "-s", "64x8x32x4", "--rounds", "3"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    for operation in ("five products", "tanh into a fresh array", "tanh into an existing array (out=)",
                      "row-broadcast add (z += b1)", "multiply by an array (delta *= h)", "column sum"):
        assert f"| {operation}" in run.stdout
    medians = dict(re.findall(r"^\| ([^|]+?) \| ([\d.e+-]+) \|", run.stdout, re.MULTILINE))
    total = re.search(r"mlp_xp's passes over M x H \(.*\): ([\d.e+-]+) ms, ([\d.]+)% of", run.stdout)
    assert total and medians
    passes = load_script("elementwise_costs").MLP_XP_PASSES  # it finds compare_peers loaded by `peers`
    expected = sum(n * float(medians[name]) for name, n in passes.items())
    assert float(total[1]) == pytest.approx(expected, rel=0.02)
    assert float(total[2]) == pytest.approx(100 * expected / float(medians["five products"]), rel=0.02)
    bad = subprocess.run([sys.executable, script, "-s", "64x8"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "Invalid value for --shape: expected M x Dx x H x Dy" in bad.stderr
    assert "Traceback" not in bad.stderr


@pytest.mark.parametrize("value", ["inf", "nan", "3601", "-1"])
def test_min_time_must_be_a_finite_bounded_number(peers, value):
    # an infinite --min-time would keep the interleaved rounds going forever
    run = CliRunner().invoke(peers.main, ["--min-time", value])
    assert run.exit_code == 2 and "--min-time" in run.output


def test_compare_versions_times_this_checkout_against_a_commit(peers):
    script = SCRIPTS / "compare_versions.py"
    if not (SCRIPTS.parent / ".git").exists():
        pytest.skip("compare_versions.py exports the older commit with git: no git checkout here")
    run = subprocess.run([sys.executable, str(script), "--base", "HEAD", "-s", "8x4x3x2", "-d", "float64",
                          "--min-rounds", "15"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    line = re.search(r"^8x4x3x2 float64: new .* ms; new/old ([\d.]+) \[([\d.]+), ([\d.]+)\]; "
                     r"cost diff (\S+), grad diff (\S+)$", run.stdout, re.MULTILINE)
    assert line, run.stdout
    ratio, lo, hi = map(float, line.groups()[:3])
    assert lo <= ratio <= hi
    # HEAD's network may differ from the working tree's only by rounding
    assert float(line[4]) < 1e-12 and float(line[5]) < 1e-12
    bad = subprocess.run([sys.executable, str(script), "--base", "no-such-commit"], capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 2 and "git cannot export mlp_xp at 'no-such-commit'" in bad.stderr
    assert "Traceback" not in bad.stderr and bad.stderr.count("\n") == 1
