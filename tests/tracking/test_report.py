import subprocess
import sys

from evonorm.evolve import Outcome, Search, SearchConfig, open_storage
from evonorm.evolve.after import ranked
from evonorm.evolve.steps import generate, record
from evonorm.tracking.report import _pct, threads_line

ANCHORS = ("resnet", "mobilenet_v2", "efficientnet_b0")


def test_report_ranks_by_pareto_front_then_mean_and_writes_figures(tmp_path):
    storage = f"journal:{tmp_path / 'runs/s/optuna.log'}"
    search = Search.open("s", open_storage(storage), SearchConfig(preset="smoke"))
    scores = [(0.9, 0.1, 0.5), (0.5, 0.5, 0.5), (0.4, 0.4, 0.4), (0.1, 0.9, 0.6)]
    candidates = generate(search, 5)
    for c, s in zip(candidates, scores, strict=False):
        record(search, Outcome(c.trial, "accepted", scores=dict(zip(ANCHORS, s, strict=True))))
    record(search, Outcome(candidates[4].trial, "rejected", stage="quality", reason="low"))
    order = [r.number for r in ranked(search.records())]
    assert order == [3, 0, 1, 2]  # front {0, 1, 3} by mean (0.533, 0.5, 0.5 → 3 first), then 2
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "evonorm",
            "report",
            "s",
            "--runs",
            str(tmp_path / "runs"),
            "--top",
            "3",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    folder = tmp_path / "runs/s/report"
    text = (folder / "report.md").read_text()
    assert "**5 candidates recorded**: 4 accepted, 1 rejected" in text
    assert "| quality | 1 |" in text
    assert "| fingerprint_version | 2 |" in text  # what the study stores (tests/evolve: 1)
    assert text.count("](layer_") == 3
    for name in ("pareto_front.png", "best_so_far.png", "rejection_funnel.png", "layer_3.png"):
        assert (folder / name).stat().st_size > 1000
    missing = subprocess.run(
        [sys.executable, "-m", "evonorm", "report", "nope", "--runs", str(tmp_path / "runs")],
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 2 and "no study storage" in missing.stderr


def test_spreads_are_sample_stds_over_seeds():
    assert _pct([0.8, 0.9]) == "85.00 ± 7.07"  # a population std would print 5.00
    assert _pct([0.8]) == "80.00 ± 0.00"


def test_the_report_says_when_scores_mix_thread_counts(tmp_path):
    search = Search.open(
        "t", open_storage(f"journal:{tmp_path / 't.log'}"), SearchConfig(preset="smoke")
    )
    scores = dict(zip(ANCHORS, (0.5, 0.5, 0.5), strict=True))
    candidates = generate(search, 4)
    for c, threads in zip(candidates[:2], (1, 1), strict=True):
        record(search, Outcome(c.trial, "accepted", scores=scores, metrics={"threads": threads}))
    assert threads_line(search.records()).endswith(": 1 (every accepted layer).")
    record(search, Outcome(candidates[2].trial, "accepted", scores=scores, metrics={"threads": 2}))
    record(search, Outcome(candidates[3].trial, "accepted", scores=scores))  # older code
    line = threads_line(search.records())
    assert line.startswith("**Accepted layers were scored under several torch thread counts**")
    assert "(threads=1: 2; threads=2: 1; not recorded: 1)" in line
