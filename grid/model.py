"""Vocabularies shared by the whole product: hardship categories, station types
with their default service radii, people's roles, need categories and user roles.

Codes (ASCII) are what the database stores; every code has a Chinese and an
English label. The database's CHECK constraints are generated from these
tuples, so this module is the single source of truth.

Examples
--------
>>> STATION_TYPES["clinic"].radius_m
300.0
>>> label("dibao_urban")
'城市低保'
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Term",
    "StationType",
    "HARDSHIP",
    "VULNERABLE",
    "FIVE_MUST_VISIT",
    "STATION_TYPES",
    "PERSON_ROLES",
    "USER_ROLES",
    "NEED_CATEGORIES",
    "NEED_STATUSES",
    "AID_KINDS",
    "PATROL_KINDS",
    "HOUSEHOLD_STATUSES",
    "ADMIN_LEVELS",
    "APPLICATION_STATUSES",
    "APPLICATION_STEPS",
    "OBJECTION_STATUSES",
    "label",
    "codes",
]


@dataclass(frozen=True)
class Term:
    """A vocabulary entry: stored code, Chinese and English label."""

    code: str
    zh: str
    en: str


@dataclass(frozen=True)
class StationType(Term):
    """A station type with its default service radius (metres).

    ``life_circle`` is the GB 50180-2018 level the facility is assigned to:
    5, 10 or 15 minutes' walk (about 300 m, 500 m and 800–1,000 m).
    """

    radius_m: float = 500.0
    life_circle: int = 10


def _index(*terms: Term) -> dict[str, Term]:
    return {t.code: t for t in terms}


#: Hardship categories (困难类别). A household may carry several.
HARDSHIP: dict[str, Term] = _index(
    Term("dibao_urban", "城市低保", "urban minimum living guarantee"),
    Term("dibao_rural", "农村低保", "rural minimum living guarantee"),
    Term("tekun", "特困供养", "destitute (state-supported)"),
    Term("wubao_central", "五保集中供养", "five guarantees, in a home"),
    Term("wubao_home", "五保分散供养", "five guarantees, at home"),
    Term("disabled", "残疾", "disabled"),
    Term("elderly_alone", "孤寡/独居老人", "elderly living alone"),
    Term("empty_nest", "空巢老人", "empty-nest elderly"),
    Term("serious_illness", "大病/因病致贫", "serious illness"),
    Term("party_hardship", "困难党员", "party member in hardship"),
    Term("veteran_family", "优抚对象", "entitled veteran's family"),
    Term("zero_employment", "零就业家庭", "no one employed"),
    Term("laid_off_4050", "4050人员", "laid-off older worker (40/50)"),
    Term("relocated", "拆迁户", "relocated household"),
    Term("landless_farmer", "失地农民", "landless farmer"),
    Term("migrant_family", "农民工家庭", "migrant worker's family"),
)

#: Categories that make a household "vulnerable" (困难群众) in coverage counts.
VULNERABLE: tuple[str, ...] = tuple(HARDSHIP)

#: 五必访 groups that map onto hardship categories (the others — party
#: representatives, capable earners, retired cadres, petitioners — are people
#: attributes outside the household register).
FIVE_MUST_VISIT: tuple[str, ...] = ("tekun", "wubao_central", "wubao_home", "dibao_urban", "dibao_rural")

#: Station types (服务载体) and default radii from the GB 50180-2018 life circles.
STATION_TYPES: dict[str, StationType] = {
    t.code: t
    for t in (
        StationType("party_service", "党群服务站", "party-and-people service station", 300.0, 5),
        StationType("clinic", "卫生室", "community clinic", 300.0, 5),
        StationType("day_care", "日间照料中心", "elderly day-care centre", 300.0, 5),
        StationType("police", "警务室", "police office", 500.0, 10),
        StationType("charity_store", "爱心超市", "charity store", 500.0, 10),
        StationType("service_hall", "便民服务大厅", "one-stop service hall", 1000.0, 15),
        StationType("health_center", "社区卫生服务中心", "community health centre", 1000.0, 15),
        StationType("elderly_home", "敬老院", "home for the elderly", 1000.0, 15),
    )
}

#: Roles of people who serve (the ``people`` table).
PERSON_ROLES: dict[str, Term] = _index(
    Term("warden", "网格员", "grid warden"),
    Term("cadre", "干部", "cadre"),
    Term("party_member", "党员", "party member"),
    Term("leader", "领导", "leader"),
    Term("volunteer", "志愿者", "volunteer"),
)

#: Roles of app users (the ``users`` table).
USER_ROLES: dict[str, Term] = _index(
    Term("admin", "管理员", "administrator"),
    Term("leader", "领导", "leader"),
    Term("committee", "街道党工委", "street committee"),
    Term("warden", "网格员", "grid warden"),
    Term("inspector", "督查员", "inspector"),
)

#: Categories of needs (诉求).
NEED_CATEGORIES: dict[str, Term] = _index(
    Term("living", "生活困难", "living costs"),
    Term("medical", "就医", "medical care"),
    Term("housing", "住房", "housing"),
    Term("employment", "就业", "employment"),
    Term("education", "就学", "education"),
    Term("care", "照料", "care"),
    Term("dispute", "矛盾纠纷", "dispute"),
    Term("environment", "环境", "environment"),
    Term("other", "其他", "other"),
)

#: Statuses of a need: open, resolved (解决), answered (答复, explained).
NEED_STATUSES: dict[str, Term] = _index(
    Term("open", "办理中", "open"),
    Term("resolved", "已解决", "resolved"),
    Term("answered", "已答复", "answered"),
)

#: Kinds of assistance.
AID_KINDS: dict[str, Term] = _index(
    Term("cash", "慰问金", "cash"),
    Term("goods", "物资", "goods"),
    Term("service", "服务", "service"),
)

#: Kinds of patrol area.
PATROL_KINDS: dict[str, Term] = _index(
    Term("volunteer_patrol", "义务巡逻队", "volunteer patrol"),
    Term("party_patrol_post", "党员巡访服务岗", "party-member patrol-visit post"),
)

#: Statuses of a household in the register (动态管理).
HOUSEHOLD_STATUSES: dict[str, Term] = _index(
    Term("active", "在册", "registered"),
    Term("removed", "退出", "removed"),
    Term("moved", "迁出", "moved away"),
    Term("deceased", "已故", "deceased"),
)

#: Administrative levels.
ADMIN_LEVELS: dict[str, Term] = _index(
    Term("district", "区", "district"),
    Term("street", "街道/镇", "street or town"),
    Term("community", "社区/村", "community or village"),
)

#: States of an application for assistance (逐级申请报批): applied → checked by the community →
#: reviewed by the street → on public notice → approved by the district → given; or rejected
#: at any review step (see :mod:`grid.applications` for who may take each step).
APPLICATION_STATUSES: dict[str, Term] = _index(
    Term("applied", "已申请", "applied"),
    Term("community_checked", "社区已初审", "checked by the community"),
    Term("street_reviewed", "街道已审核", "reviewed by the street"),
    Term("on_notice", "公示中", "on public notice"),
    Term("approved", "区已审批", "approved by the district"),
    Term("given", "已发放", "given"),
    Term("rejected", "未通过", "rejected"),
)

#: Steps of an application (the ``step`` of ``application_events``).
APPLICATION_STEPS: dict[str, Term] = _index(
    Term("apply", "申请", "apply"),
    Term("check", "社区初审", "community check"),
    Term("review", "街道审核", "street review"),
    Term("notice", "张榜公示", "public notice"),
    Term("object", "登记异议", "objection recorded"),
    Term("settle", "异议不成立", "objection dismissed"),
    Term("uphold", "异议成立", "objection upheld"),
    Term("approve", "区级审批", "district approval"),
    Term("give", "发放", "give"),
    Term("reject", "驳回", "reject"),
)

#: States of an objection to a public notice (异议).
OBJECTION_STATUSES: dict[str, Term] = _index(
    Term("open", "待核实", "open"),
    Term("dismissed", "不成立", "dismissed"),
    Term("upheld", "成立", "upheld"),
)

_ALL: dict[str, Term] = {}
for _vocab in (
    HARDSHIP,
    STATION_TYPES,
    PERSON_ROLES,
    NEED_CATEGORIES,
    NEED_STATUSES,
    AID_KINDS,
    PATROL_KINDS,
    HOUSEHOLD_STATUSES,
    ADMIN_LEVELS,
    APPLICATION_STATUSES,
    APPLICATION_STEPS,
):
    for _code, _term in _vocab.items():
        _ALL.setdefault(_code, _term)


def label(code: str, lang: str = "zh") -> str:
    """Return the label of a vocabulary code (the code itself if unknown).

    >>> label("clinic", "en")
    'community clinic'
    """
    term = _ALL.get(code)
    if term is None:
        return code
    return term.zh if lang == "zh" else term.en


def codes(vocab: dict[str, Term] | dict[str, StationType]) -> tuple[str, ...]:
    """Return the codes of a vocabulary, in declaration order."""
    return tuple(vocab)
