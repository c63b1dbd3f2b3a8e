"""``build_layer``: compile a :class:`~evonorm.space.LayerGraph` into a ``torch.nn.Module``.

The module has timm's norm-act constructor shape, so ``functools.partial(build_layer, graph)``
works wherever torchvision takes ``norm_layer=``::

    model = torchvision.models.resnet18(norm_layer=functools.partial(build_layer, graph))

Parameters: per-channel ``v0`` (init 0) and ``v1`` (init 1) when the graph uses them, and the
output affine ``weight`` (gamma, init 1) and ``bias`` (beta, init 0). Every batch aggregation
node keeps a running estimate (mean 0, second moment 1, variance 1 at start) updated with
PyTorch's momentum convention; eval mode uses it. A layer whose outputs are NaN or Inf builds and
runs normally: judging it is the rejection protocols' job.
"""

from __future__ import annotations

import functools

import torch
from torch import nn

from evonorm.compile import kernels
from evonorm.compile.codegen import Generated, generate, running_name
from evonorm.space.graph import LayerGraph

_KERNEL_NAMESPACE = {
    "torch": torch,
    "hw_moments": kernels.hw_moments,
    "aggregate": kernels.aggregate,
    "aggregate_group": kernels.aggregate_group,
    "aggregate_batch": kernels.aggregate_batch,
}


def group_count(num_features: int, groups: int) -> int:
    """``groups``, decremented until it divides ``num_features`` (C=24 → 24, C=40 → 20)."""
    return next(g for g in range(min(groups, num_features), 0, -1) if num_features % g == 0)


def _compile_forward(gen: Generated, name: str, *, fused: bool = False):
    namespace = dict(_KERNEL_NAMESPACE)
    if fused:
        namespace["hw_moments"] = kernels.hw_moments_shifted
    code = compile(gen.forward_source(), name, "exec")
    exec(code, namespace)  # noqa: S102 - our own generated source, built from validated graphs
    return namespace["forward"]


@functools.lru_cache(maxsize=4096)
def _generated(graph_json: str, eps: float) -> tuple[Generated, object]:
    gen = generate(LayerGraph.from_json(graph_json, max_nodes=10_000), eps)
    return gen, _compile_forward(gen, f"<evonorm layer {gen.graph.structural_hash()[:12]}>")


class GraphLayer(nn.Module):
    """A compiled layer graph. Build it with :func:`build_layer`."""

    def __init__(
        self,
        graph: LayerGraph,
        num_features: int,
        *,
        eps: float = 1e-5,
        momentum: float = 0.1,
        groups: int = 32,
        fuse: bool = False,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        _check_arguments(graph, num_features, eps, momentum, groups)
        factory = {"device": device, "dtype": dtype}
        gen, forward = _generated(graph.to_json(), float(eps))
        self.graph = gen.graph
        self.num_features = num_features
        self.eps = float(eps)
        self.momentum = float(momentum)
        self.groups = group_count(num_features, groups)
        self.fuse = fuse
        self.weight = nn.Parameter(torch.empty(num_features, **factory))
        self.bias = nn.Parameter(torch.empty(num_features, **factory))
        for name in ("v0", "v1"):
            if name in gen.uses:
                self.register_parameter(name, nn.Parameter(torch.empty(num_features, **factory)))
        self._running = {running_name(i, s): s for i, s in gen.batch_nodes}
        for name in self._running:
            self.register_buffer(name, torch.empty(num_features, **factory))
        if fuse:
            # A fresh code object per module, so torch.compile's cache serves this layer's shapes
            # only and layers of other shapes do not trigger each other's recompiles.
            name = f"<evonorm fused {id(self):x}>"
            forward = torch.compile(_compile_forward(gen, name, fused=True))
        self._forward = forward
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        with torch.no_grad():
            for name, stat in self._running.items():
                getattr(self, name).fill_(kernels.RUNNING_INIT[stat])

    def reset_parameters(self) -> None:
        with torch.no_grad():
            self.weight.fill_(1.0)
            self.bias.zero_()
            if "v0" in self._parameters:
                self.v0.zero_()
            if "v1" in self._parameters:
                self.v1.fill_(1.0)
        self.reset_running_stats()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f"expected an (N, C, H, W) input, got shape {tuple(x.shape)}")
        return self._forward(self, x)

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, formula={self.graph.formula()!r}, eps={self.eps}, "
            f"momentum={self.momentum}, groups={self.groups}, fuse={self.fuse}"
        )


def _check_arguments(graph, num_features, eps, momentum, groups) -> None:
    if not isinstance(graph, LayerGraph):
        raise TypeError(f"graph must be an evonorm.LayerGraph, got {type(graph).__name__}")
    if not isinstance(num_features, int) or num_features < 1:
        raise ValueError(f"num_features must be a positive integer, got {num_features!r}")
    if not eps > 0:
        raise ValueError(f"eps must be > 0, got {eps!r}")
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"momentum must be in [0, 1], got {momentum!r}")
    if not isinstance(groups, int) or groups < 1:
        raise ValueError(f"groups must be a positive integer, got {groups!r}")


def build_layer(
    graph: LayerGraph,
    num_features: int,
    *,
    eps: float = 1e-5,
    momentum: float = 0.1,
    groups: int = 32,
    fuse: bool = False,
    device=None,
    dtype=None,
) -> GraphLayer:
    """Compile ``graph`` into a layer for ``num_features`` channels.

    ``groups`` is the group count of group statistics (decremented until it divides
    ``num_features``). ``fuse=True`` wraps the generated forward in ``torch.compile``, fusing the
    chain of memory-bound ops into a few kernels after a one-off compile of several seconds; its
    (H, W) moments are computed as shifted sums, which fuse better than a Welford variance.
    """
    return GraphLayer(
        graph,
        num_features,
        eps=eps,
        momentum=momentum,
        groups=groups,
        fuse=fuse,
        device=device,
        dtype=dtype,
    )
