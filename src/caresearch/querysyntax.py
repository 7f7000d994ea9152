"""What a user typed, before any analysis: the pieces of a query (quoted phrases, words between
spaces and list marks) and its operators (OR or |, NOT or -語, quotes), and the typed word's
edges. query.py analyses each piece."""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass

from .analysis import split_words

# Characters that show nothing (zero-width space and joiners, soft hyphen, word joiner, byte
# order mark, bidirectional controls): pasted text carries them, and 「認知症​」 must
# find 認知症 while a right-to-left override must not reorder what the page echoes.
INVISIBLE_CHARS = (
    "\u00ad\u034f\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069"
    "\ufe00-\ufe0f\ufeff"
)  # as a character class's inside: the file names of downloads leave them out too
_INVISIBLE = re.compile(f"[{INVISIBLE_CHARS}]")


def _visible(text: str) -> str:
    """`text` without the characters that show nothing."""
    return _INVISIBLE.sub("", text)


# HTML pasted with a word from a web page or an e-mail: the tags of real elements, those inside
# a line (<b>, <span>: 認<b>知</b>症 is 認知症) dropped, the others (<br>, <p>, <div>…) a space;
# 「<ICT>」 or 「<認知症>」 are words in brackets, not tags. Character references only whole
# (&amp; &#8203;), not the legacy ones without their ; (介護&not is no 介護¬).
_INLINE = "a|abbr|b|cite|code|em|font|i|mark|q|s|small|span|strong|sub|sup|u"
_BLOCK = (
    "address|article|aside|blockquote|body|br|dd|div|dl|dt|footer|h[1-6]|head|header|hr|html"
    "|img|li|main|meta|nav|ol|p|pre|script|section|style|table|tbody|td|tfoot|th|thead|title|tr|ul"
)
_TAG = r"</?(?:{})(?:\s[^<>]*)?/?>"
_INLINE_TAG = re.compile(_TAG.format(_INLINE), re.IGNORECASE)
_BLOCK_TAG = re.compile(_TAG.format(_BLOCK), re.IGNORECASE)
_REFERENCE = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")


def typed(text: str) -> str:
    """What a person typed or pasted, as the words they mean: without HTML markup pasted with
    it (<b>認知症</b> is 認知症, &amp; is &), and without the characters that show nothing
    (&#8203; included)."""
    text = _BLOCK_TAG.sub(" ", _INLINE_TAG.sub("", text))
    return _visible(_REFERENCE.sub(lambda m: html.unescape(m.group()), text))


# Quotes as keyboards and IMEs type them: ASCII and full-width " (＂), “ ”, 「 」, 『 』, 〝 〟.
_OPENING = '"＂“”「『〝'
_CLOSING = '"＂“”」』〟〞'
_QUOTED = re.compile(f"[{_OPENING}](.+?)[{_CLOSING}]")
# A sentence typed into the search box (a problem told in words, better asked of 課題から探す):
# it ends as a sentence does, or it runs on without a space, with the kana of particles and
# endings among kanji or katakana (「認知症の人の居場所をつくりたい」, not 「にんちしょう」).
_SENTENCE_END = re.compile(r"[ぁ-ゖ].*[。．？！?!]\s*$")
SENTENCE_MIN_CHARS = 7  # 医者が足りない
SENTENCE_MIN_KANA = 4
SENTENCE_SPACED_KANA = 8  # with a space inside: 「…居場所を つくりたいと考えています」
# a predicate: kana after a case particle that follows a word (が足りない, を つくりたい), or
# kana at the end (どうする)
_PREDICATE = re.compile(r"[一-鿿ァ-ヺー][がをにでは]\s*\S*[ぁ-ゖ]{2}|[ぁ-ゖ]{2}$")

# a minus as keyboards type it: − (U+2212), ‐ (U+2010), and ー at a word's start (kana mode)
_MINUS = re.compile("^[−‐ー]")

IGNORED = frozenset({"AND", "ANDMAYBE"})
# symbols that stick to a typed word and are no part of it (units and currency are)
EDGE_SYMBOLS = frozenset("<>＜＞=＝^＾`｀|｜~～+＋")


@dataclass(frozen=True)
class Term:
    """One piece of the typed query, before analysis."""

    text: str
    quoted: bool = False
    negated: bool = False
    joins_previous: bool = False  # OR: an alternative of the piece before it


def split_query(text: str) -> list[Term]:
    """The pieces of a query: quoted phrases whole, the rest split on spaces and `|`, with
    `OR`, `NOT` and `-` (or －) before a word or a quoted phrase read as operators, in any
    width or case (ＯＲ, or, ｜)."""
    pieces: list[tuple[str, bool]] = []
    cursor = 0
    for m in _QUOTED.finditer(text):
        pieces.extend((w, False) for w in _plain_words(text[cursor : m.start()]))
        pieces.append((m.group(1), True))
        cursor = m.end()
    pieces.extend((w, False) for w in _plain_words(text[cursor:]))
    out: list[Term] = []
    negate = join = False
    for word, quoted in pieces:
        operator = "" if quoted else _MINUS.sub("-", unicodedata.normalize("NFKC", word).upper())
        if operator in ("OR", "|"):
            join = bool(out)
            continue
        if operator in ("NOT", "-"):  # 「認知症 -"就労"」, 「認知症 - 就労」
            negate = True
            continue
        if operator in IGNORED:
            continue
        if operator[:1] == "-":
            word, negate = word[1:], True
        out.append(Term(word, quoted, negate, join and not negate))
        negate = join = False
    return out


def without_edge_punctuation(text: str) -> str:
    """`text` without punctuation at its ends, nor the symbols typed around words (<>=^`|~);
    a word's own stay (医療・介護), and so do units and currency (100㎡, 37.5℃, ¥1000)."""
    start, end = 0, len(text)
    while start < end and _edge_mark(text[start]):
        start += 1
    while end > start and _edge_mark(text[end - 1]):
        end -= 1
    return text[start:end]


def _edge_mark(char: str) -> bool:
    return unicodedata.category(char)[0] == "P" or char in EDGE_SYMBOLS


# What separates typed words besides spaces: quotes, 、, the list marks (not between digits:
# 1,000人, 1/2) and | (OR).
_QUOTES = "".join(dict.fromkeys(_OPENING + _CLOSING))
_LIST_MARKS = ",，／/"
_AROUND_WORD = rf"\s|｜{_QUOTES}、{_LIST_MARKS}"


def _plain_words(text: str) -> list[str]:
    """Words between spaces and the separators people type in a list (認知症、就労 / 医療，介護);
    a comma or slash between digits belongs to a number (1,000人, 1/2)."""
    text = re.sub(rf"[{_QUOTES}、]|(?<!\d)[{_LIST_MARKS}]|[{_LIST_MARKS}](?!\d)", " ", text)
    return split_words(re.sub(r"[|｜]", " | ", text))


def replace_word(text: str, piece: str, word: str, instead: str) -> str:
    """The query `text` with `word` replaced inside the typed `piece` (a `Term.text`) that
    holds it: the whole piece, not the first place its characters occur (見守 in 「-見守り隊
    見守」 is the second); `instead` alone when the piece is not found."""
    m = re.search(rf"(?<![^{_AROUND_WORD}\-－]){re.escape(piece)}(?![^{_AROUND_WORD}])", text)
    if m is None:
        return instead
    return text[: m.start()] + piece.replace(word, instead, 1) + text[m.end() :]


def reads_as_sentence(text: str) -> bool:
    """Whether `text`, typed as a search, reads as a sentence (see _SENTENCE_END): enough
    kana, and a predicate (医者が足りない, 居場所がほしい, 見守りをどうする); a name with kana in
    it (ふれあい茶の間, 認知症の人の居場所) is no sentence."""
    text = text.strip()
    if _SENTENCE_END.search(text):
        return True
    kana = len(re.findall("[ぁ-ゖ]", text))
    return (
        len(text) >= SENTENCE_MIN_CHARS
        and kana >= (SENTENCE_SPACED_KANA if re.search(r"\s", text) else SENTENCE_MIN_KANA)
        and re.search("[一-鿿ァ-ヺ]", text) is not None
        and _PREDICATE.search(text) is not None
    )
