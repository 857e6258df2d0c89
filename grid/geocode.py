"""Offline address matching against the standard-address register (一标三实).

A household roll carries addresses written the ways people write them: with or without
福建省厦门市思明区 and the street and community, full-width digits, 十二号 for 12号, 12号楼 / 12幢 /
12座 for 12栋, 室 / 房 / 户 or nothing after the room number, stray spaces. This module turns
both sides — the register's standard addresses and the roll's — into the same components and
matches them, with nothing placed by guesswork:

1. :func:`parse` normalises a text (NFKC full to half width; spaces and punctuation out; Chinese
   numerals before 号, 栋, 单元, 室 ... through cn2an; the synonyms of 栋 and 室) and splits it
   into the administrative prefix (province, city, district, street, community), the place (a
   road, a 里 or a 小区), the door number (号), the building (栋), the entrance (单元) and the
   room. The room and the floor never move a point: a household is placed at its building or
   door number.
2. :class:`Register` indexes the register's entries by their text, by their components and by
   number. :meth:`Register.match` tries, in order: **exact** (the text without the room is a
   register address), **normalised** (the same components, and no administrative prefix that
   both sides give disagrees), then **fuzzy** (the same numbers and a place that rapidfuzz scores
   close). A match is accepted only when its score reaches ``threshold`` and no candidate at
   another point (more than :data:`SAME_POINT_M` away) comes within ``margin`` of it; everything
   else goes to review with its best candidates. An address without a door or building number
   always goes to review.

The functions are pure (frames and strings in, results out); :mod:`grid.locate` applies them
to an import.

Examples
--------
>>> p = parse("福建省厦门市思明区嘉莲街道莲花社区 莲花新村十二号楼２单元502")
>>> (p.place, p.door, p.building, p.entrance, p.room), p.admin["community"]
(('莲花新村', None, '12', '2', '502'), '莲花')
>>> reg = Register(pd.DataFrame({"addr_id": ["A1", "A2"], "address": ["莲花社区莲花新村12栋", "镇海社区中山路3号"],
...                              "lon": [118.1, 118.2], "lat": [24.5, 24.5]}))
>>> m = reg.match("莲花新村12号楼502室")
>>> m.status, m.method, m.addr_id, m.score
('located', 'normalised', 'A1', 100.0)
>>> reg.match("中山路4号").status
'review'
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "DEFAULT_THRESHOLD",
    "DEFAULT_MARGIN",
    "SAME_POINT_M",
    "Parsed",
    "Candidate",
    "Match",
    "parse",
    "admin_key",
    "Register",
]

#: Least score (0-100) at which a match is accepted without review (a setting: ``--threshold``).
DEFAULT_THRESHOLD = 90.0
#: A second candidate at another point within this many points of the best sends the row to review.
DEFAULT_MARGIN = 5.0
#: Candidates closer than this (metres) are one place.
SAME_POINT_M = 5.0
#: Candidates kept for review.
MAX_CANDIDATES = 5

_NUMERALS = "零〇一二两三四五六七八九十百千"
#: Punctuation and spaces (after NFKC): removed. A dash between two numbers becomes 之 (12-3号 is not 123号).
_PUNCT = re.compile(r"[\s,.;:!?'\"`()\[\]{}<>|\\/_~*+=#&^%$@、，。；：！？“”‘’（）【】《》〈〉「」『』〔〕·・•…—–\u3000]+")
_BRACKETED = re.compile(r"\([^()]*\)|\[[^\[\]]*\]|【[^【】]*】")
_DASH = re.compile(r"(?<=[0-9])[-－—–~～](?=[0-9])")
_CN_NUMBER = re.compile(rf"[{_NUMERALS}]+(?=号|栋|幢|座|单元|室|房|户|楼|层|弄|巷)")
_CN_ROOM = re.compile(rf"(?<=[号栋幢座元层楼室])[{_NUMERALS}]+$")  # a room at the end: 二单元五〇二
_PLACE_NUMERAL = re.compile(rf"[{_NUMERALS}]+")
_SYNONYMS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?<=[0-9A-Z])(?:号楼|号栋|号幢|号座|幢|座|栋楼|栋)"), "栋"),
    (re.compile(r"(?<=[0-9])(?:号房|号室|室|房|户)"), "室"),
    (re.compile(r"(?<=[0-9])单元"), "单元"),
    (re.compile(r"(?<=[0-9])(?:层|楼)(?=[0-9])"), "层"),  # 5楼502 / 5层502: the floor, before the room
)
#: Leading administrative names: (level, pattern). Generic, so that names the register leaves out are known too.
_NAME = r"(?:(?!社区|居委会|村委会|小区|路|街|巷|弄|号)[\u4e00-\u9fff])"
_ADMIN: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("province", re.compile(rf"^(?P<name>{_NAME}{{2,8}}?)(?:省|自治区|特别行政区)")),
    ("city", re.compile(rf"^(?P<name>{_NAME}{{2,8}}?)市(?!场)")),
    ("district", re.compile(rf"^(?P<name>{_NAME}{{2,6}}?)(?<![小社园校景院苑片厂])(?:区|县)(?=.)")),
    ("street", re.compile(rf"^(?:(?P<name>{_NAME}{{1,8}}?)(?:街道办事处|街道办|街道)|(?P<town>{_NAME}{{2,8}}?)(?:镇|乡))(?=.)")),
    ("community", re.compile(rf"^(?P<name>{_NAME}{{1,8}}?)(?:社区居民委员会|社区居委会|社区|居民委员会|居委会|"
                             r"村民委员会|村委会)(?=.)")),
)
_LEVELS = ("province", "city", "district", "street", "community")
_TAIL = re.compile(r"^(?P<place>.*?)(?:(?P<door>[0-9]+[A-Z]?)号)?(?:(?P<building>[0-9]+[A-Z]?|[A-Z])栋)?"
                   r"(?:(?P<entrance>[0-9]+)单元)?(?:(?P<floor>[0-9]+)层)?(?:(?P<room>[0-9]+[A-Z]?)室?)?$")
_ESTATE_SUFFIX = re.compile(r"(?<=..)小区$")


@lru_cache(maxsize=4096)
def _arabic(run: str) -> str:
    """A run of Chinese numerals as digits (十二 → 12, 五〇二 → 502, through cn2an); itself if not a number."""
    import cn2an

    try:
        return str(int(cn2an.cn2an(run, "smart")))
    except (ValueError, TypeError, KeyError, IndexError):
        return run


def _clean(text: str) -> str:
    """NFKC, upper case, no spaces or punctuation, numerals before address words as digits, synonyms unified."""
    s = unicodedata.normalize("NFKC", str(text)).upper()
    s = _BRACKETED.sub("", s)  # a note in brackets: 中山路12号（原8号）
    s = _DASH.sub("之", s)
    s = _PUNCT.sub("", s)
    s = _CN_NUMBER.sub(lambda m: _arabic(m.group(0)), s)
    s = _CN_ROOM.sub(lambda m: _arabic(m.group(0)), s)
    for pattern, repl in _SYNONYMS:
        s = pattern.sub(repl, s)
    return s


def _lite(text: str) -> str:
    """The text as an exact match compares it: NFKC, upper case, without spaces."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text)).upper())


def admin_key(name: str) -> str:
    """An administrative name as prefixes compare it: without brackets, punctuation and its level word.

    >>> admin_key("思明区（演示）"), admin_key("嘉莲街道"), admin_key("莲花社区居委会")
    ('思明', '嘉莲', '莲花')
    """
    s = unicodedata.normalize("NFKC", str(name))
    s = re.sub(r"\([^)]*\)", "", s)
    s = _PUNCT.sub("", s)
    return re.sub(r"(省|自治区|市|区|县|街道办事处|街道办|街道|镇|乡|社区居民委员会|社区居委会|社区|居民委员会|居委会|"
                  r"村民委员会|村委会)$", "", s) or s


def _place_key(place: str) -> str:
    """The place as components compare it: numerals as digits (莲花五村 = 莲花5村), 小区 dropped."""
    s = _PLACE_NUMERAL.sub(lambda m: _arabic(m.group(0)), place)
    return _ESTATE_SUFFIX.sub("", s)


@dataclass(frozen=True)
class Parsed:
    """An address in components (:func:`parse`). ``admin`` maps level → name key (:func:`admin_key`)."""

    text: str
    admin: dict[str, str]
    place: str
    door: str | None
    building: str | None
    entrance: str | None
    room: str | None
    lite: str  # the text for an exact match: NFKC, no spaces, the room left out

    @property
    def number(self) -> str | None:
        """The door or building number: what places the household."""
        return self.door or self.building

    def key(self, *, entrance: bool = True) -> str:
        """The components as one string (the room and the floor left out)."""
        return f"{_place_key(self.place)}|{self.door or ''}|{self.building or ''}|{(self.entrance or '') if entrance else ''}"


def parse(text: str) -> Parsed:
    """Normalise an address and split it into its components.

    Examples
    --------
    >>> p = parse("厦门市思明区中山路１２号 502室")
    >>> p.admin, p.place, p.door, p.room
    ({'city': '厦门', 'district': '思明'}, '中山路', '12', '502')
    >>> parse("莲花五村龙昌里十二号之三").door is None   # 12号之3 is not 12号
    True
    """
    s = _clean(text)
    admin: dict[str, str] = {}
    for level, pattern in _ADMIN:
        m = pattern.match(s)
        if m is not None:
            admin[level] = m.group("name") or m.group("town") if level == "street" else m.group("name")
            s = s[m.end():]
    m = _TAIL.match(s)
    assert m is not None  # every group is optional: the pattern matches any text
    place = m.group("place")
    lite = _lite(text)
    room = m.group("room")
    if room is not None:  # the exact text without the room (and its 室 / 房 / 户)
        lite = re.sub(r"[0-9０-９零〇一二两三四五六七八九十百]+(?:室|房|户|號房)?$", "", lite)
        lite = re.sub(r"[0-9０-９零〇一二两三四五六七八九十]+(?:楼|层)$", "", lite)
    return Parsed(text=str(text), admin=admin, place=place, door=m.group("door"), building=m.group("building"),
                  entrance=m.group("entrance"), room=room, lite=lite)


@dataclass(frozen=True)
class Candidate:
    """A register entry offered for an address, with its score (0-100)."""

    addr_id: str
    address: str
    lon: float | None
    lat: float | None
    score: float

    def as_dict(self) -> dict[str, Any]:
        return {"addr_id": self.addr_id, "address": self.address, "lon": self.lon, "lat": self.lat,
                "score": round(self.score, 1)}


@dataclass(frozen=True)
class Match:
    """The outcome for one address: ``located`` (with method, entry, point and score) or ``review``."""

    status: str  # "located" | "review"
    method: str | None = None  # "exact" | "normalised" | "fuzzy"
    addr_id: str | None = None
    lon: float | None = None
    lat: float | None = None
    score: float | None = None
    reason_zh: str = ""
    reason_en: str = ""
    candidates: tuple[Candidate, ...] = field(default_factory=tuple)


def _m_apart(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    dy = (lat2 - lat1) * 110_574.0
    dx = (lon2 - lon1) * 111_320.0 * math.cos(math.radians((lat1 + lat2) / 2))
    return math.hypot(dx, dy)


class Register:
    """The standard-address register, indexed for matching.

    Parameters
    ----------
    frame : DataFrame
        ``addr_id``, ``address``, ``lon``, ``lat`` (WGS84; NaN where the entry has no point), and
        optionally ``community_code``.
    units : DataFrame, optional
        ``admin_units`` (``code``, ``name``, ``level``, ``parent_code``): an entry's community,
        street and district from its ``community_code``, for the prefix check.
    """

    def __init__(self, frame: pd.DataFrame, units: pd.DataFrame | None = None) -> None:
        n = len(frame)
        self.addr_id = frame["addr_id"].astype(str).to_numpy(dtype=object)
        self.address = frame["address"].astype(str).to_numpy(dtype=object)
        self.lon = pd.to_numeric(frame["lon"], errors="coerce").to_numpy(dtype=float) if n else np.zeros(0)
        self.lat = pd.to_numeric(frame["lat"], errors="coerce").to_numpy(dtype=float) if n else np.zeros(0)
        codes = frame["community_code"].tolist() if "community_code" in frame else [None] * n
        chain = _admin_chains(units)
        self.parsed: list[Parsed] = []
        self.place_keys: list[str] = []
        self.admin: list[dict[str, str]] = []
        self.by_lite: dict[str, list[int]] = {}
        self.by_key: dict[str, list[int]] = {}
        self.by_number: dict[str, list[int]] = {}
        self.by_place: dict[str, list[int]] = {}
        for i, text in enumerate(self.address):
            p = parse(text)
            self.parsed.append(p)
            self.place_keys.append(_place_key(p.place))
            code = codes[i]
            known = dict(chain.get(code, {})) if isinstance(code, str) else {}
            known.update(p.admin)  # the address's own words win over its code's
            self.admin.append(known)
            self.by_lite.setdefault(p.lite, []).append(i)
            self.by_key.setdefault(p.key(), []).append(i)
            if p.number is not None:
                self.by_number.setdefault(p.number, []).append(i)
            self.by_place.setdefault(self.place_keys[i], []).append(i)
        self.places = [k for k in self.by_place if k]
        self._cache: dict[tuple[str, str | None, float, float], Match] = {}

    def __len__(self) -> int:
        return len(self.addr_id)

    # ------------------------------------------------------------------ helpers
    def _candidate(self, i: int, score: float) -> Candidate:
        lon, lat = self.lon[i], self.lat[i]
        ok = bool(np.isfinite(lon) and np.isfinite(lat))
        return Candidate(str(self.addr_id[i]), str(self.address[i]), float(lon) if ok else None,
                         float(lat) if ok else None, float(score))

    def _conflicts(self, q: Parsed, i: int, community: str | None) -> bool:
        """Whether an administrative name both sides give disagrees (the community column counts too)."""
        mine = dict(q.admin)
        if community:
            mine.setdefault("community", admin_key(community))
        theirs = self.admin[i]
        return any(level in theirs and theirs[level] != name for level, name in mine.items())

    def _distinct_points(self, idx: Sequence[int]) -> list[int]:
        """One entry per place: entries closer than SAME_POINT_M to a kept one are dropped (lowest id first)."""
        kept: list[int] = []
        for i in sorted(idx, key=lambda j: str(self.addr_id[j])):
            if not any(_same_point(self, i, k) for k in kept):
                kept.append(i)
        return kept

    # ------------------------------------------------------------------ matching
    def match(self, address: str, community: str | None = None, *, threshold: float = DEFAULT_THRESHOLD,
              margin: float = DEFAULT_MARGIN) -> Match:
        """Match one address (``community``: the row's community name, when the roll has a column for it)."""
        key = (address, community, threshold, margin)
        got = self._cache.get(key)
        if got is None:
            got = self._match(parse(address), community, threshold, margin)
            if len(self._cache) < 500_000:
                self._cache[key] = got
        return got

    def match_many(self, addresses: Iterable[str], communities: Iterable[str | None] | None = None, *,
                   threshold: float = DEFAULT_THRESHOLD, margin: float = DEFAULT_MARGIN) -> list[Match]:
        """:meth:`match` for each address."""
        addrs = list(addresses)
        comms = list(communities) if communities is not None else [None] * len(addrs)
        return [self.match(a, c, threshold=threshold, margin=margin) for a, c in zip(addrs, comms, strict=True)]

    def _accept(self, i: int, method: str, score: float, others: Sequence[Candidate] = ()) -> Match:
        c = self._candidate(i, score)
        if c.lon is None or c.lat is None:
            return Match("review", reason_zh="匹配到的标准地址没有坐标", reason_en="the matching register entry has no point",
                         candidates=(c, *others))
        return Match("located", method, c.addr_id, c.lon, c.lat, float(score))

    def _match(self, q: Parsed, community: str | None, threshold: float, margin: float) -> Match:
        if not q.place and q.number is None:
            return Match("review", reason_zh="地址为空或无法识别", reason_en="the address is empty or unreadable")
        # 1. exact: the text (without its room) is a register address.
        hits = [i for i in self.by_lite.get(q.lite, []) if not self._conflicts(q, i, community)]
        if hits and q.number is not None:
            points = self._distinct_points(hits)
            if len(points) == 1:
                return self._accept(points[0], "exact", 100.0)
            return self._review_many(points, "有多个位置不同的标准地址与之完全一致",
                                     "several register entries at different points have this very address")
        if q.number is None:
            return Match("review", reason_zh="地址缺少门牌号或楼栋号，无法定位到楼栋",
                         reason_en="the address has no door or building number: it cannot be placed at a building",
                         candidates=self._near_places(q, community))
        # 2. normalised: the same components; the entrance when the register has it, else the building.
        for key in (q.key(), q.key(entrance=False)):
            same = self.by_key.get(key, [])
            if not same:
                continue
            fit = [i for i in same if not self._conflicts(q, i, community)]
            if not fit:
                return Match("review", reason_zh="标准地址中有此地址，但所属区、街道或社区与住户填写的不一致",
                             reason_en="the register has this address, but in another district, street or community",
                             candidates=tuple(self._candidate(i, 80.0) for i in same[:MAX_CANDIDATES]))
            points = self._distinct_points(fit)
            if len(points) == 1:
                return self._accept(points[0], "exact" if q.lite == self.parsed[points[0]].lite else "normalised",
                                    100.0)
            return self._review_many(points, "规范化后有多个位置不同的标准地址一致（请补充社区等信息）",
                                     "after normalisation several register entries at different points match "
                                     "(give the community, for example)")
        # 3. fuzzy: the same numbers, a place rapidfuzz finds close.
        return self._fuzzy(q, community, threshold, margin)

    def _review_many(self, points: Sequence[int], zh: str, en: str) -> Match:
        return Match("review", reason_zh=zh, reason_en=en,
                     candidates=tuple(self._candidate(i, 100.0) for i in points[:MAX_CANDIDATES]))

    def _fuzzy(self, q: Parsed, community: str | None, threshold: float, margin: float) -> Match:
        from rapidfuzz import fuzz

        place = _place_key(q.place)
        scored: list[tuple[float, int]] = []
        for i in self.by_number.get(q.number or "", []):
            e = self.parsed[i]
            if q.door and e.door and q.door != e.door:
                continue
            if q.building and e.building and q.building != e.building:
                continue
            if q.entrance and e.entrance and q.entrance != e.entrance:
                continue
            score = fuzz.ratio(place, self.place_keys[i])
            if score < 50.0:  # nothing below can come back above the cut-off
                continue
            if (q.door is None) != (e.door is None) or (q.building is None) != (e.building is None):
                score -= 5.0  # 12号 for 12栋: the same number under another word
            if e.entrance and not q.entrance:
                score -= 5.0
            if self._conflicts(q, i, community):
                score -= 20.0
            if score >= 50.0:
                scored.append((score, i))
        if not scored:
            return Match("review", reason_zh="标准地址中没有相近的地址（道路、小区或门牌号不存在）",
                         reason_en="no register entry comes close (the road, estate or number is not in the register)",
                         candidates=self._near_places(q, community))
        scored.sort(key=lambda t: (-t[0], str(self.addr_id[t[1]])))
        best_score, best = scored[0]
        rivals = [(s, i) for s, i in scored[1:] if s >= best_score - margin and not _same_point(self, best, i)]
        cands = tuple(self._candidate(i, s) for s, i in scored[:MAX_CANDIDATES])
        if rivals:
            return Match("review", reason_zh="有多个位置不同的候选地址得分接近，不作猜测",
                         reason_en="candidates at different points score close: no guess", candidates=cands)
        if best_score < threshold:
            return Match("review", reason_zh=f"最相近的标准地址得分 {best_score:.0f}，低于自动定位阈值 {threshold:.0f}",
                         reason_en=f"the closest register entry scores {best_score:.0f}, below the threshold "
                                   f"{threshold:.0f}", candidates=cands)
        return self._accept(best, "fuzzy", best_score, cands[1:])

    def _near_places(self, q: Parsed, community: str | None) -> tuple[Candidate, ...]:
        """For review: entries of the places closest in name (their numbers nearest the address's), scored low."""
        from rapidfuzz import fuzz, process

        place = _place_key(q.place)
        if not place or not self.places:
            return ()
        out: list[Candidate] = []
        for name, ratio, _ in process.extract(place, self.places, scorer=fuzz.ratio, limit=2, score_cutoff=40):
            idx = self.by_place[name]
            want = _as_int(q.number)
            idx = sorted(idx, key=lambda i: (abs((_as_int(self.parsed[i].number) or 0) - (want or 0)),
                                             str(self.addr_id[i])))
            out += [self._candidate(i, ratio * 0.6) for i in idx[:3]]
        return tuple(sorted(out, key=lambda c: -c.score)[:MAX_CANDIDATES])


def _as_int(s: str | None) -> int | None:
    if s is None:
        return None
    digits = re.match(r"[0-9]+", s)
    return int(digits.group(0)) if digits else None


def _same_point(reg: Register, i: int, k: int) -> bool:
    a, b = (reg.lon[i], reg.lat[i]), (reg.lon[k], reg.lat[k])
    if not all(np.isfinite([*a, *b])):
        return False
    return _m_apart(float(a[0]), float(a[1]), float(b[0]), float(b[1])) <= SAME_POINT_M


def _admin_chains(units: pd.DataFrame | None) -> dict[str, dict[str, str]]:
    """Per community code, the name keys of the community, its street and its district."""
    if units is None or not len(units):
        return {}
    rows = {str(r.code): (str(r.name), str(r.level), r.parent_code) for r in units.itertuples(index=False)}
    out: dict[str, dict[str, str]] = {}
    for code, (_, level, _) in rows.items():
        if level != "community":
            continue
        chain: dict[str, str] = {}
        at: Any = code
        while isinstance(at, str) and at in rows:
            name, lv, parent = rows[at]
            chain[{"community": "community", "street": "street", "district": "district"}.get(lv, lv)] = admin_key(name)
            at = parent
        out[code] = chain
    return out
