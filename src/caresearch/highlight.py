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


class TokenCache:
    """Analysed tokens of recently shown passages, so a snippet does not re-run Sudachi.

    Bounded, and owned by an Engine (never module-global); dict operations are atomic under
    the GIL, so concurrent request threads at worst analyse a text twice.
    """

    def __init__(self, analyzer: Analyzer, max_items: int = 2_000) -> None:
        self.analyzer = analyzer
        self.max_items = max_items
        self._cache: dict[str, list[Token]] = {}

    def tokens(self, text: str) -> list[Token]:
        toks = self._cache.get(text)
        if toks is None:
            toks = self.analyzer.tokens(text)
            if len(self._cache) >= self.max_items:
                self._cache.pop(next(iter(self._cache)), None)  # drop the oldest entry
            self._cache[text] = toks
        return toks


def match_spans(
    text: str, words: Sequence[QueryWord], analyzer: Analyzer | TokenCache
) -> list[tuple[int, int]]:
    """Character spans of `text` matched by any variant of any word."""
    tokens = analyzer.tokens(text)
    parts = _part_terms(tokens)
    at: dict[str, list[int]] = {}  # term -> positions, so a variant is checked only where it starts
    for i, (term, _s, _e, compound) in enumerate(parts):
        at.setdefault(term, []).append(i)
        if compound != term:
            at.setdefault(compound, []).append(i)
    spans: set[tuple[int, int]] = set()
    for word in words:
        for v in word.variants:
            n = len(v.terms)
            for i in at.get(v.terms[0], ()):
                window = parts[i : i + n]
                if n == 1 or (
                    len(window) == n
                    and all(p[0] == t for p, t in zip(window[1:], v.terms[1:], strict=True))
                ):
                    spans.add((window[0][1], window[-1][2]))
    return _merge(sorted(spans))


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
    analyzer: Analyzer | TokenCache,
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
