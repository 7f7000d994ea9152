"""The Whoosh index: schema, writing a fresh index, opening it, and scoring query words.

The only module that imports whoosh, so another engine could replace it. Queries are built
from analysed `QueryWord`s as Whoosh objects directly, never by Whoosh's query parser, so no
text a user types can raise a syntax error.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import traceback
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import overload

import numpy as np
from whoosh import index as whoosh_index
from whoosh.analysis import Token, Tokenizer
from whoosh.fields import ID, STORED, TEXT, Schema
from whoosh.filedb.filestore import FileStorage
from whoosh.filedb.structfile import StructFile
from whoosh.scoring import BM25F

from .analysis import Analyzer
from .errors import IndexNotReady
from .models import TermCounts
from .query import QueryWord, Variant

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
BATCH_DOCS = 200  # documents per job handed to an indexing process
PHRASE_CANDIDATES = 200  # documents whose positions are checked for a phrase
PHRASE_CACHE = 512  # phrase results kept per open index (the same phrases recur)
IMPACTS_FILE = "impacts.npz"
VOCAB_FILE = "vocab.json"
DOCS_FILE = "docs.json"  # id, case and kind of every document, by document number
SEARCHERS = 2  # open searchers shared by all threads
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
) -> tuple[int, TermCounts]:
    """Write a new index into the empty directory `path`: the Whoosh index, and beside it the
    precomputed BM25F scores of every term. Returns the number of documents and the counts.

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
    counts, docs = _read_back(path)
    _save_tables(path, counts, docs)
    return count, counts


def _save_tables(path: Path, counts: TermCounts, docs: DocTable) -> None:
    from scipy.sparse import save_npz

    save_npz(path / IMPACTS_FILE, bm25f_impacts(counts), compressed=False)
    with open(path / VOCAB_FILE, "w", encoding="utf-8") as f:
        json.dump(counts.vocab, f, ensure_ascii=False)
    with open(path / DOCS_FILE, "w", encoding="utf-8") as f:
        json.dump(docs.to_json(), f, ensure_ascii=False)


def term_counts(path: Path, fields: Sequence[str] = TEXT_FIELDS) -> TermCounts:
    """Every (document, term, field) count in the index at `path`."""
    return _read_back(path, fields)[0]


def _read_back(path: Path, fields: Sequence[str] = TEXT_FIELDS) -> tuple[TermCounts, DocTable]:
    """The term counts and the document table of the index at `path`, in one pass."""
    ix = _open_readonly(path)
    try:
        with ix.reader() as reader:
            docs = DocTable.from_rows(
                (f["id"], f["case_id"], f["kind"]) for f in reader.all_stored_fields()
            )
            doc_ids = docs.ids
            vocab: dict[str, int] = {}
            rows, cols, counts, field_of = array("i"), array("i"), array("f"), array("b")
            # Segment by segment (a parallel build writes several): their matchers are
            # Whoosh's leaf matchers, which `_doc_freqs` reads a block at a time.
            for leaf, base in reader.leaf_readers():
                for k, field in enumerate(fields):
                    boost = FIELD_BOOSTS.get(field, 1.0)
                    for term in leaf.field_terms(field):
                        j = vocab.setdefault(term, len(vocab))
                        ids, freqs = _doc_freqs(leaf.postings(field, term), boost)
                        rows.extend([base + d for d in ids] if base else ids)
                        counts.extend(freqs)
                        cols.extend([j] * len(ids))
                        field_of.extend([k] * len(ids))
    finally:
        ix.close()
    return TermCounts(doc_ids, tuple(vocab), rows, cols, counts, field_of, tuple(fields)), docs


def _doc_freqs(matcher, boost: float) -> tuple[array, array]:
    """Document numbers and term frequencies of one posting list.

    Whoosh 2.7's own leaf matcher is read a block at a time: ids and weights are arrays
    there, and a positions field's weight is frequency × field boost. Half the time of a
    posting-by-posting walk, which is the fallback for any other matcher.
    """
    ids, weights = array("i"), array("f")
    if not all(hasattr(matcher, a) for a in ("_read_ids", "_read_weights", "_next_block")):
        freqs = array("f")  # pragma: no cover - other codecs
        for docnum, freq in matcher.items_as("frequency"):  # pragma: no cover
            ids.append(docnum)
            freqs.append(freq)
        return ids, freqs  # pragma: no cover
    while matcher.is_active():
        matcher._read_ids()
        matcher._read_weights()
        ids.extend(matcher._ids)
        weights.extend(matcher._weights)
        matcher._next_block()
    freqs = np.rint(np.frombuffer(weights, dtype=np.float32) / np.float32(boost))
    return ids, array("f", freqs.astype(np.float32).tobytes())


def bm25f_impacts(counts: TermCounts, k1: float = 1.2, b: float = 0.75):
    """A document × term matrix of precomputed BM25F scores: what Whoosh's BM25F gives a
    one-term query (idf per field, length-normalised, field boosts), summed over the fields.

    Scoring a term at query time is then one column of this matrix instead of a walk over
    its postings in Python; Whoosh is left to the phrases (bm25s does the same).
    """
    import numpy as np
    from scipy.sparse import csc_matrix

    n_docs, n_terms = len(counts.doc_ids), len(counts.vocab)
    rows = np.frombuffer(counts.rows, dtype=np.int32)
    cols = np.frombuffer(counts.cols, dtype=np.int32)
    freq = np.frombuffer(counts.counts, dtype=np.float32).astype(np.float64)
    field = np.frombuffer(counts.fields, dtype=np.int8)
    impact = np.zeros(len(rows), dtype=np.float64)
    for k, name in enumerate(counts.field_names):
        sel = field == k
        if not sel.any():
            continue
        r, c, f = rows[sel], cols[sel], freq[sel]
        length = np.bincount(r, weights=f, minlength=n_docs)  # tokens of the field per doc
        avg = length.sum() / max(n_docs, 1) or 1.0
        df = np.bincount(c, minlength=n_terms)
        idf = np.log(n_docs / (df + 1.0)) + 1.0
        weight = f * FIELD_BOOSTS[name]
        norm = k1 * ((1 - b) + b * length[r] / avg)
        impact[sel] = idf[c] * (weight * (k1 + 1)) / (weight + norm)
    # duplicates (one term in several fields of a document) are summed by the constructor
    return csc_matrix((impact.astype(np.float32), (rows, cols)), shape=(n_docs, n_terms))


@dataclass(frozen=True)
class DocMeta:
    id: str
    case_id: str
    kind: str


def _codes(values: Iterable[str]) -> tuple[tuple[str, ...], np.ndarray]:
    """(distinct values in first-seen order, each value's position among them)."""
    table: dict[str, int] = {}
    codes = np.array([table.setdefault(v, len(table)) for v in values], dtype=np.int32)
    return tuple(table), codes


class DocTable(Sequence[DocMeta]):
    """Id, case and kind of every document by number: ids as strings, cases and kinds as
    small integer codes. A `DocMeta` per document would cost ~400 bytes each; this ~80."""

    def __init__(self, ids: Sequence[str], case_ids: Sequence[str], kinds: Sequence[str]) -> None:
        if not len(ids) == len(case_ids) == len(kinds):
            raise ValueError("ids, case_ids and kinds differ in length")
        self.ids = tuple(ids)
        self.case_names, self.case_codes = _codes(case_ids)
        self.kind_names, self.kind_codes = _codes(kinds)

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str, str]]) -> DocTable:
        rows = list(rows)
        return cls([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])

    def to_json(self) -> dict[str, list]:
        return {
            "ids": list(self.ids),
            "case_names": list(self.case_names),
            "case_codes": self.case_codes.tolist(),
            "kind_names": list(self.kind_names),
            "kind_codes": self.kind_codes.tolist(),
        }

    @classmethod
    def from_json(cls, data: dict[str, list]) -> DocTable:
        table = cls.__new__(cls)
        table.ids = tuple(data["ids"])
        table.case_names = tuple(data["case_names"])
        table.case_codes = np.array(data["case_codes"], dtype=np.int32)
        table.kind_names = tuple(data["kind_names"])
        table.kind_codes = np.array(data["kind_codes"], dtype=np.int32)
        if not len(table.ids) == len(table.case_codes) == len(table.kind_codes):
            raise ValueError(f"{DOCS_FILE} is inconsistent")
        return table

    def __len__(self) -> int:
        return len(self.ids)

    @overload
    def __getitem__(self, d: int) -> DocMeta: ...
    @overload
    def __getitem__(self, d: slice) -> list[DocMeta]: ...
    def __getitem__(self, d):
        if isinstance(d, slice):
            return [self[k] for k in range(*d.indices(len(self)))]
        return DocMeta(
            self.ids[d],
            self.case_names[self.case_codes[d]],
            self.kind_names[self.kind_codes[d]],
        )


class SearchIndex:
    """An open, read-only index. Thread-safe for searching: each call opens its own searcher."""

    def __init__(
        self, ix: whoosh_index.Index, docs: DocTable, impacts, vocab: Sequence[str]
    ) -> None:
        self._ix = ix
        self.impacts = impacts  # scipy CSC: documents × terms, precomputed BM25F
        self.vocab = {t: j for j, t in enumerate(vocab)}
        self._phrases: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]] = {}
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
        from scipy.sparse import load_npz

        try:
            ix = _open_readonly(path)
            docs = DocTable.from_json(json.loads((path / DOCS_FILE).read_text(encoding="utf-8")))
            if ix.doc_count_all() != len(docs):
                raise ValueError(f"{DOCS_FILE} does not match the index")
            impacts = load_npz(path / IMPACTS_FILE).tocsc()
            vocab = json.loads((path / VOCAB_FILE).read_text(encoding="utf-8"))
        except Exception as exc:  # whoosh raises many types for a damaged index
            _close_files(exc.__traceback__)
            raise IndexNotReady(
                f"the index at {path} cannot be read ({type(exc).__name__}); "
                "run `caresearch build --force` to rebuild it"
            ) from exc
        if impacts.shape != (len(docs), len(vocab)):
            ix.close()
            raise IndexNotReady(
                f"the index at {path} is inconsistent; run `caresearch build --force`"
            )
        return cls(ix, docs, impacts, vocab)

    def close(self) -> None:
        for s in self._searchers:
            s.close()
        self._searchers.clear()
        self._ix.close()

    def __del__(self) -> None:
        # Searchers hold their segment files open (plain reads, see _open_readonly): close
        # them when an index is dropped without close(), e.g. a build replaced under a server.
        with contextlib.suppress(Exception):
            self.close()

    def __len__(self) -> int:
        return len(self.docs)

    def _term_vector(self, term: str) -> np.ndarray | None:
        j = self.vocab.get(term)
        if j is None:
            return None
        m = self.impacts
        out = np.zeros(len(self.docs), dtype=np.float32)
        lo, hi = m.indptr[j], m.indptr[j + 1]
        out[m.indices[lo:hi]] = m.data[lo:hi]
        return out

    def variant_vector(self, variant: Variant) -> np.ndarray | None:
        """BM25F score per document for one variant; None where it matches nothing.

        One term: a column of the matrix. Several terms: a phrase, in two stages: the
        documents holding every term (from the matrix), the best PHRASE_CANDIDATES of them
        by their terms' scores, then a check of the positions in Whoosh's postings. A phrase
        scores the mean of its terms, so a long synonym cannot outscore a one-word literal.
        """
        if len(variant.terms) == 1:
            v = self._term_vector(variant.terms[0])
            return None if v is None else v * np.float32(variant.weight)
        cached = self._phrases.get(variant.terms)
        if cached is None:
            cached = self._phrase_docs(variant.terms)
            if len(self._phrases) >= PHRASE_CACHE:
                self._phrases.pop(next(iter(self._phrases)), None)
            self._phrases[variant.terms] = cached
        docs, scores = cached
        if not len(docs):
            return None
        out = np.zeros(len(self.docs), dtype=np.float32)
        out[docs] = scores * np.float32(variant.weight)
        return out

    def _phrase_docs(self, terms: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        """(documents, unweighted scores) where the terms occur as a phrase."""
        none = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
        cols = [self.vocab.get(t) for t in terms]
        if any(j is None for j in cols):
            return none
        m = self.impacts
        docs = None
        for j in cols:
            col = m.indices[m.indptr[j] : m.indptr[j + 1]]
            docs = col if docs is None else np.intersect1d(docs, col, assume_unique=True)
            if not len(docs):
                return none
        scores = np.zeros(len(docs), dtype=np.float32)
        for t in terms:
            scores += self._term_vector(t)[docs]
        if len(docs) > PHRASE_CANDIDATES:
            keep = np.argpartition(-scores, PHRASE_CANDIDATES)[:PHRASE_CANDIDATES]
            docs, scores = docs[keep], scores[keep]
        found = self._adjacent(terms, docs)
        return docs[found], scores[found] / len(terms)

    def _adjacent(self, terms: Sequence[str], docs: np.ndarray) -> np.ndarray:
        """For each document, whether the terms occur at consecutive positions in one field."""
        found = np.zeros(len(docs), dtype=bool)
        order = np.argsort(docs, kind="stable")
        with self._searcher() as s, _readable():
            reader = s.reader()
            for field in TEXT_FIELDS:
                if not all((field, t) in reader for t in terms):
                    continue
                matchers = [reader.postings(field, t) for t in terms]
                for k in order:
                    if found[k]:
                        continue
                    doc = int(docs[k])
                    positions = []
                    for mt in matchers:
                        if mt.is_active() and mt.id() < doc:
                            mt.skip_to(doc)
                        if not mt.is_active() or mt.id() != doc:
                            break
                        positions.append(set(mt.value_as("positions")))
                    else:
                        found[k] = any(
                            all(p + i in positions[i] for i in range(1, len(positions)))
                            for p in positions[0]
                        )
        return found

    def word_vector(self, word: QueryWord) -> np.ndarray:
        """BM25F score per document for a word (0 where it does not match).

        A document scores by its best variant plus a tenth of the others (a disjunction-max).
        A compound's phrase of parts counts only when the compound is found nowhere.
        """
        best = np.zeros(len(self.docs), dtype=np.float32)
        total = np.zeros(len(self.docs), dtype=np.float32)
        for variant in sorted(word.variants, key=lambda v: v.via == "parts"):
            if variant.via == "parts" and best.any():
                continue
            v = self.variant_vector(variant)
            if v is not None:
                np.maximum(best, v, out=best)
                total += v
        return best + np.float32(TIEBREAK) * (total - best)

    def literal_vector(self, words: Sequence[QueryWord]) -> np.ndarray:
        """Summed scores of the literal one-term spellings of many words (for descriptions)."""
        out = np.zeros(len(self.docs), dtype=np.float32)
        for w in words:
            for v in w.variants:
                if v.via == "exact" and len(v.terms) == 1:
                    col = self._term_vector(v.terms[0])
                    if col is not None:
                        out += col
        return out

    def word_scores(self, word: QueryWord) -> dict[int, float]:
        """The word's scores as docnum -> score, for the documents it matches."""
        v = self.word_vector(word)
        return {int(d): float(v[d]) for d in np.flatnonzero(v)}


def _open_readonly(path: Path) -> whoosh_index.Index:
    """The index at `path`, read through ordinary file reads.

    With memory maps (Whoosh's default) every reader copies each segment's postings into a
    BytesIO: ~110 MB per searcher at 10,000 cases. Plain reads copy only the blocks read.
    """
    storage = FileStorage(str(path), supports_mmap=False, readonly=True)
    return storage.open_index(INDEX_NAME)


def _close_files(tb: TracebackType | None) -> None:
    """Close the files Whoosh opened in the frames of a failed open (it leaves them open)."""
    for frame, _line in traceback.walk_tb(tb):
        for value in frame.f_locals.values():
            if isinstance(value, StructFile):
                with contextlib.suppress(Exception):
                    value.close()


@contextlib.contextmanager
def _readable() -> Iterator[None]:
    """Turn a read error in a file changed under a running server into advice to rebuild."""
    try:
        yield
    except (OSError, ValueError, EOFError, KeyError, IndexError) as exc:
        raise IndexNotReady(
            f"the index cannot be read ({type(exc).__name__}): run `caresearch build --force`"
        ) from exc
