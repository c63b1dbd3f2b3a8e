"""Operational failures (storage, tracking, data, read-only commands) end in one line on stderr
with exit status 2 and leave nothing behind. Real parts only: closed ports, real files."""

import contextlib

import pytest

from evonorm.cli import main
from evonorm.tracking import TrackingError, check_tracking
from http_stub import closed_port, serving


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("evonorm: error: ")
    return err[0]


def files_under(path) -> list:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def evolve(tmp_path, *extra):
    return main(
        [
            "evolve",
            "--study",
            "s",
            "--runs",
            str(tmp_path / "runs"),
            "--budget",
            "1",
            "--quiet",
            *extra,
        ]
    )


def test_a_storage_path_that_cannot_be_written(tmp_path, capsys):
    assert evolve(tmp_path, "--storage", "journal:/proc/nope/x.log", "--no-tracking") == 2
    line = one_error_line(capsys)
    assert "cannot write study storage journal:/proc/nope/x.log" in line
    assert "No such file or directory" in line and "writable path" in line
    # The folders made on the way are removed again: the file name is too long to create.
    long_name = tmp_path / "new" / "deeper" / ("x" * 300 + ".log")
    assert evolve(tmp_path, "--storage", f"journal:{long_name}", "--no-tracking") == 2
    assert "File name too long" in one_error_line(capsys)
    assert files_under(tmp_path) == []


@pytest.mark.timeout(60)
def test_a_storage_server_that_cannot_be_reached(tmp_path, capsys):
    url = f"postgresql+psycopg2://evonorm:secret@127.0.0.1:{closed_port()}/db"
    assert evolve(tmp_path, "--storage", url, "--no-tracking") == 2
    line = one_error_line(capsys)
    assert "after 3 attempts" in line and "Connection refused" in line
    assert "secret" not in line and "evonorm:***@" in line
    assert files_under(tmp_path) == []


def test_a_missing_dataset_is_one_line_before_anything_is_written(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("EVONORM_FASHION_MNIST_DIR", str(tmp_path / "none"))
    assert evolve(tmp_path) == 2
    line = one_error_line(capsys)
    assert "Fashion-MNIST files not found" in line and "make data" in line
    assert files_under(tmp_path) == []  # no run folder, no study, no MLflow store


@pytest.mark.timeout(60)
def test_an_mlflow_server_that_cannot_be_reached(tmp_path, capsys):
    uri = f"http://127.0.0.1:{closed_port()}"
    assert evolve(tmp_path, "--tracking-uri", uri) == 2
    line = one_error_line(capsys)
    assert f"MLflow server {uri} cannot be reached after 3 attempts (Connection refused)" in line
    assert files_under(tmp_path) == []


@pytest.fixture
def answering():
    """Start servers that answer every request with the given status."""
    with contextlib.ExitStack() as servers:
        yield lambda status: servers.enter_context(serving(lambda *_: (status, {})))[0]


def test_an_mlflow_server_that_refuses_or_is_not_mlflow(answering):
    with pytest.raises(TrackingError, match=r"refused authentication \(HTTP 401\).*USERNAME"):
        check_tracking(answering(401))
    with pytest.raises(TrackingError, match=r"answered HTTP 404: is .* an MLflow"):
        check_tracking(answering(404))
    assert check_tracking(answering(200)).startswith("http://127.0.0.1:")


def test_read_only_commands_never_create_stores(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    missing = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    assert main(["layer", "pull", "x", "--tracking-uri", missing]) == 2
    assert f"no MLflow store at {missing}" in one_error_line(capsys)
    assert main(["layer", "pull", "x"]) == 2  # MLflow's default: ./mlflow.db
    assert "no MLflow store at sqlite:///" in one_error_line(capsys)
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    for command in ("report", "rerank", "publish"):
        assert main([command, "s", "--storage", storage]) == 2
        assert f"no study storage at {storage}" in one_error_line(capsys)
        assert main([command, "s", "--runs", str(tmp_path / "runs")]) == 2
        assert "no study storage at journal:" in one_error_line(capsys)
    assert files_under(tmp_path) == []
