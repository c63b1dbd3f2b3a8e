"""The pipeline definitions, from a checkout's top-level ``pipelines/`` folder.

They are not installed with the package (``components/`` and ``pipelines/`` are folders of the
repository, not packages in site-packages), so ``compile`` and ``run-local`` look for the
checkout: the working directory, then the checkout this evonorm was installed from in editable
mode. The first that has ``pipelines/search.py`` and ``components/`` is put on ``sys.path``.
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["checkout", "pipeline"]


def checkout() -> Path:
    """The repository root holding ``pipelines/`` and ``components/``; one ``ValueError``
    naming the places looked at when there is none."""
    here = Path(__file__).resolve().parents[3]  # src/evonorm/workflow/definitions.py
    places = [Path.cwd(), here]
    for root in places:
        if (root / "pipelines" / "search.py").is_file() and (root / "components").is_dir():
            return root
    looked = " and ".join(dict.fromkeys(str(p) for p in places))
    raise ValueError(
        f"compile and run-local need a checkout of the evonorm repository (its pipelines/ and "
        f"components/ folders); none in {looked}: run from the checkout, or use submit or "
        "schedule, which send the compiled pipeline shipped with the package"
    )


def pipeline(name: str):
    """The pipeline function ``name`` (a ``kfp`` pipeline) from the checkout."""
    root = str(checkout())
    if root not in sys.path:
        sys.path.insert(0, root)
    from pipelines import PIPELINES

    if name not in PIPELINES:
        raise ValueError(f"unknown pipeline {name!r}; known: {', '.join(PIPELINES)}")
    return PIPELINES[name]
