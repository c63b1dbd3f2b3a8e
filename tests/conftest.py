import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))  # oracle.py, references.py
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)


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
