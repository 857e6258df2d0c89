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
    "BackupError",
    "AccessError",
    "AuthError",
    "UnknownUserError",
    "AccessDenied",
    "NeedStepError",
    "Problem",
    "ValidationError",
    "ApplicationStepError",
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


class BackupError(StoreError):
    """A backup that cannot be made, read or restored (incomplete, altered, or refused)."""


class AccessError(WarmGridError):
    """Base class of the errors of sign-in, users and the access policy."""


class AuthError(AccessError):
    """Sign-in refused. The message is the same whatever the reason.

    It never tells whether the username exists, whether the account is
    disabled or whether attempts from this address are being slowed down; the
    reason is recorded in ``audit_log.object`` only.
    """

    def __init__(self) -> None:
        super().__init__(
            "用户名或密码错误，或账户已停用；多次失败后需等待片刻再试。",
            "Wrong username or password, or the account is disabled; after repeated failures, wait a while "
            "before trying again.",
        )


class UnknownUserError(AccessError):
    """An administrative operation named a user that does not exist."""

    def __init__(self, username: str) -> None:
        super().__init__(f"没有名为 {username} 的用户。", f"there is no user named {username}.")


class AccessDenied(AccessError):
    """The access policy refused an action (:func:`grid.access.ensure`).

    ``action`` and ``resource`` say what was refused, for logs and tests.
    """

    def __init__(self, action: str, resource: object, zh: str, en: str) -> None:
        self.action = action
        self.resource = resource
        super().__init__(zh, en)


class NeedStepError(WarmGridError):
    """A step a need cannot take in its state (:data:`grid.needs.TRANSITIONS`): an illegal transition.

    ``need_id``, ``status`` and ``step`` say which need, in which state, refused which step.
    """

    def __init__(self, need_id: str, status: str, step: str, zh: str, en: str) -> None:
        self.need_id = need_id
        self.status = status
        self.step = step
        super().__init__(zh, en)


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


class ApplicationStepError(ValidationError):
    """An application for assistance cannot take the step asked of it now (a step out of order,
    an objection still open, a notice not yet over): one :class:`Problem` per application refused.

    ``app_ids`` and ``step`` say what was refused, for logs and tests.
    """

    def __init__(self, step: str, problems: Iterable[Problem]) -> None:
        self.step = step
        super().__init__(problems)
        self.app_ids = [p.value for p in self.problems]
