"""What counts as a raw name on screen (not a test module): the rule the browser tests apply to
every page for every role (issue 14 §3.1).

A user must never read a column name (``visitor_id``), a code (``not_helped``, ``goods``) or an
identifier (``assistance_cell_per_vulnerable``, ``h3:8``) where a label belongs:

- in a label (heading, widget label, option, metric, button, caption, alert): any lower-case
  ``snake_case`` identifier, any ``h3:N``, or a part of the label (split at ``·``, brackets,
  slashes) that is exactly a column name or a code;
- as a table's column header: a column name, a code or a ``snake_case`` identifier;
- in a table's cell: exactly a code (except in the columns that show user names, which may
  coincide with role codes such as ``admin``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

__all__ = ["raw_on_screen"]

_SNAKE = re.compile(r"(?<![A-Za-z0-9_])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![A-Za-z0-9_])")
_H3 = re.compile(r"\bh3:\d+\b")
_PARTS = re.compile(r"\s*(?:·|\n|（|）|\(|\)|/|：|:|，|,)\s*")
#: Headers of columns whose cells are user names (a username may be a role's code, e.g. ``admin``).
USER_COLUMNS = frozenset({"用户", "用户名", "操作人", "办理人", "制定人", "申请人", "更新人", "设定人"})


def raw_on_screen(seen: dict[str, Any], raw: Iterable[str], codes: Iterable[str]) -> list[str]:
    """The raw names in what a page showed (:meth:`tests.browsing.Session.visible_labels`).

    >>> seen = {"labels": ["下载数据 CSV · Download (assistance_cell_per_vulnerable)", "户均 · per_vulnerable by h3:8",
    ...                    "已走访 · visited", "住户 Households"],
    ...         "tables": [{"headers": ["户编号", "visitor_id", "leg_m"], "cells": [["方式", "goods"], ["用户", "admin"]]}]}
    >>> raw_on_screen(seen, {"visitor_id", "leg_m", "visited", "per_vulnerable", "households"}, {"goods", "admin"})
    ['label: assistance_cell_per_vulnerable', 'label: per_vulnerable', 'label: h3:8', 'label: visited', \
'header: visitor_id', 'header: leg_m', 'cell 方式: goods']
    """
    raw, codes = set(raw), set(codes)
    names = raw | codes
    out: list[str] = []
    for text in seen.get("labels", []):
        found = [*_SNAKE.findall(text), *_H3.findall(text)]
        found += [p for p in _PARTS.split(text) if p in names and p not in found]
        out += [f"label: {t}" for t in dict.fromkeys(found)]
    for table in seen.get("tables", []):
        for h in table["headers"]:
            if h in names or _SNAKE.fullmatch(h) or _H3.fullmatch(h):
                out.append(f"header: {h}")
        for head, cell in table["cells"]:
            if head not in USER_COLUMNS and cell in codes:
                out.append(f"cell {head}: {cell}")
    return list(dict.fromkeys(out))
