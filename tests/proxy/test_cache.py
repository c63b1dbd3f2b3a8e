"""The S3 dataset cache against a real S3 endpoint: moto's server, started here."""

import json

import boto3
import pytest

from evonorm.proxy import cifar
from evonorm.proxy.cache import DatasetCache, cache_from_env


@pytest.fixture(scope="module")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(s3_endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    client = boto3.client("s3")
    bucket = f"datasets-{len(client.list_buckets()['Buckets'])}"
    client.create_bucket(Bucket=bucket)
    return client, bucket


def test_store_then_fetch_round_trip(s3, tmp_path):
    client, bucket = s3
    cache = DatasetCache(f"s3://{bucket}/evonorm/cache", client=client)
    source = tmp_path / "a" / "archive.tar.gz"
    source.parent.mkdir()
    source.write_bytes(b"\x1f\x8b" + bytes(range(256)) * 100)
    key = cache.store("cifar10", "v1", source)
    assert key == "evonorm/cache/cifar10/v1/archive.tar.gz"
    dest = tmp_path / "b" / "archive.tar.gz"
    assert cache.fetch("cifar10", "v1", dest)
    assert dest.read_bytes() == source.read_bytes()
    assert not (tmp_path / "b" / "archive.tar.gz.part").exists()


def test_missing_object_is_a_miss_not_an_error(s3, tmp_path):
    client, bucket = s3
    cache = DatasetCache(f"s3://{bucket}", client=client)
    assert cache.key("cifar10", "v1", "x") == "cifar10/v1/x"
    assert not cache.fetch("cifar10", "v2", tmp_path / "nothing.tar.gz")
    assert list(tmp_path.iterdir()) == []


def test_bad_uri_and_environment(monkeypatch):
    with pytest.raises(ValueError, match="s3://bucket"):
        DatasetCache("https://example/x", client=object())
    monkeypatch.delenv("EVONORM_DATASET_CACHE", raising=False)
    assert cache_from_env() is None


def test_cifar_archive_comes_from_the_cache_before_any_download(s3, tmp_path, monkeypatch):
    _, bucket = s3
    monkeypatch.setenv("EVONORM_DATASET_CACHE", f"s3://{bucket}/cache")
    cache = cache_from_env()
    archive = tmp_path / "upload" / cifar.ARCHIVE
    archive.parent.mkdir()
    archive.write_bytes(b"stand-in archive bytes")
    cache.store("cifar10", cifar.VERSION, archive)
    root = tmp_path / "data"
    assert cifar.ensure_archive(root, cache)
    assert (root / cifar.ARCHIVE).read_bytes() == b"stand-in archive bytes"
    assert not cifar.ensure_archive(root, cache)  # already there: no second fetch
    # torchvision verifies the archive's MD5 before extracting it; that step needs the real
    # CIFAR-10 archive, which this machine cannot download.


@pytest.fixture
def cache_down(tmp_path, monkeypatch):
    """The S3 dataset cache configured, its endpoint a closed port, data under tmp_path/data."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{s.getsockname()[1]}"  # closed once the block ends
    for name, value in {
        "AWS_ENDPOINT_URL": down,
        "AWS_ACCESS_KEY_ID": "k",
        "AWS_SECRET_ACCESS_KEY": "s",
        "AWS_DEFAULT_REGION": "us-east-1",
        "EVONORM_DATASET_CACHE": "s3://datasets/cache",
        "EVONORM_DATA_DIR": str(tmp_path / "data"),
    }.items():
        monkeypatch.setenv(name, value)


def test_an_unreachable_cache_is_one_line_and_storing_only_warns(tmp_path, cache_down, capsys):
    from evonorm.cli import main
    from evonorm.proxy.data import DataError

    with pytest.raises(DataError, match=r"dataset cache s3://datasets/cache cannot be read"):
        cifar.load_cifar10("train")
    assert not list((tmp_path / "data").glob("*.part"))  # nothing half-downloaded
    assert main(["evaluate", "bn_relu", "--preset", "paper", "--device", "cpu"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "cannot be read (Could not connect to the endpoint URL" in line
    # A local copy is used without asking the cache at all.
    (tmp_path / "data" / "cifar-10-batches-py").mkdir(parents=True)
    assert not cifar.ensure_archive(tmp_path / "data", cache_from_env())
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(b"x")
    with pytest.warns(UserWarning, match="not stored"):
        assert cache_from_env().store("cifar10", "v1", archive) is None


def _local_cifar(root, per_batch: int, monkeypatch) -> None:
    """A small CIFAR-10 copy in torchvision's own format (pickled batches) under ``root``. No
    real archive can be fetched here, so its files' MD5s are given to torchvision, which checks
    them before reading; the reading itself is torchvision's."""
    import hashlib
    import pickle

    import numpy as np
    from torchvision.datasets import CIFAR10

    folder = root / CIFAR10.base_folder
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)

    def write(name: str, entry: dict) -> list[str]:
        (folder / name).write_bytes(pickle.dumps(entry))
        return [name, hashlib.md5((folder / name).read_bytes()).hexdigest()]

    def batch(name: str, n: int) -> list[str]:
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        return write(name, {"data": data, "labels": rng.integers(0, 10, n).tolist()})

    monkeypatch.setattr(
        CIFAR10, "train_list", [batch(f"data_batch_{i}", per_batch) for i in (1, 2, 3, 4, 5)]
    )
    monkeypatch.setattr(CIFAR10, "test_list", [batch("test_batch", 100)])
    _, md5 = write(CIFAR10.meta["filename"], {"label_names": [str(i) for i in range(10)]})
    monkeypatch.setattr(CIFAR10, "meta", {**CIFAR10.meta, "md5": md5})


def test_the_search_reads_its_local_copy_while_the_cache_is_down(tmp_path, cache_down, monkeypatch):
    """The pipeline's data step at ``paper`` (the CIFAR-10 preset) with the S3 cache configured
    but its endpoint down: the local copy is read, the cache never asked, nothing written."""
    from evonorm.proxy.presets import get_preset
    from evonorm.tasks import prepare_data

    data = tmp_path / "data"
    _local_cifar(data, per_batch=2200, monkeypatch=monkeypatch)
    before = sorted(p.relative_to(data) for p in data.rglob("*"))
    paper = get_preset("paper")
    summary = json.loads(prepare_data("paper"))
    assert summary["dataset"] == "cifar10"
    assert summary["search"] == paper.search_size and summary["rerank"] == paper.rerank_size
    assert summary["fit"] == 5 * 2200 - paper.search_size - paper.rerank_size
    assert sorted(p.relative_to(data) for p in data.rglob("*")) == before  # no archive, no .part
