"""Who sees what, end to end through the app: the page x role matrix, no leak of
another cell's household (also after an admin warmed the caches), deny by
default, one audit row per write, export and detail view."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import ui
from grid import access, model, users
from grid.demo import DEMO_ACCOUNTS
from grid.store import open_store
from tests.apptools import sign_in_demo

ROOT = Path(__file__).resolve().parent.parent
MARK_ID, MARK_NAME, MARK_ADDR = "ZZMARK01", "泄露标记户", "标记路999号"
#: The warden page's (lazy) tabs, as views/my_cells.py names them.
MY_CELLS_TABS = ["待走访 Due", "户卡 Card", "记日志 Log", "诉求 Needs"]


@pytest.fixture()
def app_db(district_file, monkeypatch, tmp_path) -> Iterator[Path]:
    """A copy of the small district with a marker household in a cell the demo warden does not hold,
    in a street the demo committee does not hold."""
    path = tmp_path / "app.duckdb"
    shutil.copyfile(district_file[0], path)
    with open_store(path) as s:
        committee_street = s.scalar("SELECT scope[1] FROM users WHERE username = 'committee'")
        cell, lon, lat = s.query(
            "SELECT c.cell_id, ST_X(ST_PointOnSurface(c.geom)) x, ST_Y(ST_PointOnSurface(c.geom)) y"
            " FROM cells c JOIN admin_units a ON a.code = c.community_code"
            " WHERE a.parent_code <> ? ORDER BY c.cell_id LIMIT 1", [committee_street]).iloc[0]
        warden_cells = s.scalar("SELECT scope FROM users WHERE username = 'warden'")
        assert cell not in warden_cells
        with s.transaction() as cur:
            cur.execute("INSERT INTO households (hh_id, geom, address, size, categories, head_name, phone, id_number)"
                        " VALUES (?, ST_Point(?, ?), ?, 2, ['dibao_urban'], ?, '13912345678', NULL)",
                        [MARK_ID, float(lon), float(lat), MARK_ADDR, MARK_NAME])
            cur.execute("INSERT INTO visits (visit_id, hh_id, visited_at, situation) VALUES"
                        " ('VMARK', ?, TIMESTAMP '2026-10-01 10:00', '标记走访')", [MARK_ID])
        s.refresh_derived()
    monkeypatch.setenv("WARMGRID_DB", str(path))
    monkeypatch.chdir(ROOT)
    ui._open.clear()
    st_cache_clear()
    yield path
    ui._open.clear()


def st_cache_clear() -> None:
    import streamlit as st

    st.cache_data.clear()


def everything(at: AppTest) -> str:
    """All the page shows: element protos, tables' contents and the map components' HTML/JS."""
    parts = [str(at._tree)]

    def walk(node: object) -> None:
        kind = type(node).__name__
        if kind == "UnknownElement":
            args = getattr(node.proto, "json_args", "") or "{}"  # type: ignore[attr-defined]
            parts.append(json.dumps(json.loads(args), ensure_ascii=False))  # JSON escapes Chinese
        if kind == "Dataframe":
            parts.append(node.value.to_csv())  # type: ignore[attr-defined]
        elif kind not in ("UnknownElement", "SpecialBlock", "Block"):
            for attr in ("label", "value", "options"):
                try:
                    parts.append(str(getattr(node, attr)))
                except Exception:  # not every element has every attribute
                    pass
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(parts)


def test_every_page_is_in_the_matrix() -> None:
    files = {f"views/{p.name}" for p in (ROOT / "views").glob("*.py") if not p.name.startswith("_")}
    assert files == set(ui.PAGES.values()), "a page was added without being in ui.PAGES"
    assert set(ui.PAGES) == set(access.PAGES) and set(access.GRANTS) == set(model.USER_ROLES)
    assert set().union(*(access.pages_for(_actor(r)) for r in model.USER_ROLES)) == set(ui.PAGES)
    assert set(DEMO_ACCOUNTS) == set(model.USER_ROLES)


def _actor(role: str) -> access.Actor:
    return access.Actor("x", role, access.Scope.of_cells({"c"}))


@pytest.mark.parametrize("role", list(model.USER_ROLES))
def test_page_role_matrix(app_db, role) -> None:
    at = sign_in_demo(role)
    for key in ui.PAGES:
        if key in access.pages_for(_actor(role)):
            at.switch_page(ui.PAGES[key]).run()
            assert not at.exception, (role, key, at.exception)
            assert "无权查看" not in everything(at), (role, key)
            continue
        # Not in the role's menu: the navigation does not offer it ...
        try:
            at.switch_page(ui.PAGES[key]).run()
            assert at.error and not at.dataframe and not at.metric, (role, key)
            assert MARK_ID not in everything(at)
        except ValueError as exc:  # AppTest itself refuses a page the navigation did not register
            assert "Could not find a navigation page" in str(exc)
        # ... and the page itself refuses the role when reached another way.
        direct = AppTest.from_file(str(ROOT / ui.PAGES[key]), default_timeout=120)
        for name in ("user", "user_seen", "user_fp"):
            direct.session_state[name] = at.session_state[name]
        direct.run()
        text = everything(direct)
        assert "无权查看" in text and not direct.dataframe and not direct.metric, (role, key)
        assert MARK_ID not in text


def test_no_user_no_page(app_db) -> None:
    for file in ui.PAGES.values():
        direct = AppTest.from_file(str(ROOT / file), default_timeout=120)
        direct.run()
        assert "请先登录" in everything(direct) and not direct.dataframe, file


@pytest.mark.parametrize("warm_as_admin", [False, True])
def test_a_warden_never_sees_another_cells_household(app_db, warm_as_admin) -> None:
    if warm_as_admin:  # an admin loads the pages first: nothing cached may leak
        at = sign_in_demo("admin")
        for key in access.pages_for(_actor("admin")):
            at.switch_page(ui.PAGES[key]).run()
        assert not at.exception
    at = sign_in_demo("warden")
    at.switch_page("views/my_cells.py").run()
    assert not at.exception, at.exception
    texts = []
    for tab in MY_CELLS_TABS:  # the tabs are lazy: open each one
        at.session_state["warden_tab"] = tab
        at.run()
        assert not at.exception, at.exception
        texts.append(everything(at))
    text = "\n".join(texts)
    assert "我的网格" in text and "wg-bldg-icon" in text  # the map's buildings (one marker each)
    assert "上次走访" in texts[0] and "走访情况" in texts[2]  # each tab's own content was seen
    for marker in (MARK_ID, MARK_NAME, MARK_ADDR, "13912345678"):
        assert marker not in text
    # Every household the warden's page offers is in the warden's cells.
    at.session_state["warden_tab"] = MY_CELLS_TABS[1]
    at.run()
    offered = {o.split(" · ")[0] for o in at.selectbox(key="card_hh").options}
    store = ui._open(str(app_db))
    mine = set(store.query("SELECT hh_id FROM households WHERE list_contains("
                           "(SELECT scope FROM users WHERE username = 'warden'), cell_id)")["hh_id"])
    assert offered == mine and len(mine) > 0


@pytest.mark.parametrize("warm_as_admin", [False, True])
def test_a_committee_never_sees_another_streets_household(app_db, warm_as_admin) -> None:
    if warm_as_admin:
        at = sign_in_demo("admin")
        at.switch_page("views/overview.py").run()
    at = sign_in_demo("committee")
    at.switch_page("views/overview.py").run()
    assert not at.exception
    assert MARK_ID not in everything(at)


def test_leaders_see_counts_not_households(app_db) -> None:
    at = sign_in_demo("leader")
    at.switch_page("views/overview.py").run()
    text = everything(at)
    assert "按网格汇总" in text
    assert "下载名单" not in text  # no household list for leaders
    assert MARK_ID not in text


def _audit(path: Path) -> dict[str, int]:
    store = ui._open(str(path))
    return dict(store.query("SELECT action, count(*) AS n FROM audit_log GROUP BY action").itertuples(index=False))


def test_each_view_and_write_is_audited_once(app_db) -> None:
    before = _audit(app_db)
    at = sign_in_demo("warden")
    assert _audit(app_db).get("login", 0) == before.get("login", 0) + 1
    at.switch_page("views/my_cells.py").run()
    assert _audit(app_db).get("view_household", 0) == before.get("view_household", 0)  # the map is no card
    at.session_state["warden_tab"] = MY_CELLS_TABS[1]
    at.run()
    views = _audit(app_db).get("view_household", 0)
    assert views == before.get("view_household", 0) + 1  # the card shows the first household
    at.run()  # a rerun of the same card is not a second view
    assert _audit(app_db).get("view_household", 0) == views
    options = at.selectbox(key="card_hh").options
    at.selectbox(key="card_hh").set_value(options[1].split(" · ")[0]).run()
    assert _audit(app_db).get("view_household", 0) == views + 1
    store = ui._open(str(app_db))
    n_visits = store.count("visits")
    at.session_state["warden_tab"] = MY_CELLS_TABS[2]
    at.run()
    at.text_area[0].input("老人身体状况良好")
    next(b for b in at.button if "保存" in b.label).click().run()
    assert not at.exception, at.exception
    assert store.count("visits") == n_visits + 1
    assert _audit(app_db).get("create", 0) == before.get("create", 0) + 1
    at.run()  # a resent page creates nothing more
    assert store.count("visits") == n_visits + 1


def test_sso_accounts_must_be_registered(app_db) -> None:
    from grid.errors import WarmGridError

    store = ui._open(str(app_db))
    with pytest.raises(WarmGridError, match="not registered"):
        ui.sign_in_sso(store, "stranger@example.org")
    user = ui.sign_in_sso(store, "committee")  # a username the provider vouches for
    assert user.role == "committee"


def test_a_user_with_no_scope_sees_zero_households(app_db) -> None:
    from tests.apptools import sign_in

    store = ui._open(str(app_db))
    users.create_user(store, "nobody", "a-long-password", "committee", [])
    at = sign_in("nobody", "a-long-password")
    at.switch_page("views/overview.py").run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["住户 Households"] == "0" and metrics["网格 Cells"] == "0"
    assert MARK_ID not in everything(at)
    at.switch_page("views/campaigns.py").run()
    assert "no area in your scope" in everything(at)
