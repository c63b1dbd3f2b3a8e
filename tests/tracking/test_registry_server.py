"""The registry through a real `mlflow server` process whose artifacts go to S3 — an S3 served
over HTTP by moto's server mode — both started here, as on the cluster (proxied artifacts: the
client holds no S3 credentials)."""

import contextlib
import os
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import boto3
import pytest
import torch
from moto.server import ThreadedMotoServer

import evonorm
from evonorm import build_layer, known_layer
from evonorm.tracking import pull_layer

BUCKET = "evonorm-artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def s3():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port())
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    client.create_bucket(Bucket=BUCKET)
    yield endpoint, client
    server.stop()


@contextlib.contextmanager
def serving(tmp_path, backend, destination, env=None, preexec_fn=None):
    """A real `mlflow server` process on a free port; its URL while the block runs."""
    port = free_port()
    mlflow = Path(sys.executable).with_name("mlflow")
    log = open(tmp_path / "server.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [
            str(mlflow),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            backend,
            "--artifacts-destination",
            destination,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        preexec_fn=preexec_fn,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                if answer.status == 200:
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail("mlflow server did not start:\n" + (tmp_path / "server.log").read_text())
        time.sleep(0.5)
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@pytest.fixture
def mlflow_server(s3, tmp_path):
    endpoint, _ = s3
    env = {
        "MLFLOW_S3_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    backend = f"sqlite:///{tmp_path / 'server.db'}"
    with serving(tmp_path, backend, f"s3://{BUCKET}/mlflow", env) as url:
        yield url


@pytest.mark.timeout(300)
def test_publish_and_pull_through_a_server_with_s3_artifacts(
    mlflow_server, s3, tmp_path, monkeypatch
):
    _, client = s3
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "MLFLOW_S3_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)  # the client never talks to S3 itself
    graph = known_layer("evonorm_b0")
    first = evonorm.publish_layer(
        graph, "srv-B0", tracking_uri=mlflow_server, metrics={"rerank_accuracy": 0.8}
    )
    second = evonorm.publish_layer(
        known_layer("evonorm_s0"),
        "srv-B0",
        tracking_uri=mlflow_server,
        metrics={"rerank_accuracy": 0.7},
    )
    assert (first, second) == (1, 2)

    keys = [o["Key"] for o in client.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert sum(k.endswith("/layer/graph.json") for k in keys) == 2
    assert any(k.endswith("/layer/srv_b0.py") for k in keys)

    folder = pull_layer("models:/srv-B0/1", tmp_path / "pulled", tracking_uri=mlflow_server)
    assert (folder / "graph.json").read_text().strip() == graph.to_json(indent=2)
    factory = evonorm.load_layer("models:/srv-B0@challenger", tracking_uri=mlflow_server)
    x = torch.randn(4, 8, 5, 5)
    expected = build_layer(known_layer("evonorm_s0"), 8)
    assert torch.allclose(factory(8)(x), expected(x))


def _full_disk() -> None:
    """In the server process: files stop growing past 16 KiB (RLIMIT_FSIZE), and a write past
    it fails with EFBIG instead of killing the process: an artifact store that is full."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (16 * 1024, 16 * 1024))


@pytest.mark.timeout(300)
def test_a_full_artifact_store_registers_nothing_and_says_where(
    postgres_url, tmp_path, monkeypatch
):
    """The server's artifact disk is full (its metadata in PostgreSQL, which has room): the
    publish is one line naming the layer and the store, its run is FAILED, no model or version
    exists, and the same publish succeeds once there is room again."""
    import sqlalchemy
    from mlflow.tracking import MlflowClient

    from evonorm.tracking import TrackingError

    schema = f"mlflow_{uuid.uuid4().hex[:8]}"  # its own schema: Optuna's tables stay apart
    admin = sqlalchemy.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sqlalchemy.text(f"CREATE SCHEMA {schema}"))
    backend = f"{postgres_url}?options=-csearch_path%3D{schema}"
    artifacts = tmp_path / "artifacts"
    graph = known_layer("evonorm_b0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")  # a full disk does not heal
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")  # in a client's retries
    with serving(tmp_path, backend, str(artifacts), preexec_fn=_full_disk) as url:
        with pytest.raises(TrackingError) as error:
            evonorm.publish_layer(graph, "full-B0", tracking_uri=url)
        message = str(error.value)
        assert len(message.splitlines()) == 1, message
        assert "could not store layer 'full-B0' in the artifact store" in message
        assert "nothing was registered" in message
        client = MlflowClient(url)
        assert client.search_registered_models() == []
        (run,) = client.search_runs(
            [client.get_experiment_by_name("evonorm-registry").experiment_id]
        )
        assert run.info.status == "FAILED"
    with serving(tmp_path, backend, str(artifacts)) as url:  # room again
        assert evonorm.publish_layer(graph, "full-B0", tracking_uri=url) == 1
        folder = pull_layer("models:/full-B0/1", tmp_path / "pulled", tracking_uri=url)
        assert (folder / "graph.json").read_text().strip() == graph.to_json(indent=2)
    with admin.connect() as connection:
        connection.execute(sqlalchemy.text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()
