"""Opening storages: a journal cut mid-line by a killed writer, unwritable paths, servers that
do not answer, read-only opening. Real files and a closed port; no mocks."""

import optuna
import pytest

from evonorm.evolve import StorageError, open_storage


def _study(storage):
    return optuna.load_study(study_name="s", storage=storage)


def test_a_journal_cut_mid_line_opens_and_keeps_every_complete_line(tmp_path):
    path = tmp_path / "study.log"
    study = optuna.create_study(study_name="s", storage=open_storage(f"journal:{path}"))
    for value in range(3):
        trial = study.ask()
        study.tell(trial, value)
    whole = path.read_bytes()
    with open(path, "ab") as journal:  # SIGKILL in the middle of an append
        journal.write(whole.splitlines(keepends=True)[-1][:25])
    with pytest.warns(UserWarning, match="dropped a cut last line"):
        storage = open_storage(f"journal:{path}")
    assert path.read_bytes() == whole
    assert [t.value for t in _study(storage).trials] == [0, 1, 2]
    resumed = _study(storage)
    trial = resumed.ask()  # without the repair this append is glued to the cut line
    resumed.tell(trial, 9)
    assert [t.value for t in _study(open_storage(f"journal:{path}")).trials] == [0, 1, 2, 9]


def test_read_only_opening_never_creates_a_storage(tmp_path):
    for url in (f"journal:{tmp_path / 'a.log'}", f"sqlite:///{tmp_path / 'a.db'}"):
        with pytest.raises(StorageError, match=f"no study storage at {url}"):
            open_storage(url, must_exist=True)
    assert list(tmp_path.iterdir()) == []


def test_a_bad_password_is_not_retried_and_not_shown(postgres_url):
    head, _, host = postgres_url.partition("@")
    wrong = f"{head.rsplit(':', 1)[0]}:wrong-password@{host}"  # this server checks passwords
    with pytest.raises(StorageError, match="password authentication failed") as caught:
        open_storage(wrong)
    assert "after" not in str(caught.value)  # a refusal is final: one attempt
    assert "wrong-password" not in str(caught.value) and ":***@" in str(caught.value)
