"""``place_layer``: put a searched layer into any torchvision-style model as it was searched.

``torchvision.models.resnet18(norm_layer=layer)`` is *not* the searched placement: it replaces
every BN, lone norms included, and keeps torchvision's ReLUs after the layer. ``place_layer``
applies the rule the search and the rerank trained under (:mod:`evonorm.proxy.substitution`):
each BN followed by an activation becomes the layer and the activation goes; a BN not followed
by one becomes an affine (scale 0 at the end of a residual branch); ReLUs after residual
additions stay. Build the model with its default BatchNorms, then::

    model = evonorm.place_layer(torchvision.models.resnet50(), evonorm.load_layer(uri))

torchvision's ResNets keep their norms as attributes, not in ``Sequential``s: their stem and
blocks are adapted here (the blocks become :class:`NormActBasicBlock` /
:class:`NormActBottleneck`, the same modules the proxy networks use). MobileNet, EfficientNet,
MnasNet, VGG-BN and other CNNs built of conv-BN-activation ``Sequential``s need nothing.
"""

from __future__ import annotations

from torch import nn
from torchvision.models import resnet

from evonorm.proxy.architectures import NormActBasicBlock, NormActBottleneck
from evonorm.proxy.substitution import NormAct, substitute

__all__ = ["place_layer"]

_BLOCKS = {resnet.BasicBlock: NormActBasicBlock, resnet.Bottleneck: NormActBottleneck}


def place_layer(
    model: nn.Module, layer: NormAct, *, lone_norm: str = "affine", zero_init_residual: bool = True
) -> nn.Module:
    """Rewrite ``model`` (built with ``nn.BatchNorm2d``) in place so that ``layer`` (a factory
    ``layer(num_features) -> nn.Module``, as :func:`evonorm.load_layer` returns) sits where the
    search put it; returns ``model``. ``lone_norm="affine"`` is the rule evolved layers were
    searched and reranked under."""
    for module in model.modules():
        if type(module) in _BLOCKS:
            module.__class__ = _BLOCKS[type(module)]
    if isinstance(model, resnet.ResNet) and isinstance(model.bn1, nn.BatchNorm2d):
        model.bn1 = layer(model.bn1.num_features)  # the stem's BN-ReLU; its ReLU goes
        model.relu = nn.Identity()
    return substitute(model, layer, lone_norm=lone_norm, zero_init_residual=zero_init_residual)
