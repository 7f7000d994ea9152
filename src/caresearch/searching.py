"""Keyword search: scored documents from the index, grouped into cases, filtered, faceted.

Words are ANDed at the level of the case (a case matches when every word occurs somewhere in
it, not necessarily in one passage); when no case has them all, the search falls back to OR
and says so. Filters and facet counts work on the case objects, not on the index.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence

from .analysis import Analyzer
from .errors import QueryError
from .highlight import TokenCache, snippet
from .index import SearchIndex
from .models import Case, CaseHit, Passage, PassageHit, SearchResult
from .query import ParsedQuery, QueryExpander

FILTER_KEYS = ("prefecture", "region", "theme", "keyword", "section")
# A case's score: its best document, plus diminishing credit for further matching documents.
DOC_DECAY = (1.0, 0.5, 0.25, 0.125)
MAX_PAGE = 1000


class Corpus:
    """The cases of a build and their passages, looked up by id."""

    def __init__(self, cases: Sequence[Case]) -> None:
        self.cases = tuple(cases)
        self.by_id: dict[str, Case] = {c.id: c for c in self.cases}
        self.passages: dict[str, Passage] = {p.id: p for c in self.cases for p in c.passages()}


def clean_filters(filters: Mapping[str, str | None] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in (filters or {}).items():
        if key not in FILTER_KEYS:
            raise QueryError(f"不明な絞り込み条件です: {key}")
        if value:
            out[key] = str(value).strip()
    return out


def case_passes(case: Case, filters: Mapping[str, str]) -> bool:
    return (
        filters.get("prefecture") in (None, case.prefecture)
        and filters.get("region") in (None, case.region)
        and ("theme" not in filters or filters["theme"] in case.themes)
        and (
            "keyword" not in filters
            or filters["keyword"] in case.keywords + case.editorial_keywords
        )
    )


def facet_counts(cases: Sequence[Case], sections: Counter) -> dict[str, dict[str, int]]:
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
    words: list = []
    per_word: list[dict[int, float]] = []
    for w in parsed.words:
        scores = index.word_scores(w)
        if not scores:  # a compound found nowhere as a phrase: look for its parts instead
            parts = expander.split(w)
            if len(parts) > 1:
                words.extend(parts)
                per_word.extend(index.word_scores(p) for p in parts)
                continue
        words.append(w)
        per_word.append(scores)
    parsed = ParsedQuery(parsed.text, tuple(words))

    # docnum -> summed score, case -> words it contains
    doc_scores: dict[int, float] = defaultdict(float)
    case_words: dict[str, set[int]] = defaultdict(set)
    for i, scores in enumerate(per_word):
        for docnum, score in scores.items():
            doc_scores[docnum] += score
            case_words[index.docs[docnum].case_id].add(i)

    n_words = len(parsed.words)
    matching = {cid for cid, ws in case_words.items() if len(ws) == n_words}
    fallback = None
    if not matching and n_words > 1 and case_words:
        matching, fallback = set(case_words), "or"

    section = filters_.get("section")
    by_case: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for docnum, score in doc_scores.items():
        meta = index.docs[docnum]
        if meta.case_id in matching and meta.case_id in corpus.by_id:
            by_case[meta.case_id].append((score, docnum))

    ranked: list[tuple[float, Case, list[tuple[float, Passage]]]] = []
    section_counts: Counter = Counter()
    for cid, docs in by_case.items():
        case = corpus.by_id[cid]
        if not case_passes(case, filters_):
            continue
        docs.sort(key=lambda d: (-d[0], d[1]))
        passages = [
            (s, corpus.passages[index.docs[n].id])
            for s, n in docs
            if index.docs[n].id in corpus.passages
        ]
        if section:
            passages = [(s, p) for s, p in passages if p.section == section]
            if not passages:
                continue
        section_counts.update({p.section for _s, p in passages})
        score = sum(w * s for w, (s, _n) in zip(DOC_DECAY, docs, strict=False))
        if fallback:
            score *= len(case_words[cid]) / n_words
        ranked.append((score, case, passages))

    ranked.sort(key=lambda r: (-r[0], r[1].order, r[1].id))
    facets = facet_counts([c for _s, c, _p in ranked], section_counts)
    start = (page - 1) * page_size
    hits = tuple(
        _case_hit(case, score, passages, parsed, analyzer, passages_per_case)
        for score, case, passages in ranked[start : start + page_size]
    )
    return SearchResult(
        query=text,
        total=len(ranked),
        hits=hits,
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
