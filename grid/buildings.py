"""Buildings (楼栋): the households behind one door number, drawn as one marker on a warden's map.

A standard address (一标三实) runs 小区 → 门牌/楼栋 → 单元 → 户室; the households of one building
share everything up to the building and differ in their unit and room. Their points lie a few
metres apart (or on one point), so on a phone a building's households would stack into one dot
that no finger can pick: the map draws a building once, with its count and its worst status.

:func:`door_address` cuts an address after its last door or building number; :func:`group_buildings`
groups a warden's households by cell and door address. Pure functions of frames.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pandas as pd

__all__ = ["door_address", "group_buildings", "STATUS_ORDER"]

#: A building's status, worst first: a target household overdue for its visit, a target household
#: visited in time, no target household.
STATUS_ORDER: tuple[str, ...] = ("due", "visited", "other")

# The last door or building number of an address: 12号, 12号楼, 3栋, 5幢, 2座, 7号院 (full-width digits
# and 十二号-style numerals are read after NFKC; the Chinese numerals are matched as they are).
_DOOR = re.compile(r"^(.*(?:\d+|[一二三四五六七八九十百零〇两]+)\s*(?:号楼|号院|栋|幢|座|号))")


def door_address(address: object) -> str:
    """The address up to its last door or building number (the building), without unit and room.

    An address without any door number is its own building.

    Examples
    --------
    >>> door_address("滨海社区中山路12号502室")
    '滨海社区中山路12号'
    >>> door_address("中山路12号3栋2单元502室")
    '中山路12号3栋'
    >>> door_address("思明区中山路１２号楼 ３０１")
    '思明区中山路12号楼'
    >>> door_address("城中村")
    '城中村'
    """
    text = unicodedata.normalize("NFKC", str(address or "")).strip()
    m = _DOOR.match(text)
    return (m.group(1) if m else text).strip()


def group_buildings(households: pd.DataFrame, due: np.ndarray | pd.Series) -> pd.DataFrame:
    """One row per building of ``households`` (``hh_id, cell_id, address, lon, lat, target``).

    ``due`` marks the households whose visit is overdue (target households only count). Returns
    ``building, cell_id, door, lon, lat, n, n_due, n_target, status, hh_ids``: the building's key
    (``cell_id`` and door address), the mean position of its households, how many households it
    holds, how many are due and how many are targets, its worst status (:data:`STATUS_ORDER`) and
    its households' ids in the frame's order. Buildings come most urgent first (status, then
    households due, then size), ties by key.

    Examples
    --------
    >>> hh = pd.DataFrame({"hh_id": ["a", "b", "c"], "cell_id": ["c1"] * 3,
    ...                    "address": ["路1号101室", "路1号102室", "路2号101室"],
    ...                    "lon": [118.0, 118.00002, 118.01], "lat": [24.0, 24.0, 24.0],
    ...                    "target": [True, False, True]})
    >>> b = group_buildings(hh, np.array([True, False, False]))
    >>> b[["door", "n", "n_due", "status"]].values.tolist()
    [['路1号', 2, 1, 'due'], ['路2号', 1, 0, 'visited']]
    >>> b["hh_ids"].iloc[0]
    ['a', 'b']
    """
    cols = ["building", "cell_id", "door", "lon", "lat", "n", "n_due", "n_target", "status", "hh_ids"]
    if households.empty:
        return pd.DataFrame(columns=cols)
    target = households["target"].to_numpy(dtype=bool)
    due_arr = np.asarray(due, dtype=bool) & target
    door = households["address"].map(door_address)
    cell = households["cell_id"].astype(object).where(households["cell_id"].notna(), "")
    frame = pd.DataFrame({
        "building": cell.astype(str) + "|" + door, "cell_id": households["cell_id"].to_numpy(), "door": door,
        "lon": households["lon"].to_numpy(dtype=float), "lat": households["lat"].to_numpy(dtype=float),
        "due": due_arr, "target": target, "hh_id": households["hh_id"].astype(str).to_numpy()})
    out = frame.groupby("building", sort=False).agg(
        cell_id=("cell_id", "first"), door=("door", "first"), lon=("lon", "mean"), lat=("lat", "mean"),
        n=("hh_id", "size"), n_due=("due", "sum"), n_target=("target", "sum"), hh_ids=("hh_id", list),
    ).reset_index()
    out["n_due"] = out["n_due"].astype(int)
    out["n_target"] = out["n_target"].astype(int)
    out["status"] = np.where(out["n_due"] > 0, "due", np.where(out["n_target"] > 0, "visited", "other"))
    rank = out["status"].map({s: i for i, s in enumerate(STATUS_ORDER)})
    out = out.assign(_rank=rank).sort_values(["_rank", "n_due", "n", "building"],
                                             ascending=[True, False, False, True], kind="stable")
    return out.drop(columns="_rank").reset_index(drop=True)[cols]
