from evonorm.proxy.baselines import Cell
from evonorm.proxy.trainer import TrainResult


def result(accuracy: float, diverged: bool = False) -> TrainResult:
    return TrainResult(accuracy, 0.5, 10, 1.0, diverged)


def test_a_cell_reports_the_sample_std_over_seeds():
    cell = Cell((result(0.80), result(0.90), result(0.85)))
    assert abs(cell.std - 0.05) < 1e-12  # a population std would be 0.0408
    assert cell.text() == "85.00 ± 5.00"
    assert Cell((result(0.8),)).std == 0.0
    assert Cell((result(0.8), result(0.1, diverged=True))).text() == "45.00 ± 49.50 (1 failed)"
