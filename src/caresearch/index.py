"""The Whoosh index: schema, writing a fresh index, opening it, and scoring query words.

The only module that imports whoosh, so another engine could replace it. Queries are built
from analysed `QueryWord`s as Whoosh objects directly, never by Whoosh's query parser, so no
text a user types can raise a syntax error.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import traceback
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from whoosh import index as whoosh_index
from whoosh import query as wq
from whoosh.analysis import Token, Tokenizer
from whoosh.fields import ID, STORED, TEXT, Schema
from whoosh.filedb.structfile import StructFile
from whoosh.scoring import BM25F

from .analysis import Analyzer
from .errors import IndexNotReady
from .models import TermCounts
from .query import QueryWord

# Field boosts, tuned on eval/search_dev.yaml: lessons and titles above body text, figure
# word salad far below.
FIELD_BOOSTS: dict[str, float] = {
    "title": 3.0,
    "keywords": 2.5,
    "lesson": 2.0,
    "heading": 1.5,
    "body": 1.0,
    "diagram": 0.3,
}
TIEBREAK = 0.1  # share of a word's other matching variants added to its best one
TEXT_FIELDS = tuple(FIELD_BOOSTS)
COUNT_FIELDS = tuple(f for f in TEXT_FIELDS if f != "diagram")  # what TF-IDF counts
BATCH_DOCS = 200
SEARCHERS = (
    2  # open searchers shared by all threads  # documents per job handed to an indexing process
)
INDEX_NAME = "passages"


class SudachiTokenizer(Tokenizer):
    """Whoosh adapter over `analysis.Analyzer`. Holds settings only; pickled into the schema."""

    def __init__(self, analyzer: Analyzer | None = None) -> None:
        self.analyzer = analyzer or Analyzer()

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.analyzer == self.analyzer

    def __hash__(self) -> int:
        return hash((type(self), self.analyzer))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.analyzer!r})"

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: object,
    ) -> Iterator[Token]:
        terms = self.analyzer.index_terms(value)
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        for term, pos, start, end in terms:
            t.text, t.boost, t.stopped = term, 1.0, False
            if keeporiginal:
                t.original = term
            if positions:
                t.pos = start_pos + pos
            if chars:
                t.startchar, t.endchar = start_char + start, start_char + end
            yield t


def make_schema(analyzer: Analyzer) -> Schema:
    text_fields = {
        name: TEXT(analyzer=SudachiTokenizer(analyzer), field_boost=boost, phrase=True)
        for name, boost in FIELD_BOOSTS.items()
    }
    return Schema(
        id=ID(stored=True, unique=True),
        case_id=ID(stored=True),
        kind=ID(stored=True),
        meta=STORED,
        **text_fields,
    )


@dataclass(frozen=True)
class IndexDoc:
    """One indexed document: a passage of a case, or the case itself (kind 'case')."""

    id: str
    case_id: str
    kind: str
    title: str = ""
    keywords: str = ""
    lesson: str = ""
    heading: str = ""
    body: str = ""
    diagram: str = ""


def write_index(
    path: Path,
    docs: Iterable[IndexDoc],
    analyzer: Analyzer,
    *,
    procs: int = 1,
) -> int:
    """Write a new index into the empty directory `path`; return the number of documents.

    With procs > 1, Whoosh's multiprocessing writer analyses and indexes batches of documents
    in that many processes (each with its own Sudachi), and keeps their segments as they are.
    """
    path.mkdir(parents=True, exist_ok=True)
    ix = whoosh_index.create_in(str(path), make_schema(analyzer), indexname=INDEX_NAME)
    if procs > 1:
        from whoosh.multiproc import MpWriter

        writer = MpWriter(ix, procs=procs, batchsize=BATCH_DOCS, multisegment=True, limitmb=128)
    else:
        writer = ix.writer(limitmb=256)
    count = 0
    try:
        for doc in docs:
            fields: dict[str, object] = {"id": doc.id, "case_id": doc.case_id, "kind": doc.kind}
            for name in TEXT_FIELDS:
                text = getattr(doc, name)
                if text:
                    fields[name] = text
            writer.add_document(**fields)
            count += 1
    except BaseException:
        writer.cancel()
        raise
    writer.commit()
    return count


def term_counts(path: Path, fields: Sequence[str] = COUNT_FIELDS) -> TermCounts:
    ix = whoosh_index.open_dir(str(path), indexname=INDEX_NAME, readonly=True)
    try:
        with ix.reader() as reader:
            doc_ids = tuple(f["id"] for f in reader.all_stored_fields())
            vocab: dict[str, int] = {}
            rows, cols, counts = array("i"), array("i"), array("f")
            for field in fields:
                for term in reader.field_terms(field):
                    j = vocab.setdefault(term, len(vocab))
                    for docnum, freq in reader.postings(field, term).items_as("frequency"):
                        rows.append(docnum)
                        cols.append(j)
                        counts.append(freq)
    finally:
        ix.close()
    return TermCounts(doc_ids, tuple(vocab), rows, cols, counts)


@dataclass(frozen=True)
class DocMeta:
    id: str
    case_id: str
    kind: str


class SearchIndex:
    """An open, read-only index. Thread-safe for searching: each call opens its own searcher."""

    def __init__(self, ix: whoosh_index.Index, docs: tuple[DocMeta, ...]) -> None:
        self._ix = ix
        # Whoosh searchers are not thread-safe, and each holds tens of MB on a large index: a
        # small pool, shared by all request threads (scoring holds the GIL, so more would not
        # run any faster).
        self._pool: queue.LifoQueue = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(SEARCHERS)
        self._searchers: list = []
        self.docs = docs

    @contextlib.contextmanager
    def _searcher(self) -> Iterator:
        with self._slots:
            try:
                s = self._pool.get_nowait()
            except queue.Empty:
                s = self._ix.searcher(weighting=BM25F())
                self._searchers.append(s)
            try:
                yield s
            finally:
                self._pool.put(s)

    @classmethod
    def open(cls, path: Path) -> SearchIndex:
        try:
            ix = whoosh_index.open_dir(str(path), indexname=INDEX_NAME, readonly=True)
            with ix.searcher() as s:
                docs = tuple(
                    DocMeta(f["id"], f["case_id"], f["kind"])
                    for f in s.reader().all_stored_fields()
                )
        except Exception as exc:  # whoosh raises many types for a damaged index
            _close_files(exc.__traceback__)
            raise IndexNotReady(
                f"the index at {path} cannot be read ({type(exc).__name__}); "
                "run `caresearch build --force` to rebuild it"
            ) from exc
        return cls(ix, docs)

    def close(self) -> None:
        for s in self._searchers:
            s.close()
        self._searchers.clear()
        self._ix.close()

    def __len__(self) -> int:
        return len(self.docs)

    def _run(self, q: wq.Query) -> list[tuple[float, int]]:
        try:
            with self._searcher() as s:
                return s.search(q, limit=None).top_n
        except (OSError, ValueError, EOFError, KeyError, IndexError) as exc:
            # A file changed or truncated under a running server: say how to fix it.
            raise IndexNotReady(
                f"the index cannot be read ({type(exc).__name__}): run `caresearch build --force`"
            ) from exc

    def any_scores(self, words: Sequence[QueryWord]) -> dict[int, float]:
        """One OR query over the literal spellings of many words (docnum -> summed score)."""
        subs = [
            _field_query(f, v.terms, v.weight)
            for w in words
            for v in w.variants
            if v.via == "exact"
            for f in TEXT_FIELDS
        ]
        if not subs:
            return {}
        return {docnum: score for score, docnum in self._run(wq.Or(subs))}

    def word_scores(self, word: QueryWord) -> dict[int, float]:
        """BM25F score of every document that matches the word (docnum -> score).

        A document scores by its best variant plus a tenth of the others (a disjunction-max).
        Computed here rather than with Whoosh's DisjunctionMax, whose matcher can give one
        document the score of another document's match.
        """
        best: dict[int, float] = {}
        total: dict[int, float] = {}
        for q in variant_queries(word):
            for score, docnum in self._run(q):
                total[docnum] = total.get(docnum, 0.0) + score
                if score > best.get(docnum, 0.0):
                    best[docnum] = score
        return {d: b + TIEBREAK * (total[d] - b) for d, b in best.items()}


def _close_files(tb: TracebackType | None) -> None:
    """Close the files Whoosh opened in the frames of a failed open (it leaves them open)."""
    for frame, _line in traceback.walk_tb(tb):
        for value in frame.f_locals.values():
            if isinstance(value, StructFile):
                with contextlib.suppress(Exception):
                    value.close()


def _field_query(field: str, terms: tuple[str, ...], boost: float) -> wq.Query:
    if len(terms) == 1:
        return wq.Term(field, terms[0], boost=boost)
    # A phrase scores the sum of its terms: divide by their number, so a long synonym
    # (介護支援専門員, four terms) cannot outscore the one-word literal (ケアマネ).
    return wq.Phrase(field, list(terms), boost=boost / len(terms))


def variant_queries(word: QueryWord) -> list[wq.Query]:
    """One query per variant of the word, each summed over the text fields."""
    out: list[wq.Query] = [
        wq.Or([_field_query(f, v.terms, v.weight) for f in TEXT_FIELDS]) for v in word.variants
    ]
    return out
