"""Peak memory of the running process, shared by the benchmarks."""

from __future__ import annotations

import resource
import sys

__all__ = ["peak_rss_bytes", "ru_maxrss_bytes"]


def ru_maxrss_bytes() -> int:
    """``resource.getrusage(RUSAGE_SELF).ru_maxrss`` in bytes (KiB on Linux, bytes on macOS)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss) if sys.platform == "darwin" else int(rss) * 1024


def peak_rss_bytes() -> int:
    """This process's peak RSS.

    On Linux this is ``VmHWM`` from ``/proc/self/status``: ``ru_maxrss`` of a
    process started by ``subprocess`` starts at its parent's RSS at the fork
    (the kernel carries the high-water mark across ``execve``), which would
    give every child its parent's peak. Elsewhere, ``ru_maxrss``.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return ru_maxrss_bytes()
