"""Filters (facets) as people choose them: each value checked against the values there are,
in any width, a section also by the label the page shows; an unknown value is one clear error
wherever it was typed (CLI, page, API), naming the nearest value and the values there are."""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence

from .analysis import fold
from .errors import QueryError
from .models import FACET_BY_KEY, FACETS, SECTION_BY_KEY, SECTION_LABELS, CaseInfo, Facet

MAX_LISTED_VALUES = 60  # an unknown filter value's message lists the values there are, up to this

Filters = dict[str, tuple[str, ...]]  # facet key -> chosen values (OR within, AND across)


def check_filters(
    filters: Mapping[str, str | Sequence[str] | None] | None,
    known: Mapping[str, frozenset[str]],
) -> Filters:
    """The set filters, each checked against the facet table and the values that exist.

    A facet takes one value or several (any of them: OR); facets combine with AND. `known`
    maps a facet key to its possible values (see `facet_values`); an unknown key or value is
    a QueryError with the same message wherever it was typed.
    """
    out: Filters = {}
    for key, raw in (filters or {}).items():
        facet = FACET_BY_KEY.get(key)
        if facet is None:
            raise QueryError(f"不明な絞り込み条件です: {key}")
        values = [raw] if raw is None or isinstance(raw, str) else list(raw)
        typed = (str(v).strip() for v in values if v and str(v).strip())
        values_of = known.get(key, frozenset())
        # as typed in any width (ＩＣＴ・情報共有), and a section by the label the page shows
        spelled = {fold(v): v for v in values_of}
        if facet.vocabulary == "sections":
            spelled.update({fold(label): k for k, label in SECTION_LABELS.items()})
        chosen = tuple(
            dict.fromkeys(v if v in values_of else spelled.get(fold(v), v) for v in typed)
        )
        for value in chosen:
            if value not in values_of:
                raise QueryError(_unknown_value(facet, value, values_of))
        if chosen:
            out[key] = chosen
    return out


def _unknown_value(facet: Facet, value: str, known: frozenset[str]) -> str:
    """「都道府県に「千葉」はありません（「千葉県」ではありませんか）。指定できる値: …」: the nearest
    value (one that holds what was typed first, width and case aside), then the values there are
    (a section by the label the page shows)."""
    names = SECTION_LABELS if facet.vocabulary == "sections" else {}
    named = {names.get(v, v): v for v in known}
    typed = fold(value)
    folded = {fold(n): n for n in named}
    holding = sorted((n for f, n in folded.items() if typed and typed in f), key=len)
    close = holding[:1] or [
        folded[f] for f in difflib.get_close_matches(typed, sorted(folded), n=1, cutoff=0.5)
    ]
    message = f"{facet.label}に「{value}」はありません"
    if close:
        message += f"（「{close[0]}」ではありませんか）"
    if len(known) <= MAX_LISTED_VALUES:
        listed = (n if n == v else f"{n}（{v}）" for n, v in sorted(named.items()))
        message += f"。指定できる値: {'、'.join(listed)}"
    else:
        message += f"（指定できる値は {len(known)} 件あります）"
    return message + "。"


def facet_values(infos: Sequence[CaseInfo], themes: Sequence[str]) -> dict[str, frozenset[str]]:
    """Every value each facet can take: its vocabulary, or the values the cases hold."""
    out: dict[str, frozenset[str]] = {}
    for facet in FACETS:
        if facet.vocabulary == "themes":
            out[facet.key] = frozenset(themes)
        elif facet.vocabulary == "sections":
            out[facet.key] = frozenset(SECTION_BY_KEY)
        elif facet.values is not None:
            out[facet.key] = frozenset(v for c in infos for v in facet.values(c))
    return out
