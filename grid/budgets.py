"""Programmes, budgets and diversion checks (截留、挪用): where the money of each programme went.

Definitions
-----------
Programme (救助项目, table ``programmes``)
    A code (what applications and budgets name), a name (what assistance records carry in
    their free-text ``programme`` column), a kind (cash, goods, service), a standard amount
    ``standard_yuan`` (the most one application may ask and one record may give; none: no
    limit), target categories (none: every household), ``needs_approval`` (assistance must
    come from an approved application, :mod:`grid.applications`) from ``approval_from`` (a
    date; none: always — records given earlier, before the procedure was in force, are not
    flagged) and the default days of public notice. An assistance record belongs to the
    programme whose name or code equals its ``programme`` after Unicode NFKC normalisation,
    trimming and case folding (:func:`programme_key`); a record of an application belongs to
    the application's programme.
Where a record is
    The community of the application it was given on (``applications.unit_code``, the
    household's community when it applied), else the community of the household's cell
    today. Records of households outside every cell belong to no unit.
Budget (预算, table ``budgets``)
    A ceiling on what the households of a unit (district, street or community) receive from a
    programme in a campaign (``campaign_id`` NULL: the programme outside any campaign). A
    record counts against every budget of the units at and above its community. Per budget:

    - ``pending_yuan``: applications still under review (applied, checked, reviewed, on notice);
    - ``approved_yuan``: approved, not yet given; ``allocated_yuan``: approved or given
      (what the district approved);
    - ``given_yuan``: every record of the programme and campaign in the unit (cash plus goods
      value), with or without an application; ``direct_yuan``: those without one;
    - ``committed_yuan = pending_yuan + approved_yuan + given_yuan`` and
      ``remaining_yuan = budget_yuan - committed_yuan`` (what a new application may still ask);
    - ``overrun``: ``given_yuan > budget_yuan``.
Red flags (疑点), one row per assistance record and reason
    ``not_active``
        Given to a household that was not registered (在册) when it was given: moved,
        removed or deceased. Its status then is read from ``household_history`` (the last
        recorded status change at or before the giving; before the first change, that
        change's old status; with no recorded change, today's status).
    ``no_application``
        The programme needs approval (and the record is dated on or after ``approval_from``)
        but the record has no application, or its application is not approved or given, or
        belongs to another household or programme.
    ``above_standard``
        Cash plus goods value above the programme's standard.
    ``shared_receiver``
        The same receiver for several households: the same bank account (``receiver_account``
        without spaces and hyphens) or the same phone (``receiver_phone``, digits only, without
        a leading 86) on records of two or more households. A shared name alone is not a flag
        (names repeat); every record of the group is flagged.
    ``budget_overrun``
        The records of a budget in the order they were given (``given_at``, then ``aid_id``):
        every record that takes the running total beyond the budget. With several budgets
        over, the row names the most local one.

Red flags are computed over the records of the households in the caller's scope
(:meth:`~grid.access.Scope.everything` also sees households outside every cell); budgets over
the units that lie wholly in it. :func:`budget_status` and :func:`red_flags` are pure functions
of the frames :func:`load_inputs` reads.

Examples
--------
>>> programme_key(" 情暖万家 "), programme_key("ＱＮＷＪ")
('情暖万家', 'qnwj')
>>> receiver_keys("6217 0000-1234", "+86 138 0013 8000")
('621700001234', '13800138000')
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from grid import audit, model
from grid.access import Actor, Scope, cells_in_scope, ensure
from grid.errors import Problem, ValidationError
from grid.store import Store
from grid.validators import amount, check_characters, china_now, date_value, nonempty_text, positive_int, visible

__all__ = [
    "REASONS",
    "PENDING",
    "BudgetInputs",
    "programme_key",
    "receiver_keys",
    "status_when_given",
    "load_programmes",
    "load_inputs",
    "budget_status",
    "remaining_budgets",
    "red_flags",
    "flag_counts",
    "budgets_for",
    "red_flags_for",
    "budget_units",
    "set_programme",
    "set_budget",
]

#: Reason codes of red flags, in the order they are listed: code -> (Chinese, English).
REASONS: dict[str, tuple[str, str]] = {
    "not_active": ("发放时住户已不在册（迁出、退出或已故）",
                   "given to a household no longer registered (moved, removed or deceased)"),
    "no_application": ("该项目须经申请审批，但发放时没有已批准的申请",
                       "the programme needs an approved application, and there was none"),
    "above_standard": ("发放金额超过项目标准", "more than the programme's standard amount"),
    "shared_receiver": ("同一领款人（同一账户或电话）领取多户的救助",
                        "the same receiver (account or phone) for several households"),
    "budget_overrun": ("超出预算后仍有发放", "given beyond the budget"),
}
#: Application states still under review (their amounts are reserved against budgets).
PENDING: tuple[str, ...] = ("applied", "community_checked", "street_reviewed", "on_notice")

_FLAG_COLUMNS = ["hh_id", "reason", "zh", "en", "aid_id", "app_id", "programme", "campaign_id", "value_yuan",
                 "given_at", "cell_id", "community_code", "street_code"]
_BUDGET_COLUMNS = ["unit_code", "unit_name", "level", "programme", "programme_name", "campaign_id", "budget_yuan",
                   "pending_yuan", "approved_yuan", "allocated_yuan", "given_yuan", "direct_yuan", "committed_yuan",
                   "remaining_yuan", "given_share", "overrun", "applications", "households_given"]
_CENT = 0.005


# --------------------------------------------------------------------------- keys
def programme_key(text: object) -> str:
    """The key programme names and codes are compared by: NFKC, trimmed, case-folded.

    >>> programme_key("情暖万家") == programme_key("情暖万家　")
    True
    """
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return ""
    return unicodedata.normalize("NFKC", str(text)).strip().casefold()


def _account_key(value: object) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    s = re.sub(r"[\s\-]", "", unicodedata.normalize("NFKC", str(value))).upper()
    return s if len(s) >= 6 else None


def _phone_key(value: object) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    digits = re.sub(r"\D", "", unicodedata.normalize("NFKC", str(value)))
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits if len(digits) >= 7 else None


def receiver_keys(account: object, phone: object) -> tuple[str | None, str | None]:
    """The keys two records share when they have the same receiver: ``(account, phone)``.

    An account is compared without spaces and hyphens (at least 6 characters), a phone by
    its digits without a leading 86 (at least 7).

    >>> receiver_keys(None, "0592-1234567"), receiver_keys("12", "12")
    ((None, '05921234567'), (None, None))
    """
    return _account_key(account), _phone_key(phone)


def _tail(key: str) -> str:
    return key[-4:]


# --------------------------------------------------------------------------- status then
def status_when_given(aid: pd.DataFrame, households: pd.DataFrame, history: pd.DataFrame) -> pd.Series:
    """Each record's household status when it was given (aligned with ``aid``).

    Parameters
    ----------
    aid : DataFrame
        ``hh_id, given_at``.
    households : DataFrame
        ``hh_id, status`` (today's).
    history : DataFrame
        ``household_history`` rows: ``hh_id, changed_at, change, old_value, new_value``.

    Returns
    -------
    Series
        The new status of the last status change at or before ``given_at``; before the first
        change, its old status; with no change recorded, today's status (``None`` for an
        unknown household).

    Examples
    --------
    >>> aid = pd.DataFrame({"hh_id": ["a", "a", "b"], "given_at": pd.to_datetime(["2026-01-01", "2026-06-01",
    ...                                                                          "2026-06-01"])})
    >>> hh = pd.DataFrame({"hh_id": ["a", "b"], "status": ["moved", "deceased"]})
    >>> hist = pd.DataFrame({"hh_id": ["a"], "changed_at": pd.to_datetime(["2026-03-01"]), "change": ["status"],
    ...                      "old_value": ["active"], "new_value": ["moved"]})
    >>> status_when_given(aid, hh, hist).tolist()
    ['active', 'moved', 'deceased']
    """
    today = pd.Series(households["status"].to_numpy(), index=households["hh_id"].astype(str).to_numpy())
    out = pd.Series(aid["hh_id"].astype(str).map(today).to_numpy(), index=aid.index, dtype=object)
    h = history[history["change"] == "status"].copy() if len(history) else history
    if not len(h) or not len(aid):
        return pd.Series([None if not isinstance(v, str) else v for v in out], index=aid.index, dtype=object)
    h = h.assign(hh_id=h["hh_id"].astype(str), changed_at=pd.to_datetime(h["changed_at"]).astype("datetime64[ns]"))
    h = h.sort_values("changed_at", kind="stable")
    left = pd.DataFrame({"_i": np.arange(len(aid)), "hh_id": aid["hh_id"].astype(str).to_numpy(),
                         "given_at": pd.to_datetime(aid["given_at"]).astype("datetime64[ns]").to_numpy()})
    left = left.sort_values("given_at", kind="stable")
    back = pd.merge_asof(left, h[["hh_id", "changed_at", "new_value"]], left_on="given_at", right_on="changed_at",
                         by="hh_id", direction="backward")
    ahead = pd.merge_asof(left, h[["hh_id", "changed_at", "old_value"]], left_on="given_at", right_on="changed_at",
                          by="hh_id", direction="forward", allow_exact_matches=False)
    then = back.set_index("_i")["new_value"].combine_first(ahead.set_index("_i")["old_value"]).sort_index()
    values = out.to_numpy(dtype=object).copy()
    known = then.notna().to_numpy()
    values[then.index.to_numpy()[known]] = then.to_numpy()[known]
    return pd.Series([None if not isinstance(v, str) else v for v in values], index=aid.index, dtype=object)


# --------------------------------------------------------------------------- reading
@dataclass
class BudgetInputs:
    """What :func:`budget_status` and :func:`red_flags` compute from (see :func:`load_inputs`).

    Attributes
    ----------
    programmes : DataFrame
        :func:`load_programmes`.
    budgets : DataFrame
        ``unit_code, unit_name, level, programme, campaign_id, budget_yuan`` of the units in scope.
    applications : DataFrame
        ``app_id, hh_id, programme, campaign_id, unit_code, amount_yuan, status``: those that
        count against the budgets in scope (every application of their programme and campaign).
    aid : DataFrame
        Every assistance record (of the campaign, if one was chosen) with ``aid_id, hh_id,
        cell_id, community_code, street_code, programme, programme_code, campaign_id,
        value_yuan, given_at, app_id, app_status, app_hh_id, app_programme, receiver_name,
        receiver_phone, receiver_account, status_then, in_scope``.
    chains : dict
        Community code -> the codes at and above it (itself first).
    """

    programmes: pd.DataFrame
    budgets: pd.DataFrame
    applications: pd.DataFrame
    aid: pd.DataFrame
    chains: dict[str, list[str]]


def load_programmes(store: Store) -> pd.DataFrame:
    """Every programme: ``code, name, kind, standard_yuan`` (float or NaN), ``target_categories``
    (list), ``needs_approval, approval_from`` (date or None), ``notice_days, description``, by code."""
    frame = store.query(
        "SELECT code, name, kind, standard_yuan::DOUBLE AS standard_yuan, target_categories, needs_approval,"
        " approval_from, notice_days, description FROM programmes ORDER BY code")
    frame["target_categories"] = [[str(c) for c in (v if v is not None else [])] for v in frame["target_categories"]]
    frame["approval_from"] = [None if v is None or pd.isna(v) else pd.Timestamp(v).date() for v in frame["approval_from"]]
    return frame


def _chains(units: pd.DataFrame) -> dict[str, list[str]]:
    parent = {str(c): (None if p is None or pd.isna(p) else str(p))
              for c, p in zip(units["code"], units["parent_code"], strict=True)}
    out: dict[str, list[str]] = {}
    for code in parent:
        chain: list[str] = []
        at: str | None = code
        while at is not None and at not in chain and len(chain) < 8:
            chain.append(at)
            at = parent.get(at)
        out[code] = chain
    return out


def load_inputs(store: Store, scope: Scope, campaign_id: str | None = None, *, programme: str | None = None,
                units: Iterable[str] | None = None, history: bool = True) -> BudgetInputs:
    """Read the programmes, the budgets of the units in ``scope``, the applications and the
    assistance records (of ``campaign_id``, if given) that :func:`budget_status` and
    :func:`red_flags` need.

    A budget's unit is in scope when every cell under it is (and it has cells); an assistance
    record is in scope (``in_scope``) when its household's cell is (any record for
    :meth:`~grid.access.Scope.everything`). ``programme`` and ``units`` keep only the budgets of
    that programme and of those units (what :func:`remaining_budgets` needs); ``history=False``
    leaves ``status_then`` empty (budgets do not need it).
    """
    programmes = load_programmes(store)
    admin = store.query("SELECT code, name, level, parent_code FROM admin_units")
    chains = _chains(admin)
    names = dict(zip(admin["code"].astype(str), admin["name"].astype(str), strict=True))
    levels = dict(zip(admin["code"].astype(str), admin["level"].astype(str), strict=True))
    camp_sql, camp_params = ("", []) if campaign_id is None else (" WHERE campaign_id IS NOT DISTINCT FROM ?",
                                                                  [campaign_id])
    budgets = store.query("SELECT unit_code, programme, campaign_id, amount_yuan::DOUBLE AS budget_yuan FROM budgets"
                          f"{camp_sql} ORDER BY unit_code, programme, campaign_id NULLS FIRST", camp_params)
    if programme is not None:
        budgets = budgets[(budgets["programme"] == programme).to_numpy()]
    if units is not None:
        budgets = budgets[budgets["unit_code"].isin(list(units)).to_numpy()]
    if not scope.is_everything:
        keep = []
        for code in budgets["unit_code"].astype(str):
            cells = cells_in_scope(store, [code])
            keep.append(bool(cells) and scope.covers(Scope.of_cells(cells)))
        budgets = budgets[np.asarray(keep, dtype=bool)] if len(budgets) else budgets
    budgets = budgets.reset_index(drop=True)
    budgets.insert(1, "unit_name", budgets["unit_code"].astype(str).map(names))
    budgets.insert(2, "level", budgets["unit_code"].astype(str).map(levels))
    apps = store.query("SELECT app_id, hh_id, programme, campaign_id, unit_code, amount_yuan::DOUBLE AS amount_yuan,"
                       f" status FROM applications{camp_sql} ORDER BY app_id", camp_params)
    aid_where = "" if campaign_id is None else " WHERE a.campaign_id IS NOT DISTINCT FROM ?"
    aid = store.query(
        "SELECT a.aid_id, a.hh_id, h.cell_id, c.community_code AS cell_community, a.programme, a.campaign_id,"
        " (a.amount_yuan + a.goods_value_yuan)::DOUBLE AS value_yuan, a.given_at, a.app_id,"
        " p.status AS app_status, p.hh_id AS app_hh_id, p.programme AS app_programme, p.unit_code AS app_unit,"
        " a.receiver_name, a.receiver_phone, a.receiver_account"
        " FROM assistance a LEFT JOIN households h USING (hh_id) LEFT JOIN cells c ON c.cell_id = h.cell_id"
        f" LEFT JOIN applications p ON p.app_id = a.app_id{aid_where} ORDER BY a.given_at, a.aid_id", camp_params)
    aid["community_code"] = aid["app_unit"].where(aid["app_unit"].notna(), aid["cell_community"])
    aid["community_code"] = aid["community_code"].astype(object).where(aid["community_code"].notna(), None)
    aid["street_code"] = [chains.get(str(c), [None, None])[1] if c is not None and len(chains.get(str(c), [])) > 1
                          else None for c in aid["community_code"]]
    by_key: dict[str, str] = {}
    for code, name in zip(programmes["code"], programmes["name"], strict=True):
        by_key.setdefault(programme_key(name), str(code))
        by_key.setdefault(programme_key(code), str(code))
    matched = aid["programme"].map(lambda p: by_key.get(programme_key(p)))
    aid["programme_code"] = aid["app_programme"].where(aid["app_programme"].notna(), matched).astype(object)
    aid["programme_code"] = aid["programme_code"].where(aid["programme_code"].notna(), None)
    if history:
        households = store.query("SELECT hh_id, status FROM households WHERE hh_id IN (SELECT hh_id FROM assistance)")
        changes = store.query("SELECT hh_id, changed_at, change, old_value, new_value FROM household_history"
                              " WHERE change = 'status' AND hh_id IN (SELECT hh_id FROM assistance)")
        aid["status_then"] = status_when_given(aid, households, changes)
    else:
        aid["status_then"] = pd.Series(None, index=aid.index, dtype=object)
    if scope.is_everything:
        aid["in_scope"] = True
    else:
        aid["in_scope"] = aid["cell_id"].astype(object).isin(list(scope.cells or ())).to_numpy()
    aid = aid.drop(columns=["cell_community", "app_unit"])
    return BudgetInputs(programmes=programmes, budgets=budgets, applications=apps, aid=aid, chains=chains)


# --------------------------------------------------------------------------- budgets
def _same_campaign(series: pd.Series, campaign: object) -> np.ndarray:
    if campaign is None or (isinstance(campaign, float) and np.isnan(campaign)):
        return series.isna().to_numpy()
    return (series.astype(object) == campaign).to_numpy()


def _under(codes: pd.Series, unit: str, chains: dict[str, list[str]]) -> np.ndarray:
    return np.array([c is not None and not (isinstance(c, float) and np.isnan(c)) and unit in chains.get(str(c), [])
                     for c in codes], dtype=bool)


def _members(inputs: BudgetInputs, row: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The assistance records and the applications that count against one budget row."""
    aid, apps = inputs.aid, inputs.applications
    a = aid[(aid["programme_code"].astype(object) == row.programme).to_numpy()
            & _same_campaign(aid["campaign_id"], row.campaign_id)]
    a = a[_under(a["community_code"], str(row.unit_code), inputs.chains)]
    p = apps[(apps["programme"].astype(object) == row.programme).to_numpy()
             & _same_campaign(apps["campaign_id"], row.campaign_id)]
    p = p[_under(p["unit_code"], str(row.unit_code), inputs.chains)]
    return a, p


def budget_status(inputs: BudgetInputs) -> pd.DataFrame:
    """Each budget against what is under review, approved and given (see the module's definitions).

    Returns
    -------
    DataFrame
        One row per budget: ``unit_code, unit_name, level, programme, programme_name,
        campaign_id, budget_yuan, pending_yuan, approved_yuan, allocated_yuan, given_yuan,
        direct_yuan, committed_yuan, remaining_yuan, given_share`` (given over budget; NaN for a
        budget of 0), ``overrun`` (bool), ``applications`` (not rejected) and
        ``households_given``. Money in yuan, rounded to the fen.
    """
    names = dict(zip(inputs.programmes["code"], inputs.programmes["name"], strict=True))
    rows = []
    for row in inputs.budgets.itertuples(index=False):
        a, p = _members(inputs, row)
        amounts = p.groupby("status")["amount_yuan"].sum() if len(p) else pd.Series(dtype=float)
        pending = float(sum(amounts.get(s, 0.0) for s in PENDING))
        approved = float(amounts.get("approved", 0.0))
        given_apps = float(amounts.get("given", 0.0))
        given = float(a["value_yuan"].sum())
        linked = a["app_status"].notna() if len(a) else pd.Series(dtype=bool)
        direct = float(a.loc[~linked, "value_yuan"].sum()) if len(a) else 0.0
        budget = float(row.budget_yuan)
        committed = pending + approved + given
        rows.append({
            "unit_code": row.unit_code, "unit_name": row.unit_name, "level": row.level, "programme": row.programme,
            "programme_name": names.get(row.programme), "campaign_id": row.campaign_id, "budget_yuan": budget,
            "pending_yuan": pending, "approved_yuan": approved, "allocated_yuan": approved + given_apps,
            "given_yuan": given, "direct_yuan": direct, "committed_yuan": committed,
            "remaining_yuan": budget - committed, "given_share": given / budget if budget else np.nan,
            "overrun": given > budget + _CENT, "applications": int((p["status"] != "rejected").sum()) if len(p) else 0,
            "households_given": int(a["hh_id"].nunique()) if len(a) else 0,
        })
    out = pd.DataFrame(rows, columns=_BUDGET_COLUMNS)
    for c in _BUDGET_COLUMNS:
        if c.endswith("_yuan"):
            out[c] = out[c].astype(float).round(2)
    out["overrun"] = out["overrun"].astype(bool)
    out["given_share"] = out["given_share"].astype(float)
    for c in ("applications", "households_given"):
        out[c] = out[c].astype("int64")
    return out


# --------------------------------------------------------------------------- red flags
def _label(code: object) -> str:
    return model.label(str(code)) if code is not None else "未知"


def red_flags(inputs: BudgetInputs) -> pd.DataFrame:
    """The red flags of the assistance records in scope (see the module's definitions).

    Returns
    -------
    DataFrame
        ``hh_id, reason, zh, en, aid_id, app_id, programme, campaign_id, value_yuan, given_at,
        cell_id, community_code, street_code``: one row per record and reason, ``zh``/``en``
        saying what was found about this record, ordered by reason (as :data:`REASONS`),
        household and record.
    """
    aid = inputs.aid[inputs.aid["in_scope"].astype(bool)] if len(inputs.aid) else inputs.aid
    progs = inputs.programmes.set_index("code") if len(inputs.programmes) else inputs.programmes
    rows: list[dict[str, Any]] = []

    def flag(rec: Any, reason: str, zh: str, en: str) -> None:
        rows.append({"hh_id": rec.hh_id, "reason": reason, "zh": zh, "en": en, "aid_id": rec.aid_id,
                     "app_id": rec.app_id, "programme": rec.programme, "campaign_id": rec.campaign_id,
                     "value_yuan": float(rec.value_yuan), "given_at": rec.given_at, "cell_id": rec.cell_id,
                     "community_code": rec.community_code, "street_code": rec.street_code})

    for rec in aid.itertuples(index=False):
        day = pd.Timestamp(rec.given_at).date()
        if rec.status_then is not None and rec.status_then != "active":
            flag(rec, "not_active", f"{day} 发放时该户状态为“{_label(rec.status_then)}”",
                 f"the household was {model.label(str(rec.status_then), 'en')} when this was given on {day}")
        code = rec.programme_code
        if code is None or code not in progs.index:
            continue
        p = progs.loc[code]
        start = p["approval_from"]
        if bool(p["needs_approval"]) and (start is None or day >= start):
            app = rec.app_id if isinstance(rec.app_id, str) else None
            if app is None:
                flag(rec, "no_application", f"“{p['name']}”须经申请审批，此笔未经申请直接发放",
                     f"{code} needs an approved application; this was given without one")
            elif rec.app_status is None or (isinstance(rec.app_status, float) and np.isnan(rec.app_status)):
                flag(rec, "no_application", f"关联的申请 {app} 不存在", f"the application {app} it names does not exist")
            elif rec.app_status not in ("approved", "given"):
                flag(rec, "no_application", f"关联的申请 {app} 状态为“{_label(rec.app_status)}”，未获批准",
                     f"the application {app} it names is {rec.app_status}, not approved")
            elif rec.app_hh_id != rec.hh_id or rec.app_programme != code:
                flag(rec, "no_application", f"关联的申请 {app} 属于另一户或另一项目",
                     f"the application {app} it names is for another household or programme")
        standard = p["standard_yuan"]
        if standard is not None and not pd.isna(standard) and float(rec.value_yuan) > float(standard) + _CENT:
            flag(rec, "above_standard", f"发放 {float(rec.value_yuan):,.2f} 元，超过“{p['name']}”标准 {float(standard):,.2f} 元",
                 f"{float(rec.value_yuan):,.2f} yuan given; the standard of {code} is {float(standard):,.2f} yuan")

    # -- the same receiver for several households --------------------------------------------
    keys = [receiver_keys(a, ph) for a, ph in zip(aid["receiver_account"], aid["receiver_phone"], strict=True)]
    shared: dict[str, tuple[str, str]] = {}
    for pos, (what_zh, what_en) in ((0, ("收款账户", "bank account")), (1, ("领款电话", "phone"))):
        col = pd.Series([k[pos] for k in keys], index=aid.index, dtype=object)
        frame = pd.DataFrame({"key": col, "hh_id": aid["hh_id"], "aid_id": aid["aid_id"]}).dropna(subset=["key"])
        for key, g in frame.groupby("key", sort=True):
            households = sorted(set(g["hh_id"].astype(str)))
            if len(households) < 2:
                continue
            listed = "、".join(households[:6]) + ("等" if len(households) > 6 else "")
            for aid_id in g["aid_id"]:
                shared.setdefault(str(aid_id), (
                    f"同一{what_zh}（尾号 {_tail(str(key))}）领取了 {len(households)} 户的救助：{listed}",
                    f"the same {what_en} (ending {_tail(str(key))}) received assistance for {len(households)} "
                    f"households: {', '.join(households[:6])}"))
    for rec in aid.itertuples(index=False):
        if str(rec.aid_id) in shared:
            flag(rec, "shared_receiver", *shared[str(rec.aid_id)])

    # -- beyond the budget -------------------------------------------------------------------
    names = dict(zip(inputs.programmes["code"], inputs.programmes["name"], strict=True))
    over: dict[str, tuple[str, str]] = {}
    order = {"community": 0, "street": 1, "district": 2}
    budgets = inputs.budgets.assign(_o=inputs.budgets["level"].map(order).fillna(3)).sort_values("_o", kind="stable")
    for row in budgets.itertuples(index=False):
        a, _ = _members(inputs, row)
        if not len(a):
            continue
        a = a.sort_values(["given_at", "aid_id"], kind="stable")
        running = a["value_yuan"].astype(float).cumsum()
        beyond = a[(running > float(row.budget_yuan) + _CENT).to_numpy()]
        for aid_id, total in zip(beyond["aid_id"], running[beyond.index], strict=True):
            prog = names.get(row.programme, row.programme)
            over.setdefault(str(aid_id), (
                f"{row.unit_name or row.unit_code}“{prog}”预算 {float(row.budget_yuan):,.2f} 元，至此笔累计发放 "
                f"{float(total):,.2f} 元", f"the budget of {row.programme} in {row.unit_code} is "
                f"{float(row.budget_yuan):,.2f} yuan; with this record {float(total):,.2f} yuan were given"))
    for rec in aid.itertuples(index=False):
        if str(rec.aid_id) in over:
            flag(rec, "budget_overrun", *over[str(rec.aid_id)])

    out = pd.DataFrame(rows, columns=_FLAG_COLUMNS)
    out["_r"] = out["reason"].map({r: i for i, r in enumerate(REASONS)})
    out = out.sort_values(["_r", "hh_id", "aid_id"], kind="stable").drop(columns="_r").reset_index(drop=True)
    out["value_yuan"] = out["value_yuan"].astype(float)
    return out


def flag_counts(flags: pd.DataFrame, by: str | None = "community_code") -> pd.DataFrame:
    """How many records and households each reason flags (per ``by``, e.g. per community).

    Aggregates only: what a leader or an inspector sees.

    >>> f = pd.DataFrame({"hh_id": ["a", "a", "b"], "reason": ["not_active"] * 3, "aid_id": ["x", "y", "z"],
    ...                   "community_code": ["k", "k", "k"]})
    >>> flag_counts(f).to_dict("records")
    [{'community_code': 'k', 'reason': 'not_active', 'zh': '发放时住户已不在册（迁出、退出或已故）', 'records': 3, 'households': 2}]
    """
    keys = ([by] if by else []) + ["reason"]
    if not len(flags):
        return pd.DataFrame(columns=[*keys, "zh", "records", "households"])
    out = flags.groupby(keys, dropna=False, sort=True).agg(records=("aid_id", "size"),
                                                            households=("hh_id", "nunique")).reset_index()
    out.insert(len(keys), "zh", out["reason"].map(lambda r: REASONS.get(r, (r, r))[0]))
    return out


def remaining_budgets(store: Store, community_code: str, programme: str, campaign_id: str | None) -> pd.DataFrame:
    """The budgets a new application of a community's household counts against: those of the
    programme and campaign for the community and every unit above it, most local first, as
    :func:`budget_status` rows (``remaining_yuan`` is what it may still ask)."""
    units = store.query("SELECT code, name, level, parent_code FROM admin_units")
    chain = _chains(units).get(str(community_code), [str(community_code)])
    inputs = load_inputs(store, Scope.everything(), campaign_id, programme=programme, units=chain, history=False)
    out = budget_status(inputs)
    out = out[_same_campaign(out["campaign_id"], campaign_id)]
    return out.assign(_o=out["unit_code"].map({c: i for i, c in enumerate(chain)})).sort_values(
        "_o", kind="stable").drop(columns="_o").reset_index(drop=True)


def budgets_for(store: Store, scope: Scope, campaign_id: str | None = None) -> pd.DataFrame:
    """:func:`budget_status` of the budgets in ``scope`` (aggregates: every role with counts may see them)."""
    return budget_status(load_inputs(store, scope, campaign_id))


def red_flags_for(store: Store, scope: Scope, campaign_id: str | None = None) -> pd.DataFrame:
    """:func:`red_flags` of the assistance records in ``scope`` (household by household)."""
    return red_flags(load_inputs(store, scope, campaign_id))


# --------------------------------------------------------------------------- settings
def budget_units(store: Store, scope: Scope) -> pd.DataFrame:
    """The units a budget may be set for within ``scope``: the district (for everything), then
    the streets and communities of the scope's cells. Columns ``code, name, level, label``."""
    from grid.campaigns import plannable_areas

    areas = plannable_areas(store, scope)
    if scope.is_everything:
        top = store.query("SELECT code, name, level FROM admin_units WHERE level = 'district' ORDER BY code")
        top["label"] = top["name"] + "（" + top["level"].map(model.label) + "）"
        areas = pd.concat([top, areas], ignore_index=True)
    return areas.reset_index(drop=True)


def set_programme(store: Store, actor: Actor, *, code: str, name: str, kind: str = "cash",
                  standard_yuan: float | str | None = None, targets: Iterable[str] = (), needs_approval: bool = True,
                  approval_from: date | str | None = None, notice_days: int = 7, description: str | None = None) -> str:
    """Define or change a programme, with its audit row, in one transaction; return its code.

    The actor must be allowed to ``manage_programmes`` (the district's administrator).

    Raises
    ------
    ValidationError
        Once, with every problem: a code that is not 1–32 letters, digits, ``_ . -``; an empty
        or over-long name, or one another programme has; an unknown kind or target category; a
        standard that is not a positive amount; notice days outside 1–60; a bad date; control
        characters.
    """
    ensure(actor, "manage_programmes", log=store)
    where = "救助项目"
    problems: list[Problem] = []
    c = str(code).strip()
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,32}", c):
        problems.append(Problem(where, None, "code", visible(c), "项目代码须为 1 至 32 个字母、数字或 _ . -",
                                "the code is 1 to 32 letters, digits or _ . -"))
    title = nonempty_text(name, max_len=60)
    if title.ok:
        title = check_characters(str(title.value))
    if not title.ok:
        problems.append(title.problem(where, None, "name", visible(str(name))))
    if kind not in model.AID_KINDS:
        problems.append(Problem(where, None, "kind", visible(str(kind)), "未知的救助方式", "unknown kind of assistance"))
    std = None
    if standard_yuan is not None and str(standard_yuan).strip() != "":
        got = amount(standard_yuan)
        if not got.ok or got.value is None or got.value <= 0:
            problems.append(Problem(where, None, "standard_yuan", str(standard_yuan), "标准金额须为正数",
                                    "the standard must be a positive amount"))
        else:
            std = got.value
    cats = [str(t) for t in targets]
    for t in cats:
        if t not in model.HARDSHIP:
            problems.append(Problem(where, None, "target_categories", visible(t), "未知的困难类别",
                                    "unknown hardship category"))
    days = positive_int(notice_days, 1, 60)
    if not days.ok:
        problems.append(days.problem(where, None, "notice_days", notice_days))
    start = None
    if approval_from is not None and str(approval_from).strip() != "":
        got_d = date_value(approval_from)
        if not got_d.ok:
            problems.append(got_d.problem(where, None, "approval_from", approval_from))
        start = got_d.value
    desc = None
    if description:
        d = check_characters(str(description), multiline=True)
        if not d.ok:
            problems.append(d.problem(where, None, "description", visible(str(description)[:60])))
        desc = str(description).strip() or None
    if problems:
        raise ValidationError(problems)
    with store.transaction() as cur:
        other = cur.execute("SELECT code FROM programmes WHERE name = ? AND code <> ?", [title.value, c]).fetchone()
        if other is not None:
            raise ValidationError([Problem(where, None, "name", str(title.value), f"项目 {other[0]} 已用此名称",
                                           f"programme {other[0]} has this name")])
        exists = cur.execute("SELECT count(*) FROM programmes WHERE code = ?", [c]).fetchone() != (0,)
        if exists:
            cur.execute("UPDATE programmes SET name = ?, kind = ?, standard_yuan = ?, target_categories = ?,"
                        " needs_approval = ?, approval_from = ?, notice_days = ?, description = ? WHERE code = ?",
                        [title.value, kind, std, cats, bool(needs_approval), start, days.value, desc, c])
        else:
            cur.execute("INSERT INTO programmes (code, name, kind, standard_yuan, target_categories, needs_approval,"
                        " approval_from, notice_days, description) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [c, title.value, kind, std, cats, bool(needs_approval), start, days.value, desc])
        audit.record(cur, actor, "update" if exists else "create", object=f"programme:{c}", row_count=1)
    return c


def set_budget(store: Store, actor: Actor, *, unit_code: str, programme: str, amount_yuan: float | str,
               campaign_id: str | None = None, now: datetime | None = None) -> None:
    """Set (or replace) the budget of a unit for a programme and campaign, with its audit row.

    The actor must be allowed to ``manage_budgets`` over every cell of the unit.

    Raises
    ------
    ValidationError
        Once, with every problem: an unknown unit (or one without cells), programme or campaign,
        an amount that is not a non-negative sum of money.
    AccessDenied
        When the unit is outside the actor's scope.
    """
    where = "救助预算"
    problems: list[Problem] = []
    unit = str(unit_code).strip()
    cells = cells_in_scope(store, [unit]) if re.fullmatch(r"[0-9]{12}", unit) else frozenset()
    if not cells or store.scalar("SELECT count(*) FROM admin_units WHERE code = ?", [unit]) == 0:
        problems.append(Problem(where, None, "unit_code", visible(unit), "没有这个单位（或其下没有网格）",
                                "no such unit (or it holds no cell)"))
    if store.scalar("SELECT count(*) FROM programmes WHERE code = ?", [programme]) == 0:
        problems.append(Problem(where, None, "programme", visible(str(programme)), "没有这个救助项目",
                                "no such programme"))
    if campaign_id is not None and store.scalar("SELECT count(*) FROM campaigns WHERE campaign_id = ?",
                                                [campaign_id]) == 0:
        problems.append(Problem(where, None, "campaign_id", visible(str(campaign_id)), "没有这个活动",
                                "no such campaign"))
    got = amount(amount_yuan)
    if not got.ok:
        problems.append(got.problem(where, None, "amount_yuan", amount_yuan))
    if problems:
        raise ValidationError(problems)
    ensure(actor, "manage_budgets", Scope.of_cells(cells), log=store)
    at = now or china_now()
    with store.transaction() as cur:
        cur.execute("DELETE FROM budgets WHERE unit_code = ? AND programme = ? AND campaign_id IS NOT DISTINCT FROM ?",
                    [unit, programme, campaign_id])
        cur.execute("INSERT INTO budgets (unit_code, programme, campaign_id, amount_yuan, set_at, set_by)"
                    " VALUES (?, ?, ?, ?, ?, ?)", [unit, programme, campaign_id, got.value, at, actor.name])
        audit.record(cur, actor, "update", object=f"budget:{unit}:{programme}:{campaign_id or '-'}", row_count=1,
                     scope=[unit])
