"""A KFP host that cannot be reached or refuses the credentials, a bad schedule and bad
parameters: one line and exit status 2, the last two before any request is sent."""

import pytest

from evonorm.cli import main
from evonorm.workflow.client import cron_expression
from evonorm.workflow.form import CHOICES
from evonorm.workflow.params import check_arguments
from http_stub import closed_port, serving


@pytest.fixture
def kfp_host():
    """A server that records requests and answers each with ``status`` (set by the test)."""
    status = {"code": 401}
    with serving(lambda method, path, body: (status["code"], {"error": "no"})) as (host, seen):
        yield host, seen, status


def one_error_line(capsys) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1, err
    assert err[0].startswith("evonorm: error: ")
    return err[0]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("command", [["submit"], ["schedule", "--cron", "0 2 * * *"]])
def test_a_host_that_cannot_be_reached(command, capsys):
    host = f"http://127.0.0.1:{closed_port()}"
    assert main(["pipeline", command[0], "--host", host, *command[1:]]) == 2
    line = one_error_line(capsys)
    assert f"KFP host {host} cannot be reached (Connection refused)" in line


@pytest.mark.timeout(60)  # kfp's own health check would retry for 25 s
@pytest.mark.parametrize("code", [401, 403])
def test_a_host_that_refuses_authentication(kfp_host, code, capsys):
    host, seen, status = kfp_host
    status["code"] = code
    assert main(["pipeline", "submit", "--host", host]) == 2
    assert f"KFP host {host} refused authentication (HTTP {code})" in one_error_line(capsys)
    assert len(seen) == 1  # asked once (the health check, or the first call)


def test_a_host_that_is_not_kfp(kfp_host, capsys):
    host, seen, status = kfp_host
    status["code"] = 404
    assert main(["pipeline", "schedule", "--host", host, "--cron", "0 2 * * *"]) == 2
    assert "answered HTTP 404" in one_error_line(capsys)
    assert len(seen) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["schedule", "--cron", "61 * * * *"], "--cron '61 * * * *' is not a valid schedule"),
        (["schedule", "--cron", "0 2 * * 7"], "weekdays 0-6"),
        (["schedule", "--cron", "every day"], "expected 5 fields"),
        (["submit", "--param", "preset=nope"], "preset='nope' is not allowed; allowed: smoke"),
        (["submit", "--param", "rerank_archs=resnet,nope"], "rerank_archs='nope'"),
        (["submit", "--param", "transfer_tasks=gan,detection"], "allowed: segmentation, gan"),
        (["submit", "--param", "device=gpu"], "device='gpu' is not allowed"),
        (["submit", "--param", "children=0"], "children=0 must be >= 1"),
        (["submit", "--param", "candidate_memory_mb=-1"], "candidate_memory_mb=-1 must be >= 0"),
        (["submit", "--param", "population=1", "--param", "tournament=4"], "pipeline parameters"),
        (["schedule", "--cron", "0 2 * * *", "--param", "space=Q"], "space='Q'"),
    ],
)
def test_bad_schedules_and_parameters_are_refused_before_any_request(
    kfp_host, args, message, capsys
):
    host, seen, _ = kfp_host
    assert main(["pipeline", args[0], "--host", host, *args[1:]]) == 2
    assert message in one_error_line(capsys)
    assert seen == []


def test_allowed_values_come_from_the_registries():
    from evonorm.proxy.architectures import ARCHITECTURES
    from evonorm.proxy.presets import PRESETS

    assert CHOICES["preset"] == tuple(PRESETS) and CHOICES["rerank_archs"] == tuple(ARCHITECTURES)
    check_arguments(
        "evonorm-search",
        {
            "preset": "local",
            "rerank_archs": ["resnet", "vgg"],
            "device": "cuda:1",
            "tournament": 0.25,
        },
    )
    assert cron_expression("*/15 2-4 * * MON-FRI") == "0 */15 2-4 * * MON-FRI"
    assert cron_expression("30 0 2 * * *") == "30 0 2 * * *"
