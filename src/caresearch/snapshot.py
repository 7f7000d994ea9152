"""The corpus snapshot of a build: every case on disk, read one at a time when needed.

A server never needs every case's text at once: lists, filters and facets use the short
`CaseInfo` of each case (kept in memory); a page of results, a case page or a recommendation
reads the few full cases it shows. So the snapshot is two files:

  cases.bin   the pickled cases, one after another
  cases.pkl   themes, the CaseInfo of every case and each case's (offset, length) in cases.bin

and an open snapshot keeps only the second in memory, with the most recently read cases in a
small cache. At 10,000 cases that is ~15 MB instead of ~350 MB of Python objects. Each read
opens the file, seeks and reads (well under a millisecond with the unpickling): no memory map,
so what was read once does not stay resident, and no file handle to leak when an engine is
dropped without being closed. Only files this program wrote into its own build directory are
unpickled.
"""

from __future__ import annotations

import pickle
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import overload

import numpy as np

from .errors import IndexNotReady
from .index import DocTable
from .models import SECTIONS, Case, CaseInfo, Passage
from .store import HeldFile

CASES_FILE = "cases.bin"
TABLE_FILE = "cases.pkl"
CACHED_CASES = 256  # full cases kept in memory (a results page shows 10, a recommendation 5)


def write_snapshot(directory: Path, cases: Sequence[Case], themes: Sequence[str]) -> None:
    """Write the snapshot of `cases` into `directory` (a build being written)."""
    spans = np.zeros((len(cases), 2), dtype=np.int64)
    with open(directory / CASES_FILE, "wb") as f:
        for i, case in enumerate(cases):
            data = pickle.dumps(case, protocol=pickle.HIGHEST_PROTOCOL)
            spans[i] = (f.tell(), len(data))
            f.write(data)
    table = (tuple(themes), tuple(CaseInfo.of(c) for c in cases), spans)
    with open(directory / TABLE_FILE, "wb") as f:
        pickle.dump(table, f, protocol=pickle.HIGHEST_PROTOCOL)


class Snapshot:
    """An open snapshot: `infos` in memory, full cases read from disk and cached."""

    def __init__(self, themes: tuple[str, ...], infos: tuple[CaseInfo, ...], spans, path) -> None:
        self.themes = themes
        self.infos = infos
        self.position = {info.id: i for i, info in enumerate(infos)}
        self._spans = spans
        self._file = HeldFile(path)  # cases.bin, open while the build is in use
        self._cache: OrderedDict[int, tuple[Case, dict[str, Passage]]] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def open(cls, directory: Path) -> Snapshot:
        with open(directory / TABLE_FILE, "rb") as f:
            themes, infos, spans = pickle.load(f)
        path = directory / CASES_FILE
        size = path.stat().st_size
        if len(spans) and int(spans[-1].sum()) != size:
            raise ValueError(f"{path} does not match {TABLE_FILE}")
        return cls(themes, infos, spans, path)

    def __len__(self) -> int:
        return len(self.infos)

    def _entry(self, i: int) -> tuple[Case, dict[str, Passage]]:
        with self._lock:
            entry = self._cache.get(i)
            if entry is not None:
                self._cache.move_to_end(i)
                return entry
        case = self._read(i)
        entry = (case, {p.id: p for p in case.passages()})
        with self._lock:
            self._cache[i] = entry
            if len(self._cache) > CACHED_CASES:
                self._cache.popitem(last=False)
        return entry

    def _read(self, i: int) -> Case:
        start, length = (int(x) for x in self._spans[i])
        try:
            data = self._file.read(start, length)
            if len(data) != length:
                raise EOFError(f"{CASES_FILE} is shorter than {TABLE_FILE} says")
            return pickle.loads(data)
        except Exception as exc:  # damaged bytes can raise almost any error while unpickling
            raise IndexNotReady(
                f"索引の事例データが壊れています（{type(exc).__name__}）。"
                "`caresearch build --force` で作り直してください"
            ) from exc

    def case(self, i: int) -> Case:
        return self._entry(i)[0]

    def passage(self, passage_id: str) -> Passage | None:
        """The passage with this id, or None. Item ids start with their case's id and '-'."""
        i = self.position.get(passage_id.split("-", 1)[0])
        return None if i is None else self._entry(i)[1].get(passage_id)

    def stream(self, positions: Iterable[int] | None = None) -> Iterator[Case]:
        """Cases in order (all, or those at `positions`), read without filling the cache: for
        listings over the whole corpus, which would otherwise push out the recent cases."""
        for i in range(len(self)) if positions is None else positions:
            yield self._read(i)


class CaseList(Sequence[Case]):
    """The cases of a snapshot as a read-only sequence; each is read when it is asked for."""

    def __init__(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot

    def __len__(self) -> int:
        return len(self._snapshot)

    @overload
    def __getitem__(self, i: int) -> Case: ...
    @overload
    def __getitem__(self, i: slice) -> list[Case]: ...
    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._snapshot.case(k) for k in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self._snapshot.case(i)

    def __iter__(self) -> Iterator[Case]:
        return self._snapshot.stream()


class Corpus:
    """The cases of a build (their `CaseInfo` in memory, full cases from the snapshot) and,
    for the documents of its index, the position of each one's case and its section."""

    def __init__(self, snapshot: Snapshot, docs: DocTable) -> None:
        self.snapshot = snapshot
        self.infos = snapshot.infos
        self.cases = CaseList(snapshot)
        self.sections: tuple[str, ...] = ("case", *(s.key for s in SECTIONS))
        position = snapshot.position
        code = {name: i for i, name in enumerate(self.sections)}
        case_of = np.array([position.get(c, -1) for c in docs.case_names], dtype=np.int64)
        section_of = np.array([code.get(k, 0) for k in docs.kind_names], dtype=np.int64)
        self.doc_case = case_of[docs.case_codes]
        self.doc_section = section_of[docs.kind_codes]
        self.doc_ids = docs.ids
        # the documents of each case, by case position: _case_docs[_bounds[i]:_bounds[i + 1]]
        self._case_docs = np.argsort(self.doc_case, kind="stable")
        self._bounds = np.searchsorted(
            self.doc_case[self._case_docs], np.arange(len(self.infos) + 1)
        )

    def case(self, i: int) -> Case:
        return self.snapshot.case(int(i))

    def position(self, case_id: str) -> int | None:
        return self.snapshot.position.get(case_id)

    def passage(self, passage_id: str) -> Passage | None:
        return self.snapshot.passage(passage_id)

    def docs_of(self, case: int) -> np.ndarray:
        """The index's numbers of case `case`'s documents (the case document and passages)."""
        return self._case_docs[self._bounds[case] : self._bounds[case + 1]]

    def doc_number(self, doc_id: str, case: int) -> int | None:
        """The index's number for a document of case `case` (its own id for the case
        document, a passage's id for a passage)."""
        return next((int(d) for d in self.docs_of(case) if self.doc_ids[d] == doc_id), None)
