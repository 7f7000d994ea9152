"""From a description of a local problem to the cases and passages that answer it.

`Recommend` runs the pipeline over one open build:

1. the description's topic words, each weighted by how specific it is (administrative filler
   such as 窓口, 相談, 連携 weighs `filler_weight`), plus their synonyms, one-way paraphrases
   (医者 → 医師) and 不足 when the description speaks of absence (いない, 足りない);
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
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from . import semantic
from .analysis import HONORIFIC_PREFIXES, Token, sentences
from .highlight import Highlighter, snippet
from .index import SearchIndex
from .kana import KANA, PARTICLE_CHARS
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
    ABSENCE_TERMS,
    ADMIN_FILLER,
    ENTITY_SUFFIXES,
    GENERIC_NOUNS,
    HONORIFIC_AFTER,
    INFLECTED_POS,
    RecommendPolicy,
    absence_said,
    choose_passages,
    confidences,
    everyday_words,
    fuse,
    is_strong_match,
    is_topic,
    overall_answers,
)
from .query import QueryExpander, QueryWord, Variant
from .snapshot import Corpus
from .tfidf import TfidfModel, top_k

Expansions = Mapping[str, tuple[tuple[str, tuple[str, ...]], ...]]


class Described(NamedTuple):
    """What the pipeline reads from one description."""

    weights: dict[str, float]  # topic term -> count × specificity
    expansions: Expansions  # term -> (label, part-level terms) of each alternative, for scoring
    covering: Expansions  # ... with each alternative's whole words, for coverage and claims
    tfidf: Counter  # index terms of the whole description, synonyms at a lower weight
    surfaces: dict[str, str]  # term -> as written (what the table is asked about)
    shown: dict[str, str]  # term -> as the page names it (おじいさん, 泊まる)
    words: tuple[QueryWord, ...]  # for highlights
    written: tuple[QueryWord, ...]  # ... those the description wrote (not 不足 for いない)
    main: tuple[str, ...]  # the most specific topic terms, for the reason line
    implied: frozenset[str]  # terms said only through phrasing (不足 for いない), not written
    has: dict[str, np.ndarray]  # specific (not general) term -> which cases cover it
    seen: dict[int, tuple[tuple[int, int], ...]]  # answer passage -> its highlights, as asked
    said: dict[int, bool]  # answer passage -> whether a word the description wrote is seen there


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
        # filler: the administrative words, and everyday words that only point to them
        self.filler = ADMIN_FILLER | expander.pointing_only_to(ADMIN_FILLER)
        # ... and with them the everyday words (体, 名前, 一番) the care vocabulary does not know:
        # general words, weighing like filler and never a match on their own
        self.general = self.filler | frozenset(
            t
            for t, zipf in everyday_words().items()
            if zipf >= self.policy.everyday_zipf and not expander.knows(t)
        )
        self.answer_weight = np.array(
            [ANSWER_WEIGHTS[s] for s in model.passage_section_], dtype=np.float32
        )
        # a compound (協議体) -> whether some document writes it: asked again by later requests
        self._in_corpus = lru_cache(maxsize=4096)(lambda word: self._written_in(word, None))

    def warm_up(self) -> None:
        """Load the sentence encoder now (when the build has vectors), so that the first
        description does not wait ~1 s for it."""
        if self.vectors is not None:
            semantic.load()

    def topic_terms(self, tokens: Sequence[Token]) -> Counter:
        """The description's words that say what it is about, with their counts. A
        one-character noun written right after a common noun is its suffix (中山間地, 高齢化率),
        not a word of its own; see `_unknown_compound` for the suffixes that make a new word.
        A counter right after a number (四割, 80代, 三か月, 週2回) is not a topic either; a word
        of its own after one still is (3診療所, 二世帯)."""
        out: Counter = Counter()
        for before, prev, t in zip([None, None, *tokens], [None, *tokens], tokens, strict=False):
            if t.counter and prev is not None and prev.pos[1] == "数詞" and prev.end == t.start:
                continue
            if (
                len(t.surface) == 1
                and prev is not None
                and prev.end == t.start
                and prev.pos == ("名詞", "普通名詞")
                and not self.expander.knows(t.text)
            ):
                if out[prev.text] > 0 and (compound := self._unknown_compound(before, prev, t)):
                    out[prev.text] -= 1
                    out[compound] += 1
                continue
            if self._misread_kana(t):
                continue
            if is_topic(t) or (self.expander.knows(t.text) and t.text not in GENERIC_NOUNS):
                out[t.text] += 1
        return +out

    def _misread_kana(self, t: Token) -> bool:
        """A "noun" Sudachi made of a particle and kana after it that no case or table has
        (見守りがたりない: 見守り + がたり)."""
        unknown = t.text not in self.model.vocabulary_ and not self.expander.knows(t.text)
        return t.surface[0] in PARTICLE_CHARS and bool(KANA.match(t.surface)) and unknown

    def _unknown_compound(self, before: Token | None, prev: Token, suffix: Token) -> str | None:
        """`prev` + `suffix` as one word when the suffix names a body or a place (協議体, 研究所,
        `ENTITY_SUFFIXES`) and no document and no table has the compound: then it is the word,
        one no case has (協議体 is not the 協議 of 社会福祉協議会). Not when `prev` is the end of a
        longer noun (訪問介護 + 員) or a word the table knows (ケアマネ会, 薬剤師会): their head
        is the word then."""
        compound = prev.surface + suffix.surface
        if (
            suffix.text not in ENTITY_SUFFIXES
            or (before is not None and before.end == prev.start and before.pos[0] == "名詞")
            or self.expander.knows(prev.text)
            or self.expander.knows(compound)
        ):
            return None
        return None if self._in_corpus(compound) else compound

    def describe(self, text: str, tokens: list[Token], literal: Counter) -> Described:
        policy, model = self.policy, self.model
        # an inflected word is shown in the table's spelling or its dictionary form (泊まれ →
        # 泊まる), never as the cut stem the text has
        surfaces = {
            t.text: self.expander.written(t.text) if t.pos[0] in INFLECTED_POS else t.surface
            for t in reversed(tokens)
        }
        # ... and a noun with the honorifics around it (おじいさん, ヘルパーさん), as written
        shown = {
            t.text: _with_honorifics(text, t)
            for t in reversed(tokens)
            if t.pos[0] not in INFLECTED_POS
        }
        literal = Counter(literal)
        for term in literal:  # a compound no case has (協議体) is written as it stands
            if term not in surfaces:
                surfaces[term] = shown[term] = term
        # A paraphrase key of several words (顔見知り → 見守り, 通いの場 → サロン) stands for its
        # words: one topic word that the words it points to cover.
        pointed: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        for surface, key, targets in self.expander.phrases_in(tokens):
            for part in key:
                if literal[part] > 0:
                    literal[part] -= 1
            literal[surface] += 1
            surfaces[surface] = surface
            pointed[surface] = targets
        literal = +literal
        if said := absence_said(text):
            for term in ABSENCE_TERMS:
                literal[term] += 0
                surfaces.setdefault(term, term)
                shown.setdefault(term, said)  # listed as read: 「いない → 不足」
        weights = {
            t: max(n, policy.absence_weight) * self.specificity(t) for t, n in literal.items()
        }
        expansions: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {}
        covering: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {}
        words: list[QueryWord] = []
        for term in literal:
            word = self.expander.word(surfaces[term])
            # a phrase key's own words first (a case that says 訪問診療 covers it as itself)
            alts = [(label, terms) for terms, label in pointed.get(term, [])[:1]]
            alts += [
                (v.label, v.terms)
                for v in (word.variants if word else ())
                if v.via not in ("exact", "parts")
            ]
            alts += [
                (label, terms)
                for terms, label in pointed.get(term, [])[1:] or self.expander.paraphrases_of(term)
            ]
            if alts:
                expansions[term] = tuple(dict.fromkeys(alts))
                # A synonym or paraphrase covers the word where a case has each of its words,
                # not merely their parts (介護支援専門員 = 介護 + 支援 + 専門員: 専門家 and 相談員 are
                # not it); the word's own compound still counts through its parts (入院中).
                covering[term] = tuple(
                    dict.fromkeys(
                        (label, terms if label == surfaces[term] else self.expander.words_of(label))
                        for label, terms in alts
                    )
                )
            variants = tuple(word.variants if word else ()) + tuple(
                Variant(terms, policy.synonym_weight, "paraphrase", label) for label, terms in alts
            )
            if variants:
                words.append(QueryWord(surfaces[term], variants))
        tfidf: Counter = Counter()
        for term, *_pos in self.expander.analyzer.index_terms_from(tokens):
            tfidf[term] += self.specificity(term)
        for term, alts in expansions.items():
            for _label, terms in alts:
                for alt in terms:
                    tfidf[alt] += policy.synonym_weight * weights[term]
        # The main words: the most specific ones, those some case has first (a word no case
        # has, 冬場 or ＦＡＸ, would otherwise lead every reason line with 「0/5 に一致」).
        # 不足 read from いない / 足りない is evidence beside the words, not a word of its own
        implied = frozenset(t for t, n in literal.items() if n == 0)
        unsaid = {surfaces[t] for t in implied}
        has = {t: model.covered(t, covering.get(t, ())) for t in literal if t not in self.general}
        specific = [t for t in has if t not in implied]
        ordered = sorted(specific, key=lambda t: (not has[t].any(), -model.idf(t)))
        # one thing said twice (成年後見 and 後見人: 後見 and 後見人) is one main word: the longer
        # one, when some case has it
        ordered = [
            t for t in ordered
            if not any(
                len(surfaces[t]) < len(surfaces[u]) and surfaces[t] in surfaces[u] and has[u].any()
                for u in ordered
            )
        ]  # fmt: skip
        main = tuple(ordered[: policy.main_terms])
        shown = {t: shown.get(t, surface) for t, surface in surfaces.items()}
        return Described(
            weights,
            expansions,
            covering,
            tfidf,
            surfaces,
            shown,
            tuple(words),
            tuple(w for w in words if w.text not in unsaid),
            main,
            implied,
            has,
            {},
            {},
        )

    def specificity(self, term: str) -> float:
        return self.policy.filler_weight if term in self.general else 1.0

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
            t: self.model.idf(t) * self.specificity(t) * (absence if t in d.implied else 1.0)
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
        d = self.describe(text, tokens, literal)
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
        specific = {t: model.idf(t) * w for t, w in d.weights.items() if t not in self.filler}
        rows = model.passages_of_cases(cases)
        share = self._holding(d, specific, rows) / model.coverage_total(d.weights)
        return float(share.max()) if len(rows) else 0.0

    # --- per case ----------------------------------------------------------------------------

    def _covers(self, case: int, term: str, d: Described) -> MatchedTerm | None:
        """How the case covers `term`: itself, a synonym it contains, or only the parts of the
        word as written, each somewhere in the case (自治会 → 自治＋会, where the case says
        自治体 and 会 but never 自治会; its own documents' positions tell the two apart)."""
        shown = d.shown[term]
        if self.model.case_has(case, term):
            read = term in d.implied and shown != term  # 「いない → 不足」; 人手不足's: 不足
            return MatchedTerm(shown, term, "synonym" if read else "exact")
        parts = None
        for label, terms in d.covering.get(term, ()):
            if not all(self.model.case_has(case, t) for t in terms):
                continue
            if label != d.surfaces[term]:
                # a synonym of several words is named where the case writes it so: 生活 and 支援
                # apart (生活状況, 地域包括支援センター) are not 生活支援
                if len(terms) == 1 or self._written_in(label, case):
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
            elif m.case_term in pointing[t]:
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


def _with_honorifics(text: str, token: Token) -> str:
    """The token as written, with an honorific before or after it (お + じい + さん)."""
    start, end = token.start, token.end
    if start and text[start - 1] in HONORIFIC_PREFIXES:
        start -= 1
    if m := HONORIFIC_AFTER.match(text[end : end + 3]):
        end += len(m.group())
    return text[start:end]
