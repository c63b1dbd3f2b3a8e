"""The pipeline: golden IR YAML, its cluster settings, parameters, submission up to the KFP API
requests, and one tiny end-to-end run on the KFP local runner."""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient

from evonorm.evolve import Search, open_storage
from evonorm.evolve.after import rerank_summary
from evonorm.proxy.presets import PRESETS
from evonorm.tracking.gate import evidence_from_rerank, verdict
from evonorm.workflow.client import COMPILED, compile_pipeline, schedule, submit
from evonorm.workflow.params import parse_params
from http_stub import serving
from pipelines import PIPELINES

ROOT = Path(__file__).resolve().parents[2]


def cli(*args, cwd=None, timeout=900):
    return subprocess.run(
        [sys.executable, "-m", "evonorm", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )


@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_the_committed_yaml_is_what_the_code_compiles_to(name, tmp_path):
    golden = COMPILED / f"{name}.yaml"
    assert golden.exists(), f"no compiled YAML for pipeline {name}: run `evonorm pipeline compile`"
    fresh = compile_pipeline(name, tmp_path / "fresh.yaml")
    assert fresh.read_text() == golden.read_text(), (
        f"{golden} is stale: run `evonorm pipeline compile --name {name}` and commit it"
    )


def test_the_run_form_describes_every_parameter_with_its_allowed_values():
    from evonorm.workflow.form import CHOICES
    from evonorm.workflow.params import defaults

    spec = yaml.safe_load_all((COMPILED / "evonorm-search.yaml").read_text())
    form = next(spec)["root"]["inputDefinitions"]["parameters"]
    assert set(form) == set(defaults("evonorm-search"))
    for name, field in form.items():
        text = " ".join(field["description"].split())
        assert len(text) > 40 and "Default: " in text, (name, text)
    for name, allowed in CHOICES.items():
        text = " ".join(form[name]["description"].split())
        assert f"Allowed: {', '.join(allowed)}." in text, (name, text)
    assert "Default: paper." in " ".join(form["preset"]["description"].split())


def _tasks(dag: dict, spec: dict):
    """Every task of the pipeline, loops and exit handler included: (component, display name)."""
    for task in dag["tasks"].values():
        yield task["componentRef"]["name"], task["taskInfo"]["name"]
        inner = spec["components"][task["componentRef"]["name"]].get("dag")
        if inner:
            yield from _tasks(inner, spec)


def test_the_run_graph_has_readable_task_names_and_checks_parameters_first():
    spec = next(yaml.safe_load_all((COMPILED / "evonorm-search.yaml").read_text()))
    names = dict(_tasks(spec["root"]["dag"], spec))
    assert names["comp-check-params"] == "check parameters"
    assert names["comp-reject"] == "reject: rejection chain"
    assert names["comp-train"] == "train on anchors"
    assert names["comp-reject-on-gpu"] == "reject on GPU"
    # groups the compiler makes (loops, the exit handler, the If/Else pair) take no names
    groups = ("comp-for-loop", "comp-exit", "comp-condition-branches")
    steps = {c: n for c, n in names.items() if not c.startswith(groups)}
    assert all(" " in name for name in steps.values()), steps  # words, not component ids
    body = next(
        c
        for c in spec["components"].values()
        if "check-params" in c.get("dag", {}).get("tasks", {})
    )
    prepare = body["dag"]["tasks"]["prepare-data"]
    assert prepare["dependentTasks"] == ["check-params"]


def test_the_image_registry_is_chosen_at_compile_time(tmp_path):
    registry = "registry.example.com:5000/ml/"
    moved = compile_pipeline("evonorm-search", tmp_path / "moved.yaml", image_registry=registry)
    golden = (COMPILED / "evonorm-search.yaml").read_text()
    images = [line for line in moved.read_text().splitlines() if " image: " in line]
    assert len(images) == golden.count(" image: ") > 0
    assert all("image: registry.example.com:5000/ml/evonorm" in line for line in images)
    assert moved.read_text() == golden.replace("image: ghcr.io/evonorm/", f"image: {registry}")
    with pytest.raises(ValueError, match="not a registry path"):
        compile_pipeline("evonorm-search", tmp_path / "bad.yaml", image_registry="bad reg")
    assert not (tmp_path / "bad.yaml").exists()


def test_every_compiled_file_belongs_to_a_pipeline():
    assert {p.stem for p in COMPILED.glob("*.yaml")} == set(PIPELINES)


def test_cluster_settings_compile_into_the_spec():
    docs = list(yaml.safe_load_all((COMPILED / "evonorm-search.yaml").read_text()))
    spec, platform = docs[0], docs[1]
    params = spec["root"]["inputDefinitions"]["parameters"]
    assert all(p.get("isOptional") for p in params.values())  # every setting has a default
    for name in (
        "study",
        "storage",
        "tracking_uri",
        "preset",
        "space",
        "strategy",
        "population",
        "tournament",
        "generations",
        "children",
        "rerank_top",
        "transfer_tasks",
        "candidate_memory_mb",
        "candidate_seconds",
    ):
        assert name in params
    executors = spec["deploymentSpec"]["executors"]
    for gpu in ("exec-train", "exec-rerank", "exec-transfer"):
        resources = executors[gpu]["container"]["resources"]
        assert resources["accelerator"]["resourceType"] == "nvidia.com/gpu"
        assert resources["accelerator"]["resourceCount"] == "1"
        assert "evonorm-cuda" in executors[gpu]["container"]["image"]
    assert "accelerator" not in executors["exec-record"]["container"].get("resources", {})
    k8s = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    train = k8s["exec-train"]
    assert train["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert train["nodeSelector"]["labels"] == {"nvidia.com/gpu.present": "true"}
    assert train["emptyDirMounts"][0]["mountPath"] == "/dev/shm"
    envs = {e["envVar"] for s in train["secretAsEnv"] for e in s["keyToEnv"]}
    assert {
        "EVONORM_STORAGE",
        "MLFLOW_TRACKING_URI",
        "AWS_ACCESS_KEY_ID",
        "EVONORM_DATASET_CACHE",
    } <= envs
    assert "tolerations" not in k8s["exec-record"]
    text = (COMPILED / "evonorm-search.yaml").read_text()
    assert "pip install" not in text  # components run in our image, nothing installed at run time


def test_rejection_runs_on_a_gpu_pod_only_at_the_presets_that_ask_for_it():
    docs = list(yaml.safe_load_all((COMPILED / "evonorm-search.yaml").read_text()))
    spec, platform = docs[0], docs[1]
    executors = spec["deploymentSpec"]["executors"]
    gpu, cpu = executors["exec-reject-on-gpu"]["container"], executors["exec-reject"]["container"]
    assert gpu["resources"]["accelerator"]["resourceType"] == "nvidia.com/gpu"
    assert "evonorm-cuda" in gpu["image"]
    assert "accelerator" not in cpu.get("resources", {}) and "evonorm-cuda" not in cpu["image"]
    k8s = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert k8s["exec-reject-on-gpu"]["tolerations"][0]["key"] == "nvidia.com/gpu"
    tasks = {
        name: task
        for component in spec["components"].values()
        for name, task in component.get("dag", {}).get("tasks", {}).items()
    }
    on_gpu = [p.name for p in PRESETS.values() if p.reject_on_accelerator]
    assert on_gpu == ["paper"]
    conditions = [t["triggerPolicy"]["condition"] for t in tasks.values() if "triggerPolicy" in t]
    assert any("'paper'" in c and "==" in c for c in conditions), conditions
    assert any("!" in c and "'paper'" in c for c in conditions), conditions  # the Else branch
    # the GPU branch hands the training device down; train reads whichever branch ran
    assert "device" in tasks["reject-on-gpu"]["inputs"]["parameters"]
    assert "oneof" in str(tasks["train"]["inputs"]["parameters"]["screened"])


def test_parameters_are_typed_by_the_pipeline_signature():
    pairs = [
        "study=x",
        "generations=3",
        "tournament=0.25",
        "rerank_seeds=[0, 1, 2]",
        "transfer_tasks=gan",
        "distinct=true",
        "up_to_scale=False",
    ]
    args = parse_params("evonorm-search", pairs)
    assert args == {
        "study": "x",
        "generations": 3,
        "tournament": 0.25,
        "rerank_seeds": [0, 1, 2],
        "transfer_tasks": ["gan"],
        "distinct": True,
        "up_to_scale": False,  # not bool("False")
    }
    for bad, message in [
        ("nope=1", "no such parameter"),
        ("generations=two", "expected int"),
        ("distinct=yes", "expected bool"),
        ("study", "expected NAME=VALUE"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_params("evonorm-search", [bad])


@pytest.fixture
def kfp_api():
    """A stand-in for the KFP API server (none can run here): records each request and answers
    like the server does, so the test sees exactly what kfp.Client sends."""

    def answer(method, path, body):
        if "experiments" in path:
            return 200, {"experiments": [{"experiment_id": "e1", "display_name": "evonorm"}]}
        if "recurringruns" in path:
            return 200, {"recurring_run_id": "r1"}
        return 200, {"run_id": "run1"}

    with serving(answer) as (host, requests):
        yield host, requests


def test_submit_and_schedule_send_the_expected_requests(kfp_api):
    host, requests = kfp_api
    assert (
        submit(host, "evonorm-search", {"study": "s", "generations": 2}, experiment="evonorm")
        == "run1"
    )
    posts = [body for method, path, body in requests if method == "POST"]
    assert posts[0]["experiment_id"] == "e1"
    assert posts[0]["runtime_config"]["parameters"] == {"study": "s", "generations": 2}
    assert posts[0]["pipeline_spec"]["pipeline_spec"]["pipelineInfo"]["name"] == "evonorm-search"

    requests.clear()
    assert (
        schedule(host, "evonorm-search", {"study": "s"}, cron="0 2 * * *", experiment="evonorm")
        == "r1"
    )
    ((_, path, job),) = [r for r in requests if r[0] == "POST"]
    assert path == "/apis/v2beta1/recurringruns"
    assert job["trigger"]["cron_schedule"]["cron"] == "0 0 2 * * *"
    assert int(job["max_concurrency"]) == 1 and job["no_catchup"] is True
    assert job["runtime_config"]["parameters"] == {"study": "s"}

    bad = cli("pipeline", "schedule", "--host", host, "--cron", "every day")
    assert bad.returncode == 2 and "expected 5 fields" in bad.stderr


def test_a_pip_installed_evonorm_submits_without_a_checkout(tmp_path, kfp_api):
    """The wheel ships the compiled pipeline and neither components/ nor pipelines/: from a
    folder that is no checkout, submit sends the shipped IR; compile says it needs one."""
    source = tmp_path / "source"
    for part in ("src", "pipelines", "pyproject.toml", "README.md"):
        copy = shutil.copytree if (ROOT / part).is_dir() else shutil.copy
        copy(ROOT / part, source / part, **({"symlinks": True} if copy is shutil.copytree else {}))
    dist = tmp_path / "dist"
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    subprocess.run([*build, "-w", str(dist), str(source)], check=True, capture_output=True)
    (wheel,) = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        archive.extractall(tmp_path / "site")
    assert {n.split("/")[0] for n in names} == {"evonorm", "evonorm-0.1.0.dist-info"}
    shipped = tmp_path / "site/evonorm/workflow/compiled/evonorm-search.yaml"
    assert shipped.read_text() == (COMPILED / "evonorm-search.yaml").read_text()

    host, requests = kfp_api
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}  # the wheel, not this checkout

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "evonorm", *args],
            cwd=elsewhere,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    where = subprocess.run(
        [sys.executable, "-c", "import evonorm; print(evonorm.__file__)"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
    )
    assert where.stdout.startswith(str(tmp_path / "site"))
    sent = run(
        "pipeline", "submit", "--host", host, "--param", "study=s", "--param", "rerank_seeds=0,1"
    )
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.splitlines()[-1] == f"run run1 on {host}"
    (post,) = [body for method, _, body in requests if method == "POST" and "pipeline_spec" in body]
    assert post["runtime_config"]["parameters"] == {"study": "s", "rerank_seeds": [0, 1]}
    assert post["pipeline_spec"]["pipeline_spec"]["pipelineInfo"]["name"] == "evonorm-search"
    refused = run("pipeline", "compile", "--out", str(elsewhere / "x.yaml"))
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1
    assert "need a checkout of the evonorm repository" in refused.stderr
    assert not (elsewhere / "x.yaml").exists()


@pytest.mark.timeout(900)
def test_the_pipeline_runs_end_to_end_on_the_local_runner(tmp_path):
    runs = tmp_path / "runs"
    storage, uri = f"journal:{runs / 'p/optuna.log'}", f"sqlite:///{runs / 'p/mlflow.db'}"
    params = [
        "study=p",
        f"storage={storage}",
        f"tracking_uri={uri}",
        "preset=smoke",
        "population=3",
        "tournament=2",
        "generations=2",
        "children=2",
        "rerank_top=1",
        "rerank_seeds=0",
        "rerank_archs=resnet,resnet_basic",
        "transfer_tasks=gan",
        "device=cpu",
        f"report_dir={runs / 'p/report'}",
    ]
    done = cli(
        "pipeline",
        "run-local",
        "--pipeline-root",
        str(runs / "kfp"),
        *[x for p in params for x in ("--param", p)],
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    search = Search.open("p", open_storage(storage))
    assert search.census().done == 4
    assert {r.attrs["owner"].get("pipeline_run") is not None for r in search.records()} == {True}
    client = MlflowClient(uri)
    summary = rerank_summary(search)
    gate = verdict(evidence_from_rerank(summary, summary["kept"]["p-B0"], "p"))
    version = client.get_model_version_by_alias("p-B0", "champion" if gate.passed else "challenger")
    assert int(version.version) == 1 and version.tags["evonorm.gate"] == (
        "passed" if gate.passed else "failed"
    )
    assert ("champion gate: no layer of search 'p' beat BN-ReLU" in done.stdout) != gate.passed
    assert (runs / "p/report/report.md").read_text().count("## Rerank") == 1
    experiment = client.get_experiment_by_name("evonorm")
    (parent,) = client.search_runs([experiment.experiment_id], "tags.`evonorm.role` = 'search'")
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["evonorm.pipeline_status"] == "SUCCEEDED"
    assert "report" in {f.path for f in client.list_artifacts(parent.info.run_id)}
