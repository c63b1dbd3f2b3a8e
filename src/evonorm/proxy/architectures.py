"""Architectures that host candidate layers, adapted to small images, by name.

Anchors (scored during the search, as in the paper): ``resnet`` (bottleneck blocks, the
ResNet-50 layout scaled by depth and width), ``mobilenet_v2`` and ``efficientnet_b0``. Held-out
(used only to rerank): ``resnet_basic`` (basic blocks), ``mnasnet`` and ``vgg`` (a plain
conv-norm-act stack). Each builder takes an :class:`ArchConfig` and a norm-act factory
(``factory(num_features) -> nn.Module``): :func:`build_model` builds the network with
torchvision's builders and blocks and BN placeholders, adapted to small images (input channels,
stem stride), then applies the paper's substitution rule (:mod:`evonorm.proxy.substitution`).

Add your own with :func:`register`: a builder takes an :class:`ArchConfig` and returns a network
with ``nn.BatchNorm2d`` wherever a norm goes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torchvision.models import efficientnet, mnasnet, mobilenetv2, resnet

from evonorm.proxy.substitution import LONE_NORMS, NormAct, substitute


@dataclass(frozen=True)
class ArchConfig:
    """Shape of one proxy network. ``width`` and ``depth`` scale the reference layout;
    ``stem_stride`` 1 keeps the resolution of small images (2 halves it, cheaper)."""

    width: float = 1.0
    depth: float = 1.0
    stem_stride: int = 1
    in_channels: int = 3
    num_classes: int = 10
    dropout: float = 0.0
    lone_norm: str = "affine"  # what a norm not followed by an activation becomes (or "own")
    zero_init_residual: bool = True  # residual-branch ends start at scale 0
    lr: float | None = None  # this network's peak learning rate (None: the preset's)
    # Feature maps are kept at least min_map x min_map: a stride-2 conv or pool that would go
    # below it keeps the resolution instead (1: the reference strides). Needs the image size.
    min_map: int = 1
    image_size: int = 32

    def __post_init__(self) -> None:
        if self.width <= 0 or self.depth <= 0:
            raise ValueError(f"width and depth must be > 0, got {self.width}, {self.depth}")
        if self.lone_norm not in (*LONE_NORMS, "own"):
            known = ", ".join((*LONE_NORMS, "own"))
            raise ValueError(f"lone_norm must be one of {known}, got {self.lone_norm!r}")
        if self.stem_stride not in (1, 2):
            raise ValueError(f"stem_stride must be 1 or 2, got {self.stem_stride}")
        if self.min_map < 1 or self.image_size < 1:
            raise ValueError(
                f"min_map and image_size must be >= 1, got {self.min_map}, {self.image_size}"
            )
        if self.lr is not None and self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")


Builder = Callable[[ArchConfig], nn.Module]  # builds the network with BatchNorm2d placeholders
ARCHITECTURES: dict[str, Builder] = {}
ANCHORS = ("resnet", "mobilenet_v2", "efficientnet_b0")
HELD_OUT = ("resnet_basic", "mnasnet", "vgg")


def register(name: str) -> Callable[[Builder], Builder]:
    def decorate(builder: Builder) -> Builder:
        ARCHITECTURES[name] = builder
        return builder

    return decorate


def build_model(
    name: str, config: ArchConfig, norm_act: NormAct, *, lone_norm: str | None = None
) -> nn.Module:
    """The network ``name`` with ``norm_act`` in every norm-act slot. ``lone_norm`` resolves a
    config's ``"own"`` rule for this layer (see :func:`evonorm.proxy.substitution.own_lone_norm`);
    without it, ``"own"`` means the paper's affine-only rule."""
    if name not in ARCHITECTURES:
        raise KeyError(f"unknown architecture {name!r}; known: {', '.join(ARCHITECTURES)}")
    model = ARCHITECTURES[name](config)
    if config.min_map > 1:
        _keep_maps(model, config)
    rule = config.lone_norm if config.lone_norm != "own" else (lone_norm or "affine")
    return substitute(model, norm_act, lone_norm=rule, zero_init_residual=config.zero_init_residual)


def _keep_maps(model: nn.Module, config: ArchConfig) -> None:
    """Turn every stride-2 conv or pool whose output would be smaller than ``min_map`` into a
    stride-1 one, earliest map size first (each change enlarges the maps after it)."""
    stem = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    while True:
        sizes = _strided_inputs(model, config, skip=stem)
        shrinking = [m for m, size in sizes.items() if _halved(m, size) < config.min_map]
        if not shrinking:
            return
        first = sizes[shrinking[0]]  # a block's conv and its shortcut change together
        for module in (m for m in shrinking if sizes[m] == first):
            if isinstance(module, nn.Conv2d):
                module.stride = (1, 1)
            else:
                module.kernel_size, module.stride = 1, 1


def _strided_inputs(model: nn.Module, config: ArchConfig, *, skip: nn.Module) -> dict:
    """``{module: input size}`` of the stride-2 convs and pools but ``skip``, in run order (a
    module's first call)."""
    seen: dict = {}

    def record(module, inputs, _output):
        seen.setdefault(module, inputs[0].shape[-1])

    strided = [m for m in model.modules() if m is not skip and _stride(m) == 2]
    hooks = [m.register_forward_hook(record) for m in strided]
    with torch.no_grad():
        model.eval()(torch.zeros(2, config.in_channels, config.image_size, config.image_size))
    for hook in hooks:
        hook.remove()
    model.train()
    return seen


def _halved(module: nn.Module, size: int) -> int:
    """The output size of a stride-2 ``module`` on a ``size`` map (convs pad, pools do not)."""
    return size // 2 if isinstance(module, nn.MaxPool2d | nn.AvgPool2d) else -(-size // 2)


def _stride(module: nn.Module) -> int:
    if isinstance(module, nn.Conv2d | nn.MaxPool2d | nn.AvgPool2d):
        stride = module.stride
        return stride[0] if isinstance(stride, tuple) else stride
    return 1


def _scaled(channels: int, width: float, minimum: int = 4) -> int:
    return max(minimum, round(channels * width / 4) * 4)


def _depths(reference: tuple[int, ...], depth: float) -> list[int]:
    return [max(1, round(d * depth)) for d in reference]


def _stem_conv(conv: nn.Conv2d, config: ArchConfig) -> nn.Conv2d:
    """``conv`` rebuilt for the dataset's channels and the configured stride."""
    return nn.Conv2d(
        config.in_channels,
        conv.out_channels,
        conv.kernel_size,
        stride=config.stem_stride,
        padding=conv.padding,
        bias=conv.bias is not None,
    )


# -- ResNets ----------------------------------------------------------------------------------


class NormActBottleneck(resnet.Bottleneck):
    """torchvision's bottleneck whose first two norms are norm-act layers (no ReLU after them);
    the last norm is affine-only and starts at 0; the ReLU after the addition stays."""

    NORM_ACT_SLOTS = ("bn1", "bn2")
    AFFINE_SLOTS = ("bn3",)
    RESIDUAL_END = "bn3"

    def forward(self, x):
        out = self.bn1(self.conv1(x))
        out = self.bn2(self.conv2(out))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class NormActBasicBlock(resnet.BasicBlock):
    NORM_ACT_SLOTS = ("bn1",)
    AFFINE_SLOTS = ("bn2",)
    RESIDUAL_END = "bn2"

    def forward(self, x):
        out = self.bn2(self.conv2(self.bn1(self.conv1(x))))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class SmallResNet(nn.Module):
    """A ResNet for small images: 3x3 stem (no max-pool), four stages of torchvision blocks."""

    def __init__(self, block, depths: list[int], planes: list[int], config: ArchConfig) -> None:
        super().__init__()
        stem_width = planes[0]
        self.stem = nn.Sequential(
            nn.Conv2d(
                config.in_channels, stem_width, 3, stride=config.stem_stride, padding=1, bias=False
            ),
            nn.BatchNorm2d(stem_width),
            nn.ReLU(inplace=True),
        )
        stages, inplanes = [], stem_width
        for i, (count, width) in enumerate(zip(depths, planes, strict=True)):
            blocks = []
            for j in range(count):
                stride = 2 if i > 0 and j == 0 else 1
                out = width * block.expansion
                downsample = None
                if stride != 1 or inplanes != out:
                    downsample = nn.Sequential(
                        nn.Conv2d(inplanes, out, 1, stride=stride, bias=False), nn.BatchNorm2d(out)
                    )
                blocks.append(block(inplanes, width, stride, downsample))
                inplanes = out
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Dropout(config.dropout),
            nn.Linear(inplanes, config.num_classes),
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        return self.head(self.stages(self.stem(x)))


@register("resnet")
def _resnet(config: ArchConfig) -> nn.Module:
    """Bottleneck ResNet-50 layout (3, 4, 6, 3), stage planes 64..512 scaled by ``width``."""
    planes = [_scaled(p, config.width) for p in (64, 128, 256, 512)]
    model = SmallResNet(NormActBottleneck, _depths((3, 4, 6, 3), config.depth), planes, config)
    return model


@register("resnet_basic")
def _resnet_basic(config: ArchConfig) -> nn.Module:
    """Basic-block ResNet-18 layout (2, 2, 2, 2) scaled by ``width`` and ``depth``."""
    planes = [_scaled(p, config.width) for p in (64, 128, 256, 512)]
    model = SmallResNet(NormActBasicBlock, _depths((2, 2, 2, 2), config.depth), planes, config)
    return model


# -- Mobile networks --------------------------------------------------------------------------


@register("mobilenet_v2")
def _mobilenet_v2(config: ArchConfig) -> nn.Module:
    reference = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2]]
    reference += [[6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]]
    setting = [[t, c, max(1, round(n * config.depth)), s] for t, c, n, s in reference]
    model = mobilenetv2.MobileNetV2(
        num_classes=config.num_classes,
        width_mult=config.width,
        inverted_residual_setting=setting,
        dropout=config.dropout,
    )
    model.features[0][0] = _stem_conv(model.features[0][0], config)
    return model


@register("efficientnet_b0")
def _efficientnet_b0(config: ArchConfig) -> nn.Module:
    setting, last_channel = efficientnet._efficientnet_conf(
        "efficientnet_b0", width_mult=config.width, depth_mult=config.depth
    )
    model = efficientnet.EfficientNet(
        setting,
        dropout=config.dropout,
        stochastic_depth_prob=0.0,
        num_classes=config.num_classes,
        last_channel=last_channel,
    )
    model.features[0][0] = _stem_conv(model.features[0][0], config)
    return model


@register("mnasnet")
def _mnasnet(config: ArchConfig) -> nn.Module:
    model = mnasnet.MNASNet(alpha=config.width, num_classes=config.num_classes, dropout=0.0)
    model.layers[0] = _stem_conv(model.layers[0], config)
    return model


# -- Plain ------------------------------------------------------------------------------------


@register("vgg")
def _vgg(config: ArchConfig) -> nn.Module:
    """VGG-style: stages of (conv-norm-act) x depth, max-pool between stages."""
    widths = [_scaled(c, config.width) for c in (64, 128, 256, 512)]
    per_stage = max(1, round(2 * config.depth))
    layers: list[nn.Module] = []
    channels, stride = config.in_channels, config.stem_stride
    for i, width in enumerate(widths):
        if i:
            layers.append(nn.MaxPool2d(2))
        for _ in range(per_stage):
            layers += [
                nn.Conv2d(channels, width, 3, stride=stride, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
            ]
            channels, stride = width, 1
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, config.num_classes)]
    return nn.Sequential(*layers)
