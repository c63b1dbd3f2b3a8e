import gzip

import pytest

from evonorm.proxy.data import DataError, load_fashion_mnist


def test_reads_the_offline_package():
    images, labels = load_fashion_mnist("train")
    assert images.shape == (60000, 28, 28) and labels.shape == (60000,)
    assert labels.bincount().tolist() == [6000] * 10
    test_images, _ = load_fashion_mnist("test")
    assert test_images.shape == (10000, 28, 28)
    with pytest.raises(ValueError, match="split"):
        load_fashion_mnist("validation")


def fake_folder(tmp_path, images: bytes, labels: bytes):
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(images))
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(labels))
    return tmp_path


def idx(magic: int, *shape: int, payload: bytes) -> bytes:
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in shape)
    return header + payload


def test_small_valid_file(tmp_path, monkeypatch):
    folder = fake_folder(
        tmp_path, idx(2051, 2, 2, 2, payload=bytes(range(8))), idx(2049, 2, payload=b"\x01\x07")
    )
    monkeypatch.setenv("EVONORM_FASHION_MNIST_DIR", str(folder))
    images, labels = load_fashion_mnist("train")
    assert images[1].tolist() == [[4, 5], [6, 7]] and labels.tolist() == [1, 7]


@pytest.mark.parametrize(
    ("images", "labels", "message"),
    [
        (idx(9999, 1, 2, 2, payload=bytes(4)), idx(2049, 1, payload=b"\x00"), "bad magic"),
        (idx(2051, 2, 2, 2, payload=bytes(5)), idx(2049, 2, payload=b"\x00\x00"), "truncated"),
        (idx(2051, 1, 2, 2, payload=bytes(4)), idx(2049, 2, payload=b"\x00\x00"), "1 images but 2"),
    ],
)
def test_corrupt_files(tmp_path, monkeypatch, images, labels, message):
    monkeypatch.setenv("EVONORM_FASHION_MNIST_DIR", str(fake_folder(tmp_path, images, labels)))
    with pytest.raises(DataError, match=message):
        load_fashion_mnist("train")


def test_missing_files_name_them_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("EVONORM_FASHION_MNIST_DIR", str(tmp_path))
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte.gz.*make data"):
        load_fashion_mnist("test")
