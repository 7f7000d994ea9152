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

# The parameters each endpoint reads: the query string's, and for recommend the JSON body's keys
# (its query string takes none). Any other, or a one-valued one given twice, is a 400 that names
# the usable ones, not a filter silently dropped (pref=東京都). The filters may repeat (any of them).
PARAMETERS: dict[str, tuple[str, ...]] = {
    "api.search": ("q", "page", "limit", "exact", *FILTER_KEYS),
    "api.recommend": ("text", "limit"),
    "api.cases": (),
    "api.case": (),
    "api.similar": ("limit",),
    "api.lessons": ("theme", "prefecture", "kind"),
}
REPEATABLE = frozenset(FILTER_KEYS)


@bp.before_request
def _known_parameters() -> None:
    usable = PARAMETERS.get(request.endpoint or "")
    if usable is None or request.method == "OPTIONS":
        return
    given = [k for k, _v in request.args.items(multi=True)]
    if request.endpoint == "api.recommend":
        if given:
            raise QueryError(
                f"アドレスのパラメータは使えません: {_names(given)}。"
                f"JSON の本文（{'、'.join(usable)}）で送ってください。"
            )
        body = _json_body()
        given = list(body) if isinstance(body, dict) else []
    unknown = [k for k in given if k not in usable]
    twice = [
        k
        for k in request.args
        if k in usable and k not in REPEATABLE and len(request.args.getlist(k)) > 1
    ]
    usable_names = "、".join(usable) or "なし"
    if unknown:
        raise QueryError(
            f"使えないパラメータです: {_names(unknown)}（使えるもの: {usable_names}）。"
        )
    if twice:
        raise QueryError(f"一度だけ指定できるパラメータです: {'、'.join(twice)}。")


def _json_body() -> Any:
    """The request's JSON body, or None when it is none (not JSON, or nested too deeply to
    read: a 1 KB body of 990 brackets was a RecursionError and a 500)."""
    try:
        return request.get_json(silent=True)
    except RecursionError:
        return None


def _names(keys: list[str]) -> str:
    return "、".join(f"「{k}」" for k in dict.fromkeys(keys))


def _engine() -> Engine:
    return current_app.extensions["caresearch"].get()


def _int(value: Any, name: str, default: int | None) -> int | None:
    """An integer parameter within its limit in config.LIMITS (else a 400 that names it, as the
    CLI names its option)."""
    if value is None or value == "":
        return default
    try:
        return limit_from(name, value)
    except QueryError as exc:
        raise QueryError(f"{name}: {exc.message}") from None


@bp.get("/search")
def search():
    args = request.args
    # every value of a key (check_filters drops the empty ones: prefecture=&prefecture=北海道)
    filters = {k: args.getlist(k) for k in FILTER_KEYS if k in args}
    page = _int(args.get("page"), "page", 1)
    limit = _int(args.get("limit"), "limit", None)
    exact = is_on(args.get("exact"))  # only the words as typed, as on the page
    result = _engine().search(
        args.get("q", ""), filters=filters, page=page, page_size=limit, exact=exact
    )
    return jsonify(serialize.search_result(result))


@bp.post("/recommend")
def recommend():
    data = _json_body()
    if not isinstance(data, dict):
        how = "" if request.is_json else "Content-Type: application/json を付けて、"
        raise QueryError(f'{how}JSON のオブジェクト（例: {{"text": "…"}}）を送ってください。')
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
    # by its id or its municipality, as `caresearch show` reads it (/api/cases/当別町)
    return jsonify(serialize.case_detail(_engine().find_case(case_id)))


@bp.get("/cases/<case_id>/similar")
def similar(case_id: str):
    engine = _engine()
    case = engine.find_case(case_id)
    limit = _int(request.args.get("limit"), "limit", 5)
    return jsonify(serialize.similar(case, engine.similar(case.id, limit=limit)))


@bp.get("/lessons")
def lessons():
    args = request.args
    engine = _engine()
    theme = args.getlist("theme") or None
    items = engine.lessons(
        theme=theme, prefecture=args.getlist("prefecture") or None, kind=args.get("kind") or None
    )
    return jsonify(serialize.lessons(items, theme, engine.lesson_themes))
