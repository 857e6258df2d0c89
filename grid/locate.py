"""Households located by their address: the register applied to an import, and the review file.

A household file whose rows carry an address and no coordinates is placed through the
standard-address register (the ``addresses`` table, matched by :mod:`grid.geocode`). Rows with
coordinates (or a geometry) keep them; rows that name a register entry (a 地址编码 column) go to
its point; the rest are matched. The import stays all or nothing: a row that no rule places
without doubt goes to review, and the file is refused until every such row is answered.

The review file (``REVIEW.csv``, :func:`write_review`) lists each such row with its candidates
(address, 地址编码, score and point); the user fills in 选定地址编码 — or 经度 and 纬度, in the
import's coordinate system — and imports again with it (:func:`read_review`): answered rows are
placed as chosen (method ``manual``). Its text is made spreadsheet-safe like every export
(:func:`grid.sheetsafe.neutralise_frame`).

Examples
--------
>>> import numpy as np
>>> from grid.sources import Source
>>> from pathlib import Path
>>> reg = geocode.Register(pd.DataFrame({"addr_id": ["A1"], "address": ["中山路12号"], "lon": [118.1], "lat": [24.5]}))
>>> src = Source(Path("roll.csv"), "csv", pd.DataFrame({"户编号": ["H1", "H2"], "地址": ["中山路十二号502室", "无名路1号"]}),
...              np.array([2, 3]))
>>> loc = locate_source(reg, src, {"户编号": "hh_id", "地址": "address"})
>>> loc.counts()["located"], loc.counts()["review"], loc.located["method"].tolist()
(1, 1, ['normalised'])
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from grid import crs as crs_mod
from grid import geocode
from grid.errors import Problem, ValidationError
from grid.sheetsafe import neutralise_frame, restore
from grid.sources import Source, read_source

__all__ = [
    "LOCATE_MODES",
    "Location",
    "load_register",
    "locate_source",
    "review_frame",
    "write_review",
    "read_review",
    "REVIEW_CANDIDATES",
]

#: What ``--locate`` accepts.
LOCATE_MODES = ("address",)
#: Candidates per row in the review file.
REVIEW_CANDIDATES = 3
_LOCATED_COLUMNS = ["i", "row", "hh_id", "address", "lon", "lat", "method", "score", "addr_id"]
_REVIEW_COLUMNS = ["i", "row", "hh_id", "address", "reason_zh", "reason_en", "candidates"]
_CHOSEN, _LON, _LAT = "选定地址编码", "经度", "纬度"


@dataclass
class Location:
    """Where each row of a household file without coordinates goes.

    ``located``: ``i`` (0-based position in the file), ``row`` (the user's row number), ``hh_id``,
    ``address``, ``lon``, ``lat`` (WGS84), ``method``, ``score``, ``addr_id``. ``review``: ``i``, ``row``,
    ``hh_id``, ``address``, ``reason_zh``, ``reason_en``, ``candidates`` (a list of dicts with
    ``addr_id``, ``address``, ``lon``, ``lat``, ``score``). ``problems`` are the review file's own
    (an unknown 地址编码, a household not in the file ...): the import is refused while any remains.
    """

    located: pd.DataFrame
    review: pd.DataFrame
    rows: int
    with_coordinates: int
    register_size: int
    problems: list[Problem] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Rows by outcome (``located`` split by method)."""
        by = self.located["method"].value_counts()
        return {"rows": self.rows, "with_coordinates": self.with_coordinates, "located": len(self.located),
                **{m: int(by.get(m, 0)) for m in ("exact", "normalised", "fuzzy", "manual")},
                "review": len(self.review), "register": self.register_size}

    def as_dict(self) -> dict[str, Any]:
        """The JSON report's part: ``located``, ``review`` and ``counts``."""
        located = [{"hh_id": r.hh_id, "row": int(r.row), "lon": round(float(r.lon), 7), "lat": round(float(r.lat), 7),
                    "method": r.method, "score": None if r.score is None or _nan(r.score) else round(float(r.score), 1),
                    "addr_id": r.addr_id} for r in self.located.itertuples(index=False)]
        review = [{"hh_id": r.hh_id, "row": int(r.row), "address": r.address, "reason": r.reason_zh,
                   "reason_en": r.reason_en, "candidates": list(r.candidates)} for r in self.review.itertuples(index=False)]
        return {"located": located, "review": review, "counts": self.counts()}

    def text(self) -> str:
        """A two-language summary for people."""
        c = self.counts()
        return (f"按地址定位 locate by address: 共 {c['rows']} 行，自带坐标 {c['with_coordinates']}，"
                f"自动定位 {c['exact'] + c['normalised'] + c['fuzzy']}（完全一致 {c['exact']}，规范化 {c['normalised']}，"
                f"模糊 {c['fuzzy']}），人工确认 {c['manual']}，待确认 {c['review']}"
                f" · {c['rows']} rows: {c['with_coordinates']} with coordinates, "
                f"{c['exact'] + c['normalised'] + c['fuzzy']} located automatically, {c['manual']} chosen in review, "
                f"{c['review']} to review")

    def points(self) -> dict[int, tuple[float, float, str, float | None, str | None]]:
        """``{i: (lon, lat, method, score, addr_id)}`` for :func:`grid.ingest.validate`."""
        return {int(r.i): (float(r.lon), float(r.lat), str(r.method), None if r.score is None or _nan(r.score)
                           else float(r.score), r.addr_id if isinstance(r.addr_id, str) else None)
                for r in self.located.itertuples(index=False)}

    def pending(self) -> dict[int, tuple[str, str]]:
        """``{i: (zh, en)}``: why each row to review is not placed."""
        return {int(r.i): (str(r.reason_zh), str(r.reason_en)) for r in self.review.itertuples(index=False)}


def _nan(v: Any) -> bool:
    return isinstance(v, float) and math.isnan(v)


def _blank(v: Any) -> bool:
    return v is None or _nan(v) or v is pd.NaT or (isinstance(v, str) and not v.strip())


# --------------------------------------------------------------------------- the register
_REGISTERS: dict[tuple[str, int, int], geocode.Register] = {}


def load_register(store: Any) -> geocode.Register:
    """The store's address register, indexed (kept per database and data generation)."""
    key = (str(store.path), id(store._owner or store), store.generation)
    got = _REGISTERS.get(key)
    if got is None:
        frame = store.query_flat("SELECT addr_id, address, ST_X(geom) AS lon, ST_Y(geom) AS lat, community_code"
                                 " FROM addresses ORDER BY addr_id")
        units = store.query_flat("SELECT code, name, level, parent_code FROM admin_units")
        got = geocode.Register(frame, units)
        _REGISTERS.clear()
        _REGISTERS[key] = got
    return got


# --------------------------------------------------------------------------- locating a file
def locate_source(register: geocode.Register, source: Source, mapping: dict[str, str], *, crs: str | None = None,
                  answers: pd.DataFrame | None = None, answers_crs: str | None = None,
                  threshold: float = geocode.DEFAULT_THRESHOLD, margin: float = geocode.DEFAULT_MARGIN) -> Location:
    """Locate the rows of a household file that have no coordinates.

    Parameters
    ----------
    register : geocode.Register
        The address register (:func:`load_register`).
    source, mapping
        The file as read and its header mapping (``{column: field}``).
    crs : str, optional
        The file's coordinate system: the review answers' coordinates are in it too.
    answers : DataFrame, optional
        The filled review file (:func:`read_review`).
    answers_crs : str, optional
        The answers' coordinate system, when not the file's (the data page's clicks are WGS84).
    threshold, margin
        The automatic match's least score and the gap a rival at another point must leave
        (:meth:`grid.geocode.Register.match`).
    """
    by_field = {f: c for c, f in mapping.items() if f}
    frame = source.frame
    n = len(frame)

    def col(name: str) -> list[Any]:
        c = by_field.get(name)
        return frame[c].tolist() if c is not None else [None] * n

    lons, lats, addrs, hhs, codes = col("lon"), col("lat"), col("address"), col("hh_id"), col("addr_id")
    geoms = source.geoms or [None] * n
    rows = source.rows
    crs_code = crs_mod.parse_crs(crs) if crs else (source.file_crs or "wgs84")
    chosen, problems = _answers(register, answers, {str(h).strip(): i for i, h in enumerate(hhs) if not _blank(h)},
                                crs_mod.parse_crs(answers_crs) if answers_crs else crs_code)
    ids = {str(a): i for i, a in enumerate(register.addr_id)}
    located: list[dict[str, Any]] = []
    review: list[dict[str, Any]] = []
    with_coords = 0
    for i in range(n):
        if geoms[i] is not None or not (_blank(lons[i]) and _blank(lats[i])):
            with_coords += 1
            continue
        hh = None if _blank(hhs[i]) else str(hhs[i]).strip()
        addr = None if _blank(addrs[i]) else restore(str(addrs[i]).strip())
        base = {"i": i, "row": int(rows[i]), "hh_id": hh, "address": addr}
        if i in chosen:
            located.append({**base, **chosen[i]})
            continue
        code = None if _blank(codes[i]) else str(codes[i]).strip()
        if code is not None:
            k = ids.get(code)
            if k is not None and np.isfinite(register.lon[k]) and np.isfinite(register.lat[k]):
                located.append({**base, "lon": float(register.lon[k]), "lat": float(register.lat[k]),
                                "method": "exact", "score": 100.0, "addr_id": code})
            else:
                review.append({**base, "reason_zh": f"地址编码 {code} 不在标准地址中或没有坐标",
                               "reason_en": f"the address id {code} is not in the register or has no point",
                               "candidates": []})
            continue
        if addr is None:
            continue  # the address is required: validation says so
        m = register.match(addr, threshold=threshold, margin=margin)
        if m.status == "located":
            located.append({**base, "lon": m.lon, "lat": m.lat, "method": m.method, "score": m.score,
                            "addr_id": m.addr_id})
        else:
            review.append({**base, "reason_zh": m.reason_zh, "reason_en": m.reason_en,
                           "candidates": [c.as_dict() for c in m.candidates]})
    return Location(pd.DataFrame(located, columns=_LOCATED_COLUMNS), pd.DataFrame(review, columns=_REVIEW_COLUMNS),
                    n, with_coords, len(register), problems)


def _answers(register: geocode.Register, answers: pd.DataFrame | None, position: dict[str, int], crs_code: str
             ) -> tuple[dict[int, dict[str, Any]], list[Problem]]:
    """The review file's answers as placements (``{i: {...}}``), and its problems."""
    if answers is None or not len(answers):
        return {}, []
    ids = {str(a): i for i, a in enumerate(register.addr_id)}
    out: dict[int, dict[str, Any]] = {}
    problems: list[Problem] = []
    for r in answers.itertuples(index=False):
        where, row = str(r.file), int(r.row)
        hh = str(r.hh_id).strip() if not _blank(r.hh_id) else ""
        code = None if _blank(r.addr_id) else str(r.addr_id).strip()
        has_xy = not (_blank(r.lon) and _blank(r.lat))
        if not hh:
            problems.append(Problem(where, row, "户编号", "", "户编号为空", "the household id is empty"))
            continue
        i = position.get(hh)
        if i is None:
            problems.append(Problem(where, row, "户编号", hh, "住户文件中没有这一户", "no such household in the file"))
            continue
        if code is None and not has_xy:
            continue  # not answered yet: the row stays in review
        if code is not None and has_xy:
            problems.append(Problem(where, row, _CHOSEN, code, "请只填写选定地址编码或经纬度之一",
                                    "fill in either the chosen address id or the coordinates, not both"))
            continue
        if code is not None:
            k = ids.get(code)
            if k is None:
                problems.append(Problem(where, row, _CHOSEN, code, "标准地址中没有这个地址编码",
                                        "no such address id in the register"))
                continue
            if not (np.isfinite(register.lon[k]) and np.isfinite(register.lat[k])):
                problems.append(Problem(where, row, _CHOSEN, code, "这个标准地址没有坐标，请改填经纬度",
                                        "this register entry has no point: give coordinates instead"))
                continue
            out[i] = {"lon": float(register.lon[k]), "lat": float(register.lat[k]), "method": "manual",
                      "score": None, "addr_id": code}
            continue
        try:
            x, y = float(str(r.lon).strip()), float(str(r.lat).strip())
        except ValueError:
            problems.append(Problem(where, row, f"{_LON}/{_LAT}", f"{r.lon}, {r.lat}", "经纬度不是数字",
                                    "the coordinates are not numbers"))
            continue
        if not (math.isfinite(x) and math.isfinite(y)):
            problems.append(Problem(where, row, f"{_LON}/{_LAT}", f"{x}, {y}", "经纬度须为有限数字",
                                    "the coordinates must be finite numbers"))
            continue
        lon, lat = crs_mod.to_wgs84(np.array([x]), np.array([y]), crs_code)
        if not (73.0 <= float(lon[0]) <= 135.5 and 17.5 <= float(lat[0]) <= 53.6):
            problems.append(Problem(where, row, f"{_LON}/{_LAT}", f"{x}, {y}", "坐标不在中国大陆范围内",
                                    "the point is outside mainland China"))
            continue
        out[i] = {"lon": float(lon[0]), "lat": float(lat[0]), "method": "manual", "score": None, "addr_id": None}
    return out, problems


# --------------------------------------------------------------------------- the review file
def review_frame(location: Location, *, crs: str = "wgs84", candidates: int = REVIEW_CANDIDATES) -> pd.DataFrame:
    """The rows to review as a table to fill in: the row, household, address, reason, up to
    ``candidates`` candidates (address, 地址编码, score, point in ``crs``), and the blank columns
    选定地址编码, 经度, 纬度.

    >>> loc = Location(pd.DataFrame(columns=_LOCATED_COLUMNS), pd.DataFrame([{"i": 0, "row": 2, "hh_id": "H1",
    ...     "address": "=中山路1号", "reason_zh": "无", "reason_en": "none", "candidates": [{"addr_id": "A1",
    ...     "address": "中山路1号", "lon": 118.1, "lat": 24.5, "score": 80.0}]}]), 1, 0, 1)
    >>> f = review_frame(loc)
    >>> f.iloc[0]["地址"], f.iloc[0]["候选1地址编码"], list(f.columns[-3:])
    ('=中山路1号', 'A1', ['选定地址编码', '经度', '纬度'])
    """
    crs_code = crs_mod.parse_crs(crs)
    out: list[dict[str, Any]] = []
    for r in location.review.itertuples(index=False):
        rec: dict[str, Any] = {"行号": int(r.row), "户编号": r.hh_id, "地址": r.address, "原因": r.reason_zh,
                               "reason": r.reason_en}
        for k in range(candidates):
            c = r.candidates[k] if k < len(r.candidates) else None
            x = y = None
            if c is not None and c["lon"] is not None:
                xs, ys = crs_mod.from_wgs84(np.array([c["lon"]]), np.array([c["lat"]]), crs_code)
                x, y = round(float(xs[0]), 7), round(float(ys[0]), 7)
            rec[f"候选{k + 1}地址"] = None if c is None else c["address"]
            rec[f"候选{k + 1}地址编码"] = None if c is None else c["addr_id"]
            rec[f"候选{k + 1}得分"] = None if c is None else c["score"]
            rec[f"候选{k + 1}经度"] = x
            rec[f"候选{k + 1}纬度"] = y
        rec[_CHOSEN] = None
        rec[_LON] = None
        rec[_LAT] = None
        out.append(rec)
    cols = ["行号", "户编号", "地址", "原因", "reason"] + [f"候选{k + 1}{w}" for k in range(candidates)
                                                     for w in ("地址", "地址编码", "得分", "经度", "纬度")]
    return pd.DataFrame(out, columns=[*cols, _CHOSEN, _LON, _LAT])


def write_review(path: str | Path, location: Location, *, crs: str = "wgs84") -> Path:
    """Write the review file (CSV, UTF-8 with BOM so that Excel and WPS open it; spreadsheet-safe), whole or not at all."""
    from grid.files import replace_atomically

    frame = neutralise_frame(review_frame(location, crs=crs))
    return replace_atomically(path, lambda tmp: frame.to_csv(tmp, index=False, encoding="utf-8-sig",
                                                             lineterminator="\r\n"))


def read_review(path: str | Path) -> pd.DataFrame:
    """Read a filled review file: ``file``, ``row`` (its spreadsheet row), ``hh_id``, ``addr_id``, ``lon``, ``lat``.

    Raises
    ------
    ValidationError
        When the file lacks the 户编号 column or every answer column.
    """
    src = read_source(path)
    return review_answers(src)


def review_answers(src: Source) -> pd.DataFrame:
    """:func:`read_review` for a file already read (the data page's upload)."""
    cols = {_key(c): c for c in src.frame.columns}
    hh = cols.get("户编号") or cols.get("hhid")
    chosen = cols.get(_CHOSEN) or cols.get("addrid")
    lon, lat = cols.get(_LON) or cols.get("lon"), cols.get(_LAT) or cols.get("lat")
    if hh is None or (chosen is None and (lon is None or lat is None)):
        raise ValidationError([Problem(src.name, None, "户编号/选定地址编码", "",
                                       "确认文件须有“户编号”列，以及“选定地址编码”或“经度”“纬度”列",
                                       "a review file needs the household id column and the chosen address id "
                                       "or the longitude and latitude columns")])
    n = len(src.frame)

    def values(c: str | None) -> list[Any]:
        if c is None:
            return [None] * n
        return [restore(v) if isinstance(v, str) else v for v in src.frame[c].tolist()]

    return pd.DataFrame({"file": src.name, "row": src.rows.astype(int), "hh_id": values(hh),
                         "addr_id": values(chosen), "lon": values(lon), "lat": values(lat)})


def _key(header: Any) -> str:
    return "".join(ch for ch in str(header).strip().lower() if ch not in " _-")

