"""The demo district's household members (一户一档): one row per person of every household.

Deterministic from the households and a seed, with a random stream of its own (so the rest
of the demo stays as it was):

- the head is the household's ``head_name``, ``id_number`` and ``phone``;
- the others (``size - 1`` of them) are, in order, a spouse (most households of two or more
  whose head is under 85), then children, a parent and grandchildren, with birth years
  that fit the head's (a child 22–38 years younger, a parent 22–32 years older and alive
  under 100, a grandchild 45–65 years younger and not born in the future); children share
  the head's surname;
- every member has a valid GB 11643 ID number whose birth date is in their birth year;
- a household in the ``disabled`` category has one member with a disability certificate
  (grade 1–4), the head when they live alone;
- about one adult member in three has a mobile phone of their own.

Examples
--------
>>> hh = pd.DataFrame({"hh_id": ["H1", "H2"], "size": [1, 3], "head_name": ["王伟", "李娜"],
...                    "id_number": ["35020319500101001X", "350203198001010015"], "phone": ["13800000001", None],
...                    "categories": [["disabled"], []]})
>>> m = members_for(hh, seed=1, as_of=date(2026, 11, 15))
>>> m.groupby("hh_id").size().to_dict(), m.loc[m.hh_id == "H1", "disability"].notna().item()
({'H1': 1, 'H2': 3}, True)
>>> m.loc[m.relation == "head", "name"].tolist()
['王伟', '李娜']
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

__all__ = ["members_for"]

_GIVEN = list("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国玉志珍海燕晨宇欣怡子涵浩然")
_OTHERS = ("surname", "child", "parent", "grandchild")


def _id_numbers(rng: np.random.Generator, births: np.ndarray) -> np.ndarray:
    """Valid 18-character ID numbers (region 350203) for birth dates ``YYYYMMDD``."""
    n = len(births)
    if n == 0:
        return np.array([], dtype=object)
    seq = rng.integers(0, 1000, n)
    body = np.char.add(np.char.add("350203", births.astype(str)), np.char.zfill(seq.astype(str), 3))
    digits = np.frombuffer("".join(body.tolist()).encode(), dtype=np.uint8).reshape(n, 17) - 48
    weights = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
    check = np.array(list("10X98765432"))[(digits * weights).sum(axis=1) % 11]
    return np.char.add(body, check).astype(object)


def distinct_ids(ids: np.ndarray, taken: set[str] | frozenset[str] = frozenset()) -> np.ndarray:
    """``ids`` with every repeat (and every number in ``taken``) moved to the next free sequence
    number of the same birth date (digits 15-17), check digit recomputed: one person, one number.

    Random draws collide (a birth date and 3 random digits); the importer refuses one ID number for
    two people, so the demo must not make them. No random numbers are drawn (the demo's other streams
    stay as they were).

    >>> distinct_ids(np.array(["350203195001010012", "350203195001010012"], dtype=object)).tolist()
    ['350203195001010012', '350203195001010028']
    """
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    # The weighted sum of digits 15-17 for each sequence number: the check digit of a new
    # sequence number is then one addition away (the walk below probes many per crowded date).
    seq_sum = [8 * (q // 100) + 4 * (q // 10 % 10) + 2 * (q % 10) for q in range(1000)]
    used = set(taken)
    out = np.asarray(ids, dtype=object).copy()
    for i, idn in enumerate(out.tolist()):
        if idn is None or len(str(idn)) != 18:
            continue
        s = str(idn)
        if s in used:
            head = s[:14]
            base = sum(int(c) * w for c, w in zip(head, weights[:14], strict=True))
            seq = int(s[14:17])
            for _ in range(1000):
                seq = (seq + 1) % 1000
                s = f"{head}{seq:03d}" + "10X98765432"[(base + seq_sum[seq]) % 11]
                if s not in used:
                    break
        used.add(s)
        out[i] = s
    return out


def members_for(households: pd.DataFrame, *, seed: int, as_of: date) -> pd.DataFrame:
    """Every household's members: ``member_id, hh_id, name, relation, id_number, birth_year, disability, phone``.

    ``households`` carries ``hh_id, size, head_name, id_number, phone, categories``.
    """
    rng = np.random.default_rng([seed, 11643])
    hh = households.reset_index(drop=True)
    n = len(hh)
    size = hh["size"].to_numpy(dtype=int)
    head_id = hh["id_number"].astype(str).to_numpy()
    head_year = np.array([int(s[6:10]) if len(s) == 18 else as_of.year - 50 for s in head_id])
    # One row per member: the head first, then the others of the household.
    rep = np.repeat(np.arange(n), size)
    pos = np.concatenate([np.arange(k) for k in size]) if n else np.array([], dtype=int)
    hy = head_year[rep]
    relation = np.full(len(rep), "child", dtype=object)
    relation[pos == 0] = "head"
    spouse = (pos == 1) & (as_of.year - hy < 85) & (rng.random(len(rep)) < 0.85)
    relation[spouse] = "spouse"
    later = (pos >= 1) & ~spouse
    draw = rng.random(len(rep))
    relation[later & (draw < 0.70)] = "child"
    relation[later & (draw >= 0.70) & (draw < 0.85)] = "parent"
    relation[later & (draw >= 0.85)] = "grandchild"
    year = hy.copy()
    year[spouse] = hy[spouse] + rng.integers(-4, 5, int(spouse.sum()))
    for rel, lo, hi in (("child", 22, 39), ("parent", -32, -21), ("grandchild", 45, 66)):
        sel = relation == rel
        year[sel] = hy[sel] + rng.integers(lo, hi, int(sel.sum()))
    too_old = (relation == "parent") & (as_of.year - year >= 100)
    relation[too_old] = "sibling"
    year[too_old] = hy[too_old] + rng.integers(-3, 4, int(too_old.sum()))
    unborn = year > as_of.year
    relation[unborn & (relation == "grandchild")] = "child"
    year = np.minimum(year, as_of.year)
    # Names: the head's own; children and grandchildren take the head's surname.
    head_name = hh["head_name"].astype(str).to_numpy()[rep]
    given = np.array(_GIVEN, dtype=object)
    g1, g2 = rng.choice(given, len(rep)), rng.choice(given, len(rep))
    two = rng.random(len(rep)) < 0.7
    sur_same = np.array([s[:1] for s in head_name], dtype=object)
    from grid.demo import _SURNAMES

    sur_other = rng.choice(np.array(_SURNAMES, dtype=object), len(rep))
    family = np.isin(relation, ["child", "grandchild"])
    surname = np.where(family, sur_same, sur_other)
    name = np.where(two, surname + g1 + g2, surname + g1)
    name[pos == 0] = head_name[pos == 0]
    # ID numbers: the head's own; the others' born in their year.
    month = rng.integers(1, 13, len(rep))
    day = rng.integers(1, 29, len(rep))
    this_year = year >= as_of.year  # born this year: early enough not to be in the future
    month[this_year], day[this_year] = 1, 1
    births = np.char.add(np.char.add(year.astype(str), np.char.zfill(month.astype(str), 2)),
                         np.char.zfill(day.astype(str), 2))
    ids = _id_numbers(rng, births)
    ids[pos == 0] = head_id[rep][pos == 0]
    others = pos != 0
    ids[others] = distinct_ids(ids[others], frozenset(head_id.tolist()))
    year[pos == 0] = head_year[rep][pos == 0]
    # Disability: one member of each household in the 'disabled' category.
    cats = hh["categories"].map(lambda c: list(c) if c is not None else []).to_numpy()
    disabled_hh = np.array(["disabled" in c for c in cats])
    disability = np.full(len(rep), None, dtype=object)
    pick = np.array([rng.integers(k) for k in size])  # which member, per household
    who = disabled_hh[rep] & (pos == pick[rep])
    disability[who] = rng.choice(np.array(["grade1", "grade2", "grade3", "grade4"], dtype=object), int(who.sum()))
    # Phones: the head's; about a third of the other adults have their own.
    phone = np.full(len(rep), None, dtype=object)
    head_phone = hh["phone"].to_numpy(dtype=object)[rep]
    phone[pos == 0] = head_phone[pos == 0]
    own = (pos > 0) & (as_of.year - year >= 18) & (rng.random(len(rep)) < 0.33)
    phone[own] = np.char.add("139", np.char.zfill(rng.integers(0, 100_000_000, int(own.sum())).astype(str), 8))
    hh_ids = hh["hh_id"].astype(str).to_numpy()[rep]
    member_id = np.char.add(np.char.add(hh_ids.astype(str), "-"), (pos + 1).astype(str)).astype(object)
    return pd.DataFrame({
        "member_id": member_id, "hh_id": hh_ids.astype(object), "name": name, "relation": relation,
        "id_number": ids, "birth_year": year.astype("int64"), "disability": disability, "phone": phone,
    })
