import ast
import functools
import math

import numpy as np
import pytest
import torch
import torchvision

from evonorm import (
    GraphLayer,
    LayerGraph,
    build_layer,
    known_layer,
    random_graph,
    standalone_source,
)
from evonorm.compile import kernels
from evonorm.space import Node
from evonorm.space.ops import OPS
from oracle import interpret


def test_every_op_has_exactly_one_kernel():
    aggregations = {name for name, op in OPS.items() if op.is_aggregation}
    assert set(kernels.ELEMENTWISE) == set(OPS) - aggregations
    assert set(kernels.ELEMENTWISE_SAFE) <= set(kernels.ELEMENTWISE)
    for name in aggregations:  # each aggregation produces one call, naming its statistic
        call = kernels.aggregation_call(name, "a", "m", "self.r")
        assert repr(OPS[name].statistic) in call


@pytest.mark.parametrize("space", ["B", "S"])
def test_random_graphs_match_a_naive_interpreter(space):
    """Generated code (with its proved-safe shortcuts) equals op-by-op evaluation."""
    rng = np.random.default_rng(11)
    compared = 0
    for _ in range(150):
        g = random_graph(rng, space)
        layer = build_layer(g, 24, groups=8)
        with torch.no_grad():
            layer.v0.normal_() if hasattr(layer, "v0") else None
            layer.v1.normal_() if hasattr(layer, "v1") else None
        x = torch.randn(4, 24, 5, 5, dtype=torch.float64)
        layer = layer.double()
        v0 = getattr(layer, "v0", torch.zeros(24, dtype=torch.float64))
        v1 = getattr(layer, "v1", torch.ones(24, dtype=torch.float64))
        with torch.no_grad():
            got = layer(x)
            want = interpret(g.prune(), x, v0, v1, groups=layer.groups, eps=1e-5)
        assert got.shape == x.shape
        finite = torch.isfinite(want) & (want.abs() < 1e6)
        if finite.all():
            torch.testing.assert_close(
                got, want, rtol=1e-6, atol=1e-8, msg=lambda m, g=g: f"{g.formula()}: {m}"
            )
            compared += 1
    assert compared > 100


def test_gradients_reach_every_parameter_of_known_layers():
    for name in ("evonorm_b0", "evonorm_s0", "bn_relu", "gn_relu"):
        layer = build_layer(known_layer(name), 32)
        layer(torch.randn(4, 32, 6, 6)).square().mean().backward()
        for pname, p in layer.named_parameters():
            assert p.grad is not None and p.grad.abs().sum() > 0, (name, pname)


def test_layers_drop_into_torchvision_norm_layer():
    norm = functools.partial(build_layer, known_layer("evonorm_s0"))
    model = torchvision.models.resnet18(num_classes=10, norm_layer=norm)
    y = model(torch.randn(2, 3, 32, 32))
    assert y.shape == (2, 10) and torch.isfinite(y).all()
    assert sum(isinstance(m, GraphLayer) for m in model.modules()) == 20


def test_constructor_arguments_are_checked():
    g = known_layer("evonorm_b0")
    with pytest.raises(TypeError, match="apply_act"):
        build_layer(g, 8, apply_act=False)
    with pytest.raises(ValueError, match="num_features"):
        build_layer(g, 0)
    with pytest.raises(ValueError, match="eps"):
        build_layer(g, 8, eps=0.0)
    with pytest.raises(ValueError, match="momentum"):
        build_layer(g, 8, momentum=1.5)
    with pytest.raises(ValueError, match="groups"):
        build_layer(g, 8, groups=0)
    with pytest.raises(TypeError, match="LayerGraph"):
        build_layer(g.to_json(), 8)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        build_layer(g, 8)(torch.randn(2, 8))


def test_group_count_decrements_until_it_divides():
    g = known_layer("evonorm_s0")
    assert [build_layer(g, c).groups for c in (64, 24, 40, 7, 1)] == [32, 24, 20, 7, 1]
    assert build_layer(g, 64, groups=6).groups == 4


def test_device_dtype_and_low_precision_statistics():
    layer = build_layer(known_layer("evonorm_b0"), 16, dtype=torch.bfloat16, device="cpu")
    assert layer.weight.dtype == torch.bfloat16 and layer.running_var_4.dtype == torch.bfloat16
    x = (torch.randn(4, 16, 8, 8) * 3 + 1).to(torch.bfloat16)
    y = layer(x)
    assert y.dtype == torch.bfloat16 and torch.isfinite(y).all()
    exact = build_layer(known_layer("evonorm_b0"), 16)(x.float())
    torch.testing.assert_close(y.float(), exact, atol=0.05, rtol=0.05)


def test_a_bad_layer_builds_and_runs():
    """NaN/Inf is for rejection to judge: building and running never raise."""
    exploding = LayerGraph((Node("exp", (0,)), Node("exp", (4,)), Node("exp", (5,))))
    layer = build_layer(exploding, 4)
    x = torch.full((2, 4, 3, 3), 3.0, requires_grad=True)
    y = layer(x)
    y.sum().backward()
    assert torch.isinf(y).all() and not torch.isfinite(x.grad).all()
    zero_div = LayerGraph((Node("neg", (0,)), Node("add", (0, 4)), Node("div", (0, 5))))
    assert torch.isfinite(build_layer(zero_div, 4)(torch.randn(2, 4, 3, 3))).all()


def test_statistic_only_output_broadcasts_over_x():
    g = LayerGraph((Node("mean_layer", (0,)),))
    y = build_layer(g, 6)(torch.randn(3, 6, 4, 4))
    assert y.shape == (3, 6, 4, 4)
    assert torch.allclose(y, y[:, :1, :1, :1].expand_as(y))


def test_standalone_source_imports_only_torch_and_matches():
    rng = np.random.default_rng(5)
    graphs = [known_layer(n) for n in ("evonorm_b0", "evonorm_s0", "bn_silu")]
    graphs += [random_graph(rng, "B") for _ in range(20)]
    for g in graphs:
        source = standalone_source(g, class_name="Evolved")
        imports = {
            alias.name.split(".")[0]
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module)])
        }
        assert imports == {"torch"}, imports
        namespace: dict = {}
        exec(compile(source, "standalone.py", "exec"), namespace)
        theirs = namespace["Evolved"](12, groups=4)
        mine = build_layer(g, 12, groups=4)
        assert set(theirs.state_dict()) == set(mine.state_dict())
        theirs.load_state_dict(mine.state_dict())
        for _ in range(2):
            x = torch.randn(3, 12, 4, 4)
            torch.testing.assert_close(theirs(x), mine(x), equal_nan=True)
        mine.eval(), theirs.eval()
        x = torch.randn(3, 12, 4, 4)
        torch.testing.assert_close(theirs(x), mine(x), equal_nan=True)
        assert LayerGraph.from_json(namespace["Evolved"].GRAPH_JSON) == g.prune()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["evonorm_b0", "evonorm_s0"])
def test_fused_layer_matches_eager_including_running_statistics(name):
    eager = build_layer(known_layer(name), 16)
    fused = build_layer(known_layer(name), 16, fuse=True)
    fused.load_state_dict(eager.state_dict())
    for _ in range(3):
        x = torch.randn(8, 16, 6, 6, requires_grad=True)
        x2 = x.detach().clone().requires_grad_(True)
        torch.testing.assert_close(fused(x2), eager(x), rtol=1e-5, atol=1e-5)
        fused(x2).sum().backward()
        eager(x).sum().backward()
        torch.testing.assert_close(x2.grad, x.grad, rtol=1e-4, atol=1e-5)
    if name == "evonorm_b0":
        torch.testing.assert_close(fused.running_var_4, eager.running_var_4)
        assert not math.isclose(float(eager.running_var_4.mean()), 1.0)
    fused.eval(), eager.eval()
    x = torch.randn(8, 16, 6, 6)
    torch.testing.assert_close(fused(x), eager(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("offset", [0.0, 1e3, -5e4])
def test_shifted_moments_stay_accurate_when_the_mean_dominates(offset):
    a = (torch.randn(4, 8, 16, 16, dtype=torch.float64) * 2 + offset).float()
    exact_var, exact_mean = torch.var_mean(a.double(), (2, 3), correction=0, keepdim=True)
    for moments in (kernels.hw_moments, kernels.hw_moments_shifted):
        mean, var = moments(a)
        torch.testing.assert_close(mean.double(), exact_mean, rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(var.double(), exact_var, rtol=1e-3, atol=1e-6)
    # the naive E[a²] - E[a]² in float32 does not survive this: the reason for the shift
    naive = (a * a).mean((2, 3), keepdim=True) - a.mean((2, 3), keepdim=True) ** 2
    if offset:
        assert (naive.double() - exact_var).abs().max() > 0.1


def test_peepholes_are_exact_rewrites():
    from evonorm.compile.codegen import generate

    source = generate(known_layer("bn_relu"), 1e-5).forward_source()
    assert "x - n4" in source and "torch.relu(n10)" in source and "zero" not in source
    # a negation that feeds an add *and* another op stays a node of its own
    shared = LayerGraph(
        (
            Node("std_instance", (0,)),
            Node("neg", (4,)),
            Node("add", (0, 5)),
            Node("mul", (5, 6)),
            Node("add", (5, 5)),
            Node("add", (7, 8)),
        )
    )
    folded = LayerGraph(
        (Node("neg", (0,)), Node("neg", (3,)), Node("add", (4, 5)), Node("max", (1, 6)))
    )
    for g in (shared, folded):
        layer = build_layer(g, 8, dtype=torch.float64)
        x = torch.randn(3, 8, 4, 4, dtype=torch.float64)
        v1 = getattr(layer, "v1", torch.ones(8, dtype=torch.float64)).detach()
        want = interpret(g, x, torch.zeros(8, dtype=torch.float64), v1, 8, 1e-5)
        torch.testing.assert_close(layer(x), want)
    assert "-x - v1" in generate(folded, 1e-5).forward_source()


def test_hw_moments_kernel_matches_var_mean_and_passes_gradcheck():
    from evonorm.compile.kernels import hw_moments

    x = torch.randn(3, 4, 5, 6, dtype=torch.float64, requires_grad=True)
    mean, var = hw_moments(x)
    ref_var, ref_mean = torch.var_mean(x, (2, 3), correction=0, keepdim=True)
    torch.testing.assert_close(mean, ref_mean)
    torch.testing.assert_close(var, ref_var)
    assert torch.autograd.gradcheck(lambda a: hw_moments(a), (x,))
    half = hw_moments(torch.randn(2, 3, 4, 4, dtype=torch.bfloat16))
    assert all(t.dtype == torch.float32 for t in half)  # statistics of half inputs in float32
