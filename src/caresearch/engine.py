"""The Engine facade: the one object the CLI and the web app talk to.

`Engine.build(settings)` publishes a new build (building.py); `Engine.open(settings)` opens
the current one read-only. Then `search`, `recommend`, `similar`, `case`, `lessons`: each
validates its input once and delegates to the module that owns the decision (searching.py,
recommend.py with policy.py, tfidf.py). Nothing here parses HTTP or argv.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

from . import building
from .analysis import Analyzer, fold, has_invalid_chars
from .config import Settings, check_limit
from .errors import IndexNotReady, NotFound, QueryError, QueryTooLarge
from .filters import Filters, check_filters, facet_values
from .highlight import Highlighter
from .models import (
    AUDIENCE_LABELS,
    LESSON_KINDS,
    BuildReport,
    Case,
    CaseInfo,
    Lesson,
    Passage,
    Progress,
    Recommendation,
    SearchResult,
    SimilarCase,
    named_choices,
)
from .query import QueryExpander
from .querysyntax import typed
from .recommend import Recommend
from .searching import Searcher
from .snapshot import CaseList, Corpus
from .suggest import with_suggestions
from .synonyms import SynonymTable
from .tfidf import similar_cases, top_shared_terms

log = logging.getLogger("caresearch.engine")
FilterValue = str | Sequence[str] | None  # one value, or several (any of them)
WORDS_CACHED = 64  # cases whose whole words `similar` keeps (a case page needs six)


class Engine:
    """An open build: cases, index, model and query expander, all read-only."""

    def __init__(self, settings: Settings, parts: building.Build) -> None:
        self.settings = settings
        self.build_path = parts.path
        self.meta = parts.meta
        self.index = parts.index
        self.model = parts.model
        self.corpus = Corpus(parts.snapshot, parts.index.docs)
        self.themes = parts.snapshot.themes
        self.analyzer = Analyzer()
        self.expander = QueryExpander(self.analyzer, SynonymTable.load(), parts.readings)
        self.facet_values = facet_values(self.corpus.infos, self.themes)
        highlighter = Highlighter(self.index)
        self.searcher = Searcher(self.index, self.corpus, self.expander, highlighter, settings)
        self.recommender = Recommend(
            self.model, self.index, self.corpus, self.expander, highlighter, parts.vectors
        )
        self._words: dict[str, dict[str, str]] = {}  # case id -> {whole word: as written}

    @classmethod
    def build(
        cls, settings: Settings, *, force: bool = False, progress: Progress | None = None
    ) -> BuildReport:
        return building.build(settings, force=force, progress=progress)

    @classmethod
    def is_stale(cls, settings: Settings) -> bool:
        return building.is_stale(settings)

    @classmethod
    def open(cls, settings: Settings) -> Engine:
        return cls(settings, building.load_build(settings))

    def close(self) -> None:
        self.index.close()

    # --- reading --------------------------------------------------------------------------

    @property
    def cases(self) -> CaseList:
        """Every case, each read from the build's snapshot when it is used (see case_infos)."""
        return self.corpus.cases

    @property
    def case_infos(self) -> tuple[CaseInfo, ...]:
        """What lists, filters and facets need of every case, without reading the cases."""
        return self.corpus.infos

    def check_filters(self, filters: Mapping[str, FilterValue] | None) -> Filters:
        """The set filters, each value an existing facet value (else QueryError)."""
        return check_filters(filters, self.facet_values)

    def browse(self, filters: Mapping[str, FilterValue]) -> list[CaseInfo]:
        """The cases that pass `filters`, in corpus order."""
        chosen = self.check_filters(filters)
        passes = self.searcher.facets.passes(chosen)
        return [c for c, ok in zip(self.case_infos, passes, strict=True) if ok]

    def case(self, case_id: str) -> Case:
        i = self.corpus.position(case_id) if isinstance(case_id, str) else None
        if i is None:
            raise NotFound(f"事例が見つかりません: {case_id}")
        return self.corpus.case(i)

    def find_case(self, name: str) -> Case:
        """A case by its id or, as people name it, by its municipality (浦安市, 浦安, 千葉県浦安市,
        in any width); NotFound that lists the cases when none or several are named so."""
        key = fold(name).replace(" ", "").replace("\u3000", "")
        for case_id in (name, key):
            if self.corpus.position(case_id) is not None:
                return self.case(case_id)
        named = [
            c
            for c in self.case_infos
            if key
            in (
                fold(c.municipality),
                _without_suffix(fold(c.municipality)),
                fold(c.prefecture + c.municipality),
            )
        ]
        if len(named) == 1:
            return self.case(named[0].id)
        pool = named or self.case_infos
        listed = "、".join(f"{c.municipality} [{c.id}]" for c in pool[:20])
        if len(pool) > 20:
            listed += f" ほか{len(pool) - 20}件"
        if named:
            raise NotFound(f"「{name}」の事例は複数あります。id で指定してください: {listed}")
        raise NotFound(
            f"事例が見つかりません: {name}（事例の id か市町村名で指定してください: {listed}）"
        )

    def lessons(
        self,
        *,
        theme: FilterValue = None,
        prefecture: FilterValue = None,
        kind: str | None = None,
        case: str | None = None,
        audience: str | None = None,
    ) -> tuple[tuple[Case, Lesson], ...]:
        """Every lesson once, in case order. `theme` is a theme of the lesson itself (any of
        several); `prefecture` and `case` choose cases; `kind` and `audience` (region,
        municipality, starter) choose lessons. Values are checked like search filters."""
        if kind and kind not in LESSON_KINDS:
            raise QueryError(
                f"不明な種類です: {kind}（指定できる値: {named_choices(LESSON_KINDS)}）"
            )
        if audience and audience not in AUDIENCE_LABELS:
            raise QueryError(
                f"不明な対象です: {audience}（指定できる値: {named_choices(AUDIENCE_LABELS)}）"
            )
        if case and self.corpus.position(case) is None:
            raise QueryError(f"事例に「{case}」はありません。")
        wanted = self.check_filters({"theme": theme, "prefecture": prefecture})
        themes = set(wanted.pop("theme", ()))
        passes = self.searcher.facets.passes(wanted)
        chosen = [
            i for i, c in enumerate(self.case_infos) if (not case or c.id == case) and passes[i]
        ]
        return tuple(
            (c, lesson)
            for c in self.corpus.snapshot.stream(chosen)
            for lesson in c.suggestions + c.key_points
            if (not kind or lesson.kind == kind)
            and (not audience or lesson.audience == audience)
            and (not themes or not themes.isdisjoint(lesson.themes))
        )

    @functools.cached_property
    def lesson_themes(self) -> tuple[str, ...]:
        """The themes some lesson carries, in the themes table's order: what the lessons page
        offers to filter by (認知症 is a theme of four cases but of none of their lessons)."""
        carried = {t for _c, lesson in self.lessons() for t in lesson.themes}
        return tuple(t for t in self.themes if t in carried)

    def passage(self, passage_id: str) -> Passage:
        """One passage of a case by its id (NotFound when no case has it)."""
        p = self.corpus.passage(passage_id) if isinstance(passage_id, str) else None
        if p is None:
            raise NotFound(f"箇所が見つかりません: {passage_id}")
        return p

    def has_case(self, case_id: str) -> bool:
        return isinstance(case_id, str) and self.corpus.position(case_id) is not None

    def lesson(self, lesson_id: str) -> tuple[Case, Lesson]:
        # Lesson ids start with their case's id (corpus validation makes sure of it).
        i = self.corpus.position(lesson_id.split("-", 1)[0]) if isinstance(lesson_id, str) else None
        if i is not None:
            c = self.corpus.case(i)
            for lesson in c.lessons:
                if lesson.id == lesson_id:
                    return c, lesson
        raise NotFound(f"教訓が見つかりません: {lesson_id}")

    # --- searching and recommending -------------------------------------------------------

    def search(
        self,
        text: str,
        *,
        filters: Mapping[str, FilterValue] | None = None,
        page: int = 1,
        page_size: int | None = None,
        exact: bool = False,
    ) -> SearchResult:
        """Cases for `text`; `exact` searches the words only as typed (no synonyms, no parts)."""
        filters_ = self.check_filters(filters)
        size = page_size or self.settings.page_size
        text = typed(text or "")
        result = self.searcher.search(text, filters_, page, size, exact=exact)
        return with_suggestions(result, self.searcher, filters_, exact)

    def recommend(self, text: str, *, limit: int = 5) -> Recommendation:
        # a line break is one character, as the page's counter shows it (a form sends \r\n)
        text = typed(text or "").replace("\r\n", "\n").strip()
        if not text:
            raise QueryError("課題の内容を入力してください。")
        if has_invalid_chars(text):
            raise QueryError("入力に使えない文字（制御文字など）が含まれています。")
        if len(text) > self.settings.max_text_chars:
            raise QueryTooLarge(
                f"入力が長すぎます（{self.settings.max_text_chars}文字まで）。要点を短くまとめてください。"
            )
        check_limit("limit", limit)
        read = self.expander.kana.spell(text)  # にんちしょう → 認知症, けあまね → ケアマネ
        tokens = self.analyzer.tokens(read)
        if not tokens:
            raise QueryError("内容を表す語が見つかりません。課題を文章で入力してください。")
        topics = self.recommender.reader.topic_terms(tokens)
        if not topics:
            raise QueryError("課題の内容を表す語が見つかりません。もう少し具体的に書いてください。")
        return dataclasses.replace(self.recommender(read, tokens, topics, limit), query=text)

    def case_marks(
        self, case_id: str, q: str, *, exact: bool = False
    ) -> dict[str, tuple[str, ...]]:
        """The case's passages where the words of the search `q` are, marked line by line."""
        return self.searcher.marks(self.case(case_id), typed(q), exact)

    def warm_up(self) -> None:
        """Load what the first request would otherwise wait for (the sentence encoder)."""
        self.recommender.warm_up()

    def similar(self, case_id: str, *, limit: int = 5) -> tuple[SimilarCase, ...]:
        case = self.case(case_id)
        check_limit("limit", limit)
        a = self.corpus.position(case.id)  # the model's cases are the snapshot's (checked at open)
        mine = self.whole_words(case)
        out = []
        for b, score in similar_cases(self.model, a, limit):
            other = self.corpus.case(b)
            shared = tuple(t for t in case.themes if t in other.themes)
            words = mine.keys() & self.whole_words(other).keys()
            terms = top_shared_terms(self.model, a, b, words=words, exclude=shared)
            out.append(SimilarCase(other, round(score, 4), shared, tuple(mine[t] for t in terms)))
        return tuple(out)

    def whole_words(self, case: Case) -> dict[str, str]:
        """The words of a case (not the parts of its compounds), each with the spelling the
        case uses most: the only words `similar` gives as reasons."""
        words = self._words.get(case.id)
        if words is None:
            text = "\n".join(p.text for p in case.passages())
            seen = Counter((t.text, t.surface) for t in self.analyzer.tokens(text))
            words = {}
            for (word, surface), _n in seen.most_common():
                words.setdefault(word, surface)
            if len(self._words) >= WORDS_CACHED:
                self._words.clear()
            self._words[case.id] = words
        return words


class LiveEngine:
    """The Engine of the current build, reopened when `caresearch build` publishes a new one.

    A server holds one of these instead of an Engine, so a rebuild is picked up without a
    restart. Requests in flight keep the Engine they started with; a replaced engine is
    closed once a later switch shows no request can still hold it (the old build's files stay
    readable until they are pruned two builds later).
    """

    def __init__(self, settings: Settings, engine: Engine | None = None, interval: float = 1.0):
        self.settings = settings
        self.interval = interval
        self._engine = engine or Engine.open(settings)
        self._retired: Engine | None = None
        self._checked = time.monotonic()
        self._lock = threading.Lock()
        self._failed: Path | None = None

    def get(self) -> Engine:
        now = time.monotonic()
        if now - self._checked < self.interval:
            return self._engine
        with self._lock:
            if now - self._checked >= self.interval:
                self._checked = now
                self._reload()
        return self._engine

    def _reload(self) -> None:
        from .store import IndexStore

        current = IndexStore(self.settings.index_dir).current()
        if current in (None, self._engine.build_path, self._failed):
            return
        try:
            engine = Engine.open(self.settings)
        except IndexNotReady as exc:
            # Keep serving the build we have, and don't retry that build.
            self._failed = current
            log.warning("keeping the build in use: the new build %s cannot be opened: %s",
                        current, exc.message)  # fmt: skip
            return
        if self._retired is not None:
            self._retired.close()  # two switches ago: every request on it has finished
        self._retired, self._engine = self._engine, engine
        log.info("switched to build %s", engine.build_path)

    def close(self) -> None:
        for engine in (self._retired, self._engine):
            if engine is not None:
                engine.close()


def _without_suffix(municipality: str) -> str:
    """浦安市 → 浦安 (one 市, 町, 村 or 区 off the end; 四日市 → 四日, never 四日市 → 四日 → …)."""
    if len(municipality) > 1 and municipality[-1] in "市町村区":
        return municipality[:-1]
    return municipality
