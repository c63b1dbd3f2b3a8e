import gzip

import pytest
import torch

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


def test_splits_are_disjoint_seeded_and_never_test():
    from evonorm.proxy.data import load_data

    a = load_data("fashion_mnist", search_size=1000, rerank_size=500, seed=1)
    b = load_data("fashion_mnist", search_size=1000, rerank_size=500, seed=1)
    c = load_data("fashion_mnist", search_size=1000, rerank_size=500, seed=2)
    assert {k: len(v) for k, v in a.images.items()} == {"search": 1000, "rerank": 500, "fit": 58500}
    assert torch.equal(a.images["search"], b.images["search"])
    assert not torch.equal(a.images["search"], c.images["search"])
    rows = {k: {bytes(img.numpy()) for img in v[:300]} for k, v in a.images.items()}
    assert not rows["search"] & rows["rerank"] and not rows["search"] & rows["fit"]
    with pytest.raises(ValueError, match="must leave training images"):
        load_data("fashion_mnist", search_size=40000, rerank_size=20000)
    with pytest.raises(KeyError, match="unknown dataset"):
        load_data("imagenet", search_size=1, rerank_size=1)


def test_batched_augmentation_crops_and_flips():
    from evonorm.proxy.data import augment_batch

    x = torch.arange(2 * 1 * 5 * 5, dtype=torch.uint8).view(2, 1, 5, 5)
    g = torch.Generator().manual_seed(0)
    seen_shift = False
    for _ in range(20):
        y = augment_batch(x, g, pad=2, flip=False)
        assert y.shape == x.shape and y.dtype == x.dtype
        for n in range(2):  # every output is a window of the zero-padded image
            padded = torch.nn.functional.pad(x[n], (2, 2, 2, 2))
            windows = [padded[:, i : i + 5, j : j + 5] for i in range(5) for j in range(5)]
            assert any(torch.equal(y[n], w) for w in windows)
            seen_shift |= not torch.equal(y[n], x[n])
    assert seen_shift
    flips = [torch.equal(augment_batch(x, g, pad=0, flip=True)[0], x[0].flip(2)) for _ in range(40)]
    assert 5 < sum(flips) < 35


def test_batches_are_normalised_on_the_device():
    from evonorm.proxy.data import load_data

    data = load_data("fashion_mnist", search_size=1000, rerank_size=1000, fit_size=5000)
    x, y = data.batch(256, torch.Generator().manual_seed(0), augment=False)
    assert x.shape == (256, 1, 28, 28) and x.dtype == torch.float32 and y.shape == (256,)
    assert abs(float(x.mean())) < 0.2 and abs(float(x.std()) - 1.0) < 0.2
