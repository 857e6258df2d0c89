"""Masking of personal data: names, phone numbers and ID numbers, shown as the
least a role needs (Personal Information Protection Law).

Pure functions: :func:`mask_name`, :func:`mask_phone`, :func:`mask_id`, and
:func:`mask_rows`, which masks the personal columns of chosen rows of a frame.
*Which* rows a user may see unmasked is the access policy's decision
(:func:`grid.access.mask_households`), not this module's.

Examples
--------
>>> mask_name("欧阳娜娜"), mask_phone("13800138000"), mask_id("11010519491231002X")
('欧阳**', '138****8000', '110105********002X')
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

__all__ = [
    "COMPOUND_SURNAMES",
    "NAME_COLUMNS",
    "PHONE_COLUMNS",
    "ID_COLUMNS",
    "PERSONAL_COLUMNS",
    "mask_name",
    "mask_phone",
    "mask_id",
    "mask_rows",
]

#: Two-character surnames (复姓) kept whole by :func:`mask_name`.
COMPOUND_SURNAMES: tuple[str, ...] = (
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐", "长孙",
    "宇文", "司徒", "夏侯", "轩辕", "端木", "独孤", "南宫", "西门", "百里", "呼延", "澹台",
)

#: Column names (stored and Chinese headers) masked by :func:`mask_rows`.
NAME_COLUMNS: tuple[str, ...] = ("head_name", "户主姓名", "姓名")
PHONE_COLUMNS: tuple[str, ...] = ("phone", "联系电话", "电话", "手机号")
ID_COLUMNS: tuple[str, ...] = ("id_number", "身份证号", "身份证号码")
#: Every personal column :func:`mask_rows` masks.
PERSONAL_COLUMNS: tuple[str, ...] = NAME_COLUMNS + PHONE_COLUMNS + ID_COLUMNS

_LANDLINE_RE = re.compile(r"(0\d{2,3})([- ])(\d{7,8})")


def _stars(n: int) -> str:
    return "*" * max(n, 0)


def mask_name(name: str | None) -> str | None:
    """Mask a name: keep the surname (a compound one whole), star the rest.

    Empty and missing names are returned as they are.

    Examples
    --------
    >>> [mask_name(n) for n in ["张", "张三", "张三丰", "张三丰四", "欧阳娜娜", "欧阳娜", "司马"]]
    ['*', '张*', '张**', '张***', '欧阳**', '欧阳*', '司*']
    >>> mask_name(""), mask_name(None)
    ('', None)
    """
    if not name:
        return name
    text = name.strip()
    if len(text) <= 1:
        return _stars(len(text)) or name
    keep = 2 if len(text) > 2 and text[:2] in COMPOUND_SURNAMES else 1
    return text[:keep] + _stars(len(text) - keep)


def mask_phone(phone: str | None) -> str | None:
    """Mask a phone number.

    A mobile (11 digits) keeps the first 3 and last 4; a landline written with
    its area code (``0592-1234567``) keeps the area code and the last 4; any
    other keeps the first 3 and last 2 characters (all starred when 5 or fewer).

    Examples
    --------
    >>> mask_phone("13800138000"), mask_phone("0592-1234567"), mask_phone("010 87654321")
    ('138****8000', '0592-***4567', '010 ****4321')
    >>> mask_phone("12345678"), mask_phone("12345"), mask_phone(None)
    ('123***78', '*****', None)
    """
    if not phone:
        return phone
    text = phone.strip()
    m = _LANDLINE_RE.fullmatch(text)
    if m:
        local = m.group(3)
        return m.group(1) + m.group(2) + _stars(len(local) - 4) + local[-4:]
    if len(text) == 11 and text.isdigit():
        return text[:3] + "****" + text[-4:]
    if len(text) <= 5:
        return _stars(len(text))
    return text[:3] + _stars(len(text) - 5) + text[-2:]


def mask_id(id_number: str | None) -> str | None:
    """Mask a resident ID number: the first 6 (region) and last 4 characters stay.

    18 characters give 8 stars, 15 give 5; anything else is starred whole.

    Examples
    --------
    >>> mask_id("11010519491231002X")
    '110105********002X'
    >>> mask_id("110105491231002")
    '110105*****1002'
    >>> mask_id("AB12"), mask_id(None)
    ('****', None)
    """
    if not id_number:
        return id_number
    text = id_number.strip()
    if len(text) in (15, 18):
        return text[:6] + _stars(len(text) - 10) + text[-4:]
    return _stars(len(text))


def _as_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a phone number read as a number
    return str(value)



def mask_rows(frame: pd.DataFrame, hide: pd.Series | None = None) -> pd.DataFrame:
    """A copy of ``frame`` with the personal columns masked on the rows where ``hide`` is true.

    Names (``head_name``, ``户主姓名``, ``姓名``), phones (``phone``, ``联系电话``,
    ``电话``, ``手机号``) and ID numbers (``id_number``, ``身份证号``, ``身份证号码``)
    are masked; other columns are kept. ``hide=None`` masks every row.

    Examples
    --------
    >>> f = pd.DataFrame({"head_name": ["张三", "李四"], "phone": ["13800138000", "13900139000"]})
    >>> mask_rows(f, pd.Series([True, False])).to_dict("list")
    {'head_name': ['张*', '李四'], 'phone': ['138****8000', '13900139000']}
    """
    out = frame.copy()
    if hide is None:
        hide = pd.Series(True, index=out.index, dtype=bool)
    hide = hide.reindex(out.index).fillna(True).astype(bool)
    if not hide.any():
        return out
    for names, fn in ((NAME_COLUMNS, mask_name), (PHONE_COLUMNS, mask_phone), (ID_COLUMNS, mask_id)):
        for col in names:
            if col not in out.columns:
                continue
            values = out[col].astype(object)
            masked = [fn(_as_text(v)) if h and v is not None and not pd.isna(v) else v
                      for v, h in zip(values, hide, strict=True)]
            out[col] = pd.Series(masked, index=out.index, dtype=object)
    return out
