"""The web app: HTML blueprints (`pages`, and `handout` for the handout page and its
downloads) and a JSON blueprint (`api`) over one Engine.

`create_app(engine, overrides)` builds the app; nothing here holds an app or an engine at
import time. Templates and static files live in the top-level `web/` folder. Errors are
translated in one place: JSON under /api, a Japanese page elsewhere. Query text is never logged.
"""

from __future__ import annotations

import errno
import logging
import re
import time
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote_to_bytes, urlencode

from flask import Flask, Response, current_app, g, jsonify, redirect, render_template, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestURITooLarge

from .. import querysyntax
from ..config import Settings
from ..engine import Engine, LiveEngine
from ..errors import CaresearchError, QueryError, SettingError
from . import api, handout, pages

__all__ = ["SERVER_OPTIONS", "WEB_DIR", "create_app", "make_server"]


def _web_dir() -> Path:
    """The project's web/ folder in a checkout; the caresearch.assets package in a wheel."""
    top = Path(__file__).resolve().parents[3] / "web"
    if (top / "templates").is_dir():
        return top
    return Path(str(resources.files("caresearch.assets")))


WEB_DIR = _web_dir()
MAX_CONTENT_LENGTH = 64 * 1024  # a request body (the problem form, the JSON API): else 413
# A query string: a 4,000-character problem sent by GET is about 36 KB percent-encoded. Else 414,
# checked before any view runs. (waitress itself refuses request headers over 256 KB with 431.)
MAX_QUERY_STRING = 64 * 1024
# waitress spools a whole request body (up to 1 GB by default) before the app sees it. Cap it
# above the app's own 64 KB limit, so a 1 MB post still gets the app's 413 page or JSON.
SERVER_OPTIONS: dict[str, Any] = {"max_request_body_size": 2 * 1024 * 1024, "ident": "caresearch"}

# Shift_JIS read from an address: what no text holds (controls, vendor characters: %80, %FF)
_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ue000-\uf8ff]")
# ... and what text cut short inside its last UTF-8 character starts with
_CUT_AFTER = re.compile("[ -~\u3000-\u30ff\u4e00-\u9fff\uff01-\uff9f]+")

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

ERROR_TITLES = {
    400: "入力を確認してください",
    404: "ページが見つかりません",
    405: "この操作はできません",
    413: "入力が大きすぎます",
    414: "入力が大きすぎます",
    500: "問題が発生しました",
    503: "検索の準備ができていません",
}
ERROR_MESSAGES = {
    400: "リクエストの内容を確認してください。",
    404: "お探しのページは見つかりませんでした。アドレスを確認するか、トップページからお探しください。",
    405: "このページではその操作はできません。",
    413: "送信された内容が大きすぎます。短くまとめてから、もう一度お試しください。",
    414: "アドレス（URL）が長すぎます。入力を短くまとめてから、もう一度お試しください。",
    500: "内部で問題が発生しました。時間をおいて、もう一度お試しください。",
    503: "検索索引の準備ができていません。管理者に連絡してください。",
}


log = logging.getLogger("caresearch.web")
HOST_HINT = (
    "--host にはこのコンピューターのアドレスを指定してください（既定は 127.0.0.1。"
    "庁内の他の端末からも使うなら 0.0.0.0）。"
)


def create_app(
    engine: Engine | LiveEngine | None = None, overrides: Mapping | None = None
) -> Flask:
    """The app over `engine` (an open Engine, or a LiveEngine that follows rebuilds)."""
    app = Flask(
        __name__,
        template_folder=str(WEB_DIR / "templates"),
        static_folder=str(WEB_DIR / "static"),
        static_url_path="/static",
    )
    app.config.update(
        MAX_CONTENT_LENGTH=MAX_CONTENT_LENGTH,
        MAX_QUERY_STRING=MAX_QUERY_STRING,
        JSON_AS_ASCII=False,
        DEBUG=False,
    )
    app.config.from_mapping(overrides or {})
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    # keys in the order the CLI's --json has them: facet values most cases first (sorted, they
    # came in the order of their characters)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    if engine is None:
        engine = LiveEngine(Settings.from_env())
    elif isinstance(engine, Engine):
        engine = LiveEngine(engine.settings, engine)
    app.extensions["caresearch"] = engine
    app.register_blueprint(pages.bp)
    app.register_blueprint(handout.bp)
    app.register_blueprint(api.bp, url_prefix="/api")
    app.register_error_handler(CaresearchError, render_error)
    app.register_error_handler(HTTPException, render_error)
    app.before_request(_start_timer)
    app.before_request(_check_query_string)
    app.after_request(add_security_headers)
    app.after_request(_log_request)
    app.context_processor(_limits)
    app.jinja_env.tests["sentence"] = querysyntax.reads_as_sentence
    return app


def _limits() -> dict[str, int]:
    """What every page may say of the input limits (the settings the server applies)."""
    settings = current_app.extensions["caresearch"].settings
    return {"max_query_chars": settings.max_query_chars, "max_text_chars": settings.max_text_chars}


def _start_timer() -> None:
    g.started = time.perf_counter()


def _check_query_string() -> Response | None:
    query = request.query_string
    if len(query) > current_app.config["MAX_QUERY_STRING"]:
        raise RequestURITooLarge()
    if b"%" not in query or _utf8(unquote_to_bytes(query.replace(b"+", b" "))):
        return None
    # An address percent-encoded in Shift_JIS (a link on an older intranet page) redirects to
    # the same page at its UTF-8 address; anything else cannot be read, and says so.
    legacy = _shift_jis_pairs(query)
    if legacy is None or request.method not in ("GET", "HEAD"):
        raise QueryError(
            "アドレス（URL）の文字を読み取れませんでした。検索語を入力し直してください。"
        )
    return redirect(f"{quote(request.script_root + request.path)}?{urlencode(legacy)}", code=301)


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _shift_jis_pairs(query: bytes) -> list[tuple[str, str]] | None:
    """The query's (name, value) pairs, each read as UTF-8 or else as Shift_JIS; None when one
    reads as neither, or as UTF-8 cut short after Japanese text (認知%E7%97: 症 lost its last
    byte). The two readings overlap: bytes that are both (%E8%AA alone, the start of 認 and the
    Shift_JIS 隱) are read as Shift_JIS."""
    pairs = []
    for chunk in query.split(b"&"):
        if chunk:
            name, _eq, value = chunk.partition(b"=")
            fields = [_field(unquote_to_bytes(x.replace(b"+", b" "))) for x in (name, value)]
            if fields[0] is None or fields[1] is None:
                return None
            pairs.append((fields[0], fields[1]))
    return pairs


def _field(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.reason == "unexpected end of data" and _CUT_AFTER.fullmatch(
            raw[: e.start].decode("utf-8", "replace")
        ):
            return None
    try:
        text = raw.decode("cp932")
    except UnicodeDecodeError:
        return None
    return None if _NOT_TEXT.search(text) else text  # %FF, %80: no character of text


def _log_request(response: Response) -> Response:
    # Method, path, status and time only: query strings and bodies can hold residents' details.
    started = g.get("started")
    ms = (time.perf_counter() - started) * 1000 if started else 0.0
    log.info("%s %s %s %.1fms", request.method, request.path, response.status_code, ms)
    return response


def add_security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def render_error(exc: Exception, back: tuple[str, str, str] | None = None):
    """The one error handler: JSON under /api, a Japanese page elsewhere; `back` is (address,
    link text, hint) of the page to go back to (a blueprint's handler names it)."""
    if isinstance(exc, CaresearchError):
        status, message = exc.http_status, exc.message
    elif isinstance(exc, HTTPException):
        status = exc.code or 500
        message = ERROR_MESSAGES.get(status, exc.name)
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            # say what works: /api/recommend takes a POST of {"text": …}
            usable = sorted(m for m in exc.valid_methods if m not in ("HEAD", "OPTIONS"))
            message = f"{message.rstrip('。')}（使える方法: {'、'.join(usable)}）。"
            if request.path == "/api/recommend":
                message += 'JSON {"text": "課題の内容"} を POST してください。'
    else:  # pragma: no cover - only registered for the two classes above
        status, message = 500, ERROR_MESSAGES[500]
    if status >= 500 and not isinstance(exc, CaresearchError):
        message = ERROR_MESSAGES.get(status, ERROR_MESSAGES[500])
    if request.path == "/api" or request.path.startswith("/api/"):
        response = jsonify({"error": {"status": status, "message": message}})
        response.status_code = status
    else:
        title = ERROR_TITLES.get(status, ERROR_TITLES[500])
        html = render_template("error.html", status=status, title=title, message=message, back=back)
        response = Response(html, status=status, mimetype="text/html")
    if isinstance(exc, HTTPException) and status == 405:
        valid = exc.get_response().headers.get("Allow")
        if valid:
            response.headers["Allow"] = valid
    return response


def listening_at(host: str, port: int) -> str:
    """Where to open the pages, as a person types it: an IPv6 address in brackets, and for
    every address of the computer (0.0.0.0, ::) this computer's own and the others' way in."""
    host = host.strip("[]")
    # waitress listens on :: for IPv6 alone: this computer is [::1] there, not 127.0.0.1
    here = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "[::1]"}
    if host in here:
        others = f"庁内の他の端末からは http://このPCのIPアドレス:{port}/"
        return f"http://{here[host]}:{port}/（このPC。{others}）"
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def make_server(app: Flask, *, host: str, port: int, threads: int) -> Any:
    """The waitress server for `app` with its socket bound, ready to `run()`. A port that is
    taken or not allowed, or an address this computer does not have, is a SettingError that
    says what to do, raised before anyone is told the server is listening."""
    import waitress

    if not 1 <= port <= 65535:
        raise SettingError(f"ポート番号は 1〜65535 で指定してください（指定されたのは {port}）。")
    try:
        return waitress.create_server(app, host=host, port=port, threads=threads, **SERVER_OPTIONS)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            other = port + 1 if port < 65535 else 8001
            message = (
                f"ポート {port} は、ほかのプログラム（すでに起動している caresearch serve など）が"
                f"使っています。--port で別のポートを指定する（例: --port {other}）か、"
                "そのプログラムを止めてから起動し直してください。"
            )
        elif exc.errno == errno.EACCES:
            message = (
                f"ポート {port} で待ち受ける権限がありません（1024 未満のポートには管理者の権限が"
                "要ります）。--port で 1024 以上のポートを指定してください（例: --port 8000）。"
            )
        elif exc.errno == errno.EADDRNOTAVAIL:
            message = f"{host} はこのコンピューターのアドレスではありません。{HOST_HINT}"
        else:
            message = (
                f"{host} のポート {port} で待ち受けられません（エラー番号 {exc.errno}）。"
                "--host と --port を確かめてください。"
            )
        raise SettingError(message) from None
    except ValueError:  # waitress: a host that is not an address and cannot be resolved
        raise SettingError(f"{host} で待ち受けられません。{HOST_HINT}") from None
