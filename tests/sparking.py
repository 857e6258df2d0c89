"""What the Spark tests need: Debian's Java, installed when missing (as tests/browsing.py installs Chromium)."""

from __future__ import annotations

import os

from grid.spark_job import JAVA_PACKAGE
from tests.sysdeps import ensure_packages

__all__ = ["ensure_java"]


def ensure_java() -> str | None:
    """Install Debian's Java runtime when no ``java`` is found; the problem, or None (see tests/sysdeps.py)."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and os.path.exists(os.path.join(java_home, "bin", "java")):
        return None
    return ensure_packages({JAVA_PACKAGE: "java"}, "the Spark tests")
