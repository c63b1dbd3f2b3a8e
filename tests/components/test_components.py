"""Every component: a README, our image, no run-time installs; each one's function through
``.python_func`` on a real (JournalFile) smoke study, and one through the KFP local runner."""

import json
from pathlib import Path

import pytest
from kfp import local

import components as package
from components.finalize.component import finalize
from components.generate.component import generate
from components.init_study.component import init_study
from components.plan.component import plan
from components.prepare_data.component import prepare_data
from components.record.component import record
from components.register.component import register
from components.reject.component import reject
from components.rerank.component import rerank
from components.train.component import train
from components.transfer.component import transfer
from evonorm.evolve import Search, open_storage
from evonorm.evolve.after import rerank_summary
from evonorm.tracking.gate import evidence_from_rerank, verdict
from evonorm.workflow.images import BASE_IMAGE, CUDA_IMAGE

FOLDER = Path(package.__file__).parent
COMPONENTS = {
    "finalize": finalize,
    "generate": generate,
    "init_study": init_study,
    "plan": plan,
    "prepare_data": prepare_data,
    "record": record,
    "register": register,
    "reject": reject,
    "rerank": rerank,
    "train": train,
    "transfer": transfer,
}
GPU = {"train", "rerank", "transfer"}


def test_every_component_folder_is_documented_and_runs_in_our_image():
    folders = {p.name for p in FOLDER.iterdir() if (p / "component.py").exists()}
    assert folders == set(COMPONENTS)
    for name, component in COMPONENTS.items():
        readme = (FOLDER / name / "README.md").read_text()
        assert "**Inputs:**" in readme and "**Output:**" in readme and "**Resources:**" in readme
        container = component.component_spec.implementation.container
        assert container.image == (CUDA_IMAGE if name in GPU else BASE_IMAGE)
        assert "pip install" not in " ".join(container.command or []) + " ".join(
            container.args or []
        )


def test_the_steps_through_python_func_on_a_smoke_study(tmp_path):
    storage = f"journal:{tmp_path / 'study.log'}"
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    sizes = json.loads(prepare_data.python_func(preset="smoke"))
    assert sizes["dataset"] == "fashion_mnist" and sizes["fit"] == 2048
    census = json.loads(
        init_study.python_func(
            study="s",
            storage=storage,
            preset="smoke",
            space="B",
            strategy="evolution",
            population=3,
            tournament=2.0,
            selection="pareto",
            seed=0,
            pipeline_run="run-1",
        )
    )
    assert census == {"done": 0, "accepted": 0, "recovered": []}
    assert plan.python_func(generations=3, after="") == [0, 1, 2]
    with pytest.raises(ValueError, match="generations must be >= 1"):
        plan.python_func(generations=0, after="")

    outcomes = []
    for _ in range(2):  # two generations of two
        born = generate.python_func(
            study="s", storage=storage, count=2, pipeline_run="run-1", after=[0]
        )
        assert len(born) == 2
        for candidate in born:
            screened = reject.python_func(
                study="s", storage=storage, candidate=candidate, memory_mb=2048, seconds=0.0
            )
            assert "verdict" in json.loads(screened)
            outcomes.append(
                train.python_func(
                    study="s",
                    storage=storage,
                    screened=screened,
                    device="cpu",
                    memory_mb=2048,
                    seconds=0.0,
                )
            )
        told = json.loads(
            record.python_func(study="s", storage=storage, outcomes=outcomes[-2:], tracking_uri=uri)
        )
        assert told["recorded"] == 2
    assert told["done"] == 4
    accepted = [json.loads(o) for o in outcomes if json.loads(o)["status"] == "accepted"]
    assert accepted, "smoke layers (quality threshold 0) should mostly be accepted"

    kept = json.loads(
        rerank.python_func(
            study="s",
            storage=storage,
            top=1,
            seeds=[0],
            archs=["resnet", "resnet_basic"],
            device="cpu",
            after=[],
        )
    )
    assert list(kept) == ["s-B0"]
    moved = json.loads(transfer.python_func(study="s", storage=storage, tasks=[], after=""))
    assert moved == {}
    published = json.loads(
        register.python_func(study="s", storage=storage, tracking_uri=uri, after="")
    )
    summary = rerank_summary(Search.open("s", open_storage(storage)))
    gate = verdict(evidence_from_rerank(summary, summary["kept"]["s-B0"], "s"))
    alias = "champion" if gate.passed else "challenger"
    assert published == [
        {
            "name": "s-B0",
            "version": 1,
            "aliases": [alias],
            "gate": gate.passed,
            "reason": gate.reason,
        }
    ]


def test_a_crashed_runs_trials_are_recovered_by_the_next_run(tmp_path):
    storage = f"journal:{tmp_path / 'study.log'}"
    settings = {
        "study": "s",
        "storage": storage,
        "preset": "smoke",
        "space": "B",
        "strategy": "evolution",
        "population": 3,
        "tournament": 2.0,
        "selection": "pareto",
        "seed": 0,
    }
    init_study.python_func(**settings, pipeline_run="run-1")
    born = generate.python_func(
        study="s", storage=storage, count=2, pipeline_run="run-1", after=[0]
    )
    # run-1 dies here; its own init would not touch its trials, the next run's does.
    assert json.loads(init_study.python_func(**settings, pipeline_run="run-1"))["recovered"] == []
    again = json.loads(init_study.python_func(**settings, pipeline_run="run-2"))
    assert sorted(again["recovered"]) == [json.loads(c)["trial"] for c in born]
    requeued = generate.python_func(
        study="s", storage=storage, count=2, pipeline_run="run-2", after=[0]
    )
    assert {json.loads(c)["cid"] for c in requeued} == {json.loads(c)["cid"] for c in born}


def test_a_search_without_accepted_layers_keeps_and_publishes_nothing(tmp_path):
    storage = f"journal:{tmp_path / 'study.log'}"
    init_study.python_func(
        study="s",
        storage=storage,
        preset="smoke",
        space="B",
        strategy="evolution",
        population=3,
        tournament=2.0,
        selection="pareto",
        seed=0,
        pipeline_run="r",
    )
    assert (
        rerank.python_func(
            study="s", storage=storage, top=2, seeds=[0], archs=[], device="cpu", after=[]
        )
        == "{}"
    )
    assert transfer.python_func(study="s", storage=storage, tasks=["gan"], after="") == "{}"
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert register.python_func(study="s", storage=storage, tracking_uri=uri, after="") == "[]"


def test_finalize_reports_even_without_a_study_and_runs_on_the_local_runner(tmp_path):
    local.init(
        runner=local.SubprocessRunner(use_venv=False),
        pipeline_root=str(tmp_path / "kfp"),
        raise_on_error=True,
    )
    task = plan(generations=2, after="x")
    assert task.output == [0, 1]
    out = json.loads(
        finalize.python_func(
            study="nope",
            storage=f"journal:{tmp_path / 'missing.log'}",
            tracking_uri="",
            report_dir=str(tmp_path / "r"),
            status=_Status("FAILED"),
        )
    )
    assert out["status"] == "FAILED" and out["report"] is None and out["error"]


class _Status:
    def __init__(self, state):
        self.state = state
