"""The build: corpus files → a published build directory, as named steps.

  load        read and validate the case files (a broken file stops here: nothing is written)
  index       analyse every document into the Whoosh index and its BM25F table
  vocabulary  what Sudachi knows of each indexed term: reading, synonym groups, topic nouns
  fit         the TF-IDF model from the index's own term counts
  vectors     a sentence vector per answer passage (semantic.py), from the cache when known
  snapshot    the cases, read one at a time when they are shown
  publish     meta.json, then the atomic switch of index/CURRENT (store.py)

`load_build` opens the parts of a published build for the Engine. A build is stale when its
fingerprint differs: BUILD_FORMAT (bumped by hand when the files of a build change shape),
the analyzer's settings, the corpus files and the synonym table. Editing code that does not
change a build's files does not make existing builds stale.
"""

from __future__ import annotations

import itertools
import os
import pickle
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from scipy.sparse import load_npz, save_npz

from . import semantic
from .analysis import Analyzer, Token
from .config import Settings
from .corpus import load_corpus_and_drafts, load_themes
from .errors import CaresearchError, IndexNotReady
from .index import SearchIndex
from .index_writer import IndexDoc, write_index
from .kana import reading_map
from .models import LESSON_KINDS, BuildReport, Case, Passage, Progress
from .policy import is_topic
from .semantic import VectorCache
from .snapshot import Snapshot, write_snapshot
from .store import IndexStore, fingerprint, verify
from .synonyms import DEFAULT_PATH as SYNONYMS_PATH
from .tfidf import ANSWER_SECTIONS, TfidfModel

BUILD_FORMAT = 23  # bump when the files of a build change shape or meaning
WHOOSH_DIR = "whoosh"
MODEL_FILE = "model.pkl"
BASELINE_FILE = "baseline-passages.npz"  # TF-IDF per answer passage, for `caresearch eval` only
READINGS_FILE = "readings.pkl"
VECTORS_FILE = "vectors.npy"  # one unit vector per answer passage, in the model's order
VECTOR_CACHE = "vector-cache.npz"  # beside the builds: vectors by passage text
PARALLEL_MIN_DOCS = 3000  # below this a second indexing process costs more than it saves
# Sections indexed in the `lesson` field (boosted); the others go to `body`.
LESSON_FIELD_SECTIONS = frozenset((*LESSON_KINDS, "feature"))

# What unpickling damaged bytes can raise (the files passed the size check in `verify`).
UNPICKLING_ERRORS = (
    pickle.UnpicklingError, EOFError, OSError, ValueError, KeyError, IndexError, TypeError,
    AttributeError, ImportError, MemoryError, OverflowError,
)  # fmt: skip


class Build(NamedTuple):
    """The parts of an open build."""

    path: Path
    meta: dict[str, Any]
    snapshot: Snapshot
    index: SearchIndex
    model: TfidfModel
    readings: dict[str, tuple[str, ...]]
    vectors: semantic.StoredVectors | None  # one per answer passage; None: built without


def corpus_files(corpus_dir: Path) -> list[Path]:
    files = sorted((corpus_dir / "cases").glob("*.yaml"))
    themes = corpus_dir / "themes.yaml"
    return files + ([themes] if themes.exists() else [])


def build_fingerprint(settings: Settings, analyzer: Analyzer) -> str:
    return fingerprint(
        [*corpus_files(settings.corpus_dir), SYNONYMS_PATH],
        analyzer.settings_key(),
        f"format={BUILD_FORMAT}",
        f"embedding={semantic.MODEL_ID if settings.embedding else 'off'}",
    )


def is_stale(settings: Settings) -> bool:
    meta = IndexStore(settings.index_dir).meta()
    return not meta or meta.get("fingerprint") != build_fingerprint(settings, Analyzer())


def build_processes(n_docs: int) -> int:
    """Indexing processes for a build: every core for a large corpus, one for a small one."""
    if n_docs < PARALLEL_MIN_DOCS:
        return 1
    return max(1, min(os.cpu_count() or 1, 4))


def index_docs(cases: Iterable[Case]) -> Iterable[IndexDoc]:
    """The indexed documents: one per case (title, keywords, bodies, figure text), then one
    per passage."""
    for c in cases:
        yield IndexDoc(
            id=c.id,
            case_id=c.id,
            kind="case",
            title=f"{c.title}\n{c.name}",  # searching reads the place after the title
            keywords="\n".join(c.tags),
            body="\n".join(c.implementing_bodies + ((c.contact,) if c.contact else ())),
            diagram="\n".join(c.diagram_text),
        )
        for p in c.passages():
            field = "lesson" if p.section in LESSON_FIELD_SECTIONS else "body"
            yield IndexDoc(
                id=p.id, case_id=c.id, kind=p.section, heading=p.heading or "", **{field: p.text}
            )


def build(
    settings: Settings, *, force: bool = False, progress: Progress | None = None
) -> BuildReport:
    """Build and publish a new index unless the current one matches corpus and settings.

    The corpus is validated first (a broken case file raises CorpusError and nothing is
    written); the new build is published atomically, so the old one serves until then.
    """
    started = time.perf_counter()
    wrap = progress or (lambda it, total, desc: it)
    analyzer = Analyzer()
    store = IndexStore(settings.index_dir)
    phases: dict[str, float] = {}
    clock = _Clock(phases)
    # load
    cases, drafts = load_corpus_and_drafts(settings.corpus_dir)
    themes = load_themes(settings.corpus_dir)
    fp = build_fingerprint(settings, analyzer)
    meta = store.meta()
    if not force and meta and meta.get("fingerprint") == fp:
        return BuildReport(
            False, meta["cases"], meta["passages"], meta["documents"],
            round(time.perf_counter() - started, 3), str(store.current()), drafts=drafts,
        )  # fmt: skip
    docs = list(index_docs(cases))
    try:
        partial = store.new_build()
    except OSError as exc:
        raise CaresearchError(
            f"索引を {settings.index_dir} に書き込めません（{exc.strerror or exc}）"
        ) from exc
    ahead = _VectorsAhead(settings.index_dir / VECTOR_CACHE, cases)
    try:
        clock.lap("load")
        n_docs, counts = write_index(
            partial / WHOOSH_DIR,
            wrap(docs, len(docs), "索引"),
            analyzer,
            procs=build_processes(len(docs)),
            started=ahead.start if settings.embedding else None,
        )
        clock.lap("index")
        vocab, readings = _vocabulary(analyzer, counts, wrap)
        clock.lap("vocabulary")
        topics = frozenset(t for t, tok in vocab.items() if is_topic(tok))
        model = TfidfModel().fit(cases, counts, topics, _theme_labels(analyzer, cases))
        clock.lap("model")
        encoded = 0
        if settings.embedding:
            procs = build_processes(len(docs))
            cache = ahead.result()
            clock.lap("encoder")  # what is left of reading the cache and loading the encoder
            vectors, encoded = _passage_vectors(cache, model, cases, procs, wrap)
            np.save(partial / VECTORS_FILE, vectors)
            clock.lap("vectors")
        _dump(partial / MODEL_FILE, model)
        save_npz(partial / BASELINE_FILE, model.passage_matrix_, compressed=False)
        _dump(partial / READINGS_FILE, readings)
        write_snapshot(partial, cases, themes)
        n_passages = sum(1 for c in cases for _ in c.passages())
        clock.lap("save")
        final = store.publish(
            partial,
            {
                "fingerprint": fp,
                "format": BUILD_FORMAT,
                "cases": len(cases),
                "passages": n_passages,
                "documents": n_docs,
                "corpus_dir": str(settings.corpus_dir),
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "phases": phases,
                "encoded": encoded,
            },
        )
    except OSError as exc:
        store.discard(partial)
        raise CaresearchError(
            f"索引の作成に失敗しました（{exc.strerror or exc}）。これまでの索引をそのまま使っています"
        ) from exc
    except BaseException:
        store.discard(partial)
        raise
    finally:
        ahead.close()
    return BuildReport(
        True, len(cases), n_passages, n_docs, round(time.perf_counter() - started, 3),
        str(final), phases, drafts,
    )  # fmt: skip


def _vocabulary(analyzer: Analyzer, counts, wrap: Progress) -> tuple[dict, dict]:
    """What Sudachi knows about each indexed term: its token (part of speech, reading), and
    the readings of terms (for kana queries), the more frequent spelling first."""
    frequency: Counter = Counter()
    for col, n in zip(counts.cols, counts.counts, strict=True):
        frequency[col] += n
    vocab = {
        term: toks[0]
        for term in wrap(counts.vocab, len(counts.vocab), "語彙")
        if len(toks := analyzer.tokens(term)) == 1
    }
    weight = {t: frequency[j] for j, t in enumerate(counts.vocab)}
    # pairs read as in the text (多職種: タショクシュ, 多 alone is サワ; 空き店舗: アキテンポ)
    affixed = (
        (Token(word, word, 0, len(word), reading, ()), n) for (word, reading), n in counts.affixed
    )
    readings = reading_map(
        itertools.chain(
            ((tok._replace(text=t), weight.get(t, 1)) for t, tok in vocab.items()), affixed
        )
    )
    return vocab, readings


def _theme_labels(analyzer: Analyzer, cases: Sequence[Case]) -> dict[str, dict[str, str]]:
    """Per case, the terms its theme labels give it and its keyword lines do not, each with the
    label that gives it (ict: 「ICT・情報共有」 for a case whose キーワード do not say ICT)."""
    out = {}
    for case in cases:
        said = {t for k in case.keywords + case.editorial_keywords for t in analyzer.terms(k)}
        labels: dict[str, str] = {}
        for label in case.themes:
            for t in analyzer.terms(label):
                if t not in said:
                    labels.setdefault(t, label)
        if labels:
            out[case.id] = labels
    return out


def passage_text(p: Passage) -> str:
    """What is embedded for a passage: its 【heading】 as context, then its text."""
    return f"{p.heading}：{p.text}" if p.heading else p.text


class _VectorsAhead:
    """The vector cache read, and the encoder loaded when an answer passage is not in it, in a
    thread while the index is written: in a rebuild after one case changed, loading the
    encoder (~1 s) was most of the vectors phase.

    Started by `write_index` once its indexing processes exist, never before: a process forked
    while another thread holds a lock (the dynamic loader's, while the encoder's libraries
    load) inherits it held and can hang. Closed before the vectors phase forks its own."""

    def __init__(self, path: Path, cases: Sequence[Case]) -> None:
        self.path, self.cases = path, cases
        self._pool = ThreadPoolExecutor(1)
        self._future: Future[VectorCache] | None = None

    def start(self) -> None:
        self._future = self._pool.submit(self._read)

    def result(self) -> VectorCache:
        if self._future is None:
            self.start()
        cache = self._future.result()  # type: ignore[union-attr]
        self.close()
        return cache

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _read(self) -> VectorCache:
        cache = VectorCache(self.path)
        texts = [
            passage_text(p)
            for c in self.cases
            for p in c.passages()
            if p.section in ANSWER_SECTIONS
        ]
        if cache.missing(texts):
            semantic.load()
        return cache


def _passage_vectors(
    cache: VectorCache, model: TfidfModel, cases: Sequence[Case], procs: int, wrap: Progress
) -> tuple[np.ndarray, int]:
    """The answer passages' vectors in the model's order, and how many were encoded anew."""
    by_id = {p.id: p for c in cases for p in c.passages()}
    texts = [passage_text(by_id[pid]) for pid in model.passage_ids_]
    vectors, encoded = cache.vectors(texts, procs, wrap)
    cache.save(texts)
    return vectors, encoded


def load_build(settings: Settings) -> Build:
    """The parts of the current build, checked; IndexNotReady says how to fix a problem."""
    store = IndexStore(settings.index_dir)
    path = store.current()
    if path is None:
        raise IndexNotReady(
            f"索引がありません（{settings.index_dir}）。`caresearch build` で作成してください"
        )
    meta = store.meta(path)
    if not meta or meta.get("format") != BUILD_FORMAT:
        raise IndexNotReady(
            f"索引（{path}）は別の版の caresearch で作られたか、壊れています。"
            "`caresearch build --force` で作り直してください"
        )
    damaged = verify(path, meta)
    if damaged:
        raise IndexNotReady(
            f"索引（{path}）が壊れています（{', '.join(damaged[:3])}）。"
            "`caresearch build --force` で作り直してください"
        )
    index = SearchIndex.open(path / WHOOSH_DIR)
    try:
        snapshot = Snapshot.open(path)
        model = _load(path / MODEL_FILE)
        readings = _load(path / READINGS_FILE)
        vectors = None
        if (path / VECTORS_FILE).exists():  # built with the embedding on
            vectors = semantic.StoredVectors(path / VECTORS_FILE)
            if vectors.shape != (len(model.passage_ids_), semantic.DIM):
                raise ValueError("the passage vectors do not match the model")
        if model.case_ids_ != tuple(info.id for info in snapshot.infos):
            raise ValueError("the model and the snapshot hold different cases")
    except UNPICKLING_ERRORS as exc:
        index.close()
        raise IndexNotReady(
            f"索引（{path}）が壊れています（{type(exc).__name__}）。"
            "`caresearch build --force` で作り直してください"
        ) from exc
    return Build(path, meta, snapshot, index, model, readings, vectors)


class _Clock:
    """Seconds per build phase, for the build report and the benchmark."""

    def __init__(self, phases: dict[str, float]) -> None:
        self.phases = phases
        self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.phases[name] = round(now - self.last, 3)
        self.last = now


def load_baseline_passages(build_path: Path):
    """The TF-IDF matrix of the answer passages (the evaluation's TF-IDF baseline)."""
    return load_npz(build_path / BASELINE_FILE).tocsr()


def _dump(path: Path, obj: object) -> None:
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)


def _load(path: Path) -> Any:
    # Only files this program wrote into its own build directory are unpickled.
    with open(path, "rb") as f:
        return pickle.load(f)


__all__: Sequence[str] = ("BUILD_FORMAT", "Build", "build", "index_docs", "is_stale", "load_build")
