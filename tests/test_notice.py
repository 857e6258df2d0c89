"""The public notice list (公示名单): masked names only, the amounts and dates, where to object; an A4
PDF whose text has the masked names and amounts and never a full name; an XLSX without a formula
cell whatever the names hold; the access policy and one export audit row."""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook

from grid.access import cells_in_scope
from grid.errors import AccessDenied, WarmGridError
from grid.masking import mask_name
from grid.notice import notice_bytes, notice_file, notice_list
from grid.store import Store, open_store
from tests.actors import EVERYTHING, OP, as_role, as_warden
from tests.test_exports import formula_cells, guarded


def pdf_text(path: Path) -> str:
    """The text of a PDF: poppler's pdftotext where installed, else the bulletin tests' reader of fpdf2's PDFs."""
    exe = shutil.which("pdftotext")
    if exe is not None:
        return subprocess.run([exe, "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True,
                              timeout=60).stdout.decode("utf-8")
    from tests.test_reports import _pdf_text_fallback

    return _pdf_text_fallback(path.read_bytes())


@pytest.fixture()
def copy(district_file, tmp_path) -> Iterator[Store]:
    path = tmp_path / "notice.duckdb"
    shutil.copyfile(district_file[0], path)
    s = open_store(path)
    yield s
    s.close()


def _busiest(store: Store) -> str:
    return str(store.scalar("SELECT unit_code FROM applications WHERE status = 'on_notice' AND programme = 'qnwj'"
                            " GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"))


def _listed(store: Store, community: str) -> list[tuple[str, str, float]]:
    rows = store.query("SELECT a.app_id, h.head_name, a.amount_yuan::DOUBLE AS a FROM applications a JOIN households h"
                       " USING (hh_id) WHERE a.unit_code = ? AND a.programme = 'qnwj' AND a.status = 'on_notice'"
                       " ORDER BY a.notice_starts_on, a.app_id", [community])
    return list(rows.itertuples(index=False, name=None))


def test_the_list_is_the_communitys_applications_on_notice_with_masked_names(store: Store) -> None:
    community = _busiest(store)
    want = _listed(store, community)
    n = notice_list(store, EVERYTHING, community, "qnwj", issued_on=date(2026, 11, 15))
    assert n.rows["app_id"].tolist() == [w[0] for w in want] and len(want) >= 2
    assert n.rows["name"].tolist() == [mask_name(w[1]) for w in want]
    assert all("*" in name for name in n.rows["name"])
    assert n.rows["amount_yuan"].tolist() == [w[2] for w in want]
    assert n.total_yuan == sum(w[2] for w in want)
    name = str(store.scalar("SELECT name FROM admin_units WHERE code = ?", [community]))
    assert n.title == f"{name}“情暖万家”救助对象公示" and set(n.rows["community"]) == {name}
    assert "2026年11月10日至2026年11月16日（7天）" in n.intro and set(n.rows["period"]) == {
        "2026年11月10日至2026年11月16日（7天）"}
    assert "异议" in n.contact and name in n.contact
    assert n.rows["no"].tolist() == list(range(1, len(want) + 1))
    # Only the notices running on a day; none on notice: nothing to post.
    assert len(notice_list(store, EVERYTHING, community, "qnwj", as_of=date(2026, 11, 16)).rows) == len(want)
    with pytest.raises(WarmGridError, match="nothing to post"):
        notice_list(store, EVERYTHING, community, "qnwj", as_of=date(2026, 11, 17))
    with pytest.raises(WarmGridError, match="no such programme"):
        notice_list(store, EVERYTHING, community, "none")
    with pytest.raises(WarmGridError, match="not a known community"):
        notice_list(store, EVERYTHING, "350203000000", "qnwj")


def test_the_pdf_shows_masked_names_and_amounts_and_never_a_full_name(copy: Store, tmp_path: Path) -> None:
    community = _busiest(copy)
    want = _listed(copy, community)
    out = tmp_path / "公示.pdf"
    audits = copy.count("audit_log")
    assert notice_file(copy, OP, community, "qnwj", out) == []
    data = out.read_bytes()
    assert data.startswith(b"%PDF") and b"/FontFile" in data
    text = pdf_text(out)
    flat = "".join(text.split())
    assert "救助对象公示" in flat and "监督方式" in flat and "第1页/共1页" in flat
    for app_id, full, amount in want:
        assert mask_name(full) in flat and app_id in flat and f"{amount:,.2f}" in flat
        assert full not in flat, full
    assert f"{sum(w[2] for w in want):,.2f}" in flat
    log = copy.query("SELECT username, action, object, row_count, scope FROM audit_log ORDER BY log_id DESC LIMIT 1")
    assert copy.count("audit_log") == audits + 1
    assert log.iloc[0][["username", "action", "object", "row_count"]].tolist() == [
        OP.name, "export", f"notice_list:{community}:qnwj.pdf", len(want)]


def test_the_workbook_is_a4_and_carries_no_formula_whatever_the_names_hold(copy: Store, tmp_path: Path) -> None:
    community = _busiest(copy)
    first = _listed(copy, community)[0][0]
    with copy.transaction() as cur:  # hostile text where the sheet prints it (a test set-up)
        cur.execute("UPDATE households SET head_name = '=HYPERLINK(\"http://example.org\",\"x\")' WHERE hh_id ="
                    " (SELECT hh_id FROM applications WHERE app_id = ?)", [first])
        cur.execute("UPDATE admin_units SET name = '=1+1社区' WHERE code = ?", [community])
        cur.execute("UPDATE applications SET notice_contact = '+1 请致电' WHERE unit_code = ?", [community])
    data = notice_bytes(copy, OP, community, "qnwj", ".xlsx")
    assert formula_cells(data) == []
    assert guarded(data, ".xlsx") >= 3  # the guard is there: the payloads reached the sheet
    ws = load_workbook(io.BytesIO(data)).active
    assert ws is not None
    assert str(ws.page_setup.paperSize) == "9" and ws.page_setup.orientation == "portrait"
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    values = [c for row in ws.iter_rows(values_only=True) for c in row if c is not None]
    payload = '=HYPERLINK("http://example.org","x")'
    assert "'" + str(mask_name(payload)) in values  # the masked payload, guarded
    assert not any(isinstance(v, str) and "HYPERLINK" in v for v in values)


def test_who_may_print_it(copy: Store, tmp_path: Path) -> None:
    community = _busiest(copy)
    street = str(copy.scalar("SELECT parent_code FROM admin_units WHERE code = ?", [community]))
    other = str(copy.scalar("SELECT min(code) FROM admin_units WHERE level = 'street' AND code <> ?", [street]))
    mine = sorted(cells_in_scope(copy, [street]))
    assert notice_file(copy, as_role("committee", mine), community, "qnwj", tmp_path / "a.xlsx") == []
    denied = copy.count("audit_log")
    with pytest.raises(AccessDenied):
        notice_file(copy, as_role("committee", sorted(cells_in_scope(copy, [other]))), community, "qnwj",
                    tmp_path / "b.xlsx")
    with pytest.raises(AccessDenied):
        notice_file(copy, as_warden(mine), community, "qnwj", tmp_path / "c.xlsx")
    with pytest.raises(AccessDenied):
        notice_file(copy, as_role("leader", mine), community, "qnwj", tmp_path / "d.pdf")
    assert not (tmp_path / "b.xlsx").exists() and not (tmp_path / "c.xlsx").exists()
    assert copy.count("audit_log") >= denied + 2  # the role's refusals are audited
    with pytest.raises(WarmGridError, match=r"\.pdf or \.xlsx"):
        notice_file(copy, OP, community, "qnwj", tmp_path / "e.csv")
