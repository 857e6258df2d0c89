"""Files the product writes appear whole or not at all.

:func:`replace_atomically` has the content written to a hidden ``.NAME.part`` file beside
the target and renames it over the target only once the writer has finished; on any error
the partial file is removed and the target is left as it was (a rename within one folder is
atomic on POSIX and Windows).

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> target = Path(tempfile.mkdtemp()) / "通报.txt"
>>> replace_atomically(target, lambda tmp: tmp.write_text("第一稿", encoding="utf-8")).read_text(encoding="utf-8")
'第一稿'
>>> def broken(tmp: Path) -> None:
...     tmp.write_text("写了一半", encoding="utf-8")
...     raise OSError("disk full")
>>> try:
...     replace_atomically(target, broken)
... except OSError:
...     pass
>>> target.read_text(encoding="utf-8"), sorted(p.name for p in target.parent.iterdir())
('第一稿', ['通报.txt'])
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["replace_atomically"]


def replace_atomically(path: str | Path, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp)`` with a temporary path beside ``path``, then rename it to ``path``.

    Returns ``path`` as a :class:`~pathlib.Path`. Whatever ``write`` raises propagates, and no
    partial file stays behind.
    """
    out = Path(path)
    tmp = out.with_name(f".{out.stem}.part{out.suffix}")
    try:
        write(tmp)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
