"""The demo district's standard-address register (一标三实) and its households' addresses.

Every building of the demo has one standard address, and the households in it carry that
address with their room (:func:`register`):

- a building on a road has a door number (门牌), unique on its road across the district:
  ``思明区嘉莲街道莲花社区中山路12号``, and its households live at ``莲花社区中山路12号502室``;
- about a third of the buildings stand in estates (小区: 莲花新村, 镇海花园 ...), numbered 1栋,
  2栋 ... inside it; the register holds the estate (its point the buildings' centre) and each
  building (楼栋, its parent the estate): ``思明区嘉莲街道莲花社区莲花新村3栋``, and its households
  live at ``莲花社区莲花新村3栋2单元502室``.

The register leaves the entrances (单元) and rooms out: a household is placed at its building.
The estates are drawn from their own random stream, so the rest of the demo is the same with
or without them.

Examples
--------
>>> import numpy as np, pandas as pd
>>> comms = pd.DataFrame({"code": ["350203001001"], "name": ["莲花社区"], "street_name": ["嘉莲街道"]})
>>> xy = np.array([[0.0, 0.0], [30.0, 0.0], [2000.0, 0.0]])
>>> reg, addr, home = register(np.random.default_rng(1), comms, xy, np.zeros(3, dtype=int), np.array(["中山路"] * 3),
...                      np.array([12, 12, 40]), np.array([0, 1, 2]), np.array([502, 301, 101]), estate_share=0.0)
>>> list(reg["address"]), list(addr), list(home) == list(reg["addr_id"])
(['思明区嘉莲街道莲花社区中山路12号', '思明区嘉莲街道莲花社区中山路13号', '思明区嘉莲街道莲花社区中山路40号'], ['莲花社区中山路12号502室', '莲花社区中山路13号301室', '莲花社区中山路40号101室'], True)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

__all__ = ["register", "DISTRICT_WORD", "ESTATE_SUFFIXES"]

#: The district as the register writes it.
DISTRICT_WORD = "思明区"
#: Estate names: the community's word and one of these.
ESTATE_SUFFIXES = ("新村", "花园", "雅苑", "公寓", "小区", "名苑")
_ESTATE_RADIUS_M = 160.0
_ESTATE_MAX = 18


def register(rng: np.random.Generator, communities: pd.DataFrame, bxy: np.ndarray, b_comm: np.ndarray,
             b_road: np.ndarray, b_num: np.ndarray, b_of_h: np.ndarray, room: np.ndarray, *,
             estate_share: float = 0.35,
             to_lonlat: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None,
             ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The register (``addr_id, address, lon, lat, level, parent_id, community_code``; ``lon``/``lat``
    the metric ``bxy`` when ``to_lonlat`` is None), every household's address, and the register entry
    of every household's building (what a correct match must find).

    Parameters
    ----------
    rng : Generator
        The estates' own random stream.
    communities : DataFrame
        ``code``, ``name``, ``street_name``, in the order ``b_comm`` indexes.
    bxy, b_comm, b_road, b_num
        Per building: metric position, community index, road and drawn door number (a door number
        drawn twice on a road becomes the road's next number after its highest).
    b_of_h, room
        Per household: its building and room number (floor × 100 + door).
    estate_share : float
        About this share of the buildings stands in estates.
    """
    nb = len(bxy)
    num = _unique_numbers(b_road, b_num)
    estate_of, estates = _estates(rng, bxy, b_comm, estate_share)
    codes = communities["code"].astype(str).to_numpy()
    cnames = communities["name"].astype(str).to_numpy()
    snames = communities["street_name"].astype(str).to_numpy()
    words = [n[:-2] if n.endswith("社区") else n for n in cnames]
    rows: list[dict[str, object]] = []
    bld_id = np.empty(nb, dtype=object)
    bld_text = np.empty(nb, dtype=object)  # what households write: 莲花社区中山路12号 / 莲花社区莲花新村3栋
    seq = {c: 0 for c in range(len(codes))}
    e_names: list[str] = []
    taken: set[str] = set()
    for members in estates:
        c = int(b_comm[members[0]])
        k = 0
        while True:
            name = words[c] + ESTATE_SUFFIXES[k % len(ESTATE_SUFFIXES)] + ("" if k < len(ESTATE_SUFFIXES)
                                                                           else f"{k // len(ESTATE_SUFFIXES) + 1}期")
            k += 1
            if name not in taken:
                break
        taken.add(name)
        e_names.append(name)
    for e, members in enumerate(estates):
        c = int(b_comm[members[0]])
        seq[c] += 1
        eid = f"{codes[c]}X{seq[c]:05d}"
        prefix = f"{DISTRICT_WORD}{snames[c]}{cnames[c]}"
        centre = bxy[members].mean(axis=0)
        rows.append({"addr_id": eid, "address": prefix + e_names[e], "x": centre[0], "y": centre[1],
                     "level": "estate", "parent_id": None, "community_code": codes[c]})
        order = sorted(members, key=lambda b: (round(float(bxy[b, 1]) / 40.0), float(bxy[b, 0])))
        for k, b in enumerate(order, start=1):
            seq[c] += 1
            bid = f"{codes[c]}L{seq[c]:05d}"
            rows.append({"addr_id": bid, "address": f"{prefix}{e_names[e]}{k}栋", "x": bxy[b, 0], "y": bxy[b, 1],
                         "level": "building", "parent_id": eid, "community_code": codes[c]})
            bld_id[b], bld_text[b] = bid, f"{cnames[c]}{e_names[e]}{k}栋"
    for b in range(nb):
        if estate_of[b] >= 0:
            continue
        c = int(b_comm[b])
        seq[c] += 1
        did = f"{codes[c]}M{seq[c]:05d}"
        rows.append({"addr_id": did, "address": f"{DISTRICT_WORD}{snames[c]}{cnames[c]}{b_road[b]}{num[b]}号",
                     "x": bxy[b, 0], "y": bxy[b, 1], "level": "door", "parent_id": None, "community_code": codes[c]})
        bld_id[b], bld_text[b] = did, f"{cnames[c]}{b_road[b]}{num[b]}号"
    reg = pd.DataFrame(rows, columns=["addr_id", "address", "x", "y", "level", "parent_id", "community_code"])
    if to_lonlat is not None:
        lon, lat = to_lonlat(reg["x"].to_numpy(dtype=float), reg["y"].to_numpy(dtype=float))
    else:
        lon, lat = reg["x"].to_numpy(dtype=float), reg["y"].to_numpy(dtype=float)
    reg = reg.drop(columns=["x", "y"]).assign(lon=lon, lat=lat)
    reg = reg[["addr_id", "address", "lon", "lat", "level", "parent_id", "community_code"]]
    texts = bld_text.tolist()
    estate = (estate_of >= 0).tolist()
    address = np.array([f"{texts[b]}{(r % 100 - 1) // 2 + 1}单元{r}室" if estate[b] else f"{texts[b]}{r}室"
                        for b, r in zip(b_of_h.tolist(), room.tolist(), strict=True)], dtype=object)
    return reg, address, bld_id[b_of_h].astype(object)


def _unique_numbers(roads: np.ndarray, nums: np.ndarray) -> np.ndarray:
    """Door numbers unique on each road: a number drawn twice on a road becomes the road's highest plus one."""
    used: dict[str, set[int]] = {}
    top: dict[str, int] = {}
    out = np.empty(len(nums), dtype=np.int64)
    for b, (road, n) in enumerate(zip(roads, nums, strict=True)):
        key = str(road)
        taken = used.setdefault(key, set())
        k = int(n)
        if k in taken:  # the road's next number after its highest: free, found at once
            k = top[key] + 1
        taken.add(k)
        top[key] = max(top.get(key, 0), k)
        out[b] = k
    return out


def _estates(rng: np.random.Generator, bxy: np.ndarray, b_comm: np.ndarray, share: float
             ) -> tuple[np.ndarray, list[list[int]]]:
    """Group about ``share`` of the buildings into estates: buildings of one community near a seed building."""
    nb = len(bxy)
    estate_of = np.full(nb, -1, dtype=np.int64)
    estates: list[list[int]] = []
    if share <= 0 or nb == 0:
        return estate_of, estates
    from scipy.spatial import cKDTree

    target = int(round(share * nb))
    order = rng.permutation(nb).tolist()
    tree = cKDTree(bxy)
    radius = _ESTATE_RADIUS_M
    if nb > 2:  # in a sparse district an estate spreads wider: about twice the typical spacing
        radius = max(radius, 2.0 * float(np.median(tree.query(bxy, k=2)[0][:, 1])))
    comm = b_comm.tolist()
    free = [True] * nb
    placed = 0
    for seed in order:
        if placed >= target:
            break
        if not free[seed]:
            continue
        dist, idx = tree.query(bxy[seed], k=min(nb, 4 * _ESTATE_MAX), distance_upper_bound=radius)
        near = [int(b) for d, b in zip(dist.tolist(), idx.tolist(), strict=True)
                if d <= radius and b < nb and free[b] and comm[b] == comm[seed]][:_ESTATE_MAX]
        if len(near) < 2:
            continue
        for b in near:
            free[b] = False
        estate_of[near] = len(estates)
        estates.append(near)
        placed += len(near)
    return estate_of, estates
