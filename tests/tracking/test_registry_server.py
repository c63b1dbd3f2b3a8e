"""The registry through a real `mlflow server` process whose artifacts go to S3 — an S3 served
over HTTP by moto's server mode — both started here, as on the cluster (proxied artifacts: the
client holds no S3 credentials)."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
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


@pytest.fixture
def mlflow_server(s3, tmp_path):
    endpoint, _ = s3
    port = free_port()
    env = {
        **os.environ,
        "MLFLOW_S3_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
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
            f"sqlite:///{tmp_path / 'server.db'}",
            "--artifacts-destination",
            f"s3://{BUCKET}/mlflow",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
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
    yield url
    process.terminate()
    process.wait(timeout=30)
    log.close()


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
