"""A4 PDF documents in Chinese: finding a CJK font, and a document that embeds it.

Every PDF the product writes (the situation bulletin, :mod:`grid.reports`; the public notice
list, :mod:`grid.notice`) starts the same way: a font with Chinese glyphs (Noto Sans/Serif CJK,
found by ``fc-match`` or at known paths), embedded as a subset, an A4 page with a page-number
footer (第 n 页 / 共 N 页), and a record of the characters written so that those the font lacks
can be reported rather than silently printed as blanks. :func:`cjk_document` gives that start.

Examples
--------
>>> doc = cjk_document("示例", margin=15)
>>> doc.pdf.set_font("cjk", size=11)
>>> _ = doc.pdf.cell(0, 8, doc.text("吉祥 𠮷 \U000F0001"))
>>> [hex(ord(c)) for c in doc.missing()]  # a private-use character no font draws
['0xf0001']
>>> doc.pdf.output()[:5]
bytearray(b'%PDF-')
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grid.errors import WarmGridError

__all__ = ["FONT_CANDIDATES", "find_cjk_font", "find_face", "embed_face", "CjkDocument", "cjk_document"]

#: Where :func:`find_cjk_font` looks when ``fc-match`` finds nothing (Debian's fonts-noto-cjk).
FONT_CANDIDATES: tuple[Path, ...] = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf"),
    Path("/usr/share/fonts/OTF/NotoSansCJK-Regular.ttc"),
)


def _face_index(path: Path, prefer: Sequence[str] = ("CJK SC", "SC", "CN", "Hans")) -> int | None:
    """The face of ``path`` (a collection or single font) with CJK glyphs, preferring Simplified
    Chinese; ``None`` if the file is unreadable or has no 中. Remembered per file (reading a
    collection's character maps takes seconds)."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return _face_index_cached(str(path), stat.st_size, stat.st_mtime_ns, tuple(prefer))


@functools.lru_cache(maxsize=32)
def _face_index_cached(name: str, size: int, mtime: int, prefer: tuple[str, ...]) -> int | None:
    from fontTools.ttLib import TTCollection, TTFont

    path = Path(name)

    try:
        if path.suffix.lower() in (".ttc", ".otc"):
            fonts = list(TTCollection(str(path), lazy=True).fonts)
        else:
            fonts = [TTFont(str(path), lazy=True)]
    except Exception:  # any unreadable file is simply not a candidate
        return None
    # Faces in order of preference by name (cheap); a face's character map is read only when tried.
    names = [str(f["name"].getDebugName(4) or "") for f in fonts]
    order = [i for want in prefer for i, n in enumerate(names) if want in n and "Mono" not in n]
    for i in dict.fromkeys([*order, *range(len(fonts))]):
        if ord("中") in (fonts[i].getBestCmap() or {}):
            return i
    return None


def _fc_match() -> list[Path]:
    exe = shutil.which("fc-match")
    if exe is None:
        return []
    found = []
    for family in ("Noto Sans CJK SC", "Noto Serif CJK SC", "Source Han Sans SC"):
        try:
            res = subprocess.run([exe, "-f", "%{file}\n%{family}", family], capture_output=True, text=True,
                                 timeout=10, check=False)
        except (OSError, subprocess.SubprocessError):
            continue
        lines = res.stdout.splitlines()
        if len(lines) >= 2 and ("CJK" in lines[1] or "Han" in lines[1]):
            found.append(Path(lines[0]))
    return found


def find_cjk_font(candidates: Sequence[str | Path] | None = None) -> tuple[Path, int]:
    """Find a font with Chinese glyphs: Noto Sans/Serif CJK by ``fc-match``, then known paths.

    Parameters
    ----------
    candidates : sequence of path, optional
        Files to try instead of ``fc-match`` and :data:`FONT_CANDIDATES`.

    Returns
    -------
    (Path, int)
        The font file and the face index within it (0 for a single font; the
        Simplified Chinese face of a ``.ttc`` collection).

    Raises
    ------
    WarmGridError
        If no candidate exists and has Chinese glyphs; it says how to install
        the Noto CJK fonts.
    """
    paths = [Path(p) for p in candidates] if candidates is not None else [*_fc_match(), *FONT_CANDIDATES]
    for p in dict.fromkeys(paths):
        if p.is_file():
            index = _face_index(p)
            if index is not None:
                return p, index
    raise WarmGridError(
        "未找到中文字体（Noto Sans CJK / Noto Serif CJK），无法生成 PDF。"
        "请安装：apt-get install fonts-noto-cjk，或用 font_path 指定字体文件。",
        "no CJK font (Noto Sans CJK / Noto Serif CJK) found, so the PDF cannot be written. "
        "Install one with `apt-get install fonts-noto-cjk`, or pass font_path.",
    )


@dataclass
class CjkDocument:
    """An A4 PDF being written (``pdf``, an :class:`fpdf.FPDF` with the font ``"cjk"``), the
    code points its font has (``cmap``) and the characters written through :meth:`text`."""

    pdf: Any
    cmap: set[int]
    used: set[str] = field(default_factory=set)

    def text(self, s: str) -> str:
        """``s``, remembered so that :meth:`missing` can report glyphs the font lacks."""
        self.used.update(s)
        return s

    def missing(self) -> list[str]:
        """The characters written that the font has no glyph for (printed as blanks)."""
        return sorted(ch for ch in self.used if not ch.isspace() and ord(ch) not in self.cmap)


def cjk_document(title: str, font_path: str | Path | None = None, *, margin: float,
                 footer: Any = None, first_page: bool = True) -> CjkDocument:
    """A new A4 portrait PDF with its first page: the CJK font embedded as ``"cjk"`` (the given
    ``font_path``, else :func:`find_cjk_font`), ``margin`` mm on three sides, 16 mm at the foot
    for the page numbers, and ``title`` as the document's title. ``footer`` (a callable taking the
    FPDF) draws each page's foot instead of 第 n 页 / 共 N 页; with ``first_page=False`` no page is
    added yet (the caller sets its own margins first).

    Raises
    ------
    WarmGridError
        If no CJK font is found, or ``font_path`` has no Chinese glyphs.
    """
    from fpdf import FPDF

    font, index = find_cjk_font([font_path] if font_path is not None else None)
    stat = font.stat()
    cmap = set(_cmap(str(font), index, stat.st_size, stat.st_mtime_ns))

    class _Pdf(FPDF):
        def footer(self) -> None:
            if footer is not None:
                footer(self)
                return
            self.set_y(-12)
            self.set_font("cjk", size=9)
            self.cell(0, 8, f"第 {self.page_no()} 页 / 共 {{nb}} 页", align="C")

    pdf = _Pdf(orientation="P", unit="mm", format="A4")
    pdf.set_title(title)
    pdf.set_creator("WarmGrid 暖网")
    embed_face(pdf, "cjk", font, index)
    pdf.set_auto_page_break(auto=True, margin=16)
    pdf.set_margins(margin, margin, margin)
    if first_page:
        pdf.add_page()
    return CjkDocument(pdf, cmap)


@functools.lru_cache(maxsize=16)
def _cmap(name: str, index: int, size: int, mtime: int) -> frozenset[int]:
    """The code points face ``index`` of font file ``name`` draws (remembered per file version:
    reading a CJK character map takes about half a second)."""
    from fontTools.ttLib import TTCollection, TTFont

    if Path(name).suffix.lower() in (".ttc", ".otc"):
        return frozenset(TTCollection(name, lazy=True).fonts[index].getBestCmap() or {})
    return frozenset(TTFont(name, lazy=True).getBestCmap() or {})


def embed_face(pdf: Any, key: str, path: str | Path, index: int = 0) -> None:
    """Add face ``index`` of ``path`` to ``pdf`` as font ``key``, embedded as a subset.

    The subset keeps the whole font's bounding boxes instead of recomputing them
    from every glyph it keeps (fontTools' ``recalcBBoxes``, about 0.7 s per CJK
    face on each PDF): the whole font's box encloses every glyph of the subset,
    which is all a PDF reader needs of it.
    """
    pdf.add_font(key, fname=str(path), collection_font_number=index)
    font = pdf.fonts.get(key)
    if font is not None and hasattr(font, "ttfont"):
        font.ttfont.recalcBBoxes = False


def find_face(family: str, near: Path | None = None) -> tuple[Path, int] | None:
    """A face of a Noto CJK family (``"Noto Serif CJK SC"``, ``"Noto Serif CJK SC Bold"``,
    ``"Noto Sans CJK SC Bold"``): by ``fc-match``, else by the usual file name beside ``near``;
    ``None`` when not installed."""
    want = family.replace(" SC", "").replace("Bold", "").strip()
    stem = want.replace(" ", "") + ("-Bold" if family.endswith("Bold") else "-Regular")
    paths: list[Path] = []
    exe = shutil.which("fc-match")
    if exe is not None:
        try:
            res = subprocess.run([exe, "-f", "%{file}\n%{family}\n%{style}", family.replace(" Bold", ":bold")],
                                 capture_output=True, text=True, timeout=10, check=False)
            lines = res.stdout.splitlines()
            if len(lines) >= 2 and want in lines[1]:
                paths.append(Path(lines[0]))
        except (OSError, subprocess.SubprocessError):
            pass
    for folder in dict.fromkeys([*(p.parent for p in paths), *((near.parent,) if near else ()),
                                 *(c.parent for c in FONT_CANDIDATES)]):
        paths += [folder / f"{stem}.ttc", folder / f"{stem}.otf"]
    for p in dict.fromkeys(paths):
        if p.is_file() and p.stem == stem:
            index = _face_index(p)
            if index is not None:
                return p, index
    return None
