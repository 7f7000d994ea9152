"""From a description of a local problem to the cases and passages that answer it.

`Recommend` runs the pipeline over one open build: the description's topic words and their
synonyms, two case rankings (TF-IDF cosine from `tfidf.py`, BM25 of the best passage from the
index's precomputed matrix) fused by reciprocal rank fusion, coverage of the description's
topic words, then the decisions of `policy.py` (strong match, confidence, passages shown).
See docs/recommend.md for the choices and their measurements.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from .analysis import Token
from .index import SearchIndex
from .models import (
    ANSWER_WEIGHTS,
    LESSON_KINDS,
    CaseRecommendation,
    MatchedTerm,
    Recommendation,
    ScoredLesson,
)
from .policy import (
    GENERIC_NOUNS,
    RecommendPolicy,
    choose_passages,
    confidences,
    is_strong_match,
    is_topic,
)
from .query import QueryExpander, QueryWord
from .snapshot import Corpus
from .tfidf import TfidfModel, top_k

# Reciprocal rank fusion of the TF-IDF and BM25 case rankings. Measured against each signal
# alone and against weighted score sums (docs/recommend.md): as good as the best of them,
# with no weight to tune. k = 60 is the constant of the original paper.
RRF_K = 60

Expansions = Mapping[str, tuple[tuple[str, tuple[str, ...]], ...]]


def rrf(rankings: Sequence[Sequence[int]], k: int = RRF_K) -> dict[int, float]:
    """Reciprocal rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009): Σ 1 / (k + rank)."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    return fused


def literal_vector(index: SearchIndex, words: Sequence[QueryWord]) -> np.ndarray:
    """Summed BM25F scores of the literal one-term spellings of many words, per document."""
    out = np.zeros(len(index.docs), dtype=np.float32)
    for w in words:
        for v in w.variants:
            if v.via == "exact" and len(v.terms) == 1:
                col = index.term_vector(v.terms[0])
                if col is not None:
                    out += col
    return out


class Recommend:
    """The recommendation pipeline over one open build (see the module docstring)."""

    def __init__(
        self,
        model: TfidfModel,
        index: SearchIndex,
        corpus: Corpus,
        expander: QueryExpander,
        policy: RecommendPolicy | None = None,
    ) -> None:
        self.model = model
        self.index = index
        self.corpus = corpus
        self.expander = expander
        self.policy = policy or RecommendPolicy()

    def topic_terms(self, tokens: Sequence[Token]) -> Counter:
        """The description's words that say what it is about, with their counts."""
        return Counter(
            t.text
            for t in tokens
            if is_topic(t) or (self.expander.knows(t.text) and t.text not in GENERIC_NOUNS)
        )

    def __call__(
        self, text: str, tokens: list[Token], literal: Counter, limit: int
    ) -> Recommendation:
        model, policy = self.model, self.policy
        surfaces = {t.text: t.surface for t in reversed(tokens)}
        weighted: Counter = Counter(x[0] for x in self.expander.analyzer.index_terms_from(tokens))
        # term -> its synonyms as (label, part-level terms); they count as covering the term.
        expansions: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {}
        # Each topic word analysed once as a query word: its synonyms, then the BM25 query.
        words_of = {term: self.expander.word(surfaces[term]) for term in literal}
        for term, word in words_of.items():
            alts = tuple(
                (v.label, v.terms)
                for v in (word.variants if word else ())
                if v.via not in ("exact", "parts")
            )
            if alts:
                expansions[term] = alts
                for _label, terms in alts:
                    for alt in terms:
                        weighted[alt] += policy.synonym_weight * literal[term]
        cosine, coverage = model.score_cases(weighted, literal, expansions)
        informative = sorted(literal, key=lambda t: -model.idf(t))[: policy.max_description_words]
        bm25 = self._best_passage(
            literal_vector(self.index, [w for t in informative if (w := words_of[t]) is not None])
        )
        tfidf_rank = [int(i) for i in top_k(cosine, policy.rank_depth) if cosine[i] > 0]
        bm25_rank = [int(i) for i in top_k(bm25, policy.rank_depth) if bm25[i] > 0]
        fused = rrf([tfidf_rank, bm25_rank])
        ranked = sorted(fused, key=lambda i: (-fused[i], i))
        top = fused[ranked[0]] if ranked else 1.0
        # A case similar only through filler words is not a reason to show it.
        matched = {i: found for i in ranked if (found := model.matched(i, literal, expansions))}
        ranked = [i for i in ranked if i in matched]
        best = max(ranked, key=lambda i: coverage[i], default=None)
        best_cov = float(coverage[best]) if best is not None else 0.0
        strong = best is not None and is_strong_match(best_cov, len(matched[best]), policy)
        shown = ranked[: limit if strong else min(limit, policy.no_match_cases)]
        levels = confidences(
            [float(coverage[i]) for i in shown], [fused[i] / top for i in shown], strong, policy
        )
        passage_scores = model.score_passages(weighted)
        out_cases = tuple(
            CaseRecommendation(
                case=self.corpus.case(i),
                score=round(fused[i] * (RRF_K + 1) / 2, 4),  # 1.0 = first in both
                confidence=level,
                matched_terms=self._matched_terms(matched[i], surfaces, expansions, i),
                lessons=self._case_passages(i, passage_scores),
            )
            for i, level in zip(shown, levels, strict=True)
        )
        return Recommendation(
            query=text,
            no_strong_match=not strong,
            cases=out_cases,
            lessons=self._overall(out_cases, passage_scores),
            coverage=round(best_cov, 3),
        )

    def _best_passage(self, doc_scores: np.ndarray) -> np.ndarray:
        """Each case's score: that of its best document."""
        case_best = np.zeros(len(self.corpus.cases), dtype=np.float32)
        hit = np.flatnonzero(doc_scores)
        cases_of = self.corpus.doc_case[hit]
        known = cases_of >= 0
        np.maximum.at(case_best, cases_of[known], doc_scores[hit][known])
        return case_best

    def _matched_terms(
        self, found: Iterable[str], surfaces: Mapping[str, str], expansions: Expansions, case: int
    ) -> tuple[MatchedTerm, ...]:
        model = self.model
        out = []
        for term in list(found)[: self.policy.matched_terms]:
            if model.case_has(case, term):
                out.append(MatchedTerm(surfaces[term], term, "exact"))
            else:
                label = next(
                    lab
                    for lab, terms in expansions.get(term, ())
                    if all(model.case_has(case, t) for t in terms)
                )
                out.append(MatchedTerm(surfaces[term], label, "synonym"))
        return tuple(out)

    def _case_passages(self, case: int, passage_scores: np.ndarray) -> tuple[ScoredLesson, ...]:
        model = self.model
        scored = [
            (
                float(passage_scores[j]) * ANSWER_WEIGHTS[model.passage_section_[j]],
                model.passage_ids_[j],
                model.passage_section_[j],
            )
            for j in model.passages_of(case)
        ]
        return tuple(
            ScoredLesson(self.corpus.passage(pid), round(score, 4))
            for score, pid, _section in choose_passages(scored, LESSON_KINDS, self.policy)
        )

    def _overall(
        self, cases: Sequence[CaseRecommendation], passage_scores: np.ndarray
    ) -> tuple[ScoredLesson, ...]:
        """The lessons of the shown cases, by their relevance times their case's score."""
        model = self.model
        scored = (
            ScoredLesson(
                self.corpus.passage(model.passage_ids_[j]),
                round(float(passage_scores[j]) * cr.score, 4),
            )
            for cr in cases
            for j in model.passages_of(self.corpus.position(cr.case.id))
            if model.passage_section_[j] in LESSON_KINDS and passage_scores[j] > 0
        )
        return tuple(sorted(scored, key=lambda sl: -sl.score)[: self.policy.overall_lessons])
