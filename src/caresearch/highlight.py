"""Snippets: the one place that escapes text and marks matched words with <mark>.

Matches are found on the analysed tokens of the passage and marked by their character offsets
in the original text, so whole words are marked exactly whatever spelling the user typed.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from .analysis import Analyzer, Token
from .query import QueryWord

SNIPPET_CHARS = 160


def _part_terms(tokens: list[Token]) -> list[tuple[str, int, int, str]]:
    """(term, start, end, compound) at part level: the positions the index uses."""
    out = []
    for t in tokens:
        for part in t.parts or (t.text,):
            out.append((part, t.start, t.end, t.text))
    return out


def match_spans(text: str, words: Sequence[QueryWord], analyzer: Analyzer) -> list[tuple[int, int]]:
    """Character spans of `text` matched by any variant (or kana reading) of any word."""
    tokens = analyzer.tokens(text)
    parts = _part_terms(tokens)
    spans: set[tuple[int, int]] = set()
    for word in words:
        for v in word.variants:
            n = len(v.terms)
            for i in range(len(parts) - n + 1):
                window = parts[i : i + n]
                if all(p[0] == term for p, term in zip(window, v.terms, strict=True)):
                    spans.add((window[0][1], window[-1][2]))
            if n == 1:  # a single term may also name a whole compound
                spans.update((s, e) for _p, s, e, c in parts if c == v.terms[0])
        if word.kana:
            spans.update(_reading_spans(tokens, word.kana))
    return _merge(sorted(spans))


def _reading_spans(tokens: list[Token], reading: str) -> set[tuple[int, int]]:
    """Spans of the tokens whose joined katakana readings contain `reading`."""
    joined, owner = "", []
    for i, t in enumerate(tokens):
        joined += t.reading
        owner.extend([i] * len(t.reading))
    spans: set[tuple[int, int]] = set()
    start = joined.find(reading)
    while start != -1:
        first, last = owner[start], owner[start + len(reading) - 1]
        spans.add((tokens[first].start, tokens[last].end))
        start = joined.find(reading, start + 1)
    return spans


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return merged


def mark(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """Escape `text` and wrap each span in <mark>; the only markup in the result is ours."""
    out, last = [], 0
    for s, e in spans:
        out.append(html.escape(text[last:s]))
        out.append(f"<mark>{html.escape(text[s:e])}</mark>")
        last = e
    out.append(html.escape(text[last:]))
    return "".join(out)


def snippet(
    text: str,
    words: Sequence[QueryWord],
    analyzer: Analyzer,
    width: int = SNIPPET_CHARS,
) -> str:
    """A window of `text` around its matches (the whole text when short), escaped and marked."""
    flat = " ".join(text.split())
    spans = match_spans(flat, words, analyzer)
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
    inside = [(s - best_start, e - best_start) for s, e in spans if s >= best_start and e <= end]
    body = mark(flat[best_start:end], inside)
    return ("…" if best_start > 0 else "") + body + ("…" if end < len(flat) else "")
