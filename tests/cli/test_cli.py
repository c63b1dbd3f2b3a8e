import json
import os
import subprocess
import sys

import pytest

from evonorm import LayerGraph
from evonorm.cli import main


def run_cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "evonorm", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def test_layer_show_known(capsys):
    assert main(["layer", "show", "evonorm_s0"]) == 0
    out = capsys.readouterr().out
    assert "formula:     x*sigmoid(v1*x) / std_group(x)" in out
    assert "space:       S (no batch statistics)" in out
    assert "nodes:       9 (4 initial + 5 ops, 0 dead)" in out
    assert "parameters:  3 per channel (weight, bias, v1)" in out


def test_layer_show_file_counts_dead_nodes(tmp_path, capsys):
    path = tmp_path / "mine.json"
    g = LayerGraph.from_json(
        '{"schema": "evonorm.graph/v1", "space": "B", "nodes": ['
        '{"op": "tanh", "inputs": [0]}, {"op": "std_batch", "inputs": [0]},'
        '{"op": "div", "inputs": [0, 5]}]}'
    )
    path.write_text(g.to_json())
    assert main(["layer", "show", str(path)]) == 0
    out = capsys.readouterr().out
    assert "name:        mine" in out and "1 dead" in out and "running:     1 per channel" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"schema": "evonorm.graph/v1", "nodes": [{"op": "add", "inputs": [0]}]}', "node 4 (add)"),
        ("{oops", "malformed graph JSON"),
        (None, "cannot read"),
    ],
)
def test_bad_file_gives_one_line_and_exit_2(tmp_path, content, message):
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_text(content)
    result = run_cli("layer", "show", str(path))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and str(path) in lines[0]


def test_unknown_name_exit_2(capsys):
    assert main(["layer", "show", "evonorm_b9"]) == 2
    assert "neither a known layer" in capsys.readouterr().err


def test_layer_random_prints_valid_reproducible_json(capsys):
    assert main(["layer", "random", "--space", "S", "--seed", "4"]) == 0
    first = capsys.readouterr().out
    assert main(["layer", "random", "--space", "S", "--seed", "4"]) == 0
    assert capsys.readouterr().out == first
    g = LayerGraph.from_json(first)
    assert g.space == "S" and g.num_nodes == 14
    assert main(["layer", "random", "--nodes", "3"]) == 2


def test_missing_data_names_files_and_fix(tmp_path):
    result = run_cli(
        "evaluate",
        "evonorm_s0",
        "--preset",
        "smoke",
        env={"EVONORM_FASHION_MNIST_DIR": str(tmp_path / "none")},
    )
    assert result.returncode == 2
    assert "train-images-idx3-ubyte.gz" in result.stderr and "make data" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_evaluate_known_layer_json():
    result = run_cli("evaluate", "evonorm_s0", "--preset", "smoke", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["accepted"] is True and out["stage"] == "accepted" and out["reason"] == ""
    assert set(out["accuracy"]) == {"resnet", "mobilenet_v2", "efficientnet_b0"}
    assert out["seconds"] > 0 and "stability on resnet" in result.stderr


def test_evaluate_rejects_an_explosive_file_with_stage_and_reason(tmp_path):
    path = tmp_path / "explosive.json"
    path.write_text(
        '{"schema": "evonorm.graph/v1", "space": "B", "nodes": '
        '[{"op": "exp", "inputs": [0]}, {"op": "mul", "inputs": [4, 4]}]}'
    )
    result = run_cli("evaluate", str(path), "--preset", "smoke", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["accepted"] is False and out["stage"] == "stability"
    assert "exceeds" in out["reason"] and out["metrics"]["grad_norm/resnet"] == "inf"


def test_evaluate_unknown_arch_exit_2():
    result = run_cli("evaluate", "evonorm_b0", "--preset", "smoke", "--arch", "alexnet")
    assert result.returncode == 2 and "no architecture 'alexnet'" in result.stderr


def test_baselines_smoke_writes_a_table(tmp_path):
    out = tmp_path / "baselines.md"
    result = run_cli(
        "baselines",
        "--preset",
        "smoke",
        "--seeds",
        "0",
        "1",
        "--layers",
        "bn_relu",
        "evonorm_s0",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert "| layer | resnet | mobilenet_v2 | efficientnet_b0 | s / run |" in text
    assert text.count("\n| bn_relu |") == 1 and text.count("\n| evonorm_s0 |") == 1
    assert (
        "BN-ReLU seed-to-seed std" in text and "Command: `evonorm baselines --preset smoke" in text
    )
    assert not out.with_suffix(".md.tmp").exists()
    assert run_cli("baselines", "--preset", "smoke", "--layers", "nope").returncode == 2
