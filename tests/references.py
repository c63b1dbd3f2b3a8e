"""Hand-written EvoNorm-B0 and S0, straight from the formulas of paper-notes §3: test oracles
for the compiler (and the eager baselines of bench/layer_speed.py)."""

from __future__ import annotations

import torch
from torch import nn


class EvoNormB0Reference(nn.Module):
    """y = x / max(s_batch(x), v1*x + s_instance(x)) * weight + bias."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__()
        self.eps, self.momentum = eps, momentum
        self.v1 = nn.Parameter(torch.ones(num_features))
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = (1, -1, 1, 1)
        if self.training:
            var = x.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
            n = x.numel() / x.shape[1]
            with torch.no_grad():
                update = var.view(-1) * n / (n - 1)
                self.running_var.mul_(1 - self.momentum).add_(self.momentum * update)
        else:
            var = self.running_var.view(shape)
        std_batch = (var + self.eps).sqrt()
        std_instance = (x.var(dim=(2, 3), unbiased=False, keepdim=True) + self.eps).sqrt()
        denominator = torch.maximum(std_batch, self.v1.view(shape) * x + std_instance)
        return x / denominator * self.weight.view(shape) + self.bias.view(shape)


class EvoNormS0Reference(nn.Module):
    """y = x * sigmoid(v1*x) / s_group(x) * weight + bias."""

    def __init__(self, num_features: int, groups: int = 32, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.groups = groups
        while num_features % self.groups:
            self.groups -= 1
        self.v1 = nn.Parameter(torch.ones(num_features))
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = (1, -1, 1, 1)
        n, c = x.shape[:2]
        grouped = x.reshape(n, self.groups, -1)
        std = (grouped.var(dim=2, unbiased=False, keepdim=True) + self.eps).sqrt()
        std = std.expand(n, self.groups, c // self.groups).reshape(n, c, 1, 1)
        y = x * torch.sigmoid(self.v1.view(shape) * x) / std
        return y * self.weight.view(shape) + self.bias.view(shape)
