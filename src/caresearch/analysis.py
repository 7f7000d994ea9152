"""Japanese analysis: the one analyzer shared by the Whoosh index and the TF-IDF recommender.

The only module that imports sudachipy. Sudachi objects are never stored on an analyzer (so
analyzers pickle into Whoosh schemas and scikit-learn models): each thread builds its own
tokenizer on first use, because a Sudachi tokenizer is not thread-safe.

Pipeline, in the spirit of Whoosh's tokenizer | filter chains:
  Sudachi mode C morphemes (config without IgnoreYomiganaPlugin, so 「介護支援専門員（ケアマネ）」
  keeps ケアマネ) → normalized_form, NFKC, lower-case → drop particles, auxiliaries, symbols,
  whitespace and filler words → for the index, also emit the mode A parts of a compound at the
  positions they occupy, so a compound and its parts both match.
"""

from __future__ import annotations

import json
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import sudachipy
from sudachipy import Dictionary, SplitMode

# One Sudachi tokenize() call must stay under 49,149 bytes of UTF-8; 12,000 characters is at
# most 36,000 bytes for Japanese text and still leaves room for 4-byte characters.
MAX_CHUNK_CHARS = 12_000

SENTENCE_ENDS = frozenset("。．！？!?\n")
STOP_POS: frozenset[str] = frozenset({"助詞", "助動詞", "補助記号", "空白", "記号"})
# (POS level 1, level 2) pairs that carry no content: する, ある, いる, なる, できる…
STOP_POS_PAIRS: frozenset[tuple[str, str]] = frozenset(
    {("動詞", "非自立可能"), ("形容詞", "非自立可能"), ("接尾辞", "動詞的")}
)
# Normalized forms of light verbs and filler that officials' descriptions are full of.
STOP_WORDS: frozenset[str] = frozenset(
    [
        "する",
        "ある",
        "いる",
        "なる",
        "思う",
        "考える",
        "言う",
        "こと",
        "ため",
        "うち",
        "もの",
        "よう",
        "ところ",
        "とき",
        "事",
        "物",
        "為",
        "内",
        "所",
        "時",
        "これ",
        "それ",
        "あれ",
        "この",
        "その",
        "あの",
        "ここ",
        "そこ",
        "方",
        "など",
        "等",
        "等々",
        "さん",
        "様",
        "当町",
        "当市",
        "当村",
        "本市",
        "本町",
        "本村",
        "うち",
        "我が",
        "私",
        "私たち",
        "我々",
        "僕",
        "自分",
        "皆",
        "皆さん",
        "今",
        "現在",
        "最近",
        "今回",
        "まず",
        "また",
        "さらに",
        "特に",
        "非常",
        "とても",
        "大変",
        "少し",
        "多い",
        "少ない",
        "良い",
        "良く",
        "出来る",
        "できる",
        "行く",
        "来る",
        "見る",
        "居る",
        "御座る",
        "致す",
        "下さる",
        "くださる",
        "いただく",
        "頂く",
        "貰う",
        "もらう",
        "ない",
        "無い",
        "ほしい",
        "欲しい",
        "困る",
        "悩む",
        "いう",
        "町",
        "市",
        "村",
    ]
)

_tls = threading.local()  # one Sudachi tokenizer per thread: they are not thread-safe
_dictionary_lock = threading.Lock()
_dictionary: Dictionary | None = None  # one per process, shared by the threads' tokenizers


def _sudachi_config() -> str:
    """Sudachi's default config minus IgnoreYomiganaPlugin, which deletes （ケアマネ） glosses."""
    resources = Path(sudachipy.__file__).parent / "resources"
    cfg = json.loads((resources / "sudachi.json").read_text(encoding="utf-8"))
    cfg["inputTextPlugin"] = [
        p for p in cfg["inputTextPlugin"] if "IgnoreYomiganaPlugin" not in p.get("class", "")
    ]
    return json.dumps(cfg)


def _shared_dictionary() -> Dictionary:
    """The process's Sudachi dictionary, loaded on first use (not at import)."""
    global _dictionary
    with _dictionary_lock:
        if _dictionary is None:
            resources = Path(sudachipy.__file__).parent / "resources"
            _dictionary = Dictionary(config=_sudachi_config(), resource_dir=str(resources))
        return _dictionary


def _tokenizer(mode: str):
    """The calling thread's Sudachi tokenizer for `mode`, built on first use."""
    cache = getattr(_tls, "tokenizers", None)
    if cache is None:
        cache = _tls.tokenizers = {}
    if mode not in cache:
        cache[mode] = _shared_dictionary().tokenizer(getattr(SplitMode, mode))
    return cache[mode]


def _lookup(surface: str):
    """The dictionary's content-word entry for exactly `surface`, or None."""
    dictionary = _shared_dictionary()
    with _dictionary_lock:  # lookups are rare; don't assume they are thread-safe
        entries = list(dictionary.lookup(surface))
    for entry in entries:
        if entry.part_of_speech()[0] in ("名詞", "動詞", "形容詞", "形状詞"):
            return entry
    return None


_KANJI_ONLY = re.compile(r"[\u4e00-\u9fff]+")
_VERB_STEM_END = re.compile(r"[ぁ-ゖ]$")  # a verb's 連用形 ends in kana (借り上げ, 取り組み)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


# Old and variant forms of kanji that names are written in, read as the forms the texts use
# (南礪 is 南砺市, 髙橋 高橋): one character for one, so offsets stay the same.
KANJI_VARIANTS = str.maketrans("髙﨑嵜邊邉澤濱濵礪德冨國櫻廣嶋", "高崎崎辺辺沢浜浜砺徳富国桜広島")


def clean(text: str) -> str:
    """Control characters and lone surrogates become spaces, and variant kanji their common
    forms (KANJI_VARIANTS), so offsets stay the same."""
    return _CONTROL.sub(" ", text).translate(KANJI_VARIANTS)


def has_invalid_chars(text: str) -> bool:
    """True when `text` holds lone surrogates (undecodable bytes) or control characters."""
    return bool(_CONTROL.search(text.replace("\n", "").replace("\t", "").replace("\r", "")))


# A sentence ends after SENTENCE_ENDS (or \r), but ． only when no digit follows (1．5倍).
_SENTENCE_END = re.compile(
    "(?<=[" + re.escape("".join(sorted(SENTENCE_ENDS - {"．"}))) + "\r])|(?<=．)(?![0-9０-９])"
)


def sentences(text: str) -> list[str]:
    """The distinct sentences of `text`, in order; pieces without a letter or digit (「」。, …)
    are none."""
    out: list[str] = []
    for piece in _SENTENCE_END.split(text):
        piece = piece.strip()
        if piece and any(ch.isalnum() for ch in piece) and piece not in out:
            out.append(piece)
    return out


def _chunks(text: str) -> Iterator[tuple[int, str]]:
    """Split long text at sentence or line ends into pieces Sudachi accepts, with their offsets."""
    start = 0
    while len(text) - start > MAX_CHUNK_CHARS:
        window = text[start : start + MAX_CHUNK_CHARS]
        cut = max(window.rfind("。"), window.rfind("\n"), window.rfind(" "))
        end = start + (cut + 1 if cut > MAX_CHUNK_CHARS // 2 else MAX_CHUNK_CHARS)
        yield start, text[start:end]
        start = end
    if start < len(text):
        yield start, text[start:]


@lru_cache(maxsize=1 << 16)  # words recur: most calls are a dictionary hit, not NFKC
def fold(text: str) -> str:
    """The key every term is compared by: NFKC (width, ㈱) and lower case."""
    return unicodedata.normalize("NFKC", text).lower()


def to_katakana(text: str) -> str:
    """Hiragana to katakana (readings are katakana); everything else is kept."""
    return "".join(chr(ord(c) + 0x60) if "ぁ" <= c <= "ゖ" else c for c in text)


def to_hiragana(text: str) -> str:
    """Katakana to hiragana (ミンナノウタ → みんなのうた); everything else is kept."""
    return "".join(chr(ord(c) - 0x60) if "ァ" <= c <= "ヶ" else c for c in text)


# How people address the people and services they name (おじいさん, ヘルパーさん, ご家族): part
# of the word as written, never a word of their own.
HONORIFIC_PREFIXES = frozenset("おご御")
HONORIFIC_SUFFIXES = ("さん", "ちゃん", "くん", "さま", "様")
KANJI_NUMERALS = frozenset("〇一二三四五六七八九十百千万")
# Words after a number that make a kanji numeral a number (第一層, 二次, 三年): then 一 = 1 = ①.
COUNTERS = frozenset(
    [
        "層",
        "期",
        "次",
        "号",
        "条",
        "回",
        "年",
        "月",
        "日",
        "件",
        "歳",
        "割",
        "倍",
        "名",
        "か所",
        "ヵ所",
        "ケ所",
        "箇所",
        "カ所",
        "ヶ所",
        "点",
        "位",
        "段階",
        "部",
    ]
)


def _split_word(pos: tuple[str, ...], after: Any) -> bool:
    """Whether a morpheme of part of speech `pos` and the next one, `after`, may be one word
    cut in two by its context: a verb stem and a noun (見 + 守り), or two suffixes (庁 + 内)."""
    then = after.part_of_speech()[0]
    return (pos[0] == "動詞" and pos[1] == "非自立可能" and then == "名詞") or (
        pos[0] == "接尾辞" and then == "接尾辞"
    )


def _numeric_context(morphemes: list, i: int) -> bool:
    """Whether the numeral morpheme i stands for a number: any digit or circled number does;
    a kanji numeral (一, 二) only after 第 or before a counter (層, 次, 年…), since Sudachi
    normalises 一つ and 一体's 一 to 1 as well."""
    surface = morphemes[i].surface()
    if not set(surface) <= KANJI_NUMERALS:
        return True
    before = morphemes[i - 1].surface() if i > 0 else ""
    after = morphemes[i + 1].surface() if i + 1 < len(morphemes) else ""
    return before == "第" or after in COUNTERS


class Token(NamedTuple):
    """A content word. `text` is the index key; offsets point into the analysed text."""

    text: str
    surface: str
    start: int
    end: int
    reading: str
    parts: tuple[str, ...]  # normalized mode A parts of a compound, () when atomic
    pos: tuple[str, str] = ("", "")  # Sudachi part of speech, first two levels
    after_break: bool = False  # a sentence end (。！？ or a line break) comes before it
    counter: bool = False  # a word that may count (割, 代, か月, 時間: Sudachi's 助数詞可能)


@dataclass(frozen=True)
class Analyzer:
    """Settings only (hashable, picklable, comparable); Sudachi lives in thread-local storage."""

    mode: str = "C"
    form: str = "normalized"  # or "surface", for the evaluation baseline
    split_parts: bool = True
    stop_pos: frozenset[str] = field(default=STOP_POS)
    stop_pos_pairs: frozenset[tuple[str, str]] = field(default=STOP_POS_PAIRS)
    stop_words: frozenset[str] = field(default=STOP_WORDS)

    def settings_key(self) -> str:
        """A stable description of the settings (frozenset order varies between processes)."""
        return json.dumps(
            {
                "mode": self.mode,
                "form": self.form,
                "split_parts": self.split_parts,
                "stop_pos": sorted(self.stop_pos),
                "stop_pos_pairs": sorted(self.stop_pos_pairs),
                "stop_words": sorted(self.stop_words),
                "sudachipy": sudachipy.__version__,
            },
            ensure_ascii=False,
        )

    def _words(self, text: str) -> Iterator[tuple[Any, tuple[str, ...], int, int, str, bool]]:
        """(morpheme, part of speech, start, end, key, after_break) of each content word of
        the cleaned `text`, offsets into it: the one filter behind `tokens` and `index_terms`.
        """
        tok = _tokenizer(self.mode)
        normalized = self.form == "normalized"
        for offset, chunk in _chunks(text):
            morphemes = list(tok.tokenize(chunk))
            skip = False
            after_break = False
            for i, m in enumerate(morphemes):
                if skip:
                    skip = False
                    continue
                start, end = m.begin(), m.end()
                pos = m.part_of_speech()
                if i + 1 < len(morphemes) and _split_word(pos, morphemes[i + 1]):
                    # Before a particle Sudachi reads 見守り as 見(る) + 守り, and after a long
                    # noun 庁内 as the suffixes 庁 + 内 (ケアシステム庁内推進協議会); rejoin such a
                    # pair when the dictionary knows the joined word as one, so that it
                    # matches 見守り and 庁内 elsewhere.
                    joined = _lookup(m.surface() + morphemes[i + 1].surface())
                    if joined is not None and morphemes[i + 1].begin() == end:
                        end = morphemes[i + 1].end()
                        m, pos, skip = joined, joined.part_of_speech(), True
                if pos[0] in self.stop_pos or (pos[0], pos[1]) in self.stop_pos_pairs:
                    if pos[1] == "句点" or "\n" in m.surface() or m.surface() in SENTENCE_ENDS:
                        after_break = True
                    continue
                key = fold(m.normalized_form() if normalized else m.surface())
                if normalized and pos[1] == "数詞" and not _numeric_context(morphemes, i):
                    key = fold(m.surface())  # 一つ, 一体: a kanji numeral that counts nothing
                if not key.strip() or key in self.stop_words:
                    continue
                yield m, pos, offset + start, offset + end, key, after_break
                after_break = False

    def _parts(self, m) -> tuple[str, ...]:
        """Normalized mode A parts of a compound, () when atomic or when parts are off."""
        if not self.split_parts:
            return ()
        sub = m.split(SplitMode.A)
        return tuple(fold(p.normalized_form()) for p in sub) if len(sub) > 1 else ()

    def tokens(self, text: str) -> list[Token]:
        """Content words of `text` in order, with exact offsets into `text`."""
        text = clean(text)
        return [
            Token(
                text=key,
                surface=text[start:end],
                start=start,
                end=end,
                reading=m.reading_form(),
                parts=self._parts(m),
                pos=(pos[0], pos[1]),
                after_break=after_break,
                counter=pos[2].startswith("助数詞"),
            )
            for m, pos, start, end, key, after_break in self._words(text)
        ]

    def verb_of(self, surface: str) -> Token | None:
        """The verb whose 連用形 `surface` is (借り上げ → 借り上げる, 取り組み → 取り組む), as
        Sudachi reads it before ます; None when it is no verb's (住宅, つながりの)."""
        if not _VERB_STEM_END.search(surface):
            return None
        probe = self.tokens(surface + "ます")
        if len(probe) == 1 and probe[0].pos[0] == "動詞" and probe[0].surface == surface:
            return probe[0]
        return None

    def misread(self, text: str) -> bool:
        """True when a kanji of `text` is read as a verb without its kana and the analysis
        drops it (看看連携: 看 read as 見る, which no index keeps): a word typed so is not
        searched as typed, only as what is left of it."""
        return any(
            m.part_of_speech()[0] == "動詞"
            and _KANJI_ONLY.fullmatch(m.surface())
            and not self.tokens(m.surface())
            for _offset, chunk in _chunks(clean(text))
            for m in _tokenizer(self.mode).tokenize(chunk)
        )

    def cuts(self, text: str) -> list[int]:
        """Where Sudachi cuts `text` into morphemes (each one's end), function words included."""
        tok = _tokenizer(self.mode)
        return [
            offset + m.end() for offset, chunk in _chunks(clean(text)) for m in tok.tokenize(chunk)
        ]

    def reading(self, text: str) -> str:
        """The reading of the whole of `text` in katakana, function words included (通いの場 →
        カヨイノバ)."""
        tok = _tokenizer(self.mode)
        return "".join(
            m.reading_form() for _o, chunk in _chunks(clean(text)) for m in tok.tokenize(chunk)
        )

    def is_grammar(self, text: str) -> bool:
        """True when `text` is grammar, not content: one word that the analysis drops (する,
        もの, ため, など) or a case particle with its predicate (について, による, として, がいない,
        がほしい: a case particle, a verb or adjective, then particles or auxiliaries, four
        morphemes at most)."""
        return self.grammar_start(text) == 0

    def grammar_start(self, text: str) -> int:
        """Where grammar typed at the end of `text` starts (認知症による → 3): 0 when all of
        it is grammar (`is_grammar`), len(text) when none of it is. One analysis of `text`."""
        morphemes = list(_tokenizer(self.mode).tokenize(clean(text)))
        pos = [m.part_of_speech()[:2] for m in morphemes]
        for k, m in enumerate(morphemes):
            tail = pos[k:]
            if len(tail) == 1:
                grammar = not self.tokens(m.surface())
            else:  # a case particle first (に, と, を): は + あく is 把握 in kana, not grammar;
                # then a verb or adjective, inflected or not (が + い + ない, が + ほしい); not の,
                # which joins a noun to a word (高齢者の見守り: 見守り is a noun there)
                grammar = (
                    len(tail) <= 4
                    and tail[0] == ("助詞", "格助詞")
                    and m.surface() != "の"
                    and tail[1][0] in ("動詞", "形容詞")
                    and all(p[0] in ("助詞", "助動詞") for p in tail[2:])
                )
            if grammar:
                return m.begin()
        return len(text)

    def index_terms(
        self, text: str, affixed: Counter | None = None
    ) -> list[tuple[str, int, int, int]]:
        """(term, position, start, end) for indexing: each word, and a compound's parts too.

        The same terms as `index_terms_from(tokens(text))`, without the readings and synonyms
        that indexing does not use. With `affixed`, each prefix or suffix and the word it joins
        are counted there with their reading in context (`_affixed`).
        """
        text = clean(text)
        words = self._words(text)
        return _positions(
            (key, self._parts(m), start, end, brk)
            for m, _pos, start, end, key, brk in (
                words if affixed is None else _affixed(words, text, affixed)
            )
        )

    def index_terms_from(self, tokens: list[Token]) -> list[tuple[str, int, int, int]]:
        """`index_terms` for text already analysed into `tokens`."""
        return _positions((t.text, t.parts, t.start, t.end, t.after_break) for t in tokens)

    def terms(self, text: str) -> list[str]:
        """The terms the index stores for `text` (what TF-IDF counts too)."""
        return [term for term, _pos, _s, _e in self.index_terms(text)]


def _affixed(words: Iterable[tuple], text: str, counted: Counter) -> Iterator[tuple]:
    """`words` (from `Analyzer._words` over `text`) passed on, counting in `counted` each pair
    of words that reads otherwise alone, as written and with its reading there: a prefix with
    the word after it (多職種 タショクシュ: read alone, 多 is サワ, and one kana is too short to
    look up), a suffix with the word before it, and a verb's stem with the noun after it (空き店舗
    アキテンポ: the index keeps 空く, read アク). So a kana query (たしょくしゅ, あきてんぽ) finds
    the pair as the text reads it."""
    before = None
    for word in words:
        m, pos, start, end, _key, _brk = word
        if (
            before is not None
            and before[3] == start
            and (
                before[1][0] == "接頭辞"
                or pos[0] == "接尾辞"
                or (before[1][0] == "動詞" and pos[0] == "名詞")
            )
        ):
            written = text[before[2] : end]
            counted[written, before[0].reading_form() + m.reading_form()] += 1
        before = word
        yield word


def _positions(
    words: Iterable[tuple[str, tuple[str, ...], int, int, bool]],
) -> list[tuple[str, int, int, int]]:
    """(term, position, start, end) of words given as (key, parts, start, end, after_break).

    Positions count mode A parts, so a phrase of parts matches inside a compound and a
    compound sits at the position of its first part.
    """
    out: list[tuple[str, int, int, int]] = []
    pos = 0
    for key, parts, start, end, after_break in words:
        if after_break and out:
            pos += 1  # a gap, so no phrase runs across a sentence end
        out.append((key, pos, start, end))
        if parts:
            # Every part, stop word or not: a query phrase of parts (診療, 所) must match.
            for i, part in enumerate(parts):
                out.append((part, pos + i, start, end))
            pos += len(parts)
        else:
            pos += 1
    return out


# Presets, as Whoosh has: plain functions that return a configured analyzer.
def surface_analyzer() -> Analyzer:
    """The evaluation baseline: surface forms only, no parts, no filler list (plain BM25)."""
    return Analyzer(form="surface", split_parts=False, stop_words=frozenset())


def split_words(query: str) -> list[str]:
    """Whitespace-separated words (ASCII and ideographic spaces)."""
    return [w for w in re.split(r"[\s\u3000]+", query) if w]
