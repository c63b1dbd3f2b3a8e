"""Named presets: every setting of the proxy task and its rejection stages, as frozen configs.

- ``smoke``: seconds on a CPU; for tests. Tiny networks (anchors with a stride-2 stem), few
  steps, a small slice of data.
- ``local``: Fashion-MNIST on a 2-core CPU; the embedded default. The paper's placement (lone
  norms by the ``"own"`` rule: candidates carry all of a block's normalisation, each baseline
  keeps its own lone norm), so a layer that does not normalise fails on the mobile networks;
  learning rates and a gradient-norm clip chosen so that the EvoNorms train there (MobileNetV2
  and EfficientNet-B0 at 0.02; the ResNet at width 1/8 and 0.1; clip at 5). The measurements
  that chose it are in docs/proxy.md (bench/proxy_design.py) and its fidelity table in
  docs/benchmarks.md (bench/proxy_fidelity.py).
- ``ablation``: the ``local`` networks at about a fifth of the cost (100 steps of batch 32, a
  20-step quality check, 2000 held-out images) so that the ablation (``evonorm experiment
  ablation``) affords hundreds of candidates per arm on a 2-core CPU.
- ``paper``: CIFAR-10 with the paper's three anchors at proxy scale and ~2000 steps; for GPUs.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from evonorm.proxy.architectures import ANCHORS, HELD_OUT, ArchConfig
from evonorm.proxy.data import ProxyData, load_data
from evonorm.proxy.trainer import TrainConfig

__all__ = ["PRESETS", "Preset", "QualityConfig", "StabilityConfig", "get_preset"]


@dataclass(frozen=True)
class QualityConfig:
    """Quality rejection: ``steps`` of training on each anchor; a layer must reach
    ``max(min_accuracy, min_relative × BN-ReLU's accuracy with the same budget)`` on every one."""

    steps: int = 100
    min_accuracy: float = 0.2  # absolute, in [0, 1]
    min_relative: float = 0.0  # fraction of the BN-ReLU reference accuracy, in [0, 1]
    compile: bool = False  # short runs do not repay a compile

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"quality steps must be >= 1, got {self.steps}")
        for name in ("min_accuracy", "min_relative"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")

    def threshold(self, reference: float | None) -> float:
        """The accuracy a layer needs on one architecture, given BN-ReLU's there."""
        relative = self.min_relative * reference if reference is not None else 0.0
        return max(self.min_accuracy, relative)


@dataclass(frozen=True)
class StabilityConfig:
    """Stability rejection; see :mod:`evonorm.reject.stability` for the exact estimator."""

    steps: int = 5
    step_size: float = 0.05  # relative to the parameter norm
    batch_size: int = 32
    max_grad_norm: float = 1e8  # the order the paper reports (docs/benchmarks.md: known <= 286)

    def __post_init__(self) -> None:
        if self.steps < 0:
            raise ValueError(f"stability steps must be >= 0, got {self.steps}")
        if self.batch_size < 1:
            raise ValueError(f"stability batch_size must be >= 1, got {self.batch_size}")
        if self.step_size < 0:
            raise ValueError(f"stability step_size must be >= 0, got {self.step_size}")
        if self.max_grad_norm <= 0:
            raise ValueError(f"max_grad_norm must be > 0, got {self.max_grad_norm}")


@dataclass(frozen=True)
class Preset:
    name: str
    dataset: str
    anchors: tuple[tuple[str, ArchConfig], ...]
    held_out: tuple[tuple[str, ArchConfig], ...]
    train: TrainConfig
    quality: QualityConfig = field(default_factory=QualityConfig)
    stability: StabilityConfig = field(default_factory=StabilityConfig)
    search_size: int = 5000  # held-out images scored during the search
    rerank_size: int = 5000  # held-out images for reranking only
    fit_size: int | None = None  # cap on training images (None: the rest)
    rerank_steps: int | None = None  # training steps when reranking (None: 2 x train.steps)
    # BN-ReLU's seed-to-seed std of its mean accuracy over networks, measured for this preset
    # (bench/proxy_fidelity.py): the noise a layer must beat to be crowned (tracking/gate.py).
    # None: not measured; the gate then needs a rerank over >= 2 seeds to measure it itself.
    seed_std: float | None = None
    # Reject layers whose output is affine in x at every sample and channel (no activation;
    # reject/fingerprint.py) for free, before any training. At the Fashion-MNIST budgets such
    # layers score above BN-ReLU on the anchors and below it on the held-out networks
    # (docs/proxy.md, "Linear layers and the canvas"). On for ``local`` and ``ablation``;
    # ``paper`` leaves them to its training, as the paper does, and ``smoke`` keeps the trivial
    # layers (``-x``) the tests exercise the machinery with.
    reject_affine: bool = False
    # Run the rejection step on the training device (a GPU in the pipeline) rather than on a CPU
    # pod: worth it where quality training is long (``paper``: 100 steps x 3 networks of
    # CIFAR-10). Where a layer is screened changes no score, so it is outside the revision.
    reject_on_accelerator: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        if not self.anchors:
            raise ValueError(f"preset {self.name!r} needs at least one anchor architecture")
        for size in ("search_size", "rerank_size"):
            if getattr(self, size) < 1:
                raise ValueError(f"{size} must be >= 1, got {getattr(self, size)}")
        if self.rerank_steps is not None and self.rerank_steps < 1:
            raise ValueError(f"rerank_steps must be >= 1, got {self.rerank_steps}")
        if self.seed_std is not None and not 0.0 <= self.seed_std < 1.0:
            raise ValueError(f"seed_std must be in [0, 1), got {self.seed_std}")

    @property
    def revision(self) -> str:
        """A short hash of every setting but the measured ``seed_std``: scores under two
        revisions of a preset (say ``local`` before and after a redesign) never compare."""
        settings = repr(dataclasses.replace(self, seed_std=None))
        return hashlib.sha256(settings.encode()).hexdigest()[:10]

    def rerank_protocol(self, archs: Sequence[str]) -> str:
        """What makes two rerank scores comparable: preset revision, budget, split, networks."""
        train = self.rerank_train
        return f"{self.name}@{self.revision}/{train.steps}/{train.eval_split}/{','.join(archs)}"

    def arch(self, name: str) -> ArchConfig:
        for arch, config in self.anchors + self.held_out:
            if arch == name:
                return config
        known = ", ".join(a for a, _ in self.anchors + self.held_out)
        raise KeyError(f"preset {self.name!r} has no architecture {name!r}; it has: {known}")

    @property
    def anchor_names(self) -> tuple[str, ...]:
        return tuple(a for a, _ in self.anchors)

    @property
    def held_out_names(self) -> tuple[str, ...]:
        return tuple(a for a, _ in self.held_out)

    @property
    def rerank_train(self) -> TrainConfig:
        """Reranking's training: a longer budget, scored on the ``rerank`` split."""
        steps = self.rerank_steps or 2 * self.train.steps
        return dataclasses.replace(self.train, steps=steps, eval_split="rerank")

    def load_data(self, *, seed: int = 0, device: str | torch.device = "cpu") -> ProxyData:
        """This preset's dataset, cut into its fit / search / rerank splits on ``device``."""
        return load_data(
            self.dataset,
            search_size=self.search_size,
            rerank_size=self.rerank_size,
            fit_size=self.fit_size,
            seed=seed,
            device=device,
        )


def _archs(names, **shape) -> tuple[tuple[str, ArchConfig], ...]:
    return tuple((name, ArchConfig(**shape[name])) for name in names)


_SMOKE_SHAPE = {
    "width": 0.125,
    "depth": 0.34,
    "stem_stride": 1,
    "in_channels": 1,
    "lone_norm": "own",
}
_SMOKE_ANCHOR = {**_SMOKE_SHAPE, "stem_stride": 2}  # 14x14 maps: a search step in ~2.5 s
_SMOKE = Preset(
    name="smoke",
    dataset="fashion_mnist",
    anchors=_archs(ANCHORS, **{n: _SMOKE_ANCHOR for n in ANCHORS}),
    held_out=_archs(HELD_OUT, **{n: _SMOKE_SHAPE for n in HELD_OUT}),
    train=TrainConfig(steps=12, batch_size=32, lr=0.05),
    quality=QualityConfig(steps=4, min_accuracy=0.0),
    stability=StabilityConfig(steps=2, batch_size=8),
    search_size=256,
    rerank_size=256,
    fit_size=2048,
    rerank_steps=12,
)

# The paper's placement (paper-notes §4, §9): candidates carry all of a block's normalisation
# (lone norms affine-only), each baseline keeps its own lone norm (BN for BN-*, GN for GN-ReLU).
_LOCAL_SHAPE = {"depth": 0.34, "stem_stride": 2, "in_channels": 1, "lone_norm": "own"}
_LOCAL_ANCHORS = _archs(
    ANCHORS,
    resnet={**_LOCAL_SHAPE, "width": 0.125, "lr": 0.1},
    mobilenet_v2={**_LOCAL_SHAPE, "width": 0.25, "lr": 0.02},
    efficientnet_b0={**_LOCAL_SHAPE, "width": 0.25, "depth": 0.2, "lr": 0.02},
)
_LOCAL_HELD_OUT = _archs(
    HELD_OUT,
    resnet_basic={**_LOCAL_SHAPE, "width": 0.125, "depth": 0.5, "lr": 0.1},
    mnasnet={**_LOCAL_SHAPE, "width": 0.35, "depth": 1.0, "lr": 0.02},
    vgg={**_LOCAL_SHAPE, "width": 0.125, "depth": 0.5, "stem_stride": 1, "lr": 0.05},
)
_LOCAL = Preset(
    name="local",
    dataset="fashion_mnist",
    anchors=_LOCAL_ANCHORS,
    held_out=_LOCAL_HELD_OUT,
    # Gradient norm clipped at 5: EvoNorm-B0 diverged in the first 21 steps of 2 of 4 mobile
    # runs without it, and trains in all of them with it (bench/proxy_design.py, local_clip5).
    train=TrainConfig(steps=300, batch_size=128, lr=0.1, augment=False, clip_grad_norm=5.0),
    quality=QualityConfig(steps=100, min_accuracy=0.2, min_relative=0.5),
    search_size=5000,
    rerank_size=5000,
    reject_affine=True,
    # BN-ReLU, 5 seeds x 5 networks, sample std of the mean over networks (bench/
    # proxy_fidelity.py on this revision, gradient clipping included, 2026-12-01).
    seed_std=0.0011,
)

_ABLATION = Preset(
    name="ablation",
    dataset="fashion_mnist",
    anchors=_LOCAL_ANCHORS,
    held_out=_LOCAL_HELD_OUT,
    train=TrainConfig(steps=100, batch_size=32, lr=0.05, augment=False, clip_grad_norm=5.0),
    # 100 quality steps: with 20, 40 or 60 the chain rejected BN-ReLU itself (MobileNetV2 and
    # EfficientNet-B0 near chance that early; bench/ablation_quality.py).
    quality=QualityConfig(steps=100, min_accuracy=0.2, min_relative=0.5),
    search_size=2000,
    rerank_size=2000,
    rerank_steps=200,
    reject_affine=True,
)

_PAPER = Preset(
    name="paper",
    dataset="cifar10",
    anchors=_archs(
        ANCHORS,
        resnet={"width": 0.25, "depth": 1.0, "stem_stride": 1, "lone_norm": "own"},
        mobilenet_v2={"width": 0.5, "depth": 1.0, "stem_stride": 1, "lone_norm": "own"},
        efficientnet_b0={"width": 0.5, "depth": 1.0, "stem_stride": 1, "lone_norm": "own"},
    ),
    held_out=_archs(
        HELD_OUT,
        resnet_basic={"width": 0.5, "depth": 1.0, "stem_stride": 1, "lone_norm": "own"},
        mnasnet={"width": 0.5, "depth": 1.0, "stem_stride": 1, "lone_norm": "own"},
        vgg={"width": 0.5, "depth": 1.0, "stem_stride": 1, "lone_norm": "own"},
    ),
    train=TrainConfig(steps=2000, batch_size=128, lr=0.1, compile=True),
    quality=QualityConfig(steps=100, min_accuracy=0.2),
    search_size=5000,
    rerank_size=5000,
    reject_on_accelerator=True,
)

PRESETS: dict[str, Preset] = {p.name: p for p in (_SMOKE, _LOCAL, _ABLATION, _PAPER)}


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    return PRESETS[name]
