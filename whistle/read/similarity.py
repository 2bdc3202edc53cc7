"""How likely a draft whistle and an open case are the same problem: a pure scorer over short
Chinese texts, and the rule of which cases may be suggested at all.

Chinese has no spaces, so texts are compared by character bigrams (the CJK analysers of search
engines do the same), after folding the complaint words secretaries use interchangeably
(乱停/违停/占道停车…) to one form and dropping bigrams every complaint carries (居民, 反映,
严重…). Text similarity is the Dice coefficient of the bigram sets; place similarity is the best
of the address bigrams' Dice (district, street and community names removed: the whole
community shares them) and the distance between the two locations. A related category weighs
in, an unrelated one weighs against. ``tests/unit/read/test_similarity.py`` and
``bench/bench_duplicates.py`` measure it on the labelled pairs of
``tests/stories/duplicate_pairs.py``.

``eligible`` is the rule that decides which cases are candidates (same community, open, raised
within ``WINDOW`` before the draft): the gateway renders the same rule as SQL.
"""

from __future__ import annotations

import math
import re
import sys
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Literal, get_args

from whistle.domain.types import FINAL_STATUSES, CaseStatus

WINDOW = timedelta(days=14)
"""How far back an open case is still a candidate."""
CLOSED = tuple(s for s in get_args(CaseStatus) if s in FINAL_STATUSES)
"""Statuses of a case that is over, the domain's final ones (also ``whistle.read.gateway.CLOSED``,
the boards' list)."""
THRESHOLD = 0.40
"""The score from which a case is suggested (chosen on the labelled pairs, see
docs/benchmarks.md)."""
SIMILAR_TEXT = 0.20
"""Text Dice from which ``why`` says the text is similar (on the labelled pairs: a quarter of
the duplicates score less, a tenth of the other problems more)."""
SAME_PLACE = 0.60
"""Place similarity from which ``why`` says the place is the same."""
NEAR_METRES = 80.0
"""Two locations this close are the same place; similarity falls to 0 at ``FAR_METRES``."""
FAR_METRES = 400.0

Reason = Literal["similar_text", "same_place"]

SYNONYMS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "违停",
        (
            "违章停车", "违规停车", "违规停放", "乱停乱放", "乱停车", "乱停放", "乱停",
            "占道停车", "随意停放", "随意停车", "乱摆车", "停满了车", "停满车", "车辆堵",
        ),
    ),
    ("噪音", ("噪声", "扰民", "太吵", "很吵", "吵闹", "吵得", "声音太大", "音响", "高音喇叭")),
    ("广场舞", ("跳舞", "广场健身", "舞蹈队")),
    ("摊贩", ("摆摊", "流动摊", "占道经营", "小贩", "商贩", "地摊", "摊点", "出摊")),
    ("垃圾", ("废弃物", "杂物", "脏乱", "卫生差", "堆放物")),
    ("树木", ("树枝", "大树", "行道树", "榕树", "树干")),
    ("绿化", ("草坪", "绿地", "花坛", "苗木")),
    ("物业", ("物业公司", "物管")),
    ("漏水", ("渗水", "跑水", "水管爆", "爆管", "水管破")),
    ("停水", ("没水", "无水", "断水", "水压低", "水压小")),
    ("游客", ("人流", "客流", "人太多", "人群")),
    ("消防通道", ("消防车道", "生命通道")),
    ("堵塞", ("堵住", "堵了", "占用", "堵死")),
    ("电动车", ("电瓶车", "电单车")),
    ("充电", ("飞线", "拉线充电")),
)  # fmt: skip
"""Words folded to their first form before comparing."""

_STOP = (
    "居民 反映 问题 严重 希望 尽快 处理 解决 附近 影响 经常 一直 多次 现在 没有 有人 情况"
    " 相关 部门 要求 投诉 每天 晚上 白天 周边 门口 这里 那里 已经 还是 一些 很多 比较 目前"
    " 社区 小区 请求 协调 帮忙 造成 导致 出现 存在 发现 近期 最近 今天 昨天"
)
STOP_BIGRAMS = frozenset(_STOP.split())
"""Bigrams that nearly every complaint carries: they say nothing about which problem it is."""

ADMIN_NAME = re.compile(r"厦门市|[\u4e00-\u9fff]{1,3}?(?:区(?<!小区)|街道|镇(?<!小镇)|社区)")
"""District, street/town and community names that open an address."""

RELATED: tuple[frozenset[str], ...] = (
    frozenset({"noise", "square_dancing"}),
    frozenset({"parking", "tourist_crowds"}),
    frozenset({"street_vendors", "sanitation"}),
    frozenset({"greening", "property_management"}),
    frozenset({"fire_hazard", "property_management"}),
    frozenset({"neighbour_dispute", "noise"}),
)
"""Categories a secretary may pick for the same problem (a noise complaint about square
dancing is filed under either)."""

PREPARED = 8192
"""Cases whose prepared text is remembered (a few KiB each: a busy community's 14 days)."""
WEIGHTS = {"text": 0.62, "place": 0.28, "category": 0.10}
UNRELATED_PENALTY = 0.10


CANONICAL = {variant: canonical for canonical, variants in SYNONYMS for variant in variants}
VARIANT = re.compile("|".join(sorted(map(re.escape, CANONICAL), key=len, reverse=True)))
"""Any variant, the longest first where two start at the same character."""


def fold(text: str) -> str:
    """NFKC, lower case, synonyms folded to one form (in one pass, left to right)."""
    text = unicodedata.normalize("NFKC", text).lower()
    return VARIANT.sub(lambda m: CANONICAL[m.group()], text)


def bigrams(text: str, stop: frozenset[str] = STOP_BIGRAMS) -> frozenset[str]:
    """The character bigrams of each run of letters and digits (a lone character counts as
    itself), without ``stop``; interned, as the prepared texts of many cases share them."""
    grams: set[str] = set()
    for run in re.findall(r"\w+", text):
        if len(run) == 1:
            grams.add(sys.intern(run))
        grams.update(sys.intern(run[i : i + 2]) for i in range(len(run) - 1))
    return frozenset(grams - stop)


def dice(a: frozenset[str], b: frozenset[str]) -> float:
    """2|A∩B| / (|A|+|B|), 0 for two empty sets."""
    return 2 * len(a & b) / (len(a) + len(b)) if a or b else 0.0


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (lat, lon) points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6_371_000 * math.asin(math.sqrt(h))


@dataclass(frozen=True, slots=True)
class Text:
    """A whistle's what and where, prepared once for comparing."""

    category: str | None
    words: frozenset[str]
    place: frozenset[str]
    location: tuple[float, float] | None

    @classmethod
    def of(
        cls,
        title: str | None,
        description: str | None = None,
        address: str | None = None,
        category: str | None = None,
        location: tuple[float, float] | None = None,
    ) -> Text:
        """Prepare a draft or a case row's fields."""
        street_address = ADMIN_NAME.sub(" ", unicodedata.normalize("NFKC", address or ""))
        return cls(
            category=category,
            words=bigrams(fold(f"{title or ''} {description or ''}")),
            place=bigrams(street_address.lower(), frozenset()),
            location=location,
        )

    @classmethod
    def of_row(cls, row: dict[str, Any]) -> Text:
        """Prepare a cases row (``title, description, address, category, location_lat/lon``),
        remembered by its values (``prepared``)."""
        return prepared(
            row.get("title"),
            row.get("description"),
            row.get("address"),
            row.get("category"),
            row.get("location_lat"),
            row.get("location_lon"),
        )


@lru_cache(maxsize=PREPARED)
def prepared(
    title: str | None,
    description: str | None,
    address: str | None,
    category: str | None,
    lat: float | None,
    lon: float | None,
) -> Text:
    """``Text.of`` a case's fields, kept for the next draft: a case's text never changes after
    it is raised, and preparing is most of a suggestion's CPU."""
    location = (lat, lon) if lat is not None and lon is not None else None
    return Text.of(title, description, address, category, location)


@dataclass(frozen=True, slots=True)
class Likeness:
    """How alike two whistles are: the parts and the combined score in [0, 1]."""

    text: float
    place: float
    category: float
    score: float

    @property
    def why(self) -> tuple[Reason, ...]:
        """What makes them look alike, for the secretary to judge."""
        reasons: list[Reason] = []
        if self.text >= SIMILAR_TEXT:
            reasons.append("similar_text")
        if self.place >= SAME_PLACE:
            reasons.append("same_place")
        return tuple(reasons)

    @property
    def suggested(self) -> bool:
        """Whether the case is worth showing."""
        return self.score >= THRESHOLD


def place_likeness(a: Text, b: Text) -> float:
    """The better of address likeness and nearness of the two locations."""
    near = 0.0
    if a.location is not None and b.location is not None:
        d = metres(a.location, b.location)
        near = max(0.0, min(1.0, (FAR_METRES - d) / (FAR_METRES - NEAR_METRES)))
    return max(dice(a.place, b.place), near)


def category_likeness(a: str | None, b: str | None) -> float:
    """1 for the same category, 0.5 for related ones, 0 otherwise (or when one is unknown)."""
    if a is None or b is None:
        return 0.0
    if a == b:
        return 1.0
    return 0.5 if any({a, b} <= group for group in RELATED) else 0.0


def likeness(a: Text, b: Text) -> Likeness:
    """Score two whistles: text, place and category, weighted; an unrelated category costs."""
    text = dice(a.words, b.words)
    place = place_likeness(a, b)
    category = category_likeness(a.category, b.category)
    score = WEIGHTS["text"] * text + WEIGHTS["place"] * place + WEIGHTS["category"] * category
    if category == 0.0 and a.category is not None and b.category is not None:
        score -= UNRELATED_PENALTY
    return Likeness(text=text, place=place, category=category, score=max(0.0, min(1.0, score)))


def eligible(community: str, now: datetime, row: dict[str, Any]) -> bool:
    """Whether a case row may be suggested for a draft in ``community`` at ``now``: the same
    community, not over, raised within ``WINDOW`` (the gateway's SQL says the same)."""
    raised = row.get("raised_at")
    return (
        row.get("community") == community
        and row.get("status") not in CLOSED
        and raised is not None
        and now - WINDOW <= raised <= now
    )


def rank(
    draft: Text, rows: Iterable[dict[str, Any]], limit: int
) -> list[tuple[dict[str, Any], Likeness]]:
    """The suggested rows with their likeness, best first (ties: newest first, then case id)."""
    scored = [(row, likeness(draft, Text.of_row(row))) for row in rows]
    kept = [(row, like) for row, like in scored if like.suggested]
    kept.sort(key=lambda p: str(p[0].get("case_id")))
    kept.sort(key=lambda p: p[0]["raised_at"], reverse=True)  # candidates are dated (eligible)
    kept.sort(key=lambda p: p[1].score, reverse=True)  # stable: ties stay newest first
    return kept[:limit]
