"""The system packages tests need (Chromium, CJK fonts, poppler, nginx, Java): one policy for all.

A package is installed with Debian's apt-get when it is missing and the tests run as root
(CI runners and containers), unless ``WARMGRID_NO_INSTALL`` is set; otherwise the caller gets
a sentence saying what to install. Installs are serialised by a file lock, so pytest-xdist's
workers never race for dpkg's lock.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

__all__ = ["ensure_packages", "present"]

_LOCK = Path("/tmp/warmgrid-apt.lock")


def present(proof: str) -> bool:
    """Whether ``proof`` (an absolute path, or a command looked up on PATH) is there."""
    return Path(proof).exists() if os.sep in proof else shutil.which(proof) is not None


def ensure_packages(needed: Mapping[str, str], purpose: str) -> str | None:
    """Install the Debian packages whose proof is missing; None when all are there, else the problem.

    Parameters
    ----------
    needed
        Debian package → the file or command that shows it is installed.
    purpose
        What needs them, for the message (e.g. ``"the bulletin's PDF tests"``).
    """
    missing = [pkg for pkg, proof in needed.items() if not present(proof)]
    if missing and os.geteuid() == 0 and shutil.which("apt-get") and not os.environ.get("WARMGRID_NO_INSTALL"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        with _LOCK.open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            missing = [pkg for pkg, proof in needed.items() if not present(proof)]  # another worker may have
            if missing:
                subprocess.run(["apt-get", "update", "-qq"], check=False, env=env, capture_output=True, timeout=900)
                subprocess.run(["apt-get", "install", "-y", "-qq", *missing],
                               check=False, env=env, capture_output=True, timeout=1800)
        missing = [pkg for pkg, proof in needed.items() if not present(proof)]
    if missing:
        pkgs = " ".join(missing)
        return f"{purpose} need Debian's {pkgs}: apt-get install {pkgs} (as root the tests install it themselves)"
    return None
