"""Snippets: the one place that finds matched words in a text, escapes it and marks them.

A match is the index's own: a variant's terms at consecutive positions of one field, marked
by the characters those positions cover. For the documents of a build both come from the
index (`SearchIndex.occurrences`, stored at build time), so showing a result analyses no text
again; `match_spans` analyses a text that is not in the index (and checks the index in tests).
"""

from __future__ import annotations

import html
import re
from bisect import bisect_right
from collections.abc import Collection, Iterable, Mapping, Sequence

from .analysis import Analyzer
from .index import SearchIndex
from .models import FIGURES_ID, Case, Passage
from .query import QueryWord

SNIPPET_CHARS = 160
PASSAGE_FIELDS = ("lesson", "body")  # where a passage document's text is indexed
TITLE_FIELDS = ("title", "keywords")  # of a case document: what "matched in the title" means
# Where in a case document a word can match, in the order a hit names them (models.MATCHED_IN_LABELS)
CASE_PLACES = (("title", TITLE_FIELDS), ("details", ("body",)), ("figure", ("diagram",)))
Span = tuple[int, int]


def find_spans(
    occurrences: Iterable[tuple[str, int, int, int]], words: Sequence[QueryWord]
) -> list[Span]:
    """Character spans matched by any variant of any word, given the (term, position, start,
    end) occurrences of a text: a variant matches where its terms sit at consecutive
    positions, from its first term's start to its last term's end."""
    at: dict[tuple[str, int], Span] = {}
    starts: dict[str, list[int]] = {}
    for term, pos, start, end in occurrences:
        at[term, pos] = (start, end)
        starts.setdefault(term, []).append(pos)
    spans: set[Span] = set()
    for word in words:
        for v in word.variants:
            for pos in starts.get(v.terms[0], ()):
                found = [at.get((t, pos + i)) for i, t in enumerate(v.terms)]
                if all(found):
                    spans.add((found[0][0], found[-1][1]))  # type: ignore[index]
    return _merge(sorted(spans))


def match_spans(text: str, words: Sequence[QueryWord], analyzer: Analyzer) -> list[Span]:
    """`find_spans` over `text` analysed as the index analyses it."""
    return find_spans(analyzer.index_terms(text), words)


def query_terms(words: Sequence[QueryWord]) -> set[str]:
    return {t for word in words for v in word.variants for t in v.terms}


class Highlighter:
    """Matched spans in the documents of one build, read from its index."""

    def __init__(self, index: SearchIndex) -> None:
        self.index = index

    def spans(
        self, doc: int, words: Sequence[QueryWord], fields: Collection[str]
    ) -> dict[str, list[Span]]:
        """Per field of document `doc` (among `fields`), the spans of its text that matched."""
        by_field: dict[str, list[tuple[str, int, int, int]]] = {}
        for term, field, pos, start, end in self.index.occurrences(doc, query_terms(words)):
            if field in fields:
                by_field.setdefault(field, []).append((term, pos, start, end))
        found = {f: find_spans(occ, words) for f, occ in by_field.items()}
        return {f: s for f, s in found.items() if s}

    def passage_spans(self, doc: int, words: Sequence[QueryWord]) -> list[Span]:
        """Spans in a passage's text."""
        return [s for spans in self.spans(doc, words, PASSAGE_FIELDS).values() for s in spans]

    def heading_spans(self, doc: int, words: Sequence[QueryWord]) -> list[Span]:
        """Spans in a passage's 【heading】."""
        return list(self.spans(doc, words, ("heading",)).get("heading", ()))

    def passage_snippet(
        self, doc: int, passage: Passage, words: Sequence[QueryWord], width: int = SNIPPET_CHARS
    ) -> str:
        """The passage's excerpt around its matches; when only its 【heading】 matched, the
        excerpt starts with the heading, so the reason is always visible."""
        found = self.spans(doc, words, (*PASSAGE_FIELDS, "heading"))
        text_spans = [s for f in PASSAGE_FIELDS for s in found.get(f, ())]
        if text_spans or not passage.heading or "heading" not in found:
            return snippet(passage.text, text_spans, width)
        spans = [(s + 1, e + 1) for s, e in found["heading"]]  # after 【
        return snippet(f"【{passage.heading}】{passage.text}", spans, width)

    def marked_case(
        self, case: Case, docs: Mapping[str, int], words: Sequence[QueryWord]
    ) -> dict[str, tuple[str, ...]]:
        """Per passage of `case` where `words` match (`docs`: its documents by id): its text
        escaped, with <mark> around the matches, line by line; and so its figure text, under
        FIGURES_ID, when they match there (a case page opened from a search)."""
        out: dict[str, tuple[str, ...]] = {}
        for p in case.passages():
            if p.id in docs and (spans := self.passage_spans(docs[p.id], words)):
                out[p.id] = tuple(mark(p.text, spans).split("\n"))
        if case.id in docs and (figure := self.spans(docs[case.id], words, ("diagram",))):
            # the diagram field is the figure texts a line each (building.index_docs)
            lines = mark("\n".join(case.diagram_text), figure["diagram"]).split("\n")
            out[FIGURES_ID] = tuple(lines)
        return out

    def place(self, case: Case, doc: int, word: QueryWord) -> str | None:
        """Where the case's document `doc` matched `word`: 'title' (title or keywords),
        'place' (its prefecture or municipality alone: 山形 of 山形県), 'details' (implementing
        bodies, contact) or 'figure' (figure text); None where it did not."""
        found = self.spans(doc, [word], [f for _place, fields in CASE_PLACES for f in fields])
        for place, fields in CASE_PLACES:
            if any(f in found for f in fields):
                in_place = place == "title" and self.tags(case, doc, [word]) == (_place_tag(case),)
                return "place" if in_place else place
        return None

    def tags(self, case: Case, doc: int, words: Sequence[QueryWord]) -> tuple[str, ...]:
        """Which of the case's title, keywords and themes the words matched, as the page names
        them (タイトル, キーワード「医療介護連携」, テーマ「ICT・情報共有」)."""
        found = self.spans(doc, words, TITLE_FIELDS)
        lines = case.tags
        text = "\n".join(lines)  # the case document's keywords field (building.index_docs)
        # its title field is the title, then the place on a line of its own
        in_title = [start <= len(case.title) for start, _end in found.get("title", ())]
        named = ["タイトル"] if any(in_title) else []
        if not all(in_title):
            named.append(_place_tag(case))
        for start, _end in found.get("keywords", ()):
            k = text.count("\n", 0, start)
            kind = "テーマ" if k >= len(lines) - len(case.themes) else "キーワード"
            named.append(f"{kind}「{lines[k]}」")
        return tuple(dict.fromkeys(named))


def _place_tag(case: Case) -> str:
    return f"所在地（{case.name}）"


def _merge(spans: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return merged


def mark(text: str, spans: Sequence[Span]) -> str:
    """Escape `text` and wrap each span in <mark>; the only markup in the result is ours."""
    out, last = [], 0
    for s, e in spans:
        out.append(html.escape(text[last:s]))
        out.append(f"<mark>{html.escape(text[s:e])}</mark>")
        last = e
    out.append(html.escape(text[last:]))
    return "".join(out)


_SPACE = re.compile(r"\s+")


def flatten(text: str, spans: Sequence[Span]) -> tuple[str, list[Span]]:
    """`text` with each run of white space made one space (none at either end), and the
    spans moved to match."""
    runs: list[tuple[int, int, int, int]] = []  # start, end, removed before, kept (0 or 1)
    pieces, last, removed = [], 0, 0
    for m in _SPACE.finditer(text):
        s, e = m.span()
        keep = 0 if s == 0 or e == len(text) else 1
        pieces += [text[last:s], " " * keep]
        runs.append((s, e, removed, keep))
        removed += e - s - keep
        last = e
    pieces.append(text[last:])
    run_starts = [r[0] for r in runs]

    def moved(k: int) -> int:
        i = bisect_right(run_starts, k) - 1
        if i < 0:
            return k
        s, e, before, keep = runs[i]
        if k >= e:
            return k - before - (e - s - keep)
        return s - before + min(k - s, keep)

    out = [(moved(s), moved(e)) for s, e in spans]
    return "".join(pieces), [(s, e) for s, e in out if s < e]


LEAD_BACK = 12  # how far a window's start may move to begin on a word
BREAKS = frozenset("、。，．,.！？!?「」『』（）()【】・：:；; 　\n")  # after these a word begins


def snippet(text: str, spans: Sequence[Span], width: int = SNIPPET_CHARS) -> str:
    """A window of `text` around `spans` (the whole text when short), escaped and marked."""
    flat, spans = flatten(text, spans)
    if len(flat) <= width:
        return mark(flat, spans)
    # Start the window where it covers the most matches, a little before the first of them.
    best_start, best_count = 0, -1
    for s, _e in spans:
        start = max(0, s - width // 5)
        count = sum(1 for s2, e2 in spans if s2 >= start and e2 <= start + width)
        if count > best_count:
            best_start, best_count = start, count
    end = min(len(flat), best_start + width)
    best_start = max(0, end - width)
    kept = [(s, e) for s, e in spans if s >= best_start and e <= end]
    # begin on a word, keeping every match the window holds (moving back moves its end too)
    best_start = _word_start(
        flat,
        best_start,
        min((s for s, _e in kept), default=end),
        max((e for _s, e in kept), default=0) - width,
    )
    end = min(len(flat), best_start + width)
    inside = [(s - best_start, e - best_start) for s, e in spans if s >= best_start and e <= end]
    body = mark(flat[best_start:end], inside)
    return ("…" if best_start > 0 else "") + body + ("…" if end < len(flat) else "")


def _word_start(text: str, start: int, first: int, floor: int) -> int:
    """Where a window that would start at `start` starts on a word: after a punctuation mark
    at most LEAD_BACK characters before it (not before `floor`), else where a kanji or katakana
    run begins before the first match `first`, else at `start` (「…もの心のケアチーム」 cut 子ども
    in two)."""
    if start == 0:
        return 0
    for i in range(start - 1, max(-1, floor - 1, start - LEAD_BACK - 1), -1):
        if text[i] in BREAKS:
            return i + 1
    for i in range(start, min(first, start + LEAD_BACK)):
        if _kind(text[i]) != _kind(text[i - 1]) and _kind(text[i]) in ("kanji", "katakana"):
            return i
    return start


def _kind(ch: str) -> str:
    if "\u3041" <= ch <= "\u309f":
        return "hiragana"
    if "\u30a0" <= ch <= "\u30ff":
        return "katakana"
    return "kanji" if "\u4e00" <= ch <= "\u9fff" else "other"
