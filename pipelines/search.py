"""``evonorm-search``: the whole search as one Kubeflow pipeline.

check-params → prepare-data → init-study → G sequential generations (generate → per group of
candidates, in parallel: reject (on a GPU pod at ``paper``, a CPU pod otherwise) → train →
record the generation) → rerank → transfer →
register; ``finalize`` is the exit handler (report + final status in MLflow, also on failure).

Every setting is a pipeline parameter with a default, so a run can be started from the KFP UI
form. ``storage`` and ``tracking_uri`` left empty are read inside the pods from the
``EVONORM_STORAGE`` and ``MLFLOW_TRACKING_URI`` variables, which the cluster fills from the
``evonorm-storage`` and ``evonorm-mlflow`` Secrets (credentials never appear in run parameters);
the local runner passes explicit values.
"""

from contextlib import nullcontext

from kfp import dsl, kubernetes

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
from evonorm.proxy.presets import PRESETS
from evonorm.workflow.form import documented

__all__ = ["PIPELINES", "evonorm_search"]

SECRETS = {
    "evonorm-storage": {"url": "EVONORM_STORAGE"},
    "evonorm-mlflow": {"tracking-uri": "MLFLOW_TRACKING_URI"},
    # boto3 for the dataset cache (MLflow artifacts are proxied by the server: no keys needed)
    "evonorm-s3": {
        "access-key": "AWS_ACCESS_KEY_ID",
        "secret-key": "AWS_SECRET_ACCESS_KEY",
        "endpoint": "AWS_ENDPOINT_URL",
        "dataset-cache": "EVONORM_DATASET_CACHE",
    },
}
GPU_POOL = ("nvidia.com/gpu.present", "true")  # node label of the GPU pool (NVIDIA GPU operator)
# presets whose rejection step runs on the training device (a GPU pod), checked in this order
ON_GPU = tuple(name for name, p in PRESETS.items() if p.reject_on_accelerator)


def _cluster(
    task: dsl.PipelineTask,
    name: str,
    *,
    cpu: str,
    memory: str,
    gpu: bool = False,
    retries: int = 0,
) -> dsl.PipelineTask:
    """The task's name in the run graph, and its resources, credentials and scheduling on the
    cluster (ignored locally)."""
    task.set_display_name(name)
    task.set_caching_options(False)  # every step reads or writes the study: never reuse
    task.set_cpu_request(cpu).set_memory_request(memory).set_memory_limit(memory)
    for secret, keys in SECRETS.items():
        kubernetes.use_secret_as_env(
            task, secret_name=secret, secret_key_to_env=keys, optional=True
        )
    if retries:
        task.set_retry(num_retries=retries, backoff_duration="60s", backoff_factor=2.0)
    if gpu:
        task.set_accelerator_type("nvidia.com/gpu").set_accelerator_limit(1)
        kubernetes.add_toleration(
            task, key="nvidia.com/gpu", operator="Exists", effect="NoSchedule"
        )
        kubernetes.add_node_selector(task, *GPU_POOL)
        kubernetes.empty_dir_mount(
            task,
            volume_name="dshm",
            mount_path="/dev/shm",  # noqa: S108
            medium="Memory",
        )
    return task


def _screen(preset, study, storage, group, device, memory_mb, seconds) -> dsl.OneOf:
    """The rejection step of one group: on a GPU pod with the training ``device`` for the
    presets in :data:`ON_GPU` (one ``dsl.If`` branch each), on a CPU pod otherwise."""
    branches = []
    for i, name in enumerate(ON_GPU):
        with (dsl.If if i == 0 else dsl.Elif)(preset == name, name=f"preset {name}: GPU"):
            task = reject_on_gpu(
                study=study,
                storage=storage,
                candidates=group,
                device=device,
                memory_mb=memory_mb,
                seconds=seconds,
            )
            branches.append(
                _cluster(task, "reject on GPU", cpu="4", memory="16Gi", gpu=True, retries=1)
            )
    with dsl.Else(name="other presets: CPU") if ON_GPU else nullcontext():
        task = reject(
            study=study, storage=storage, candidates=group, memory_mb=memory_mb, seconds=seconds
        )
        branches.append(_cluster(task, "reject: rejection chain", cpu="2", memory="4Gi", retries=1))
    return dsl.OneOf(*(b.output for b in branches)) if ON_GPU else branches[0].output


@dsl.pipeline(
    name="evonorm-search",
    description="Evolve normalization-activation layers: population in Optuna storage, "
    "candidates in MLflow, winners in the MLflow Model Registry.",
)
@documented
def evonorm_search(
    study: str = "evonorm",
    storage: str = "",
    tracking_uri: str = "",
    preset: str = "paper",
    space: str = "B",
    strategy: str = "evolution",
    population: int = 16,
    tournament: float = 4.0,
    selection: str = "pareto",
    seed: int = 0,
    mutations: str = "",
    seed_layers: str = "",
    distinct: bool = False,
    repeats: int = 1,
    near_misses: float = 0.0,
    up_to_scale: bool = False,
    keep_seeds: bool = False,
    generations: int = 8,
    children: int = 16,
    candidates_per_task: int = 4,
    rerank_top: int = 10,
    rerank_seeds: list = [0, 1],  # noqa: B006 - KFP reads defaults from the signature
    rerank_archs: list = [],  # noqa: B006
    transfer_tasks: list = ["segmentation", "gan"],  # noqa: B006
    device: str = "auto",
    candidate_memory_mb: int = 2048,
    candidate_seconds: float = 0.0,
    report_dir: str = "/tmp/evonorm-report",  # noqa: S108 - inside the pod; logged to MLflow
) -> None:
    """The whole search: generations of candidates through rejection and multi-network
    training, then rerank, transfer and registration (parameters: :mod:`evonorm.workflow.form`)."""
    final = finalize(study=study, storage=storage, tracking_uri=tracking_uri, report_dir=report_dir)
    _cluster(final, "finalize: report and status", cpu="1", memory="2Gi")
    with dsl.ExitHandler(final, name="search"):
        checked = check_params(
            preset=preset,
            space=space,
            strategy=strategy,
            population=population,
            tournament=tournament,
            selection=selection,
            seed=seed,
            mutations=mutations,
            seed_layers=seed_layers,
            distinct=distinct,
            repeats=repeats,
            near_misses=near_misses,
            up_to_scale=up_to_scale,
            keep_seeds=keep_seeds,
            generations=generations,
            children=children,
            candidates_per_task=candidates_per_task,
            rerank_top=rerank_top,
            rerank_seeds=rerank_seeds,
            rerank_archs=rerank_archs,
            transfer_tasks=transfer_tasks,
            device=device,
            candidate_memory_mb=candidate_memory_mb,
            candidate_seconds=candidate_seconds,
        )
        _cluster(checked, "check parameters", cpu="1", memory="1Gi")
        data = _cluster(
            prepare_data(preset=preset).after(checked),
            "prepare data",
            cpu="1",
            memory="4Gi",
            retries=2,
        )
        init = init_study(
            study=study,
            storage=storage,
            preset=preset,
            space=space,
            strategy=strategy,
            population=population,
            tournament=tournament,
            selection=selection,
            seed=seed,
            mutations=mutations,
            seed_layers=seed_layers,
            distinct=distinct,
            repeats=repeats,
            near_misses=near_misses,
            up_to_scale=up_to_scale,
            keep_seeds=keep_seeds,
            tracking_uri=tracking_uri,
            pipeline_run=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
        ).after(data)
        _cluster(init, "open study and references", cpu="2", memory="4Gi", retries=2)
        rounds = _cluster(
            plan(generations=generations, after=init.output),
            "plan generations",
            cpu="1",
            memory="1Gi",
        )
        with dsl.ParallelFor(rounds.output, parallelism=1, name="generations"):
            born = generate(
                study=study,
                storage=storage,
                count=children,
                per_task=candidates_per_task,
                pipeline_run=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
                after=rounds.output,
            )
            _cluster(born, "generate candidates", cpu="1", memory="1Gi", retries=2)
            with dsl.ParallelFor(born.output, name="candidates") as group:
                screened = _screen(
                    preset, study, storage, group, device, candidate_memory_mb, candidate_seconds
                )
                trained = train(
                    study=study,
                    storage=storage,
                    screened=screened,
                    device=device,
                    memory_mb=candidate_memory_mb,
                    seconds=candidate_seconds,
                )
                _cluster(trained, "train on anchors", cpu="4", memory="16Gi", gpu=True, retries=2)
            told = record(
                study=study,
                storage=storage,
                outcomes=dsl.Collected(trained.output),
                tracking_uri=tracking_uri,
            )
            _cluster(told, "record generation", cpu="1", memory="2Gi", retries=2)
        ranked = rerank(
            study=study,
            storage=storage,
            top=rerank_top,
            seeds=rerank_seeds,
            archs=rerank_archs,
            device=device,
            after=dsl.Collected(told.output),
        )
        _cluster(ranked, "rerank finalists", cpu="4", memory="16Gi", gpu=True, retries=2)
        moved = transfer(study=study, storage=storage, tasks=transfer_tasks, after=ranked.output)
        _cluster(moved, "transfer tests", cpu="4", memory="16Gi", gpu=True, retries=2)
        _cluster(
            register(study=study, storage=storage, tracking_uri=tracking_uri, after=moved.output),
            "register layers",
            cpu="1",
            memory="2Gi",
            retries=2,
        )


PIPELINES = {"evonorm-search": evonorm_search}
