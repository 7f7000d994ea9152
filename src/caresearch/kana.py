"""Kana typed for the words the corpus and the care table write otherwise: a hiragana or
half-width katakana word read as those words (ざいたく → 在宅, いしぶそく → 医師不足, かよいのば →
通いの場), for keyword search (`QueryExpander.word`) and for descriptions (`KanaReader.spell`:
にんちしょう → 認知症). No I/O."""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import cached_property, lru_cache

from .analysis import HONORIFIC_SUFFIXES, Analyzer, Token, fold, to_katakana

READING_CHOICES = 3  # a kana word: the readings' commonest words tried, and their combinations
KANA = re.compile(r"^[\u3041-\u3096\u30a1-\u30fa\u30fc]+$")
KANA_RUN = re.compile(r"[\u3041-\u3096\u30fc]{2,}")  # hiragana (and ー) in a description
PARTICLE_CHARS = frozenset("のがをにはとでもへや")
MAX_KANA_WORD = 16  # the longest word read from kana (ざいたくいりょうかいごれんけい is 14)
SURU_FORMS = ("して", "した", "しな", "しま", "する", "すれ", "され", "させ", "でき")
# what may follow a word written in kana: a particle, an honorific, or する made of it
# (おうしんして: 往診 + して)
AFTER_WORD = re.compile(
    "|".join([*PARTICLE_CHARS, "から", "まで", "より", "って", *HONORIFIC_SUFFIXES, *SURU_FORMS])
)
# readings: a hiragana query (ざいたく) finds the kanji the text writes (在宅)
MIN_READING = 2  # one-kana readings (の, か) would match almost anything
MAX_KANA_QUERY = 40
# A word after the first of a compound may be voiced (rendaku): 医師不足 reads イシブソク, 地域づくり
# チイキヅクリ, while the words alone read フソク and ツクリ.
_UNVOICED = str.maketrans(
    "ガギグゲゴザジズゼゾダヂヅデドバビブベボ", "カキクケコサシスセソタチツテトハヒフヘホ"
)


def reading_map(tokens: Iterable[tuple[Token, float]]) -> dict[str, tuple[str, ...]]:
    """Katakana reading → the index terms read that way, most frequent first.

    Built at index time from the indexed vocabulary (each term with its frequency), so a kana
    query is looked up in the corpus's own words instead of being re-analysed as kana.
    """
    counts: dict[str, dict[str, float]] = {}
    for t, weight in tokens:
        if len(t.reading) >= MIN_READING and t.reading != "キゴウ":
            by_term = counts.setdefault(t.reading, {})
            by_term[t.text] = by_term.get(t.text, 0) + weight
    return {r: tuple(sorted(c, key=lambda t: (-c[t], t))) for r, c in counts.items()}


def segment_reading(kana: str, readings: Mapping[str, tuple[str, ...]]) -> list[str] | None:
    """Split katakana into the fewest known readings (イリョウカイゴレンケイ → 3), or None."""
    found = segmentations(kana, readings, 1)
    return found[0] if found else None


def segmentations(
    kana: str, readings: Mapping[str, tuple[str, ...]], limit: int
) -> list[list[str]]:
    """Up to `limit` ways to split katakana into the fewest known readings: カイソウホウ is
    カイ + ソウホウ and カイソウ + ホウ (回想法), and only the text can tell which. A piece after
    the first may begin voiced (イシ + ブソク is イシ + フソク); the ways name the readings."""
    if not kana or len(kana) > MAX_KANA_QUERY:
        return []
    n = len(kana)
    best: list[list[list[str]]] = [[] for _ in range(n + 1)]  # fewest-piece ways to reach i
    best[0] = [[]]
    for i in range(n):
        if not best[i]:
            continue
        for j in range(i + MIN_READING, n + 1):
            piece = kana[i:j]
            if i and piece not in readings:
                piece = piece[0].translate(_UNVOICED) + piece[1:]
            if piece not in readings:
                continue
            ways = [[*way, piece] for way in best[i]]
            if not best[j] or len(best[j][0]) > len(ways[0]):
                best[j] = ways[:limit]
            elif len(best[j][0]) == len(ways[0]):
                best[j] = (best[j] + ways)[:limit]
    return best[n]


class KanaReader:
    """Compiled once per engine (`QueryExpander.kana`): the corpus's readings (reading → the
    index terms read so, built with the index) and the care table's words."""

    def __init__(
        self,
        analyzer: Analyzer,
        readings: Mapping[str, tuple[str, ...]],
        table_words: Sequence[str],
        table_word: Callable[[str], str | None],
    ) -> None:
        self.analyzer = analyzer
        self.readings = readings
        self._table_list = tuple(table_words)
        # text that is one word of the care vocabulary, whole -> the table's spelling of it
        self._table_word = table_word
        self._read = lru_cache(maxsize=4096)(self._word)
        self._read_verb = lru_cache(maxsize=4096)(self._verb_as_table_word)

    def spell(self, text: str) -> str:
        """`text` with the words written in hiragana that the analyser cuts into pieces
        (にんちしょう → に・ん・ち・しょう, けあまね) written as the corpus or the care table writes
        them (認知症, ケアマネ), for a description (keyword search reads a kana word by its
        reading already: `QueryExpander.word`). A run of hiragana is read only where it stands
        as a word: at the start of a run that does not go on a kanji or katakana word (お年寄りは
        is not お年寄 + リハ), or after a particle; ending where a morpheme ends and followed by a particle, an
        honorific or the end of the run; cut by Sudachi into two or more morphemes (a word it
        knows is left to it); and read as one or two common nouns of the corpus (or one word of
        the table), at most MAX_KANA_WORD kana long."""
        out: list[str] = []
        last = 0
        for run in KANA_RUN.finditer(text):
            # right after a kanji or katakana a run goes on its word (寄りは: no word starts at り)
            after_word = run.start() > 0 and text[run.start() - 1].isalnum()
            for start, end, word in self._words(run.group(), after_word):
                out.append(text[last : run.start() + start] + word)
                last = run.start() + end
        return "".join(out) + text[last:]

    def _words(self, run: str, after_word: bool) -> Iterator[tuple[int, int, str]]:
        """(start, end, word) of each word of the hiragana `run` to write otherwise."""
        ends = self.analyzer.cuts(run)
        starts = {0, *ends}
        i = 0
        while i < len(run):
            # a word starts after a particle that ends a morpheme, or that begins one Sudachi
            # glued to the word (が + にんちしょう read as がに・ん・ち…); not inside a word
            # (みまもりは: no word starts at り after も)
            if (i == 0 and not after_word) or (
                i > 0 and run[i - 1] in PARTICLE_CHARS and (i in starts or i - 1 in starts)
            ):
                # ends of morphemes after i's first (two or more: not a word Sudachi knows;
                # one only for a care word it reads as a verb, みまもり: 見守る, which it cuts
                # み + まもり inside a sentence), longest first, within MAX_KANA_WORD; not a
                # particle cut off (のほうが: 方 + が)
                after = ends[bisect_right(ends, i) : bisect_right(ends, i + MAX_KANA_WORD)]
                first = after[0] if after else i + MAX_KANA_WORD
                # and where する begins inside a later morpheme (おうし・んし・て: 往診 + して)
                suru = (j for j in self._suru_at(run, starts) if first < j <= i + MAX_KANA_WORD)
                after = sorted({*after, *suru})
                for j in reversed(after):
                    if j - 1 in starts and run[j - 1] in PARTICLE_CHARS:
                        continue
                    read = self._read if j != first else self._read_verb
                    if (j == len(run) or AFTER_WORD.match(run, j)) and (word := read(run[i:j])):
                        yield i, j, word
                        i = j - 1
                        break
            i += 1

    @staticmethod
    def _suru_at(run: str, starts: set[int]) -> Iterator[int]:
        """Where a form of する begins in `run` (not at its start: no word before it) and ends
        where a morpheme ends."""
        for form in SURU_FORMS:
            j = run.find(form, 1)
            while j > 0:
                if j + len(form) in starts or j + len(form) == len(run):
                    yield j
                j = run.find(form, j + 1)

    def _verb_as_table_word(self, kana: str) -> str | None:
        """The table's spelling of a care word Sudachi reads as a verb (みまもり: 見守り)."""
        toks = self.analyzer.tokens(kana)
        return self._table_word(kana) if len(toks) == 1 and toks[0].pos[0] == "動詞" else None

    def _word(self, kana: str) -> str | None:
        katakana = to_katakana(kana)
        if self._table_word(katakana):
            return katakana  # けあまね → ケアマネ, でい → デイ
        if word := self._table_word(kana):
            return word  # みまもり → 見守り (Sudachi reads the hiragana as the verb 見守る)
        if len(kana) < 3:
            return None
        pieces = segment_reading(katakana, self.readings)
        if (not pieces or len(pieces) > 1) and (table := self._table_readings.get(katakana)):
            return table[0]  # おうしん → 往診: a table word no case writes, read whole
        if not pieces or len(pieces) > 2:
            return None
        words = [self.readings[p][0] for p in pieces]
        # common nouns only: なんと is an exclamation before it is 南砺
        nouns = all(
            len(w) > 1
            and len(toks := self.analyzer.tokens(w)) == 1
            and toks[0].pos == ("名詞", "普通名詞")
            for w in words
        )
        return "".join(words) if nouns else None

    def readings_of(self, katakana: str) -> list[tuple[str, ...]]:
        """The words a reading may stand for: each way to cut it into the fewest pieces
        (`segmentations`: カイ + ソウホウ or カイソウ + ホウ), each piece as the commonest word read
        so, then as each of its next READING_CHOICES - 1 (one piece changed at a time, the
        commoner alternatives first): at most a few, however many pieces the reading has."""
        out: list[tuple[str, ...]] = []
        for pieces in segmentations(katakana, self.readings, READING_CHOICES):
            choices = [self.readings[p][:READING_CHOICES] for p in pieces]
            out.append(tuple(c[0] for c in choices))
            swaps = sorted((rank, k) for k, c in enumerate(choices) for rank in range(1, len(c)))
            for rank, k in swaps[: READING_CHOICES - 1]:
                out.append(tuple(c[rank] if j == k else c[0] for j, c in enumerate(choices)))
        return out

    def table_words(self, text: str) -> tuple[str, ...]:
        """The table's words that kana `text` reads as (かよいのば, ｶﾖｲﾉﾊﾞ: 通いの場)."""
        folded = fold(text)
        if not KANA.match(folded):
            return ()
        return self._table_readings.get(to_katakana(folded), ())

    @cached_property
    def _table_readings(self) -> dict[str, tuple[str, ...]]:
        """Katakana reading -> the table's words read so, particles included (カヨイノバ → 通いの場,
        a word no case writes, so the corpus's readings do not have it); read on the first kana
        query, not when the engine opens."""
        out: dict[str, tuple[str, ...]] = {}
        for word in self._table_list:
            reading = self.analyzer.reading(word)
            # a word written in kana is found as typed (a katakana or hiragana spelling)
            if KANA.match(fold(word)) or len(reading) <= MIN_READING:
                continue
            if word not in out.get(reading, ()):
                out[reading] = (*out.get(reading, ()), word)
        return out
