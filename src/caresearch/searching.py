"""Keyword search: scored documents from the index, grouped into cases, filtered, faceted.

Words are ANDed at the level of the case (a case matches when every word occurs somewhere in
it, not necessarily in one passage); when no case has them all, the search falls back to OR
and says so. Filters and facet counts work on the case objects, not on the index.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

from .analysis import Analyzer
from .errors import QueryError
from .highlight import TokenCache, snippet
from .index import DocTable, SearchIndex
from .models import SECTION_LABELS, Case, CaseHit, CaseInfo, Passage, PassageHit, SearchResult
from .query import ParsedQuery, QueryExpander, QueryWord
from .snapshot import CaseList, Snapshot

FILTER_KEYS = ("prefecture", "region", "theme", "keyword", "section")
# A case's score: its best document, plus diminishing credit for further matching documents.
DOC_DECAY = (1.0, 0.5, 0.25, 0.125)
MAX_PAGE = 1000


class Corpus:
    """The cases of a build (their `CaseInfo` in memory, full cases from the snapshot) and,
    for the documents of its index, the position of each one's case and its section."""

    def __init__(self, snapshot: Snapshot, docs: DocTable) -> None:
        self.snapshot = snapshot
        self.infos = snapshot.infos
        self.cases = CaseList(snapshot)
        self.sections: tuple[str, ...] = ("case", *SECTION_LABELS)
        position = snapshot.position
        code = {name: i for i, name in enumerate(self.sections)}
        case_of = np.array([position.get(c, -1) for c in docs.case_names], dtype=np.int64)
        section_of = np.array([code.get(k, 0) for k in docs.kind_names], dtype=np.int64)
        self.doc_case = case_of[docs.case_codes]
        self.doc_section = section_of[docs.kind_codes]
        self.doc_ids = docs.ids

    def case(self, i: int) -> Case:
        return self.snapshot.case(int(i))

    def position(self, case_id: str) -> int | None:
        return self.snapshot.position.get(case_id)

    def passage(self, passage_id: str) -> Passage | None:
        return self.snapshot.passage(passage_id)


def clean_filters(filters: Mapping[str, str | None] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in (filters or {}).items():
        if key not in FILTER_KEYS:
            raise QueryError(f"不明な絞り込み条件です: {key}")
        if value:
            out[key] = str(value).strip()
    return out


def case_passes(case: Case | CaseInfo, filters: Mapping[str, str]) -> bool:
    return (
        filters.get("prefecture") in (None, case.prefecture)
        and filters.get("region") in (None, case.region)
        and ("theme" not in filters or filters["theme"] in case.themes)
        and (
            "keyword" not in filters
            or filters["keyword"] in case.keywords + case.editorial_keywords
        )
    )


def facet_counts(cases: Sequence[Case | CaseInfo], sections: Counter) -> dict[str, dict[str, int]]:
    def count(values) -> dict[str, int]:
        return dict(Counter(values).most_common())

    return {
        "prefecture": count(c.prefecture for c in cases),
        "region": count(c.region for c in cases),
        "theme": count(t for c in cases for t in c.themes),
        "keyword": count(k for c in cases for k in c.keywords),
        "section": dict(sections.most_common()),
    }


def search(
    index: SearchIndex,
    corpus: Corpus,
    expander: QueryExpander,
    analyzer: Analyzer | TokenCache,
    text: str,
    *,
    filters: Mapping[str, str | None] | None = None,
    page: int = 1,
    page_size: int = 10,
    passages_per_case: int = 3,
    max_chars: int = 200,
) -> SearchResult:
    filters_ = clean_filters(filters)
    if not 1 <= page <= MAX_PAGE:
        raise QueryError(f"ページ番号は1から{MAX_PAGE}までです。")
    parsed = expander.parse(text, max_chars=max_chars)
    words: list[QueryWord] = []
    vectors: list[np.ndarray] = []
    for w in parsed.words:
        v = index.word_vector(w)
        if not v.any():  # a compound found nowhere as a phrase: look for its parts instead
            parts = expander.split(w)
            if len(parts) > 1:
                words.extend(parts)
                vectors.extend(index.word_vector(p) for p in parts)
                continue
        words.append(w)
        vectors.append(v)
    parsed = ParsedQuery(parsed.text, tuple(words))
    n_cases, n_words = len(corpus.cases), len(words)

    # Which words each case contains (anywhere in it), and each document's summed score.
    words_in_case = np.zeros(n_cases, dtype=np.int64)
    doc_scores = np.zeros(len(corpus.doc_case), dtype=np.float32)
    for v in vectors:
        hit = np.flatnonzero(v)
        cases_hit = corpus.doc_case[hit]
        words_in_case[np.unique(cases_hit[cases_hit >= 0])] += 1
        doc_scores += v
    matching = words_in_case == n_words
    fallback = None
    if not matching.any() and n_words > 1 and words_in_case.any():
        matching, fallback = words_in_case > 0, "or"
    case_ok = matching
    if filters_.keys() - {"section"}:  # only then is each case's metadata worth a look
        case_ok = matching & np.array([case_passes(c, filters_) for c in corpus.infos], dtype=bool)

    docs = np.flatnonzero(doc_scores)
    docs = docs[(corpus.doc_case[docs] >= 0)]
    docs = docs[case_ok[corpus.doc_case[docs]]]
    passage_docs = docs[corpus.doc_section[docs] != 0]
    section = filters_.get("section")
    if section:
        code = corpus.sections.index(section) if section in corpus.sections else -1
        passage_docs = passage_docs[corpus.doc_section[passage_docs] == code]
        case_ok = np.zeros(n_cases, dtype=bool)
        case_ok[corpus.doc_case[passage_docs]] = True
        docs = docs[case_ok[corpus.doc_case[docs]]]

    # A case's score: its best document, plus diminishing credit for the next ones.
    case_of, score_of = corpus.doc_case[docs], doc_scores[docs]
    order = np.lexsort((-score_of, case_of))
    case_sorted, score_sorted = case_of[order], score_of[order]
    starts = np.flatnonzero(np.r_[True, case_sorted[1:] != case_sorted[:-1]])
    if not len(case_sorted):
        starts = np.zeros(0, dtype=np.int64)
    ends = np.r_[starts[1:], len(case_sorted)]
    case_scores = np.zeros(len(starts), dtype=np.float64)
    for k, decay in enumerate(DOC_DECAY):
        has = starts + k < ends
        case_scores[has] += decay * score_sorted[(starts + k)[has]]
    ranked_cases = case_sorted[starts]
    if fallback:
        case_scores *= words_in_case[ranked_cases] / n_words
    rank = np.lexsort((ranked_cases, -case_scores))  # ties: document order of the cases
    ranked_cases, case_scores = ranked_cases[rank], case_scores[rank]

    # Section facet: in how many of the cases each section holds a matching passage.
    pair = np.unique(
        corpus.doc_case[passage_docs] * len(corpus.sections) + corpus.doc_section[passage_docs]
    )
    section_counts = (
        Counter(
            {
                corpus.sections[int(k)]: int(n)
                for k, n in enumerate(np.bincount(pair % len(corpus.sections)))
                if n
            }
        )
        if len(pair)
        else Counter()
    )
    facets = facet_counts([corpus.infos[int(i)] for i in ranked_cases], section_counts)

    start = (page - 1) * page_size
    shown = ranked_cases[start : start + page_size]
    hits = []
    for i, score in zip(shown, case_scores[start : start + page_size], strict=True):
        mine = passage_docs[corpus.doc_case[passage_docs] == i]
        mine = mine[np.argsort(-doc_scores[mine], kind="stable")]
        passages = [
            (float(doc_scores[d]), p)
            for d in mine[:passages_per_case]
            if (p := corpus.passage(corpus.doc_ids[d])) is not None
        ]
        hits.append(
            _case_hit(corpus.case(i), float(score), passages, parsed, analyzer, passages_per_case)
        )
    return SearchResult(
        query=text,
        total=len(ranked_cases),
        hits=tuple(hits),
        facets=facets,
        fallback=fallback,
        page=page,
        page_size=page_size,
        filters=filters_,
    )


def _case_hit(
    case: Case,
    score: float,
    passages: list[tuple[float, Passage]],
    parsed: ParsedQuery,
    analyzer: Analyzer | TokenCache,
    limit: int,
) -> CaseHit:
    shown = passages[:limit]
    if not shown:  # matched on title, keywords or figure text only: show what the case is about
        shown = [(0.0, p) for p in list(case.passages())[:1]]
    return CaseHit(
        case=case,
        score=round(score, 4),
        passages=tuple(
            PassageHit(p, round(s, 4), snippet(p.text, parsed.words, analyzer)) for s, p in shown
        ),
    )
