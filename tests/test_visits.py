"""Visit logs, needs and the due list: idempotent writes under concurrency."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pandas as pd
import pytest

from grid.errors import ValidationError, WarmGridError
from grid.household_file import household_card
from grid.store import Store
from grid.visits import NeedInput, due_visits, load_due_inputs, log_visit, new_form_key, open_needs
from tests.actors import OP, Scope, as_role, as_warden


def _a_household(db: Store) -> tuple[str, str]:
    hh, cell = db.query("SELECT hh_id, cell_id FROM households ORDER BY hh_id LIMIT 1").iloc[0]
    return str(hh), str(cell)


def test_sixteen_threads_log_exactly_480_visits_and_resubmits_create_none(db) -> None:
    hh, cell = _a_household(db)
    before = db.count("visits")
    keys = [[new_form_key() for _ in range(30)] for _ in range(16)]
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for key in keys[k]:
                log_visit(db, OP, hh_id=hh, visitor_id=f"W{k}", visited_at=datetime(2026, 11, 1, 9, 0),
                          situation="走访", idempotency_key=key)
        except BaseException as exc:  # report in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert db.count("visits") == before + 480
    # Resubmitting every form again, concurrently, creates nothing.
    threads = [threading.Thread(target=work, args=(k,)) for k in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert db.count("visits") == before + 480
    assert db.count("form_submissions") == 480


def test_a_double_tap_returns_the_same_visit(db) -> None:
    hh, _ = _a_household(db)
    key = new_form_key()
    kw = dict(hh_id=hh, visitor_id="W1", visited_at=datetime(2026, 11, 2, 10, 0), situation="反映取暖困难",
              needs=[NeedInput("living", "申请临时救助")], idempotency_key=key)
    a = log_visit(db, OP, **kw)
    n_needs = db.count("needs")
    b = log_visit(db, OP, **kw)
    assert a == b
    assert db.count("needs") == n_needs
    assert db.scalar("SELECT count(*) FROM needs WHERE visit_id = ?", [a]) == 1


def test_visits_outside_my_cells_and_bad_forms_are_refused(db) -> None:
    hh, cell = _a_household(db)
    other = str(db.scalar("SELECT min(cell_id) FROM cells WHERE cell_id <> ?", [cell]))
    before = db.count("visits")
    with pytest.raises(ValidationError, match="not in your cells"):
        log_visit(db, as_warden(frozenset({other})), hh_id=hh, visitor_id="W", visited_at=datetime(2026, 11, 1), situation="x")
    with pytest.raises(ValidationError) as err:
        log_visit(db, OP, hh_id="NOPE", visitor_id="W", visited_at=datetime(1990, 1, 1), situation=" ",
                  needs=[NeedInput("fortune", "")])
    assert len(err.value.problems) == 5
    assert db.count("visits") == before


def test_a_visits_needs_start_their_flow_raised(db) -> None:
    """The warden's visit raises its needs (state raised, each with its raise event by the warden); they are
    open needs of the warden's cells until the flow settles them (grid.needs)."""
    hh, cell = _a_household(db)
    warden = as_warden({cell}, name="w-raise")
    vid = log_visit(db, warden, hh_id=hh, visitor_id="W", visited_at=datetime(2026, 11, 3, 9), situation="x",
                    needs=[NeedInput("medical", "用药报销咨询"), NeedInput("housing", "屋顶漏水")])
    rows = db.query("SELECT need_id, status, unit_code, due_at, resolved_at FROM needs WHERE visit_id = ?"
                    " ORDER BY category", [vid])
    assert rows["status"].tolist() == ["raised", "raised"]
    assert rows["unit_code"].isna().all() and rows["due_at"].isna().all() and rows["resolved_at"].isna().all()
    events = db.query('SELECT need_id, "at", by_user, from_status, to_status, step FROM need_events'
                      " WHERE list_contains(?::TEXT[], need_id) ORDER BY need_id", [rows["need_id"].tolist()])
    assert events[["by_user", "to_status", "step"]].drop_duplicates().values.tolist() == [["w-raise", "raised",
                                                                                           "raise"]]
    assert len(events) == 2 and events["from_status"].isna().all()
    assert (events["at"] == pd.Timestamp("2026-11-03 09:00")).all()
    # One audit row for the visit and its needs.
    log = db.query("SELECT action, object, row_count FROM audit_log ORDER BY log_id DESC LIMIT 1").iloc[0]
    assert log.tolist() == ["create", f"visit:{vid}", 3]
    listed = open_needs(db, Scope.of_cells({cell}))
    assert set(rows["need_id"]) <= set(listed["need_id"])


def test_due_list_order_on_the_district(store) -> None:
    cells = frozenset(store.query("SELECT cell_id FROM cells ORDER BY cell_id LIMIT 2")["cell_id"])
    hh, last, needs = load_due_inputs(store, Scope.of_cells(cells))
    assert set(hh["cell_id"]) <= cells and len(hh) == store.scalar(
        "SELECT count(*) FROM households WHERE cell_id IN (SELECT unnest(?::TEXT[]))", [sorted(cells)])
    due = due_visits(hh, last, needs, "2026-11-15")
    assert len(due) == len(hh)
    n_target = int(due["target"].sum())
    assert due["target"].iloc[:n_target].all() and not due["target"].iloc[n_target:].any()
    five = due[due["target"]]
    assert five["five_must"].is_monotonic_decreasing


def test_due_list_hand_made() -> None:
    hh = pd.DataFrame({"hh_id": ["a", "b", "c", "d", "e"],
                       "categories": [["disabled"], ["disabled"], [], ["dibao_urban"], ["disabled"]],
                       "size": [1, 5, 3, 2, 1]})
    last = pd.DataFrame({"hh_id": ["a", "b", "c", "d"],
                         "last_visit": pd.to_datetime(["2026-10-01", "2026-10-01", "2020-01-01", "2026-11-10"])})
    needs = pd.DataFrame({"hh_id": ["a"], "open_needs": [2]})
    order = due_visits(hh, last, needs, "2026-11-15")["hh_id"].tolist()
    # d: 五必访 (低保) first; then the other targets: e never visited, a (open needs) before b; c last.
    assert order == ["d", "e", "a", "b", "c"]


def test_household_card(db) -> None:
    hh = str(db.scalar("SELECT hh_id FROM visits GROUP BY hh_id ORDER BY count(*) DESC, hh_id LIMIT 1"))
    card = household_card(db, OP, hh)
    assert card["details"]["hh_id"] == hh
    assert len(card["visits"]) == db.scalar("SELECT count(*) FROM visits WHERE hh_id = ?", [hh])
    assert card["visits"]["visited_at"].is_monotonic_decreasing
    with pytest.raises(WarmGridError):
        household_card(db, OP, "NOPE")


def test_a_household_card_is_masked_audited_and_only_in_scope(db) -> None:
    row = db.query("SELECT hh_id, cell_id, head_name FROM households WHERE head_name IS NOT NULL"
                   " ORDER BY hh_id LIMIT 1").iloc[0]
    warden = as_warden({str(row["cell_id"])}, name="w1")
    before = db.count("audit_log")
    card = household_card(db, warden, str(row["hh_id"]))
    assert card["details"]["head_name"] == row["head_name"]  # a warden sees their own households in full
    log = db.query("SELECT username, action, object FROM audit_log ORDER BY log_id DESC LIMIT 1").iloc[0]
    assert db.count("audit_log") == before + 1 and log.tolist() == ["w1", "view_household", row["hh_id"]]
    with pytest.raises(WarmGridError, match="no such household"):
        household_card(db, as_warden({"another"}), str(row["hh_id"]))
    committee = as_role("committee", {str(row["cell_id"])})
    with pytest.raises(WarmGridError):  # the policy gives committees no household card
        household_card(db, committee, str(row["hh_id"]))


# ------------------------------------------------------------------ the same rules as an import
def test_the_visit_form_refuses_control_characters_as_the_importer_does(db) -> None:
    hh, _ = _a_household(db)
    before = (db.count("visits"), db.count("needs"))
    for kw, field, code in [
        (dict(situation="情况\u202e正常"), "situation", "U+202E"),
        (dict(situation="情况\x00正常"), "situation", "U+0000"),
        (dict(situation="正常", place="社区\n活动室"), "place", "U+000A"),
        (dict(situation="正常", needs=[NeedInput("living", "申请\u2066临时救助")]), "need", "U+2066"),
        (dict(situation="正常", needs=[NeedInput("living", "申请\x07")]), "need", "U+0007"),
    ]:
        with pytest.raises(ValidationError) as err:
            log_visit(db, OP, hh_id=hh, visitor_id="W1", visited_at=datetime(2026, 11, 2, 10, 0), **kw)
        p = next(p for p in err.value.problems if p.field == field)
        assert code in p.zh and code in p.en and f"[{code}]" in p.value
        assert chr(int(code[2:], 16)) not in p.value
    assert (db.count("visits"), db.count("needs")) == before
    vid = log_visit(db, OP, hh_id=hh, visitor_id="W1", visited_at=datetime(2026, 11, 2, 10, 0),
                    situation="第一行\r\n第二行\t续", needs=[NeedInput("living", "一、取暖\n二、就医")])
    assert db.scalar("SELECT situation FROM visits WHERE visit_id = ?", [vid]) == "第一行\n第二行\t续"
    assert db.scalar("SELECT description FROM needs WHERE visit_id = ?", [vid]) == "一、取暖\n二、就医"


def test_the_visit_form_refuses_tomorrow_as_the_importer_does(db) -> None:
    from datetime import time, timedelta

    hh, _ = _a_household(db)
    now = datetime(2026, 1, 5, 9, 30)  # China time
    ok = log_visit(db, OP, hh_id=hh, visitor_id="W1", visited_at=datetime(2026, 1, 5, 23, 59), situation="傍晚走访",
                   now=now)
    assert ok
    for when in (datetime(2026, 1, 6, 0, 0), datetime.combine(now.date() + timedelta(days=1), time(9, 0)),
                 datetime(2099, 1, 1), datetime(1999, 12, 31)):
        with pytest.raises(ValidationError) as err:
            log_visit(db, OP, hh_id=hh, visitor_id="W1", visited_at=when, situation="走访", now=now)
        assert [p.field for p in err.value.problems] == ["visited_at"]
    # Without ``now``: today in China is accepted, tomorrow in China refused.
    beijing = datetime.now(UTC) + timedelta(hours=8)
    log_visit(db, OP, hh_id=hh, visitor_id="W1", visited_at=datetime.combine(beijing.date(), time(23, 59)),
              situation="今天")
    with pytest.raises(ValidationError, match="in the future"):
        log_visit(db, OP, hh_id=hh, visitor_id="W1", visited_at=datetime.combine(beijing.date() + timedelta(days=1),
                                                                             time(0, 1)), situation="明天")
