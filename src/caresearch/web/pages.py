"""HTML pages. Each view reads the request, makes one engine call and hands finished data
to its template. Snippets are the only HTML that comes from the engine (escaped text plus
<mark>); they alone are marked safe here. Everything else is escaped by Jinja.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from flask import Blueprint, Response, current_app, render_template, request, url_for
from markupsafe import Markup

from ..config import check_limit
from ..engine import Engine
from ..errors import NotFound, QueryError
from ..models import (
    AUDIENCE_LABELS,
    CONFIDENCE_LABELS,
    FACET_BY_KEY,
    FACETS,
    FILTER_KEYS,
    LESSON_KINDS,
    SECTION_LABELS,
    Case,
    Lesson,
    Passage,
    SearchResult,
)
from ..render import FIGURES_NOTE, handout_markdown

bp = Blueprint("pages", __name__)

KIND_LABELS = {kind: SECTION_LABELS[kind] for kind in LESSON_KINDS}
HANDOUT_TITLE = "地域包括ケア 取り組みのヒント（配布資料）"
MAX_HANDOUT_ITEMS = 100
EXCERPT_CHARS = 90
CASE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
PROBLEM_EXAMPLE = (
    "例: ひとり暮らしの高齢者が増えているが、見守りの担い手が足りない。"
    "ケアマネと民生委員の情報共有もうまくいっていない。"
)


def _engine() -> Engine:
    return current_app.extensions["caresearch"].get()


# --- helpers that turn result objects into template data -------------------------------------


def _case_url(case_id: str, anchor: str | None = None) -> str:
    return url_for("pages.case", case_id=case_id, _anchor=anchor)


def _lesson_label(item: Lesson | Passage) -> str:
    if isinstance(item, Lesson):
        kind, audience = item.kind, item.audience
    else:
        kind, audience = item.section, None
    label = SECTION_LABELS.get(kind, kind)
    if kind == "key_point" and audience in AUDIENCE_LABELS:
        label += f"（{AUDIENCE_LABELS[audience]}）"
    return label


def _lesson_item(
    engine: Engine, item: Lesson | Passage, snippet: str | None = None
) -> dict[str, Any]:
    """A lesson or passage as the templates show it: text (or the engine's marked excerpt),
    label, case and its link."""
    case = engine.case(item.case_id)
    if isinstance(item, Passage) and item.section in KIND_LABELS:
        try:
            _case, lesson = engine.lesson(item.id)
            item = lesson
        except NotFound:  # pragma: no cover - lesson passages always resolve
            pass
    is_lesson = isinstance(item, Lesson)
    heading = None if is_lesson else item.heading
    text = " ".join(item.text.split())
    if not is_lesson and len(text) > EXCERPT_CHARS:  # a long section: a taste, then the link
        text = text[:EXCERPT_CHARS] + "…"
    return {
        "id": item.id,
        # The engine escapes the excerpt and adds only <mark>: safe to render as is.
        "text": Markup(snippet) if snippet else text,
        "heading": heading,
        "label": _lesson_label(item),
        "kind": item.kind if is_lesson else item.section,
        "case": case,
        "url": _case_url(case.id, item.id),
        "pickable": is_lesson,
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
    return check_limit(name, int(raw) if raw.isdigit() else -1)


def _search_url(q: str, filters: Mapping[str, Sequence[str]], page: int | None = None) -> str:
    params: dict[str, Any] = {"q": q or None, **{k: list(v) for k, v in filters.items()}}
    if page and page > 1:
        params["page"] = page
    return url_for("pages.search", **{k: v for k, v in params.items() if v})


def _facets(result: SearchResult, q: str) -> list[dict[str, Any]]:
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
            filters = {k: list(v) for k, v in result.filters.items()}
            others = [v for v in chosen if v != value]
            filters[key] = others if selected else [*chosen, value]
            filters = {k: v for k, v in filters.items() if v}
            label = SECTION_LABELS.get(value, value) if key == "section" else value
            items.append(
                {
                    "label": label,
                    "count": count,
                    "selected": selected,
                    "url": _search_url(q, filters),
                }
            )
        if items:
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
        "prev": _search_url(q, result.filters, page - 1) if page > 1 else None,
        "next": _search_url(q, result.filters, page + 1) if page < pages else None,
        "numbers": [(n, _search_url(q, result.filters, n), n == page) for n in numbers],
    }


def _hits(result: SearchResult) -> list[dict[str, Any]]:
    return [
        {
            "case": hit.case,
            "url": _case_url(hit.case.id),
            "passages": [
                {
                    "label": ph.passage.section_label,
                    "heading": ph.passage.heading,
                    # The engine escapes the text and adds only <mark>: the one safe string.
                    "snippet": Markup(ph.snippet),
                    "url": _case_url(hit.case.id, ph.passage.id),
                }
                for ph in hit.passages
            ],
        }
        for hit in result.hits
    ]


def _ids(single: str, joined: str) -> list[str]:
    values = request.args.getlist(single)
    for raw in request.args.getlist(joined):
        values.extend(raw.split(","))
    out = list(dict.fromkeys(v.strip() for v in values if v.strip()))
    if len(out) > MAX_HANDOUT_ITEMS:
        raise QueryError(f"一度に選べるのは{MAX_HANDOUT_ITEMS}件までです。")
    return out


# --- views -----------------------------------------------------------------------------------


@bp.get("/")
def index():
    engine = _engine()
    return render_template(
        "index.html",
        cases=engine.case_infos,
        themes=engine.themes,
        example=PROBLEM_EXAMPLE,
        nav="index",
    )


@bp.get("/search")
def search():
    engine = _engine()
    q = request.args.get("q", "").strip()
    filters = _filters_from(request.args)
    active = [
        (FACET_BY_KEY[k].label, SECTION_LABELS.get(v, v) if k == "section" else v)
        for k, values in filters.items()
        for v in values
    ]
    context: dict[str, Any] = {
        "q": q,
        "filters": filters,
        "active": active,
        "themes": engine.themes,
        "nav": "search",
    }
    try:
        if not q:
            browse = engine.browse(filters) if filters else None
            return render_template("search.html", browse=browse, **context)
        page = _int_arg("page", 1)
        result = engine.search(q, filters=filters, page=page)
    except QueryError as exc:
        html = render_template("search.html", error=exc.message, **context)
        return html, exc.http_status
    return render_template(
        "search.html",
        result=result,
        hits=_hits(result),
        facets=_facets(result, q),
        paging=_paging(result, q),
        suggestions=engine.synonym_suggestions(q) if not result.total else (),
        clear_url=_search_url(q, {}),
        **context,
    )


@bp.route("/recommend", methods=["GET", "POST"])
def recommend():
    engine = _engine()
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
            "matched": [
                m.query_term if m.query_term == m.case_term else f"{m.query_term} → {m.case_term}"
                for m in cr.matched_terms
            ],
            "reason": cr.reason,
            "lessons": [_lesson_item(engine, sl.lesson, sl.snippet) for sl in cr.lessons],
        }
        for cr in rec.cases
    ]
    share_url = url_for("pages.recommend", text=rec.query) if len(rec.query) <= 500 else None
    return render_template(
        "recommend.html",
        rec=rec,
        cases=cases,
        lessons=[_lesson_item(engine, sl.lesson, sl.snippet) for sl in rec.lessons],
        share_url=share_url,
        **context,
    )


@bp.get("/cases/<case_id>")
def case(case_id: str):
    engine = _engine()
    if not CASE_ID.match(case_id):
        raise NotFound(f"事例が見つかりません: {case_id}")
    c = engine.case(case_id)
    return render_template(
        "case.html",
        case=c,
        similar=engine.similar(case_id),
        labels=SECTION_LABELS,
        audience_labels=AUDIENCE_LABELS,
        figures_note=FIGURES_NOTE,
        nav="case",
    )


@bp.get("/lessons")
def lessons():
    engine = _engine()
    theme = request.args.get("theme", "").strip()
    prefecture = request.args.get("prefecture", "").strip()
    kind = request.args.get("kind", "").strip()
    prefectures = list(dict.fromkeys(c.prefecture for c in engine.case_infos))
    context: dict[str, Any] = {
        "themes": engine.themes,
        "prefectures": prefectures,
        "kinds": KIND_LABELS,
        "theme": theme,
        "prefecture": prefecture,
        "kind": kind,
        "nav": "lessons",
    }
    try:
        items = engine.lessons(
            theme=theme or None, prefecture=prefecture or None, kind=kind or None
        )
    except QueryError as exc:
        return render_template("lessons.html", error=exc.message, groups=[], **context), 400
    groups = []
    for t in [theme] if theme else engine.themes:
        rows = [
            {
                "case": c,
                "lesson": lesson,
                "label": _lesson_label(lesson),
                "url": _case_url(c.id, lesson.id),
            }
            for c, lesson in items
            if t in c.themes
        ]
        if rows:
            groups.append({"theme": t, "rows": rows})
    return render_template("lessons.html", groups=groups, total=len(items), **context)


def _handout_items(engine: Engine) -> tuple[list[Case], list[tuple[Case, Lesson]]]:
    lessons = [engine.lesson(i) for i in _ids("lesson", "lessons")]
    cases = [engine.case(i) for i in _ids("case", "cases")]
    return cases, lessons


@bp.get("/handout")
def handout():
    engine = _engine()
    cases, lessons = _handout_items(engine)
    md_url = None
    if cases or lessons:
        md_url = url_for(
            "pages.handout_md",
            lessons=",".join(lesson.id for _c, lesson in lessons) or None,
            cases=",".join(c.id for c in cases) or None,
        )
    return render_template(
        "handout.html",
        title=HANDOUT_TITLE,
        cases=cases,
        lessons=[
            {"case": c, "lesson": lesson, "label": _lesson_label(lesson)} for c, lesson in lessons
        ],
        md_url=md_url,
        figures_note=FIGURES_NOTE,
        nav="handout",
    )


@bp.get("/handout.md")
def handout_md():
    engine = _engine()
    cases, lessons = _handout_items(engine)
    if not cases and not lessons:
        raise QueryError("配布資料に入れる事例か教訓を選んでください。")
    text = handout_markdown(HANDOUT_TITLE, cases, lessons)
    return Response(
        text,
        mimetype="text/markdown",
        headers={"Content-Disposition": 'attachment; filename="caresearch-handout.md"'},
    )
