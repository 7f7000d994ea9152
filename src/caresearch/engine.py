"""The Engine facade: the one object the CLI and the web app talk to.

`Engine.build(settings)` turns the corpus into a published build (Whoosh index, TF-IDF model,
corpus snapshot); `Engine.open(settings)` loads the current build read-only. Then `search`,
`recommend`, `similar`, `case`, `cases` and `lessons`. Nothing here parses HTTP or argv.
"""

from __future__ import annotations

import os
import pickle
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import numpy as np

from . import __version__
from .analysis import Analyzer, has_invalid_chars, reading_map
from .config import Settings
from .corpus import load_corpus, load_themes
from .errors import CaresearchError, IndexNotReady, NotFound, QueryError, QueryTooLarge
from .highlight import TokenCache
from .index import IndexDoc, SearchIndex, write_index
from .models import (
    BuildReport,
    Case,
    CaseInfo,
    CaseRecommendation,
    Lesson,
    MatchedTerm,
    Recommendation,
    ScoredLesson,
    SearchResult,
    SimilarCase,
)
from .query import QueryExpander
from .recommend import (
    ANSWER_SECTIONS,
    GENERIC_NOUNS,
    LESSON_SECTIONS,
    RRF_K,
    Recommender,
    is_topic,
    rrf,
    similar_cases,
    top_k,
    top_shared_terms,
)
from .searching import Corpus, case_passes, clean_filters, search
from .snapshot import TABLE_FILE, CaseList, Snapshot, write_snapshot
from .store import IndexStore, fingerprint, verify
from .synonyms import DEFAULT_PATH as SYNONYMS_PATH
from .synonyms import SynonymTable

BUILD_FORMAT = 1  # bump when the build's files change shape
WHOOSH_DIR = "whoosh"
MODEL_FILE = "recommender.pkl"
SNAPSHOT_FILE = TABLE_FILE  # the snapshot's table; the case texts are in CASES_FILE
SUDACHI_GROUPS_FILE = "sudachi_groups.pkl"
READINGS_FILE = "readings.pkl"
LESSON_FIELD_SECTIONS = ("key_point", "suggestion", "feature")

# Recommendation thresholds, measured on eval/recommend_dev.yaml (see docs/recommend.md).
# A strong match covers half of what the description is about, or a third of it through at
# least four distinct topic words (a chance overlap with one or two words is not a match).
STRONG_COVERAGE = 0.5
PARTIAL_COVERAGE = 0.34
PARTIAL_MIN_TERMS = 4
HIGH_COVERAGE = 0.6
MEDIUM_COVERAGE = 0.4
SYNONYM_WEIGHT = 0.5
MAX_DESCRIPTION_WORDS = 40
PARALLEL_MIN_DOCS = 3000  # below this a second indexing process costs more than it saves
RANK_DEPTH = 200  # cases taken from each ranking into the fusion


def corpus_files(corpus_dir: Path) -> list[Path]:
    files = sorted((corpus_dir / "cases").glob("*.yaml"))
    themes = corpus_dir / "themes.yaml"
    return files + ([themes] if themes.exists() else [])


# The code that shapes a build: a change to any of these makes existing builds stale.
BUILD_CODE = tuple(
    Path(__file__).with_name(name)
    for name in (
        "analysis.py",
        "corpus.py",
        "engine.py",
        "index.py",
        "models.py",
        "recommend.py",
        "snapshot.py",
    )
)


def code_fingerprint() -> str:
    return fingerprint(list(BUILD_CODE), f"format={BUILD_FORMAT}")


def corpus_fingerprint(settings: Settings, analyzer: Analyzer) -> str:
    return fingerprint(
        [*corpus_files(settings.corpus_dir), SYNONYMS_PATH, *BUILD_CODE],
        analyzer.settings_key(),
        f"format={BUILD_FORMAT}",
        f"version={__version__}",
    )


def build_processes(n_docs: int) -> int:
    """Indexing processes for a build: every core for a large corpus, one for a small one."""
    if n_docs < PARALLEL_MIN_DOCS:
        return 1
    return max(1, min(os.cpu_count() or 1, 4))


def index_docs(cases: Iterable[Case]) -> Iterable[IndexDoc]:
    for c in cases:
        yield IndexDoc(
            id=c.id,
            case_id=c.id,
            kind="case",
            title=f"{c.title}\n{c.prefecture} {c.municipality}",
            keywords="\n".join(c.keywords + c.editorial_keywords + c.themes),
            body="\n".join(c.implementing_bodies + ((c.contact,) if c.contact else ())),
            diagram="\n".join(c.diagram_text),
        )
        for p in c.passages():
            field = "lesson" if p.section in LESSON_FIELD_SECTIONS else "body"
            yield IndexDoc(
                id=p.id,
                case_id=c.id,
                kind=p.section,
                heading=p.heading or "",
                **{field: p.text},
            )


class Engine:
    """An open build: cases, index, recommender and query expander, all read-only."""

    def __init__(
        self,
        settings: Settings,
        snapshot: Snapshot,
        index: SearchIndex,
        recommender: Recommender,
        expander: QueryExpander,
        meta: Mapping,
        build_path: Path,
    ) -> None:
        self.settings = settings
        self.corpus = Corpus(snapshot, index.docs)
        self.index = index
        self.recommender = recommender
        self.expander = expander
        self.analyzer = expander.analyzer
        self.token_cache = TokenCache(self.analyzer)
        self.themes = snapshot.themes
        self.meta = dict(meta)
        self.build_path = build_path
        # Position in recommender.case_ids_ of each indexed document's case (-1 if unknown).
        self._doc_case = self.corpus.doc_case

    # --- building -------------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        force: bool = False,
        progress: Callable[[Iterable, int, str], Iterable] | None = None,
    ) -> BuildReport:
        """Build and publish a new index unless the current one matches corpus and settings.

        The corpus is validated first (a broken case file raises CorpusError and nothing is
        written); the new build is published atomically, so the old one serves until then.
        """
        started = time.perf_counter()
        analyzer = Analyzer()
        store = IndexStore(settings.index_dir)
        phases: dict[str, float] = {}
        clock = _Clock(phases)
        cases = load_corpus(settings.corpus_dir)
        themes = load_themes(settings.corpus_dir)
        fp = corpus_fingerprint(settings, analyzer)
        meta = store.meta()
        if not force and meta and meta.get("fingerprint") == fp:
            return BuildReport(
                False,
                meta["cases"],
                meta["passages"],
                meta["documents"],
                round(time.perf_counter() - started, 3),
                str(store.current()),
            )
        docs = list(index_docs(cases))
        wrap = progress or (lambda it, total, desc: it)
        try:
            partial = store.new_build()
        except OSError as exc:
            raise CaresearchError(
                f"cannot write the index in {settings.index_dir} ({exc.strerror or exc})"
            ) from exc
        try:
            clock.lap("load")
            n_docs, counts = write_index(
                partial / WHOOSH_DIR,
                wrap(docs, len(docs), "索引"),
                analyzer,
                procs=build_processes(len(docs)),
            )
            clock.lap("index")
            # What Sudachi knows about each indexed term: its reading (for kana queries),
            # synonym groups and part of speech (for explanations).
            frequency = Counter()
            for col, n in zip(counts.cols, counts.counts, strict=True):
                frequency[col] += n
            vocab = {
                term: toks[0]
                for term in wrap(counts.vocab, len(counts.vocab), "語彙")
                if len(toks := analyzer.tokens(term)) == 1
            }
            topics = frozenset(t for t, tok in vocab.items() if is_topic(tok))
            clock.lap("vocabulary")
            recommender = Recommender().fit(cases, counts, topics)
            clock.lap("model")
            groups: dict[int, set[str]] = {}
            for term, tok in vocab.items():
                for gid in tok.synonym_ids:
                    groups.setdefault(gid, set()).add(term)
            _dump(partial / MODEL_FILE, recommender)
            write_snapshot(partial, cases, themes)
            _dump(
                partial / SUDACHI_GROUPS_FILE,
                {g: tuple(sorted(v)) for g, v in groups.items() if len(v) > 1},
            )
            weight = {t: frequency[j] for j, t in enumerate(counts.vocab)}
            _dump(
                partial / READINGS_FILE,
                reading_map((tok._replace(text=t), weight.get(t, 1)) for t, tok in vocab.items()),
            )
            n_passages = sum(1 for c in cases for _ in c.passages())
            clock.lap("save")
            final = store.publish(
                partial,
                {
                    "fingerprint": fp,
                    "code": code_fingerprint(),
                    "format": BUILD_FORMAT,
                    "version": __version__,
                    "cases": len(cases),
                    "passages": n_passages,
                    "documents": n_docs,
                    "corpus_dir": str(settings.corpus_dir),
                    "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    "phases": phases,
                },
            )
        except OSError as exc:
            store.discard(partial)
            raise CaresearchError(
                f"the build failed ({exc.strerror or exc}); the previous index is still in use"
            ) from exc
        except BaseException:
            store.discard(partial)
            raise
        return BuildReport(
            True,
            len(cases),
            n_passages,
            n_docs,
            round(time.perf_counter() - started, 3),
            str(final),
            phases,
        )

    @classmethod
    def is_stale(cls, settings: Settings) -> bool:
        meta = IndexStore(settings.index_dir).meta()
        return not meta or meta.get("fingerprint") != corpus_fingerprint(settings, Analyzer())

    @classmethod
    def open(cls, settings: Settings) -> Engine:
        store = IndexStore(settings.index_dir)
        build = store.current()
        if build is None:
            raise IndexNotReady(f"no index in {settings.index_dir}: run `caresearch build` first")
        meta = store.meta(build)
        if not meta or meta.get("format") != BUILD_FORMAT:
            raise IndexNotReady(
                f"the index in {build} is from another version or damaged: "
                "run `caresearch build --force`"
            )
        if meta.get("code") != code_fingerprint():
            raise IndexNotReady(
                f"the index in {build} was built by another version of caresearch: "
                "run `caresearch build`"
            )
        damaged = verify(build, meta)
        if damaged:
            raise IndexNotReady(
                f"the index in {build} is damaged ({', '.join(damaged[:3])}): "
                "run `caresearch build --force`"
            )
        try:
            snapshot = Snapshot.open(build)
            recommender = _load(build / MODEL_FILE)
            groups = _load(build / SUDACHI_GROUPS_FILE)
            readings = _load(build / READINGS_FILE)
            if recommender.case_ids_ != tuple(info.id for info in snapshot.infos):
                raise ValueError("the model and the snapshot hold different cases")
            index = SearchIndex.open(build / WHOOSH_DIR)
        except IndexNotReady:
            raise
        except Exception as exc:  # unpickling damaged bytes can raise almost any error
            raise IndexNotReady(
                f"the index in {build} is damaged ({type(exc).__name__}): "
                "run `caresearch build --force`"
            ) from exc
        analyzer = Analyzer()
        expander = QueryExpander(analyzer, SynonymTable.load(), groups, readings)
        return cls(settings, snapshot, index, recommender, expander, meta, build)

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

    def browse(self, filters: Mapping[str, str | None]) -> list[CaseInfo]:
        """The cases that pass `filters` (prefecture, region, theme, keyword), in corpus order."""
        chosen = clean_filters(filters)
        return [c for c in self.case_infos if case_passes(c, chosen)]

    def case(self, case_id: str) -> Case:
        i = self.corpus.position(case_id) if isinstance(case_id, str) else None
        if i is None:
            raise NotFound(f"事例が見つかりません: {case_id}")
        return self.corpus.case(i)

    def lessons(
        self, *, theme: str | None = None, prefecture: str | None = None, kind: str | None = None
    ) -> tuple[tuple[Case, Lesson], ...]:
        if theme and theme not in self.themes:
            raise QueryError(f"不明なテーマです: {theme}")
        if kind and kind not in LESSON_SECTIONS:
            raise QueryError(f"不明な種類です: {kind}")
        wanted = clean_filters({"theme": theme, "prefecture": prefecture})
        chosen = [i for i, c in enumerate(self.case_infos) if case_passes(c, wanted)]
        return tuple(
            (c, lesson)
            for c in self.corpus.snapshot.stream(chosen)
            for lesson in c.suggestions + c.key_points
            if not kind or lesson.kind == kind
        )

    def lesson(self, lesson_id: str) -> tuple[Case, Lesson]:
        # Lesson ids start with their case's id (corpus validation makes sure of it).
        i = self.corpus.position(lesson_id.split("-", 1)[0]) if isinstance(lesson_id, str) else None
        if i is not None:
            c = self.corpus.case(i)
            for lesson in c.lessons:
                if lesson.id == lesson_id:
                    return c, lesson
        raise NotFound(f"教訓が見つかりません: {lesson_id}")

    # --- searching ------------------------------------------------------------------------

    def search(
        self,
        text: str,
        *,
        filters: Mapping[str, str | None] | None = None,
        page: int = 1,
        page_size: int | None = None,
    ) -> SearchResult:
        return search(
            self.index,
            self.corpus,
            self.expander,
            self.token_cache,
            text,
            filters=filters,
            page=page,
            page_size=page_size or self.settings.page_size,
            passages_per_case=self.settings.passages_per_case,
            max_chars=self.settings.max_query_chars,
        )

    def synonym_suggestions(self, text: str) -> tuple[str, ...]:
        """Other spellings of the words in `text`, for help on zero hits."""
        out: list[str] = []
        for word in text.split():
            out.extend(s for s in self.expander.synonyms_of(word) if s not in out)
        return tuple(out[:10])

    # --- recommending ---------------------------------------------------------------------

    def recommend(self, text: str, *, limit: int = 5) -> Recommendation:
        text = (text or "").strip()
        if not text:
            raise QueryError("課題の内容を入力してください。")
        if has_invalid_chars(text):
            raise QueryError("入力に使えない文字（制御文字など）が含まれています。")
        if len(text) > self.settings.max_text_chars:
            raise QueryTooLarge(
                f"入力が長すぎます（{self.settings.max_text_chars}文字まで）。要点を短くまとめてください。"
            )
        if not 1 <= limit <= 50:
            raise QueryError("件数は1から50までです。")
        tokens = self.analyzer.tokens(text)
        if not tokens:
            raise QueryError("内容を表す語が見つかりません。課題を文章で入力してください。")
        rec = self.recommender
        literal = Counter(
            t.text
            for t in tokens
            if is_topic(t) or (self.expander.knows(t.text) and t.text not in GENERIC_NOUNS)
        )
        if not literal:
            raise QueryError("課題の内容を表す語が見つかりません。もう少し具体的に書いてください。")
        surfaces = {t.text: t.surface for t in reversed(tokens)}
        weighted: Counter = Counter(x[0] for x in self.analyzer.index_terms_from(tokens))
        # term -> its synonyms as (label, part-level terms); they count as covering the term.
        expansions: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {}
        # Each topic word analysed once as a query word: its synonyms, then the BM25 query.
        words_of = {term: self.expander.word(surfaces[term]) for term in literal}
        for term, word in words_of.items():
            alts = tuple(
                (v.label, v.terms)
                for v in (word.variants if word else ())
                if v.via not in ("exact", "parts")
            )
            if alts:
                expansions[term] = alts
                for _label, terms in alts:
                    for alt in terms:
                        weighted[alt] += SYNONYM_WEIGHT * literal[term]
        cosine, coverage = rec.score_cases(weighted, literal, expansions)

        # BM25: one OR query over the most informative content words of the description;
        # a case scores by its best passage.
        informative = sorted(literal, key=lambda t: -rec.idf(t))[:MAX_DESCRIPTION_WORDS]
        words = [w for t in informative if (w := words_of[t]) is not None]
        doc_scores = self.index.literal_vector(words)
        case_best = np.zeros(len(self.cases), dtype=np.float32)
        hit = np.flatnonzero(doc_scores)
        cases_of = self._doc_case[hit]
        known = cases_of >= 0
        np.maximum.at(case_best, cases_of[known], doc_scores[hit][known])

        top_tfidf = top_k(cosine, RANK_DEPTH)
        tfidf_rank = [int(i) for i in top_tfidf if cosine[i] > 0]
        bm25_rank = [int(i) for i in top_k(case_best, RANK_DEPTH) if case_best[i] > 0]
        fused = rrf([tfidf_rank, bm25_rank], k=RRF_K)
        ranked = sorted(fused, key=lambda i: (-fused[i], i))

        def matched(i: int) -> tuple[str, ...]:
            return rec.matched(i, literal, expansions)

        best = max(ranked, key=lambda i: coverage[i], default=None)
        best_cov = float(coverage[best]) if best is not None else 0.0
        no_strong = best is None or not (
            best_cov >= STRONG_COVERAGE
            or (best_cov >= PARTIAL_COVERAGE and len(matched(best)) >= PARTIAL_MIN_TERMS)
        )

        passage_scores = rec.score_passages(weighted)
        out_cases: list[CaseRecommendation] = []
        levels = ("low", "medium", "high")
        cap = 2  # a case never shows more confidence than the one ranked above it
        top = fused[ranked[0]] if ranked else 1.0
        for i in ranked:
            found = matched(i)
            if not found:  # similar only through filler words: not a reason to show it
                continue
            relative = fused[i] / top
            level = 0
            if not no_strong and coverage[i] >= MEDIUM_COVERAGE and relative >= 0.4:
                level = 2 if coverage[i] >= HIGH_COVERAGE and relative >= 0.7 else 1
            cap = min(cap, level)
            if no_strong and len(out_cases) >= 3:
                break
            cid = rec.case_ids_[i]
            out_cases.append(
                CaseRecommendation(
                    case=self.case(cid),
                    score=round(fused[i] * (RRF_K + 1) / 2, 4),  # 1.0 = first in both
                    confidence=levels[cap],
                    matched_terms=self._matched_terms(found, surfaces, expansions, i),
                    lessons=self._case_lessons(i, passage_scores),
                )
            )
            if len(out_cases) >= limit:
                break
        overall = sorted(
            (
                ScoredLesson(
                    self.corpus.passage(rec.passage_ids_[j]),
                    round(float(passage_scores[j]) * cr.score, 4),
                )
                for cr in out_cases
                for j in rec.passages_of(self.corpus.position(cr.case.id))
                if rec.passage_section_[j] in LESSON_SECTIONS and passage_scores[j] > 0
            ),
            key=lambda sl: -sl.score,
        )[:10]
        return Recommendation(
            query=text,
            no_strong_match=no_strong,
            cases=tuple(out_cases),
            lessons=tuple(overall),
            coverage=round(best_cov, 3),
        )

    def _matched_terms(
        self,
        found: Iterable[str],
        surfaces: Mapping[str, str],
        expansions: Mapping[str, tuple[tuple[str, tuple[str, ...]], ...]],
        case: int,
    ) -> tuple[MatchedTerm, ...]:
        rec = self.recommender
        out = []
        for term in list(found)[:12]:
            if rec.case_has(case, term):
                out.append(MatchedTerm(surfaces[term], term, "exact"))
            else:
                label = next(
                    lab
                    for lab, terms in expansions.get(term, ())
                    if all(rec.case_has(case, t) for t in terms)
                )
                out.append(MatchedTerm(surfaces[term], label, "synonym"))
        return tuple(out)

    def _case_lessons(self, case: int, passage_scores) -> tuple[ScoredLesson, ...]:
        rec = self.recommender
        scored = [
            (
                float(passage_scores[j]) * ANSWER_SECTIONS[rec.passage_section_[j]],
                rec.passage_ids_[j],
                rec.passage_section_[j],
            )
            for j in rec.passages_of(case)
            if rec.passage_section_[j] in ANSWER_SECTIONS
        ]
        lessons = sorted((s for s in scored if s[2] in LESSON_SECTIONS), key=lambda s: -s[0])[:3]
        contents = sorted(
            (s for s in scored if s[2] == "content" and s[0] > 0), key=lambda s: -s[0]
        )[:2]
        return tuple(
            ScoredLesson(self.corpus.passage(pid), round(score, 4))
            for score, pid, _k in lessons + contents
        )

    def similar(self, case_id: str, *, limit: int = 5) -> tuple[SimilarCase, ...]:
        case = self.case(case_id)
        a = self.corpus.position(case.id)  # the model's cases are the snapshot's (checked at open)
        out = []
        for b, score in similar_cases(self.recommender, a, limit):
            other = self.corpus.case(b)
            shared = tuple(t for t in case.themes if t in other.themes)
            terms = top_shared_terms(self.recommender, a, b)
            out.append(SimilarCase(other, round(score, 4), shared, terms))
        return tuple(out)


class LiveEngine:
    """The Engine of the current build, reopened when `caresearch build` publishes a new one.

    A server holds one of these instead of an Engine, so a rebuild is picked up without a
    restart. Requests in flight keep the Engine they started with; the old build's files stay
    readable until it is pruned two builds later.
    """

    def __init__(self, settings: Settings, engine: Engine | None = None, interval: float = 1.0):
        self.settings = settings
        self.interval = interval
        self._store = IndexStore(settings.index_dir)
        self._engine = engine or Engine.open(settings)
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
                current = self._store.current()
                if current not in (None, self._engine.build_path, self._failed):
                    # On failure keep serving the build we have, and don't retry that build.
                    try:
                        self._engine = Engine.open(self.settings)
                    except IndexNotReady:
                        self._failed = current
        return self._engine


class _Clock:
    """Seconds per build phase, for the build report and the benchmark."""

    def __init__(self, phases: dict[str, float]) -> None:
        self.phases = phases
        self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.phases[name] = round(now - self.last, 3)
        self.last = now


def _dump(path: Path, obj: object) -> None:
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)


def _load(path: Path):
    # Only files this program wrote into its own build directory are unpickled.
    with open(path, "rb") as f:
        return pickle.load(f)
