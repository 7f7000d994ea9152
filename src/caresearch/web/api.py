"""The JSON API: the same shapes as the CLI's --json (see serialize.py). Errors are JSON too,
rendered by the app's one error handler.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request

from .. import serialize
from ..config import is_on, limit_from
from ..engine import Engine
from ..errors import QueryError
from ..models import FILTER_KEYS

bp = Blueprint("api", __name__)

# The parameters each endpoint reads (query string; for recommend, the JSON body's keys): any
# other is a 400 that names the usable ones, not a filter silently dropped (pref=東京都).
PARAMETERS: dict[str, tuple[str, ...]] = {
    "api.search": ("q", "page", "limit", "exact", *FILTER_KEYS),
    "api.recommend": ("text", "limit"),
    "api.cases": (),
    "api.case": (),
    "api.similar": ("limit",),
    "api.lessons": ("theme", "prefecture", "kind"),
}


@bp.before_request
def _known_parameters() -> None:
    usable = PARAMETERS.get(request.endpoint or "")
    if usable is None:
        return
    given = list(request.args)
    if request.endpoint == "api.recommend" and isinstance(
        body := request.get_json(silent=True), dict
    ):
        given += list(body)
    unknown = [k for k in dict.fromkeys(given) if k not in usable]
    if unknown:
        raise QueryError(
            f"使えないパラメータです: {'、'.join(unknown)}"
            f"（使えるもの: {'、'.join(usable) or 'なし'}）。"
        )


def _engine() -> Engine:
    return current_app.extensions["caresearch"].get()


def _int(value: Any, name: str, default: int | None) -> int | None:
    """An integer parameter within its limit in config.LIMITS (else a 400)."""
    if value is None or value == "":
        return default
    return limit_from(name, value)


@bp.get("/search")
def search():
    args = request.args
    filters = {k: args.getlist(k) for k in FILTER_KEYS if args.get(k)}
    page = _int(args.get("page"), "page", 1)
    limit = _int(args.get("limit"), "limit", None)
    exact = is_on(args.get("exact"))  # only the words as typed, as on the page
    result = _engine().search(
        args.get("q", ""), filters=filters, page=page, page_size=limit, exact=exact
    )
    return jsonify(serialize.search_result(result))


@bp.post("/recommend")
def recommend():
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise QueryError('JSON のオブジェクト（例: {"text": "…"}）を送ってください。')
    text = data.get("text")
    if not isinstance(text, str) or not text.strip():
        raise QueryError("text に課題の内容を文字列で入れてください。")
    limit = _int(data.get("limit"), "limit", 5)
    return jsonify(serialize.recommendation(_engine().recommend(text, limit=limit)))


@bp.get("/cases")
def cases():
    items = _engine().case_infos
    return jsonify({"total": len(items), "cases": [serialize.case_summary(c) for c in items]})


@bp.get("/cases/<case_id>")
def case(case_id: str):
    return jsonify(serialize.case_detail(_engine().case(case_id)))


@bp.get("/cases/<case_id>/similar")
def similar(case_id: str):
    engine = _engine()
    case = engine.case(case_id)
    limit = _int(request.args.get("limit"), "limit", 5)
    return jsonify(serialize.similar(case, engine.similar(case_id, limit=limit)))


@bp.get("/lessons")
def lessons():
    args = request.args
    items = _engine().lessons(
        theme=args.get("theme") or None,
        prefecture=args.get("prefecture") or None,
        kind=args.get("kind") or None,
    )
    return jsonify(
        {"total": len(items), "lessons": [serialize.lesson_dict(lesson) for _c, lesson in items]}
    )
