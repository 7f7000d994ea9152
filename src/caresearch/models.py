"""Frozen dataclasses passed between modules. Stdlib only.

Glossary: 事例 → case, この事例のポイント / これから取り組む皆さまへ → lesson (with a kind),
課題の記述 → problem, 検索結果 → hit, one indexed piece of a case → passage.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

# Section types of a passage, in the order a case page shows them, with their Japanese labels.
SECTION_LABELS: dict[str, str] = {
    "feature": "この事例の特徴",
    "background": "取り組みの背景・課題認識",
    "recommendation": "推薦メッセージ",
    "summary": "取り組み内容（概要）",
    "content": "取り組み内容",
    "history": "取り組みの経緯",
    "change": "地域に見られた変化",
    "story": "取り組みが生かされた個別支援",
    "key_point": "この事例のポイント",
    "suggestion": "これから取り組む皆さまへ",
}
LESSON_KINDS = ("key_point", "suggestion")
AUDIENCE_LABELS = {"region": "地域", "municipality": "自治体", "starter": "はじめの一歩"}


@dataclass(frozen=True)
class Item:
    """A numbered piece of text inside a case (a feature, a background bullet, a change)."""

    id: str
    text: str


@dataclass(frozen=True)
class Lesson:
    """A key point (kind 'key_point', audience 'region' or 'municipality') or a suggestion."""

    id: str
    case_id: str
    kind: str
    audience: str
    text: str
    order: int = 0


@dataclass(frozen=True)
class ContentSection:
    """One 【…】 sub-section of 取り組み内容."""

    id: str
    heading: str
    paragraphs: tuple[str, ...]
    subheading: str | None = None
    budget: str | None = None


@dataclass(frozen=True)
class HistoryEvent:
    id: str
    period_label: str
    text: str


@dataclass(frozen=True)
class Story:
    """An individual story or a voice (≪…≫) under 取り組みの成果."""

    id: str
    title: str | None
    paragraphs: tuple[str, ...]
    subject: str | None = None


@dataclass(frozen=True)
class Restoration:
    """A word the PDF extraction dropped and an editor restored from context."""

    target: str  # field name or item id
    restored: str  # the restored word, e.g. "ICT"
    note: str = ""


@dataclass(frozen=True)
class Source:
    report: str
    chapter: str
    pages: str | None = None
    file: str | None = None
    sha256: str | None = None
    lines: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class Passage:
    """The unit of the index: one piece of a case's text, with its section type."""

    id: str
    case_id: str
    section: str
    text: str
    heading: str | None = None

    @property
    def section_label(self) -> str:
        return SECTION_LABELS.get(self.section, self.section)


@dataclass(frozen=True)
class Case:
    id: str
    prefecture: str
    municipality: str
    region: str
    title: str
    keywords: tuple[str, ...]
    themes: tuple[str, ...]
    features: tuple[Item, ...] = ()
    implementing_bodies: tuple[str, ...] = ()
    background: tuple[Item, ...] = ()
    recommendation: str = ""
    summary: str | None = None
    contents: tuple[ContentSection, ...] = ()
    history: tuple[HistoryEvent, ...] = ()
    changes: tuple[Item, ...] = ()
    stories: tuple[Story, ...] = ()
    key_points: tuple[Lesson, ...] = ()
    suggestions: tuple[Lesson, ...] = ()
    suggestions_label: str = "これから取り組む皆さまへ～まず始めてみるために"
    contact: str | None = None
    diagram_text: tuple[str, ...] = ()
    editorial_keywords: tuple[str, ...] = ()
    restorations: tuple[Restoration, ...] = ()
    source: Source | None = None
    quality_notes: tuple[str, ...] = ()
    figures_missing: bool = True
    order: int = 0
    municipality_type: str | None = None

    @property
    def name(self) -> str:
        return f"{self.prefecture} {self.municipality}"

    @property
    def lessons(self) -> tuple[Lesson, ...]:
        return self.key_points + self.suggestions

    def passages(self) -> Iterator[Passage]:
        """Every displayable piece of the case, in reading order (diagram text excluded)."""
        for it in self.features:
            yield Passage(it.id, self.id, "feature", it.text)
        for it in self.background:
            yield Passage(it.id, self.id, "background", it.text)
        if self.recommendation:
            yield Passage(f"{self.id}-rec", self.id, "recommendation", self.recommendation)
        if self.summary:
            yield Passage(f"{self.id}-summary", self.id, "summary", self.summary)
        for sec in self.contents:
            yield Passage(
                sec.id, self.id, "content", "\n".join(sec.paragraphs), heading=sec.heading
            )
        for ev in self.history:
            yield Passage(ev.id, self.id, "history", ev.text, heading=ev.period_label)
        for it in self.changes:
            yield Passage(it.id, self.id, "change", it.text)
        for st in self.stories:
            yield Passage(st.id, self.id, "story", "\n".join(st.paragraphs), heading=st.title)
        for les in self.key_points:
            yield Passage(les.id, self.id, "key_point", les.text)
        for les in self.suggestions:
            yield Passage(les.id, self.id, "suggestion", les.text)


@dataclass(frozen=True, slots=True)
class CaseInfo:
    """What lists, filters and facets need of a case: kept in memory for every case, while
    the full `Case` is read from the build's snapshot when it is shown."""

    id: str
    prefecture: str
    municipality: str
    region: str
    title: str
    themes: tuple[str, ...]
    keywords: tuple[str, ...]
    editorial_keywords: tuple[str, ...]

    @classmethod
    def of(cls, case: Case) -> CaseInfo:
        return cls(
            case.id,
            case.prefecture,
            case.municipality,
            case.region,
            case.title,
            case.themes,
            case.keywords,
            case.editorial_keywords,
        )

    @property
    def name(self) -> str:
        return f"{self.prefecture} {self.municipality}"


@dataclass(frozen=True)
class PassageHit:
    passage: Passage
    score: float
    snippet: str  # HTML: escaped text with our own <mark> only


@dataclass(frozen=True)
class CaseHit:
    case: Case
    score: float
    passages: tuple[PassageHit, ...]


@dataclass(frozen=True)
class SearchResult:
    query: str
    total: int
    hits: tuple[CaseHit, ...]
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    fallback: str | None = None  # "or" when AND found nothing
    page: int = 1
    page_size: int = 10
    filters: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MatchedTerm:
    query_term: str  # as the user wrote it
    case_term: str  # the word in the case that it matched
    via: str = "exact"  # exact | synonym | reading


@dataclass(frozen=True)
class ScoredLesson:
    lesson: Lesson | Passage
    score: float


@dataclass(frozen=True)
class CaseRecommendation:
    case: Case
    score: float
    confidence: str  # high | medium | low
    matched_terms: tuple[MatchedTerm, ...]
    lessons: tuple[ScoredLesson, ...]


@dataclass(frozen=True)
class Recommendation:
    query: str
    no_strong_match: bool
    cases: tuple[CaseRecommendation, ...]
    lessons: tuple[ScoredLesson, ...]
    coverage: float = 0.0


@dataclass(frozen=True)
class SimilarCase:
    case: Case
    score: float
    shared_themes: tuple[str, ...]
    shared_terms: tuple[str, ...]


@dataclass(frozen=True)
class BuildReport:
    built: bool  # False when the index was already up to date
    cases: int
    passages: int
    documents: int
    seconds: float
    path: str
    phases: dict[str, float] = field(default_factory=dict)  # seconds per build phase


class TermCounts(NamedTuple):
    """How often each indexed term occurs in each document, read back from the index.

    The recommender's TF-IDF is built from these, so it counts exactly the terms Whoosh
    indexed, without analysing the corpus a second time.
    """

    doc_ids: tuple[str, ...]  # by document number
    vocab: tuple[str, ...]
    rows: array  # document numbers
    cols: array  # positions in vocab
    counts: array
    fields: array = array("b")  # position in field_names of each entry
    field_names: tuple[str, ...] = ()
