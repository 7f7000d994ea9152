"""The Whoosh index: schema, writing a fresh index, opening it, and scoring query words.

The only module that imports whoosh, so another engine could replace it. Queries are built
from analysed `QueryWord`s as Whoosh objects directly, never by Whoosh's query parser, so no
text a user types can raise a syntax error.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import sys
import threading
import traceback
from array import array
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
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
from whoosh.util.numeric import byte_to_length, length_to_byte
from whoosh.writing import SegmentWriter

from .analysis import Analyzer
from .errors import CaresearchError, IndexNotReady
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
RUN_POSTINGS = 1_000_000  # postings a writer keeps in memory (~250 MB) before a sorted run
RUN_CHUNK = 10_000  # postings pickled together in a run
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

    With procs > 1, that many processes (each with its own Sudachi) analyse and index
    batches of documents into a segment each, and the index is committed with all of them.
    """
    path.mkdir(parents=True, exist_ok=True)
    ix = whoosh_index.create_in(str(path), make_schema(analyzer), indexname=INDEX_NAME)
    writer = _BulkWriter(ix)
    try:
        if procs > 1:
            segments, collected = _index_in_processes(path, docs, procs)
            writer.commit_segments(segments)
        else:
            for doc in docs:
                writer.add(doc)
            collected = [writer.collected]
            writer.commit()
    except BaseException:
        writer.cancel()
        raise
    counts, table = _merge_collected(collected)
    _save_tables(path, counts, table)
    return len(table), counts


# --- bulk writing -------------------------------------------------------------------------
# Whoosh's SegmentWriter with the per-posting costs of a bulk load taken out (profiles in
# bench/NOTES.md): postings made straight from our analyzer's terms, a plain list as the
# posting pool, field lengths kept while adding. Its segments hold the same postings, values and
# statistics as those of Whoosh's writer (tests/test_index.py compares them posting by posting).


class _PostingRuns:
    """Whoosh's posting pool for a bulk load: `add` is a list's append, and when the list is
    full it is sorted and written as one run, pickled in chunks (Whoosh sizes every posting
    and pickles each on its own). Runs are merged when the segment is written."""

    def __init__(self, tempdir: Path, limit: int) -> None:
        self.items: list[tuple] = []
        self.add = self.items.append
        self.limit = limit
        self._tempdir = tempdir
        self._runs: list[Path] = []

    def full(self) -> bool:
        return len(self.items) >= self.limit

    def spill(self) -> None:
        import pickle
        import tempfile

        self.items.sort()
        self._tempdir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(suffix=".run", dir=self._tempdir)
        with open(fd, "wb") as f:
            for i in range(0, len(self.items), RUN_CHUNK):
                pickle.dump(self.items[i : i + RUN_CHUNK], f, protocol=pickle.HIGHEST_PROTOCOL)
        self._runs.append(Path(name))
        self.items.clear()  # keeps `add` bound to the same list

    def iter_postings(self) -> Iterator[tuple]:
        if not self._runs:
            self.items.sort()
            return iter(self.items)
        if self.items:
            self.spill()
        import heapq

        return heapq.merge(*(self._read_run(run) for run in self._runs))

    @staticmethod
    def _read_run(run: Path) -> Iterator[tuple]:
        import pickle

        with open(run, "rb") as f:
            while True:
                try:
                    chunk = pickle.load(f)
                except EOFError:
                    return
                yield from chunk

    def cleanup(self) -> None:
        self.items.clear()
        for run in self._runs:
            run.unlink(missing_ok=True)
        self._runs.clear()
        with contextlib.suppress(OSError):
            self._tempdir.rmdir()


def _write_postings(
    fieldwriter, schema: Schema, lengths_of: Mapping[str, Sequence[int]], items: Iterable[tuple]
) -> None:
    """Whoosh's `FieldWriter.add_postings` for sorted postings of a W3 segment: the same calls
    and the same bytes, with the field lengths from `lengths_of` (field -> length per document,
    as the segment stores it) instead of a lookup in the segment per posting, and without the
    posting writer's per-posting type checks."""
    lastfn = lasttext = None
    post = lengths = None
    for fieldname, btext, docnum, weight, value in items:
        if fieldname != lastfn:
            if lasttext is not None:
                fieldwriter.finish_term()
            if lastfn is not None:
                fieldwriter.finish_field()
            fieldwriter.start_field(fieldname, schema[fieldname])
            lastfn, lasttext = fieldname, None
            lengths = lengths_of[fieldname]
        if btext != lasttext:
            if lasttext is not None:
                fieldwriter.finish_term()
            fieldwriter.start_term(btext)
            lasttext = btext
            post = fieldwriter._postwriter
        # W3PostingsWriter.add_posting, inlined
        if len(post._ids) >= post._blocklimit:
            post._write_block()
        post._ids.append(docnum)
        post._weights.append(weight)
        if weight > post._maxweight:
            post._maxweight = weight
        if value:
            post._values.append(value)
        length = lengths[docnum]
        if length:
            if post._minlength is None or length < post._minlength:
                post._minlength = length
            if length > post._maxlength:
                post._maxlength = length
    if lasttext is not None:
        fieldwriter.finish_term()
    if lastfn is not None:
        fieldwriter.finish_field()


class _Collected:
    """The term counts and document table of what one writer added, gathered as it adds
    them: reading them back from the finished segments took a sixth of a build."""

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}
        self.rows, self.cols = array("i"), array("i")  # document (in this writer), term
        self.counts, self.fields = array("f"), array("b")
        self.ids: list[str] = []
        self.case_ids: list[str] = []
        self.kinds: list[str] = []


def _merge_collected(parts: Sequence[_Collected]) -> tuple[TermCounts, DocTable]:
    """One TermCounts and DocTable from the writers' parts, in the order of their segments."""
    vocab: dict[str, int] = {}
    rows, cols = [], []
    offset = 0
    for part in parts:
        local = np.array([vocab.setdefault(t, len(vocab)) for t in part.vocab], dtype=np.int32)
        rows.append(np.frombuffer(part.rows, dtype=np.int32) + offset)
        cols.append(local[np.frombuffer(part.cols, dtype=np.int32)])
        offset += len(part.ids)

    def joined(arrays: list[np.ndarray], typecode: str) -> array:
        return array(typecode, np.concatenate(arrays).tobytes() if arrays else b"")

    def concat(name: str) -> list:
        return [x for part in parts for x in getattr(part, name)]

    counts = TermCounts(
        tuple(concat("ids")),
        tuple(vocab),
        joined(rows, "i"),
        joined(cols, "i"),
        joined([np.frombuffer(p.counts, dtype=np.float32) for p in parts], "f"),
        joined([np.frombuffer(p.fields, dtype=np.int8) for p in parts], "b"),
        TEXT_FIELDS,
    )
    return counts, DocTable(counts.doc_ids, concat("case_ids"), concat("kinds"))


class _BulkWriter(SegmentWriter):
    def __init__(self, ix: whoosh_index.Index, *, lock: bool = True) -> None:
        super().__init__(ix, _lk=lock)
        tempdir = Path(ix.storage.folder) / f"bulk-{os.getpid()}-{self.newsegment.segid}"
        self.pool = _PostingRuns(tempdir, RUN_POSTINGS)
        self.collected = _Collected()
        self._single: dict[int, bytes] = {}  # position -> Positions-encoded [position]
        self._lengths = {name: array("I") for name in TEXT_FIELDS}  # per field, per document

    def add(self, doc: IndexDoc) -> None:
        """`add_document` for one IndexDoc. Text fields take a short cut: our analyzer's terms
        become postings directly, as Whoosh's Positions format would encode them (without a
        Token object per term and a second pass through `word_values`)."""
        self._check_state()
        schema, docnum, add_post = self.schema, self.docnum, self.pool.add
        got = self.collected
        row = len(got.ids)
        got.ids.append(doc.id)
        got.case_ids.append(doc.case_id)
        got.kinds.append(doc.kind)
        values = {"id": doc.id, "case_id": doc.case_id, "kind": doc.kind}
        values.update((name, text) for name in TEXT_FIELDS if (text := getattr(doc, name)))
        for lengths in self._lengths.values():
            lengths.append(0)
        self.perdocwriter.start_doc(docnum)
        for name in sorted(values):
            value, field = values[name], schema[name]
            length = 0
            if name in FIELD_BOOSTS:  # TEXT: positions, scorable, not stored
                positions: dict[str, list[int]] = {}
                for term, pos, _start, _end in field.analyzer.analyzer.index_terms(value):
                    positions.setdefault(term, []).append(pos)
                fmt = field.format
                boost, encode, single = fmt.field_boost, fmt.encode, self._single
                vocab = got.vocab
                for term, poslist in positions.items():
                    freq = len(poslist)
                    length += freq
                    if freq == 1:  # most postings: one position, the same bytes every time
                        vbytes = single.get(poslist[0])
                        if vbytes is None:
                            vbytes = single[poslist[0]] = encode(poslist)
                    else:
                        vbytes = encode(poslist)
                    add_post((name, term.encode("utf-8"), docnum, freq * boost, vbytes))
                n = len(positions)
                got.rows.extend([row] * n)
                got.cols.extend([vocab.setdefault(t, len(vocab)) for t in positions])
                got.counts.extend([len(p) for p in positions.values()])
                got.fields.extend([TEXT_FIELDS.index(name)] * n)
                self._lengths[name][-1] = length
                self.perdocwriter.add_field(name, field, None, length)
            else:  # the three ID fields: Whoosh's own path
                for tbytes, _freq, weight, vbytes in field.index(value):
                    add_post((name, tbytes, docnum, weight, vbytes))
                self.perdocwriter.add_field(name, field, value if field.stored else None, 0)
        self.perdocwriter.finish_doc()
        self._added = True
        self.docnum += 1
        if self.pool.full():
            self.pool.spill()

    def _flush_segment(self) -> None:
        self.perdocwriter.close()
        # A length is stored as one byte, so the block statistics see it rounded that way.
        stored = {0: 0}
        zeros = [0] * (self.docnum - self.docbase)  # ID fields: not scorable, no lengths
        lengths_of: dict[str, list[int]] = defaultdict(lambda: zeros)
        for name, lengths in self._lengths.items():
            lengths_of[name] = [
                stored.get(n) or stored.setdefault(n, byte_to_length(length_to_byte(n)))
                for n in lengths
            ]
        _write_postings(self.fieldwriter, self.schema, lengths_of, self.pool.iter_postings())
        self.fieldwriter.close()

    def commit_segments(self, segments: list) -> None:
        """Commit the segments other processes wrote, as the index's only segments."""
        self._close_segment()  # this writer's own segment stays empty
        self._commit_toc(segments)
        self._finish()


def _index_in_processes(
    path: Path, docs: Iterable[IndexDoc], procs: int
) -> tuple[list, list[_Collected]]:
    """Index `docs` in `procs` worker processes: their segments, and what each collected.

    Batches go through a bounded queue (so a progress bar over `docs` follows the indexing);
    an error in a worker, or a worker that dies, stops the build with a message.
    """
    import multiprocessing as mp
    import queue as queue_module

    jobs: mp.Queue = mp.Queue(maxsize=2 * procs)
    results: mp.Queue = mp.Queue()
    workers = [
        mp.Process(target=_index_worker, args=(str(path), jobs, results), daemon=True)
        for _ in range(procs)
    ]
    done: list[tuple] = []

    def receive(timeout: float) -> None:
        """Take one report from the workers (if one comes within `timeout`)."""
        try:
            kind, *value = results.get(timeout=timeout)
        except queue_module.Empty:
            for w in workers:
                if w.exitcode not in (None, 0):
                    raise CaresearchError(
                        f"an indexing process died (exit code {w.exitcode}); "
                        "the previous index is still in use"
                    ) from None
            return
        if kind == "error":
            name, errno, message = value
            if errno is not None:  # reported like the same error in this process
                raise OSError(errno, message)
            raise CaresearchError(
                f"the build failed in an indexing process ({name}: {message}); "
                "the previous index is still in use"
            )
        done.append(tuple(value))

    def put(item) -> None:
        while True:
            try:
                jobs.put(item, timeout=0.5)
                return
            except queue_module.Full:
                receive(0)

    for w in workers:
        w.start()
    try:
        batch: list[IndexDoc] = []
        for doc in docs:
            batch.append(doc)
            if len(batch) == BATCH_DOCS:
                put(batch)
                batch = []
        if batch:
            put(batch)
        for _ in workers:
            put(None)
        while len(done) < len(workers):
            receive(0.5)
        for w in workers:
            w.join()
    finally:
        for w in workers:
            if w.is_alive():
                w.terminate()
                w.join()
    done = [(segment, got) for segment, got in done if segment is not None]
    return [segment for segment, _got in done], [got for _segment, got in done]


def _index_worker(path: str, jobs, results) -> None:
    """One indexing process: documents from `jobs` into one segment, sent to `results`."""
    import queue as queue_module

    parent = os.getppid()
    _die_with_parent()
    if os.getppid() != parent:  # the build died before that took effect
        return
    try:
        ix = whoosh_index.open_dir(path, indexname=INDEX_NAME)
        writer = _BulkWriter(ix, lock=False)  # the parent holds the index's lock
        added = False
        while True:
            try:
                batch = jobs.get(timeout=1.0)
            except queue_module.Empty:
                if os.getppid() != parent:  # the build was killed: stop, write nothing
                    writer.pool.cleanup()
                    return
                continue
            if batch is None:
                break
            for doc in batch:
                writer.add(doc)
                added = True
        segment = writer._finalize_segment() if added else None
        if not added:
            writer._close_segment()
        results.put(("segment", segment, writer.collected))
    except BaseException as exc:  # reported to the parent, which stops the build
        errno = exc.errno if isinstance(exc, OSError) else None
        message = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        results.put(("error", type(exc).__name__, errno, message))
        raise


def _die_with_parent() -> None:
    """Ask Linux to kill this process when the build that started it dies (even by SIGKILL,
    whatever this process is waiting on). Elsewhere the worker's own check of its parent, between
    batches, has to do."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG


def _save_tables(path: Path, counts: TermCounts, docs: DocTable) -> None:
    from scipy.sparse import save_npz

    save_npz(path / IMPACTS_FILE, bm25f_impacts(counts), compressed=False)
    with open(path / VOCAB_FILE, "w", encoding="utf-8") as f:
        json.dump(counts.vocab, f, ensure_ascii=False)
    with open(path / DOCS_FILE, "w", encoding="utf-8") as f:
        json.dump(docs.to_json(), f, ensure_ascii=False)


def term_counts(path: Path, fields: Sequence[str] = TEXT_FIELDS) -> TermCounts:
    """Every (document, term, field) count in the index at `path`, read back from Whoosh's
    postings (slow; a build collects the same counts as it writes them)."""
    ix = _open_readonly(path)
    try:
        with ix.reader() as reader:
            doc_ids = tuple(f["id"] for f in reader.all_stored_fields())
            vocab: dict[str, int] = {}
            rows, cols, counts, field_of = array("i"), array("i"), array("f"), array("b")
            for k, field in enumerate(fields):
                for term in reader.field_terms(field):
                    j = vocab.setdefault(term, len(vocab))
                    for docnum, freq in reader.postings(field, term).items_as("frequency"):
                        rows.append(docnum)
                        cols.append(j)
                        counts.append(freq)
                        field_of.append(k)
    finally:
        ix.close()
    return TermCounts(doc_ids, tuple(vocab), rows, cols, counts, field_of, tuple(fields))


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
