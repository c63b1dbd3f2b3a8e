"""Compile, run locally, submit and schedule the pipelines (``evonorm pipeline …``).

``compile`` writes the IR YAML the cluster runs (committed under ``pipelines/compiled/``) and
``run_local`` runs a pipeline on the KFP local runner (subprocesses in this environment): both
take the definition from a checkout. ``submit`` and ``schedule`` send the compiled IR shipped
with the package to a Kubeflow Pipelines API server through ``kfp.Client``. Arguments are
checked (:mod:`evonorm.workflow.params`) before anything runs or is sent; an unknown name or a
bad value is one clear ``ValueError``.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

from kfp import compiler, local

from evonorm.errors import connection_reason
from evonorm.workflow.definitions import pipeline
from evonorm.workflow.images import REGISTRY
from evonorm.workflow.params import COMPILED, check_arguments, compiled

__all__ = ["COMPILED", "HostError", "compile_pipeline", "run_local", "schedule", "submit"]

LOCAL_PARALLEL = 2  # loop iterations the KFP local runner runs at once (kfp 2.17.3)


def compile_pipeline(name: str, path: str | Path, *, image_registry: str | None = None) -> Path:
    """Write the pipeline's IR YAML to ``path``. ``image_registry`` (e.g.
    ``registry.example.com/ml``) replaces the images' registry, ``ghcr.io/evonorm``, in every
    task; the committed YAML keeps the default."""
    registry = (image_registry or REGISTRY).rstrip("/")
    if not re.fullmatch(r"[\w.\-]+(:\d+)?(/[\w.\-]+)*", registry):
        raise ValueError(
            f"--image-registry {image_registry!r} is not a registry path such as "
            "registry.example.com/team"
        )
    func = pipeline(name)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    compiler.Compiler().compile(func, str(path))
    if registry != REGISTRY:
        text = path.read_text()
        path.write_text(text.replace(f" image: {REGISTRY}/", f" image: {registry}/"))
    return path


def run_local(name: str, arguments: dict, *, pipeline_root: str | Path) -> None:
    """Run the pipeline on the KFP local runner (each task a subprocess of this environment);
    raises on a failed task. The runner executes up to two loop iterations at once, so the
    reject and train tasks inside the candidates loop get half the CPUs each (two tasks with all
    the cores oversubscribe them and run several times slower); tasks that run alone (the
    quality references, rerank, transfer) keep them all."""
    from evonorm.tasks import LOOP_THREADS_ENV

    check_arguments(name, arguments)
    func = pipeline(name)
    loop_threads = str(max(1, (os.cpu_count() or 2) // LOCAL_PARALLEL))
    os.environ.setdefault(LOOP_THREADS_ENV, loop_threads)
    local.init(
        runner=local.SubprocessRunner(use_venv=False),
        pipeline_root=str(pipeline_root),
        raise_on_error=True,
    )
    func(**arguments)


class HostError(ValueError):
    """A KFP API server that cannot be reached, refuses the credentials or answers an error."""


def cron_expression(expression: str) -> str:
    """The six-field form KFP wants (seconds first; five fields get ``0`` seconds), checked
    field by field before any server is asked."""
    from croniter import croniter

    fields = expression.split()
    if len(fields) not in (5, 6):
        raise ValueError(
            f"--cron {expression!r}: expected 5 fields (min hour day month weekday) or 6"
        )
    six = " ".join(["0", *fields] if len(fields) == 5 else fields)
    if not croniter.is_valid(six, second_at_beginning=True):
        raise ValueError(
            f"--cron {expression!r} is not a valid schedule: minutes 0-59, hours 0-23, days "
            "1-31, months 1-12, weekdays 0-6 (SUN-SAT); each a value, a-b, a,b, */n or *"
        )
    return six


class _Client:
    """``kfp.Client`` for ``host``, with every failure (in its health check or any call made
    under ``with``) turned into one :class:`HostError`. kfp's own health check retries an error
    answer five times, 5 s apart: it is asked once here (urllib3 still retries a refused
    connection three times)."""

    def __init__(self, host: str, client=None) -> None:
        self.host = host
        self._given = client

    def __enter__(self):
        import kfp

        class OneHealthCheck(kfp.Client):
            def get_kfp_healthz(self, sleep_duration: int = 5):
                return self._healthz_api.healthz_service_get_healthz()

        try:
            with warnings.catch_warnings():  # "only works with KFP v2.0.0-beta.2 and later"
                warnings.simplefilter("ignore", FutureWarning)
                return self._given or OneHealthCheck(host=self.host)
        except Exception as error:
            raise _host_error(self.host, error) or error from None

    def __exit__(self, kind, error, traceback) -> None:
        if error is not None:
            translated = _host_error(self.host, error)
            if translated is not None:
                raise translated from None


def _host_error(host: str, error: BaseException) -> HostError | None:
    """The one line for a failed exchange with the KFP host; None for other errors."""
    from kfp_server_api import ApiException
    from urllib3.exceptions import HTTPError

    if isinstance(error, ApiException) and error.status in (401, 403):
        return HostError(
            f"KFP host {host} refused authentication (HTTP {error.status}): log in (kfp's "
            "context file, or a port-forward to svc/ml-pipeline) and try again"
        )
    if isinstance(error, ApiException) and error.status:
        return HostError(
            f"KFP host {host} answered HTTP {error.status} ({error.reason}): is it a Kubeflow "
            "Pipelines API server?"
        )
    if isinstance(error, (ApiException, HTTPError, ConnectionError, TimeoutError)):
        return HostError(
            f"KFP host {host} cannot be reached ({connection_reason(error)}): check --host and "
            "that the API server runs (kubectl port-forward svc/ml-pipeline 8888:8888)"
        )
    return None


def submit(host: str, name: str, arguments: dict, *, experiment: str, client=None) -> str:
    """Start one run of the shipped compiled pipeline; returns its run id. Arguments are
    checked before the host is asked."""
    check_arguments(name, arguments)
    with _Client(host, client) as kfp_client:
        run = kfp_client.create_run_from_pipeline_package(
            str(compiled(name)),
            arguments=arguments,
            experiment_name=experiment,
            run_name=f"{name} {arguments.get('study', '')}".strip(),
        )
    return run.run_id


def schedule(
    host: str, name: str, arguments: dict, *, cron: str, experiment: str, client=None
) -> str:
    """A recurring run continuing the same study: max concurrency 1 (runs of a study never
    overlap, which crash recovery relies on) and no catch-up of missed slots. The schedule and
    the arguments are checked before the host is asked."""
    expression = cron_expression(cron)
    check_arguments(name, arguments)
    with _Client(host, client) as kfp_client:
        experiment_id = kfp_client.create_experiment(experiment).experiment_id
        job = kfp_client.create_recurring_run(
            experiment_id=experiment_id,
            job_name=f"{name} {arguments.get('study', '')} ({expression})".strip(),
            cron_expression=expression,
            max_concurrency=1,
            no_catchup=True,
            pipeline_package_path=str(compiled(name)),
            params=arguments,
        )
    return job.recurring_run_id
