"""Errors raised by WarmGrid, each with a Chinese and an English message.

Every error the library raises on purpose is a :class:`WarmGridError`. Its
``str()`` gives both languages so that a CLI user, a log reader and the app all
see the same text. Validators collect every :class:`Problem` and raise one
:class:`ValidationError` with the whole list.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "WarmGridError",
    "StoreError",
    "ExtensionMissingError",
    "NotWarmGridDatabaseError",
    "SchemaTooNewError",
    "DatabaseLockedError",
    "ReadOnlyError",
    "Problem",
    "ValidationError",
]


class WarmGridError(Exception):
    """Base class: a message in Chinese (``zh``) and English (``en``)."""

    def __init__(self, zh: str, en: str) -> None:
        self.zh = zh
        self.en = en
        super().__init__(f"{zh}\n{en}")


class StoreError(WarmGridError):
    """The database cannot be opened or used as asked."""


class ExtensionMissingError(StoreError):
    """The DuckDB spatial extension package is missing or of the wrong version."""


class NotWarmGridDatabaseError(StoreError):
    """The file is not a DuckDB database, or not one written by WarmGrid."""


class SchemaTooNewError(StoreError):
    """The database was written by a newer WarmGrid than this one."""


class DatabaseLockedError(StoreError):
    """Another process holds the database file."""


class ReadOnlyError(StoreError):
    """A write was asked of a store opened read-only."""


@dataclass(frozen=True)
class Problem:
    """One problem found by a validator.

    Parameters
    ----------
    where : str
        The file, table or object the problem is in.
    row : int or None
        The row as the user numbers it (1 = first data row), if any.
    field : str
        The field (column) concerned, or ``""``.
    value : str
        The offending value, as text.
    zh, en : str
        The reason, in Chinese and in English.
    """

    where: str
    row: int | None
    field: str
    value: str
    zh: str
    en: str

    def __str__(self) -> str:
        loc = self.where if self.row is None else f"{self.where} 第{self.row}行 (row {self.row})"
        fld = f" [{self.field}]" if self.field else ""
        val = f" = {self.value!r}" if self.value else ""
        return f"{loc}{fld}{val}: {self.zh} / {self.en}"


class ValidationError(WarmGridError):
    """Raised once with every problem a validator found."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        n = len(self.problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"发现 {n} 个问题：\n{lines}", f"{n} problem(s) found (listed above).")
