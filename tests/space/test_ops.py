from evonorm.space.ops import AGGREGATION_OPS, ELEMENTWISE_OPS, OPS, SPACES, Kind

PUBLIC_NAMES = [
    "add",
    "mul",
    "div",
    "max",
    "neg",
    "sigmoid",
    "tanh",
    "exp",
    "log",
    "abs",
    "square",
    "sqrt",
]


def test_op_table_has_the_public_names():
    assert list(ELEMENTWISE_OPS) == PUBLIC_NAMES
    expected = {
        f"{s}_{a}"
        for s in ("mean", "sqmean", "std")
        for a in ("batch", "layer", "instance", "group")
    }
    assert set(AGGREGATION_OPS) == expected
    assert len(OPS) == 24


def test_arity_kind_and_symbols():
    binary = {"add", "mul", "div", "max"}
    for name, op in OPS.items():
        assert op.arity == (2 if name in binary else 1), name
        assert op.symbol, name
        assert (op.kind is Kind.AGGREGATION) == (op.axes is not None) == (op.statistic is not None)
    assert OPS["std_group"].axes == "group" and OPS["sqmean_batch"].statistic == "sqmean"


def test_spaces():
    assert set(SPACES["B"]) == set(OPS)
    assert set(SPACES["B"]) - set(SPACES["S"]) == {"mean_batch", "sqmean_batch", "std_batch"}
