"""How an operational error reads in one line (what failed is said by the caller; these give why).

Used by every place that turns a library's exception into the one line a user reads: storage
(SQLAlchemy), the dataset cache (botocore), MLflow and KFP hosts (urllib3 and requests).
"""

from __future__ import annotations

import re

__all__ = ["connection_reason", "first_line"]


def first_line(error: BaseException) -> str:
    """The first non-empty line of the error's message; a driver's own message when the error
    wraps one (SQLAlchemy's ``.orig``); the type's name when there is no message."""
    text = str(getattr(error, "orig", None) or error)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def connection_reason(error: BaseException) -> str:
    """Why a connection failed, out of urllib3's nested retry message ("Connection refused",
    "Name or service not known"); "timed out" for a timeout; else the type's name."""
    found = re.findall(r"\[Errno -?\d+\] ([^'\")\]]+)", str(error))
    if found:
        return found[-1].strip()
    if "timeout" in type(error).__name__.lower():
        return "timed out"
    return type(error).__name__
