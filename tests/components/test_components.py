"""Every component: a README, our image, no run-time installs; each one's function through
``.python_func`` on a real (JournalFile) smoke study, and one through the KFP local runner."""

import json
import re
from pathlib import Path

import pytest
from kfp import local

import components as package
from components.check_params.component import check_params
from components.finalize.component import finalize
from components.generate.component import generate
from components.init_study.component import init_study
from components.plan.component import plan
from components.prepare_data.component import prepare_data
from components.record.component import record
from components.register.component import register
from components.reject.component import reject, reject_on_gpu
from components.rerank.component import rerank
from components.train.component import train
from components.transfer.component import transfer
from evonorm.evolve import Search, open_storage
from evonorm.evolve.after import rerank_summary
from evonorm.tracking.gate import evidence_from_rerank, verdict
from evonorm.workflow.images import BASE_IMAGE, CUDA_IMAGE

FOLDER = Path(package.__file__).parent
COMPONENTS = {
    "check_params": check_params,
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
    # the rejection step's GPU variant (the pipeline's branch at `paper`) lives beside it
    assert reject_on_gpu.component_spec.implementation.container.image == CUDA_IMAGE


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
            mutations="op=0.5,insert=0.5",
            seed_layers="bn_relu",
            distinct=True,
            repeats=2,
            near_misses=0.5,
            up_to_scale=True,
            keep_seeds=True,
            tracking_uri="",
            pipeline_run="run-1",
        )
    )
    assert census == {"done": 0, "accepted": 0, "recovered": []}
    assert plan.python_func(generations=3, after="") == [0, 1, 2]
    with pytest.raises(ValueError, match="generations must be >= 1"):
        plan.python_func(generations=0, after="")

    outcomes = []
    for generation in range(2):  # two generations of three, in groups of at most two
        born = generate.python_func(
            study="s", storage=storage, count=3, per_task=2, pipeline_run="run-1", after=[0]
        )
        assert [len(json.loads(group)) for group in born] == [2, 1]
        trained = []
        for group in born:
            on_gpu = {"device": "cpu"} if generation else {}  # the GPU variant, on the CPU
            screened = (reject_on_gpu if generation else reject).python_func(
                study="s", storage=storage, candidates=group, memory_mb=2048, seconds=0.0, **on_gpu
            )
            assert all("verdict" in item for item in json.loads(screened))
            trained.append(
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
            record.python_func(study="s", storage=storage, outcomes=trained, tracking_uri=uri)
        )
        assert told["recorded"] == 3
        outcomes += [item for group in trained for item in json.loads(group)]
    assert told["done"] == 6
    accepted = [o for o in outcomes if o["status"] == "accepted"]
    assert accepted, "smoke layers (quality threshold 0) should mostly be accepted"
    for o in accepted:  # repeats=2 reached the train task: two seeds per anchor, their mean
        first, second = (o["metrics"][f"accuracy/resnet/repeat{k}"] for k in (0, 1))
        assert o["scores"]["resnet"] == pytest.approx((first + second) / 2)
    config = Search.open("s", open_storage(storage)).config
    assert config.distinct and config.keep_seeds

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
        "mutations": "",
        "seed_layers": "",
        "distinct": False,
        "repeats": 1,
        "near_misses": 0.0,
        "up_to_scale": False,
        "keep_seeds": False,
        "tracking_uri": "",
    }
    init_study.python_func(**settings, pipeline_run="run-1")
    born = [
        item
        for group in generate.python_func(
            study="s", storage=storage, count=2, per_task=1, pipeline_run="run-1", after=[0]
        )
        for item in json.loads(group)
    ]
    # run-1 dies here; its own init would not touch its trials, the next run's does.
    assert json.loads(init_study.python_func(**settings, pipeline_run="run-1"))["recovered"] == []
    again = json.loads(init_study.python_func(**settings, pipeline_run="run-2"))
    assert sorted(again["recovered"]) == [c["trial"] for c in born]
    requeued = generate.python_func(
        study="s", storage=storage, count=2, per_task=2, pipeline_run="run-2", after=[0]
    )
    assert {c["cid"] for c in json.loads(requeued[0])} == {c["cid"] for c in born}


def test_a_run_killed_mid_generation_is_resumed_by_the_next_run(tmp_path):
    """run-1 dies with one group trained, one screened and one untouched, none recorded; run-2
    re-queues and evaluates all three once, and run-1's late record (a zombie pod) changes
    nothing: nothing lost, nothing twice, nothing left RUNNING."""
    storage = f"journal:{tmp_path / 'study.log'}"
    settings = {
        "study": "s",
        "storage": storage,
        "preset": "smoke",
        "space": "B",
        "strategy": "random",
        "population": 3,
        "tournament": 2.0,
        "selection": "pareto",
        "seed": 1,
        "mutations": "",
        "seed_layers": "",
        "distinct": False,
        "repeats": 1,
        "near_misses": 0.0,
        "up_to_scale": False,
        "keep_seeds": False,
        "tracking_uri": "",
    }
    limits = {"memory_mb": 2048, "seconds": 0.0}
    init_study.python_func(**settings, pipeline_run="run-1")
    groups = generate.python_func(
        study="s", storage=storage, count=3, per_task=1, pipeline_run="run-1", after=[0]
    )
    first = reject.python_func(study="s", storage=storage, candidates=groups[0], **limits)
    late = train.python_func(study="s", storage=storage, screened=first, device="cpu", **limits)
    reject.python_func(study="s", storage=storage, candidates=groups[1], **limits)
    # run-1 is killed here: its record step never runs.

    again = json.loads(init_study.python_func(**settings, pipeline_run="run-2"))
    assert len(again["recovered"]) == 3
    (group,) = generate.python_func(
        study="s", storage=storage, count=3, per_task=3, pipeline_run="run-2", after=[0]
    )
    born = {json.loads(g)[0]["cid"] for g in groups}
    assert {c["cid"] for c in json.loads(group)} == born
    screened = reject.python_func(study="s", storage=storage, candidates=group, **limits)
    trained = train.python_func(
        study="s", storage=storage, screened=screened, device="cpu", **limits
    )
    told = json.loads(
        record.python_func(study="s", storage=storage, outcomes=[trained], tracking_uri="")
    )
    assert (told["recorded"], told["done"]) == (3, 3)
    zombie = json.loads(
        record.python_func(study="s", storage=storage, outcomes=[late], tracking_uri="")
    )
    assert (zombie["recorded"], zombie["done"]) == (0, 3)

    trials = Search.open("s", open_storage(storage)).trials()
    assert not [t for t in trials if t.state.name in ("RUNNING", "WAITING")]
    recorded = [t.user_attrs["cid"] for t in trials if "status" in t.user_attrs]
    assert sorted(recorded) == sorted(born)  # each candidate once, none lost


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
        mutations="",
        seed_layers="",
        distinct=False,
        repeats=1,
        near_misses=0.0,
        up_to_scale=False,
        keep_seeds=False,
        tracking_uri="",
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


def test_the_first_step_refuses_a_bad_parameter_in_one_line():
    values = dict(
        preset="smoke",
        space="B",
        strategy="evolution",
        population=4,
        tournament=2.0,
        selection="pareto",
        seed=0,
        mutations="",
        seed_layers="",
        distinct=False,
        repeats=1,
        near_misses=0.0,
        up_to_scale=False,
        keep_seeds=False,
        generations=1,
        children=2,
        candidates_per_task=2,
        rerank_top=1,
        rerank_seeds=[0.0, 1.0],  # as a pod gets them: protobuf doubles
        rerank_archs=[],
        transfer_tasks=[],
        device="cpu",
        candidate_memory_mb=0,
        candidate_seconds=0.0,
    )
    assert json.loads(check_params.python_func(**values)) == {"checked": len(values)}
    bad = {
        "preset": ("nope", "preset='nope' is not allowed; allowed: smoke, local, ablation, paper"),
        "rerank_archs": (["vgg", "lenet"], "rerank_archs='lenet' is not allowed"),
        "candidates_per_task": (0, "candidates_per_task=0 must be >= 1"),
        "mutations": ("swap=1", "unknown mutations ['swap']; known: redraw, op, rewire"),
        "seed_layers": ("bn_relu,nope", "unknown seed layer 'nope'; known: bn_relu"),
        "device": ("tpu", "device='tpu' is not allowed; allowed: auto, cpu, cuda, cuda:N"),
        "repeats": (0, "repeats must be a whole number in [1, 5], got 0"),
        "near_misses": (1.5, "near_misses must be a probability in [0, 1], got 1.5"),
        "up_to_scale": (True, "up_to_scale refines distinct: set distinct as well"),
        "keep_seeds": (True, "keep_seeds keeps seed layers in the population: name seed layers"),
    }
    for key, (value, message) in bad.items():
        with pytest.raises(ValueError, match=re.escape(message)):
            check_params.python_func(**{**values, key: value})
