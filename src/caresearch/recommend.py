"""From a description of a local problem to the cases and passages that answer it.

`Recommend` runs the pipeline over one open build:

1. the description's topic words, each weighted by how specific it is (administrative filler
   such as 窓口, 相談, 連携 weighs `filler_weight`), plus their synonyms, one-way paraphrases
   (医者 → 医師) and 不足 when the description speaks of absence (いない, 足りない): read by
   description.py's `DescriptionReader`;
2. every answer passage scored by BM25 for those weighted words (tfidf.py precomputes the
   passage matrix), times its section's answer weight;
3. cases ranked by a weighted sum of normalised signals over the lexical candidates: their
   best passage's BM25 and, when the build has passage vectors, their best passage's
   embedding cosine (TF-IDF cosine instead of the embedding without vectors);
4. coverage: the share of the description's specific content a case contains;
5. the decisions of policy.py: strong match, confidence, the passages shown, which are
   ordered by their BM25 times the share of the description's distinct words they hold.

See docs/recommend.md for the choices and their measurements.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

from . import semantic
from .analysis import Token, sentences
from .description import Described, DescriptionReader
from .highlight import Highlighter, snippet
from .index import SearchIndex
from .models import (
    ANSWER_WEIGHTS,
    CaseRecommendation,
    MatchedTerm,
    Passage,
    Recommendation,
    ScoredLesson,
    reason_line,
)
from .policy import (
    RecommendPolicy,
    choose_passages,
    confidences,
    fuse,
    is_strong_match,
    overall_answers,
)
from .query import QueryExpander, QueryWord
from .snapshot import Corpus
from .tfidf import TfidfModel, top_k


class Recommend:
    """The recommendation pipeline over one open build (see the module docstring)."""

    def __init__(
        self,
        model: TfidfModel,
        index: SearchIndex,
        corpus: Corpus,
        expander: QueryExpander,
        highlighter: Highlighter,
        vectors: semantic.StoredVectors | None = None,
        policy: RecommendPolicy | None = None,
    ) -> None:
        self.model = model
        self.vectors = vectors  # answer passages × dim (semantic.py), or None: lexical only
        self.index = index
        self.corpus = corpus
        self.expander = expander
        self.highlighter = highlighter
        self.policy = policy or RecommendPolicy()
        # what a description says: its words, weighed (description.py)
        self.reader = DescriptionReader(
            model, expander, self.policy, lambda word: self._written_in(word, None)
        )
        self.answer_weight = np.array(
            [ANSWER_WEIGHTS[s] for s in model.passage_section_], dtype=np.float32
        )

    def warm_up(self) -> None:
        """Load the sentence encoder now (when the build has vectors), so that the first
        description does not wait ~1 s for it."""
        if self.vectors is not None:
            semantic.load()

    def passage_scores(self, d: Described) -> np.ndarray:
        """Every answer passage's BM25 for the weighted words, times its section's weight."""
        q: Counter = Counter()
        for term, w in d.weights.items():
            q[term] += w
            for _label, terms in d.expansions.get(term, ()):
                for alt in terms:
                    q[alt] += self.policy.synonym_weight * w / len(terms)
        return self.model.passage_bm25(q) * self.answer_weight

    def answer_scores(self, d: Described, passages: np.ndarray, cases: Sequence[int]) -> np.ndarray:
        """How well each answer passage of `cases` answers (0 for the others), for choosing and
        ordering the passages shown: its relevance (`passages`) times the share of the
        description's distinct topic words it holds (each once, by idf × specificity; 不足 read
        from いない at the absence weight), so that a short passage saying one word three times
        (a participant's 体操 at home) does not lead the ones that hold more of what was asked.
        A passage that holds none of them whole (only a part of a synonym of several words)
        scores 0 and is not shown. The case ranking reads `passages` alone."""
        absence = self.policy.absence_weight
        weight = {
            t: self.model.idf(t) * self.reader.specificity(t) * (absence if t in d.implied else 1.0)
            for t in d.weights
        }
        rows = self.model.passages_of_cases(cases)
        out = np.zeros_like(passages)
        out[rows] = passages[rows] * self._holding(d, weight, rows) / (sum(weight.values()) or 1.0)
        return out

    def _holding(self, d: Described, weight: Mapping[str, float], rows: np.ndarray) -> np.ndarray:
        """Per answer passage of `rows`: the sum of `weight` over the description's words it
        holds (itself, or every word of one of its synonyms)."""
        held = np.zeros(len(rows), dtype=np.float64)
        for t, w in weight.items():
            held += self.model.passages_covering(t, d.covering.get(t, ()), rows) * w
        return held

    def __call__(
        self, text: str, tokens: list[Token], literal: Counter, limit: int
    ) -> Recommendation:
        model, policy = self.model, self.policy
        d = self.reader.describe(text, tokens, literal)
        cosine, coverage = model.score_cases(d.tfidf, d.weights, d.covering)
        passages = self.passage_scores(d)
        best = np.zeros(len(self.corpus.cases), dtype=np.float32)
        np.maximum.at(best, model.passage_case_, passages)
        tfidf_rank = [int(i) for i in top_k(cosine, policy.rank_depth) if cosine[i] > 0]
        bm25_rank = [int(i) for i in top_k(best, policy.rank_depth) if best[i] > 0]
        candidates = np.array(sorted(set(tfidf_rank) | set(bm25_rank)), dtype=np.int64)
        signals = {"tfidf": cosine[candidates], "bm25": best[candidates]}
        weights = policy.lexical_fusion
        if self.vectors is not None:
            signals["semantic"] = self._semantic_best(text, candidates)
            weights = policy.fusion
        fused = fuse(signals, weights)
        ranked = [int(candidates[k]) for k in np.lexsort((candidates, -fused))]
        self._written_apart(ranked, d, coverage)
        # A case similar only through filler words is not a reason to show it.
        matched = self._specific_matches(ranked, d)
        ranked = [i for i in ranked if i in matched]
        first = ranked[0] if ranked else None
        # The strongest evidence among the ranked cases decides whether anything matches.
        most = max(ranked, key=lambda i: coverage[i], default=None)
        strong = most is not None and is_strong_match(
            float(coverage[most]),
            len(set(matched[most]) - d.implied),
            self._best_passage_share(ranked, d),
            policy,
        )
        shown = ranked[: limit if strong else min(limit, policy.no_match_cases)]
        top_best = float(best[first]) if first is not None and best[first] > 0 else 1.0
        # what each main word points to (雪かき → 生活支援): asked once, not once per case
        pointing = {t: frozenset(self.expander.related_labels(d.surfaces[t])) for t in d.main}
        whys = [self._why(i, matched[i], d, pointing) for i in shown]
        levels = confidences(
            [float(coverage[i]) for i in shown], [float(best[i]) / top_best for i in shown],
            [main for _m, _r, main in whys], strong, policy,
        )  # fmt: skip
        answers = self.answer_scores(d, passages, shown)
        out_cases = []
        for i, level, (matched_terms, reason, _main) in zip(shown, levels, whys, strict=True):
            out_cases.append(
                CaseRecommendation(
                    case=self.corpus.case(i),
                    score=round(float(coverage[i]), 3),
                    confidence=level,
                    matched_terms=matched_terms,
                    lessons=self._case_passages(i, answers, d),
                    reason=reason,
                )
            )
        return Recommendation(
            query=text,
            no_strong_match=not strong,
            cases=tuple(out_cases),
            lessons=self._overall(shown, levels, answers, coverage, d),
            coverage=round(float(coverage[most]), 3) if most is not None else 0.0,
            specific_words=tuple(d.shown[t] for t in d.main),
        )

    def _semantic_best(self, text: str, candidates: np.ndarray) -> np.ndarray:
        """Per candidate case, how close its passages come to the description: the mean of its
        best passage cosine to the whole description and, over the description's sentences,
        of each sentence's best cosine (a problem told in several sentences has one that
        says it best; the whole text alone dilutes it). Only the candidates' passage vectors
        are read (a few MB even at 10,000 cases)."""
        start = self.model.passage_start_
        ranges = [(int(start[i]), int(start[i + 1])) for i in candidates]
        owner = np.repeat(np.arange(len(candidates)), [b - a for a, b in ranges])
        parts = sentences(text)[: self.policy.max_sentences]
        queries = semantic.encode([text, *parts] if len(parts) > 1 else [text])
        best = np.full((len(candidates), len(queries)), -1.0, dtype=np.float32)
        if len(owner):
            np.maximum.at(best, owner, self.vectors.rows(ranges) @ queries.T)
        if len(queries) == 1:
            return best[:, 0]
        return (best[:, 0] + best[:, 1:].mean(axis=1)) / 2

    def _best_passage_share(self, cases: Sequence[int], d: Described) -> float:
        """The largest share of the description's topic words (idf-weighted like coverage,
        filler in the whole) that one passage of `cases` covers through specific words."""
        model = self.model
        specific = {
            t: model.idf(t) * w for t, w in d.weights.items() if t not in self.reader.filler
        }
        rows = model.passages_of_cases(cases)
        share = self._holding(d, specific, rows) / model.coverage_total(d.weights)
        return float(share.max()) if len(rows) else 0.0

    # --- per case ----------------------------------------------------------------------------

    def _covers(self, case: int, term: str, d: Described) -> MatchedTerm | None:
        """How the case covers `term`: itself, a synonym it contains, or only the parts of the
        word as written, each somewhere in the case (自治会 → 自治＋会, where the case says
        自治体 and 会 but never 自治会; its own documents' positions tell the two apart)."""
        shown = d.shown[term]
        # a word only a theme label gives the case: ICT → テーマ「ICT・情報共有」
        if theme := self.model.theme_label(case, term):
            return MatchedTerm(shown, theme, "theme")
        if self.model.case_has(case, term):
            read = term in d.implied and shown != term  # 「いない → 不足」; 人手不足's: 不足
            return MatchedTerm(shown, term, "synonym" if read else "exact")
        parts = None
        for label, terms in d.covering.get(term, ()):
            if not all(self.model.case_has(case, t) for t in terms):
                continue
            # 往診 → 在宅医療, which only a theme label gives the case
            if theme := next(filter(None, (self.model.theme_label(case, t) for t in terms)), None):
                return MatchedTerm(shown, theme, "theme")
            if label != d.surfaces[term]:
                # a synonym of several words is named where the case writes it so: 生活 and 支援
                # apart (生活状況, 地域包括支援センター) are not 生活支援
                if len(terms) == 1 or self._written_in(label, case):
                    if self._theme_only_phrase(label, case):  # 往診 → 在宅医療, a label only
                        return MatchedTerm(shown, label, "theme")
                    return MatchedTerm(shown, label, "synonym")  # 民生児童委員, before 民生＋委員
                continue
            parts = terms
        if parts is None:
            return None
        if self.index.phrase_in(parts, self.corpus.docs_of(case)):
            return MatchedTerm(shown, term, "exact")
        if self.expander.part_surfaces(d.surfaces[term]) != tuple(parts):
            return None  # 看取り's parts are keyed 見る, 取る: the case may only have 見 and 取り
        return MatchedTerm(shown, "＋".join(parts), "parts")

    def _theme_only_phrase(self, label: str, case: int) -> bool:
        """Whether `label` is one of the case's theme labels that none of its passages writes
        (在宅医療 on 横浜市, whose text never says it)."""
        info = self.corpus.infos[case]
        if label not in info.themes:
            return False
        docs = self.corpus.docs_of(case)
        own = self.corpus.doc_number(info.id, case)
        return not len(self._written_docs(label, docs[docs != own]))

    def _written_apart(self, ranked: Sequence[int], d: Described, coverage: np.ndarray) -> None:
        """Take back, for the ranked cases, the coverage of a word credited only through a
        synonym or paraphrase of several words that the case never writes as such (生活支援 for
        ゴミ出し where the case has 生活 and 支援 apart), so that what is counted is what the case
        can be shown to say (`_covers`). Updates `coverage` and `d.has` in place."""
        model = self.model
        total = model.coverage_total(d.weights)
        cases = np.asarray(ranked, dtype=np.int64)
        for term, alts in d.covering.items():
            several = [(lb, ts) for lb, ts in alts if lb != d.surfaces[term] and len(ts) > 1]
            if not several or not len(cases):
                continue
            others = [alt for alt in alts if alt not in several]
            loose = cases[model.covered(term, alts)[cases] & ~model.covered(term, others)[cases]]
            if not len(loose):
                continue
            docs = np.concatenate([self.corpus.docs_of(int(i)) for i in loose])
            written = [self._written_docs(label, docs) for label, _terms in several]
            apart = np.setdiff1d(loose, self.corpus.doc_case[np.concatenate(written)])
            coverage[apart] -= model.idf(term) * d.weights[term] / total
            if term in d.has:
                d.has[term][apart] = False

    def _written_in(self, word: str, case: int | None) -> bool:
        """Whether one of the case's documents (of all, for None) has `word` as written."""
        return bool(
            len(self._written_docs(word, None if case is None else self.corpus.docs_of(case)))
        )

    def _written_docs(self, word: str, docs: np.ndarray | None) -> np.ndarray:
        """The documents (of `docs`, or of all) that have `word` as written: one of its
        as-typed forms with its parts adjacent."""
        variant = self.expander.word(word)
        found = [
            self.index.phrase_where(v.terms, docs)
            for v in (variant.variants if variant else ())
            if v.tier == 1
        ]
        return np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)

    def _specific_matches(self, cases: Sequence[int], d: Described) -> dict[int, tuple[str, ...]]:
        """Per case of `cases` that covers any: the description's specific topic terms (not
        filler, not everyday words) it covers (itself, a synonym or the word's own parts),
        rarest first; a case that covers only the 不足 read from 足りない is not among them."""
        specific = sorted(d.has, key=lambda t: -self.model.idf(t))
        found = {i: tuple(t for t in specific if d.has[t][i]) for i in cases}
        # a case needs a word the description wrote, not only the 不足 of 「足りない」
        return {i: terms for i, terms in found.items() if set(terms) - d.implied}

    def _why(
        self, case: int, found: Sequence[str], d: Described, pointing: dict[str, frozenset[str]]
    ) -> tuple[tuple[MatchedTerm, ...], str, tuple[int, int, int]]:
        """The case's matched words as listed, its reason line and how many of the main words
        it has (k of N, and those it has only through a related word), from one look at how the
        case covers each word (the parts check reads positions)."""
        listed = found[: self.policy.matched_terms]
        covers = {t: self._covers(case, t, d) for t in dict.fromkeys([*listed, *d.main])}
        matched = tuple(m for t in listed if (m := covers[t]) is not None)
        if not d.main:
            return matched, "課題の具体的な語に一致しません（一般的な語のみ）", (0, 0, 0)
        # a word found only as its parts apart (自治＋会) is not one the case has; one matched
        # only through a word it points to is said apart, with it (雪かき → 生活支援: no case
        # says 雪かき), and the main words it lacks are named too (ゴミ屋敷: no case has it)
        hits, related, missing = [], [], []
        for t in d.main:
            if (m := covers[t]) is None or m.via == "parts":
                missing.append(d.shown[t])
            elif m.case_term in pointing[t] or m.via == "theme":
                related.append(m.label)
            else:
                hits.append(d.shown[t])
        n, others = len(d.main), "、".join(m.label for m in matched[:3])  # 相談＋窓口
        reason = reason_line(n, hits, related, missing, others)
        return matched, reason, (len(hits), len(related), n)

    def _spans(self, j: int, d: Described) -> tuple[tuple[int, int], ...]:
        """Where the description's words are seen in answer passage `j` (cached per request
        in `d.seen`: choosing a passage and showing it ask the same)."""
        if j not in d.seen:
            d.seen[j] = self._spans_of(j, d.words)
        return d.seen[j]

    def _doc(self, j: int) -> tuple[Passage, int | None]:
        """Answer passage `j` and its index document (None when the index lacks it)."""
        passage = self.corpus.passage(self.model.passage_ids_[j])
        case = self.corpus.position(passage.case_id)
        return passage, None if case is None else self.corpus.doc_number(passage.id, case)

    def _spans_of(self, j: int, words: Sequence[QueryWord]) -> tuple[tuple[int, int], ...]:
        _passage, doc = self._doc(j)
        return () if doc is None else tuple(self.highlighter.passage_spans(doc, words))

    def _visible(self, j: int, d: Described) -> bool:
        """Whether answer passage `j` shows a word the description wrote, in its text or in
        its 【heading】 (a story titled 「介護ボランティアをつくる」). 不足 read from 「足りない」 is
        highlighted where it stands, but alone it is no answer to show (「行政に不足しがちな
        視点」 answers no shortage of helpers)."""
        if j not in d.said:
            written = d.written
            passage, doc = self._doc(j)
            d.said[j] = doc is not None and bool(
                (self._spans(j, d) if written == d.words else self._spans_of(j, written))
                or (passage.heading and self.highlighter.heading_spans(doc, written))
            )
        return d.said[j]

    def _answer(self, j: int, score: float, d: Described) -> ScoredLesson:
        passage, doc = self._doc(j)
        spans = self._spans(j, d)
        width = self.policy.excerpt_chars
        shown = (
            self.highlighter.passage_snippet(doc, passage, d.words, width)
            if doc is not None and not spans
            else snippet(passage.text, list(spans), width)
        )  # a match in the heading only: the excerpt starts with the heading
        return ScoredLesson(passage, round(score, 4), spans, shown)

    def _case_passages(
        self, case: int, passages: np.ndarray, d: Described
    ) -> tuple[ScoredLesson, ...]:
        own = list(self.model.passages_of(case))
        sections = self.model.passage_section_
        chosen = choose_passages(
            [(float(passages[j]), sections[j]) for j in own],
            self.policy,
            lambda k: self._visible(own[k], d),
        )
        return tuple(self._answer(own[k], float(passages[own[k]]), d) for k in chosen)

    def _overall(
        self,
        shown: Sequence[int],
        levels: Sequence[str],
        passages: np.ndarray,
        coverage: np.ndarray,
        d: Described,
    ) -> tuple[ScoredLesson, ...]:
        owns = [list(self.model.passages_of(i)) for i in shown]
        picked = overall_answers(
            [
                (level, float(coverage[i]), [float(passages[j]) for j in own])
                for i, level, own in zip(shown, levels, owns, strict=True)
            ],
            self.policy,
            lambda c, k: self._visible(owns[c][k], d),
        )
        return tuple(self._answer(owns[c][k], score, d) for c, k, score in picked)
