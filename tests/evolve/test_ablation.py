"""The ablation at smoke scale, through the command: rows, columns, plot, resumption, settings
checks. Values are not asserted (smoke training learns little); structure and bookkeeping are."""

import dataclasses
import json
import math
import re
import shutil
import statistics

import pytest

from evonorm.cli import main
from evonorm.evolve import Search, open_storage
from evonorm.evolve.ablation import (
    RERANKED,
    AblationConfig,
    Point,
    Rescored,
    collect,
    finalists,
    random_samples,
    rerank_pick,
)
from evonorm.proxy.presets import get_preset
from evonorm.space import KNOWN_LAYERS
from evonorm.tracking.ablation import NOTES_MARKER

ROWS = [
    "BN-ReLU",
    "BN-SiLU",
    "GN-ReLU",
    "EvoNorm-B0",
    "EvoNorm-S0",
    "Random",
    "Random + rejection",
    "RS + rejection",
    "Evolution",
]
ARGS = [
    "--preset",
    "smoke",
    "--budget",
    "6",
    "--seeds",
    "2",
    "--samples",
    "2",
    "--population",
    "2",
    "--tournament",
    "2",
    "--warmup",
    "1",
    "--jobs",
    "1",
    "--rescore-seeds",
    "1",
    "--rerank-top",
    "1",
    "--rerank-seeds",
    "1",
]
CONFIG = AblationConfig(
    preset="smoke",
    budget=6,
    seeds=2,
    samples=2,
    population=2,
    tournament=2,
    warmup=1,
    rescore_seeds=1,
    rerank_top=1,  # one finalist, one seed: a cheap fixture; the choice among more is tested below
    rerank_seeds=1,
)


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    root = tmp_path_factory.mktemp("ablation")
    out = root / "docs" / "results.md"
    assert main(["experiment", "ablation", *ARGS, "--root", str(root / "r"), "-o", str(out)]) == 0
    return root / "r", out


def table(text):
    return next(b for b in text.split("\n\n") if b.startswith("| layer |")).splitlines()


def table_rows(text):
    return [line.split(" | ") for line in table(text)[2:]]


def test_results_have_every_row_and_column_and_the_plot(ran):
    _, out = ran
    text = out.read_text()
    header = table(text)[0]
    for arch in ("resnet", "mobilenet_v2", "efficientnet_b0"):
        assert f" {arch} |" in header
    assert header.count("(held-out)") == 2
    rows = table_rows(text)
    assert [r[0].lstrip("| ") for r in rows] == ROWS
    for r in rows:
        assert len(r) == 2 + 5 + 1  # name, n, five columns, mean
        for cell in r[2:7]:
            assert re.fullmatch(r"\d+\.\d ± \d+\.\d", cell.strip(" |")), cell
    assert rows[0][1] == "2 seeds" and rows[5][1] == "4 samples"
    plot = out.with_name("results-best-so-far.png")
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "](results-best-so-far.png)" in text
    assert "evonorm experiment ablation --preset smoke --budget 6" in text
    assert "≤ N/3 = 2 candidates" in text
    searches, rescored = text.split("### Best-so-far layers re-scored")
    assert searches.count("| 0 | random |") == 1  # its curve
    assert searches.count("| 1 | evolution |") == 2  # its curve and its efficiency line
    assert "| 0 | bn_relu | reference |" in rescored  # without the warm arm, BN-ReLU only
    assert "| bn_silu | reference |" not in rescored and "Warm start against" not in rescored


def test_every_row_trained_on_every_column_and_searches_spent_the_budget(ran):
    root, _ = ran
    result = collect(CONFIG, root)
    for row in result.rows:
        expected = {"seeds": 2, "samples": None}[row.over]
        sizes = {len(v) for v in row.cells.values()}
        assert len(sizes) == 1, row.name  # every column has the same layers
        if expected:
            assert sizes == {expected}, row.name
    assert sorted((c.arm, c.seed) for c in result.curves) == [
        ("evolution", 0),
        ("evolution", 1),
        ("random", 0),
        ("random", 1),
    ]
    for curve in result.curves:
        assert len(curve.best) == 6
        finite = [b for b in curve.best if b == b]
        assert finite == sorted(finite)  # best-so-far never drops
    rs0 = next(c for c in result.curves if c.arm == "random" and c.seed == 0)
    assert rs0.accepted + rs0.rejected + rs0.duplicates == 6  # smoke: no errors
    random_row = next(r for r in result.rows if r.name == "Random")
    assert random_row.layers[0] == random_samples(CONFIG, 0)[0].formula()


def test_a_second_run_resumes_without_training_anything(ran, capsys):
    root, out = ran
    before = (root / "trainings.jsonl").read_text()
    out.write_text(out.read_text().replace("(not written yet)", "hand-written analysis"))
    assert main(["experiment", "ablation", *ARGS, "--root", str(root), "-o", str(out)]) == 0
    assert (root / "trainings.jsonl").read_text() == before
    assert "trained " not in capsys.readouterr().err
    text = out.read_text()
    assert text.count(NOTES_MARKER) == 1 and "hand-written analysis" in text


def test_other_settings_on_the_same_root_are_refused(ran, capsys):
    root, out = ran
    args = [a if a != "2" else "3" for a in ARGS]  # --seeds 3 ... (and samples/pop/tournament)
    assert main(["experiment", "ablation", *args, "--root", str(root), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("evonorm: error: ablation in") and "samples: stored 2, asked 3" in err
    assert "seeds: stored" not in err  # seeds, like the budget and the arms, may grow
    assert json.loads((root / "config.json").read_text())["samples"] == 2


def test_a_root_keeps_its_improved_warmup(ran, capsys):
    root, out = ran  # ran with the default warm-up of 1
    args = [*ARGS, "--improved-warmup", "3", "--root", str(root), "-o", str(out)]
    assert main(["experiment", "ablation", *args]) == 2
    assert "improved_warmup: stored 1, asked 3" in capsys.readouterr().err


def test_a_root_keeps_whether_its_warm_arm_keeps_its_seeds(ran, capsys):
    root, out = ran
    args = [*ARGS, "--warm-keep-seeds", "--root", str(root), "-o", str(out)]
    assert main(["experiment", "ablation", *args]) == 2
    assert "warm_keep_seeds: stored False, asked True" in capsys.readouterr().err


def test_a_root_keeps_its_near_miss_share_and_refuses_a_bad_one(ran, capsys):
    root, out = ran
    args = [*ARGS, "--improved-near-misses", "0.25", "--root", str(root), "-o", str(out)]
    assert main(["experiment", "ablation", *args]) == 2
    assert "improved_near_misses: stored 0.0, asked 0.25" in capsys.readouterr().err
    args = [*ARGS, "--improved-near-misses", "2", "--root", str(root / "new"), "-o", str(out)]
    assert main(["experiment", "ablation", *args]) == 2
    assert "near_misses must be a probability in [0, 1], got 2.0" in capsys.readouterr().err
    assert not (root / "new").exists()


def test_arms_added_later_run_beside_the_first_and_get_their_rows(ran, capsys):
    """The improved and warm-started arms join a finished ablation: the random and paper arms
    are not re-run, and the new rows and efficiency lines appear."""
    root, out = ran
    before = {p.name: p.read_bytes() for p in root.glob("*-s*.log")}
    args = [*ARGS, "--arms", "random", "evolution", "improved", "warm"]
    assert main(["experiment", "ablation", *args, "--root", str(root), "-o", str(out)]) == 0
    for name, data in before.items():
        assert (root / name).read_bytes() == data, name
    text = out.read_text()
    names = [r[0].lstrip("| ") for r in table_rows(text)]
    assert names == [*ROWS, "Evolution, improved", "Evolution, warm start"]
    assert re.search(r"\| 0 \| improved \| [\d.]+ \| [\d.]+ \|", text)
    assert "| 1 | warm |" in text
    rescored = text[text.index("### Best-so-far layers re-scored") :]
    for arm, at in [("bn_relu", "reference"), ("random", "N"), ("improved", "half CPU")]:
        assert f"| 0 | {arm} | {at} |" in rescored, (arm, at)
    assert re.search(r"\| 1 \| improved \| (yes|no) \([+-]\d+\.\d\) \|", rescored)
    assert " (1) |" in rescored and " (0) |" not in rescored  # every point trained once
    for seed in (0, 1):  # the warm arm's target needs every known layer re-scored beside it
        for known in ("bn_silu", "gn_relu", "evonorm_b0", "evonorm_s0"):
            assert f"| {seed} | {known} | reference |" in rescored, (seed, known)
    warm_target = rescored[rescored.index("Warm start against the best known layer") :]
    for seed in (0, 1):  # one re-scoring seed: no std, so the target cannot be judged
        for at in ("N", RERANKED):
            assert re.search(
                rf"\| {seed} \| {at} \| `.+` \| \S+ [\d.]+ \| [+-][\d.]+ \| – \| .+ \| – \|",
                warm_target,
            ), (seed, at)
    config = dataclasses.replace(CONFIG, arms=("improved", "warm"))
    result = collect(config, root)
    warm = next(c for c in result.curves if c.arm == "warm" and c.seed == 0)
    assert len(warm.best) == 6 and warm.spent == sorted(warm.spent)
    capsys.readouterr()
    assert main(["experiment", "ablation", *ARGS, "--arms", "tabu", "--root", str(root)]) == 2
    assert "arms must be some of random, evolution, improved, warm" in capsys.readouterr().err


def test_each_arm_names_its_best_at_n_by_the_rerank_pick(ran):
    """The pick retrains each search's top layers on the anchors only, with pick seeds, on the
    search split; the layer with the best mean is re-scored like every other point."""
    root, out = ran
    anchors = set(get_preset("smoke").anchor_names)
    rows = [json.loads(line) for line in (root / "trainings.jsonl").read_text().splitlines()]
    picks = [r for r in rows if r.get("train_seed", r["seed"]) >= 200]
    assert {r["train_seed"] for r in picks} == {200}
    assert {r["arch"] for r in picks} == anchors and {r["split"] for r in picks} == {"search"}
    assert all("split" not in r for r in rows if r.get("train_seed", r["seed"]) < 200)
    result = collect(CONFIG, root)
    reranked = {(r.point.seed, r.point.arm): r for r in result.rescored if r.point.at == RERANKED}
    for seed in (0, 1):
        for arm in ("random", "evolution"):
            search = Search.open(
                f"{arm}-s{seed}", open_storage(f"journal:{root}/{arm}-s{seed}.log")
            )
            top = finalists([r for r in search.records() if r.status][:6], 1)
            if not top:
                assert (seed, arm) not in reranked
                continue
            means = [
                statistics.fmean(
                    r["result"]["accuracy"]
                    for r in picks
                    if (r["hash"], r["seed"]) == (g.structural_hash(), seed)
                )
                for _, g in top
            ]
            chosen = reranked[(seed, arm)]
            assert chosen.point.graph == top[means.index(max(means))][1]
            assert all(len(chosen.cells[a]) == 1 for a in CONFIG.archs)  # re-scored everywhere
    text = out.read_text()
    assert "reranked at N ≥ BN-ReLU (anchors, held-out)" in text
    assert f"| 0 | evolution | {RERANKED} |" in text


def test_finalists_are_the_top_distinct_scores_in_order():
    graphs = [KNOWN_LAYERS[n].to_dict() for n in ("bn_relu", "bn_silu", "evonorm_b0")]

    class R:
        def __init__(self, status, values, graph):
            self.status, self.values, self.attrs = status, values, {"graph": graph}

    recorded = [
        R("accepted", [0.5, 0.7], graphs[0]),
        R("rejected", None, graphs[1]),
        R("accepted", [0.5, 0.7], graphs[1]),  # a score-identical repeat: no second place
        R("accepted", [0.8, 0.8], graphs[2]),
        R("accepted", [0.6, 0.6], graphs[1]),
    ]
    top = finalists(recorded, 2)
    assert [score for score, _ in top] == pytest.approx([0.8, 0.6])
    assert [g.to_dict() for _, g in finalists(recorded, 5)] == [graphs[2], graphs[0], graphs[1]]
    with pytest.raises(ValueError, match="rerank_top"):
        AblationConfig(preset="smoke", rerank_top=-1)
    with pytest.raises(ValueError, match="rerank_seeds"):
        AblationConfig(preset="smoke", rerank_seeds=0)


def test_the_pick_takes_the_best_anchor_mean_of_the_finalists_once_all_are_trained():
    class R:
        def __init__(self, values, name):
            self.status, self.values = "accepted", values
            self.attrs = {"graph": KNOWN_LAYERS[name].to_dict()}

    config = dataclasses.replace(CONFIG, budget=3, rerank_top=2, rerank_seeds=2)
    recorded = [R([0.9, 0.9, 0.9], "bn_relu"), R([0.5] * 3, "bn_silu"), R([0.8] * 3, "gn_relu")]
    anchors = get_preset("smoke").anchor_names
    done = {}
    for name, accuracy in (("bn_relu", 0.6), ("gn_relu", 0.7), ("bn_silu", 0.99)):
        for arch in anchors:
            for t in (200, 201):
                done[(KNOWN_LAYERS[name].structural_hash(), arch, 1, t)] = {
                    "result": {"accuracy": accuracy}
                }
    point = rerank_pick(config, 1, "improved", recorded, done)
    assert point.graph == KNOWN_LAYERS["gn_relu"]  # bn_silu is not a finalist: third by score
    assert (point.at, point.candidates, point.search_score) == (RERANKED, 3, pytest.approx(0.8))
    del done[(KNOWN_LAYERS["bn_relu"].structural_hash(), anchors[0], 1, 201)]
    assert (
        rerank_pick(config, 1, "improved", recorded, done) is None
    )  # waits for every pick training
    assert (
        rerank_pick(config, 1, "improved", recorded[:2], done) is None
    )  # the search is short of N


def test_the_seed_std_is_the_spread_of_the_per_seed_means_over_networks():
    point = Point(0, "bn_relu", "reference", KNOWN_LAYERS["bn_relu"], 0, float("nan"))
    r = Rescored(point, {"a": [0.70, 0.80, 0.90], "b": [0.72, 0.78, 0.90], "c": [0.5]})
    assert r.seed_std(["a", "b"]) == pytest.approx(statistics.stdev([0.71, 0.79, 0.90]))
    assert math.isnan(r.seed_std(["a", "c"]))  # one seed on c: no spread to speak of
    assert r.mean(["a", "b"]) == pytest.approx(statistics.fmean([0.7, 0.8, 0.9, 0.72, 0.78, 0.9]))
    assert math.isnan(r.mean(["a", "d"]))  # d not trained yet: no mean over part of the set


def test_each_arm_is_the_search_it_names():
    paper, improved, warm = (CONFIG.search_config(a, 1) for a in ("evolution", "improved", "warm"))
    assert (paper.mutations, paper.distinct, paper.repeats, paper.seed_layers) == (
        None,
        False,
        1,
        (),
    )
    assert improved.mutations == CONFIG.improved_mutations and improved.distinct
    assert improved.repeats == 2 and improved.seed_layers == () and improved.seed == 1
    assert (paper.warmup, improved.warmup) == (1, 1)
    wide = dataclasses.replace(CONFIG, improved_warmup=3).search_config("improved", 1)
    assert wide.warmup == 2  # capped by the population of 2
    assert warm.seed_layers == ("bn_relu", "bn_silu", "evonorm_b0", "evonorm_s0")
    assert CONFIG.search_config("random", 0).strategy == "random"
    assert improved.near_misses == paper.near_misses == 0.0
    near = dataclasses.replace(CONFIG, improved_near_misses=0.25)
    assert [near.search_config(a, 0).near_misses for a in ("evolution", "improved", "warm")] == [
        0.0,
        0.25,
        0.25,
    ]
    scales = [CONFIG.search_config(a, 0).up_to_scale for a in ("random", "evolution", "improved")]
    assert scales == [False, False, True] and CONFIG.search_config("warm", 0).up_to_scale
    assert "normalise" in CONFIG.improved_mutations
    kept = dataclasses.replace(CONFIG, warm_keep_seeds=True)
    assert [kept.search_config(a, 0).keep_seeds for a in ("evolution", "improved", "warm")] == [
        False,
        False,
        True,
    ]
    assert not CONFIG.search_config("warm", 0).keep_seeds


def test_a_root_written_before_up_to_scale_existed_reads_as_without_it(ran, capsys, tmp_path):
    root, out = shutil.copytree(ran[0], tmp_path / "r"), tmp_path / "results.md"
    path = root / "config.json"
    stored = json.loads(path.read_text())
    assert stored["improved_up_to_scale"] is True  # written by this code: the default
    del stored["improved_up_to_scale"]  # as ablation-D's was written
    path.write_text(json.dumps(stored))
    args = [*ARGS, "--root", str(root), "-o", str(out)]
    assert main(["experiment", "ablation", *args]) == 2
    assert "improved_up_to_scale: stored False, asked True" in capsys.readouterr().err
    mix = ",".join(f"{k}={v:g}" for k, v in stored["improved_mutations"].items())
    again = [*args, "--no-improved-up-to-scale", "--improved-mutations", mix]
    assert main(["experiment", "ablation", *again]) == 0
    assert "improved_up_to_scale" not in json.loads(path.read_text())  # the root is kept as is


def test_an_ablation_run_under_another_preset_revision_is_refused(ran, capsys):
    root, out = ran
    config = json.loads((root / "config.json").read_text())
    stored = dict(config)
    before = (root / "trainings.jsonl").read_text()
    (root / "config.json").write_text(json.dumps({**config, "preset_revision": "0123456789"}))
    assert main(["experiment", "ablation", *ARGS, "--root", str(root), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "revision 0123456789" in err and f"now revision {config['preset_revision']}" in err
    del config["preset_revision"]  # as written before revisions were recorded
    (root / "config.json").write_text(json.dumps(config))
    assert main(["experiment", "ablation", *ARGS, "--root", str(root), "-o", str(out)]) == 2
    assert "revision not recorded" in capsys.readouterr().err
    assert (root / "trainings.jsonl").read_text() == before
    (root / "config.json").write_text(json.dumps(stored))  # the module's root, as it was


def test_a_search_of_another_fingerprint_version_is_not_grown_but_still_collected(
    ran, capsys, tmp_path
):
    root, out = shutil.copytree(ran[0], tmp_path / "r"), tmp_path / "results.md"
    search = Search.open("evolution-s1", open_storage(f"journal:{root / 'evolution-s1.log'}"))
    search.study.set_user_attr(
        "evonorm.config", {**search.config.to_attrs(), "fingerprint_version": 1}
    )
    files = {p.name: p.read_bytes() for p in root.iterdir()}
    grown = [a if a != "6" else "7" for a in ARGS]  # --budget 7
    assert main(["experiment", "ablation", *grown, "--root", str(root), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "search 'evolution-s1' was fingerprinted by version 1" in err
    assert {p.name: p.read_bytes() for p in root.iterdir()} == files  # wall time included
    at = ARGS.index("--seeds") + 1
    more = [*ARGS[:at], "3", *ARGS[at + 1 :]]  # finished searches, but a new seed beside them
    assert main(["experiment", "ablation", *more, "--root", str(root), "-o", str(out)]) == 2
    assert "fingerprinted by version 1" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in root.iterdir()} == files
    assert main(["experiment", "ablation", *ARGS, "--root", str(root), "-o", str(out)]) == 0


def test_bad_settings_are_one_clear_error(tmp_path, capsys):
    args = [
        "experiment",
        "ablation",
        "--preset",
        "smoke",
        "--held-out",
        "lenet",
        "--root",
        str(tmp_path / "r"),
        "-o",
        str(tmp_path / "x.md"),
    ]
    assert main(args) == 2
    assert "no architecture 'lenet'" in capsys.readouterr().err
    assert not (tmp_path / "r").exists() and not (tmp_path / "x.md").exists()
    for odd in (["vgg", "resnet"], ["vgg", "vgg"]):  # an anchor; a network twice
        at = args.index("lenet")
        assert main([*args[:at], *odd, *args[at + 1 :]]) == 2
        err = capsys.readouterr().err
        assert "held-out networks must be distinct ones among resnet_basic, mnasnet, vgg" in err
        assert f"got {' '.join(odd)}" in err
        assert not (tmp_path / "r").exists() and not (tmp_path / "x.md").exists()
    with pytest.raises(ValueError, match="warmup"):
        AblationConfig(preset="smoke", population=2, tournament=2, warmup=3)


def test_a_killed_sitting_still_counts_its_wall_time(tmp_path):
    """Sittings end by kill (a session's end, `pkill`): the wall time must not wait for a
    clean exit, or the report under-counts what the ablation cost."""
    import contextlib
    import os
    import signal
    import subprocess
    import sys
    import time

    root = tmp_path / "r"
    run = "import sys; from evonorm.cli import main; sys.exit(main(sys.argv[1:]))"
    args = [*ARGS[:2], "--budget", "2", *ARGS[4:]]
    command = [sys.executable, "-c", run, "experiment", "ablation", *args]
    err = tmp_path / "stderr"
    proc = subprocess.Popen(
        [*command, "--root", str(root), "-o", str(tmp_path / "x.md")],
        stderr=err.open("w"),
        stdout=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the kill takes the workers too
    )
    try:
        wall = root / "wall_seconds"  # written as the first job (a search) finishes
        start = time.monotonic()
        while not wall.exists() and proc.poll() is None:
            assert time.monotonic() < start + 180, "no wall time on disk after 180 s"
            time.sleep(0.1)
        assert proc.poll() is None, f"the ablation ended before the kill: {err.read_text()}"
    finally:
        with contextlib.suppress(ProcessLookupError):  # a group already gone: the assert says why
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert 0 < float(wall.read_text()) < time.monotonic() - start + 60  # + the start-up


def test_held_out_networks_may_be_added_to_a_root_but_never_dropped(ran, capsys, tmp_path):
    """Adding a held-out network trains every row and re-scored point on it and nothing else;
    dropping one is refused before anything is written."""
    root, out = shutil.copytree(ran[0], tmp_path / "r"), tmp_path / "results.md"
    searches = {p.name: p.read_bytes() for p in root.glob("*-s*.log")}
    before = (root / "trainings.jsonl").read_text().splitlines()
    three = [*ARGS, "--held-out", "resnet_basic", "mnasnet", "vgg", "--root", str(root)]
    assert main(["experiment", "ablation", *three, "-o", str(out)]) == 0
    assert {p.name: p.read_bytes() for p in root.glob("*-s*.log")} == searches
    after = (root / "trainings.jsonl").read_text().splitlines()
    assert after[: len(before)] == before
    added = [json.loads(line) for line in after[len(before) :]]
    assert added and {row["arch"] for row in added} == {"mnasnet"}
    config = dataclasses.replace(CONFIG, held_out=("resnet_basic", "mnasnet", "vgg"))
    result = collect(config, root)
    for r in result.rescored:
        assert len(r.cells["mnasnet"]) == 1, r.point  # every point re-scored there too
    assert all(len(set(map(len, row.cells.values()))) == 1 for row in result.rows)
    assert json.loads((root / "config.json").read_text())["held_out"] == list(config.held_out)
    text = out.read_text()
    assert table(text)[0].count("(held-out)") == 3
    assert "held-out: the mean over resnet_basic, mnasnet, vgg; each network's lead" in text
    assert "| anchors | held-out | resnet_basic | mnasnet | vgg |" in text
    assert re.search(r"(yes|no) \([+-]\d+\.\d; resnet_basic [+-]\d+\.\d; mnasnet [+-]", text)

    files = {p.name: p.read_bytes() for p in root.iterdir()}
    assert main(["experiment", "ablation", *ARGS, "--root", str(root), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "scores the held-out networks resnet_basic mnasnet vgg" in err
    assert "not drop mnasnet" in err and "(--held-out resnet_basic mnasnet vgg)" in err
    assert {p.name: p.read_bytes() for p in root.iterdir()} == files
