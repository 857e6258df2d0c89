"""Taking back a visit logged by mistake (issue 14 §3.7): exactly that visit and the needs it
raised go, with one audit row; anyone else's visit, an old one, or one whose need has moved on stays."""

from __future__ import annotations

from datetime import datetime

import pytest

from grid.errors import WarmGridError
from grid.needs import assign
from grid.store import Store
from grid.visits import NeedInput, log_visit, new_form_key, undo_visit
from tests.actors import OP, as_warden


def _household(db: Store) -> tuple[str, str]:
    hh, cell = db.query("SELECT hh_id, cell_id FROM households WHERE status = 'active' ORDER BY hh_id LIMIT 1"
                        ).iloc[0]
    return str(hh), str(cell)


def _snapshot(db: Store) -> dict[str, set[str]]:
    return {"visits": set(db.query("SELECT visit_id FROM visits")["visit_id"]),
            "needs": set(db.query("SELECT need_id FROM needs")["need_id"]),
            "events": set(db.query("SELECT CAST(event_id AS TEXT) AS e FROM need_events")["e"]),
            "forms": set(db.query("SELECT idempotency_key FROM form_submissions")["idempotency_key"])}


def test_undo_removes_exactly_the_visit_and_its_raised_needs_and_audits(db) -> None:
    hh, cell = _household(db)
    me = as_warden([cell], name="w-undo")
    before = _snapshot(db)
    key = new_form_key()
    kept = log_visit(db, me, hh_id=hh, visited_at=datetime(2026, 11, 2, 9, 0), situation="第一次")
    vid = log_visit(db, me, hh_id=hh, visited_at=datetime(2026, 11, 2, 10, 0), situation="点错了",
                    needs=[NeedInput("living", "申请临时救助"), NeedInput("medical", "配药")], idempotency_key=key)
    raised = set(db.query("SELECT need_id FROM needs WHERE visit_id = ?", [vid])["need_id"])
    assert len(raised) == 2
    assert undo_visit(db, me, vid) == 3  # the visit and its two needs
    after = _snapshot(db)
    assert after["visits"] == before["visits"] | {kept}
    assert after["needs"] == before["needs"]
    assert after["events"] == before["events"]
    assert after["forms"] == before["forms"]  # the key is free again
    log = db.query("SELECT username, action, object, row_count FROM audit_log WHERE object LIKE ?", [f"visit:{vid}%"])
    assert log.to_dict("records")[-1] == {"username": "w-undo", "action": "delete", "object": f"visit:{vid}:undo",
                                          "row_count": 3}
    with pytest.raises(WarmGridError):  # a second undo finds nothing
        undo_visit(db, me, vid)


def test_only_the_user_who_logged_it_may_undo_it_in_time(db) -> None:
    hh, cell = _household(db)
    me, other = as_warden([cell], name="w-a"), as_warden([cell], name="w-b")
    vid = log_visit(db, me, hh_id=hh, visited_at=datetime(2026, 11, 2, 9, 0), situation="走访")
    n = db.count("visits")
    for who, minutes in ((other, 30.0), (me, 0.0), (as_warden([], name="w-a"), 30.0)):
        with pytest.raises(WarmGridError) as err:
            undo_visit(db, who, vid, minutes=minutes)
        assert "无法撤销" in err.value.zh and "cannot be undone" in err.value.en
    assert db.count("visits") == n
    assert db.scalar("SELECT count(*) FROM audit_log WHERE action = 'delete' AND object LIKE ?", [f"visit:{vid}%"]) == 0


def test_a_visit_whose_need_was_assigned_stays(db) -> None:
    hh, cell = _household(db)
    me = as_warden([cell], name="w-c")
    vid = log_visit(db, me, hh_id=hh, visited_at=datetime(2026, 11, 2, 9, 0), situation="走访",
                    needs=[NeedInput("living", "申请临时救助")])
    need = str(db.scalar("SELECT need_id FROM needs WHERE visit_id = ?", [vid]))
    assign(db, OP, need, cell)
    with pytest.raises(WarmGridError):
        undo_visit(db, me, vid)
    assert db.scalar("SELECT count(*) FROM visits WHERE visit_id = ?", [vid]) == 1
    assert db.scalar("SELECT status FROM needs WHERE need_id = ?", [need]) == "assigned"
