"""Other ways to ask, for a search that found nothing, had to relax a word or has a word no
case has (beside words joined by OR).

For each typed word: the curated table's synonyms and the words it points to (when nothing was
found), and the corpus's words that begin with it (a word cut short: 見守 → 見守り, 介護予 →
介護予防; only for a word the corpus never writes as typed). Each is kept only when it finds a
case on its own under the same filters, so that a suggestion never leads to another empty page
(虐待's synonym 高齢者虐待 is in no case either). A phrase lookup drops what the corpus never
writes before any search, and the searches of one request are capped."""

from __future__ import annotations

from dataclasses import replace

from .filters import Filters
from .models import SearchResult, Suggestion
from .querysyntax import replace_word, split_query
from .searching import Searcher

PER_WORD = 3  # suggestions offered for one typed word
CANDIDATES = 6  # completions of one word looked up (the commonest completing words first)
MAX_SEARCHES = 6  # searches one request may run to check its suggestions


def with_suggestions(
    result: SearchResult, searcher: Searcher, filters: Filters, exact: bool
) -> SearchResult:
    """`result` with its `suggestions` when it found nothing, relaxed a word or has a word
    found nowhere (of words joined by OR)."""
    nothing = not (result.total or result.partial)
    if not (nothing or result.fallback or result.nowhere):
        return result
    expander, text = searcher.expander, result.query
    found: list[Suggestion] = []
    searches = 0
    asked: set[str] = set()
    for term in split_query(text):
        word = term.text if term.quoted else expander.plain(term.text)
        if term.negated or not word or word in asked or (not nothing and _written(searcher, word)):
            continue  # a word the corpus writes, and was found, needs no other way
        asked.add(word)
        offers = expander.synonyms_of(word) + expander.related_labels(word) if nothing else []
        completions = expander.completions(word)
        completions.sort(key=lambda c: -searcher.index.doc_frequency(c[1]))
        offers += [shown for shown, _term in completions[:CANDIDATES]]
        kept = 0
        for instead in dict.fromkeys(offers):
            if kept == PER_WORD or searches == MAX_SEARCHES:
                break
            if instead == word or not _written(searcher, instead):
                continue
            searches += 1
            if _finds(searcher, instead, filters, exact):
                found.append(
                    Suggestion(word, instead, replace_word(text, term.text, word, instead))
                )
                kept += 1
    return replace(result, suggestions=tuple(found))


def _written(searcher: Searcher, text: str) -> bool:
    """Whether some document holds `text` as written (its words at consecutive positions)."""
    word = searcher.expander.word(text)
    return bool(word and word.variants and len(searcher.index.phrase(word.variants[0].terms)[0]))


def _finds(searcher: Searcher, text: str, filters: Filters, exact: bool) -> bool:
    """Whether `text` alone finds a case under `filters` (not by relaxing it)."""
    result = searcher.search(text, filters, 1, 1, exact=exact)
    return bool(result.total) and not result.fallback
