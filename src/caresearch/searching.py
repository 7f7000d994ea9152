"""Keyword search: scored documents from the index, grouped into cases, filtered, faceted.

Words are ANDed at the level of the case (a case matches when every word occurs somewhere in
it, not necessarily in one passage); when no case has them all, the search falls back to OR
and says so; when few cases have every word, a few that have some of them follow, said to be
partial. Filters and facet counts work on the cases' `CaseInfo`, read through the facet table
(filters.py) of the facets declared in models.py. What a query word means (its variants, their
weights, the fallback to related words or a compound's parts) is decided here; the index only
scores terms and phrases.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from typing import NamedTuple

import numpy as np

from .config import Settings, check_limit
from .docscores import covering, passage_order, score_cases, variant_vector, word_vector
from .errors import QueryError
from .filters import FacetTable, Filters
from .highlight import Highlighter
from .index import SearchIndex
from .models import (
    FACET_BY_KEY,
    MATCHED_IN_LABELS,
    RELAXATIONS,
    SECTION_BY_KEY,
    TIER_NAMES,
    Case,
    CaseHit,
    Expansion,
    PartialMatch,
    PassageHit,
    Relaxed,
    SearchResult,
)
from .query import TIERS, ParsedQuery, QueryExpander, QueryWord
from .snapshot import Corpus

NO_TIER = 99  # a case where a group of words does not occur
MAX_GROUPS = 64  # groups of words a query may have: each is one bit of a document's uint64
MAX_PARTS = 8  # a word of more parts is not relaxed to them (a run of text, not a compound)
# Fewer cases than this with every word (as typed or through the table): a page of cases
# with some of them, or a compound's parts, follows the last full match, said to be partial.
PARTIAL_BELOW = 3


class Searcher:
    """Keyword search over one open build. Holds what it needs; `search` takes a query."""

    def __init__(
        self,
        index: SearchIndex,
        corpus: Corpus,
        expander: QueryExpander,
        highlighter: Highlighter,
        settings: Settings,
    ) -> None:
        self.index = index
        self.corpus = corpus
        self.expander = expander
        self.highlighter = highlighter
        self.settings = settings
        self.facets = FacetTable(corpus.infos)
        # per section code: how much a passage's score counts when choosing what a hit shows
        self.shown_weight = np.array(
            [
                SECTION_BY_KEY[k].shown_weight if k in SECTION_BY_KEY else 1.0
                for k in corpus.sections
            ],
            dtype=np.float32,
        )

    def marks(self, case: Case, text: str, exact: bool = False) -> dict[str, tuple[str, ...]]:
        """The case's passages (and figure text) where the words of the search `text` are,
        marked line by line (its page, opened from that search); nothing for a query that
        cannot be searched."""
        try:
            parsed = self.expander.parse(text, max_chars=self.settings.max_query_chars, exact=exact)
        except QueryError:
            return {}
        i = self.corpus.position(case.id)
        docs = (
            {self.corpus.doc_ids[d]: int(d) for d in self.corpus.docs_of(i)}
            if i is not None
            else {}
        )
        groups = self._relax(parsed)[0]  # the words the search found in its stead too
        words = parsed.words + tuple(w for g in groups for w in g if w not in parsed.words)
        return self.highlighter.marked_case(case, docs, words)

    def search(
        self, text: str, filters: Filters, page: int, page_size: int, exact: bool = False
    ) -> SearchResult:
        """Cases for `text` (filters already checked by `check_filters`), one page of them."""
        check_limit("page", page)
        check_limit("limit", page_size)
        parsed = self.expander.parse(text, max_chars=self.settings.max_query_chars, exact=exact)
        groups, relaxed, unfound = self._relax(parsed)
        if len(groups) > MAX_GROUPS:
            raise QueryError(f"検索語が多すぎます（語の一部を含めて{MAX_GROUPS}語まで）。")
        # Per group (words joined by OR): summed scores, per case the earliest tier of its words
        n_cases, n_docs = len(self.corpus.cases), len(self.corpus.doc_case)
        doc_scores = np.zeros(n_docs, dtype=np.float32)
        doc_groups = np.zeros(n_docs, dtype=np.uint64)
        doc_tier = np.zeros(n_docs, dtype=np.int64)
        nowhere: list[str] = []  # typed words no case has
        found: set[str] = set()  # the words of groups some case has
        group_tier = np.full((len(groups), n_cases), NO_TIER, dtype=np.int64)
        for g, group in enumerate(groups):
            tier = group_tier[g]
            dtier = np.full(n_docs, NO_TIER, dtype=np.int64)
            in_group = np.zeros(n_docs, dtype=bool)
            for word in group:
                # Scored tier by tier; the last (every variant) is the word's own score.
                for t in sorted({v.tier for v in word.variants}):
                    vector = word_vector(self.index, word.up_to(t))
                    hit = vector > 0
                    cases = self._cases_of(vector)
                    tier[cases] = np.minimum(tier[cases], t)
                    dtier[hit] = np.minimum(dtier[hit], t)
                doc_scores += vector
                in_group |= hit
            doc_groups[in_group] |= np.uint64(1 << g)
            doc_tier = np.maximum(doc_tier, np.where(dtier < NO_TIER, dtier, 0))
            if (tier < NO_TIER).any():
                found.update(w.text for w in group)
            elif not all(v.via == "parts" for w in group for v in w.variants):  # typed, not a part
                nowhere.append(_group_name(group))
        groups_in_case, case_tier = _per_case(group_tier)
        # what a word was searched as is said only of words some case has: a compound whose
        # parts no case has either (山間部: 山間) is a word found nowhere
        # (the words the table points to are relaxed to only when some case has one)
        nowhere += [r.word for r in relaxed if r.kind == "parts" and not set(r.words) & found]
        relaxed = tuple(
            r if r.kind != "parts" else replace(r, words=tuple(w for w in r.words if w in found))
            for r in relaxed
            if r.kind != "parts" or set(r.words) & found
        )
        matching = groups_in_case == len(groups)
        kinds = [k for k in RELAXATIONS if any(r.kind == k for r in relaxed)]
        fallback = "+".join(kinds) or None
        if not matching.any() and len(groups) > 1 and groups_in_case.any():
            matching = groups_in_case > 0
            fallback = "+".join([*kinds, "or"])
        excluded = np.zeros(n_cases, dtype=bool)  # -語 / NOT 語: cases that contain it go
        for word in parsed.excluded:
            excluded |= self._cases_of(word_vector(self.index, word))
        matching &= ~excluded
        if not matching.any():
            fallback = None  # nothing is shown, so nothing relaxed is shown either
        ranking = Ranking(
            parsed, groups, doc_scores, doc_groups, matching, case_tier, groups_in_case, fallback,
            doc_tier, group_tier,
        )  # fmt: skip
        result = self._rank(text, ranking, relaxed, filters, page, page_size)
        result = replace(result, words_asked=len(parsed.groups))
        said = nowhere if (fallback and fallback.endswith("or")) or not matching.any() else []
        if named := sorted(dict.fromkeys([*said, *unfound]), key=text.find):  # as typed
            result = replace(result, nowhere=tuple(named))
        if (
            fallback is None
            and not parsed.exact
            and result.total < PARTIAL_BELOW
            # on the page that shows the last full match (the first when a filter left none)
            and result.total <= page * page_size
            and (page == 1 or (page - 1) * page_size < result.total)
        ):
            partial, total = self._partial(parsed, groups, matching | excluded, filters, page_size)
            result = replace(result, partial=partial, partial_total=total)
        return result

    def _partial(
        self,
        parsed: ParsedQuery,
        groups: list[tuple[QueryWord, ...]],
        skip: np.ndarray,
        filters: Filters,
        limit: int,
    ) -> tuple[tuple[CaseHit, ...], int]:
        """When few cases have every word: up to `limit` more that have some of the words,
        each word as itself, through the words the table points it to, or by all of its parts
        apart (認知症対策 → 認知症 and 対策, not 対策 alone); more of the words first, then
        whole words before related words and parts, then the score; none of `skip` (the full
        matches and the excluded cases). With how many there are."""
        corpus, n_cases = self.corpus, len(self.corpus.cases)
        n_docs = len(corpus.doc_case)
        doc_scores = np.zeros(n_docs, dtype=np.float32)
        doc_groups = np.zeros(n_docs, dtype=np.uint64)
        tiers = np.full((len(groups), n_cases), NO_TIER, dtype=np.int64)  # per group and case
        in_case = corpus.doc_case >= 0
        used: dict[QueryWord, None] = {}  # the words that found a case, for highlights
        # (group, word, tier, what found it: its parts or its related words, the cases found)
        looser: list[tuple[int, str, int, tuple[QueryWord, ...], np.ndarray]] = []
        for g, group in enumerate(groups):
            for word, (ws, t, scored) in ((w, alt) for w in group for alt in self._looser(w)):
                vectors = [word_vector(self.index, w) for w in ws]
                cases = np.logical_and.reduce([self._cases_of(v) for v in vectors])
                tiers[g, cases] = np.minimum(tiers[g, cases], t)
                if not scored or not cases.any():  # a word's earlier tiers only set its tier
                    continue
                if t > TIERS["synonym"]:
                    looser.append((g, word.text, t, ws, cases))
                docs_of = np.zeros(n_docs, dtype=bool)
                docs_of[in_case] = cases[corpus.doc_case[in_case]]
                for w, v in zip(ws, vectors, strict=True):
                    doc_scores += np.where(docs_of, v, 0)
                    doc_groups[docs_of & (v > 0)] |= np.uint64(1 << g)
                    used[w] = None
        groups_in_case, case_tier = _per_case(tiers)
        matching = (groups_in_case > 0) & ~skip
        # a case shows where it matched in its text: not one found only in a figure or title
        in_text = np.zeros(n_cases, dtype=bool)
        in_text[corpus.doc_case[np.flatnonzero(doc_scores * (corpus.doc_section != 0))]] = True
        docs, passage_docs = self._filtered_docs(doc_scores, matching & in_text, filters)
        if not len(docs):
            return (), 0
        cases, scores = score_cases(corpus.doc_case[docs], doc_scores[docs], n_cases)
        r = Ranking(
            parsed, groups, doc_scores, doc_groups, matching, case_tier, groups_in_case, "or",
            np.zeros(n_docs, dtype=np.int64), tiers,  # its words are whole, related or parts alike
        )  # fmt: skip
        outside = self._outside_text(docs, doc_groups, len(groups))
        order = np.lexsort(
            (cases, -scores, outside[cases] != 0, case_tier[cases], -groups_in_case[cases])
        )[:limit]
        hits = []
        for i, score in zip(cases[order], scores[order], strict=True):
            hit = self._case_hit(
                int(i), float(score), passage_docs, r, tuple(used), int(outside[i])
            )
            held = replace(  # the related words and parts this case has, not all searched
                _held(groups, tiers[:, i], parts_are_words=False),
                related=self._held_by(looser, tiers[:, i], int(i), TIERS["related"]),
                parts=self._held_by(looser, tiers[:, i], int(i), TIERS["parts"]),
            )
            hits.append(replace(hit, partial=held))
        return tuple(hits), len(cases)

    def _held_by(
        self,
        looser: list[tuple[int, str, int, tuple[QueryWord, ...], np.ndarray]],
        tiers: np.ndarray,
        case: int,
        tier: int,
    ) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """For one shown case, each word it holds only at `tier`, with what it holds: the
        compound's parts, or the related words it has (asked only for the cases shown)."""
        out: dict[tuple[str, tuple[str, ...]], None] = {}
        docs = self.corpus.docs_of(case)
        for g, word, t, ws, cases in looser:
            if t != tier or tiers[g] != tier or not cases[case]:
                continue
            if t == TIERS["parts"]:
                out[(word, tuple(w.text for w in ws))] = None
                continue
            vectors = ((v.label, variant_vector(self.index, v)) for v in ws[0].variants)
            found = tuple(label for label, x in vectors if x is not None and x[docs].any())
            if found:
                out[(word, tuple(dict.fromkeys(found)))] = None
        return tuple(out)

    def _looser(self, word: QueryWord) -> list[tuple[tuple[QueryWord, ...], int, bool]]:
        """What finds a word for the partial matches, each with its tier and whether it is
        scored: the word tier by tier (the last, every variant, scored), the words the table
        points it to, and its parts, all of them (not for a quoted phrase)."""
        tiers = sorted({v.tier for v in word.variants})
        out = [((word.up_to(t),), t, t == tiers[-1]) for t in tiers]
        if word.quoted:
            return out
        if related := self.expander.related(word):
            out.append(((related,), TIERS["related"], True))
        # 認知 alone is not 認知症's parts; a run of text is no compound (MAX_PARTS)
        if 1 < len(parts := self.expander.split(word)) <= MAX_PARTS:
            out.append((tuple(parts), TIERS["parts"], True))
        return out

    def _relax(
        self, parsed: ParsedQuery
    ) -> tuple[list[tuple[QueryWord, ...]], tuple[Relaxed, ...], list[str]]:
        """The query's groups, a word no case has (as typed or through a synonym) replaced by
        the words the table points it to if one is found, else (alone) by its parts, each a group
        of its own (not in exact mode or quotes); and the words no case has joined by OR to one
        some case has (協議体 OR 通いの場)."""
        groups: list[tuple[QueryWord, ...]] = []
        relaxed: list[Relaxed] = []
        unfound: list[str] = []
        for group in parsed.groups:
            # words found nowhere (as typed or through a synonym); relaxed unless quoted or exact
            absent = [w for w in group if not word_vector(self.index, w).any()]
            nowhere = [w for w in absent if not (parsed.exact or w.quoted)]
            if len(group) > 1:
                # words joined by OR: each found nowhere stands for the words the table points
                # it to, as it would alone (its parts would be words of their own: not here)
                group = tuple(
                    (self._related(w, relaxed) if w in nowhere else None) or w for w in group
                )
                if any(w not in absent for w in group):
                    unfound += [w.text for w in group if w in absent]
            elif nowhere:
                word = group[0]
                if related := self._related(word, relaxed):
                    groups.append((related,))
                    continue
                parts = self.expander.split(word)
                if 0 < len(parts) <= MAX_PARTS:
                    relaxed.append(Relaxed(word.text, "parts", tuple(p.text for p in parts)))
                    groups.extend((p,) for p in parts)
                    continue
            groups.append(group)
        return groups, tuple(relaxed), unfound

    def _related(self, word: QueryWord, relaxed: list[Relaxed]) -> QueryWord | None:
        """The words the table points `word` to if some case has one (noted in `relaxed`)."""
        related = self.expander.related(word)
        found = [
            v.label
            for v in (related.variants if related else ())
            if variant_vector(self.index, v) is not None
        ]
        if related is None or not found:
            return None
        relaxed.append(Relaxed(word.text, "related", tuple(found)))
        return related

    def _expansions(
        self, parsed: ParsedQuery, relaxed: tuple[Relaxed, ...]
    ) -> tuple[Expansion, ...]:
        """What each query word was searched as besides itself, with the tier: the table's
        words, and the readings of a kana word that some document has (じょせいぎかい → 女性議会,
        not 助成議会)."""
        out: list[Expansion] = []
        for word in parsed.words:
            for v in word.variants:
                if v.via not in ("synonym", "reading") or v.label == word.text:
                    continue
                if v.via == "reading" and variant_vector(self.index, v) is None:
                    continue
                out.append(Expansion(word.text, v.label, TIER_NAMES.get(v.tier, v.via)))
        for r in relaxed:
            out.extend(Expansion(r.word, w, r.kind) for w in r.words)
        return tuple(dict.fromkeys(out))

    def _cases_of(self, vector: np.ndarray) -> np.ndarray:
        """Per case: whether one of its documents scores in `vector`."""
        has = np.zeros(len(self.corpus.cases), dtype=bool)
        cases = self.corpus.doc_case[vector > 0]
        has[cases[cases >= 0]] = True
        return has

    def _rank(
        self,
        text: str,
        r: Ranking,
        relaxed: tuple[Relaxed, ...],
        filters: Filters,
        page: int,
        page_size: int,
    ) -> SearchResult:
        corpus, n_groups = self.corpus, len(r.groups)
        docs, passage_docs = self._filtered_docs(r.doc_scores, r.matching, filters)
        ranked_cases, case_scores = score_cases(
            corpus.doc_case[docs], r.doc_scores[docs], len(corpus.cases)
        )
        if r.fallback and r.fallback.endswith("or"):
            case_scores *= r.groups_in_case[ranked_cases] / n_groups
        # Evidence first: (when no case has every word) more of the words; a case whose text
        # shows every word it matched before one where a word matched only in its title,
        # keywords or figure text (a typed ヘルパー in a figure's label is less of an answer
        # than 訪問介護 in a paragraph); every word as typed, then through synonyms, through
        # related words, by its parts; then the score.
        outside = self._outside_text(docs, r.doc_groups, n_groups)
        together = np.zeros(len(corpus.cases), dtype=bool)
        if n_groups > 1:
            full = np.uint64((1 << n_groups) - 1)
            together[corpus.doc_case[passage_docs[r.doc_groups[passage_docs] == full]]] = True
        rank = np.lexsort(
            (
                ranked_cases,
                -case_scores,
                ~together[ranked_cases],
                r.case_tier[ranked_cases],
                outside[ranked_cases] != 0,
                -r.groups_in_case[ranked_cases],
            )
        )
        ranked_cases, case_scores = ranked_cases[rank], case_scores[rank]
        facets = self._facets(r.doc_scores, r.matching, filters, ranked_cases, passage_docs)
        start = (page - 1) * page_size
        words = r.parsed.words + tuple(w for g in r.groups for w in g if w not in r.parsed.words)
        hits = [
            self._case_hit(
                int(i), float(score), passage_docs, r, words, int(outside[i]), bool(together[i])
            )
            for i, score in zip(
                ranked_cases[start : start + page_size],
                case_scores[start : start + page_size],
                strict=True,
            )
        ]
        if r.fallback and r.fallback.endswith("or"):  # each hit says which words it has, and how
            related = {x.word: x.words for x in relaxed if x.kind == "related"}
            for k, hit in enumerate(hits):
                tiers = r.group_tier[:, int(ranked_cases[start + k])]
                hits[k] = replace(hit, partial=_held(r.groups, tiers, related))
        return SearchResult(
            query=text,
            total=len(ranked_cases),
            hits=tuple(hits),
            facets=facets,
            fallback=r.fallback,
            page=page,
            page_size=page_size,
            filters=dict(filters),
            expansions=self._expansions(r.parsed, relaxed),
            relaxed=relaxed,
            excluded=tuple(w.text for w in r.parsed.excluded),
            exact=r.parsed.exact,
        )

    def _outside_text(self, docs: np.ndarray, doc_groups: np.ndarray, n_groups: int) -> np.ndarray:
        """Per case, the groups of words (bit g: group g) that its scored documents matched
        only outside its passages: in its title, keywords or figure text."""
        corpus, n_cases = self.corpus, len(self.corpus.cases)
        in_passage = corpus.doc_section[docs] != 0
        if n_groups == 1:  # the same result without the bitwise pass: no passage matched
            text = np.zeros(n_cases, dtype=bool)
            text[corpus.doc_case[docs[in_passage]]] = True
            return (~text).astype(np.uint64)
        anywhere = np.zeros(n_cases, dtype=np.uint64)
        np.bitwise_or.at(anywhere, corpus.doc_case[docs], doc_groups[docs])
        text = np.zeros(n_cases, dtype=np.uint64)
        passages = docs[in_passage]
        np.bitwise_or.at(text, corpus.doc_case[passages], doc_groups[passages])
        return anywhere & ~text

    def _filtered_docs(
        self, doc_scores: np.ndarray, matching: np.ndarray, filters: Filters
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scored documents of the cases that match and pass the filters, their passages)."""
        corpus = self.corpus
        case_ok = matching
        if any(FACET_BY_KEY[k].values is not None for k in filters):
            case_ok = matching & self.facets.passes(filters)
        docs = np.flatnonzero(doc_scores)
        docs = docs[(corpus.doc_case[docs] >= 0)]
        docs = docs[case_ok[corpus.doc_case[docs]]]
        passage_docs = docs[corpus.doc_section[docs] != 0]
        sections = filters.get("section")
        if sections:
            codes = [corpus.sections.index(section) for section in sections]
            passage_docs = passage_docs[np.isin(corpus.doc_section[passage_docs], codes)]
            case_ok = np.zeros(len(corpus.cases), dtype=bool)
            case_ok[corpus.doc_case[passage_docs]] = True
            docs = docs[case_ok[corpus.doc_case[docs]]]
        return docs, passage_docs

    def _facets(
        self,
        doc_scores: np.ndarray,
        matching: np.ndarray,
        filters: Filters,
        ranked_cases: np.ndarray,
        passage_docs: np.ndarray,
    ) -> dict[str, dict[str, int]]:
        """Facet counts. A facet that is filtered counts over the results of the other
        filters, so its other values say how many cases choosing them too would add."""
        facets = self.facets.counts(ranked_cases, self._section_counts(passage_docs))
        for key in filters:
            others = {k: v for k, v in filters.items() if k != key}
            docs, passages = self._filtered_docs(doc_scores, matching, others)
            cases = np.flatnonzero(np.bincount(self.corpus.doc_case[docs], minlength=1))
            facets[key] = self.facets.counts(cases, self._section_counts(passages))[key]
        return facets

    def _section_counts(self, passage_docs: np.ndarray) -> Counter:
        """In how many of the cases each section holds a matching passage."""
        corpus, n = self.corpus, len(self.corpus.sections)
        pairs = np.zeros(len(corpus.cases) * n, dtype=bool)
        pairs[corpus.doc_case[passage_docs] * n + corpus.doc_section[passage_docs]] = True
        counts = np.bincount(np.flatnonzero(pairs) % n, minlength=n)
        return Counter({corpus.sections[int(k)]: int(c) for k, c in enumerate(counts) if c})

    def _case_hit(
        self,
        i: int,
        score: float,
        passage_docs: np.ndarray,
        r: Ranking,
        words: tuple[QueryWord, ...],
        outside: int,
        together: bool = False,  # a partial match holds only some of the words
    ) -> CaseHit:
        """A case with the passages where the query matched, and where the words that no
        passage holds matched instead (its title and keywords, or figure text)."""
        corpus, limit = self.corpus, self.settings.passages_per_case
        mine = passage_docs[corpus.doc_case[passage_docs] == i]
        weighted = r.doc_scores[mine] * self.shown_weight[corpus.doc_section[mine]]
        mine = mine[passage_order(weighted, r.doc_tier[mine], r.doc_groups[mine])]
        shown = [
            (float(r.doc_scores[d]), d, p)
            for d in covering(mine, r.doc_groups, limit)
            if (p := corpus.passage(corpus.doc_ids[d])) is not None
        ]
        case = corpus.case(i)
        matched_in, elsewhere, tags = "text", (), ()
        if outside or not shown:  # the case document matched: its title, bodies or figures
            doc = corpus.doc_number(case.id, i)
            groups = [g for k, g in enumerate(r.groups) if (outside >> k) & 1]
            found = [w for g in groups for w in g] or list(words)
            places = {
                _named(w): place
                for w in found
                if doc is not None and (place := self.highlighter.place(case, doc, w))
            }
            order = list(MATCHED_IN_LABELS)
            matched_in = min(places.values(), key=order.index, default="figure")
            elsewhere = tuple(places.items()) if shown else ()
            if matched_in in ("title", "place") and not shown and doc is not None:
                tags = self.highlighter.tags(case, doc, found)
        return CaseHit(
            case=case,
            score=round(score, 4),
            passages=tuple(
                PassageHit(p, round(s, 4), self.highlighter.passage_snippet(d, p, words))
                for s, d, p in shown
            ),
            tier=int(r.case_tier[i]) or 1,
            matched_in=matched_in,
            elsewhere=elsewhere,
            tags=tags,
            together=together,
        )


class Ranking(NamedTuple):
    """What the words scored, for ranking and showing the cases."""

    parsed: ParsedQuery
    groups: list[tuple[QueryWord, ...]]
    doc_scores: np.ndarray
    doc_groups: np.ndarray  # per document: bit g set when it matched group g
    matching: np.ndarray  # per case
    case_tier: np.ndarray  # per case: the latest tier it needed
    groups_in_case: np.ndarray
    fallback: str | None
    doc_tier: np.ndarray  # per document: the latest tier it needed for a word it matched
    group_tier: np.ndarray  # per group of words and case: the tier it needed (NO_TIER: absent)


def _per_case(group_tier: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """From each group's tier per case (NO_TIER: absent): how many groups each case has, and
    the latest tier it needed for one of them (0 where it has none)."""
    present = group_tier < NO_TIER
    return present.sum(axis=0), np.where(present, group_tier, 0).max(axis=0, initial=0)


def _held(
    groups: list[tuple[QueryWord, ...]],
    tiers: np.ndarray,
    related: Mapping[str, tuple[str, ...]] | None = None,
    *,
    parts_are_words: bool = True,
) -> PartialMatch:
    """How a case holds each group of words, from its tier per group: as typed, through a
    synonym, through a related word (`related`: what it was searched as), or not at all. In
    the any-word fallback a part searched for a compound found nowhere (支援 of ケアマネ支援,
    said so above the hits) is held as a word of its own (`parts_are_words`); a partial hit
    says what it holds at the later tiers itself (`Searcher._held_by`)."""
    names = [_group_name(group) for group in groups]
    at: dict[int, list[int]] = {}
    for k, t in enumerate(tiers.tolist()):
        at.setdefault(TIERS["exact"] if parts_are_words and t == TIERS["parts"] else t, []).append(
            k
        )
    return PartialMatch(
        has=tuple(names[k] for k in at.get(TIERS["exact"], ())),
        synonyms=tuple(names[k] for k in at.get(TIERS["synonym"], ())),
        related=tuple(
            (names[k], (related or {}).get(names[k], ())) for k in at.get(TIERS["related"], ())
        ),
        lacks=tuple(names[k] for k in at.get(NO_TIER, ())),
    )


def _group_name(group: tuple[QueryWord, ...]) -> str:
    """Words joined by OR, as a notice names them: 認知症」または「ICT (inside 「…」)."""
    return "」または「".join(w.text for w in group)


def _named(word: QueryWord) -> str:
    """A query word as a hit names it: 通いの場の関連語 when related words stood in for it."""
    if word.variants and all(v.via == "related" for v in word.variants):
        return f"{word.text}の関連語"
    return word.text
