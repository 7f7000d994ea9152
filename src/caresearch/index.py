"""The reading side of an index: precomputed BM25F scores per term, term positions for
phrases, and the table of documents. Knows nothing of query semantics (variants, weights,
fallbacks: see `searching.py`); the writing side, the only module that uses Whoosh, is
`index_writer.py`.

The build writes, beside the Whoosh segments, everything a query needs as plain arrays:

  impacts.npz     documents × terms, the BM25F score Whoosh would give a one-term query
  positions.npy   every entry's term positions (field-offset), in the matrix's entry order
  posptr.npy      where each matrix entry's positions start
  spans.npy       the characters each of those positions covers (start, end), for highlights
  vocab.json, docs.json

so a query reads no Whoosh posting: a term is one column, a phrase is a check of positions
for the few candidate documents that hold all its terms (bm25s does the same for scores), and
a highlight reads the shown document's positions and spans of the query's terms (no text is
analysed again).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import overload

import numpy as np

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
FIELD_STRIDE = 1 << 24  # a position in field k is stored as k * FIELD_STRIDE + position
DOC_STRIDE = 1 << 32  # phrase checks key positions by document: above every field's range
PHRASE_CANDIDATES = 200  # documents whose positions are checked for a phrase
PHRASE_CACHE = 512  # phrase results kept per open index (the same phrases recur)
IMPACTS_FILE = "impacts.npz"
POSITIONS_FILE = "positions.npy"
POSPTR_FILE = "posptr.npy"
SPANS_FILE = "spans.npy"
VOCAB_FILE = "vocab.json"
DOCS_FILE = "docs.json"  # id, case and kind of every document, by document number
INDEX_NAME = "passages"


def save_tables(path: Path, counts: TermCounts, docs: DocTable) -> None:
    """Write the tables the reading side needs beside a new Whoosh index."""
    from scipy.sparse import save_npz

    impacts = bm25f_impacts(counts)
    posptr, positions, spans = position_table(counts)
    if len(posptr) != impacts.nnz + 1:
        raise ValueError("positions do not line up with the score matrix")
    save_npz(path / IMPACTS_FILE, impacts, compressed=False)
    np.save(path / POSITIONS_FILE, positions)
    np.save(path / POSPTR_FILE, posptr)
    np.save(path / SPANS_FILE, spans)
    with open(path / VOCAB_FILE, "w", encoding="utf-8") as f:
        json.dump(counts.vocab, f, ensure_ascii=False)
    with open(path / DOCS_FILE, "w", encoding="utf-8") as f:
        json.dump(docs.to_json(), f, ensure_ascii=False)


def position_table(counts: TermCounts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(posptr, positions, spans): the entries' positions (and each position's characters,
    one (start, end) row each) regrouped in the order of the score matrix's entries (by term,
    then document; one entry for all fields of a document)."""
    rows = np.frombuffer(counts.rows, dtype=np.int32)
    cols = np.frombuffer(counts.cols, dtype=np.int32)
    fields = np.frombuffer(counts.fields, dtype=np.int8)
    n = np.frombuffer(counts.counts, dtype=np.float32).astype(np.int64)
    positions = np.frombuffer(counts.positions, dtype=np.int32)
    order = np.lexsort((fields, rows, cols))
    lengths = n[order]
    starts = np.concatenate([[0], np.cumsum(n)])[:-1][order]
    ends = np.cumsum(lengths)
    gather = np.repeat(starts - (ends - lengths), lengths) + np.arange(
        int(ends[-1]) if len(ends) else 0
    )
    c, r = cols[order], rows[order]
    first = np.r_[True, (c[1:] != c[:-1]) | (r[1:] != r[:-1])] if len(c) else np.zeros(0, bool)
    posptr = np.append((ends - lengths)[first], ends[-1] if len(ends) else 0).astype(np.int64)
    spans = np.frombuffer(counts.spans, dtype=np.int32).reshape(-1, 2)
    if len(spans) != len(positions):
        raise ValueError("the character spans do not line up with the positions")
    return posptr, positions[gather].astype(np.int32), spans[gather].astype(np.int32)


def bm25f_impacts(counts: TermCounts, k1: float = 1.2, b: float = 0.75):
    """A document × term matrix of precomputed BM25F scores: what Whoosh's BM25F gives a
    one-term query (idf per field, length-normalised, field boosts), summed over the fields.

    Scoring a term at query time is then one column of this matrix instead of a walk over
    its postings in Python (bm25s does the same).
    """
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
    # duplicates (one term in several fields of a document) are summed: one entry each, sorted
    m = csc_matrix((impact.astype(np.float32), (rows, cols)), shape=(n_docs, n_terms))
    m.sum_duplicates()
    m.sort_indices()
    return m


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
    """An open, read-only index: plain arrays, safe to share between threads."""

    def __init__(
        self,
        docs: DocTable,
        impacts,
        vocab: Sequence[str],
        posptr: np.ndarray,
        positions: np.ndarray,
        spans: np.ndarray,
    ) -> None:
        self.docs = docs
        self.impacts = impacts  # scipy CSC: documents × terms, precomputed BM25F
        self.vocab = {t: j for j, t in enumerate(vocab)}
        self._posptr = posptr  # memory-mapped: a query reads only the entries it checks
        self._positions = positions
        self._spans = spans
        self._phrases: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]] = {}
        self._phrases_lock = threading.Lock()

    @classmethod
    def open(cls, path: Path) -> SearchIndex:
        from scipy.sparse import load_npz

        try:
            docs = DocTable.from_json(json.loads((path / DOCS_FILE).read_text(encoding="utf-8")))
            impacts = load_npz(path / IMPACTS_FILE).tocsc()
            vocab = json.loads((path / VOCAB_FILE).read_text(encoding="utf-8"))
            posptr = np.load(path / POSPTR_FILE, mmap_mode="r")
            positions = np.load(path / POSITIONS_FILE, mmap_mode="r")
            spans = np.load(path / SPANS_FILE, mmap_mode="r")
        except (OSError, ValueError, KeyError, EOFError) as exc:
            raise IndexNotReady(
                f"索引（{path}）を読めません（{type(exc).__name__}）。"
                "`caresearch build --force` で作り直してください"
            ) from exc
        consistent = (
            impacts.shape == (len(docs), len(vocab))
            and posptr.shape == (impacts.nnz + 1,)
            and (not len(posptr) or int(posptr[-1]) == len(positions))
            and spans.shape == (len(positions), 2)
        )
        if not consistent:
            raise IndexNotReady(
                f"索引（{path}）の中身が食い違っています。`caresearch build --force` で作り直してください"
            )
        return cls(docs, impacts, vocab, posptr, positions, spans)

    def close(self) -> None:
        """Drop the memory maps (a closed index finds no positions): the files are unmapped once
        no request holds a view of them, so a replaced build's folder can be deleted (Windows
        refuses to delete a mapped file)."""
        self._phrases.clear()
        # every entry now starts and ends at 0 (a zero broadcast takes no memory): a request
        # still running on this index finds no positions instead of reading past an array
        self._posptr = np.broadcast_to(np.zeros(1, dtype=np.int64), self._posptr.shape)
        self._positions = np.zeros(0, dtype=np.int32)
        self._spans = np.zeros((0, 2), dtype=np.int32)

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

    def doc_frequency(self, term: str) -> int:
        """How many documents hold `term`."""
        j = self.vocab.get(term)
        return 0 if j is None else int(self.impacts.indptr[j + 1] - self.impacts.indptr[j])

    def phrase(self, terms: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        """(documents, scores) where `terms` occur at consecutive positions in one field.

        In two stages: the documents holding every term (from the matrix), the best
        PHRASE_CANDIDATES of them by their terms' summed scores, then a check of the positions
        in Whoosh's postings. A phrase scores the mean of its terms. Results are cached.
        """
        with self._phrases_lock:  # the web server's threads share the cache
            cached = self._phrases.get(terms)
        if cached is None:
            cached = self._phrase_docs(terms)
            with self._phrases_lock:
                if len(self._phrases) >= PHRASE_CACHE:
                    self._phrases.pop(next(iter(self._phrases)), None)
                self._phrases[terms] = cached
        return cached

    def phrase_in(self, terms: tuple[str, ...], docs: np.ndarray) -> bool:
        """Whether `terms` occur at consecutive positions in one field of one of `docs` (every
        one of them checked, however many documents hold the terms elsewhere)."""
        return bool(len(self.phrase_where(terms, docs)))

    def phrase_where(self, terms: tuple[str, ...], docs: np.ndarray | None = None) -> np.ndarray:
        """The documents (of `docs`, or of all) where `terms` occur at consecutive positions in
        one field, sorted."""
        docs = self._holding(terms, docs)
        return docs[self._adjacent(terms, docs)] if len(docs) else docs

    def _holding(self, terms: tuple[str, ...], docs: np.ndarray | None = None) -> np.ndarray:
        """The documents (of `docs`, or of all) that hold every one of `terms`, sorted: each
        term's column intersected in turn, starting from the first column when `docs` is None."""
        m = self.impacts
        out = None if docs is None else np.sort(np.asarray(docs, dtype=np.int64))
        for t in terms:
            j = self.vocab.get(t)
            if j is None:
                return np.zeros(0, dtype=np.int64)
            col = m.indices[m.indptr[j] : m.indptr[j + 1]]
            out = col if out is None else _intersect_sorted(out, col, len(self.docs))
            if not len(out):
                break
        return np.zeros(0, dtype=np.int64) if out is None else np.asarray(out, dtype=np.int64)

    def _phrase_docs(self, terms: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        docs = self._holding(terms)
        if not len(docs):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores = np.zeros(len(docs), dtype=np.float32)
        for t in terms:
            scores += self.term_vector(t)[docs]
        if len(docs) > PHRASE_CANDIDATES:
            keep = np.argpartition(-scores, PHRASE_CANDIDATES)[:PHRASE_CANDIDATES]
            docs, scores = docs[keep], scores[keep]
        found = self._adjacent(terms, docs)
        return docs[found], scores[found] / len(terms)

    def _adjacent(self, terms: Sequence[str], docs: np.ndarray) -> np.ndarray:
        """For each document, whether the terms occur at consecutive positions in one field
        (positions of different fields are FIELD_STRIDE apart, so they never join). All
        documents at once: each position is keyed by its document's place in `docs`."""
        m = self.impacts
        keys = np.zeros(0, dtype=np.int64)
        for i, t in enumerate(terms):
            j = self.vocab[t]
            lo = m.indptr[j]
            entries = lo + np.searchsorted(m.indices[lo : m.indptr[j + 1]], docs)
            starts = np.asarray(self._posptr[entries], dtype=np.int64)
            lengths = np.asarray(self._posptr[entries + 1], dtype=np.int64) - starts
            ends = np.cumsum(lengths)
            at = np.repeat(starts - (ends - lengths), lengths) + np.arange(int(ends[-1]))
            owner = np.repeat(np.arange(len(docs), dtype=np.int64), lengths)
            here = owner * DOC_STRIDE + np.asarray(self._positions[at], dtype=np.int64) - i
            keys = here if i == 0 else keys[np.isin(keys, here, assume_unique=True)]
            if not len(keys):
                break
        found = np.zeros(len(docs), dtype=bool)
        found[keys // DOC_STRIDE] = True
        return found

    def occurrences(self, doc: int, terms: Iterable[str]) -> list[tuple[str, str, int, int, int]]:
        """Where `terms` occur in document `doc`: (term, field, position in the field, start,
        end), with start and end the characters of the field's text the position covers."""
        m = self.impacts
        out: list[tuple[str, str, int, int, int]] = []
        for t in dict.fromkeys(terms):
            j = self.vocab.get(t)
            if j is None:
                continue
            lo, hi = int(m.indptr[j]), int(m.indptr[j + 1])
            k = lo + int(np.searchsorted(m.indices[lo:hi], doc))
            if k == hi or m.indices[k] != doc:
                continue
            a, b = int(self._posptr[k]), int(self._posptr[k + 1])
            positions = np.asarray(self._positions[a:b]).tolist()
            spans = np.asarray(self._spans[a:b]).tolist()
            for pos, (start, end) in zip(positions, spans, strict=True):
                field, at = divmod(pos, FIELD_STRIDE)
                out.append((t, TEXT_FIELDS[field], at, start, end))
        return out


def _intersect_sorted(a: np.ndarray, b: np.ndarray, size: int) -> np.ndarray:
    """The values in both of two sorted arrays of distinct values below `size` (a column's
    documents), in order: a binary search of the shorter in the longer when it is much
    shorter, else a mark per value of the longer (no sort either way)."""
    if len(a) > len(b):
        a, b = b, a
    if not len(a):
        return a
    if 16 * len(a) < len(b):
        at = np.minimum(np.searchsorted(b, a), len(b) - 1)
        return a[b[at] == a]
    marked = np.zeros(size, dtype=bool)
    marked[b] = True
    return a[marked[a]]
