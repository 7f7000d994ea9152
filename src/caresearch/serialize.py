"""Result objects → JSON-ready dicts: one shape for the CLI's --json and the HTTP API."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from .models import (
    MATCHED_IN_LABELS,
    NO_CASE_FOR_WORDS,
    NO_CASE_ONLY_GENERAL,
    NO_LESSONS,
    NO_LESSONS_FOR_THEME,
    NO_PASSAGE_HOLDS,
    NO_STRONG_MATCH,
    PARTIAL_COUNT,
    PARTIAL_MATCH,
    PARTIAL_NOTE,
    PAST_THE_END,
    RELAXATIONS,
    TIER_NAMES,
    Case,
    CaseHit,
    CaseInfo,
    CaseRecommendation,
    Lesson,
    PartialMatch,
    Passage,
    Recommendation,
    ScoredLesson,
    SearchResult,
    SimilarCase,
)


def case_summary(case: Case | CaseInfo) -> dict[str, Any]:
    return {
        "case_id": case.id,
        "municipality": case.municipality,
        "prefecture": case.prefecture,
        "region": case.region,
        "title": case.title,
        "themes": list(case.themes),
        "keywords": list(case.keywords),
    }


def case_detail(case: Case) -> dict[str, Any]:
    data = _plain(dataclasses.asdict(case))
    data["case_id"] = data.pop("id")
    data["overview"] = dict(case.overview)
    data["lessons"] = [lesson_dict(lesson) for lesson in case.lessons]
    return data


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def passage_dict(p: Passage, snippet: str | None = None) -> dict[str, Any]:
    out = {"id": p.id, "case_id": p.case_id, "section": p.section, "text": p.text}
    if p.heading:
        out["heading"] = p.heading
    if snippet is not None:
        out["snippet"] = snippet
    return out


def lesson_dict(item: Lesson | Passage, score: float | None = None) -> dict[str, Any]:
    kind = item.kind if isinstance(item, Lesson) else item.section
    out: dict[str, Any] = {"id": item.id, "case_id": item.case_id, "kind": kind, "text": item.text}
    if isinstance(item, Lesson):
        out["audience"] = item.audience
        out["themes"] = list(item.themes)
    if score is not None:
        out["score"] = score
    return out


def scored_lesson(sl: ScoredLesson) -> dict[str, Any]:
    """A passage offered as an answer: the lesson keys, plus its section, the spans of `text`
    where the description matched, and a marked excerpt."""
    out = lesson_dict(sl.lesson, sl.score)
    item = sl.lesson
    out["section"] = item.kind if isinstance(item, Lesson) else item.section
    if isinstance(item, Passage) and item.heading:
        out["heading"] = item.heading
    out["highlights"] = [list(span) for span in sl.highlights]
    out["snippet"] = sl.snippet
    return out


def _case_head(c: Case) -> dict[str, Any]:
    """The keys every case in a result list starts with."""
    return {
        "case_id": c.id,
        "municipality": c.municipality,
        "prefecture": c.prefecture,
        "title": c.title,
    }


def case_hit(hit: CaseHit) -> dict[str, Any]:
    return {
        **_case_head(hit.case),
        "score": hit.score,
        "tier": TIER_NAMES[hit.tier],
        "matched_in": hit.matched_in,
        "together": hit.together,
        "elsewhere": [{"word": w, "in": place} for w, place in hit.elsewhere],
        "matched_note": matched_note(hit),
        "passages": [passage_dict(ph.passage, ph.snippet) for ph in hit.passages],
        **({"holds": held_note(hit.partial)} if hit.partial else {}),
    }


def matched_note(hit: CaseHit) -> str | None:
    """Where a hit matched when not every word is in a shown passage: 「図表中の語句に一致」,
    or, when passages show the other words, 「「買い物」は図表中の語句にのみ一致」 (each place
    with its words: 「「服薬」は図表中の語句、「ICT」はタイトル・キーワード・テーマにのみ一致」)."""
    if hit.matched_in == "text":
        return None
    if not hit.elsewhere:
        where = "、".join(hit.tags) or MATCHED_IN_LABELS[hit.matched_in]
        return f"{where}に一致"
    by_place: dict[str, list[str]] = {}
    for word, place in hit.elsewhere:
        by_place.setdefault(place, []).append(f"「{word}」")
    parts = [
        f"{'、'.join(words)}は{MATCHED_IN_LABELS[place]}"
        for place in MATCHED_IN_LABELS
        if (words := by_place.get(place))
    ]
    return f"{'、'.join(parts)}にのみ一致"


def search_result(r: SearchResult) -> dict[str, Any]:
    return {
        "query": r.query,
        "total": r.total,
        "fallback": r.fallback,
        "page": r.page,
        "page_size": r.page_size,
        "filters": {k: list(v) for k, v in r.filters.items()},
        "hits": [case_hit(h) for h in r.hits],
        "facets": r.facets,
        "exact": r.exact,
        "expansions": expansions(r),
        "relaxed": [{"word": x.word, x.kind: list(x.words)} for x in r.relaxed],
        "excluded": list(r.excluded),
        "nowhere": list(r.nowhere),
        "notice": search_notice(r),
        "partial": [case_hit(h) for h in r.partial],
        "partial_total": r.partial_total,
        "partial_note": partial_note(r),
        "suggestions": [x._asdict() for x in r.suggestions],
    }


def partial_note(r: SearchResult) -> str | None:
    """What the partial matches after the full ones are (None when there are none)."""
    if not r.partial:
        return None
    shown = len(r.partial)
    count = (
        "" if shown == r.partial_total else PARTIAL_COUNT.format(total=r.partial_total, shown=shown)
    )
    note = PARTIAL_NOTE.format(full="以上です" if r.total else "ありません", count=count)
    return f"絞り込みの中で、{note}" if r.filters else note


def held_note(held: PartialMatch | None) -> str | None:
    """What a partial match holds of the query's words: 「「見守り」を含みます。「認知症」は含みません。」,
    「「買い物」は含みませんが、関連する語（生活支援）を含みます。」, 「「地域ケア会議」は語の一部（地域、
    ケア、会議）が別々に出てきます。」"""
    if held is None:
        return None
    notes = []
    if held.has:
        notes.append(f"「{'」「'.join(held.has)}」を含みます。")
    if held.synonyms:
        notes.append(f"「{'」「'.join(held.synonyms)}」を同じ意味の語で含みます。")
    for word, related in held.related:
        notes.append(f"「{word}」は含みませんが、関連する語（{'、'.join(related)}）を含みます。")
    for word, parts in held.parts:
        notes.append(f"「{word}」は語の一部（{'、'.join(parts)}）が別々に出てきます。")
    if held.lacks:
        notes.append(f"「{'」「'.join(held.lacks)}」は含みません。")
    return "".join(notes)


def expansions(r: SearchResult) -> list[dict[str, Any]]:
    """Per query word, what else it was searched as, each with its tier."""
    out: dict[str, list[dict[str, str]]] = {}
    for e in r.expansions:
        out.setdefault(e.word, []).append({"label": e.label, "tier": e.tier})
    return [{"word": w, "expansions": v} for w, v in out.items()]


def search_notice(r: SearchResult) -> str | None:
    """The one Japanese sentence that says what the results are, when they are not a plain
    match of every word: the words no case contains, and what was shown instead."""
    also = "" if r.exact else "（同じ意味の語を含む）"  # exact mode excludes the words as typed
    excluded = (
        f"「{'」「'.join(r.excluded)}」{also}を含む事例は除いています。" if r.excluded else ""
    )
    nowhere = f"「{'」「'.join(r.nowhere)}」を含む事例はありません。" if r.nowhere else ""
    if not r.total:
        return (nowhere + excluded) or None  # nothing left: the reader needs most to know why
    notes = []
    if not r.hits:  # a page past the end
        notes.append(PAST_THE_END.format(total=r.total))
    for x in r.relaxed:
        instead = RELAXATIONS[x.kind]
        notes.append(
            f"「{x.word}」を含む事例はありません。{instead}（{'、'.join(x.words)}）を含む事例を表示しています。"
        )
    if nowhere:  # 認知症 虐待: 虐待 is in no case, so only 認知症 is found
        notes.append(nowhere)
    # (not of one word asked, 遠距離介護: the OR is of its parts, which the line above names)
    if r.fallback and r.fallback.endswith("or") and r.words_asked > 1:
        notes.append("すべての語を含む事例がないため、いずれかの語を含む事例を表示しています。")
    return "".join([*notes, excluded]) or None


def case_recommendation(cr: CaseRecommendation) -> dict[str, Any]:
    return {
        **_case_head(cr.case),
        "score": cr.score,
        "confidence": cr.confidence,
        "reason": cr.reason,
        "matched_terms": [
            {"query": m.query_term, "case": m.case_term, "via": m.via} for m in cr.matched_terms
        ],
        "lessons": [scored_lesson(sl) for sl in cr.lessons],
        "notice": passages_notice(cr),
    }


def passages_notice(cr: CaseRecommendation) -> str | None:
    """What to say over a case's passages when none holds a word of the description (its key
    points stand in); None when one does."""
    if cr.lessons and not any(sl.highlights for sl in cr.lessons):
        return NO_PASSAGE_HOLDS
    return None


def recommendation_notice(r: Recommendation) -> str | None:
    """What to say when no case is offered, or none matches strongly (None otherwise)."""
    if r.cases:
        return NO_STRONG_MATCH if r.no_strong_match else None
    if not r.specific_words:
        return NO_CASE_ONLY_GENERAL
    return NO_CASE_FOR_WORDS.format(words="、".join(r.specific_words))


def partial_match_notice(no_strong_match: bool, levels: Sequence[str]) -> str | None:
    """What to say above cases that all read 低 although the match is strong (None otherwise)."""
    return PARTIAL_MATCH if not no_strong_match and levels and levels[0] == "low" else None


def recommendation(r: Recommendation) -> dict[str, Any]:
    return {
        "query": r.query,
        "no_strong_match": r.no_strong_match,
        # ... or that every case is 低 under a strong match (the page says it beside the count)
        "notice": recommendation_notice(r)
        or partial_match_notice(r.no_strong_match, [c.confidence for c in r.cases]),
        "coverage": r.coverage,
        "cases": [case_recommendation(c) for c in r.cases],
        "lessons": [scored_lesson(sl) for sl in r.lessons],
    }


def similar(case: Case, items: tuple[SimilarCase, ...]) -> dict[str, Any]:
    return {
        "case_id": case.id,
        "similar": [
            {
                **case_summary(s.case),
                "score": s.score,
                "shared_themes": list(s.shared_themes),
                "shared_terms": list(s.shared_terms),
            }
            for s in items
        ],
    }


def lessons(
    items: Sequence[tuple[Any, Lesson]], theme: str | Sequence[str] | None, carried: Sequence[str]
) -> dict[str, Any]:
    """A list of lessons, and what an empty one says (`no_lessons`)."""
    return {
        "total": len(items),
        "lessons": [lesson_dict(lesson) for _case, lesson in items],
        "notice": None if items else no_lessons(theme, carried),
    }


def no_lessons(theme: str | Sequence[str] | None, carried: Sequence[str]) -> str:
    """What an empty list of lessons says: that no lesson carries the chosen theme (a theme of
    cases only, `carried` being the themes some lesson has), or that nothing matched."""
    chosen = [theme] if isinstance(theme, str) else list(theme or ())
    if chosen and not set(chosen) & set(carried):
        return NO_LESSONS_FOR_THEME.format(themes="」「".join(chosen))
    return NO_LESSONS
