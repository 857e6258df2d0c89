"""The one dictionary of labels (grid.labels): every column of the store and of the analyses the
pages show has a Chinese label, codes read as words, and the pages' own wordings agree with it."""

from __future__ import annotations

import pandas as pd

from grid import labels, model
from grid.assistance import MEASURE_COLUMNS
from grid.audit import AUDIT_ACTIONS
from grid.store import TABLES, Store


def _cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def test_every_column_of_every_table_has_a_chinese_label(store: Store) -> None:
    cols = store.query("SELECT DISTINCT column_name FROM duckdb_columns() WHERE database_name = current_database()"
                       " AND list_contains(?, table_name)",
                       [list(TABLES)])["column_name"]
    missing = sorted(set(cols) - set(labels.COLUMNS))
    assert missing == []
    assert all(_cjk(zh) and en and "_" not in en for zh, en in labels.COLUMNS.values())
    assert set(labels.TABLES) == set(TABLES) and all(_cjk(v) for v in labels.TABLES.values())


def test_the_analyses_columns_have_labels(store: Store) -> None:
    from grid.access import Scope
    from grid.campaigns import audit_campaign, campaign_frames

    district = str(store.scalar("SELECT code FROM admin_units WHERE level = 'district'"))
    data = campaign_frames(store, "C2026W", district, scope=Scope.everything())
    au = audit_campaign(data.targets, data.visits, data.assistance)
    shown = [*MEASURE_COLUMNS, *au.by_community.columns, *au.by_street.columns,
             "visitor_id", "name", "planned", "visited", "remaining", "share", "seq", "leg_m"]
    assert sorted(set(shown) - set(labels.COLUMNS)) == []
    headers = labels.labelled(au.by_community).columns
    assert all(_cjk(h) for h in headers)


def test_codes_read_as_words() -> None:
    assert all(_cjk(labels.value(a)) for a in AUDIT_ACTIONS)
    assert all(_cjk(labels.value(r)) for r in model.USER_ROLES)
    assert labels.value("goods") == model.AID_KINDS["goods"].zh
    frame = pd.DataFrame({"kind": ["cash", "goods"], "leg_m": [548.8304, 12.5], "action": ["export", "login"],
                          "disabled": [True, False], "categories": [["tekun", "disabled"], []]})
    out = labels.labelled(frame)
    assert list(out.columns) == ["方式", "路段长度（米）", "操作", "已停用", "困难类别"]
    assert out.to_dict("list") == {"方式": ["慰问金", "物资"], "路段长度（米）": [549, 12], "操作": ["导出", "登录"],
                                   "已停用": ["是", "否"], "困难类别": [f"{model.label('tekun')}、{model.label('disabled')}", ""]}
