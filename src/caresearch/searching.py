"""Keyword search: scored documents from the index, grouped into cases, filtered, faceted.

Words are ANDed at the level of the case (a case matches when every word occurs somewhere in
it, not necessarily in one passage); when no case has them all, the search falls back to OR
and says so. Filters and facet counts work on the cases' `CaseInfo`, read through the facet
table in models.py. What a query word means (its variants, their weights, the fallback to
a compound's parts) is decided here; the index only scores terms and phrases.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

from .analysis import Analyzer
from .config import Settings, check_limit
from .errors import QueryError
from .highlight import TokenCache, snippet
from .index import SearchIndex
from .models import (
    FACET_BY_KEY,
    FACETS,
    SECTION_BY_KEY,
    Case,
    CaseHit,
    CaseInfo,
    PassageHit,
    SearchResult,
)
from .query import ParsedQuery, QueryExpander, QueryWord, Variant
from .snapshot import Corpus

# A case's score: its best document, plus diminishing credit for further matching documents.
DOC_DECAY = (1.0, 0.5, 0.25, 0.125)
TIEBREAK = 0.1  # share of a word's other matching variants added to its best one


Filters = dict[str, tuple[str, ...]]  # facet key -> chosen values (OR within, AND across)


def check_filters(
    filters: Mapping[str, str | Sequence[str] | None] | None,
    known: Mapping[str, frozenset[str]],
) -> Filters:
    """The set filters, each checked against the facet table and the values that exist.

    A facet takes one value or several (any of them: OR); facets combine with AND. `known`
    maps a facet key to its possible values (see `facet_values`); an unknown key or value is
    a QueryError with the same message wherever it was typed.
    """
    out: Filters = {}
    for key, raw in (filters or {}).items():
        facet = FACET_BY_KEY.get(key)
        if facet is None:
            raise QueryError(f"不明な絞り込み条件です: {key}")
        values = [raw] if raw is None or isinstance(raw, str) else list(raw)
        chosen = tuple(dict.fromkeys(str(v).strip() for v in values if v and str(v).strip()))
        for value in chosen:
            if value not in known.get(key, frozenset()):
                raise QueryError(f"{facet.label}に「{value}」はありません。")
        if chosen:
            out[key] = chosen
    return out


def facet_values(infos: Sequence[CaseInfo], themes: Sequence[str]) -> dict[str, frozenset[str]]:
    """Every value each facet can take: its vocabulary, or the values the cases hold."""
    out: dict[str, frozenset[str]] = {}
    for facet in FACETS:
        if facet.vocabulary == "themes":
            out[facet.key] = frozenset(themes)
        elif facet.vocabulary == "sections":
            out[facet.key] = frozenset(SECTION_BY_KEY)
        elif facet.values is not None:
            out[facet.key] = frozenset(v for c in infos for v in facet.values(c))
    return out


def case_passes(case: Case | CaseInfo, filters: Filters) -> bool:
    """True when, for every facet filtered, the case holds one of its chosen values
    (passage facets are not checked here)."""
    for key, chosen in filters.items():
        read = FACET_BY_KEY[key].values
        if read is not None and not set(chosen) & set(read(case)):  # type: ignore[arg-type]
            return False
    return True


def facet_counts(cases: Sequence[CaseInfo], sections: Counter) -> dict[str, dict[str, int]]:
    """Per facet, how many of `cases` hold each value (most first); sections from `sections`."""
    out: dict[str, dict[str, int]] = {}
    for facet in FACETS:
        if facet.values is None:
            out[facet.key] = dict(sections.most_common())
        else:
            out[facet.key] = dict(Counter(v for c in cases for v in facet.values(c)).most_common())
    return out


def variant_vector(index: SearchIndex, variant: Variant) -> np.ndarray | None:
    """BM25F score per document for one variant, times its weight; None where it matches
    nothing. One term is a column of the index's matrix; several terms are a phrase."""
    if len(variant.terms) == 1:
        v = index.term_vector(variant.terms[0])
        return None if v is None else v * np.float32(variant.weight)
    docs, scores = index.phrase(variant.terms)
    if not len(docs):
        return None
    out = np.zeros(len(index.docs), dtype=np.float32)
    out[docs] = scores * np.float32(variant.weight)
    return out


def word_vector(index: SearchIndex, word: QueryWord) -> np.ndarray:
    """BM25F score per document for a word (0 where it does not match).

    A document scores by its best variant plus a tenth of the others (a disjunction-max).
    A compound's phrase of parts counts only when the compound is found nowhere.
    """
    best = np.zeros(len(index.docs), dtype=np.float32)
    total = np.zeros(len(index.docs), dtype=np.float32)
    for variant in sorted(word.variants, key=lambda v: v.via == "parts"):
        if variant.via == "parts" and best.any():
            continue
        v = variant_vector(index, variant)
        if v is not None:
            np.maximum(best, v, out=best)
            total += v
    return best + np.float32(TIEBREAK) * (total - best)


class Searcher:
    """Keyword search over one open build. Holds what it needs; `search` takes a query."""

    def __init__(
        self,
        index: SearchIndex,
        corpus: Corpus,
        expander: QueryExpander,
        highlighter: Analyzer | TokenCache,
        settings: Settings,
    ) -> None:
        self.index = index
        self.corpus = corpus
        self.expander = expander
        self.highlighter = highlighter
        self.settings = settings

    def search(self, text: str, filters: Filters, page: int, page_size: int) -> SearchResult:
        """Cases for `text` (filters already checked by `check_filters`), one page of them."""
        check_limit("page", page)
        check_limit("limit", page_size)
        parsed = self.expander.parse(text, max_chars=self.settings.max_query_chars)
        words, vectors = self._score_words(parsed)
        return self._rank(text, ParsedQuery(parsed.text, tuple(words)), vectors, filters,
                          page, page_size)  # fmt: skip

    def _score_words(self, parsed: ParsedQuery) -> tuple[list[QueryWord], list[np.ndarray]]:
        words: list[QueryWord] = []
        vectors: list[np.ndarray] = []
        for w in parsed.words:
            v = word_vector(self.index, w)
            if not v.any():  # a compound found nowhere as a phrase: look for its parts instead
                parts = self.expander.split(w)
                if len(parts) > 1:
                    words.extend(parts)
                    vectors.extend(word_vector(self.index, p) for p in parts)
                    continue
            words.append(w)
            vectors.append(v)
        return words, vectors

    def _rank(
        self,
        text: str,
        parsed: ParsedQuery,
        vectors: list[np.ndarray],
        filters: Filters,
        page: int,
        page_size: int,
    ) -> SearchResult:
        corpus, n_words = self.corpus, len(parsed.words)
        # Which words each case contains (anywhere in it), and each document's summed score.
        words_in_case = np.zeros(len(corpus.cases), dtype=np.int64)
        doc_scores = np.zeros(len(corpus.doc_case), dtype=np.float32)
        for v in vectors:
            cases_hit = corpus.doc_case[np.flatnonzero(v)]
            words_in_case[np.unique(cases_hit[cases_hit >= 0])] += 1
            doc_scores += v
        matching = words_in_case == n_words
        fallback = None
        if not matching.any() and n_words > 1 and words_in_case.any():
            matching, fallback = words_in_case > 0, "or"
        docs, passage_docs = self._filtered_docs(doc_scores, matching, filters)
        ranked_cases, case_scores = _case_scores(corpus.doc_case[docs], doc_scores[docs])
        if fallback:
            case_scores *= words_in_case[ranked_cases] / n_words
        rank = np.lexsort((ranked_cases, -case_scores))  # ties: document order of the cases
        ranked_cases, case_scores = ranked_cases[rank], case_scores[rank]
        facets = self._facets(doc_scores, matching, filters, ranked_cases, passage_docs)
        start = (page - 1) * page_size
        hits = [
            self._case_hit(int(i), float(score), passage_docs, doc_scores, parsed)
            for i, score in zip(
                ranked_cases[start : start + page_size],
                case_scores[start : start + page_size],
                strict=True,
            )
        ]
        return SearchResult(
            query=text,
            total=len(ranked_cases),
            hits=tuple(hits),
            facets=facets,
            fallback=fallback,
            page=page,
            page_size=page_size,
            filters=dict(filters),
        )

    def _filtered_docs(
        self, doc_scores: np.ndarray, matching: np.ndarray, filters: Filters
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scored documents of the cases that match and pass the filters, their passages)."""
        corpus = self.corpus
        case_ok = matching
        if any(FACET_BY_KEY[k].values is not None for k in filters):
            passes = [case_passes(c, filters) for c in corpus.infos]
            case_ok = matching & np.array(passes, dtype=bool)
        docs = np.flatnonzero(doc_scores)
        docs = docs[(corpus.doc_case[docs] >= 0)]
        docs = docs[case_ok[corpus.doc_case[docs]]]
        passage_docs = docs[corpus.doc_section[docs] != 0]
        sections = filters.get("section")
        if sections:
            codes = [corpus.sections.index(section) for section in sections]
            passage_docs = passage_docs[np.isin(corpus.doc_section[passage_docs], codes)]
            case_ok = np.zeros(len(corpus.cases), dtype=bool)
            case_ok[corpus.doc_case[passage_docs]] = True
            docs = docs[case_ok[corpus.doc_case[docs]]]
        return docs, passage_docs

    def _facets(
        self,
        doc_scores: np.ndarray,
        matching: np.ndarray,
        filters: Filters,
        ranked_cases: np.ndarray,
        passage_docs: np.ndarray,
    ) -> dict[str, dict[str, int]]:
        """Facet counts. A facet that is filtered counts over the results of the other
        filters, so its other values say how many cases choosing them too would add."""
        infos = self.corpus.infos
        facets = facet_counts(
            [infos[int(i)] for i in ranked_cases], self._section_counts(passage_docs)
        )
        for key in filters:
            others = {k: v for k, v in filters.items() if k != key}
            docs, passages = self._filtered_docs(doc_scores, matching, others)
            cases = np.unique(self.corpus.doc_case[docs])
            counts = facet_counts([infos[int(i)] for i in cases], self._section_counts(passages))
            facets[key] = counts[key]
        return facets

    def _section_counts(self, passage_docs: np.ndarray) -> Counter:
        """In how many of the cases each section holds a matching passage."""
        corpus, n = self.corpus, len(self.corpus.sections)
        pair = np.unique(corpus.doc_case[passage_docs] * n + corpus.doc_section[passage_docs])
        if not len(pair):
            return Counter()
        counts = np.bincount(pair % n)
        return Counter({corpus.sections[int(k)]: int(c) for k, c in enumerate(counts) if c})

    def _case_hit(
        self,
        i: int,
        score: float,
        passage_docs: np.ndarray,
        doc_scores: np.ndarray,
        parsed: ParsedQuery,
    ) -> CaseHit:
        corpus, limit = self.corpus, self.settings.passages_per_case
        mine = passage_docs[corpus.doc_case[passage_docs] == i]
        mine = mine[np.argsort(-doc_scores[mine], kind="stable")]
        shown = [
            (float(doc_scores[d]), p)
            for d in mine[:limit]
            if (p := corpus.passage(corpus.doc_ids[d])) is not None
        ]
        case = corpus.case(i)
        if not shown:  # matched on title, keywords or figure text only: what the case is about
            shown = [(0.0, p) for p in list(case.passages())[:1]]
        return CaseHit(
            case=case,
            score=round(score, 4),
            passages=tuple(
                PassageHit(p, round(s, 4), snippet(p.text, parsed.words, self.highlighter))
                for s, p in shown
            ),
        )


def _case_scores(case_of: np.ndarray, score_of: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(cases, score of each): its best document, plus diminishing credit for the next ones."""
    order = np.lexsort((-score_of, case_of))
    case_sorted, score_sorted = case_of[order], score_of[order]
    if not len(case_sorted):
        return case_sorted, np.zeros(0, dtype=np.float64)
    starts = np.flatnonzero(np.r_[True, case_sorted[1:] != case_sorted[:-1]])
    ends = np.r_[starts[1:], len(case_sorted)]
    case_scores = np.zeros(len(starts), dtype=np.float64)
    for k, decay in enumerate(DOC_DECAY):
        has = starts + k < ends
        case_scores[has] += decay * score_sorted[(starts + k)[has]]
    return case_sorted[starts], case_scores
