"""HTML pages. Each view reads the request, makes one engine call and hands finished data
to its template. Snippets are the only HTML that comes from the engine (escaped text plus
<mark>); they alone are marked safe here. Everything else is escaped by Jinja.

The handout's pages are in handout.py (their own blueprint, `handout`).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from flask import (
    Blueprint,
    current_app,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from markupsafe import Markup

from .. import serialize
from ..config import is_on, limit_from
from ..engine import Engine
from ..errors import NotFound, QueryError
from ..models import (
    AUDIENCE_LABELS,
    CONFIDENCE_LABELS,
    FACET_BY_KEY,
    FACETS,
    FIGURES_ID,
    FILTER_KEYS,
    OVERVIEW_LABELS,
    SECTION_LABELS,
    Case,
    CaseHit,
    CaseInfo,
    Lesson,
    Passage,
    SearchResult,
)
from ..querysyntax import split_query
from ..render import (
    FIGURES_NOTE,
    figures_note,
    source_line,
)

bp = Blueprint("pages", __name__)

EXCERPT_CHARS = 90
CHOICE_TITLE_CHARS = 24  # a title in a list to choose from, cut after this many characters
SHORT_QUERY_CHARS = 4  # a query no longer than this is not asked to be shorter
SHOWN_PLACES = 12  # towns named on the first page; more are counted (ほか 9988 市区町村)
CASE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
# Who a lesson speaks to, as the lessons page names it (Lesson.audience).
LESSON_AUDIENCES = {
    "region": "地域",
    "municipality": "自治体",
    "starter": "これから取り組む皆さまへ",
}
PROBLEM_EXAMPLE = (
    "例: ひとり暮らしの高齢者が増えているが、見守りの担い手が足りない。"
    "ケアマネと民生委員の情報共有もうまくいっていない。"
)


def current_engine() -> Engine:
    """The app's engine (the current build's, under a server that follows rebuilds)."""
    return current_app.extensions["caresearch"].get()


# --- helpers that turn result objects into template data -------------------------------------


def _case_url(case_id: str, anchor: str | None = None, **query: Any) -> str:
    return url_for("pages.case", case_id=case_id, _anchor=anchor, **query)


def item_label(item: Lesson | Passage, *, heading: bool = True) -> str:
    """The section of a lesson or passage as people read it (with its heading, unless not)."""
    if isinstance(item, Lesson):
        kind, audience, title = item.kind, item.audience, None
    else:
        kind, audience, title = item.section, None, item.heading
    label = SECTION_LABELS.get(kind, kind)
    if kind == "key_point" and audience in AUDIENCE_LABELS:
        label += f"（{AUDIENCE_LABELS[audience]}）"
    if heading and title:
        label += f": {title}" if kind != "content" else f": 【{title}】"
    return label


def _answer(case: Case, item: Lesson | Passage, snippet: str) -> dict[str, Any]:
    """An answer: its section (with and without heading), marked excerpt, first words, place."""
    start = text = " ".join(item.text.split())
    if len(text) > EXCERPT_CHARS and not snippet:
        text = text[:EXCERPT_CHARS] + "…"
    return {
        "id": item.id,
        # The engine escapes the excerpt and adds only <mark>: safe to render as is.
        "text": Markup(snippet) if snippet else text,
        "label": item_label(item),
        "section": item_label(item, heading=False),
        "start": start,
        "kind": item.kind if isinstance(item, Lesson) else item.section,
        "case": case,
        "url": _case_url(case.id, item.id),
    }


def _filters_from(args) -> dict[str, list[str]]:
    """The facet filters of the query string: a key may repeat (any of its values)."""
    out: dict[str, list[str]] = {}
    for key in FILTER_KEYS:
        values = [v.strip() for v in args.getlist(key) if v.strip()]
        if values:
            out[key] = list(dict.fromkeys(values))
    return out


def _int_arg(name: str, default: int) -> int:
    """An integer query parameter within its limit in config.LIMITS (else a QueryError)."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    return limit_from(name, raw)


def _search_url(q: str, filters: Mapping[str, Sequence[str]], page: int | None = None) -> str:
    params: dict[str, Any] = {"q": q or None, **{k: list(v) for k, v in filters.items()}}
    if page and page > 1:
        params["page"] = page
    return url_for("pages.search", **{k: v for k, v in params.items() if v})


def _facets(result: SearchResult, q: str) -> list[dict[str, Any]]:
    """The filters worth offering: a value that would change nothing (every result has it) is
    left out, and so is a facet left with nothing to choose. Values of a facet combine with OR,
    so each facet lists all of its values (地域 北海道 too, though 都道府県 北海道 picks the same
    cases: two users could not choose 北海道 or 東北 without it)."""
    groups = []
    for facet in FACETS:
        key = facet.key
        counts = dict(result.facets.get(key, {}))
        chosen = result.filters.get(key, ())
        for value in chosen:
            counts.setdefault(value, 0)
        items = []
        for value, count in counts.items():
            selected = value in chosen
            useless = not count or (
                facet.values is not None and not chosen and count >= result.total
            )
            if useless and not selected:
                continue
            others = [v for v in chosen if v != value]
            filters = {k: list(v) for k, v in result.filters.items()}
            filters[key] = others if selected else [*chosen, value]
            label = SECTION_LABELS.get(value, value) if key == "section" else value
            items.append(
                {
                    "value": value,
                    "label": label,
                    "count": count,
                    "selected": selected,
                    "url": _search_url(q, {k: v for k, v in filters.items() if v}),
                }
            )
        if items and (chosen or len(items) > 1 or facet.values is not None):
            groups.append({"key": key, "label": facet.label, "items": items})
    return groups


def _paging(result: SearchResult, q: str) -> dict[str, Any] | None:
    pages = math.ceil(result.total / result.page_size) if result.page_size else 1
    if pages <= 1:
        return None
    page = result.page
    numbers = range(max(1, page - 4), min(pages, page + 4) + 1)
    return {
        "page": page,
        "pages": pages,
        # past the end, the previous page is the last one
        "prev": _search_url(q, result.filters, min(page - 1, pages)) if page > 1 else None,
        "next": _search_url(q, result.filters, page + 1) if page < pages else None,
        "numbers": [(n, _search_url(q, result.filters, n), n == page) for n in numbers],
    }


def _without_exclusions(q: str) -> str:
    """The query as typed without its -語 / NOT 語 (for 「除外せずに探す」)."""
    out: list[str] = []
    for term in split_query(q):
        if term.negated:
            continue
        if term.joins_previous and out:
            out.append("OR")
        out.append(f'"{term.text}"' if term.quoted else term.text)
    return " ".join(out)


def _hits(hits: Sequence[CaseHit], query: dict[str, Any]) -> list[dict[str, Any]]:
    """Hits as shown, linking to case pages that mark the search's words (`query`)."""
    return [
        {
            "case": hit.case,
            "url": _case_url(hit.case.id, **query),
            "matched_note": serialize.matched_note(hit),
            # a match in figure text links to the figure text the case page shows
            "figure_url": _case_url(hit.case.id, FIGURES_ID, **query)
            if "figure" in (hit.matched_in, *(place for _w, place in hit.elsewhere))
            else None,
            "holds": serialize.held_note(hit.partial),
            "passages": [
                {
                    "id": ph.passage.id,
                    "passage": ph.passage,  # its section_label, heading and text
                    # The engine escapes the text and adds only <mark>: the one safe string.
                    "snippet": Markup(ph.snippet),
                    "url": _case_url(hit.case.id, ph.passage.id, **query),
                }
                for ph in hit.passages
            ],
        }
        for hit in hits
    ]


# --- views -----------------------------------------------------------------------------------


@bp.get("/favicon.ico")
def favicon():
    return send_from_directory(current_app.static_folder or "", "favicon.ico")


@bp.get("/")
def index():
    engine = current_engine()
    infos = engine.case_infos
    return render_template(
        "index.html",
        cases=infos,
        sources=list(dict.fromkeys(c.source for c in infos if c.source)),
        # each town once (a town's own 事例集 has several cases), the first few of many
        places=list(dict.fromkeys(f"{c.prefecture}{c.municipality}" for c in infos)),
        shown_places=SHOWN_PLACES,
        figures_note=figures_note(infos),
        themes=engine.themes,
        example=PROBLEM_EXAMPLE,
        nav="index",
    )


@bp.get("/search")
def search():
    engine = current_engine()
    q = request.args.get("q", "").strip()
    filters = _filters_from(request.args)
    active = [
        (FACET_BY_KEY[k].label, SECTION_LABELS.get(v, v) if k == "section" else v)
        for k, values in filters.items()
        for v in values
    ]
    context: dict[str, Any] = {"q": q, "filters": filters, "active": active}
    context.update(themes=engine.themes, nav="search")
    try:
        if not q:
            browse = engine.browse(filters) if filters else None
            return render_template("search.html", browse=browse, **context)
        page = _int_arg("page", 1)
        exact = is_on(request.args.get("exact"))
        result = engine.search(q, filters=filters, page=page, exact=exact)
        searched = {"q": q, "exact": 1 if exact else None}  # what the case pages mark
    except QueryError as exc:
        html = render_template("search.html", error=exc.message, **context)
        return html, exc.http_status
    return render_template(
        "search.html",
        result=result,
        hits=_hits(result.hits, searched),
        partial=_hits(result.partial, searched),
        partial_note=serialize.partial_note(result),
        facets=_facets(result, q),
        paging=_paging(result, q),
        suggestions=[(x.instead, _search_url(x.query, filters)) for x in result.suggestions],
        clear_url=_search_url(q, {}),
        notice=serialize.search_notice(result),
        expansions=serialize.expansions(result),
        exact_url=url_for("pages.search", q=q, exact=1, **filters),
        loose_url=_search_url(q, filters),
        first_page_url=_search_url(q, filters),
        unexcluded_url=_search_url(_without_exclusions(q), filters) if result.excluded else None,
        # 「言葉を短くするか」 only of a query that can be shorter (not of 見守, typed or pasted)
        ask_shorter=len(result.query.strip()) > SHORT_QUERY_CHARS,
        **context,
    )


@bp.route("/recommend", methods=["GET", "POST"])
def recommend():
    engine = current_engine()
    source = request.form if request.method == "POST" else request.args
    text = source.get("text", "")
    context: dict[str, Any] = {"text": text, "example": PROBLEM_EXAMPLE, "nav": "recommend"}
    if request.method == "GET" and not text.strip():
        return render_template("recommend.html", **context)
    try:
        rec = engine.recommend(text)
    except QueryError as exc:
        return render_template("recommend.html", error=exc.message, **context), exc.http_status
    cases = [
        {
            "case": cr.case,
            "url": _case_url(cr.case.id),
            "confidence": cr.confidence,
            "confidence_label": CONFIDENCE_LABELS.get(cr.confidence, cr.confidence),
            # the main words (those the reason line counts) first and marked
            "matched": sorted(
                (
                    (m.label, m.via != "parts" and m.query_term in rec.specific_words)
                    for m in cr.matched_terms
                ),
                key=lambda x: not x[1],
            ),
            "reason": cr.reason,
            "answers": [_answer(cr.case, sl.lesson, sl.snippet) for sl in cr.lessons[:3]],
            "unmarked": serialize.passages_notice(cr),
        }
        for cr in rec.cases
    ]
    share_url = url_for("pages.recommend", text=rec.query) if len(rec.query) <= 500 else None
    return render_template(
        "recommend.html",
        rec=rec,
        cases=cases,
        share_url=share_url,
        notice=serialize.recommendation_notice(rec),
        partial=serialize.partial_match_notice(
            rec.no_strong_match, [cr.confidence for cr in rec.cases]
        ),
        **context,
    )


@bp.get("/cases/<case_id>")
def case(case_id: str):
    engine = current_engine()
    if not CASE_ID.match(case_id):
        raise NotFound(f"事例が見つかりません: {case_id}")
    c, q = engine.case(case_id), request.args.get("q", "").strip()
    found = engine.case_marks(case_id, q, exact=is_on(request.args.get("exact"))) if q else {}
    return render_template(
        "case.html",
        case=c,
        # opened from a search: the lines of the passages with its words, marked (escaped + <mark>)
        marks={pid: tuple(map(Markup, lines)) for pid, lines in found.items()},
        figures_id=FIGURES_ID,
        similar=engine.similar(case_id),
        labels=SECTION_LABELS,
        audience_labels=AUDIENCE_LABELS,
        overview_labels=OVERVIEW_LABELS,
        figures_note=FIGURES_NOTE,
        source=source_line(c),
        lesson_themes=engine.lesson_themes,
        nav="case",
    )


@bp.get("/lessons")
def lessons():
    engine = current_engine()
    args = request.args
    chosen = {
        name: args.get(name, "").strip()
        for name in ("theme", "case", "audience", "prefecture", "kind")
    }
    context: dict[str, Any] = {
        "themes": engine.lesson_themes,
        "case_themes": engine.themes,  # a theme of cases no lesson carries (認知症) is one too
        "cases": _case_choices(engine.case_infos),
        "audiences": LESSON_AUDIENCES,
        "chosen": chosen,
        "filtered": any(chosen.values()),
        "nav": "lessons",
    }
    try:
        items = engine.lessons(**{k: v or None for k, v in chosen.items()})
    except QueryError as exc:
        return render_template("lessons.html", error=exc.message, groups=[], **context), 400
    groups: dict[str, dict[str, Any]] = {}
    for c, lesson in items:
        group = groups.setdefault(c.id, {"case": c, "url": _case_url(c.id), "rows": []})
        group["rows"].append(
            {
                "lesson": lesson,
                "label": item_label(lesson)
                if lesson.kind == "key_point"
                else LESSON_AUDIENCES["starter"],
                "url": _case_url(c.id, lesson.id),
            }
        )
    return render_template(
        "lessons.html",
        groups=list(groups.values()),
        total=len(items),
        no_lessons=serialize.no_lessons(chosen["theme"], engine.lesson_themes),
        theme_cases_url=url_for("pages.search", theme=chosen["theme"]) if chosen["theme"] else None,
        **context,
    )


def _case_choices(infos: Sequence[CaseInfo]) -> list[tuple[str, str]]:
    """(id, label) of each case for a list to choose from: its place, and its title too where
    the place is another case's as well (a town's own collection: 長野県 緑ヶ丘町 three times)."""
    places = Counter(c.name for c in infos)
    out = []
    for c in infos:
        title = c.title[:CHOICE_TITLE_CHARS] + ("…" if len(c.title) > CHOICE_TITLE_CHARS else "")
        out.append((c.id, c.name if places[c.name] == 1 else f"{c.name}「{title}」"))
    return out
