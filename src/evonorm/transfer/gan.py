"""Transfer to image generation: a DCGAN whose generator's BN-ReLU layers are the layer under
test, on Fashion-MNIST, scored by the Fréchet distance in the feature space of a Fashion-MNIST
classifier the project trains itself.

- Generator: z → 7×7 → 14×14 → 28×28 by transposed convolutions, each but the last followed by
  BN + ReLU placeholders that the paper's substitution rule turns into the layer; tanh output.
- Discriminator: the same for every layer — strided convolutions with leaky ReLU, no norm.
- Training: Adam (lr 2e-4, betas 0.5/0.999), the non-saturating loss, a fixed seed per run.
- Metric: torchmetrics' ``FrechetInceptionDistance`` with a custom feature extractor: the
  pooled features of a basic-block ResNet trained here (BN-ReLU, proxy trainer) to classify
  Fashion-MNIST — an ImageNet Inception means nothing on 28×28 grey clothes, and nothing may be
  downloaded. Real statistics come from the ``rerank`` split (never trained on). Lower is
  better. A sample grid per layer is written when an output folder is given.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn
from torchmetrics.image.fid import FrechetInceptionDistance
from torchvision.utils import save_image

from evonorm.compile import build_layer
from evonorm.proxy.architectures import ArchConfig, build_model
from evonorm.proxy.data import ProxyData
from evonorm.proxy.substitution import substitute
from evonorm.proxy.trainer import TrainConfig, train
from evonorm.space import KNOWN_LAYERS, LayerGraph

__all__ = ["GAN", "FeatureNet", "GanConfig", "generator", "run_gan", "train_classifier"]


@dataclass(frozen=True)
class GanConfig:
    z_dim: int = 64
    width: int = 32  # generator / discriminator base channels
    steps: int = 1500
    batch_size: int = 64
    lr: float = 2e-4
    samples: int = 2000  # images per side of the Fréchet distance
    classifier_steps: int = 300
    classifier_width: float = 0.25
    timeout_s: float | None = None

    def __post_init__(self) -> None:
        for name in ("z_dim", "width", "steps", "batch_size", "samples", "classifier_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"gan {name} must be >= 1, got {getattr(self, name)}")
        if self.samples < 2:
            raise ValueError(f"gan samples must be >= 2, got {self.samples}")


GAN = {
    "smoke": GanConfig(
        z_dim=16,
        width=8,
        steps=4,
        batch_size=16,
        samples=64,
        classifier_steps=8,
        classifier_width=0.125,
    ),
    "local": GanConfig(steps=1000),
    "ablation": GanConfig(steps=1000),
    "paper": GanConfig(width=64, steps=10000, samples=10000, classifier_steps=2000),
}


def generator(graph: LayerGraph, config: GanConfig) -> nn.Module:
    w = config.width
    model = nn.Sequential(
        nn.Unflatten(1, (config.z_dim, 1, 1)),
        nn.ConvTranspose2d(config.z_dim, 4 * w, 7, bias=False),
        nn.BatchNorm2d(4 * w),
        nn.ReLU(),
        nn.ConvTranspose2d(4 * w, 2 * w, 4, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(2 * w),
        nn.ReLU(),
        nn.ConvTranspose2d(2 * w, 1, 4, stride=2, padding=1),
        nn.Tanh(),
    )
    return substitute(model, functools.partial(build_layer, graph))


def discriminator(config: GanConfig) -> nn.Module:
    w = config.width
    return nn.Sequential(
        nn.Conv2d(1, w, 4, stride=2, padding=1),
        nn.LeakyReLU(0.2),
        nn.Conv2d(w, 2 * w, 4, stride=2, padding=1),
        nn.LeakyReLU(0.2),
        nn.Flatten(),
        nn.Linear(2 * w * 7 * 7, 1),
    )


class FeatureNet(nn.Module):
    """A trained classifier's pooled features for images in [-1, 1] (the generator's range)."""

    def __init__(self, classifier: nn.Module, data: ProxyData) -> None:
        super().__init__()
        self.body = nn.Sequential(
            classifier.stem, classifier.stages, nn.AdaptiveAvgPool2d(1), nn.Flatten()
        )
        self.num_features = classifier.head[-1].in_features
        self.data = data
        self.eval().requires_grad_(False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.body(self.data.normalise((images.float() + 1) * 127.5))

    def train(self, mode: bool = True) -> FeatureNet:  # torchmetrics may call .train(); stay eval
        return super().train(False)


def train_classifier(data: ProxyData, config: GanConfig, *, seed: int = 0) -> FeatureNet:
    torch.manual_seed(seed)
    arch = ArchConfig(
        width=config.classifier_width,
        depth=0.5,
        stem_stride=2,
        in_channels=1,
        lone_norm="batchnorm",
    )
    model = build_model(
        "resnet_basic", arch, functools.partial(build_layer, KNOWN_LAYERS["bn_relu"])
    )
    result = train(
        model, data, TrainConfig(steps=config.classifier_steps, augment=False), seed=seed
    )
    net = FeatureNet(model, data)
    net.accuracy = result.accuracy
    return net


def _real(data: ProxyData, split: str, count: int, generator: torch.Generator) -> torch.Tensor:
    images = data.images[split]
    index = torch.randint(len(images), (count,), generator=generator).to(images.device)
    return images[index].float() / 127.5 - 1


def train_and_score(
    graph: LayerGraph,
    data: ProxyData,
    features: FeatureNet,
    config: GanConfig,
    seed: int,
    out: Path | None = None,
    name: str = "layer",
) -> dict:
    """Train the GAN with ``graph`` in the generator; ``fid`` (None when training failed),
    ``seconds``, ``diverged``, ``reason``."""
    start = time.perf_counter()
    torch.manual_seed(seed)
    gen, disc = generator(graph, config), discriminator(config)
    betas = (0.5, 0.999)
    opt_g = torch.optim.Adam(gen.parameters(), lr=config.lr, betas=betas)
    opt_d = torch.optim.Adam(disc.parameters(), lr=config.lr, betas=betas)
    bce = nn.functional.binary_cross_entropy_with_logits
    rng = torch.Generator().manual_seed(seed)
    reason = ""
    ones, zeros = torch.ones(config.batch_size, 1), torch.zeros(config.batch_size, 1)
    for step in range(config.steps):
        if config.timeout_s is not None and time.perf_counter() - start > config.timeout_s:
            reason = f"timed out after {step} steps"
            break
        try:
            real = _real(data, "fit", config.batch_size, rng)
            fake = gen(torch.randn(config.batch_size, config.z_dim, generator=rng))
            loss_d = bce(disc(real), ones) + bce(disc(fake.detach()), zeros)
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            loss_g = bce(disc(fake), ones)
            if not (
                math.isfinite(float(loss_d.detach())) and math.isfinite(float(loss_g.detach()))
            ):
                reason = f"non-finite loss at step {step}"
                break
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
        except (RuntimeError, ValueError, FloatingPointError) as exc:
            reason = f"error at step {step}: {str(exc).splitlines()[0][:200]}"
            break
    fid = None
    if not reason.startswith(("non-finite", "error")):
        gen.eval()
        metric = FrechetInceptionDistance(feature=features, reset_real_features=True)
        with torch.no_grad():
            for begin in range(0, config.samples, 500):
                n = min(500, config.samples - begin)
                metric.update(_real(data, "rerank", n, rng), real=True)
                fake = gen(torch.randn(n, config.z_dim, generator=rng))
                metric.update(fake, real=False)
            if torch.isfinite(fake).all():
                fid = float(metric.compute())
            else:
                reason = "non-finite samples"
        if out is not None and torch.isfinite(fake).all():
            out.mkdir(parents=True, exist_ok=True)
            save_image((fake[:64] + 1) / 2, out / f"gan_{name}.png", nrow=8)
    if fid is not None and not math.isfinite(fid):
        fid, reason = None, reason or "non-finite Fréchet distance"
    return {
        "fid": fid,
        "seconds": time.perf_counter() - start,
        "diverged": fid is None,
        "reason": reason,
    }


def run_gan(
    layers: dict[str, LayerGraph],
    data: ProxyData,
    config: GanConfig,
    *,
    seed: int = 0,
    out: str | Path | None = None,
    echo=print,
) -> dict:
    """Score every layer against the same feature classifier; ``{"settings": ..., "classifier":
    {...}, "layers": {name: scores}}``."""
    if tuple(data.images["fit"].shape[1:]) != (1, 28, 28):
        raise ValueError(f"the GAN transfer task runs on Fashion-MNIST; got {data.spec.name!r}")
    start = time.perf_counter()
    features = train_classifier(data, config, seed=seed)
    classifier = {"accuracy": features.accuracy, "seconds": time.perf_counter() - start}
    echo(f"gan feature classifier: {features.accuracy:.2%} in {classifier['seconds']:.1f} s")
    results = {}
    for name, graph in layers.items():
        r = results[name] = train_and_score(
            graph, data, features, config, seed, Path(out) if out else None, name
        )
        fid = "failed" if r["fid"] is None else f"{r['fid']:.2f}"
        echo(f"gan {name:24} FID {fid} in {r['seconds']:.1f} s {r['reason']}")
    return {
        "settings": {**asdict(config), "seed": seed},
        "classifier": classifier,
        "layers": results,
    }
