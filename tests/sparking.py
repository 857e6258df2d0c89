"""What the Spark tests need: Debian's Java, installed when missing (as tests/browsing.py installs Chromium)."""

from __future__ import annotations

import os
import shutil
import subprocess

from grid.spark_job import JAVA_PACKAGE

__all__ = ["ensure_java"]


def ensure_java() -> str | None:
    """Install Debian's Java runtime when no ``java`` is found; the problem, or None.

    Installs with apt-get when running as root (CI runners and containers), unless
    ``WARMGRID_NO_INSTALL`` is set; otherwise says what to install.
    """
    if shutil.which("java") or (os.environ.get("JAVA_HOME") and os.path.exists(
            os.path.join(os.environ["JAVA_HOME"], "bin", "java"))):
        return None
    if os.geteuid() == 0 and shutil.which("apt-get") and not os.environ.get("WARMGRID_NO_INSTALL"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", JAVA_PACKAGE], check=True, env=env)
    if not shutil.which("java"):
        return f"the Spark tests need Java 17: apt-get install {JAVA_PACKAGE} (as root the tests install it themselves)"
    return None
