"""Document scores: a query word's score per document from the index (the best of its
variants), and from scored documents to what a search hit shows: a case's score from its
documents, and which of its passages come first. Numpy over document numbers; searching.py
decides what the scores mean."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .index import SearchIndex
    from .query import QueryWord, Variant

TIEBREAK = 0.1  # share of a word's other matching variants added to its best one

# A case's score: its best document, plus diminishing credit for further matching documents.
DOC_DECAY = (1.0, 0.5, 0.25, 0.125)


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
    for variant in sorted(word.variants, key=lambda v: v.via == "phrase"):
        if variant.via == "phrase" and best.any():
            continue
        v = variant_vector(index, variant)
        if v is not None:
            np.maximum(best, v, out=best)
            total += v
    return best + np.float32(TIEBREAK) * (total - best)


def passage_order(weighted: np.ndarray, tiers: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """The order in which a case's matching passages are offered (indices into the arrays):
    the ones holding more of the query's words first, then the ones holding them as typed
    before through a synonym (高齢者 in a paragraph before 老人 in 老人会), then by weighted
    score. `tiers`: per passage the latest tier it needed; `groups`: its bits of words."""
    words = np.bitwise_count(groups.astype(np.uint64)).astype(np.int64)
    return np.lexsort((-weighted, tiers, -words))


def covering(docs: np.ndarray, groups: np.ndarray, limit: int) -> list[int]:
    """Up to `limit` of `docs` (best first) chosen so that together they show as many of the
    query's words as they can: each next one the best that adds the most words not shown yet
    (the first, the best with the most words), then the best of the rest."""
    chosen: list[int] = []
    shown = 0
    rest = [int(d) for d in docs[: limit * 20]]  # the best few dozen are enough to choose from
    while rest and len(chosen) < limit:
        new = [int(groups[d]) & ~shown for d in rest]
        k = max(range(len(rest)), key=lambda k: (new[k].bit_count(), -k))
        shown |= int(groups[rest[k]])
        chosen.append(rest.pop(k))
    return chosen


def score_cases(
    case_of: np.ndarray, score_of: np.ndarray, n_cases: int
) -> tuple[np.ndarray, np.ndarray]:
    """(cases, score of each): its best document, plus diminishing credit for the next ones.

    Level by level without sorting the documents: each pass takes every case's best score
    left (all its documents at that score at once) and credits it at the next places of
    DOC_DECAY."""
    credit = np.concatenate(([0.0], np.cumsum(DOC_DECAY)))  # credit[k]: the first k places
    places = len(DOC_DECAY)
    case_scores = np.zeros(n_cases, dtype=np.float64)
    filled = np.zeros(n_cases, dtype=np.int64)
    cases = np.flatnonzero(np.bincount(case_of, minlength=n_cases))
    while len(case_of):
        top = np.full(n_cases, -np.inf, dtype=np.float32)
        np.maximum.at(top, case_of, score_of)
        at_top = score_of == top[case_of]
        ties = np.bincount(case_of[at_top], minlength=n_cases)
        took = ties > 0
        if not took.any():  # only NaN scores left: nothing more to credit
            break
        after = np.minimum(filled + ties, places)
        case_scores[took] += top[took] * (credit[after] - credit[np.minimum(filled, places)])[took]
        filled += ties
        left = ~at_top & (filled[case_of] < places)
        case_of, score_of = case_of[left], score_of[left]
    return cases, case_scores[cases]
