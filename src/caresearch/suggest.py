"""Other ways to ask, for a search that found nothing or found cases without a typed word.

The offers come from the query expander (synonyms, the words the table points a word to, the
corpus's words that begin with a word cut short: 見守 → 見守り); only those that find a case
under the same filters are kept, so that a suggestion never leads to another empty page
(虐待's synonym 高齢者虐待 is in no case either)."""

from __future__ import annotations

from dataclasses import replace

from .filters import Filters
from .models import SearchResult
from .query import split_query
from .searching import Searcher

PER_WORD = 3  # suggestions offered for one typed word


def with_suggestions(result: SearchResult, searcher: Searcher, filters: Filters) -> SearchResult:
    """`result` with its `suggestions`: for every typed word when nothing matched, for a word
    the corpus does not have (the words it begins) when the search had to relax."""
    text = result.query
    words = [t.text for t in split_query(text) if not t.negated]
    expander = searcher.expander
    if not (result.total or result.partial):
        offered = expander.suggestions(words)
    elif result.fallback:
        offered = tuple((w, c) for w in words for c in expander.completions(w))
    else:
        return result
    # the corpus's commonest first, those it never writes dropped: a phrase lookup each, before
    # the searches (介護予 offers 介護予め, 介護予定, 介護予算 and 介護予防; only the last is written)
    held = {(w, i): _documents(searcher, i) for w, i in offered}
    ranked = sorted((x for x in offered if held[x]), key=lambda x: -held[x])
    found: list[tuple[str, str]] = []
    for word, instead in ranked:
        if sum(w == word for w, _ in found) < PER_WORD and _finds(
            searcher, text.replace(word, instead, 1), filters
        ):
            found.append((word, instead))
    return replace(result, suggestions=tuple(found))


def _documents(searcher: Searcher, text: str) -> int:
    """How many documents hold `text` as written (its words at consecutive positions)."""
    word = searcher.expander.word(text)
    if word is None or not word.variants:
        return 0
    return len(searcher.index.phrase(word.variants[0].terms)[0])


def _finds(searcher: Searcher, text: str, filters: Filters) -> bool:
    """Whether `text`, as written, finds a case with every word (not by relaxing one)."""
    result = searcher.search(text, filters, 1, 1, exact=True)
    return bool(result.total) and not result.fallback
