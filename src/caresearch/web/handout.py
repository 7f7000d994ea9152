"""The handout pages: the basket shown as a meeting handout, and its Markdown and Word
downloads.

Every lesson and passage carries a checkbox named `item` (its passage id; a case id stands
for the case in brief) inside a GET form to /handout, so a handout works without JavaScript.
web/static/app.js turns the checkboxes into 「配布資料に追加」 buttons that keep the basket in
localStorage; the handout page posts its items, memos, title, meeting and date to
/handout.md and /handout.docx.
"""

from __future__ import annotations

import datetime
import io
import re

from flask import Blueprint, Response, render_template, request, send_file, url_for

from ..engine import Engine
from ..errors import NotFound, QueryError
from ..models import Lesson, Passage
from ..querysyntax import INVISIBLE_CHARS
from ..render import (
    Handout,
    HandoutItem,
    case_brief,
    figures_note,
    handout_docx,
    handout_markdown,
    handout_sources,
    item_paragraphs,
)
from .pages import CASE_ID, current_engine, item_label

bp = Blueprint("handout", __name__)

HANDOUT_TITLE = "地域包括ケア 取り組みのヒント（配布資料）"
MAX_HANDOUT_ITEMS = 100
MAX_TITLE_CHARS = 100  # title and meeting name
MAX_MEMO_CHARS = 1000
DATE = re.compile(r"^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])$", re.ASCII)
# what the page's date field takes: its year cannot be typed past four digits (it took 20255,
# and the server's 400 page replaced the handout)
DATE_RANGE = ("2000-01-01", "2099-12-31")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tab and line ends are fine


DOCX_MIMETYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _item_ids(source) -> list[str]:
    """Chosen ids in order, duplicates dropped: `item` (any passage or case), and the older
    `lesson`/`case` checkboxes and comma-joined `lessons`/`cases`."""
    values: list[str] = []
    for name in ("item", "lesson", "case"):
        values.extend(source.getlist(name))
    for name in ("lessons", "cases"):
        for raw in source.getlist(name):
            values.extend(raw.split(","))
    out = list(dict.fromkeys(v.strip() for v in values if v.strip()))
    if len(out) > MAX_HANDOUT_ITEMS:
        raise QueryError(f"一度に選べるのは{MAX_HANDOUT_ITEMS}件までです。")
    return out


def _handout_item(engine: Engine, item_id: str, memo: str = "") -> HandoutItem:
    """A chosen id as a handout item (NotFound when no case or passage has it)."""
    if not CASE_ID.match(item_id):
        raise NotFound(f"選んだ項目が見つかりません: {item_id}")
    if engine.has_case(item_id):
        case = engine.case(item_id)
        return HandoutItem(case, None, case_brief(case)[0], memo)
    try:
        passage = engine.passage(item_id)
    except NotFound:
        raise NotFound(f"選んだ項目が見つかりません: {item_id}") from None
    case = engine.case(passage.case_id)
    item: Lesson | Passage = passage
    if passage.section in ("key_point", "suggestion"):
        item = engine.lesson(passage.id)[1]
    label = item_label(item)
    if passage.section == "suggestion":
        label = case.suggestions_label
    return HandoutItem(case, passage, label, memo)


def _text_field(form, name: str, label: str, limit: int, default: str = "") -> str:
    value = " ".join(form.get(name, "").split()) or default
    if len(value) > limit:
        raise QueryError(f"{label}は{limit}文字までにしてください。")
    if CONTROL.search(value):
        raise QueryError("入力に使えない文字（制御文字など）が含まれています。")
    return value


def _posted_handout(engine: Engine) -> Handout:
    """The handout the handout page posts: ids must exist, sizes are bounded (else 400)."""
    form = request.form
    ids = _item_ids(form)
    if not ids:
        raise QueryError("配布資料に入れる項目を選んでください。")
    memos = form.getlist("memo")
    if len(memos) > len(ids):
        raise QueryError("メモの数が項目の数と合いません。")
    items = []
    for i, item_id in enumerate(ids):
        # a browser sends a textarea's lines apart by \r\n: one break each, in every download
        memo = memos[i].strip().replace("\r\n", "\n").replace("\r", "\n") if i < len(memos) else ""
        if len(memo) > MAX_MEMO_CHARS:
            raise QueryError(f"メモは1項目{MAX_MEMO_CHARS}文字までにしてください。")
        if CONTROL.search(memo):
            raise QueryError("メモに使えない文字（制御文字など）が含まれています。")
        try:
            items.append(_handout_item(engine, item_id, memo))
        except NotFound:
            raise QueryError(f"選んだ項目が見つかりません: {item_id[:64]}") from None
    date = form.get("date", "").strip()
    if date and not (
        DATE.match(date) and _real_date(date) and DATE_RANGE[0] <= date <= DATE_RANGE[1]
    ):
        raise QueryError(
            f"日付は {DATE_RANGE[0]} から {DATE_RANGE[1]} までの日を 2025-04-01 の形で指定してください。"
        )
    return Handout(
        title=_text_field(form, "title", "題名", MAX_TITLE_CHARS, HANDOUT_TITLE),
        meeting=_text_field(form, "meeting", "会議名", MAX_TITLE_CHARS),
        date=date,
        items=tuple(items),
    )


# Characters a file name cannot hold on Windows (or anywhere), runs of space, and those that
# show nothing or turn the text around (資料\u202excod.md would read as …docx.md)
_NOT_IN_FILE_NAMES = re.compile(f'[\\\\/:*?"<>|\x00-\x1f\\s{INVISIBLE_CHARS}]+')
_RESERVED_NAMES = re.compile(r"(?:CON|PRN|AUX|NUL|COM\d|LPT\d)", re.IGNORECASE)  # on Windows
FILE_NAME_CHARS = 80  # of the title in a file name; the date and suffix follow it whole
# The handout's downloads: writer and media type per file suffix
_DOWNLOADS = {".md": (handout_markdown, "text/markdown"), ".docx": (handout_docx, DOCX_MIMETYPE)}


def _download(handout: Handout, suffix: str) -> Response:
    """The handout as a file named by its title and date (第2回_推進会議_2025-04-01.docx; the
    title alone by default), not caresearch-handout.docx, which said nothing in a folder."""
    write, mimetype = _DOWNLOADS[suffix]
    data = write(handout)
    title = _NOT_IN_FILE_NAMES.sub("_", handout.title).strip("._")[:FILE_NAME_CHARS]
    if not title or _RESERVED_NAMES.fullmatch(title):
        title = f"{title}_handout".strip("_")
    return send_file(
        io.BytesIO(data.encode("utf-8") if isinstance(data, str) else data),
        mimetype=mimetype,
        as_attachment=True,
        download_name="_".join(filter(None, (title, handout.date))) + suffix,
    )


@bp.get("/handout")
def page():
    engine = current_engine()
    ids = _item_ids(request.args)
    items = _existing_items(engine, ids, basket=bool(request.args.get("basket")))
    dropped = len(ids) - len(items)
    sources, sources_note = handout_sources([item.case for item in items])
    rows = []
    for i, (item, source) in enumerate(zip(items, sources, strict=True)):
        paragraphs = item_paragraphs(item)
        rows.append(
            {
                "id": item.case.id if item.passage is None else item.passage.id,
                "item": item,
                "paragraphs": paragraphs,
                # names (上へ, メモ, 削除): its section in short and its first words, which
                # tell apart three lessons of one section
                "section": "事例の概要"
                if item.passage is None
                else item_label(item.passage, heading=False),
                "opening": " ".join(paragraphs).lstrip("・ "),
                "source": source,
                "new_case": i > 0 and items[i - 1].case.id != item.case.id,
            }
        )
    return render_template(
        "handout.html",
        title=HANDOUT_TITLE,
        rows=rows,
        figures_note=figures_note(item.case for item in items),
        sources_note=sources_note,
        max_title=MAX_TITLE_CHARS,
        max_memo=MAX_MEMO_CHARS,
        min_date=DATE_RANGE[0],
        max_date=DATE_RANGE[1],
        dropped=dropped,
        nav="handout",
    )


def _existing_items(engine: Engine, ids: list[str], basket: bool = False) -> list[HandoutItem]:
    """The chosen items that exist: what no longer does (a saved basket, an old link) is
    dropped (the page says so); a link to nothing that exists is a 404, a basket may be empty."""
    items = []
    for item_id in ids:
        try:
            items.append(_handout_item(engine, item_id))
        except NotFound:
            continue
    if ids and not items and not basket:
        raise NotFound(f"選んだ項目が見つかりません: {ids[0][:64]}")
    return items


def _linked_handout() -> Handout:
    """A handout given in the address (the older links; no memos)."""
    items = tuple(_existing_items(current_engine(), _item_ids(request.args)))
    if not items:
        raise QueryError("配布資料に入れる事例か教訓を選んでください。")
    return Handout(HANDOUT_TITLE, items)


@bp.errorhandler(QueryError)
def refused(exc: QueryError):
    """What a download the handout page sent cannot hold (a date the field let through in a
    browser without script): the app's error page, with the way back to the handout."""
    from . import render_error  # the app's one error page (the package imports this module)

    if request.method != "POST":
        return render_error(exc)
    ids = [i for i in dict.fromkeys(request.form.getlist("item")) if CASE_ID.match(i)]
    back = url_for("handout.page", item=ids[:MAX_HANDOUT_ITEMS], basket=1 if ids else None)
    hint = "ブラウザの「戻る」で戻ると、入力した題名・メモのまま直せます。"
    return render_error(exc, back=(back, "配布資料に戻る", hint))


@bp.get("/handout.md")
def md():
    return _download(_linked_handout(), ".md")


@bp.get("/handout.docx")
def docx():
    return _download(_linked_handout(), ".docx")


@bp.post("/handout.md")
def md_post():
    return _download(_posted_handout(current_engine()), ".md")


@bp.post("/handout.docx")
def docx_post():
    return _download(_posted_handout(current_engine()), ".docx")


def _real_date(text: str) -> bool:
    """Whether YYYY-MM-DD names a day of the calendar (not 2025-02-31)."""
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return True
