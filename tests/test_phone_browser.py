"""The warden's page on a phone (390 × 844) in headless Chromium, used one-handed: every tab can
be tapped on first load (nothing lies over it), taps land on targets at least 44 px high, the map
shows one marker per building (as many as SQL counts buildings in the warden's cells), other
layers only on demand, a tapped building lists its households, a tapped row opens the household's
card, and its phone number is a ``tel:`` link.

Screenshots: ``artifacts/warden_phone_1.png`` (the first screen) and ``artifacts/warden_phone_map.png``
(a building tapped).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from grid.demo import DEMO_ACCOUNTS
from grid.store import open_store
from tests.browsing import HEADINGS, app_server, chromium, ensure_chromium, open_session

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
TABS = ["待走访 Due", "户卡 Card", "记日志 Log", "诉求 Needs"]

#: JavaScript: for each tab, its box and whether the element at its centre is the tab itself.
_TABS_JS = """() => Array.from(document.querySelectorAll('[role="tab"]')).map(t => {
  const r = t.getBoundingClientRect(), x = r.left + r.width / 2, y = r.top + r.height / 2;
  const hit = document.elementFromPoint(x, y);
  return {text: t.innerText.trim(), top: r.top, left: r.left, right: r.right, height: r.height,
          on_top: !!hit && (hit === t || t.contains(hit))};
})"""

#: JavaScript: the height of every visible button, tab, link button and select of the page.
_TARGETS_JS = """() => Array.from(document.querySelectorAll(
  '[role="tab"], .stButton button, .stFormSubmitButton button, .stLinkButton a, .react-aria-ComboBox > [role="group"]'))
  .filter(e => e.offsetParent !== null)
  .map(e => [e.matches('.react-aria-ComboBox > *')
              ? 'select ' + ((e.querySelector('[role="combobox"]') || {}).ariaLabel || '')  // react-aria: text in an <input>
              : e.innerText.trim().slice(0, 30), e.getBoundingClientRect().height])"""


@pytest.fixture(scope="module")
def phone(district_file, tmp_path_factory) -> Any:
    """What the warden's phone showed, step by step (the app started once)."""
    problem = ensure_chromium()
    if problem:
        pytest.fail(problem)
    path = tmp_path_factory.mktemp("phone") / "app.duckdb"
    shutil.copyfile(district_file[0], path)
    with open_store(path, read_only=True) as s:
        cells = list(s.scalar("SELECT scope FROM users WHERE username = 'warden'"))
        # Buildings, counted independently of grid.buildings: a cell and the address without its room.
        n_buildings = int(s.scalar(
            "SELECT count(DISTINCT cell_id || '|' || regexp_replace(address, '[0-9]+室$', '')) FROM households"
            " WHERE list_contains(?, cell_id)", [cells]))
        n_households = int(s.scalar("SELECT count(*) FROM households WHERE list_contains(?, cell_id)", [cells]))
        ids = set(s.query("SELECT hh_id FROM households WHERE list_contains(?, cell_id)", [cells])["hh_id"])
    out: dict[str, Any] = {"n_buildings": n_buildings, "n_households": n_households, "ids": ids}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with app_server(path) as server, chromium() as browser, \
            open_session(browser, server.url, width=390, height=844) as s:
        name, password = DEMO_ACCOUNTS["warden"]
        s.sign_in(name, password)
        s.page.locator("h1", has_text=HEADINGS["my_cells"]).first.wait_for(timeout=60_000)
        s.wait_idle()
        (m,) = s.wait_maps(1, min_cells=1, timeout=90)
        s.page.wait_for_timeout(600)
        out["map"] = m
        out["tabs"] = s.page.evaluate(_TABS_JS)
        out["targets"] = s.page.evaluate(_TARGETS_JS)
        out["h1"] = s.page.locator("h1").first.bounding_box()
        s.page.screenshot(path=str(ARTIFACTS / "warden_phone_1.png"))  # the first screen, as the phone shows it
        frame = s.map_frames()[0]
        out["icons"] = frame.evaluate("() => Array.from(document.querySelectorAll('.wg-bldg-icon')).map(e => {"
                                      " const r = e.getBoundingClientRect(), d = e.querySelector('.wg-bldg');"
                                      " return [r.width, r.height, d.dataset.n, d.dataset.status]; })")
        # Tap the busiest building that is due.
        big = frame.evaluate("() => { const all = Array.from(document.querySelectorAll('.wg-bldg'));"
                             " all.sort((a, b) => Number(b.dataset.n) - Number(a.dataset.n));"
                             " return all.length ? all[0].dataset.building : null; }")
        out["tapped"] = big
        # A finger taps where the marker is on screen (no scrolling: the first screen shows it).
        spot = frame.locator(f'.wg-bldg[data-building="{big}"]').first.bounding_box()
        assert spot is not None and 60 < spot["y"] < 844 - 44, spot
        s.page.mouse.click(spot["x"] + spot["width"] / 2, spot["y"] + spot["height"] / 2)
        frame.locator(".wg-bldg-pop").first.wait_for(timeout=10_000)
        out["popup_rows"] = frame.evaluate("() => Array.from(document.querySelectorAll('.wg-bldg-pop li'))"
                                           ".map(li => li.dataset.hh)")
        s.page.locator(".st-key-building_rows").first.wait_for(timeout=30_000)  # the list below the map
        s.wait_idle()
        s.page.wait_for_timeout(600)
        out["panel"] = s.text()
        s.page.screenshot(path=str(ARTIFACTS / "warden_phone_map.png"), full_page=True)
        # Tap the first household of the building's list (the row's selection cell, left of the row).
        grid = s.page.locator('.st-key-building_rows [data-testid="stDataFrameResizable"]').first
        box = grid.bounding_box()
        assert box is not None
        s.page.mouse.click(box["x"] + 12, box["y"] + 44 + 22)
        s.page.get_by_text("家庭成员 Members").first.wait_for(timeout=30_000)
        s.wait_idle()
        # On a loaded machine the card's run may still be drawing: wait for its call button (or fail here).
        s.page.locator('a[href^="tel:"]').first.wait_for(state="attached", timeout=30_000)
        out["tab_html"] = s.page.evaluate("() => Array.from(document.querySelectorAll('[role=\\'tab\\']'))"
                                          ".map(t => t.outerHTML.slice(0, 300))")
        out["card_tab"] = s.page.evaluate("() => Array.from(document.querySelectorAll('[role=\\'tab\\']'))"
                                          ".filter(t => t.getAttribute('aria-selected') === 'true')"
                                          ".map(t => t.innerText.trim())")
        out["tel"] = s.page.evaluate("() => Array.from(document.querySelectorAll('a[href^=\"tel:\"]'))"
                                     ".map(a => [a.getAttribute('href'), a.innerText, a.getBoundingClientRect().height])")
        out["card_targets"] = s.page.evaluate(_TARGETS_JS)
        s.page.screenshot(path=str(ARTIFACTS / "warden_phone_card.png"), full_page=True)
        yield out


def test_every_tab_can_be_tapped_on_first_load(phone) -> None:
    tabs = phone["tabs"]
    assert [t["text"] for t in tabs] == TABS
    for t in tabs:
        assert t["on_top"], f"something lies over the tab {t['text']}"
        assert t["left"] >= 0 and t["right"] <= 390, f"the tab {t['text']} is off screen: {t}"
        assert t["height"] >= 44, t


def test_touch_targets_are_at_least_44_px(phone) -> None:
    for label, h in phone["targets"] + phone["card_targets"]:
        assert h >= 44 - 0.5, f"{label!r} is {h:.0f} px high"
    assert any(label.startswith("select ") for label, _ in phone["targets"] + phone["card_targets"]), \
        "a drop-down list was measured (the check is not vacuous)"
    assert all(w >= 44 and h >= 44 for w, h, _, _ in phone["icons"])  # the building markers too


def test_the_title_is_compact(phone) -> None:
    assert phone["h1"]["height"] <= 60 and phone["h1"]["y"] < 120, phone["h1"]


def test_one_marker_per_building_with_its_households(phone) -> None:
    m = phone["map"]
    assert len(m["pins"]) == phone["n_buildings"] == len(phone["icons"])
    assert sum(int(n) for _, _, n, _ in phone["icons"]) == phone["n_households"]
    listed = [h for pin in m["pins"] for h in re.findall(r'data-hh="(H\d+)"', pin[3])]
    assert len(listed) == phone["n_households"] and set(listed) == phone["ids"]  # each household once
    # The marker's colour is its worst household's status.
    for pin in m["pins"]:
        states = set(re.findall(r'data-hh="H\d+" data-status="(\w+)"', pin[3]))
        worst = "due" if "due" in states else "visited" if "visited" in states else "other"
        assert f'data-status="{worst}"' in pin[2]


def test_other_layers_are_off_until_asked_for(phone) -> None:
    m = phone["map"]
    assert m["circles"] == [] and m["patrols"] == 0
    assert not [ln for ln in m["lines"] if ln[0].get("kind") == "catchment"]
    assert not [mk for mk in m["markers"] if mk[3].get("kind") == "station"]
    overlays = dict(m["overlays"])
    assert any(k.startswith("巡逻区域") for k in overlays) and any(k.startswith("站点") for k in overlays)
    assert all(not shown for k, shown in overlays.items() if not k.startswith(("楼栋", "我的网格"))), overlays
    assert sorted(m["cells"])  # the warden's cells are drawn


def test_a_tapped_building_lists_its_households_and_a_row_opens_the_card(phone) -> None:
    door = phone["tapped"].split("|", 1)[1]
    rows = phone["popup_rows"]
    assert rows and set(rows) <= phone["ids"]
    assert f"{door} · {len(rows)} 户" in phone["panel"]
    assert phone["card_tab"] == ["户卡 Card"], phone["tab_html"]
    (tel,) = phone["tel"]
    assert re.fullmatch(r"tel:\+?\d{5,}", tel[0]) and tel[2] >= 44
