"""A deterministic synthetic district: the embedded demo and the test fixture.

The district lies around Xiamen's Siming district (about 118.08 E, 24.48 N).
It is entirely made up — names, ID numbers and phones are synthetic — but
follows the figures in DOMAIN.md: about 7.6 % of households in hardship, of
them about 55 % on 低保 and about 10 % 特困/五保; grid cells of a settable
target size tiling each community exactly; stations of eight types with the
GB 50180 life-circle radii; patrol areas over part of the district; wardens for
most cells; a year of visit logs with needs, each with its history through the
needs' flow (:mod:`grid.demo_needs`: assigned, returned and reassigned, handled,
escalated when overdue, resolved or answered, followed up with a satisfaction;
about 85 % resolved or answered, as the seeds' street reports); and one finished winter campaign
whose assistance records include planted duplicates (helped twice for the same
purpose by two units) and omissions (eligible and never helped); and the current
winter campaign's applications for assistance at every step of their review, with
programmes, budgets and one planted red flag of each kind for the diversion checks
(:mod:`grid.demo_applications`).

Real districts are uneven, so the demo plants four patterns for the leader's analyses to
find (:mod:`grid.demo_plants` has the rules and the numbers; where they go depends only on
the generated geometry, so the same :class:`DemoConfig` gives the same plants):

(a) two district bodies (区总工会, 区慈善总会) give a winter gift of their own, more often and
    more generously the nearer a household lives to their office (up to 1,000 yuan at the
    door, nothing beyond 2.5 cell spacings): the hot spots of aid per vulnerable household;
(b) one community is under-served: 200 yuan of 情暖万家 instead of 500, festival goods for one
    helped household in ten instead of six, and neither body of (a) reaches it; it ranks last
    on aid per vulnerable household and is the cold spot;
(c) three adjacent cells raise needs two and a half times as often, and nothing raised there in
    the last 150 days has been settled: the cluster of overdue needs;
(d) one street's campaign visited only 30 % of its targets (93 % elsewhere), and its wardens'
    everyday visits mostly fell outside the campaign's months: the lowest campaign coverage.

:class:`DemoDistrict` records where each went (``planted_offices``, ``planted_office_cells``,
``planted_underserved``, ``planted_underserved_cells``, ``planted_overdue_cells``,
``planted_weak_street``), as it records the planted duplicates and omissions.

:func:`generate` is pure (frames in memory); :func:`build_demo` writes them to a
store in one transaction; :func:`build_demo_file` builds a new file atomically.

Examples
--------
>>> district = generate(DemoConfig(households=2_000, seed=1))
>>> len(district.households)
2000
>>> district.cells["cell_id"].str.startswith(tuple(district.communities["code"])).all()
np.True_
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from scipy.cluster.vq import kmeans2
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from grid import demo_addresses, demo_plants, model
from grid.demo_applications import generate_applications
from grid.demo_needs import Households, need_flow
from grid.demo_streets import street_plan
from grid.errors import WarmGridError
from grid.roads import round_line
from grid.store import Store, open_store

__all__ = ["DemoConfig", "DemoDistrict", "DEMO_ACCOUNTS", "generate", "build_demo", "build_demo_file", "Progress"]

#: The demo database's accounts, one per role (documented in the README; a real
#: database has no account until an administrator adds one with ``python -m grid user add``).
DEMO_ACCOUNTS: dict[str, tuple[str, str]] = {
    "admin": ("admin", "warmgrid-admin"),
    "leader": ("leader", "warmgrid-leader"),
    "committee": ("committee", "warmgrid-committee"),
    "warden": ("warden", "warmgrid-warden"),
    "inspector": ("inspector", "warmgrid-inspector"),
    "community": ("community", "warmgrid-community"),
}

#: progress(fraction in [0, 1], message) — called during long work.
Progress = Callable[[float, str], None]

_LON0, _LAT0 = 118.08, 24.48
_M_PER_DEG_LAT = 110_574.0
_M_PER_DEG_LON = 111_320.0 * float(np.cos(np.radians(_LAT0)))
_DISTRICT_CODE = "350203000000"
_DISTRICT_NAME = "思明区（演示）"

_STREET_NAMES = ["中华街道", "鹭江街道", "厦港街道", "开元街道", "梧村街道", "筼筜街道",
                 "莲前街道", "嘉莲街道", "滨海街道", "鼓浪屿街道"]
_COMMUNITY_WORDS = ["镇海", "大同", "新华", "中山", "光彩", "鹭江", "海滨", "曾厝垵", "沙坡尾",
                    "大学", "思明", "中华", "开元", "梧村", "金榜", "文园", "湖滨", "筼筜",
                    "莲花", "前埔", "嘉莲", "松柏", "瑞景", "何厝", "黄厝", "环岛", "东浦",
                    "官任", "西林", "洪莲", "龙山", "将军祠", "公园", "斗西", "东坪山", "南华",
                    "演武", "顶澳仔", "溪岸", "美湖"]
_ROADS = ["中山路", "思明南路", "思明北路", "厦禾路", "湖滨南路", "湖滨北路", "莲前西路",
          "莲前东路", "嘉禾路", "禾祥西路", "文园路", "镇海路", "大同路", "开元路", "鹭江道",
          "演武路", "环岛南路", "前埔路", "莲岳路", "仙岳路", "斗西路", "民族路", "公园南路"]
_SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
                 "于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江"
                 "尹薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严戴莫孔汤") + ["欧阳", "司马", "上官"]
_GIVEN = list("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂英华建国玉兰志强秀珍海燕"
              "红梅文斌丽娟金凤淑珍德明宝华春生水木阿福来顺美玲雅婷俊杰子涵")
_SITUATIONS = ["身体状况稳定，生活基本正常", "子女不在身边，需定期关注", "反映冬季取暖困难",
               "行动不便，需上门服务", "已了解低保政策，无新增诉求", "提出就医报销咨询",
               "房屋漏水，需协调维修", "家中有人失业，希望推荐岗位", "情绪低落，已做心理疏导"]
_NEED_TEXTS = {
    "living": "生活费用紧张，申请临时救助", "medical": "慢性病用药报销咨询",
    "housing": "房屋漏水需维修", "employment": "家庭成员求职", "education": "子女入学咨询",
    "care": "需要上门照料服务", "dispute": "邻里噪音纠纷", "environment": "楼道垃圾堆放",
    "other": "其他事项",
}

#: Share of each primary hardship category among vulnerable households
#: (低保 55 %, 特困/五保 10 %, the rest illness, disability and other hardship).
_PRIMARY = {
    "dibao_urban": 0.50, "dibao_rural": 0.05, "tekun": 0.04, "wubao_home": 0.04,
    "wubao_central": 0.02, "serious_illness": 0.10, "disabled": 0.08, "elderly_alone": 0.07,
    "party_hardship": 0.03, "veteran_family": 0.02, "zero_employment": 0.02,
    "laid_off_4050": 0.015, "empty_nest": 0.005, "relocated": 0.005, "landless_farmer": 0.002,
    "migrant_family": 0.003,
}
_SECONDARY = ["disabled", "serious_illness", "elderly_alone", "party_hardship"]
_STATION_MIX = {
    "party_service": 0.22, "clinic": 0.18, "day_care": 0.14, "police": 0.14,
    "charity_store": 0.12, "service_hall": 0.04, "health_center": 0.08, "elderly_home": 0.08,
}
#: The winter campaign's target categories.
_TARGETS = [c for c in model.HARDSHIP if c in (
    "dibao_urban", "dibao_rural", "tekun", "wubao_central", "wubao_home", "elderly_alone", "party_hardship",
    "serious_illness")]


@dataclass(frozen=True)
class DemoConfig:
    """Settings of the demo district.

    Parameters
    ----------
    households : int
        Number of households (default 50,000; 1,000,000 works).
    seed : int
        Random seed: the same seed gives the same district.
    streets, communities : int
        Number of streets and of communities (at least one per street).
    target_per_cell : int
        Target number of households per grid cell (300–500 is common).
    as_of : date
        The demo's "today": visit history ends here.
    """

    households: int = 50_000
    seed: int = 7
    streets: int = 4
    communities: int = 15
    target_per_cell: int = 400
    as_of: date = date(2026, 11, 15)

    def check(self) -> None:
        """Raise :class:`WarmGridError` when a setting is out of range."""
        bad = []
        if not 100 <= self.households <= 5_000_000:
            bad.append(("户数须在 100 到 5,000,000 之间", "households must be 100..5,000,000"))
        if not 1 <= self.streets <= len(_STREET_NAMES):
            bad.append((f"街道数须在 1 到 {len(_STREET_NAMES)} 之间",
                        f"streets must be 1..{len(_STREET_NAMES)}"))
        if not self.streets <= self.communities <= 999:
            bad.append(("社区数须不少于街道数且不超过 999", "communities must be >= streets and <= 999"))
        if not 20 <= self.target_per_cell <= 5_000:
            bad.append(("每格目标户数须在 20 到 5,000 之间", "target_per_cell must be 20..5,000"))
        if bad:
            raise WarmGridError("；".join(z for z, _ in bad), "; ".join(e for _, e in bad))


@dataclass
class DemoDistrict:
    """The generated frames, ready to write, plus what was planted."""

    config: DemoConfig
    admin_units: pd.DataFrame
    communities: pd.DataFrame
    cells: pd.DataFrame
    households: pd.DataFrame
    people: pd.DataFrame
    stations: pd.DataFrame
    patrol_areas: pd.DataFrame
    campaigns: pd.DataFrame
    visits: pd.DataFrame
    needs: pd.DataFrame
    assistance: pd.DataFrame
    roads: pd.DataFrame = field(default_factory=pd.DataFrame)
    members: pd.DataFrame = field(default_factory=pd.DataFrame)
    need_events: pd.DataFrame = field(default_factory=pd.DataFrame)
    planted_duplicates: list[str] = field(default_factory=list)
    planted_omissions: list[str] = field(default_factory=list)
    programmes: pd.DataFrame = field(default_factory=pd.DataFrame)
    budgets: pd.DataFrame = field(default_factory=pd.DataFrame)
    applications: pd.DataFrame = field(default_factory=pd.DataFrame)
    application_events: pd.DataFrame = field(default_factory=pd.DataFrame)
    application_objections: pd.DataFrame = field(default_factory=pd.DataFrame)
    household_history: pd.DataFrame = field(default_factory=pd.DataFrame)
    addresses: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: Per household (``hh_id``), the register entry of its building (``addr_id``): not stored, the truth
    #: that address matching is tested against.
    homes: pd.Series = field(default_factory=lambda: pd.Series(dtype=object))
    #: Red flags planted for the diversion checks: reason code -> households (grid.budgets.REASONS).
    planted_flags: dict[str, list[str]] = field(default_factory=dict)
    #: The leader's patterns (grid.demo_plants): the units that favour their offices'
    #: neighbourhoods (``unit, programme, funding_source, community_code, cell_id, lon, lat``) and the
    #: cells within one cell spacing of an office; the under-served community and its cells; the
    #: cells of the overdue needs' cluster; the street whose campaign missed many targets.
    planted_offices: pd.DataFrame = field(default_factory=pd.DataFrame)
    planted_office_cells: list[str] = field(default_factory=list)
    planted_underserved: str = ""
    planted_underserved_cells: list[str] = field(default_factory=list)
    planted_overdue_cells: list[str] = field(default_factory=list)
    planted_weak_street: str = ""


# --------------------------------------------------------------------------- geometry
def _to_lonlat(geom: BaseGeometry) -> BaseGeometry:
    """Map local metres to lon/lat by an affine map (so tilings stay exact)."""
    return shapely.transform(
        geom, lambda xy: np.column_stack([_LON0 + xy[:, 0] / _M_PER_DEG_LON,
                                          _LAT0 + xy[:, 1] / _M_PER_DEG_LAT])
    )


def _xy_to_lonlat(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return _LON0 + x / _M_PER_DEG_LON, _LAT0 + y / _M_PER_DEG_LAT


def _district_polygon(rng: np.random.Generator, radius: float) -> Polygon:
    angles = np.sort(rng.uniform(0, 2 * np.pi, 18))
    radii = radius * rng.uniform(0.75, 1.15, 18)
    pts = np.column_stack([radii * np.cos(angles) * 1.25, radii * np.sin(angles) * 0.85])
    hull = shapely.convex_hull(shapely.multipoints(pts))
    assert isinstance(hull, Polygon)
    return hull


def _sample_in(rng: np.random.Generator, poly: BaseGeometry, n: int) -> np.ndarray:
    """``n`` uniform random points inside ``poly`` (rejection sampling)."""
    minx, miny, maxx, maxy = poly.bounds
    out: list[np.ndarray] = []
    got = 0
    shapely.prepare(poly)
    while got < n:
        m = max(64, int((n - got) * 1.6))
        cand = np.column_stack([rng.uniform(minx, maxx, m), rng.uniform(miny, maxy, m)])
        keep = cand[shapely.contains_xy(poly, cand[:, 0], cand[:, 1])]
        out.append(keep)
        got += len(keep)
    return np.concatenate(out)[:n]


def _split(rng: np.random.Generator, poly: BaseGeometry, seeds: np.ndarray) -> list[BaseGeometry]:
    """Tile ``poly`` by the Voronoi regions of ``seeds``, in seed order."""
    if len(seeds) == 1:
        return [poly]
    minx, miny, maxx, maxy = poly.bounds
    frame = shapely.box(minx - 1000, miny - 1000, maxx + 1000, maxy + 1000)
    regions = shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=frame, ordered=True)
    parts = shapely.get_parts(regions)
    return [shapely.intersection(p, poly) for p in parts]


def _balanced_seeds(rng: np.random.Generator, pts: np.ndarray, k: int) -> np.ndarray:
    """k-means centroids of ``pts`` (distinct), sorted north-west first."""
    if k <= 1:
        return np.asarray([pts.mean(axis=0)])
    if len(pts) > 30_000:
        pts = pts[rng.choice(len(pts), 30_000, replace=False)]
    k = min(k, len(np.unique(pts, axis=0)))
    cent, _ = kmeans2(pts, k, iter=15, minit="++", seed=rng)
    cent = np.unique(np.round(cent, 3), axis=0)
    order = np.lexsort((cent[:, 0], -np.round(cent[:, 1], -2)))
    return np.asarray(cent[order])


# --------------------------------------------------------------------------- helpers
def _names(rng: np.random.Generator, n: int) -> np.ndarray:
    sur = rng.choice(np.array(_SURNAMES, dtype=object), n, p=_surname_p())
    g1 = rng.choice(np.array(_GIVEN, dtype=object), n)
    g2 = rng.choice(np.array(_GIVEN, dtype=object), n)
    two = rng.random(n) < 0.7
    return np.where(two, sur + g1 + g2, sur + g1)


def _surname_p() -> np.ndarray:
    w = 1.0 / np.arange(1, len(_SURNAMES) + 1) ** 0.6
    return w / w.sum()


def _id_numbers(rng: np.random.Generator, n: int, as_of: date, ages: np.ndarray) -> np.ndarray:
    """Synthetic GB 11643 ID numbers with correct check digits."""
    base = np.datetime64(as_of.isoformat()) - (ages * 365.25).astype("timedelta64[D]")
    base = base - rng.integers(0, 365, n).astype("timedelta64[D]")
    births = pd.to_datetime(base).strftime("%Y%m%d").to_numpy().astype(str)
    seq = rng.integers(0, 1000, n)
    body = np.char.add(np.char.add("350203", births), np.char.zfill(seq.astype(str), 3))
    digits = np.frombuffer("".join(body.tolist()).encode(), dtype=np.uint8).reshape(n, 17) - 48
    weights = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
    check = np.array(list("10X98765432"))[(digits * weights).sum(axis=1) % 11]
    return np.char.add(body, check).astype(object)


def _distinct_ids(ids: np.ndarray) -> np.ndarray:
    """One number per person (:func:`grid.demo_members.distinct_ids`)."""
    from grid.demo_members import distinct_ids

    return distinct_ids(ids)


def _phones(rng: np.random.Generator, n: int) -> np.ndarray:
    pre = rng.choice(np.array(["138", "139", "158", "159", "186", "188", "137", "135", "177"]), n)
    rest = np.char.zfill(rng.integers(0, 100_000_000, n).astype(str), 8)
    return np.char.add(pre, rest).astype(object)


def _wkb(geoms: list[BaseGeometry] | np.ndarray) -> list[bytes]:
    return [bytes(b) for b in shapely.to_wkb(np.asarray(geoms, dtype=object))]


def _ids(prefix: str, n: int, width: int) -> np.ndarray:
    return (prefix + pd.Series(np.arange(1, n + 1)).astype(str).str.zfill(width)).to_numpy(dtype=object)


def _times(rng: np.random.Generator, start: datetime, end: datetime, n: int) -> np.ndarray:
    """n random working-hours timestamps between start and end."""
    days = (end - start).days
    d = rng.integers(0, max(days, 1), n)
    minutes = rng.integers(8 * 60 + 30, 18 * 60, n)
    return (np.datetime64(start.date().isoformat(), "m") + d.astype("timedelta64[D]")
            + minutes.astype("timedelta64[m]"))


# --------------------------------------------------------------------------- generate
def generate(config: DemoConfig = DemoConfig(), progress: Progress | None = None) -> DemoDistrict:
    """Generate the demo district in memory (no I/O).

    Parameters
    ----------
    config : DemoConfig
        The settings; the same settings always give the same district.
    progress : callable, optional
        ``progress(fraction, message)`` for long runs.
    """
    config.check()
    say = progress or (lambda f, m: None)
    rng = np.random.default_rng(config.seed)
    n = config.households
    as_of = datetime.combine(config.as_of, datetime.min.time())

    # -- admin units --------------------------------------------------------------
    say(0.02, "行政区划 admin units")
    radius = 2500.0 * (n / 50_000) ** 0.25
    district = _district_polygon(rng, radius)
    street_seeds = _balanced_seeds(rng, _sample_in(rng, district, 4000), config.streets)
    streets = _split(rng, district, street_seeds)
    areas = np.array([s.area for s in streets])
    per_street = np.maximum(1, np.round(areas / areas.sum() * config.communities).astype(int))
    while per_street.sum() > config.communities:
        per_street[np.argmax(per_street)] -= 1
    while per_street.sum() < config.communities:
        per_street[np.argmin(per_street)] += 1
    words = list(rng.permutation(np.array(_COMMUNITY_WORDS, dtype=object)))
    admin_rows = [dict(code=_DISTRICT_CODE, name=_DISTRICT_NAME, level="district",
                       parent_code=None, geom=district)]
    comm_rows: list[dict[str, Any]] = []
    for si, (street, k) in enumerate(zip(streets, per_street, strict=False)):
        scode = f"350203{si + 1:03d}000"
        sname = _STREET_NAMES[si]
        admin_rows.append(dict(code=scode, name=sname, level="street",
                               parent_code=_DISTRICT_CODE, geom=street))
        seeds = _balanced_seeds(rng, _sample_in(rng, street, 2000), int(k))
        for ci, comm in enumerate(_split(rng, street, seeds)):
            ccode = f"350203{si + 1:03d}{ci + 1:03d}"
            word = words.pop(0) if words else f"第{len(comm_rows) + 1}"
            comm_rows.append(dict(code=ccode, name=f"{word}社区", level="community",
                                  parent_code=scode, geom=comm, street_name=sname))
    communities = pd.DataFrame(comm_rows)

    # -- buildings and households -----------------------------------------------
    say(0.10, "楼栋与住户 buildings and households")
    n_build = max(20, n // 40)
    # The street network first (its own random stream): nobody lives in the river or the hill park.
    plan = street_plan(np.random.default_rng([config.seed, 12]), district, radius)
    inner = district.buffer(-25.0).difference(plan.barrier.buffer(25.0))
    cand = _sample_in(rng, inner, n_build * 3)
    # Density: a few dense old-town centres on a base, to give hot and cold spots.
    centres = _sample_in(rng, inner, 5)
    dens = 0.35 + sum(np.exp(-((cand - c) ** 2).sum(axis=1) / (2 * (radius * 0.25) ** 2))
                      for c in centres)
    pick = rng.choice(len(cand), n_build, replace=False, p=dens / dens.sum())
    bxy = cand[pick]
    weights = rng.lognormal(0.0, 0.8, n_build)
    bcount = rng.multinomial(n, weights / weights.sum())
    bxy, bcount = bxy[bcount > 0], bcount[bcount > 0]
    b_of_h = np.repeat(np.arange(len(bxy)), bcount)
    hxy = bxy[b_of_h] + rng.uniform(-4.0, 4.0, (n, 2))
    # Which community each household is in (communities tile the district).
    comm_geoms = communities["geom"].to_numpy()
    h_comm = np.full(n, -1)
    for i, g in enumerate(comm_geoms):
        h_comm[shapely.contains_xy(g, hxy[:, 0], hxy[:, 1])] = i
    h_comm[h_comm < 0] = 0  # on an edge: any neighbour; cell_id is derived later anyway

    # -- cells ---------------------------------------------------------------------
    say(0.25, "网格划分 grid cells")
    cell_rows = []
    for i, row in communities.iterrows():
        pts = hxy[h_comm == i]
        k = max(1, int(round(len(pts) / config.target_per_cell)))
        if len(pts) == 0:
            pts = _sample_in(rng, row["geom"], 50)
        seeds = _balanced_seeds(rng, pts, k)
        parts = [p for p in _split(rng, row["geom"], seeds) if not p.is_empty]
        for j, part in enumerate(parts):
            cell_rows.append(dict(cell_id=f"{row['code']}{j + 1:03d}",
                                  name=f"{row['name']}第{j + 1}网格",
                                  community_code=row["code"], geom=part))
    cells = pd.DataFrame(cell_rows)

    # -- household attributes ----------------------------------------------------
    say(0.35, "困难类别 hardship categories")
    field_ = 0.4 + 1.8 * np.exp(-((hxy - centres[0]) ** 2).sum(axis=1) / (2 * (radius * 0.3) ** 2)) \
        + 1.2 * np.exp(-((hxy - centres[1]) ** 2).sum(axis=1) / (2 * (radius * 0.2) ** 2))
    field_ = field_ / field_.mean()
    vulnerable = rng.random(n) < np.clip(0.076 * field_, 0, 0.6)
    prim_codes = np.array(list(_PRIMARY), dtype=object)
    prim_p = np.array(list(_PRIMARY.values()))
    prim = rng.choice(prim_codes, n, p=prim_p / prim_p.sum())
    second = rng.choice(np.array(_SECONDARY, dtype=object), n)
    has_second = (rng.random(n) < 0.25) & (second != prim)
    # Categories in vocabulary order (the importers' order too), built per distinct combination.
    rank = {c: i for i, c in enumerate(model.HARDSHIP)}
    pi = pd.Series(prim).map(rank).to_numpy(dtype=np.int64)
    si = pd.Series(second).map(rank).to_numpy(dtype=np.int64)
    combo = np.where(vulnerable, 1 + pi * 1000 + np.where(has_second, si + 1, 0), 0)
    codes_by_rank = list(model.HARDSHIP)
    lists: dict[int, list[str]] = {0: []}
    for k in np.unique(combo):
        if k:
            p_, s_ = divmod(int(k) - 1, 1000)
            lists[int(k)] = sorted({codes_by_rank[p_]} | ({codes_by_rank[s_ - 1]} if s_ else set()), key=lambda c: rank[c])
    categories: list[list[str]] = [lists[k] for k in combo.tolist()]
    size = np.minimum(1 + rng.poisson(1.6, n), 8)
    alone = vulnerable & np.isin(prim, ["elderly_alone", "wubao_central", "wubao_home", "tekun"])
    size[alone] = 1
    ages = np.where(alone, rng.integers(65, 95, n), rng.integers(25, 85, n))
    roads = np.array(_ROADS, dtype=object)
    b_road = rng.choice(roads, len(bxy))
    b_num = rng.integers(1, 400, len(bxy))
    room = rng.integers(1, 30, n) * 100 + rng.integers(1, 9, n)
    comm_names = communities["name"].to_numpy()
    # The standard-address register: a door number per building on a road, 小区 and 楼栋 for the
    # buildings in estates (own random stream); each household carries its building's address.
    first = np.concatenate([[0], np.cumsum(bcount)[:-1]])
    addresses, address, home = demo_addresses.register(
        np.random.default_rng([config.seed, 15]), communities, bxy, h_comm[first], b_road, b_num, b_of_h, room,
        to_lonlat=_xy_to_lonlat)
    lon, lat = _xy_to_lonlat(hxy[:, 0], hxy[:, 1])
    households = pd.DataFrame({
        "hh_id": _ids("H", n, 7),
        "lon": lon, "lat": lat,
        "address": address,
        "size": size.astype(np.int32),
        "categories": categories,
        "head_name": _names(rng, n),
        "id_number": _distinct_ids(_id_numbers(rng, n, config.as_of, ages)),
        "phone": _phones(rng, n),
        "status": "active",
        "updated_at": as_of,
    })

    # -- stations ------------------------------------------------------------------
    say(0.45, "服务站点 stations")
    n_st = max(len(communities) * 2, n // 500)
    st_rows = []
    # One 党群服务站 per community, near its busiest building.
    for i, row in communities.iterrows():
        inside = np.flatnonzero(h_comm == i)
        xy = hxy[inside[rng.integers(len(inside))]] if len(inside) else \
            _sample_in(rng, row["geom"], 1)[0]
        st_rows.append(("party_service", i, xy))
    types = np.array(list(_STATION_MIX), dtype=object)
    tp = np.array(list(_STATION_MIX.values()))
    extra = n_st - len(st_rows)
    ex_types = rng.choice(types, extra, p=tp / tp.sum())
    # Every other type at least once where there are enough stations (a small district shows them all).
    others = [t for t in types if t != "party_service"]
    ex_types[:min(extra, len(others))] = others[:max(extra, 0)]
    ex_h = rng.integers(0, n, extra)
    for t, h in zip(ex_types, ex_h, strict=False):
        st_rows.append((str(t), int(h_comm[h]), hxy[h] + rng.uniform(-30, 30, 2)))
    counts: dict[tuple[int, str], int] = {}
    srows = []
    for k, (t, ci, xy) in enumerate(st_rows):
        counts[(ci, t)] = counts.get((ci, t), 0) + 1
        num = counts[(ci, t)]
        st = model.STATION_TYPES[t]
        slon, slat = _xy_to_lonlat(np.array([xy[0]]), np.array([xy[1]]))
        srows.append(dict(
            station_id=f"S{k + 1:05d}",
            name=f"{comm_names[ci]}{st.zh}" + (f"（{num}）" if num > 1 else ""),
            type=t, lon=float(slon[0]), lat=float(slat[0]), radius_m=st.radius_m,
            capacity=int(rng.integers(20, 200)), community_code=communities["code"].iloc[ci],
        ))
    stations = pd.DataFrame(srows)

    # -- patrol areas ----------------------------------------------------------------
    say(0.50, "巡逻区域 patrol areas")
    prow: list[dict[str, Any]] = []
    for _i, row in communities.iterrows():
        if rng.random() > 0.6:
            continue
        for k in range(int(rng.integers(1, 3))):
            route = _sample_in(rng, row["geom"], int(rng.integers(3, 6)))
            line = shapely.linestrings(route)
            area = shapely.intersection(line.buffer(float(rng.uniform(100, 180)), quad_segs=4),
                                        row["geom"])
            if area.is_empty or area.geom_type not in ("Polygon", "MultiPolygon"):
                continue
            kind = "party_patrol_post" if rng.random() < 0.3 else "volunteer_patrol"
            team = f"{row['name']}{'党员巡访服务岗' if kind == 'party_patrol_post' else '义务巡逻队'}第{k + 1}组"
            prow.append(dict(area_id=f"P{len(prow) + 1:04d}", team=team, kind=kind, geom=area,
                             members=int(rng.integers(15, 31)), community_code=row["code"]))
    patrol_areas = pd.DataFrame(prow, columns=["area_id", "team", "kind", "geom", "members",
                                               "community_code"])

    # -- people: wardens, cadres, party members, leaders ------------------------------
    say(0.55, "人员 people")
    people_rows = []
    n_cells = len(cells)
    no_warden = rng.random(n_cells) < 0.05
    no_warden[0] = False
    if n_cells > 4:
        no_warden[rng.integers(1, n_cells)] = True  # at least one cell without a warden
    warden_of = np.full(n_cells, None, dtype=object)
    pid = 0
    last_w: str | None = None
    last_comm: str | None = None
    for j in range(n_cells):
        if no_warden[j]:
            continue
        comm = cells["community_code"].iloc[j]
        # About one warden in ten looks after two neighbouring cells.
        if last_w is not None and last_comm == comm and rng.random() < 0.1:
            warden_of[j] = last_w
            last_w = None
            continue
        pid += 1
        last_w, last_comm = f"W{pid:05d}", comm
        warden_of[j] = last_w
        people_rows.append(dict(person_id=last_w, name=None, role="warden", unit_code=comm))
    cells["warden_id"] = warden_of
    for _i, row in communities.iterrows():
        for role, k in (("cadre", 5), ("party_member", 12)):
            for _ in range(k):
                pid += 1
                people_rows.append(dict(person_id=f"{role[0].upper()}{pid:05d}", name=None,
                                        role=role, unit_code=row["code"]))
    for a in admin_rows[1:]:
        for _ in range(3):
            pid += 1
            people_rows.append(dict(person_id=f"L{pid:05d}", name=None, role="leader",
                                    unit_code=a["code"]))
    people = pd.DataFrame(people_rows)
    people["name"] = _names(rng, len(people))
    people["phone"] = _phones(rng, len(people))
    party_st = stations[stations["type"] == "party_service"].drop_duplicates("community_code")
    start = party_st.set_index("community_code")[["lon", "lat"]]
    people = people.join(start, on="unit_code")

    # -- the planted patterns (grid.demo_plants): where they go -----------------------------
    is_target = np.array([any(c in _TARGETS for c in cs) for cs in categories])
    demo_warden = cells["warden_id"].dropna()
    plants = demo_plants.choose(
        cells, communities, hxy, h_comm, is_target, vulnerable,
        demo_street=str(comm_rows[0]["parent_code"]) if comm_rows else None,
        demo_community=str(cells.loc[demo_warden.index[0], "community_code"]) if len(demo_warden) else None)
    h_weak = (communities["parent_code"].to_numpy(dtype=object) == plants.weak_street)[h_comm]
    h_under = (communities["code"].to_numpy(dtype=object) == plants.underserved)[h_comm]
    shapely.prepare(plants.cluster)
    h_cluster = shapely.contains_xy(plants.cluster, hxy[:, 0], hxy[:, 1])

    # -- campaigns --------------------------------------------------------------------
    campaigns = pd.DataFrame([
        dict(campaign_id="C2025W", name="2025—2026年度暖冬行动·情暖万家", unit_code=_DISTRICT_CODE,
             starts_on=date(2025, 11, 1), ends_on=date(2026, 2, 28), target_categories=_TARGETS,
             budget_yuan=None),
        dict(campaign_id="C2026W", name="2026—2027年度暖冬行动·情暖万家", unit_code=_DISTRICT_CODE,
             starts_on=date(2026, 11, 1), ends_on=date(2027, 2, 28), target_categories=_TARGETS,
             budget_yuan=None),
    ])

    # -- visits and needs ----------------------------------------------------------------
    say(0.65, "民情日志 visit logs")
    # Cells are known only as polygons; approximate each household's warden by its
    # community's first warden for the generated history (the real cell is derived later).
    comm_codes = communities["code"].to_numpy()
    first_warden = cells.dropna(subset=["warden_id"]).drop_duplicates("community_code") \
        .set_index("community_code")["warden_id"]
    h_warden = pd.Series(comm_codes[h_comm]).map(first_warden).to_numpy(dtype=object)
    rate = np.where(vulnerable, 4.0, 0.15)
    nvis = rng.poisson(rate)
    vh = np.repeat(np.arange(n), nvis)
    nv = len(vh)
    year_ago = as_of - timedelta(days=365)
    v_at = _times(rng, year_ago, as_of, nv)
    c_start, c_end = datetime(2025, 11, 1), datetime(2026, 2, 28)
    # Plant (d): the weak street's wardens called on their targets mostly outside the campaign's months.
    v_at = demo_plants.shift_weak_visits(np.random.default_rng([config.seed, 15]), v_at, (h_weak & is_target)[vh],
                                         c_start.date(), c_end.date(), config.as_of)
    visits = pd.DataFrame({
        "visit_id": _ids("V", nv, 8),
        "hh_id": households["hh_id"].to_numpy()[vh],
        "visitor_id": h_warden[vh],
        "campaign_id": None,
        "visited_at": v_at,
        "place": "入户走访",
        "situation": rng.choice(np.array(_SITUATIONS, dtype=object), nv),
    })
    # Campaign visits: most target households were visited during the winter campaign (plant (d): not
    # in the weak street).
    tgt = np.flatnonzero(is_target)
    visited_c = tgt[rng.random(len(tgt)) < np.where(h_weak[tgt], demo_plants.WEAK_CAMPAIGN_VISITS, 0.93)]
    cv = pd.DataFrame({
        "visit_id": _ids("VC", len(visited_c), 7),
        "hh_id": households["hh_id"].to_numpy()[visited_c],
        "visitor_id": h_warden[visited_c],
        "campaign_id": "C2025W",
        "visited_at": _times(rng, c_start, c_end, len(visited_c)),
        "place": "入户走访",
        "situation": "春节走访慰问",
    })
    visits = pd.concat([visits, cv], ignore_index=True)
    visits["created_at"] = visits["visited_at"]

    visit_hh = np.concatenate([vh, visited_c])  # each visit's household, in the visits' order
    # Plant (c): visits in the overdue cluster raise needs three times as often.
    raise_need = rng.random(len(visits)) < np.where(h_cluster[visit_hh], demo_plants.CLUSTER_NEED_RATE, 0.12)
    nv_idx = np.flatnonzero(raise_need)
    nn = len(nv_idx)
    need_cat = rng.choice(np.array(list(model.NEED_CATEGORIES), dtype=object), nn)
    need_hh = visit_hh[nv_idx]
    base = pd.DataFrame({
        "need_id": _ids("N", nn, 7),
        "hh_id": visits["hh_id"].to_numpy()[nv_idx],
        "visit_id": visits["visit_id"].to_numpy()[nv_idx],
        "raised_at": visits["visited_at"].to_numpy()[nv_idx],
        "category": need_cat,
        "description": pd.Series(need_cat).map(_NEED_TEXTS).to_numpy(),
    })
    say(0.7, "诉求流转 the needs' history")
    # Plant (c): and nothing raised there in the last STALLED_DAYS days has been settled.
    stalled = h_cluster[need_hh] & (base["raised_at"].to_numpy() >= np.datetime64(
        as_of - timedelta(days=demo_plants.STALLED_DAYS), "m"))
    needs, need_events = need_flow(np.random.default_rng([config.seed, 13]), base,
                                   _need_places(cells, communities, hxy[need_hh], h_comm[need_hh]), as_of,
                                   stalled=stalled)
    # -- assistance of the winter campaign -------------------------------------------------
    say(0.75, "救助慰问 assistance")
    street_of_comm = {c["code"]: c["parent_code"] for c in comm_rows}
    street_name = {a["code"]: a["name"] for a in admin_rows}
    h_street_unit = np.array([street_name[street_of_comm[c]] + "党工委" for c in comm_codes],
                             dtype=object)[h_comm]
    n_t = len(tgt)
    n_omit = max(5, n_t // 100) if n_t >= 20 else 0
    n_dup = max(5, n_t // 200) if n_t >= 20 else 0
    shuffled = rng.permutation(tgt)
    omit = shuffled[:n_omit]
    rest = shuffled[n_omit:]
    dup = rest[~h_under[rest]][:n_dup]  # plant (b): the under-served community's 200 yuan is never doubled
    helped = np.setdiff1d(tgt, omit)
    hh_ids = households["hh_id"].to_numpy()
    aid_frames = [pd.DataFrame({
        "hh_id": hh_ids[helped], "campaign_id": "C2025W", "programme": "情暖万家",
        "kind": "cash", "amount_yuan": np.where(h_under[helped], demo_plants.UNDERSERVED_YUAN, 500.0),
        "items": None, "goods_value_yuan": 0.0,
        "given_at": _times(rng, c_start, c_end, len(helped)), "giver_unit": h_street_unit[helped],
        "funding_source": "区财政",
    })]
    # Duplicates: the same programme again from the district's civil affairs bureau.
    aid_frames.append(pd.DataFrame({
        "hh_id": hh_ids[dup], "campaign_id": "C2025W", "programme": "情暖万家",
        "kind": "cash", "amount_yuan": 500.0, "items": None, "goods_value_yuan": 0.0,
        "given_at": _times(rng, c_start, c_end, len(dup)), "giver_unit": "区民政局",
        "funding_source": "区财政",
    }))
    goods = helped[rng.random(len(helped)) < np.where(h_under[helped], demo_plants.UNDERSERVED_GOODS, 0.6)]
    aid_frames.append(pd.DataFrame({
        "hh_id": hh_ids[goods], "campaign_id": "C2025W", "programme": "春节慰问物资",
        "kind": "goods", "amount_yuan": 0.0, "items": "大米10公斤、食用油5升",
        "goods_value_yuan": 150.0, "given_at": _times(rng, c_start, c_end, len(goods)),
        "giver_unit": comm_names[h_comm[goods]] + "居委会", "funding_source": "社会捐赠",
    }))
    party = np.array([("party_hardship" in categories[i]) for i in helped], dtype=bool)
    ph = helped[party]
    aid_frames.append(pd.DataFrame({
        "hh_id": hh_ids[ph], "campaign_id": "C2025W", "programme": "困难党员慰问",
        "kind": "cash", "amount_yuan": 477.0, "items": None, "goods_value_yuan": 0.0,
        "given_at": _times(rng, c_start, c_end, len(ph)), "giver_unit": "区委组织部",
        "funding_source": "党费",
    }))
    # Plant (a): two district bodies give most, and most generously, near their own offices.
    orng = np.random.default_rng([config.seed, 14])
    for k, idx, amounts in demo_plants.office_aid(orng, plants, hxy, helped, h_under):
        office = plants.offices.iloc[k]
        aid_frames.append(pd.DataFrame({
            "hh_id": hh_ids[idx], "campaign_id": "C2025W", "programme": office["programme"],
            "kind": "cash", "amount_yuan": amounts, "items": None, "goods_value_yuan": 0.0,
            "given_at": _times(orng, c_start, c_end, len(idx)), "giver_unit": office["unit"],
            "funding_source": office["funding_source"],
        }))
    assistance = pd.concat(aid_frames, ignore_index=True)
    assistance.insert(0, "aid_id", _ids("A", len(assistance), 7))
    for col in ("app_id", "receiver_name", "receiver_phone", "receiver_account", "receipt_ref"):
        assistance[col] = None

    # -- applications of the current campaign, programmes, budgets, planted red flags ----------------
    say(0.80, "救助申请 applications")
    wardens = {str(k): str(v) for k, v in first_warden.items()}
    apps = generate_applications(
        np.random.default_rng([config.seed, 13]),
        households=pd.DataFrame({"hh_id": hh_ids, "community_code": comm_codes[h_comm],
                                 "categories": categories, "head_name": households["head_name"],
                                 "phone": households["phone"]}),
        communities=communities[["code", "name", "parent_code", "street_name"]], district_code=_DISTRICT_CODE,
        wardens=wardens, targets=_TARGETS, aid_count=len(assistance), as_of=config.as_of,
        committee_street=str(comm_rows[0]["parent_code"]) if comm_rows else None)
    assistance = pd.concat([assistance, apps.assistance], ignore_index=True)
    households.loc[households["hh_id"].isin(apps.moved), "status"] = "moved"

    admin_units = pd.DataFrame(admin_rows + [
        {k: v for k, v in c.items() if k != "street_name"} for c in comm_rows
    ])
    # Local metres -> lon/lat for every polygon.
    for frame in (admin_units, communities, cells, patrol_areas):
        if len(frame):
            frame["geom"] = [_to_lonlat(g) for g in frame["geom"]]
    roads = plan.roads.copy()
    roads["geom"] = [round_line(_to_lonlat(g)) for g in roads["geom"]]
    from grid.demo_members import members_for

    members = members_for(households, seed=config.seed, as_of=config.as_of)
    programmes = pd.concat([apps.programmes, pd.DataFrame(demo_plants.OFFICE_PROGRAMMES).assign(
        target_categories=[list(_TARGETS)] * len(demo_plants.OFFICE_PROGRAMMES))[apps.programmes.columns]],
        ignore_index=True)
    offices = plants.offices.copy()
    offices["lon"], offices["lat"] = _xy_to_lonlat(offices.pop("x").to_numpy(), offices.pop("y").to_numpy())
    say(0.85, "生成完成 generated")
    return DemoDistrict(
        config=config, admin_units=admin_units, communities=communities, cells=cells,
        households=households, people=people, stations=stations, patrol_areas=patrol_areas,
        campaigns=campaigns, visits=visits, needs=needs, assistance=assistance,
        roads=roads, members=members, need_events=need_events,
        planted_duplicates=sorted(hh_ids[dup].tolist()),
        planted_omissions=sorted(hh_ids[omit].tolist()),
        programmes=programmes, budgets=apps.budgets, applications=apps.applications,
        application_events=apps.events, application_objections=apps.objections, household_history=apps.history,
        planted_flags=apps.planted, planted_offices=offices, planted_office_cells=plants.office_cells,
        planted_underserved=plants.underserved, planted_underserved_cells=plants.underserved_cells,
        planted_overdue_cells=plants.overdue_cells, planted_weak_street=plants.weak_street,
        addresses=addresses, homes=pd.Series(home, index=households["hh_id"].to_numpy(), name="addr_id"),
    )


# --------------------------------------------------------------------------- write
def build_demo(store: Store, config: DemoConfig = DemoConfig(),
               progress: Progress | None = None) -> DemoDistrict:
    """Generate the demo district and write it into an empty store, in one transaction.

    Raises
    ------
    WarmGridError
        If the store already holds households or cells.
    """
    say = progress or (lambda f, m: None)
    if store.count("households") or store.count("cells"):
        raise WarmGridError(
            f"数据库 {store.path} 已有数据，演示区只能写入空数据库。",
            f"the database {store.path} already holds data; the demo goes into an empty one only.",
        )
    d = generate(config, lambda f, m: say(f * 0.8, m))
    say(0.82, "写入数据库 writing to the database")
    with store.transaction() as cur:
        admin = d.admin_units.assign(wkb=_wkb(list(d.admin_units["geom"]))).drop(columns="geom")
        cur.register("_admin", admin)
        cur.execute("INSERT INTO admin_units SELECT code, name, level, parent_code,"
                    " ST_GeomFromWKB(wkb) FROM _admin")
        people = d.people
        cur.register("_people", people)
        cur.execute("INSERT INTO people SELECT person_id, name, role, unit_code, phone,"
                    " CASE WHEN lon IS NULL THEN NULL ELSE ST_Point(lon, lat) END, TRUE FROM _people")
        cells = d.cells.assign(wkb=_wkb(list(d.cells["geom"]))).drop(columns="geom")
        cur.register("_cells", cells)
        cur.execute("INSERT INTO cells (cell_id, name, community_code, geom, warden_id)"
                    " SELECT cell_id, name, community_code, ST_GeomFromWKB(wkb), warden_id FROM _cells")
        cur.register("_hh", d.households)
        cur.execute("INSERT INTO households (hh_id, geom, address, size, categories, head_name,"
                    " id_number, phone, status, updated_at) SELECT hh_id, ST_Point(lon, lat), address,"
                    " size, categories::TEXT[], head_name, id_number, phone, status, updated_at FROM _hh")
        cur.register("_members", d.members)
        cur.execute("INSERT INTO members SELECT member_id, hh_id, name, relation, id_number, birth_year,"
                    " disability, phone FROM _members")
        say(0.88, "写入站点、巡逻区与日志 stations, patrols, logs")
        cur.register("_st", d.stations)
        cur.execute("INSERT INTO stations (station_id, name, type, geom, radius_m, capacity,"
                    " community_code) SELECT station_id, name, type, ST_Point(lon, lat), radius_m,"
                    " capacity, community_code FROM _st")
        if len(d.patrol_areas):
            pa = d.patrol_areas.assign(wkb=_wkb(list(d.patrol_areas["geom"]))).drop(columns="geom")
            cur.register("_pa", pa)
            cur.execute("INSERT INTO patrol_areas SELECT area_id, team, kind, ST_GeomFromWKB(wkb),"
                        " members, community_code FROM _pa")
        cur.register("_camp", d.campaigns)
        cur.execute("INSERT INTO campaigns SELECT campaign_id, name, unit_code, starts_on, ends_on,"
                    " target_categories::TEXT[], budget_yuan FROM _camp")
        cur.register("_vis", d.visits)
        cur.execute("INSERT INTO visits SELECT visit_id, hh_id, visitor_id, campaign_id, visited_at,"
                    " place, situation, created_at FROM _vis")
        cur.register("_needs", d.needs)
        cur.execute("INSERT INTO needs (need_id, hh_id, visit_id, raised_at, resolved_at, category, description,"
                    " status, unit_code, assigned_at, due_at, satisfaction, closed_at, escalated_at)"
                    " SELECT need_id, hh_id, visit_id, raised_at, resolved_at, category, description, status,"
                    " unit_code, assigned_at, due_at, satisfaction, closed_at, escalated_at FROM _needs")
        cur.register("_events", d.need_events.assign(_seq=np.arange(len(d.need_events))))
        # Numbered by the database in time order (the frame's order).
        cur.execute('INSERT INTO need_events (need_id, "at", by_user, from_status, to_status, note, step, unit_code)'
                    " SELECT need_id, \"at\", by_user, from_status, to_status, note, step, unit_code FROM _events"
                    " ORDER BY _seq")
        cur.register("_aid", d.assistance)
        cur.execute("INSERT INTO assistance (aid_id, hh_id, campaign_id, programme, kind, amount_yuan, items,"
                    " goods_value_yuan, given_at, giver_unit, funding_source, app_id, receiver_name, receiver_phone,"
                    " receiver_account, receipt_ref) SELECT aid_id, hh_id, campaign_id, programme, kind,"
                    " amount_yuan, items, goods_value_yuan, given_at, giver_unit, funding_source, app_id,"
                    " receiver_name, receiver_phone, receiver_account, receipt_ref FROM _aid")
        _write_applications(cur, d)
        if len(d.addresses):
            cur.register("_addr", d.addresses)
            cur.execute("INSERT INTO addresses (addr_id, address, geom, level, parent_id, community_code)"
                        " SELECT addr_id, address, ST_Point(lon, lat), level, parent_id, community_code FROM _addr")
            cur.unregister("_addr")
        if len(d.roads):
            rd = d.roads.assign(wkb=_wkb(list(d.roads["geom"]))).drop(columns="geom")
            cur.register("_roads", rd)
            cur.execute("INSERT INTO roads (road_id, geom, kind, name, walkable, layer)"
                        " SELECT road_id, ST_GeomFromWKB(wkb), kind, name, walkable, layer FROM _roads")
            cur.unregister("_roads")
        for name in ("_admin", "_people", "_cells", "_hh", "_st", "_camp", "_vis", "_needs", "_events", "_aid"):
            cur.unregister(name)
        if len(d.patrol_areas):
            cur.unregister("_pa")
        cur.execute("INSERT OR REPLACE INTO warmgrid_meta VALUES ('demo_seed', ?), "
                    "('demo_households', ?), ('demo_as_of', ?)",
                    [str(config.seed), str(config.households), config.as_of.isoformat()])
        say(0.93, "计算所属网格 deriving household cells")
        store.refresh_derived()
        say(0.97, "演示账号 demo accounts")
        _demo_accounts(store, d)
    say(1.0, "完成 done")
    return d


def _write_applications(cur: Any, d: DemoDistrict) -> None:
    """Programmes, budgets, applications with their events and objections, and household history."""
    frames = (("_prog", d.programmes, "INSERT INTO programmes (code, name, kind, standard_yuan, target_categories,"
               " needs_approval, approval_from, notice_days, description) SELECT code, name, kind, standard_yuan,"
               " target_categories::TEXT[], needs_approval, approval_from, notice_days, description FROM _prog"),
              ("_budgets", d.budgets, "INSERT INTO budgets (unit_code, programme, campaign_id, amount_yuan, set_at,"
               " set_by) SELECT unit_code, programme, campaign_id, amount_yuan, set_at, set_by FROM _budgets"),
              ("_apps", d.applications, "INSERT INTO applications (app_id, hh_id, programme, campaign_id, unit_code,"
               " amount_yuan, items, reason, status, applied_at, applied_by, notice_starts_on, notice_ends_on,"
               " notice_contact, decided_at, given_at, receipt_ref, rejected_reason) SELECT app_id, hh_id, programme,"
               " campaign_id, unit_code, amount_yuan, items, reason, status, applied_at, applied_by,"
               " notice_starts_on, notice_ends_on, notice_contact, decided_at, given_at, receipt_ref,"
               " rejected_reason FROM _apps"),
              ("_events", d.application_events, 'INSERT INTO application_events (event_id, app_id, seq, "at", by_user,'
               ' step, from_status, to_status, note) SELECT event_id, app_id, seq, "at", by_user, step, from_status,'
               " to_status, note FROM _events"),
              ("_objections", d.application_objections, "INSERT INTO application_objections (objection_id, app_id,"
               " raised_at, recorded_by, objector, content, status, settled_at, settled_by, settlement)"
               " SELECT objection_id, app_id, raised_at, recorded_by, objector, content, status, settled_at,"
               " settled_by, settlement FROM _objections"),
              ("_history", d.household_history, "INSERT INTO household_history (hh_id, changed_at, change, old_value,"
               " new_value, source) SELECT hh_id, changed_at, change, old_value, new_value, source FROM _history"))
    for name, frame, sql in frames:
        if len(frame):
            cur.register(name, frame)
            cur.execute(sql)
            cur.unregister(name)


def _demo_accounts(store: Store, d: DemoDistrict) -> None:
    from grid import users

    street = str(d.admin_units.loc[d.admin_units["level"] == "street", "code"].iloc[0])
    warden = d.cells["warden_id"].dropna().iloc[0]
    cells = sorted(d.cells.loc[d.cells["warden_id"] == warden, "cell_id"])
    community = _demo_community(d)
    scopes = {"admin": [], "leader": [_DISTRICT_CODE], "committee": [street], "warden": cells,
              "inspector": [_DISTRICT_CODE], "community": [community]}
    names = {"admin": "管理员（演示）", "leader": "区领导（演示）", "committee": "街道党工委（演示）",
             "warden": "网格员（演示）", "inspector": "督查组（演示）", "community": "社区工作人员（演示）"}
    for role, (username, password) in DEMO_ACCOUNTS.items():
        users.create_user(store, username, password, role, scopes[role], display_name=names[role],
                           person_id=str(warden) if role == "warden" else None, by="demo")


def _demo_community(d: DemoDistrict) -> str:
    """The demo community worker's community: the demo warden's (in the demo committee's street)."""
    warden = d.cells["warden_id"].dropna().iloc[0]
    return str(d.cells.loc[d.cells["warden_id"] == warden, "community_code"].iloc[0])


def _need_places(cells: pd.DataFrame, communities: pd.DataFrame, xy: np.ndarray, comm_idx: np.ndarray) -> Households:
    """Where the need households are (cells still in local metres): the cell holding each point
    (the lowest cell id on a shared edge, as the store derives it), its warden, community and
    street, and the demo accounts' units."""
    tree = shapely.STRtree(cells["geom"].to_numpy())
    pts = shapely.points(xy[:, 0], xy[:, 1])
    hit_pt, hit_cell = tree.query(pts, predicate="intersects")
    first = np.full(len(xy), -1)
    order = np.lexsort((hit_cell, hit_pt))  # by point, then cell index (cells are in cell_id order)
    hp, hc = hit_pt[order], hit_cell[order]
    keep = np.r_[True, hp[1:] != hp[:-1]] if len(hp) else np.zeros(0, dtype=bool)
    first[hp[keep]] = hc[keep]
    ids = cells["cell_id"].to_numpy(dtype=object)
    wardens = cells["warden_id"].to_numpy(dtype=object)
    cell = np.array([ids[i] if i >= 0 else None for i in first], dtype=object)
    warden = np.array([wardens[i] if i >= 0 and isinstance(wardens[i], str) else None for i in first], dtype=object)
    comm = communities["code"].to_numpy(dtype=object)[comm_idx]
    # The household's community is its cell's (a point on a community edge may be counted in either).
    comm = np.where(first >= 0, cells["community_code"].to_numpy(dtype=object)[np.maximum(first, 0)], comm)
    street = np.array([f"{c[:9]}000" for c in comm], dtype=object)
    demo_warden = cells["warden_id"].dropna().iloc[0]
    demo_comm = str(cells.loc[cells["warden_id"] == demo_warden, "community_code"].iloc[0])
    return Households(cell=cell, community=comm, street=street, warden=warden, demo_warden=str(demo_warden),
                      demo_community=demo_comm, demo_street=f"{demo_comm[:9]}000")


def build_demo_file(path: str | Path, config: DemoConfig = DemoConfig(), *, force: bool = False,
                    progress: Progress | None = None) -> DemoDistrict:
    """Build the demo into a new database file, atomically.

    The district is written to ``PATH.building`` and renamed to ``PATH`` only
    when complete, so a failure or interruption never leaves a half-built file.

    Raises
    ------
    WarmGridError
        If ``path`` exists and ``force`` is false.
    """
    target = Path(path)
    if target.exists() and not force:
        raise WarmGridError(
            f"{target} 已存在；如要替换请加 --force。",
            f"{target} already exists; pass --force to replace it.",
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".building")
    for leftover in (tmp, Path(str(tmp) + ".wal")):
        leftover.unlink(missing_ok=True)
    try:
        store = open_store(tmp)
        try:
            d = build_demo(store, config, progress)
        finally:
            store.close()
        Path(str(target) + ".wal").unlink(missing_ok=True)  # a stale log must not replay
        os.replace(tmp, target)
    finally:
        for leftover in (tmp, Path(str(tmp) + ".wal")):
            leftover.unlink(missing_ok=True)
    return d
