"""Tracking never stops a search: a real `mlflow server` is stopped for 30 s in the middle of an
`evonorm evolve` run (longer if no candidate was recorded by then) and started again on the same
port and store. The search records candidates all along, and once it is stopped every recorded
candidate has exactly one finished MLflow run."""

import collections
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest
from mlflow.tracking import MlflowClient

from evonorm.evolve import Search, open_storage
from http_stub import closed_port

OUTAGE = 30  # seconds the server is down at least
STALL = 240  # longest wait for a candidate recorded while it is down


def _start_server(tmp_path, port: int) -> subprocess.Popen:
    mlflow = os.path.join(os.path.dirname(sys.executable), "mlflow")
    process = subprocess.Popen(
        [
            mlflow,
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{tmp_path / 'server.db'}",
            "--artifacts-destination",
            str(tmp_path / "artifacts"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as answer:
                if answer.status == 200:
                    return process
        except OSError:
            time.sleep(0.5)
        assert process.poll() is None, "mlflow server exited"
    process.kill()
    pytest.fail("mlflow server did not start")


def _recorded(storage: str, study: str) -> int:
    try:
        return Search.open(study, open_storage(storage, must_exist=True)).census().done
    except Exception:  # not created yet
        return 0


def _logged(uri: str) -> collections.Counter:
    """Candidate runs by trial number, and their statuses."""
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("evonorm")
    if experiment is None:
        return collections.Counter()
    runs = client.search_runs(
        [experiment.experiment_id], filter_string="tags.`evonorm.role` = 'candidate'"
    )
    return collections.Counter((r.data.tags["evonorm.trial"], r.info.status) for r in runs)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_search_goes_on_while_mlflow_is_down_and_logs_what_it_missed(tmp_path):
    port, study = closed_port(), "outage"
    storage = f"journal:{tmp_path / 'study.log'}"
    uri = f"http://127.0.0.1:{port}"
    server = _start_server(tmp_path, port)
    env = {
        **os.environ,
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    }
    search = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "evonorm",
            "evolve",
            "--preset",
            "smoke",
            "--study",
            study,
            "--storage",
            storage,
            "--budget",
            "500",
            "--quiet",
            "--tracking-uri",
            uri,
            "--runs",
            str(tmp_path / "runs"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        while _recorded(storage, study) < 2:
            assert search.poll() is None, search.communicate()[1]
            time.sleep(0.2)
        server.terminate()
        server.wait(timeout=30)
        down_at = _recorded(storage, study)
        time.sleep(OUTAGE)
        # On a loaded machine a candidate can take longer than the outage: keep the server down
        # until the search has recorded one more (or the search stalls, which the assert catches).
        deadline = time.monotonic() + STALL
        while _recorded(storage, study) <= down_at and time.monotonic() < deadline:
            assert search.poll() is None, search.communicate()[1]
            time.sleep(0.5)
        back_at = _recorded(storage, study)
        server = _start_server(tmp_path, port)
        while sum(_logged(uri).values()) <= back_at:  # logging caught up past the outage
            assert search.poll() is None, search.communicate()[1]
            time.sleep(0.5)
        search.send_signal(signal.SIGTERM)  # a clean stop syncs what is left
        _, err = search.communicate(timeout=120)
    finally:
        search.kill()
    try:
        assert search.returncode == 143, err
        assert back_at > down_at, "the search stopped while MLflow was down"
        assert "tracking failed" in err  # one warning per failed call, never a traceback
        assert "Traceback" not in err
        logged = _logged(uri)
        recorded = Search.open(study, open_storage(storage)).records()
        numbers = {str(r.number) for r in recorded if r.status}
        assert {trial for trial, _ in logged} == numbers  # every candidate, once
        assert set(logged.values()) == {1} and {status for _, status in logged} == {"FINISHED"}
    finally:
        server.terminate()
        server.wait(timeout=30)
