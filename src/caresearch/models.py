"""Frozen dataclasses passed between modules. Stdlib only.

Glossary: 事例 → case, この事例のポイント / これから取り組む皆さまへ → lesson (with a kind),
課題の記述 → problem, 検索結果 → hit, one indexed piece of a case → passage.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

Progress = Callable[[Iterable, int, str], Iterable]  # a progress bar: (items, total, label)


class Section(NamedTuple):
    """A kind of passage. `role`: 'lesson' (key points and suggestions, listed on the lessons
    page and in handouts), 'answer' (concrete text that can answer a problem), 'context'
    (read on the case page, searchable, never offered as an answer). `answer_weight` scales
    a passage's relevance when answers are chosen (0 for context); `shown_weight` scales its
    score when a search hit chooses which passages to show (not the case's rank)."""

    key: str
    label: str
    role: str
    answer_weight: float
    shown_weight: float = 1.0
    read_by_recommender: bool = True  # counts towards its case's words (TF-IDF, coverage)


# Every section, in the order a case page shows them. Adding a kind of passage is one row here.
SECTIONS: tuple[Section, ...] = (
    Section("feature", "この事例の特徴", "context", 0.0),
    Section("background", "取り組みの背景・課題認識", "answer", 1.0),
    Section("recommendation", "推薦メッセージ", "context", 0.0),
    Section("summary", "取り組み内容（概要）", "context", 0.0),
    Section("content", "取り組み内容", "answer", 1.0),
    # the budget line under a section (事業名・補助金の名): found by keyword search, never an
    # answer, and not what a case is about (the recommender does not read it)
    Section("budget", "予算", "context", 0.0, read_by_recommender=False),
    # The 経緯 timeline lines name many things once each and rarely answer a search: shown only
    # when clearly better (0.6: the middle of the range 0.4–0.8 that gave the same figures on
    # the tuning half, docs/search.md).
    Section("history", "取り組みの経緯", "context", 0.0, shown_weight=0.6),
    Section("change", "地域に見られた変化", "answer", 1.0),
    Section("story", "取り組みが生かされた個別支援", "answer", 1.0),
    Section("key_point", "この事例のポイント", "lesson", 1.05),
    Section("suggestion", "これから取り組む皆さまへ", "lesson", 1.05),
)
SECTION_BY_KEY: dict[str, Section] = {s.key: s for s in SECTIONS}
SECTION_LABELS: dict[str, str] = {s.key: s.label for s in SECTIONS}
LESSON_KINDS: tuple[str, ...] = tuple(s.key for s in SECTIONS if s.role == "lesson")
ANSWER_WEIGHTS: dict[str, float] = {s.key: s.answer_weight for s in SECTIONS if s.answer_weight}
RECOMMENDER_SECTIONS = frozenset(s.key for s in SECTIONS if s.read_by_recommender)
AUDIENCE_LABELS = {"region": "地域", "municipality": "自治体", "starter": "はじめの一歩"}
# The 地域概要 figures a case file may give (`overview`), in the order they are shown.
OVERVIEW_LABELS = {
    "total_population": "総人口",
    "population_65_over": "65歳以上人口",
    "population_75_over": "75歳以上人口",
    "care_certified": "要介護（要支援）認定者数",
    "insurance_premium": "介護保険料",
    "note": "注",
}
CONFIDENCE_LABELS = {"high": "高", "medium": "中", "low": "低"}
# What the page says when no case is offered for a description: it had only general words
# (相談, 連携, 仕組み… or 近所 → 住民), or no case has any of its specific words.
NO_CASE_ONLY_GENERAL = (
    "この課題に合う事例は見つかりませんでした。相談・連携・仕組みのような一般的な語のほかに、"
    "具体的な内容（対象の人、サービス、困りごとなど）を書き足すと探しやすくなります。"
)
# ... when some are offered but none matches strongly (all 低, for reference only)
NO_STRONG_MATCH = (
    "この課題に強く合う事例は見つかりませんでした。下の事例は、一部の語が共通するだけの参考です。"
)
# ... and when the match is strong but every case shown is 低 (their words cover it in part).
PARTIAL_MATCH = (
    "どの事例も、課題の一部に合うだけです（合う度合い: 低）。"
    "各事例の「課題の主な語のうち…」で、どの語が合ったかを確かめてください。"
)
NO_CASE_FOR_WORDS = (
    "この課題の具体的な語（{words}）を含む事例は見つかりませんでした。"
    "別の言い方でもお試しください。"
)
# under a case none of whose passages holds a word of the description (its key points stand in)
NO_PASSAGE_HOLDS = (
    "この事例の本文には、課題の語を含む箇所がありません。この事例のポイントを示します。"
)
PAST_THE_END = "このページに結果はありません（全 {total} 件）。"  # search: a page after the last
# search: the cases after the last full match that have only some of the words or parts
# ({full}: 以上です after full matches, ありません when a filter left none)
PARTIAL_NOTE = "入力した語（同じ意味の語を含む）をすべて含む事例は{full}。次の事例は、その一部だけを含みます{count}。"
PARTIAL_COUNT = "（{total}件のうち、合う語の多い順に{shown}件）"
NO_LESSONS = "条件に合う教訓はありません。条件を変えてお試しください。"  # lessons, page and CLI
# ... when no lesson carries the chosen theme (認知症 is a theme of cases, not of their lessons)
NO_LESSONS_FOR_THEME = (
    "テーマ「{themes}」の付いた教訓はありません（テーマは教訓ごとに、その内容から付けています）。"
    "このテーマの事例は、キーワード検索のテーマで探せます。"
)
# Tiers of evidence for a keyword (query.py): as typed, through the care table, through what
# the table points it to (one way), by its parts.
TIER_NAMES = {1: "typed", 2: "synonym", 3: "related", 4: "parts"}
# What a word no case contains is searched as instead, in this order (`fallback`), and how the
# page names it: 「通いの場」を含む事例はありません。関連する語（サロン、居場所）を含む事例を…
RELAXATIONS = {"related": "関連する語", "parts": "語の一部"}
# Where a hit matched outside its passages (CaseHit.matched_in), as the page says it.
MATCHED_IN_LABELS = {
    "title": "タイトル・キーワード・テーマ",  # the case document: its title, keywords and themes
    "place": "所在地",  # ... its prefecture and municipality
    "details": "実施主体・連絡先",
    "figure": "図表中の語句",
}
# The case page's figure text: its anchor (#figures, where a hit found only there links) and
# its key among the marks of a page opened from a search
FIGURES_ID = "figures"


class Facet(NamedTuple):
    """A filter and its counts. `values` reads a case's values (None: the facet counts
    passages, see `search`); `flag` is the CLI option; `vocabulary` names the table a value
    must come from ('themes', 'sections') or None for values seen in the corpus."""

    key: str
    label: str
    values: Callable[[CaseInfo], tuple[str, ...]] | None
    flag: str
    help: str
    vocabulary: str | None = None


# Every filter of search and browse, in the order the pages show them. Adding a facet is one
# row here (plus a CaseInfo field when the data is new): the engine, the CLI options, the API
# parameters and the pages' filter lists all come from this table.
FACETS: tuple[Facet, ...] = (
    Facet("prefecture", "都道府県", lambda c: (c.prefecture,), "--pref", "例: 北海道"),
    Facet("region", "地域", lambda c: (c.region,), "--region", "例: 東北"),
    Facet(
        "municipality_type",
        "市町村の種別",
        lambda c: (c.municipality_type,) if c.municipality_type else (),
        "--municipality-type",
        "例: 町、市",
    ),
    Facet("theme", "テーマ", lambda c: c.themes, "--theme", "例: 認知症", "themes"),
    Facet("keyword", "キーワード", lambda c: c.keywords, "--keyword", "事例のキーワード"),
    Facet(
        "section",
        "該当した箇所",
        None,
        "--section",
        "例: これから取り組む皆さまへ、suggestion",
        "sections",
    ),
)
FACET_BY_KEY: dict[str, Facet] = {f.key: f for f in FACETS}
FILTER_KEYS: tuple[str, ...] = tuple(FACET_BY_KEY)


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
    themes: tuple[str, ...] = ()  # labels of corpus/themes.yaml: what this lesson is about


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
    subject: str | None = None  # who it is about: 「Ａさん（ 代・女性・独居・要介護２）」

    @property
    def lines(self) -> tuple[str, ...]:
        """What the story says, in order: its subject, then its paragraphs."""
        return ((self.subject,) if self.subject else ()) + self.paragraphs


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
    figures_missing: bool = False  # its figures were lost in extraction (the file says so)
    overview: tuple[tuple[str, str], ...] = ()  # 地域概要: (OVERVIEW_LABELS key, value as written)
    order: int = 0
    municipality_type: str | None = None

    @property
    def name(self) -> str:
        return f"{self.prefecture} {self.municipality}"

    @property
    def tags(self) -> tuple[str, ...]:
        """Its keywords and themes, one per line of the indexed case document."""
        return self.keywords + self.editorial_keywords + self.themes

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
            if sec.budget:  # no heading of its own: a heading word is the section's match
                yield Passage(f"{sec.id}-budget", self.id, "budget", sec.budget)
        for ev in self.history:
            yield Passage(ev.id, self.id, "history", ev.text, heading=ev.period_label)
        for it in self.changes:
            yield Passage(it.id, self.id, "change", it.text)
        for st in self.stories:
            yield Passage(st.id, self.id, "story", "\n".join(st.lines), heading=st.title)
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
    municipality_type: str | None = None
    source: tuple[str, str] | None = None  # (report, chapter)
    figures_missing: bool = False

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
            case.municipality_type,
            (case.source.report, case.source.chapter) if case.source else None,
            case.figures_missing,
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
class PartialMatch:
    """How a case shown after the full matches holds each query word: as typed, through the
    care table, only through the words the table points it to, only as the compound's parts
    apart, or not at all."""

    has: tuple[str, ...] = ()  # as typed
    synonyms: tuple[str, ...] = ()  # through the care table
    related: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (word, the related words found)
    parts: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (word, its parts found apart)
    lacks: tuple[str, ...] = ()


@dataclass(frozen=True)
class CaseHit:
    case: Case
    score: float
    passages: tuple[PassageHit, ...]
    tier: int = 1  # the latest tier of evidence it needed: models.TIER_NAMES
    # where it matched: text (every word in a passage) | title (title or keywords) | place
    # (the prefecture or municipality alone) | details
    # (implementing bodies, contact) | figure (figure or form text), the first of these that
    # holds a word no passage holds; `elsewhere` names such words with their place when
    # passages are shown too (買い物支援 → (買い物, figure): only in a form's labels)
    matched_in: str = "text"
    elsewhere: tuple[tuple[str, str], ...] = ()
    # a hit matched only in its title, keywords or themes: which of them (テーマ「ICT・情報共有」)
    tags: tuple[str, ...] = ()
    partial: PartialMatch | None = None  # a partial match: what it holds of the query's words
    # one passage holds every word of a query of several (ranked before cases that have them
    # only in different passages)
    together: bool = False


@dataclass(frozen=True)
class Expansion:
    """What one query word was searched as, besides itself."""

    word: str
    label: str
    tier: str  # typed (a kana word's reading) | synonym | related | parts


@dataclass(frozen=True)
class Relaxed:
    """A query word no case contains (as typed or through a synonym), and what was searched
    instead: the words the table points it to ('related') or its parts ('parts')."""

    word: str
    kind: str  # related | parts
    words: tuple[str, ...]


@dataclass(frozen=True)
class SearchResult:
    query: str
    total: int
    hits: tuple[CaseHit, ...]
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    # what was relaxed: "related", "parts" or both ("related+parts"), each possibly with "+or";
    # "or" alone; None: nothing
    fallback: str | None = None
    page: int = 1
    page_size: int = 10
    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)
    expansions: tuple[Expansion, ...] = ()
    relaxed: tuple[Relaxed, ...] = ()
    excluded: tuple[str, ...] = ()
    exact: bool = False
    # after the last full match, when there are few: the best cases with only some of the
    # words or a compound's parts (searching.PARTIAL_BELOW), and how many such cases there are
    partial: tuple[CaseHit, ...] = ()
    partial_total: int = 0
    # other ways to ask, when nothing was found or a word was relaxed (suggest.py)
    suggestions: tuple[Suggestion, ...] = ()
    # query words no case has at all: with fallback "or", when nothing is found, or joined by OR
    # to a word some case has
    nowhere: tuple[str, ...] = ()
    words_asked: int = 0  # the query's words (words joined by OR one), before any is relaxed


class Suggestion(NamedTuple):
    """Another way to ask: `instead` of the typed `word` (見守 → 見守り), and the whole query
    with that word replaced."""

    word: str
    instead: str
    query: str


@dataclass(frozen=True)
class MatchedTerm:
    query_term: str  # as the user wrote it (an inflected word as the table spells it)
    case_term: str  # the word in the case that it matched (parts: 自治＋会)
    via: str = "exact"  # exact | synonym | parts (only the word's parts, apart) | theme (a label)

    @property
    def label(self) -> str:
        """As the page and the CLI list it: 認知症, ケアマネ → 介護支援専門員, 自治会 → 語の一部
        （自治、会）."""
        return matched_label(self.query_term, self.case_term, self.via)


def matched_label(query_term: str, case_term: str, via: str) -> str:
    if via == "parts":  # found only as its parts, apart: said in words, not as 自治＋会
        return f"{query_term} → 語の一部（{case_term.replace('＋', '、')}）"
    if via == "theme":  # only in a theme label the case carries, not in its text
        return f"{query_term} → テーマ「{case_term}」"
    return query_term if via == "exact" else f"{query_term} → {case_term}"


def named_choices(keys: Iterable[str]) -> str:
    """Keys with what they are called (key_point（この事例のポイント）), for a message."""
    labels = {**SECTION_LABELS, **AUDIENCE_LABELS}
    return "、".join(f"{k}（{labels[k]}）" for k in keys)


def reason_line(
    n: int, hits: Sequence[str], related: Sequence[str], missing: Sequence[str], others: str
) -> str:
    """A case's one-line reason: how many of the description's n main words it has (`hits`),
    those it has only through a word they point to (`related`: 雪かき → 生活支援), those it lacks,
    or, with none of them, what it did match (`others`)."""
    reason = f"課題の主な語のうち {len(hits)}/{n} に一致（{_few(hits)}）" if hits else ""
    if related:
        reason += (
            f"。関連する語で一致：{_few(related)}"
            if hits
            else f"課題の主な語には関連する語でのみ一致（{_few(related)}）"
        )
    if not reason:  # listed for a rarer word than the main ones, or for parts of them only
        return "課題の主な語には一致しません" + (f"（{others}のみ一致）" if others else "")
    return reason + (f"。一致しない語：{_few(missing)}" if missing else "")


def _few(words: Sequence[str]) -> str:
    """Words as a reason line lists them: the first three, then など."""
    return "、".join(words[:3]) + ("など" if len(words) > 3 else "")


@dataclass(frozen=True)
class ScoredLesson:
    """A passage offered as an answer: its relevance, the character spans of `lesson.text`
    where the description's words matched, and an excerpt centred on them (escaped HTML with
    our own <mark> only)."""

    lesson: Lesson | Passage
    score: float
    highlights: tuple[tuple[int, int], ...] = ()
    snippet: str = ""


@dataclass(frozen=True)
class CaseRecommendation:
    case: Case
    score: float
    confidence: str  # high | medium | low
    matched_terms: tuple[MatchedTerm, ...]
    lessons: tuple[ScoredLesson, ...]
    reason: str = ""  # one line for people: 課題の主な語のうち 4/5 に一致


@dataclass(frozen=True)
class Recommendation:
    query: str
    no_strong_match: bool
    cases: tuple[CaseRecommendation, ...]
    lessons: tuple[ScoredLesson, ...]
    coverage: float = 0.0
    specific_words: tuple[str, ...] = ()  # the description's main specific words, as written


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
    drafts: tuple[str, ...] = ()  # imported drafts left out until reviewed


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
    # Each entry's positions, `counts[k]` of them in entry order, offset by field so that
    # positions of two fields are never adjacent (index.FIELD_STRIDE).
    positions: array = array("i")
    # The characters each position covers in its field's text: start, end per position, in
    # the order of `positions` (a compound's parts cover the whole compound).
    spans: array = array("i")
    # ((a pair of words that reads otherwise alone, as written, its reading in the text), count):
    # 多職種 read タショクシュ, 空き店舗 アキテンポ (`analysis._affixed`), for kana queries.
    affixed: tuple[tuple[tuple[str, str], int], ...] = ()
