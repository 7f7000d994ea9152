"""The reading side of an index: precomputed BM25F scores per term, phrase positions, and the
table of documents. Knows nothing of query semantics (variants, weights, fallbacks: see
`searching.py`); the writing side, with Whoosh's internals, is `index_writer.py`.

Only the public Whoosh API is used here (opening an index read-only and reading postings),
so no text a user types ever reaches Whoosh's query parser.
"""

from __future__ import annotations

import contextlib
import json
import queue
import struct
import threading
import traceback
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import overload

import numpy as np
from whoosh import index as whoosh_index
from whoosh.filedb.filestore import FileStorage
from whoosh.filedb.structfile import StructFile
from whoosh.scoring import BM25F

from .errors import IndexNotReady
from .models import TermCounts

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
TEXT_FIELDS = tuple(FIELD_BOOSTS)
PHRASE_CANDIDATES = 200  # documents whose positions are checked for a phrase
PHRASE_CACHE = 512  # phrase results kept per open index (the same phrases recur)
IMPACTS_FILE = "impacts.npz"
VOCAB_FILE = "vocab.json"
DOCS_FILE = "docs.json"  # id, case and kind of every document, by document number
SEARCHERS = 2  # open searchers shared by all threads
INDEX_NAME = "passages"


def save_tables(path: Path, counts: TermCounts, docs: DocTable) -> None:
    """Write the tables the reading side needs beside a new Whoosh index."""
    from scipy.sparse import save_npz

    save_npz(path / IMPACTS_FILE, bm25f_impacts(counts), compressed=False)
    with open(path / VOCAB_FILE, "w", encoding="utf-8") as f:
        json.dump(counts.vocab, f, ensure_ascii=False)
    with open(path / DOCS_FILE, "w", encoding="utf-8") as f:
        json.dump(docs.to_json(), f, ensure_ascii=False)


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

    def term_vector(self, term: str) -> np.ndarray | None:
        """BM25F score of one term per document (a column of the matrix); None if unknown."""
        j = self.vocab.get(term)
        if j is None:
            return None
        m = self.impacts
        out = np.zeros(len(self.docs), dtype=np.float32)
        lo, hi = m.indptr[j], m.indptr[j + 1]
        out[m.indices[lo:hi]] = m.data[lo:hi]
        return out

    def phrase(self, terms: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        """(documents, scores) where `terms` occur at consecutive positions in one field.

        In two stages: the documents holding every term (from the matrix), the best
        PHRASE_CANDIDATES of them by their terms' summed scores, then a check of the positions
        in Whoosh's postings. A phrase scores the mean of its terms. Results are cached.
        """
        cached = self._phrases.get(terms)
        if cached is None:
            cached = self._phrase_docs(terms)
            if len(self._phrases) >= PHRASE_CACHE:
                self._phrases.pop(next(iter(self._phrases)), None)
            self._phrases[terms] = cached
        return cached

    def _phrase_docs(self, terms: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
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
            scores += self.term_vector(t)[docs]
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
    except (OSError, EOFError, struct.error, zlib.error) as exc:
        raise IndexNotReady(
            f"the index cannot be read ({type(exc).__name__}): run `caresearch build --force`"
        ) from exc
