"""Datasets for the proxy task, held whole as tensors on the training device.

Registry (:data:`DATASETS`): ``fashion_mnist`` — the embedded default, read offline from the
Debian package ``dataset-fashion-mnist`` (gzipped IDX files; ``$EVONORM_FASHION_MNIST_DIR``
overrides the folder) — and ``cifar10``, the cluster default, through torchvision (see
:mod:`evonorm.proxy.cifar`).

Splits: the training set is cut, by a seeded permutation, into ``fit`` (what models train on),
``search`` (held-out accuracy during the search) and ``rerank`` (held-out accuracy when
reranking the best layers, never seen by the search). The test split is never used.

Images stay uint8 on the device; :meth:`ProxyData.batch` draws a batch, applies augmentation on
the batched tensor (random crop from a zero-padded image, horizontal flip) and normalises it.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
INSTALL_HINT = "install them with `make data` (runs: apt-get install -y dataset-fashion-mnist)"


class DataError(RuntimeError):
    """Missing or corrupt dataset files; the message names the files and how to get them."""


def fashion_mnist_dir() -> Path:
    return Path(os.environ.get("EVONORM_FASHION_MNIST_DIR", DEBIAN_DIR))


def _read_idx(path: Path, magic: int, ndim: int) -> np.ndarray:
    try:
        raw = gzip.decompress(path.read_bytes())
    except (OSError, EOFError) as exc:
        raise DataError(f"cannot read {path}: {exc}; {INSTALL_HINT}") from None
    header = 4 * (1 + ndim)
    if len(raw) < header or int.from_bytes(raw[:4], "big") != magic:
        raise DataError(f"{path} is not an IDX file (bad magic number); {INSTALL_HINT}")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=header)
    if data.size != int(np.prod(shape)):
        raise DataError(f"{path} is truncated: {data.size} values for shape {shape}")
    return data.reshape(shape)


def load_fashion_mnist(split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """(images uint8 (N, 28, 28), labels int64 (N,)) of the ``train`` or ``test`` split."""
    if split not in FILES:
        raise ValueError(f"split must be one of {sorted(FILES)}, got {split!r}")
    folder = fashion_mnist_dir()
    paths = [folder / name for name in FILES[split]]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise DataError(f"Fashion-MNIST files not found: {', '.join(missing)}; {INSTALL_HINT}")
    images = _read_idx(paths[0], 2051, 3)
    labels = _read_idx(paths[1], 2049, 1)
    if len(images) != len(labels):
        raise DataError(f"{folder}: {len(images)} images but {len(labels)} labels")
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64))


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    channels: int
    size: int
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    pad: int  # random-crop padding
    flip: bool
    load: Callable[[str], tuple[torch.Tensor, torch.Tensor]]  # split -> (uint8 NCHW, labels)


def _fashion_mnist_nchw(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = load_fashion_mnist(split)
    return images.unsqueeze(1), labels


def _cifar10_nchw(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    from evonorm.proxy.cifar import load_cifar10

    return load_cifar10(split)


DATASETS: dict[str, DatasetSpec] = {
    "fashion_mnist": DatasetSpec(
        "fashion_mnist",
        1,
        28,
        10,
        (0.2860,),
        (0.3530,),
        pad=2,
        flip=True,
        load=_fashion_mnist_nchw,
    ),
    "cifar10": DatasetSpec(
        "cifar10",
        3,
        32,
        10,
        (0.4914, 0.4822, 0.4465),
        (0.2470, 0.2435, 0.2616),
        pad=4,
        flip=True,
        load=_cifar10_nchw,
    ),
}


@dataclass
class ProxyData:
    """One dataset's splits on one device: ``images[split]`` uint8 NCHW, ``labels[split]``."""

    spec: DatasetSpec
    images: dict[str, torch.Tensor]
    labels: dict[str, torch.Tensor]
    device: torch.device

    def __post_init__(self) -> None:
        shape = (1, -1, 1, 1)
        self._mean = torch.tensor(self.spec.mean, device=self.device).view(shape)
        self._scale = 1.0 / (255.0 * torch.tensor(self.spec.std, device=self.device).view(shape))

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        return (images.float() - 255.0 * self._mean) * self._scale

    def batch(
        self, size: int, generator: torch.Generator, *, augment: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """A random training batch (float, normalised) drawn from the ``fit`` split."""
        images, labels = self.images["fit"], self.labels["fit"]
        index = torch.randint(len(images), (size,), generator=generator, device="cpu")
        index = index.to(self.device)
        x = images[index]
        if augment:
            x = augment_batch(x, generator, pad=self.spec.pad, flip=self.spec.flip)
        return self.normalise(x), labels[index]

    def held_out(self, split: str, chunk: int = 1000):
        """Yield (images, labels) of ``split`` in chunks, normalised, no augmentation."""
        images, labels = self.images[split], self.labels[split]
        for start in range(0, len(images), chunk):
            yield self.normalise(images[start : start + chunk]), labels[start : start + chunk]


def augment_batch(x: torch.Tensor, generator: torch.Generator, *, pad: int, flip: bool):
    """Random crop (from a zero-padded image) and horizontal flip, per sample, on the batch."""
    n, _, h, w = x.shape
    if pad:
        padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
        dy = torch.randint(0, 2 * pad + 1, (n, 1, 1), generator=generator).to(x.device)
        dx = torch.randint(0, 2 * pad + 1, (n, 1, 1), generator=generator).to(x.device)
        rows = dy + torch.arange(h, device=x.device).view(1, h, 1)  # (N, H, 1)
        cols = dx + torch.arange(w, device=x.device).view(1, 1, w)  # (N, 1, W)
        batch = torch.arange(n, device=x.device).view(n, 1, 1)
        x = padded[batch, :, rows, cols].permute(0, 3, 1, 2)  # (N, H, W, C) -> (N, C, H, W)
    if flip:
        mask = (torch.rand(n, generator=generator) < 0.5).to(x.device).view(n, 1, 1, 1)
        x = torch.where(mask, x.flip(3), x)
    return x.contiguous()


def resolve_device(device: str | torch.device) -> torch.device:
    """``device`` as a torch device; ``"auto"`` is CUDA when there is one, else the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def load_data(
    name: str,
    *,
    search_size: int,
    rerank_size: int,
    seed: int = 0,
    device: str | torch.device = "cpu",
    fit_size: int | None = None,
) -> ProxyData:
    """Dataset ``name`` split into ``fit`` / ``search`` / ``rerank`` by a seeded permutation of
    its training set, on ``device`` (``"auto"``: :func:`resolve_device`); ``fit_size`` caps the
    fitting split (smoke tests)."""
    if name not in DATASETS:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    spec = DATASETS[name]
    images, labels = spec.load("train")
    if search_size + rerank_size >= len(images):
        raise ValueError(
            f"search_size + rerank_size ({search_size + rerank_size}) must leave training "
            f"images of the {len(images)} in {name}"
        )
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    parts = {
        "search": order[:search_size],
        "rerank": order[search_size : search_size + rerank_size],
        "fit": order[search_size + rerank_size :][:fit_size],
    }
    device = resolve_device(device)
    return ProxyData(
        spec=spec,
        images={k: images[v].to(device) for k, v in parts.items()},
        labels={k: labels[v].to(device) for k, v in parts.items()},
        device=device,
    )
