import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A real PostgreSQL server: $EVONORM_TEST_POSTGRES_URL, or this machine's cluster started by
    scripts/test-postgres.sh (what `make test` and .ci/run do)."""
    url = os.environ.get("EVONORM_TEST_POSTGRES_URL")
    if url:
        return url
    done = subprocess.run(
        [str(ROOT / "scripts" / "test-postgres.sh")], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        pytest.fail(f"could not start PostgreSQL for the tests:\n{done.stderr}")
    return done.stdout.strip()


@pytest.fixture(params=["journal", "postgres"])
def storage_url(request, tmp_path) -> str:
    if request.param == "journal":
        return f"journal:{tmp_path / 'study.log'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def study_name() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


def evolve_command(study: str, storage: str, *extra: str) -> list[str]:
    """`evonorm evolve` for crash tests: MLflow off (it would write runs/ into the working
    folder, and these tests are about the study)."""
    return [
        sys.executable, "-m", "evonorm", "evolve", "--preset", "smoke", "--study", study,
        "--storage", storage, "--quiet", "--no-tracking", *extra,
    ]  # fmt: skip
