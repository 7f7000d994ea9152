"""Reading a description of a local problem: its topic words, each weighted by how specific
it is to care practice (administrative filler such as 窓口, 相談, 連携 weighs `filler_weight`,
everyday words likewise), their synonyms and one-way paraphrases (医者 → 医師), 不足 when the
description speaks of absence (いない, 足りない), and the main words a reason line counts.
recommend.py scores the cases and passages for what is read here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from .analysis import HONORIFIC_PREFIXES, Token
from .kana import KANA, PARTICLE_CHARS
from .policy import (
    ABSENCE_TERMS,
    ADMIN_FILLER,
    ENTITY_SUFFIXES,
    GENERIC_NOUNS,
    HONORIFIC_AFTER,
    INFLECTED_POS,
    RecommendPolicy,
    absence_said,
    everyday_words,
    is_topic,
)
from .query import QueryExpander, QueryWord, Variant
from .tfidf import TfidfModel

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


class DescriptionReader:
    """Reads descriptions for one open build: its vocabulary (`model`), the care table
    (`expander`) and whether a word is written in some document (`written`, for a compound no
    case has: 協議体)."""

    def __init__(
        self,
        model: TfidfModel,
        expander: QueryExpander,
        policy: RecommendPolicy,
        written: Callable[[str], bool],
    ) -> None:
        self.model = model
        self.expander = expander
        self.policy = policy
        # filler: the administrative words, and everyday words that only point to them
        self.filler = ADMIN_FILLER | expander.pointing_only_to(ADMIN_FILLER)
        # ... and with them the everyday words (体, 名前, 一番) the care vocabulary does not know:
        # general words, weighing like filler and never a match on their own
        self.general = self.filler | frozenset(
            t
            for t, zipf in everyday_words().items()
            if zipf >= policy.everyday_zipf and not expander.knows(t)
        )
        # a compound (協議体) -> whether some document writes it: asked again by later requests
        self._in_corpus = lru_cache(maxsize=4096)(written)

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


def _with_honorifics(text: str, token: Token) -> str:
    """The token as written, with an honorific before or after it (お + じい + さん)."""
    start, end = token.start, token.end
    if start and text[start - 1] in HONORIFIC_PREFIXES:
        start -= 1
    if m := HONORIFIC_AFTER.match(text[end : end + 3]):
        end += len(m.group())
    return text[start:end]
