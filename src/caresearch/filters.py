"""Filters (facets) as people choose them: each value checked against the values there are,
in any width, a section also by the label the page shows; an unknown value is one clear error
wherever it was typed (CLI, page, API), naming the nearest value and the values there are;
and the facet table that filters cases and counts their values for the facets."""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

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


class FacetTable:
    """Every case's values of each case facet as arrays, so that counting or filtering many
    cases is a few array operations (at 10,000 cases a Counter over `CaseInfo`s took a
    quarter of a search)."""

    def __init__(self, infos: Sequence[CaseInfo]) -> None:
        self.n_cases = len(infos)
        self.values: dict[str, tuple[str, ...]] = {}
        # per facet: (case, value code, place of the value within the case's values)
        self.pairs: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for facet in FACETS:
            if facet.values is None:
                continue
            codes: dict[str, int] = {}
            rows: list[tuple[int, int, int]] = []
            for i, info in enumerate(infos):
                for k, value in enumerate(facet.values(info)):
                    rows.append((i, codes.setdefault(value, len(codes)), k))
            table = np.array(rows, dtype=np.int64).reshape(-1, 3)
            self.values[facet.key] = tuple(codes)
            self.pairs[facet.key] = (table[:, 0], table[:, 1], table[:, 2])

    def passes(self, filters: Filters) -> np.ndarray:
        """Per case: whether, for every case facet filtered, it holds one of the values."""
        ok = np.ones(self.n_cases, dtype=bool)
        for key, chosen in filters.items():
            if key not in self.pairs:
                continue
            cases, codes, _ = self.pairs[key]
            wanted = [k for k, v in enumerate(self.values[key]) if v in chosen]
            has = np.zeros(self.n_cases, dtype=bool)
            has[cases[np.isin(codes, wanted)]] = True
            ok &= has
        return ok

    def counts(self, cases: np.ndarray, sections: Counter) -> dict[str, dict[str, int]]:
        """Per facet, how many of `cases` (in rank order) hold each value: most first, ties in
        the order the values first appear down the ranking; sections from `sections`."""
        rank = np.full(self.n_cases, -1, dtype=np.int64)
        rank[cases] = np.arange(len(cases))
        out: dict[str, dict[str, int]] = {}
        for facet in FACETS:
            if facet.key not in self.pairs:
                out[facet.key] = dict(sections.most_common())
                continue
            case_of, code, place = self.pairs[facet.key]
            r = rank[case_of]
            sel = r >= 0
            code, first = code[sel], r[sel] * (int(place.max(initial=0)) + 1) + place[sel]
            values = self.values[facet.key]
            counts = np.bincount(code, minlength=len(values))
            at = np.full(len(values), np.iinfo(np.int64).max, dtype=np.int64)
            np.minimum.at(at, code, first)
            seen = np.flatnonzero(counts)
            by = seen[np.lexsort((at[seen], -counts[seen]))]
            out[facet.key] = {values[int(k)]: int(counts[k]) for k in by}
        return out
