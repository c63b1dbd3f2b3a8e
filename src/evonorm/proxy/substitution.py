"""The paper's substitution rule: put a candidate norm-act layer into a network built with BN.

Networks are built with ``nn.BatchNorm2d`` placeholders (torchvision's builders do this by
default), then rewritten:

- a BN followed by an activation (ReLU, ReLU6, SiLU, ...) in a ``Sequential`` becomes the
  candidate layer, and the activation is dropped (the candidate is a norm *and* activation);
- a BN not followed by an activation (projection shortcuts, the last norm of a residual branch)
  becomes an :class:`Affine` — per-channel scale and shift, no normalisation — with the scale
  initialised to 0 when it ends a residual branch;
- activations not preceded by a BN (after a residual addition, inside squeeze-excitation) stay.

Blocks whose norms are attributes rather than ``Sequential`` items (ResNet blocks) list them in
``NORM_ACT_SLOTS`` and ``AFFINE_SLOTS`` and apply no activation after the norm-act slots in
their own ``forward``. A BN left over after the rewrite is a bug in the architecture, not in the
layer, and raises.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from evonorm.compile import group_count
from evonorm.space import KNOWN_LAYERS, LayerGraph

NormAct = Callable[[int], nn.Module]

ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.SiLU, nn.Hardswish, nn.GELU, nn.LeakyReLU)


class Affine(nn.Module):
    """``x * weight + bias`` per channel: what a BN not followed by an activation becomes."""

    def __init__(self, num_features: int, *, zero_init: bool = False) -> None:
        super().__init__()
        self.num_features = num_features
        self.zero_init = zero_init
        self.weight = nn.Parameter(torch.empty(num_features))
        self.bias = nn.Parameter(torch.empty(num_features))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            self.weight.fill_(0.0 if self.zero_init else 1.0)
            self.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)

    def extra_repr(self) -> str:
        return f"{self.num_features}, zero_init={self.zero_init}"


class _KeptBatchNorm(nn.BatchNorm2d):
    """A BN kept on purpose (``lone_norm="batchnorm"``); distinct from leftover placeholders."""


class LoneGroupNorm(nn.GroupNorm):
    """GroupNorm at a lone-norm place (``lone_norm="groupnorm"``, GN-ReLU's own): 32 groups,
    decremented until they divide the channels, as the layer graphs' group statistics."""

    def __init__(self, num_features: int) -> None:
        super().__init__(group_count(num_features, 32), num_features)
        self.num_features = num_features


def _residual_ends(model: nn.Module) -> set[int]:
    """ids of the BNs that end a residual branch (their Affine starts at gamma = 0)."""
    ends: set[int] = set()
    for module in model.modules():
        if getattr(module, "use_res_connect", False) or getattr(module, "apply_residual", False):
            norms = [m for m in module.modules() if isinstance(m, nn.BatchNorm2d)]
            if norms:
                ends.add(id(norms[-1]))
        for name in getattr(module, "AFFINE_SLOTS", ()):
            if name == getattr(module, "RESIDUAL_END", None):
                ends.add(id(getattr(module, name)))
    return ends


LONE_NORMS = ("affine", "batchnorm", "groupnorm")

# The baselines' own lone norms, as the paper's official code places them (paper-notes §9):
# a BN-* network keeps BatchNorm where no activation follows, a GN-ReLU network GroupNorm; an
# EvoNorm, and every searched layer, carries all of the block's normalisation (affine only).
OWN_LONE_NORMS = {"bn_relu": "batchnorm", "bn_silu": "batchnorm", "gn_relu": "groupnorm"}


def own_lone_norm(graph: LayerGraph) -> str:
    """What ``graph``'s lone norms are under the ``"own"`` rule: its baseline's norm when it is
    one of :data:`OWN_LONE_NORMS`, else ``"affine"``."""
    for name, norm in OWN_LONE_NORMS.items():
        if graph == KNOWN_LAYERS[name]:
            return norm
    return "affine"


def substitute(
    model: nn.Module,
    norm_act: NormAct,
    *,
    lone_norm: str = "affine",
    zero_init_residual: bool = True,
) -> nn.Module:
    """Rewrite every BN of ``model`` in place by the paper's rule; returns ``model``.

    ``lone_norm`` says what a BN not followed by an activation becomes: ``"affine"`` (the rule
    above), ``"batchnorm"`` (a fresh ``BatchNorm2d``, scale 0 at residual ends: BN-ReLU's own
    lone norm in the paper's official code) or ``"groupnorm"`` (GN-ReLU's own).
    ``zero_init_residual=False`` starts residual-branch ends at scale 1 instead of 0."""
    if lone_norm not in LONE_NORMS:
        raise ValueError(f"lone_norm must be one of {LONE_NORMS}, got {lone_norm!r}")
    ends = _residual_ends(model) if zero_init_residual else set()

    def affine(bn: nn.BatchNorm2d) -> nn.Module:
        if lone_norm == "affine":
            return Affine(bn.num_features, zero_init=id(bn) in ends)
        if lone_norm == "batchnorm":
            fresh: nn.Module = _KeptBatchNorm(bn.num_features)
        else:
            fresh = LoneGroupNorm(bn.num_features)
        if id(bn) in ends:
            nn.init.zeros_(fresh.weight)
        return fresh

    for module in list(model.modules()):
        for name in getattr(module, "NORM_ACT_SLOTS", ()):
            setattr(module, name, norm_act(getattr(module, name).num_features))
        for name in getattr(module, "AFFINE_SLOTS", ()):
            setattr(module, name, affine(getattr(module, name)))
        if isinstance(module, nn.Sequential):
            items = list(module)
            for i, item in enumerate(items):
                if not isinstance(item, nn.BatchNorm2d) or isinstance(item, _KeptBatchNorm):
                    continue
                followed = i + 1 < len(items) and isinstance(items[i + 1], ACTIVATIONS)
                if followed:
                    module[i] = norm_act(item.num_features)
                    module[i + 1] = nn.Identity()
                else:
                    module[i] = affine(item)
    leftover = [
        name
        for name, m in model.named_modules()
        if isinstance(m, nn.BatchNorm2d) and not isinstance(m, _KeptBatchNorm)
    ]
    if leftover:
        raise RuntimeError(f"BN layers the substitution rule does not place: {leftover}")
    return model
