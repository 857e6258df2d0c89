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
    "OPEN_NEED_STATUSES",
    "SETTLED_NEED_STATUSES",
    "NEED_STEPS",
    "SATISFACTION",
    "DEPARTMENTS",
    "NEED_TIME_LIMITS",
    "NEED_DEPARTMENT_HINTS",
    "AID_KINDS",
    "PATROL_KINDS",
    "HOUSEHOLD_STATUSES",
    "RELATIONS",
    "DISABILITY_GRADES",
    "ADMIN_LEVELS",
    "APPLICATION_STATUSES",
    "APPLICATION_STEPS",
    "OBJECTION_STATUSES",
    "ADDRESS_LEVELS",
    "GEOCODE_METHODS",
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
    Term("community", "社区工作人员", "community worker"),
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

#: Statuses of a need (诉求), as it travels (事件流转): raised (上报) -> assigned to a unit (分拨) ->
#: in progress (处置) -> resolved (办结) or answered (答复: explained, cannot be solved) -> closed after
#: the warden's follow-up (回访, with a satisfaction); a unit may return it (退回) to be reassigned.
#: Escalation (升级) is not a state: an overdue need keeps its state and unit and gains ``escalated_at``.
NEED_STATUSES: dict[str, Term] = _index(
    Term("raised", "待分拨", "raised"),
    Term("assigned", "已分拨", "assigned"),
    Term("in_progress", "处置中", "in progress"),
    Term("resolved", "已解决", "resolved"),
    Term("answered", "已答复", "answered"),
    Term("closed", "已回访", "closed"),
    Term("returned", "已退回", "returned"),
)
#: The states of a need still to be settled.
OPEN_NEED_STATUSES: tuple[str, ...] = ("raised", "assigned", "in_progress", "returned")
#: The states of a need resolved or answered (``resolved_at`` is set exactly for these).
SETTLED_NEED_STATUSES: tuple[str, ...] = ("resolved", "answered", "closed")

#: The steps of a need's history (``need_events.step``).
NEED_STEPS: dict[str, Term] = _index(
    Term("raise", "上报", "raise"),
    Term("assign", "分拨", "assign"),
    Term("reassign", "改派", "reassign"),
    Term("start", "开始处置", "start"),
    Term("note", "处置记录", "note"),
    Term("photo", "照片", "photo"),
    Term("resolve", "办结", "resolve"),
    Term("answer", "答复", "answer"),
    Term("return", "退回", "return"),
    Term("close", "回访", "close"),
    Term("escalate", "超期升级", "escalate"),
    Term("undo", "撤销", "undo"),
    Term("import", "导入", "import"),
    Term("migrate", "升级迁移", "migrate"),
)

#: The follow-up's satisfaction (回访评价).
SATISFACTION: dict[str, Term] = _index(
    Term("satisfied", "满意", "satisfied"),
    Term("basically_satisfied", "基本满意", "basically satisfied"),
    Term("dissatisfied", "不满意", "dissatisfied"),
)

#: Departments a need may be assigned to (units that are not admin units; their codes are
#: these words, never digits). They hold no accounts: the street committee records their steps.
DEPARTMENTS: dict[str, Term] = _index(
    Term("dept_civil", "民政", "civil affairs"),
    Term("dept_hrss", "人社（就业）", "human resources and social security"),
    Term("dept_housing", "住建（房管）", "housing"),
    Term("dept_health", "卫健", "health"),
    Term("dept_city", "城管", "city management"),
    Term("dept_justice", "司法所", "judicial office (mediation)"),
    Term("dept_police", "派出所", "police station"),
    Term("dept_property", "物业服务企业", "property management"),
)

#: Default time limit per need category, in working days (Monday to Friday), from the day of
#: assignment; settable per category (``need_time_limits``, :func:`grid.needs.set_time_limit`).
NEED_TIME_LIMITS: dict[str, int] = {
    "living": 7, "medical": 3, "housing": 15, "employment": 15, "education": 15,
    "care": 3, "dispute": 7, "environment": 7, "other": 7,
}
#: The department a category usually goes to (the queue's suggestion; the committee decides).
NEED_DEPARTMENT_HINTS: dict[str, str] = {
    "medical": "dept_health", "housing": "dept_housing", "employment": "dept_hrss", "environment": "dept_city",
}

#: A household member's relation to the head of the household (与户主关系).
RELATIONS: dict[str, Term] = _index(
    Term("head", "户主", "head of household"),
    Term("spouse", "配偶", "spouse"),
    Term("child", "子女", "child"),
    Term("parent", "父母", "parent"),
    Term("grandparent", "祖父母/外祖父母", "grandparent"),
    Term("grandchild", "孙子女/外孙子女", "grandchild"),
    Term("sibling", "兄弟姐妹", "sibling"),
    Term("child_in_law", "儿媳/女婿", "son- or daughter-in-law"),
    Term("other", "其他", "other"),
)

#: Grades of a disability certificate (残疾人证, GB/T 26341-2010: grade 1 the most severe).
DISABILITY_GRADES: dict[str, Term] = _index(
    Term("grade1", "一级残疾", "disability grade 1"),
    Term("grade2", "二级残疾", "disability grade 2"),
    Term("grade3", "三级残疾", "disability grade 3"),
    Term("grade4", "四级残疾", "disability grade 4"),
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

#: Levels of the standard-address register (一标三实: 小区 → 门牌/楼栋 → 单元 → 户室; rooms are not in it).
ADDRESS_LEVELS: dict[str, Term] = _index(
    Term("estate", "小区", "estate"),
    Term("door", "门牌", "door number"),
    Term("building", "楼栋", "building"),
    Term("entrance", "单元", "entrance (stairwell unit)"),
)

#: Where a household's point came from: the file's own coordinates, or the address register
#: (:mod:`grid.geocode`): the address as written, after normalisation, by components with a fuzzy
#: score, or as a person chose it in review.
GEOCODE_METHODS: dict[str, Term] = _index(
    Term("coordinates", "文件坐标", "coordinates in the file"),
    Term("exact", "地址完全一致", "exact address"),
    Term("normalised", "地址规范化后一致", "normalised address"),
    Term("fuzzy", "地址模糊匹配", "fuzzy match"),
    Term("manual", "人工确认", "chosen in review"),
)

_ALL: dict[str, Term] = {}
for _vocab in (
    HARDSHIP,
    STATION_TYPES,
    PERSON_ROLES,
    NEED_CATEGORIES,
    NEED_STATUSES,
    NEED_STEPS,
    SATISFACTION,
    DEPARTMENTS,
    AID_KINDS,
    PATROL_KINDS,
    HOUSEHOLD_STATUSES,
    ADMIN_LEVELS,
    RELATIONS,
    DISABILITY_GRADES,
    APPLICATION_STATUSES,
    APPLICATION_STEPS,
    ADDRESS_LEVELS,
    GEOCODE_METHODS,
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
