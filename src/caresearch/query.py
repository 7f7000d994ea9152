"""From the text a user typed to analysed query words with their expansions. No I/O, no Whoosh.

Each whitespace-separated word (or "quoted phrase") becomes a `QueryWord`: the literal term
sequence, plus lower-weight variants from the curated synonym table and Sudachi's synonym
groups, plus kana bigrams when the word is spelled in hiragana. Operators and field syntax
typed by a user (AND, field:, *, ?) carry no meaning here, so nothing can fail to parse.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from .analysis import (
    Analyzer,
    Token,
    fold,
    has_invalid_chars,
    is_kana_word,
    segment_reading,
    split_words,
    to_katakana,
)
from .errors import QueryError
from .synonyms import SynonymTable

WEIGHT_EXACT = 1.0
WEIGHT_SYNONYM = 0.6  # curated table: close to literal, but never above it
WEIGHT_SUDACHI = 0.4  # Sudachi's own groups are broader
WEIGHT_READING = 0.6  # ざいたく → 在宅: below the literal spelling, like a synonym
MAX_VARIANTS = 12
OPERATORS = frozenset({"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE"})
_QUOTED = re.compile(r"[\"“”「『](.+?)[\"“”」』]")


@dataclass(frozen=True)
class Variant:
    terms: tuple[str, ...]  # index terms at consecutive positions (mode A parts)
    weight: float
    via: str  # exact | parts | synonym | sudachi | reading
    label: str  # the spelling shown to users, e.g. 介護支援専門員


@dataclass(frozen=True)
class QueryWord:
    text: str
    variants: tuple[Variant, ...]


@dataclass(frozen=True)
class ParsedQuery:
    text: str
    words: tuple[QueryWord, ...]


def _flat(tokens: list[Token]) -> tuple[str, ...]:
    """The term sequence of tokens at part level, matching the index's positions."""
    out: list[str] = []
    for t in tokens:
        out.extend(t.parts or (t.text,))
    return tuple(out)


def split_query(text: str) -> list[str]:
    """Quoted phrases stay whole; the rest splits on spaces; stray quotes and operators drop out."""
    words: list[str] = []
    rest = _QUOTED.sub(lambda m: words.append(m.group(1)) or " ", text)
    rest = re.sub(r"[\"“”「」『』]", " ", rest)
    words.extend(w for w in split_words(rest) if w not in OPERATORS)
    return [w for w in words if w.strip()]


class QueryExpander:
    """Compiled once per engine: the analyzer plus both synonym sources."""

    def __init__(
        self,
        analyzer: Analyzer,
        synonyms: SynonymTable,
        sudachi_groups: Mapping[int, tuple[str, ...]] | None = None,
        readings: Mapping[str, tuple[str, ...]] | None = None,
    ) -> None:
        self.analyzer = analyzer
        self.sudachi_groups = dict(sudachi_groups or {})
        self.readings = dict(readings or {})
        # key (C-level term tuple) -> list of (part-level terms, label) of its group
        self._groups: dict[tuple[str, ...], list[tuple[tuple[str, ...], str]]] = {}
        for group in synonyms.groups:
            members = []
            for term in group:
                toks = analyzer.tokens(term)
                if toks:
                    members.append((tuple(t.text for t in toks), _flat(toks), term))
            for key, _flat_terms, _label in members:
                self._groups.setdefault(key, []).extend(
                    (f, lab) for k, f, lab in members if k != key
                )
        # one-token everyday word -> (part-level terms, label) of the words cases use
        self._paraphrases: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        for word, targets in synonyms.paraphrases:
            toks = analyzer.tokens(word)
            if len(toks) == 1:
                self._paraphrases[toks[0].text] = [
                    (_flat(t), target) for target in targets if (t := analyzer.tokens(target))
                ]

    def knows(self, term: str) -> bool:
        """True for a one-word term of the care vocabulary (見守り, デイ), whatever its POS."""
        return (term,) in self._groups or term in self._paraphrases

    def paraphrases_of(self, term: str) -> list[tuple[tuple[str, ...], str]]:
        """What the case texts call an everyday word of a description (one way), as
        (part-level terms, label): 医者 → 医師, 物忘れ → 認知症."""
        return self._paraphrases.get(term, [])

    def synonyms_of(self, word: str) -> list[str]:
        """Other spellings of `word` from the curated table (for 'did you mean' help)."""
        key = tuple(t.text for t in self.analyzer.tokens(word))
        return [label for _terms, label in self._groups.get(key, [])]

    def parse(self, text: str, *, max_chars: int = 200) -> ParsedQuery:
        text = (text or "").strip()
        if not text:
            raise QueryError("検索語を入力してください。")
        if has_invalid_chars(text):
            raise QueryError("検索語に使えない文字（制御文字など）が含まれています。")
        if len(text) > max_chars:
            raise QueryError(f"検索語が長すぎます（{max_chars}文字まで）。")
        words = [w for w in (self.word(x) for x in split_query(text)) if w is not None]
        if not words:
            raise QueryError(
                "助詞や記号だけでは検索できません。内容を表す語（例: 認知症、見守り）を入力してください。"
            )
        return ParsedQuery(text, tuple(words))

    def split(self, word: QueryWord) -> list[QueryWord]:
        """The word's morphemes as separate words (when the whole phrase occurs nowhere)."""
        toks = self.analyzer.tokens(word.text)
        if len(toks) < 2:
            return [word]
        return [w for w in (self.word(t.surface) for t in toks) if w is not None]

    def word(self, text: str) -> QueryWord | None:
        toks = self.analyzer.tokens(text)
        seen: set[tuple[str, ...]] = set()
        variants: list[Variant] = []

        def add(terms: tuple[str, ...], weight: float, via: str, label: str) -> None:
            if terms and terms not in seen and len(variants) < MAX_VARIANTS:
                seen.add(terms)
                variants.append(Variant(terms, weight, via, label))

        if toks:
            if len(toks) == 1 and toks[0].parts:
                # A compound is indexed whole at the position of its parts: look it up as one
                # term, and as the phrase of its parts only where the term is found nowhere.
                add((toks[0].text,), WEIGHT_EXACT, "exact", text)
                add(_flat(toks), WEIGHT_EXACT, "parts", text)
            else:
                add(_flat(toks), WEIGHT_EXACT, "exact", text)
            key = tuple(t.text for t in toks)
            whole = self._groups.get(key, [])
            for terms, label in whole:
                add(terms, WEIGHT_SYNONYM, "synonym", label)
            for i, tok in enumerate(toks):
                before, after = _flat(toks[:i]), _flat(toks[i + 1 :])
                if len(toks) > 1 and not whole:  # ケアマネ連携 → 介護支援専門員連携
                    for terms, label in self._groups.get((tok.text,), []):
                        add(before + terms + after, WEIGHT_SYNONYM, "synonym", label)
                if len(toks) == 1:  # inside a compound, Sudachi's broad groups mostly add noise
                    for gid in tok.synonym_ids:
                        for alt in self.sudachi_groups.get(gid, ()):
                            if alt != tok.text:
                                add((alt,), WEIGHT_SUDACHI, "sudachi", alt)
        # A word in hiragana (ざいたく, けあまね) is also looked up by reading in the corpus's
        # vocabulary, and in katakana (ケアマネ, with its synonyms). A lone kana (の, を) is a
        # particle, not a word to look up.
        if is_kana_word(text) and len(text) > 1:
            katakana = to_katakana(fold(text))
            if katakana != text and (alt := self.word(katakana)) is not None:
                for v in alt.variants:
                    add(v.terms, min(v.weight, WEIGHT_READING), "reading", v.label)
            pieces = segment_reading(katakana, self.readings)
            if pieces:
                terms = tuple(self.readings[p][0] for p in pieces)
                add(terms, WEIGHT_READING, "reading", "".join(terms))
                if len(pieces) == 1:
                    for alt in self.readings[pieces[0]][1:3]:
                        add((alt,), WEIGHT_READING, "reading", alt)
        if not variants:
            return None
        return QueryWord(text, tuple(variants))
