"""Crash safety with real processes: SIGKILL a worker mid-evaluation, or the whole search, then
resume — on a JournalFile and on a real PostgreSQL server. Invariants: no candidate lost, none
evaluated twice, no trial left RUNNING or WAITING."""

import collections
import json
import os
import resource
import signal
import socket
import subprocess
import time

import pytest
from optuna.trial import TrialState

from evonorm.evolve import Search, open_storage
from evonorm.evolve.owner import is_alive
from evonorm.evolve.recovery import recover

from .conftest import evolve_command

DEADLINE = 240  # seconds for any one search process in these tests


def _search(storage_url, study):
    return Search.open(study, open_storage(storage_url))


def _wait_for_running_trial(storage_url, study, process, not_pid=None):
    """Poll the storage until a worker holds a trial; return (trial number, worker pid)."""
    storage = open_storage(storage_url)  # one storage: one connection pool
    start = time.monotonic()
    while time.monotonic() - start < DEADLINE:
        assert process.poll() is None, "the search ended before any evaluation was caught"
        try:
            trials = Search.open(study, storage).trials((TrialState.RUNNING,))
        except Exception:  # the study may not exist yet
            trials = []
        for t in trials:
            owner = t.user_attrs.get("owner")
            if owner and "cid" in t.user_attrs and owner["pid"] != not_pid:
                return t.number, owner["pid"]
        time.sleep(0.05)
    pytest.fail("no trial was ever RUNNING")


def _check_invariants(storage_url, study, budget):
    search = _search(storage_url, study)
    trials = search.trials()
    states = collections.Counter(t.state for t in trials)
    table = "\n".join(
        f"{t.number} {t.state.name} {t.user_attrs.get('status')} cid={t.user_attrs.get('cid')} "
        f"retry_of={t.user_attrs.get('retry_of')} owner={t.user_attrs.get('owner', {}).get('pid')}"
        for t in trials
    )
    assert states[TrialState.RUNNING] == 0, table
    assert states[TrialState.WAITING] == 0, table
    recorded = [t for t in trials if "status" in t.user_attrs]
    lost = [t for t in trials if t.state == TrialState.FAIL and "status" not in t.user_attrs]
    by_cid = collections.Counter(t.user_attrs["cid"] for t in recorded)
    assert max(by_cid.values()) == 1, "a candidate was evaluated twice"
    for t in lost:
        if "cid" in t.user_attrs:
            retries = [r for r in trials if r.user_attrs.get("retry_of") == t.number]
            assert len(retries) == 1, f"lost trial {t.number} was re-queued {len(retries)} times"
            assert retries[0].user_attrs["cid"] == t.user_attrs["cid"]
            assert retries[0].user_attrs["cid"] in by_cid, "a lost candidate was never evaluated"
    assert search.census().done >= budget
    return lost


def _search_group(command) -> subprocess.Popen:
    """The search in a process group of its own, so a test can signal all of it."""
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    return subprocess.Popen(command, start_new_session=True, **pipes)


def _run(command, **kwargs):
    return subprocess.run(command, capture_output=True, text=True, timeout=DEADLINE, **kwargs)


@pytest.mark.timeout(2 * DEADLINE)
def test_killed_worker_is_replaced_and_its_candidate_evaluated_once(storage_url, study_name):
    budget = 5
    command = evolve_command(study_name, storage_url, "--workers", "2", "--budget", str(budget))
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        number, pid = _wait_for_running_trial(storage_url, study_name, process)
        os.kill(pid, signal.SIGKILL)
        _, err = process.communicate(timeout=DEADLINE)
    finally:
        process.kill()
    assert process.returncode == 0, err
    lost = _check_invariants(storage_url, study_name, budget)
    assert number in {t.number for t in lost}


@pytest.mark.timeout(3 * DEADLINE)
def test_killed_search_resumes_with_the_same_command(storage_url, study_name):
    budget = 4
    command = evolve_command(study_name, storage_url, "--workers", "2", "--budget", str(budget))
    process = _search_group(command)
    try:
        number, _ = _wait_for_running_trial(storage_url, study_name, process)
        os.killpg(process.pid, signal.SIGKILL)  # the launcher and all its workers
        process.wait(timeout=30)
    finally:
        process.kill()
    assert _search(storage_url, study_name).study.trials[number].state == TrialState.RUNNING
    done = _run(command)
    assert done.returncode == 0, done.stderr
    lost = _check_invariants(storage_url, study_name, budget)
    assert number in {t.number for t in lost}
    more = _run(evolve_command(study_name, storage_url, "--workers", "2", "--budget", "6"))
    assert more.returncode == 0, more.stderr
    _check_invariants(storage_url, study_name, 6)


def test_heartbeat_expiry_fails_and_requeues_a_trial_of_another_host(postgres_url, study_name):
    """A worker on another machine stops beating: PostgreSQL's heartbeat rule catches it."""
    from evonorm.evolve import SearchConfig
    from evonorm.evolve.recovery import requeue
    from evonorm.evolve.steps import generate

    storage = open_storage(postgres_url, on_stale=requeue, heartbeat_interval=1, grace_period=1)
    search = Search.open(study_name, storage, SearchConfig(preset="smoke"))
    (candidate,) = generate(search, 1, owner={"host": "elsewhere", "pid": 1, "start": "0"})
    trial_id = storage.get_trial_id_from_study_id_trial_number(
        search.study._study_id, candidate.trial
    )
    storage.record_heartbeat(trial_id)
    assert recover(search.study) == []  # fresh heartbeat, owner not checkable here: alive
    time.sleep(2.5)
    recover(search.study)
    trials = search.study.get_trials()
    assert trials[0].state == TrialState.FAIL
    assert [t.state for t in trials[1:]] == [TrialState.WAITING]
    assert trials[1].user_attrs["cid"] == candidate.cid
    assert trials[1].user_attrs["retry_of"] == candidate.trial


def test_journal_trial_of_a_dead_local_process_is_recovered(tmp_path):
    from evonorm.evolve import SearchConfig
    from evonorm.evolve.owner import this_process
    from evonorm.evolve.steps import generate

    dead = subprocess.Popen(["true"])
    dead.wait()
    owner = {**this_process(), "pid": dead.pid}
    search = Search.open(
        "s", open_storage(f"journal:{tmp_path / 's.log'}"), SearchConfig(preset="smoke")
    )
    (lost,) = generate(search, 1, owner=owner)
    (alive,) = generate(search, 1)  # this process: alive
    assert recover(search.study) == [lost.trial]
    assert recover(search.study) == []  # once only
    states = [t.state for t in search.study.get_trials()]
    assert states == [TrialState.FAIL, TrialState.RUNNING, TrialState.WAITING]
    popped = search.bind(search.claim(this_process()), this_process())
    assert popped.cid == lost.cid and popped.trial == 2
    assert alive.trial == 1


def test_a_requeued_candidate_keeps_its_up_to_scale_key(tmp_path):
    from evonorm.evolve import SearchConfig
    from evonorm.evolve.owner import this_process
    from evonorm.evolve.steps import generate

    dead = subprocess.Popen(["true"])
    dead.wait()
    config = SearchConfig(preset="smoke", distinct=True, up_to_scale=True)
    search = Search.open("s", open_storage(f"journal:{tmp_path / 's.log'}"), config)
    (lost,) = generate(search, 1, owner={**this_process(), "pid": dead.pid})
    assert recover(search.study) == [lost.trial]
    failed, waiting = search.study.get_trials()
    assert waiting.state == TrialState.WAITING
    assert waiting.user_attrs["function"] == failed.user_attrs["function"]
    assert waiting.user_attrs["function"] == search.function_key(lost.graph)


def test_a_candidate_that_keeps_killing_its_worker_ends_as_an_error(tmp_path):
    from evonorm.evolve import SearchConfig
    from evonorm.evolve.recovery import MAX_ATTEMPTS
    from evonorm.evolve.steps import generate

    search = Search.open(
        "s", open_storage(f"journal:{tmp_path / 's.log'}"), SearchConfig(preset="smoke")
    )
    dead = subprocess.Popen(["true"])
    dead.wait()
    owner = {"host": __import__("socket").gethostname(), "pid": dead.pid, "start": "1"}
    (candidate,) = generate(search, 1, owner=owner)
    for _ in range(MAX_ATTEMPTS - 1):
        assert len(recover(search.study)) == 1
        popped = search.bind(search.claim(owner), owner)  # ... and its worker dies again
        assert popped.cid == candidate.cid
    assert len(recover(search.study)) == 1
    trials = search.study.get_trials()
    assert [t.state for t in trials] == [TrialState.FAIL] * (MAX_ATTEMPTS + 1)
    last = trials[-1].user_attrs
    assert (last["cid"], last["status"], last["attempt"]) == (candidate.cid, "error", 4)
    assert "died 3 times" in last["reason"]
    census = search.census()
    assert (census.errors, census.lost, census.waiting, census.running) == (1, 3, 0, 0)


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def _children(pid: int) -> list[int]:
    done = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(p) for p in done.stdout.split()]


@pytest.mark.timeout(2 * DEADLINE)
def test_sigterm_stops_the_workers_and_requeues_what_they_held(tmp_path, study_name):
    storage_url = f"journal:{tmp_path / 'study.log'}"
    command = evolve_command(study_name, storage_url, "--workers", "2", "--budget", "50")
    process = _search_group(command)
    try:
        number, worker = _wait_for_running_trial(storage_url, study_name, process)
        children = _children(process.pid)
        assert worker in children
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 143, err
    assert "candidates in flight were re-queued" in err.strip().splitlines()[-1]
    # Every child is gone within seconds (the workers are joined before the launcher exits;
    # multiprocessing's resource tracker follows once its pipe closes).
    deadline = time.monotonic() + 5
    while alive := [p for p in children if is_alive({"host": socket.gethostname(), "pid": p})]:
        assert time.monotonic() < deadline, [_cmdline(pid) for pid in alive]
        time.sleep(0.1)
    trials = _search(storage_url, study_name).trials()
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    held = trials[number]
    assert held.state == TrialState.FAIL and "status" not in held.user_attrs  # lost, not recorded
    (retry,) = [t for t in trials if t.user_attrs.get("retry_of") == number]
    assert retry.state == TrialState.WAITING and retry.user_attrs["cid"] == held.user_attrs["cid"]


@pytest.mark.timeout(2 * DEADLINE)
def test_a_postgres_restart_mid_search_is_ridden_out(throwaway_postgres, study_name):
    """The server closes every connection and refuses new ones for a moment while workers hold
    trials: they reconnect and go on; nothing is lost, duplicated or left RUNNING."""
    url, budget = throwaway_postgres.url, 8
    command = evolve_command(study_name, url, "--workers", "2", "--budget", str(budget))
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_running_trial(url, study_name, process)
        throwaway_postgres.restart()
        _, err = process.communicate(timeout=DEADLINE)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "stopped early" not in err, err  # no worker died: the calls were retried
    lost = _check_invariants(url, study_name, budget)
    assert lost == []


@pytest.mark.timeout(2 * DEADLINE)
def test_a_cli_search_shares_a_study_that_a_pipeline_run_holds(tmp_path):
    """`evonorm evolve` on a study whose trials a pipeline run holds (claimed by its generate
    step, not yet recorded): it shares the study. It counts them as running, never fails or
    re-queues them (their owner is a pipeline run, not a process of this host), evaluates only
    its own; the pipeline's record step then tells its trials as usual."""
    from evonorm import tasks

    storage = f"journal:{tmp_path / 'study.log'}"
    config = dict(preset="smoke", space="B", strategy="evolution", population=3)
    tasks.init_study(
        "s", storage, **config, tournament=2.0, selection="pareto", seed=0, pipeline_run="run-1"
    )
    groups = tasks.generate("s", storage, 2, pipeline_run="run-1", per_task=2)
    held = [item["trial"] for group in groups for item in json.loads(group)]
    assert len(groups) == 1 and len(held) == 2
    budget = 5
    same = ("--population", "3", "--tournament", "2", "--workers", "2", "--budget", str(budget))
    done = _run(evolve_command("s", storage, *same))
    assert done.returncode == 0, done.stderr
    search = _search(storage, "s")
    running = search.trials((TrialState.RUNNING,))
    assert sorted(t.number for t in running) == sorted(held)
    assert all(t.user_attrs["owner"] == {"pipeline_run": "run-1"} for t in running)
    assert search.census().done == budget - len(held)  # its own trials: budget minus the held

    screened = [tasks.reject("s", storage, group) for group in groups]
    outcomes = [tasks.train("s", storage, s, device="cpu") for s in screened]
    told = json.loads(tasks.record("s", storage, outcomes))
    assert told["recorded"] == len(held) and told["done"] == budget
    _check_invariants(storage, "s", budget)


@pytest.mark.timeout(3 * DEADLINE)
def test_a_full_disk_stops_the_search_in_one_line_and_the_same_command_resumes(
    tmp_path, study_name
):
    """The journal cannot grow past a few kB (RLIMIT_FSIZE: writes fail with EFBIG, as they
    fail with ENOSPC on a full disk): the search stops with one line and exit 2, keeps all it
    recorded, and the same command resumes once there is room."""
    storage = f"journal:{tmp_path / 'study.log'}"
    budget = 8
    first = _run(evolve_command(study_name, storage, "--budget", "2"))
    assert first.returncode == 0, first.stderr
    room = (tmp_path / "study.log").stat().st_size + 4096

    def full_soon() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (room, room))

    stopped = _run(
        evolve_command(study_name, storage, "--budget", str(budget)), preexec_fn=full_soon
    )
    assert stopped.returncode == 2, stopped.stderr
    assert "Traceback" not in stopped.stderr, stopped.stderr
    (line,) = [line for line in stopped.stderr.splitlines() if line.startswith("evonorm:")]
    assert line.startswith(f"evonorm: error: cannot write study storage {storage}: the disk")
    assert "run the same command to resume" in line
    kept = _search(storage, study_name).census().done
    assert 2 <= kept < budget

    resumed = _run(evolve_command(study_name, storage, "--budget", str(budget)))
    assert resumed.returncode == 0, resumed.stderr
    _check_invariants(storage, study_name, budget)
