"""Writing a new index: the Whoosh schema, our bulk segment writer and the indexing processes.

The only module that touches Whoosh's internals (private names of `SegmentWriter`, its
posting writer and its segment files). It is pinned to whoosh==2.7.4 and guarded by
tests/test_index.py, which builds the same documents with Whoosh's own writer and compares
every posting, stored value, term statistic and field length. The reading side is
`index.py`; nothing here knows what a query means.
"""

from __future__ import annotations

import contextlib
import os
import sys
from array import array
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from whoosh import index as whoosh_index
from whoosh.analysis import Token, Tokenizer
from whoosh.fields import ID, TEXT, Schema
from whoosh.util.numeric import byte_to_length, length_to_byte
from whoosh.writing import SegmentWriter

from .analysis import Analyzer
from .errors import CaresearchError
from .index import FIELD_BOOSTS, FIELD_STRIDE, INDEX_NAME, TEXT_FIELDS, DocTable, save_tables
from .models import TermCounts

BATCH_DOCS = 200  # documents per job handed to an indexing process
RUN_POSTINGS = 1_000_000  # postings a writer keeps in memory (~250 MB) before a sorted run
RUN_CHUNK = 10_000  # postings pickled together in a run


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
    started: Callable[[], object] | None = None,
) -> tuple[int, TermCounts]:
    """Write a new index into the empty directory `path`: the Whoosh index, and beside it the
    precomputed BM25F scores of every term. Returns the number of documents and the counts.

    With procs > 1, that many processes (each with its own Sudachi) analyse and index
    batches of documents into a segment each, and the index is committed with all of them.
    `started` is called once no more processes will be started (so that it may start threads).
    """
    path.mkdir(parents=True, exist_ok=True)
    ix = whoosh_index.create_in(str(path), make_schema(analyzer), indexname=INDEX_NAME)
    writer = _BulkWriter(ix)
    try:
        if procs > 1:
            segments, collected = _index_in_processes(path, docs, procs, started)
            writer.commit_segments(segments)
        else:
            if started is not None:
                started()
            for doc in docs:
                writer.add(doc)
            collected = [writer.collected]
            writer.commit()
    except BaseException:
        writer.cancel()
        raise
    counts, table = _merge_collected(collected)
    save_tables(path, counts, table)
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
        self.positions = array("i")  # see TermCounts.positions
        self.spans = array("i")  # see TermCounts.spans
        self.ids: list[str] = []
        self.case_ids: list[str] = []
        self.kinds: list[str] = []
        self.affixed: Counter = Counter()  # see TermCounts.affixed


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
        joined([np.frombuffer(p.positions, dtype=np.int32) for p in parts], "i"),
        joined([np.frombuffer(p.spans, dtype=np.int32) for p in parts], "i"),
        tuple(sum((p.affixed for p in parts), Counter()).items()),
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
                spans: dict[str, list[int]] = {}  # start, end of each position, flat
                terms = field.analyzer.analyzer.index_terms(value, got.affixed)
                for term, pos, start, end in terms:
                    positions.setdefault(term, []).append(pos)
                    spans.setdefault(term, []).extend((start, end))
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
                stride = FIELD_STRIDE * TEXT_FIELDS.index(name)
                for poslist in positions.values():
                    got.positions.extend([p + stride for p in poslist])
                for spanlist in spans.values():
                    got.spans.extend(spanlist)
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
    path: Path, docs: Iterable[IndexDoc], procs: int, started: Callable[[], object] | None
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
        mp.Process(target=_index_worker, args=(str(path), jobs, results, os.getpid()), daemon=True)
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
                        f"索引を作るプロセスが異常終了しました（終了コード {w.exitcode}）。"
                        "これまでの索引をそのまま使っています"
                    ) from None
            return
        if kind == "error":
            name, errno, message = value
            if errno is not None:  # reported like the same error in this process
                raise OSError(errno, message)
            raise CaresearchError(
                f"索引の作成に失敗しました（索引を作るプロセスで {name}: {message}）。"
                "これまでの索引をそのまま使っています"
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
        if started is not None:
            started()
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


def _index_worker(path: str, jobs, results, parent: int) -> None:
    """One indexing process: documents from `jobs` into one segment, sent to `results`.
    `parent` is the build's pid, passed in: read here with getppid() it would already be 1
    when the build was killed before this process got to run, and nothing would stop it."""
    import queue as queue_module

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
