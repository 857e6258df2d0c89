"""Who may do what: the one access policy of WarmGrid.

Every page, menu entry, export, download and command asks this module, in one
way: :func:`allowed` (``True``/``False``) or :func:`ensure` (raises
:class:`~grid.errors.AccessDenied`). The rules are one table, :data:`GRANTS`:
for each role, the actions of :data:`ACTIONS` it may take and on which
resources — pages and tables by name, household data by the cells of the
actor's scope.

Roles (codes in :data:`grid.model.USER_ROLES`):

- ``admin`` — everything (an empty scope is the whole database), and the only
  role that approves applications for assistance (区审批: the district office);
- ``leader`` — a district or a street, read-only, aggregates only;
- ``committee`` — a street: campaigns, visit plans and their sheets, household
  lists (masked); applications for assistance: the street's review, the public
  notice and its objections, giving (and the community's check where no community
  worker has an account);
- ``warden`` — their own cells; with the community worker, the only non-admin who
  sees households' personal data unmasked, and only in those cells; applies for
  assistance for their households and records objections;
- ``inspector`` — read-only aggregates and the audit log;
- ``community`` — a community worker (社区工作人员), scope: community codes; handles
  the needs assigned to their community, checks applications for assistance
  (社区初审), sees its households in full.

Needs (:mod:`grid.needs`) travel between roles: the committee assigns, reassigns
and escalates (``assign_need``); the unit holding a need handles it
(``handle_need``: start, note, photo, resolve, answer, return) — which role holds
which kind of unit is :data:`UNIT_HANDLERS`; the warden of the household's cell
closes it after the follow-up (``close_need``).

Who acts is an :class:`Actor`: a user with its resolved :class:`Scope` (the set
of cells it may see), made by :func:`actor_for` for a signed-in user or
:func:`operator` for the command line. Library functions that read household
data take a scope as a required argument; "everything" is an explicit value
(:meth:`Scope.everything`) that only an admin's actor (and the command line's
operator) holds. An empty scope sees nothing.

Examples
--------
>>> w = Actor("wang", "warden", Scope.of_cells({"c1"}, codes=("c1",)))
>>> allowed(w, "view_page", "my_cells"), allowed(w, "view_page", "data")
(True, False)
>>> allowed(w, "view_personal", "c1"), allowed(w, "view_personal", "c2")
(True, False)
>>> allowed(Actor("li", "leader", Scope.of_cells({"c1"})), "view_households")
False
>>> allowed(operator("alice"), "export_table", "households")
True
"""

from __future__ import annotations

import getpass
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from grid import audit, masking
from grid.errors import AccessDenied
from grid.store import Store
from grid.users import User

__all__ = [
    "Action",
    "ACTIONS",
    "PAGES",
    "DOWNLOADS",
    "ANY",
    "IN_SCOPE",
    "GRANTS",
    "Scope",
    "Actor",
    "actor_for",
    "operator",
    "allowed",
    "ensure",
    "UNIT_HANDLERS",
    "may_hold",
    "cell_resource",
    "pages_for",
    "cells_in_scope",
    "scope_sql",
    "filter_households",
    "mask_households",
    "grants_table",
]


@dataclass(frozen=True)
class Action:
    """An action of the policy.

    ``resource`` says what the action is taken on: ``"page"`` (a key of
    :data:`PAGES`), ``"table"`` (a table or import kind), ``"download"`` (a key
    of :data:`DOWNLOADS`), ``"cells"`` (a cell id, or a :class:`Scope` that
    must lie inside the actor's), or ``None`` (nothing in particular).
    """

    zh: str
    en: str
    resource: str | None


#: Every action, by name.
ACTIONS: dict[str, Action] = {
    "view_page": Action("查看页面", "view a page", "page"),
    "view_counts": Action("查看统计数字", "see counts and aggregates", "cells"),
    "view_households": Action("查看住户名单（个人信息脱敏）", "see household rows (personal data masked)", "cells"),
    "view_personal": Action("查看住户个人信息（不脱敏）", "see households' personal data unmasked", "cells"),
    "view_household": Action("打开户卡", "open a household's card", "cells"),
    "log_visit": Action("记录走访", "log a visit", "cells"),
    "raise_need": Action("登记诉求", "raise a need for a household", "cells"),
    "assign_need": Action("分拨诉求", "assign, reassign and escalate needs", "cells"),
    "handle_need": Action("办理诉求", "handle a need one's unit holds", "cells"),
    "close_need": Action("回访并关闭诉求", "follow a need up and close it", "cells"),
    "manage_campaigns": Action("创建走访活动", "create campaigns", "cells"),
    "plan_visits": Action("制定走访计划", "make and change visit plans", "cells"),
    "print_visit_sheets": Action("打印走访单（户主全名、电话，交给上门走访人）",
                                 "print visit sheets in full (names and phones, for the visitor at the door)",
                                 "cells"),
    "apply_assistance": Action("提交救助申请", "apply for assistance for a household", "cells"),
    "check_application": Action("社区初审救助申请", "check an application for assistance (community)", "cells"),
    "review_application": Action("街道审核救助申请", "review an application for assistance (street)", "cells"),
    "notice_application": Action("张榜公示救助申请、核实异议", "post applications on public notice and settle "
                                 "objections", "cells"),
    "approve_application": Action("审批救助申请", "approve an application for assistance (district)", "cells"),
    "give_assistance": Action("发放救助并登记签收", "give approved assistance and record its receipt", "cells"),
    "record_objection": Action("登记公示异议", "record an objection to a public notice", "cells"),
    "manage_budgets": Action("设定救助预算", "set assistance budgets", "cells"),
    "manage_programmes": Action("设定救助项目", "define assistance programmes", None),
    "import": Action("导入数据", "import a file into a table", "table"),
    "export_table": Action("导出数据表", "export a whole table", "table"),
    "download": Action("下载页面数据", "download a page's figures or lists", "download"),
    "manage_users": Action("管理用户", "manage users", None),
    "read_audit": Action("查看审计日志", "read the audit log", None),
    "set_need_limits": Action("设置诉求办理时限", "set the needs' time limits", None),
    "backup": Action("备份数据库", "back the whole database up", None),
    "restore": Action("从备份恢复数据库", "restore the whole database from a backup", None),
    "plan_network": Action("规划服务网络（新站点选址、服务可及性、网格重划）",
                           "plan the service network (new station sites, accessibility, redrawn cells)", "cells"),
}

#: The app's pages, in menu order: key -> title. A role's first page is where it lands.
PAGES: dict[str, str] = {
    "overview": "覆盖总览 Overview",
    "my_cells": "我的网格 My cells",
    "needs_queue": "诉求分拨 Needs queue",
    "needs_work": "诉求办理 Needs to handle",
    "campaigns": "走访活动 Campaigns",
    "applications": "救助申请 Applications",
    "leader": "救助分布 Assistance",
    "network": "服务网络规划 Network planning",
    "budgets": "预算与核查 Budgets & checks",
    "data": "数据导入导出 Data",
    "audit": "审计日志 Audit log",
}

#: What pages offer for download: key -> (Chinese, English) description.
DOWNLOADS: dict[str, tuple[str, str]] = {
    "coverage_by_community": ("按社区的覆盖统计", "coverage by community"),
    "gap_list": ("服务半径外住户名单", "list of households out of reach"),
    "assistance": ("救助分布统计（小数保护后）", "assistance figures (small counts suppressed)"),
    "visit_sheets": ("走访单", "visit sheets"),
    "audit_log": ("审计日志", "the audit log"),
    "problems": ("导入问题清单", "an import's list of problems"),
    "bulletin": ("情况通报", "the situation bulletin"),
    "needs_report": ("诉求办理统计", "the needs' figures"),
    "notice_list": ("救助对象公示名单", "the public notice list of an assistance programme"),
    "budgets": ("救助预算执行情况", "budgets against what was approved and given"),
    "red_flags": ("救助核查疑点清单（逐户）", "the red flags of assistance, household by household"),
    "network_plan": ("服务网络规划（拟建站点、可及性、网格重划方案）",
                     "network planning (proposed sites, accessibility, redrawn cells)"),
}

#: A grant on every resource of an action.
ANY = "*"
#: A grant on the resources inside the actor's scope (actions on ``"cells"``).
IN_SCOPE = "scope"

_DISTRICT_PAGES = frozenset({"overview", "leader", "budgets", "network"})

#: role -> action -> what the role may take it on: :data:`ANY`, :data:`IN_SCOPE`, or a
#: set of resource names. An action missing from a role's row is refused.
GRANTS: dict[str, dict[str, str | frozenset[str]]] = {
    "admin": {**{name: (IN_SCOPE if a.resource == "cells" else ANY) for name, a in ACTIONS.items()},
              "view_page": frozenset({"overview", "needs_queue", "needs_work", "campaigns", "applications", "leader",
                                      "network", "budgets", "data", "audit"})},
    "leader": {
        "view_page": _DISTRICT_PAGES,
        "view_counts": IN_SCOPE,
        # Planning the network shows counts and proposed sites, never a household.
        "plan_network": IN_SCOPE,
        "download": frozenset({"coverage_by_community", "assistance", "bulletin", "budgets", "network_plan"}),
    },
    "committee": {
        "view_page": frozenset({"overview", "needs_queue", "needs_work", "campaigns", "applications", "leader",
                                "network", "budgets"}),
        "view_counts": IN_SCOPE,
        "view_households": IN_SCOPE,
        "plan_network": IN_SCOPE,
        "manage_campaigns": IN_SCOPE,
        "plan_visits": IN_SCOPE,
        # The visit sheets go to the visitor at the door: full names and phones, audited as printed.
        "print_visit_sheets": IN_SCOPE,
        "raise_need": IN_SCOPE,
        "assign_need": IN_SCOPE,
        "handle_need": IN_SCOPE,
        # The street reviews, posts the notice, hears objections and gives; it may also take the
        # community's first check where no community worker has an account. The district (admin) approves.
        "apply_assistance": IN_SCOPE,
        "check_application": IN_SCOPE,
        "review_application": IN_SCOPE,
        "notice_application": IN_SCOPE,
        "give_assistance": IN_SCOPE,
        "record_objection": IN_SCOPE,
        "download": frozenset({"coverage_by_community", "gap_list", "assistance", "visit_sheets", "bulletin",
                               "needs_report", "notice_list", "budgets", "red_flags", "network_plan"}),
    },
    "warden": {
        "view_page": frozenset({"my_cells", "applications"}),
        "apply_assistance": IN_SCOPE,
        "record_objection": IN_SCOPE,
        "view_counts": IN_SCOPE,
        "view_households": IN_SCOPE,
        "view_personal": IN_SCOPE,
        "view_household": IN_SCOPE,
        "log_visit": IN_SCOPE,
        "raise_need": IN_SCOPE,
        "handle_need": IN_SCOPE,
        "close_need": IN_SCOPE,
    },
    "inspector": {
        "view_page": frozenset({"audit", "overview", "leader", "budgets"}),
        "view_counts": IN_SCOPE,
        "read_audit": ANY,
        "download": frozenset({"coverage_by_community", "assistance", "audit_log", "budgets"}),
    },
    "community": {
        "view_page": frozenset({"needs_work", "applications"}),
        "check_application": IN_SCOPE,
        "view_counts": IN_SCOPE,
        "view_households": IN_SCOPE,
        "view_personal": IN_SCOPE,
        "view_household": IN_SCOPE,
        "raise_need": IN_SCOPE,
        "handle_need": IN_SCOPE,
    },
}

#: Which roles hold a need, by the kind of unit it is assigned to (:func:`grid.needs.unit_kind`):
#: a cell is its warden's, a community its community workers', a street its committee's; the
#: departments hold no accounts, so the street committee records their steps. An administrator
#: may act for every unit. Together with ``handle_need`` in the household's cell, this decides
#: who may start, resolve, answer or return a need (:func:`may_hold`).
UNIT_HANDLERS: dict[str, frozenset[str]] = {
    "cell": frozenset({"warden"}),
    "community": frozenset({"community"}),
    "street": frozenset({"committee"}),
    "department": frozenset({"committee"}),
}


# --------------------------------------------------------------------------- scope
@dataclass(frozen=True)
class Scope:
    """The cells an actor may see: a set of cell ids, or everything.

    ``codes`` are the admin-unit codes and cell ids the scope was made from
    (what the audit log records).

    Examples
    --------
    >>> s = Scope.of_cells({"c2", "c1"})
    >>> "c1" in s, "c3" in s, None in s, s.key
    (True, False, False, 'c1,c2')
    >>> "anything" in Scope.everything(), None in Scope.everything(), Scope.everything().key
    (True, True, '*')
    >>> Scope.everything().covers(s), s.covers(Scope.everything()), s.covers(Scope.of_cells({"c1"}))
    (True, False, True)
    """

    cells: frozenset[str] | None
    codes: tuple[str, ...] = ()

    @classmethod
    def everything(cls, codes: Iterable[str] = ()) -> Scope:
        """The whole database (an admin's empty scope; the command line)."""
        return cls(None, tuple(codes))

    @classmethod
    def of_cells(cls, cells: Iterable[str], codes: Iterable[str] = ()) -> Scope:
        """Exactly these cells."""
        return cls(frozenset(str(c) for c in cells), tuple(codes))

    @property
    def is_everything(self) -> bool:
        """Whether this is the explicit "everything"."""
        return self.cells is None

    @property
    def key(self) -> str:
        """A stable key for caches of scoped results."""
        return "*" if self.cells is None else ",".join(sorted(self.cells))

    def __contains__(self, cell_id: object) -> bool:
        if self.cells is None:
            return True
        return isinstance(cell_id, str) and cell_id in self.cells

    def __bool__(self) -> bool:
        return self.cells is None or bool(self.cells)

    def covers(self, other: Scope) -> bool:
        """Whether every cell of ``other`` is in this scope."""
        if self.cells is None:
            return True
        return other.cells is not None and other.cells <= self.cells

    def cell_list(self, all_cells: Iterable[str] = ()) -> list[str]:
        """The sorted cell ids (for everything: ``all_cells``, sorted)."""
        return sorted(self.cells if self.cells is not None else {str(c) for c in all_cells})

    def restrict(self, frame: pd.DataFrame, column: str = "cell_id") -> pd.DataFrame:
        """The rows of ``frame`` whose ``column`` is in the scope (a copy).

        Rows with no cell (a household outside every cell) are kept only by
        everything.
        """
        if self.cells is None:
            return frame.copy()
        return frame.loc[frame[column].astype(object).isin(list(self.cells))].copy()


@dataclass(frozen=True)
class Actor:
    """Whoever acts: a name, a role and a resolved scope.

    Parameters
    ----------
    name : str
        The username (``cli:alice`` for the command line's operator).
    role : str
        A code of :data:`grid.model.USER_ROLES`.
    scope : Scope
        What the actor may see.
    user : User, optional
        The stored user, for a signed-in actor.
    """

    name: str
    role: str
    scope: Scope
    user: User | None = field(default=None, compare=False)

    @property
    def person_id(self) -> str | None:
        """The ``people`` row of the user (a warden's), if any."""
        return None if self.user is None else self.user.person_id

    @property
    def display_name(self) -> str:
        """The name to show for the actor."""
        return (self.user.display_name if self.user is not None else None) or self.name

    @property
    def cache_key(self) -> str:
        """A stable key for caches of what this actor may see: role and scope."""
        return f"{self.role}|{self.scope.key}"

    def audit_identity(self) -> tuple[str, str | None, list[str] | None]:
        """``(name, role, scope codes)`` for the audit log."""
        return self.name, self.role, list(self.scope.codes)


_SCOPE_CELLS_SQL = """
WITH RECURSIVE up(community_code, code, depth) AS (
    SELECT DISTINCT community_code, community_code, 0 FROM cells
    UNION ALL
    SELECT up.community_code, a.parent_code, up.depth + 1
    FROM up JOIN admin_units a ON a.code = up.code
    WHERE a.parent_code IS NOT NULL AND up.depth < 8
)
SELECT c.cell_id FROM cells c
WHERE c.cell_id IN (SELECT unnest($scope::TEXT[]))
   OR c.community_code IN (SELECT community_code FROM up WHERE code IN (SELECT unnest($scope::TEXT[])))
"""


def cells_in_scope(store: Store, codes: Collection[str]) -> frozenset[str]:
    """The ids of the cells that admin-unit codes and cell ids name.

    The cells whose ``cell_id`` is among ``codes``, or whose community, or an
    ancestor of it (street, district, following ``admin_units.parent_code``),
    is. No codes name no cell.

    Parameters
    ----------
    store : Store
    codes : collection of str

    Returns
    -------
    frozenset of str
    """
    if not codes:
        return frozenset()
    frame = store.query(_SCOPE_CELLS_SQL, {"scope": sorted(str(c) for c in codes)})
    return frozenset(frame["cell_id"].astype(str))


def actor_for(store: Store, user: User) -> Actor:
    """The actor of a signed-in user, its scope resolved to cells.

    An admin with an empty scope gets :meth:`Scope.everything`; anyone else
    the cells its codes name (none for an empty scope: deny by default).
    """
    if user.role == "admin" and not user.scope:
        scope = Scope.everything()
    else:
        scope = Scope.of_cells(cells_in_scope(store, user.scope), codes=user.scope)
    return Actor(user.username, user.role, scope, user)


def operator(name: str | None = None) -> Actor:
    """The command line's actor: the operating-system user, as an administrator.

    Whoever can run ``python -m grid`` on the database file (or reach a running
    app's command channel, which only the app's own operating-system user can)
    already holds all of its data; the audit log records who it was, e.g.
    ``cli:alice``.
    """
    if name is None:
        try:
            name = getpass.getuser()
        except Exception:  # no login name in some containers
            name = "unknown"
    label = name if name.startswith("cli:") else f"cli:{name}"
    return Actor(label, "admin", Scope.everything())


def _resource_text(resource: object) -> str:
    if isinstance(resource, Scope):
        return "所选范围" if not resource.is_everything else "全部"
    return "" if resource is None else str(resource)


def allowed(actor: Actor, action: str, resource: object = None) -> bool:
    """Whether ``actor`` may take ``action`` on ``resource``.

    Parameters
    ----------
    actor : Actor
    action : str
        A key of :data:`ACTIONS`.
    resource : str, Scope or None
        A page, table or download name; for actions on cells, a cell id or a
        :class:`Scope` (which must lie inside the actor's), or ``None``: the
        action somewhere in the actor's scope (a non-empty one).

    Raises
    ------
    ValueError
        For an unknown action.
    """
    spec = ACTIONS.get(action)
    if spec is None:
        raise ValueError(f"unknown action {action!r}; one of {sorted(ACTIONS)}")
    grant = GRANTS.get(actor.role, {}).get(action)
    if grant is None:
        return False
    if spec.resource == "cells":
        if resource is None:
            return bool(actor.scope)
        if isinstance(resource, Scope):
            return actor.scope.covers(resource)
        return resource in actor.scope
    if grant == ANY:
        return True
    return isinstance(grant, frozenset) and resource in grant


def ensure(actor: Actor, action: str, resource: object = None, *, log: Store | None = None) -> None:
    """Raise :class:`~grid.errors.AccessDenied` unless :func:`allowed`.

    With ``log``, a refusal writes a ``denied`` row to the audit log.
    """
    if allowed(actor, action, resource):
        return
    spec = ACTIONS[action]
    what = _resource_text(resource)
    if log is not None and not log.read_only:
        audit.record(log, actor, "denied", object=f"{action}:{what}"[:200])
    raise AccessDenied(action, resource,
                       f"您的角色无权{spec.zh}" + (f"（{what}）" if what else "") + "。",
                       f"your role may not {spec.en}" + (f" ({what})" if what else "") + ".")


def cell_resource(cell_id: object) -> str | Scope:
    """The resource of an action on a household in ``cell_id``: the cell, or, for a household
    outside every cell (``None``), everything — which only an administrator's scope covers.

    >>> w = Actor("w", "warden", Scope.of_cells({"c1"}))
    >>> allowed(w, "view_household", cell_resource("c1")), allowed(w, "view_household", cell_resource(None))
    (True, False)
    """
    if cell_id is None or (isinstance(cell_id, float) and pd.isna(cell_id)):
        return Scope.everything()
    return str(cell_id)


def may_hold(actor: Actor, unit_kind: str | None, cell_id: object) -> bool:
    """Whether ``actor`` acts for a unit of ``unit_kind`` on a need of a household in ``cell_id``:
    ``handle_need`` there, and a role that holds such units (:data:`UNIT_HANDLERS`; an
    administrator holds every unit).

    >>> c = Actor("c", "community", Scope.of_cells({"c1"}))
    >>> may_hold(c, "community", "c1"), may_hold(c, "cell", "c1"), may_hold(c, "community", "c2")
    (True, False, False)
    """
    if not allowed(actor, "handle_need", cell_resource(cell_id)):
        return False
    return actor.role == "admin" or actor.role in UNIT_HANDLERS.get(unit_kind or "", frozenset())


def pages_for(actor: Actor) -> list[str]:
    """The pages the actor may view, in menu order (:data:`PAGES`' order)."""
    return [p for p in PAGES if allowed(actor, "view_page", p)]


# --------------------------------------------------------------------------- data in scope
def scope_sql(scope: Scope, column: str = "cell_id") -> tuple[str, list[Any]]:
    """A SQL condition and its bound parameters restricting ``column`` to ``scope``.

    ``column`` must be a column name written by the caller, never user input.

    Examples
    --------
    >>> scope_sql(Scope.of_cells({"b", "a"}), "h.cell_id")
    ('h.cell_id IN (SELECT unnest(?::TEXT[]))', [['a', 'b']])
    >>> scope_sql(Scope.everything())
    ('TRUE', [])
    """
    import re

    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?", column):
        raise ValueError(f"not a column name: {column!r}")
    if scope.is_everything:
        return "TRUE", []
    return f"{column} IN (SELECT unnest(?::TEXT[]))", [scope.cell_list()]


_CELL_COLUMNS: tuple[str, ...] = ("cell_id", "网格编号", "所属网格")


def _cell_column(frame: pd.DataFrame) -> str | None:
    return next((c for c in _CELL_COLUMNS if c in frame.columns), None)


def filter_households(frame: pd.DataFrame, scope: Scope, *, column: str | None = None) -> pd.DataFrame:
    """The rows of ``frame`` whose cell is in ``scope`` (a copy).

    Works on any frame with a cell id column (``cell_id``, ``网格编号`` or
    ``所属网格``). Rows with no cell are kept only by everything.

    Examples
    --------
    >>> f = pd.DataFrame({"hh_id": ["h1", "h2", "h3"], "cell_id": ["c1", "c2", None]})
    >>> filter_households(f, Scope.of_cells({"c1"}))["hh_id"].tolist()
    ['h1']
    """
    col = column or _cell_column(frame)
    if col is None:
        raise KeyError("the frame has no cell id column (cell_id or 网格编号)")
    return scope.restrict(frame, col)


def mask_households(frame: pd.DataFrame, actor: Actor) -> pd.DataFrame:
    """A copy of a household frame for ``actor``: only rows it may see, personal data masked
    where it may not see it unmasked.

    An actor without ``view_households`` gets no rows (the columns are
    kept). Otherwise rows outside its scope are dropped (a frame without a
    cell column is kept whole), and names, phones and ID numbers are masked
    (:func:`grid.masking.mask_rows`) on every row whose cell it may not
    ``view_personal``.

    Examples
    --------
    >>> f = pd.DataFrame({"cell_id": ["c1", "c2"], "head_name": ["张三", "李四"]})
    >>> mask_households(f, Actor("w", "warden", Scope.of_cells({"c1", "c2"})))["head_name"].tolist()
    ['张三', '李四']
    >>> mask_households(f, Actor("c", "committee", Scope.of_cells({"c1"})))["head_name"].tolist()
    ['张*']
    >>> len(mask_households(f, Actor("l", "leader", Scope.everything())))
    0
    """
    if not allowed(actor, "view_households"):
        return frame.iloc[0:0].copy()
    col = _cell_column(frame)
    out = frame if col is None else actor.scope.restrict(frame, col)
    if col is None:
        hide = pd.Series(not allowed(actor, "view_personal", Scope.everything()), index=out.index, dtype=bool)
    else:
        cells = out[col].astype(object)
        hide = pd.Series([not allowed(actor, "view_personal", None if pd.isna(c) else str(c)) for c in cells],
                         index=out.index, dtype=bool)
    return masking.mask_rows(out, hide)


def grants_table(actions: Mapping[str, Action] | None = None) -> pd.DataFrame:
    """The policy as a table: one row per role and action, with what is granted.

    Examples
    --------
    >>> t = grants_table()
    >>> t[(t.role == "warden") & (t.action == "view_page")]["granted"].item()
    'applications,my_cells'
    """
    rows = []
    for role, grants in GRANTS.items():
        for name in actions or ACTIONS:
            g = grants.get(name)
            text = "" if g is None else g if isinstance(g, str) else ",".join(sorted(g))
            rows.append({"role": role, "action": name, "granted": text})
    return pd.DataFrame(rows)
