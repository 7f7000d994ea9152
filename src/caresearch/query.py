"""From the text a user typed to analysed query words with their tiers of evidence. No I/O.

A query is groups of words: words separated by spaces must all occur (AND); words joined by
`OR` or `|` are alternatives (one group); `-語` or `NOT 語` excludes; "quoted words" stay one
phrase and match only as typed. Each `QueryWord` carries its variants, each in a **tier**:

  1 typed     the word as typed, after width and kana normalisation (ｹｱﾏﾈ, ざいたく → 在宅)
  2 synonym   the curated care table (ケアマネ ⇄ 介護支援専門員, 包括 ⇄ 地域包括支援センター)
  3 related   what the table points the word to, one way (通いの場 → サロン, 居場所), used only
              when the word is found nowhere as typed or through a synonym
  4 parts     the parts of a compound, used only when the word is found nowhere and points nowhere

In exact mode (and inside quotes) only tier 1 is searched. Tier names: models.TIER_NAMES. Nothing a user types can fail to
parse; operators without a word around them are ignored.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property, lru_cache

from .analysis import (
    HONORIFIC_PREFIXES,
    HONORIFIC_SUFFIXES,
    Analyzer,
    Token,
    fold,
    has_invalid_chars,
    to_hiragana,
    to_katakana,
)
from .errors import QueryError
from .kana import KANA, PARTICLE_CHARS, KanaReader
from .querysyntax import split_query, without_edge_punctuation
from .synonyms import SynonymTable

WEIGHT_EXACT = 1.0
WEIGHT_SYNONYM = 0.6  # curated table: close to literal, but never above it
WEIGHT_READING = 0.6  # ざいたく → 在宅: below the literal spelling, like a synonym
MAX_VARIANTS = 12
MIN_HIRAGANA_SPELLING = 4  # kana: a katakana word also searched as written in hiragana
TIERS = {"exact": 1, "phrase": 1, "reading": 1, "synonym": 2, "related": 3, "parts": 4}
_HIRAGANA = re.compile(r"^[\u3041-\u3096\u30fc]+$")  # Sudachi cuts these into syllables
# a word in one kana script (まいすたー, ケアマネ), not a phrase of both (ケアマネがいません)
_ONE_KANA_SCRIPT = re.compile(r"^(?:[\u3041-\u3096\u30fc]+|[\u30a1-\u30fa\u30fc]+)$")
_LOANWORD_KANA = re.compile(r"[ぁぃぅぇぉー]")  # in hiragana: a katakana word typed so
_KANA_ONLY = re.compile(r"^[ぁ-ゖー]*$")  # hiragana (or nothing): not a word left by an honorific
# between two typed words: particles, after an honorific perhaps (お医者さんと看護師)
_JOINING = re.compile(
    "(?:" + "|".join(HONORIFIC_SUFFIXES) + ")?[" + "".join(sorted(PARTICLE_CHARS)) + "]+"
)
MAX_PHRASE_WORDS = 4  # the longest phrase of the table kept whole inside a typed word


@dataclass(frozen=True)
class Variant:
    terms: tuple[str, ...]  # index terms at consecutive positions (mode A parts)
    weight: float
    via: str  # exact | phrase (a compound's parts, adjacent) | reading | synonym | related | parts
    label: str  # the spelling shown to users, e.g. 介護支援専門員

    @property
    def tier(self) -> int:
        return TIERS[self.via]


@dataclass(frozen=True)
class QueryWord:
    text: str
    variants: tuple[Variant, ...]
    quoted: bool = False

    def up_to(self, tier: int) -> QueryWord:
        """The word with only its variants of `tier` or earlier."""
        return replace(self, variants=tuple(v for v in self.variants if v.tier <= tier))


@dataclass(frozen=True)
class ParsedQuery:
    text: str
    groups: tuple[tuple[QueryWord, ...], ...]  # all groups must match; any word of a group
    excluded: tuple[QueryWord, ...] = ()
    exact: bool = False

    @property
    def words(self) -> tuple[QueryWord, ...]:
        return tuple(w for group in self.groups for w in group)


def _pieces_dropped(folded: str, toks: Sequence[Token]) -> bool:
    """Whether the analyser kept only some pieces of a loanword typed in hiragana (こーでぃねーたー:
    こう, its でぃねーたー dropped): a word in hiragana a run of which (two kana or more), written as
    only a loanword is (ー or a small vowel), is left out. Not katakana, nor a dropped particle or function word
    (ケアマネジャーなど, みんなのうた: the index drops them too)."""
    if not _HIRAGANA.match(folded):
        return False
    kept = list(folded)
    for t in toks:  # offsets into the text analysed, the same hiragana
        kept[t.start : t.end] = " " * len(kept[t.start : t.end])
    # (one kana left out is the analyser's noise, as in the index: あるふぁ drops ぁ)
    return any(len(gap) > 1 and _LOANWORD_KANA.search(gap) for gap in "".join(kept).split())


def _flat(tokens: list[Token]) -> tuple[str, ...]:
    """The term sequence of tokens at part level, matching the index's positions."""
    out: list[str] = []
    for t in tokens:
        out.extend(t.parts or (t.text,))
    return tuple(out)


def _holds(terms: tuple[str, ...], part: tuple[str, ...]) -> bool:
    """True when `part` occurs in `terms` as a run of whole terms."""
    n = len(part)
    return any(terms[i : i + n] == part for i in range(len(terms) - n + 1))


def _without_honorific(tokens: list[Token]) -> list[Token]:
    """`tokens` without an honorific prefix before the word (お + 医者, ご + 家族); the same
    list when there is none."""
    first = tokens[0] if len(tokens) > 1 else None
    if first is not None and first.pos[0] == "接頭辞" and first.surface in HONORIFIC_PREFIXES:
        return tokens[1:]
    return tokens


def _starting(sorted_words: list[str], prefix: str) -> list[str]:
    """The words of a sorted list that begin with `prefix`."""
    i = bisect_left(sorted_words, prefix)
    return list(itertools.takewhile(lambda w: w.startswith(prefix), sorted_words[i : i + 50]))


class QueryExpander:
    """Compiled once per engine: the analyzer, the curated table and the corpus's readings."""

    def __init__(
        self,
        analyzer: Analyzer,
        synonyms: SynonymTable,
        readings: Mapping[str, tuple[str, ...]] | None = None,
    ) -> None:
        self.analyzer = analyzer
        self._parts_analyzer = dataclasses.replace(analyzer, mode="A", split_parts=False)
        self.readings = dict(readings or {})
        # bounded caches of what a request asks again and again (labels, kana pieces)
        self.words_of = lru_cache(maxsize=4096)(self._key)
        self._misread = lru_cache(maxsize=4096)(self._misread_word)
        self._verb_of = lru_cache(maxsize=4096)(analyzer.verb_of)
        self.part_surfaces = lru_cache(maxsize=4096)(self._part_surfaces)
        # a one-word term of the table -> as the table writes it (閉じ籠もる → 閉じこもる)
        self._written: dict[str, str] = {}
        # key (C-level term tuple) -> list of (part-level terms, label) of its group
        self._groups: dict[tuple[str, ...], list[tuple[tuple[str, ...], str]]] = {}
        for group in synonyms.groups:
            members = []
            for term in group:
                toks = analyzer.tokens(term)
                if toks:
                    members.append((tuple(t.text for t in toks), _flat(toks), term))
            for key, _flat_terms, label in members:
                if len(key) == 1:
                    self._written.setdefault(key[0], label)
                others = [(f, lab) for k, f, lab in members if k != key]
                for alias in self._in_text(label, key):
                    self._groups.setdefault(alias, []).extend(others)
        # everyday or narrower word (C-level term tuple) -> (part-level terms, label) of the
        # words cases use
        self._paraphrases: dict[tuple[str, ...], list[tuple[tuple[str, ...], str]]] = {}
        # a key of several words -> (it as written, (its own part-level terms, it) first, then
        # what it points to): in a description it stands for its words as one topic word
        self._phrases: dict[tuple[str, ...], tuple[str, list[tuple[tuple[str, ...], str]]]] = {}
        # the same key -> what keyword search tries for it when it is found nowhere: the words
        # it points to and their synonyms, as (part-level terms, label)
        self._related: dict[tuple[str, ...], list[tuple[tuple[str, ...], str]]] = {}
        table_words = (*(t for g in synonyms.groups for t in g), *dict(synonyms.paraphrases))
        self._table_words = frozenset(fold(w) for w in table_words)
        # kana typed for the words of the corpus and of the table (ざいたく, かよいのば)
        self.kana = KanaReader(analyzer, self.readings, table_words, self._table_spelling)
        for word, targets in synonyms.paraphrases:
            if toks := analyzer.tokens(word):
                key = tuple(t.text for t in toks)
                if len(key) == 1:
                    self._written.setdefault(key[0], word)
                pointed: list[tuple[tuple[str, ...], str]] = []
                related: dict[tuple[str, ...], str] = {}
                for target in targets:
                    if t := analyzer.tokens(target):
                        pointed.append((_flat(t), target))
                        related.setdefault(_flat(t), target)
                        for terms, synonym in self._groups.get(tuple(x.text for x in t), []):
                            related.setdefault(terms, synonym)
                for alias in self._in_text(word, key):
                    self._paraphrases[alias] = pointed
                    self._related[alias] = [(terms, label) for terms, label in related.items()]
                if len(key) > 1:
                    self._phrases[key] = (word, [(_flat(toks), word), *pointed])
        # the keys of several words, kept whole when a particle would cut them (通いの場の運営)
        self._table_phrases = frozenset(
            k for k in (*self._groups, *self._paraphrases) if len(k) > 1
        )

    def _in_text(self, word: str, key: tuple[str, ...]) -> list[tuple[str, ...]]:
        """`key` (the table word analysed alone), and the word's key inside a sentence when
        that differs: alone 見回り is the verb 見回る, in 「見回りをしてくれる」 the noun 見回り,
        and a description is analysed in sentences."""
        in_text = tuple(t.text for t in self.analyzer.tokens(word + "が"))
        return [key] if in_text == key or len(in_text) != len(key) else [key, in_text]

    def _misread_word(self, text: str) -> bool:
        """Whether the analysis drops a kanji of `text` read as a verb (Analyzer.misread),
        for a word the table does not write so (看多機 is the table's own abbreviation)."""
        return fold(text) not in self._table_words and self.analyzer.misread(text)

    def written(self, term: str) -> str:
        """A one-word term as the table first writes it (泊まる → 泊まる; 見守る → 見守り, the
        first of its group), else the term itself."""
        return self._written.get(term, term)

    def knows(self, term: str) -> bool:
        """True for a one-word term of the care vocabulary (見守り, デイ), whatever its POS."""
        return (term,) in self._groups or (term,) in self._paraphrases

    def pointing_only_to(self, words: frozenset[str]) -> frozenset[str]:
        """The one-word paraphrase keys whose every target is one of `words` (近所 → 住民,
        地域 when `words` are the administrative filler words)."""
        return frozenset(
            key[0]
            for key, targets in self._paraphrases.items()
            if len(key) == 1 and targets and all(label in words for _terms, label in targets)
        )

    def paraphrases_of(self, term: str) -> list[tuple[tuple[str, ...], str]]:
        """What the case texts call an everyday word of a description (one way), as
        (part-level terms, label): 医者 → 医師, 物忘れ → 認知症."""
        return self._paraphrases.get((term,), [])

    def phrases_in(
        self, tokens: Sequence[Token]
    ) -> list[tuple[str, tuple[str, ...], list[tuple[tuple[str, ...], str]]]]:
        """The paraphrase keys of several words found in a description's tokens (顔見知り =
        顔 + 見知り, 訪問診療 = 訪問 + 診療), as (the key as written, its words, its alternatives:
        its own words as a phrase, then what it points to)."""
        texts = [t.text for t in tokens]
        out = []
        for key, (word, alternatives) in self._phrases.items():
            n = len(key)
            found = sum(tuple(texts[i : i + n]) == key for i in range(len(texts) - n + 1))
            out.extend([(word, key, alternatives)] * found)
        return out

    def related(self, word: QueryWord) -> QueryWord | None:
        """The words the table points `word` to, with their synonyms (通いの場 → サロン,
        居場所, たまり場, ふれあいサロン…) as one word of alternatives (tier 3), for a word found
        nowhere; None when it points nowhere."""
        if self._misread(word.text):  # its key is what is left of it (看看連携: 連携)
            return None
        # ... or the table's word it reads as (かよいのば: 通いの場)
        keys = (self.words_of(w) for w in (word.text, *self.kana.table_words(word.text)))
        pointed = next((self._related[k] for k in keys if k in self._related), [])
        variants = tuple(
            Variant(terms, WEIGHT_SYNONYM, "related", label)
            for terms, label in pointed[:MAX_VARIANTS]
        )
        return QueryWord(word.text, variants) if variants else None

    def related_labels(self, word: str) -> list[str]:
        """What the table points `word` to, one way (for 'did you mean' help)."""
        return [label for _terms, label in self._paraphrases.get(self._key(word), [])]

    def completions(self, word: str) -> list[tuple[str, str]]:
        """For a word the corpus does not have (two characters at least), the corpus's words
        that begin with it, as (shown as the table writes it, the index term that completes
        it); a kana word also by the words' readings (みまも → 見守り); a compound cut short by
        the words its last piece begins (介護予 → 介護予防). Candidates, for the caller to rank
        and try (suggest.py)."""
        typed = fold(word)
        katakana = to_katakana(typed)
        toks = _without_honorific(self.analyzer.tokens(typed))  # as `_key` reads it
        known = len(toks) == 1 and toks[0].text in self._known
        if len(typed) < 2 or katakana in self.readings or known:
            return []
        found = _starting(self._words, typed)
        if KANA.fullmatch(katakana):
            found += [w for r in _starting(self._readings, katakana) for w in self.readings[r]]
        out = [(self.written(w), w) for w in found]
        if len(toks) > 1:
            head, tail = typed[: toks[-1].start], typed[toks[-1].start :]
            out += [(head + w, w) for w in _starting(self._words, tail)]
        return [(shown, term) for shown, term in dict(out).items() if shown != typed]

    @cached_property
    def _known(self) -> frozenset[str]:
        return frozenset(self._words)

    @cached_property
    def _words(self) -> list[str]:
        return sorted({w for words in self.readings.values() for w in words})

    @cached_property
    def _readings(self) -> list[str]:
        return sorted(self.readings)

    def synonyms_of(self, word: str) -> list[str]:
        """Other spellings of `word` from the curated table (for 'did you mean' help)."""
        return [label for _terms, label in self._groups.get(self._key(word), [])]

    def _table_spelling(self, text: str) -> str | None:
        """The table's spelling of `text` when the whole of it is one word of the care
        vocabulary (ケアマネ; みまもり: 見守り), else None (たりない is 足り and an ending)."""
        toks = self.analyzer.tokens(text)
        if len(toks) == 1 and toks[0].surface == text and self.knows(toks[0].text):
            return self.written(toks[0].text)
        return None

    def _key(self, text: str) -> tuple[str, ...]:
        """The table's key of a word: its analysed terms, as the tables are keyed (mode C,
        compounds whole: 介護支援専門員 → 介護, 支援, 専門員; `words_of` is this, cached), without
        an honorific prefix (お医者さん is 医者 to the table, as さん already is nothing)."""
        return tuple(t.text for t in _without_honorific(self.analyzer.tokens(text)))

    def parse(self, text: str, *, max_chars: int = 200, exact: bool = False) -> ParsedQuery:
        """The groups of query words of `text`; in exact mode only as-typed variants."""
        text = (text or "").strip()
        if not text:
            raise QueryError("検索語を入力してください。")
        if has_invalid_chars(text):
            raise QueryError("検索語に使えない文字（制御文字など）が含まれています。")
        if len(text) > max_chars:
            raise QueryError(f"検索語が長すぎます（{max_chars}文字まで）。")
        groups: list[list[QueryWord]] = []
        excluded: list[QueryWord] = []
        terms = split_query(text)
        for k, term in enumerate(terms):
            typed = term.text if term.quoted else self.plain(term.text)
            if not typed:
                continue  # 「見守り について」: について is not a word to find
            # words joined by a particle are words apart (認知症の人, ケアマネと民生委員), unless
            # quoted or an operator's operand; a table's own phrase (通いの場) stays whole
            pieces = [typed]
            if not (term.quoted or term.negated or term.joins_previous) and not (
                k + 1 < len(terms) and terms[k + 1].joins_previous
            ):
                pieces = [p for p in map(self.plain, self._at_particles(typed)) if p]
            for piece in pieces:
                word = self.word(piece)
                if word is None:
                    continue
                if exact or term.quoted:
                    word = replace(word.up_to(1), quoted=term.quoted)
                if term.negated:  # the word and its true synonyms (-ケアマネ: 介護支援専門員 too)
                    excluded.append(word.up_to(2))
                elif term.joins_previous and groups:
                    groups[-1].append(word)
                else:
                    groups.append([word])
        if not groups:
            raise QueryError(
                "助詞や記号・除外する語だけでは検索できません。内容を表す語（例: 認知症、見守り）を入力してください。"
            )
        # a word typed twice (a query pasted twice) is one word, said once
        unique = dict.fromkeys(tuple(dict.fromkeys(g)) for g in groups)
        return ParsedQuery(text, tuple(unique), tuple(dict.fromkeys(excluded)), exact)

    def _at_particles(self, typed: str) -> list[str]:
        """`typed` cut where a particle, or an honorific and a particle, joins two words
        (認知症の人 → 認知症, 人; お医者さんと看護師 → お医者さん, 看護師); whole when none does, when it
        is a word in one kana script (ちいきのちゃのま: its syllables are no words), and never
        inside a phrase the table knows (通いの場の運営 → 通いの場, 運営)."""
        toks = self.analyzer.tokens(typed)
        if len(toks) < 2 or _ONE_KANA_SCRIPT.match(typed):
            return [typed]
        keys = [t.text for t in toks]
        inside = {  # cuts (after token i) that would split a run the table knows
            i
            for a in range(len(toks))
            for b in range(a + 2, min(len(toks), a + MAX_PHRASE_WORDS) + 1)
            if tuple(keys[a:b]) in self._table_phrases
            for i in range(a, b - 1)
        }
        pieces, start = [], 0
        for i, (a, b) in enumerate(itertools.pairwise(toks)):
            if i not in inside and _JOINING.fullmatch(typed[a.end : b.start]):
                pieces.append(typed[start : a.end])
                start = b.start
        return [*pieces, typed[start:]] if pieces else [typed]

    def plain(self, text: str) -> str:
        """The word as the user means it: without grammar typed at its end, and without the
        honorifics around it (お医者さん, ご家族, ヘルパーさん are 医者, 家族, ヘルパー), nor
        punctuation stuck to it (認知症'; and 「（仮称）」 are 認知症 and 仮称)."""
        text = self._without_grammar(without_edge_punctuation(text))
        for suffix in HONORIFIC_SUFFIXES:
            # only where a word ends: ありさま and お客様 are words of their own
            end = len(text) - len(suffix)
            if text.endswith(suffix) and end >= 2 and end in self.analyzer.cuts(text):
                text = text[:end]
                break
        if text[:1] in HONORIFIC_PREFIXES and len(text) >= 3:
            toks = self.analyzer.tokens(text)
            rest = _without_honorific(toks)
            if rest is not toks and not _KANA_ONLY.match(rest_text := text[rest[0].start :]):
                text = rest_text  # お医者, ご家族; not おばあ → ばあ
        return text

    def _without_grammar(self, text: str) -> str:
        """`text` without grammar typed at its end (認知症による → 認知症); "" when it is all
        grammar (について, する). One kana before a suffix is no word of its own: サ付き is read
        whole, not as サ (and then as nothing)."""
        for _ in range(3):  # 通いの場がほしい → 通いの場が → 通いの場
            start = self.analyzer.grammar_start(text)
            if start == len(text) or (start and _ONE_KANA_SCRIPT.match(fold(text))):
                return text  # a word in kana is read whole (まいすたー, いりょう)
            if start == 1 and _ONE_KANA_SCRIPT.match(fold(text[:1])):
                return text
            text = text[:start]
        return text

    def _part_surfaces(self, text: str) -> tuple[str, ...]:
        """`text` cut into its shortest morphemes as written (看取り → 看, 取り; its parts' index
        keys are 見る, 取る), every piece kept."""
        cuts = self._parts_analyzer.cuts(text)
        return tuple(text[a:b] for a, b in zip([0, *cuts], cuts, strict=False) if text[a:b].strip())

    def split(self, word: QueryWord) -> list[QueryWord]:
        """The word's parts as separate words, as typed or through the care table (tier 4:
        ケアマネ支援 → ケアマネ, which cases write 介護支援専門員, and 支援): for a compound found
        nowhere. One-character parts (体 of 協議体) go when a longer part remains."""
        folded = fold(word.text)
        if _HIRAGANA.match(folded):
            # kana are cut into syllables (じょ・せい・ぎ・かい): a word in kana has the parts of
            # its reading (いりょうかいご → 医療, 介護), or none
            surfaces = list(next(iter(self.kana.readings_of(to_katakana(folded))), ()))
        elif len(toks := self.analyzer.tokens(word.text)) == 1 and toks[0].parts:
            # a compound: its parts as written
            surfaces = [t.surface for t in self._parts_analyzer.tokens(word.text)]
        else:
            surfaces = [t.surface for t in toks]
        # One-character parts (体 of 協議体, 第 and 層 of 第2層) match far too much on their own;
        # a word of one part has none, unless it was misread (看看連携: 連携 is what is left)
        if len(surfaces) > 1 or self._misread(word.text):
            surfaces = [p for p in surfaces if len(p) > 1]
        else:
            surfaces = []
        parts = []
        for surface in surfaces:
            w = self.word(surface)
            if w is not None:
                typed = [replace(v, via="parts") for v in w.variants if v.tier <= 2]
                parts.append(QueryWord(surface, tuple(typed)))
        return [p for p in parts if p.variants]

    def word(self, text: str) -> QueryWord | None:
        if self._misread(text):
            # found nowhere as typed (a term no index holds), so relaxed to its parts, and said
            return QueryWord(text, (Variant((fold(text),), WEIGHT_EXACT, "exact", text),))
        toks = self.analyzer.tokens(text)
        if _pieces_dropped(fold(text), toks):
            toks = []  # こーでぃねーたー is no こう: a kana word the analyser does not know
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
                add(_flat(toks), WEIGHT_EXACT, "phrase", text)
            else:
                add(_flat(toks), WEIGHT_EXACT, "exact", text)
            # a noun in a verb's 連用形 is the verb too where the text may read it so: inside a
            # word of several (仮設住宅・借り上げ住宅: 借り上げる + 住宅), or alone when no case has
            # the noun (借り上げ); not つながり alone, a noun the cases write (as they write つながる)
            verbs = [
                self._verb_of(t.surface)
                if t.pos[0] == "名詞" and (len(toks) > 1 or t.text not in self._known)
                else None
                for t in toks
            ]
            if any(verbs):
                alt = [v or t for v, t in zip(verbs, toks, strict=True)]
                add((alt[0].text,) if len(alt) == 1 else _flat(alt), WEIGHT_EXACT, "exact", text)
            key = tuple(t.text for t in toks)
            whole = self._groups.get(key, [])
            for terms, label in whole:
                add(terms, WEIGHT_SYNONYM, "synonym", label)
            if len(toks) > 1 and not whole:  # ケアマネ連携 → 介護支援専門員連携
                for i, tok in enumerate(toks):
                    before, after = _flat(toks[:i]), _flat(toks[i + 1 :])
                    left = "".join(t.surface for t in toks[:i])
                    right = "".join(t.surface for t in toks[i + 1 :])
                    own = _flat([tok])
                    rest = [t.surface for j, t in enumerate(toks) if j != i and len(t.surface) > 1]
                    for terms, label in self._groups.get((tok.text,), []):
                        # shown as what is searched: the whole word with the part replaced; not
                        # by a form holding the part's terms (虐待 → 高齢者虐待 would search
                        # 高齢者高齢者虐待防止; リハ → リハビリテーション stays), nor by one that
                        # begins or ends with another part (通所型サービス → デイサービス型サービス
                        # names nothing; IADL活動 → 日常生活動作活動 stays: 活動 is not a part)
                        if _holds(terms, own) or any(
                            label.startswith(r) or label.endswith(r) for r in rest
                        ):
                            continue
                        add(before + terms + after, WEIGHT_SYNONYM, "synonym", left + label + right)
        # A word in kana (ざいたく, ﾆﾝﾁｼｮｳ, けあまね) is also looked up by reading in the corpus's
        # vocabulary and in katakana (ケアマネ, with its synonyms); a lone kana (の) is a particle.
        folded = fold(text)
        if KANA.match(folded) and len(folded) > 1:
            katakana = to_katakana(folded)
            # ... and among the table's words, by their whole reading (かよいのば: 通いの場)
            table_words = self.kana.table_words(text)
            for word in (katakana, *table_words):
                if word != text and (alt := self.word(word)) is not None:
                    for v in alt.variants:
                        via = "reading" if v.tier == 1 else v.via
                        add(v.terms, min(v.weight, WEIGHT_READING), via, v.label)
            # a katakana word the corpus writes in hiragana (ミンナノウタ: みんなのうた), searched
            # as the hiragana would be, when long enough not to be a common run of hiragana
            # (トコロ: ところ) and cut into words and particles, not syllables (じぇっとこーすたー:
            # じ, ぇ, っと, こー… would find the こう every case writes)
            hiragana = to_hiragana(folded)
            if hiragana != folded and len(folded) >= MIN_HIRAGANA_SPELLING:
                cuts = self.analyzer.cuts(hiragana)
                pieces = [hiragana[a:b] for a, b in itertools.pairwise([0, *cuts])]
                toks = self.analyzer.tokens(hiragana)
                if not _pieces_dropped(hiragana, toks) and all(
                    len(p) > 1 or p in PARTICLE_CHARS for p in pieces
                ):
                    add(_flat(toks), WEIGHT_READING, "reading", hiragana)
            # each piece of the reading as one of its commonest words (じょせい: 助成, 女性:
            # じょせいぎかい is the 女性議会 the corpus has), with its synonyms (しゃきょう: 社協);
            # not cut into pieces when the table reads the whole (としより is 年寄り, not 都市 +
            # より), though a word read so whole stays (きかん: 帰還 to the table, 機関 here)
            for words in self.kana.readings_of(katakana):
                if table_words and len(words) > 1:
                    continue
                label = "".join(words)
                add(_flat(self.analyzer.tokens(label)), WEIGHT_READING, "reading", label)
                for terms, other in self._groups.get(self._key(label), []):
                    add(terms, WEIGHT_READING, "synonym", other)
        if not variants:
            return None
        return QueryWord(text, tuple(variants))
