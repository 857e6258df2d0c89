"""Actors for tests that call the library directly (not a test module)."""

from __future__ import annotations

from collections.abc import Iterable

from grid.access import Actor, Scope, operator

#: The whole database, as the command line's operator sees it.
EVERYTHING = Scope.everything()
#: An operator (an administrator) named ``cli:test``.
OP = operator("test")


def as_warden(cells: Iterable[str] | None, name: str = "test-warden", person_id: str | None = None) -> Actor:
    """A warden holding ``cells`` (none for ``None``)."""
    from grid.users import User

    cells = tuple(sorted(cells or ()))
    return Actor(name, "warden", Scope.of_cells(cells, codes=cells), User(name, "warden", cells, None, person_id))


def as_role(role: str, cells: Iterable[str], name: str | None = None) -> Actor:
    """An actor of ``role`` holding ``cells``."""
    cells = tuple(sorted(cells))
    return Actor(name or f"test-{role}", role, Scope.of_cells(cells, codes=cells))


__all__ = ["EVERYTHING", "OP", "Scope", "as_warden", "as_role"]
