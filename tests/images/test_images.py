"""The Dockerfiles lint clean with hadolint and keep the image rules (no image is built here:
no Docker engine)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from evonorm.workflow.images import BASE_IMAGE, CUDA_IMAGE

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILES = sorted((ROOT / "images").glob("*/Dockerfile"))
HADOLINT = Path(sys.executable).with_name("hadolint")


def test_there_is_a_cpu_and_a_cuda_image_matching_the_component_images():
    assert [p.parent.name for p in DOCKERFILES] == ["base", "cuda"]
    base, cuda = (p.read_text() for p in DOCKERFILES)
    assert BASE_IMAGE.rsplit(":", 1)[0].rsplit("/", 1)[1] in base  # the tag named in the header
    assert CUDA_IMAGE.rsplit(":", 1)[0].rsplit("/", 1)[1] in cuda


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_hadolint_is_clean(dockerfile):
    config = ROOT / "images/.hadolint.yaml"
    command = [str(HADOLINT), "--no-color", "--config", str(config), str(dockerfile)]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_pinned_non_root_and_secret_free(dockerfile):
    text = dockerfile.read_text()
    (base,) = re.findall(r"^FROM (\S+)", text, re.M)
    assert re.search(r":\d+\.\d+\.\d+-", base), f"base image {base} is not pinned to a version"
    assert "torch==2.14.1" in text and "torchvision==0.29.1" in text
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1] not in ("root", "0")
    assert not re.search(r"(?i)^(ENV|ARG)\s+\S*(SECRET|PASSWORD|TOKEN|ACCESS_KEY)", text, re.M)
