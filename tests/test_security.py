"""Security: XSS payloads stay inert on every page, safe defaults, no query text in the logs.

The payloads (tests/data/xss_payloads.txt, one per line) go into queries, problem descriptions,
ids in URLs, and into a corpus built in tmp (titles, features, key points, suggestions,
keywords, headings, prefectures and municipalities). Every HTML page is parsed: each element
and attribute must be one our templates write, links stay on this site, and the only <mark>s
are ours, bare and holding text only.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qsl, quote, quote_from_bytes, urlsplit

import pytest
import yaml

from caresearch import cli
from caresearch.config import PROJECT_ROOT, Settings
from caresearch.corpus import validate_corpus
from caresearch.engine import Engine
from caresearch.web import MAX_CONTENT_LENGTH, MAX_QUERY_STRING, create_app

DATA = Path(__file__).parent / "data"
PAYLOADS = [
    line
    for line in (DATA / "xss_payloads.txt").read_text(encoding="utf-8").splitlines()
    if line.strip()
]
N_CASES = 6

# What our templates write (web/templates): anything else in a page came from data.
TEMPLATE_TAGS = {
    "a", "article", "aside", "body", "button", "dd", "details", "div", "dl", "dt", "footer",
    "form", "h1", "h2", "h3", "h4", "head", "header", "html", "input", "label", "li", "link",
    "main", "mark", "meta", "nav", "ol", "option", "p", "script", "section", "select", "span",
    "strong", "summary", "textarea", "title", "ul", "fieldset", "legend",
}  # fmt: skip
TEMPLATE_ATTRS = {
    "action", "aria-current", "aria-describedby", "aria-hidden", "aria-label", "aria-labelledby",
    "autofocus", "charset", "class", "content", "defer", "download", "for", "href", "id", "lang",
    "maxlength", "method", "name", "placeholder", "rel", "role", "rows", "selected", "src",
    "tabindex", "type", "value", "checked", "data-copy-link", "hidden", "formaction",
    "aria-invalid", "disabled", "min", "max",
    # the handout basket and the folded filters (web/static/app.js)
    "data-basket-count", "data-pick", "data-what", "data-button", "data-handout-bar",
    "data-max-chars", "data-submit-keys",
    "data-fold-wide",
    "data-handout-form", "data-handout-field", "data-handout-actions", "data-handout-items",
    "data-handout-empty", "data-handout-count", "data-item", "data-case", "data-memo", "data-print",
    "data-memo-print", "data-order-hint",
}  # fmt: skip
URL_ATTRS = {"href", "src", "action", "formaction"}
FOREIGN_TAGS = re.compile(
    r"<\s*/?\s*(img|svg|iframe|object|embed|style|math|base|video|audio|source|marquee|frame"
    r"|frameset|applet|table|animate|mtext|mglyph|x)\b",
    re.I,
)


class InertCheck(HTMLParser):
    """Every tag and attribute is one of ours; URLs are local; <mark> is bare and text only."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.in_mark = 0
        self.marks = 0

    def handle_starttag(self, tag, attrs):
        if self.in_mark:
            self.problems.append(f"<{tag}> inside <mark>")
        if tag not in TEMPLATE_TAGS:
            self.problems.append(f"foreign element <{tag}>")
        for name, value in attrs:
            if name.startswith("on") or name not in TEMPLATE_ATTRS:
                self.problems.append(f"foreign attribute {name}= on <{tag}>")
            if name in URL_ATTRS:
                v = re.sub(r"[\x00-\x20]", "", value or "")
                if not v.startswith(("/", "#", "?")) or v.startswith("//"):
                    self.problems.append(f"non-local URL {name}={value!r} on <{tag}>")
        if tag == "mark":
            self.marks += 1
            self.in_mark += 1
            if attrs:
                self.problems.append(f"<mark> with attributes {attrs}")
        if tag == "script" and dict(attrs).get("src", "") != "/static/app.js":
            self.problems.append(f"<script> {attrs}")
        if tag == "meta" and not {n for n, _v in attrs} <= {"charset", "name", "content"}:
            self.problems.append(f"<meta> {attrs}")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag == "mark":
            self.in_mark -= 1

    def handle_endtag(self, tag):
        if tag == "mark":
            self.in_mark = max(0, self.in_mark - 1)

    def handle_comment(self, data):
        self.problems.append(f"comment <!--{data}-->")

    def handle_decl(self, decl):
        if decl.lower() != "doctype html":
            self.problems.append(f"declaration <!{decl}>")

    def unknown_decl(self, data):
        self.problems.append(f"declaration <![{data}]>")

    def handle_pi(self, data):
        self.problems.append(f"processing instruction <?{data}>")


def assert_inert(html: str, where: str = "") -> InertCheck:
    check = InertCheck()
    check.feed(html)
    check.close()
    assert check.problems == [], where
    assert not FOREIGN_TAGS.search(html), (where, FOREIGN_TAGS.search(html))
    assert len(re.findall(r"<script", html, re.I)) == 1, where
    assert len(re.findall(r"<body", html, re.I)) == 1, where
    assert html.count("<mark") == html.count("<mark>") == check.marks, where
    # javascript: may appear inside a local URL's query string (percent-encoded data), never
    # at the start of a URL attribute: InertCheck allows only /, # and ? there.
    return check


def assert_inert_markdown(md: str) -> None:
    """Markdown keeps user text as text: no raw HTML, links or images."""
    assert not re.search(r"(?<!\\)<", md), md
    assert not re.search(r"(?<!\\)\]\(", md), md


# --- the XSS corpus ----------------------------------------------------------------------------


def _no_space(payload: str) -> bool:
    return not re.search(r"\s", payload)


def xss_case(k: int) -> dict:
    cid = f"xss{k}"
    chunk = PAYLOADS[k::N_CASES]
    bare = [p for p in chunk if _no_space(p)] or ["架空"]
    base = yaml.safe_load(
        (DATA / "tiny_corpus" / "cases" / "alpha.yaml")
        .read_text(encoding="utf-8")
        .replace("alpha", cid)
    )
    items = lambda prefix, fmt: [  # noqa: E731
        {"id": f"{cid}-{prefix}{i + 1}", "text": fmt.format(p)} for i, p in enumerate(chunk)
    ]
    base.update(
        order=10 + k,
        prefecture=f"{bare[0]}県",
        municipality=f"{bare[-1]}町",
        title=f"見守り{chunk[0]}サロン",
        keywords=[f"見守り{p}" for p in chunk[:3]] + ["みまもり"],
        editorial_keywords=[chunk[3]],
        features=items("feat-", "見守り{}認知症"),
        implementing_bodies=chunk[:2],
        background=items("bg-", "{}ひとり暮らし"),
        recommendation=f"見守り{chunk[1]}",
        contact=chunk[2],
        quality_notes=[chunk[-1]],
    )
    base["contents"][0].update(
        heading=chunk[1], subheading=chunk[2], paragraphs=[f"ケアマネ{p}見守り" for p in chunk]
    )
    base["history"] = items("ev-", "{}協定")
    for item, p in zip(base["history"], chunk, strict=True):
        item["period"] = p
    base["outcomes"]["changes"] = items("chg-", "{}安否確認")
    base["key_points"] = {
        "region": items("kp-r", "{}見守りの工夫"),
        "municipality": items("kp-m", "見守り{}"),
    }
    base["suggestions"] = items("sg-", "見守り{}しましょう")
    return base


@pytest.fixture(scope="module")
def xss_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    tmp = tmp_path_factory.mktemp("xss")
    corpus = tmp / "corpus"
    shutil.copytree(DATA / "tiny_corpus", corpus)
    for k in range(N_CASES):
        text = yaml.safe_dump(xss_case(k), allow_unicode=True, sort_keys=False, width=1000)
        (corpus / "cases" / f"xss{k}.yaml").write_text(text, encoding="utf-8")
    assert [str(p) for p in validate_corpus(corpus)] == []
    settings = Settings.from_env({}, corpus_dir=corpus, index_dir=tmp / "index")
    Engine.build(settings)
    engine = Engine.open(settings)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def xss_client(xss_engine: Engine):
    return create_app(xss_engine, {"TESTING": True}).test_client()


def test_there_are_enough_classic_payloads() -> None:
    assert len(PAYLOADS) >= 50 and len(set(PAYLOADS)) == len(PAYLOADS)
    assert all(len(p) <= 200 for p in PAYLOADS)  # each fits in a search query


def test_the_checker_catches_injected_markup() -> None:
    for bad in (
        '<p><img src=x onerror="alert(1)"></p>',
        "<p><mark class=x>a</mark></p>",
        '<a href="javascript:alert(1)">x</a>',
        "<p><!--<script>--></p>",
    ):
        check = InertCheck()
        check.feed(bad)
        assert check.problems, bad


def _get_ok(client, url: str, *, status: int = 200) -> str:
    r = client.get(url)
    assert r.status_code == status, url
    html = r.get_data(as_text=True)
    assert_inert(html, url)
    return html


def test_corpus_payloads_are_inert_on_every_page(xss_client, xss_engine: Engine) -> None:
    urls = [
        "/",
        "/search",
        "/search?theme=生活支援",
        "/lessons",
        "/lessons?kind=suggestion",
        "/recommend",
        "/recommend?text=" + quote("ひとり暮らしの見守りとケアマネの安否確認"),
    ]
    for q in ("見守り", "script", "alert", "onerror javascript", "img svg iframe", "みまもり 協定"):
        urls.append("/search?q=" + quote(q))
    for case in xss_engine.cases:
        if not case.id.startswith("xss"):
            continue
        urls += [
            f"/cases/{case.id}",
            "/search?q=見守り&prefecture=" + quote(case.prefecture),
            "/search?keyword=" + quote(case.keywords[0]),
            "/search?q=見守り&keyword=" + quote(case.keywords[1]),
            "/lessons?prefecture=" + quote(case.prefecture),
            f"/handout?cases={case.id}&lessons="
            + ",".join(lesson.id for lesson in case.key_points + case.suggestions),
        ]
    marks = 0
    for url in urls:
        html = _get_ok(xss_client, url)
        marks += html.count("<mark>")
    assert marks > 50, "the searches should have highlighted snippets"
    # A payload in a snippet is shown as text, with our <mark> around the matched word.
    html = xss_client.get("/search?q=script").get_data(as_text=True)
    assert "&lt;<mark>script</mark>&gt;" in html


def test_corpus_payloads_are_inert_in_recommendations(xss_client) -> None:
    text = "見守りの担い手が足りない。ケアマネと自治会の安否確認の協定をつくりたい。"
    for r in (
        xss_client.get("/recommend", query_string={"text": text}),
        xss_client.post("/recommend", data={"text": text}),
    ):
        assert r.status_code == 200
        html = r.get_data(as_text=True)
        assert_inert(html)
        assert 'href="/cases/xss' in html


def test_handout_markdown_keeps_corpus_payloads_as_text(xss_client, xss_engine: Engine) -> None:
    for case in xss_engine.cases:
        lessons = ",".join(lesson.id for lesson in case.key_points + case.suggestions)
        r = xss_client.get(f"/handout.md?cases={case.id}&lessons={lessons}")
        assert r.status_code == 200 and r.mimetype == "text/markdown"
        assert_inert_markdown(r.get_data(as_text=True))


def test_handout_markdown_escapes_corpus_text(xss_client, xss_engine: Engine) -> None:
    """Titles, features and lessons (all but the place names) are escaped."""
    for case in xss_engine.cases:
        lessons = ",".join(lesson.id for lesson in case.key_points + case.suggestions)
        md = xss_client.get(f"/handout.md?cases={case.id}&lessons={lessons}").get_data(as_text=True)
        for place in (case.prefecture, case.municipality):
            md = md.replace(place, "")
        assert_inert_markdown(md)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_query_payloads_are_inert(tiny_client, payload: str) -> None:
    """User text on the tiny corpus (quicker): echoed in forms, headings, links and snippets."""
    q = quote(payload)
    for url in (
        f"/search?q={q}",
        f"/search?q=見守り%20{q}",
        f"/search?q={q}&theme={q}&prefecture={q}&keyword={q}&section={q}",
        f"/search?theme={q}&keyword={q}",
        f"/recommend?text=見守り{q}",
        f"/lessons?theme={q}&prefecture={q}&kind={q}",
        f"/search?q=見守り&page={q}",
    ):
        r = tiny_client.get(url)
        assert r.status_code in (200, 400, 413), url
        html = r.get_data(as_text=True)
        assert_inert(html, url)
    r = tiny_client.post("/recommend", data={"text": "見守りとケアマネ" + payload})
    assert r.status_code in (200, 400)
    html = r.get_data(as_text=True)
    assert_inert(html)
    # The text comes back as text in the form, not dropped or mangled.
    value = re.search(r"<textarea[^>]*>(.*?)</textarea>", html, re.S)
    assert value and "見守りとケアマネ" in value.group(1)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payloads_in_ids_give_inert_error_pages(xss_client, payload: str) -> None:
    q = quote(payload, safe="")
    for url, status in (
        (f"/cases/{q}", 404),
        (f"/handout?lessons={q}", 404),
        (f"/handout?cases={q}", 404),
        (f"/handout.md?cases={q}", 404),
        (f"/nowhere/{q}", 404),
    ):
        r = xss_client.get(url)
        assert r.status_code == status, url
        assert r.mimetype == "text/html"
        assert_inert(r.get_data(as_text=True), url)


def test_api_answers_are_json_not_html(xss_client) -> None:
    for r in (
        xss_client.get("/api/search", query_string={"q": "見守り " + PAYLOADS[0]}),
        xss_client.get("/api/cases/" + quote(PAYLOADS[9], safe="")),
        xss_client.post("/api/recommend", json={"text": "見守り" + PAYLOADS[0]}),
    ):
        assert r.mimetype == "application/json"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert "<script" not in r.get_data(as_text=True) or r.is_json


# --- safe defaults -------------------------------------------------------------------------------


def test_serve_binds_loopback_without_debug(tiny_corpus: Path, tmp_path: Path, monkeypatch) -> None:
    for var in ("CARESEARCH_CORPUS", "CARESEARCH_INDEX"):
        monkeypatch.delenv(var, raising=False)
    args = cli.build_parser().parse_args(["serve"])
    assert args.host == "127.0.0.1"
    seen: dict = {}
    import waitress

    class Bound:  # what waitress.create_server returns: run() serves until Ctrl+C
        def run(self) -> None:
            seen["ran"] = True

    monkeypatch.setattr(
        waitress, "create_server", lambda app, **kw: seen.update(app=app, **kw) or Bound()
    )
    argv = ["serve", "--corpus", str(tiny_corpus), "--index", str(tmp_path / "index")]
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        assert cli.main(argv) == 0
    finally:  # serve calls logging.basicConfig
        root.handlers[:], root.level = handlers, level
    assert seen["host"] == "127.0.0.1" and seen["ran"]
    assert seen["max_request_body_size"] <= 4 * 1024 * 1024
    app = seen["app"]
    assert app.debug is False and not app.testing
    assert app.config["MAX_CONTENT_LENGTH"] == MAX_CONTENT_LENGTH


def test_no_debug_mode_even_when_the_environment_asks(tiny_engine: Engine, monkeypatch) -> None:
    monkeypatch.setenv("FLASK_DEBUG", "1")
    app = create_app(tiny_engine)
    assert app.debug is False
    assert app.config["MAX_CONTENT_LENGTH"] == MAX_CONTENT_LENGTH == 64 * 1024
    assert app.config["MAX_QUERY_STRING"] == MAX_QUERY_STRING


def test_an_unexpected_error_is_a_plain_japanese_500(tiny_engine: Engine, monkeypatch, caplog):
    app = create_app(tiny_engine)  # not TESTING: errors are handled as in production

    def boom(*_a, **_k):
        raise RuntimeError("internal detail")

    monkeypatch.setattr(Engine, "search", boom)
    caplog.set_level(logging.CRITICAL)  # Flask logs the traceback for the operator
    for url, api in (("/search?q=見守り", False), ("/api/search?q=見守り", True)):
        r = app.test_client().get(url)
        assert r.status_code == 500
        body = r.get_data(as_text=True)
        assert "Traceback" not in body and "internal detail" not in body
        assert ("error" in r.get_json()) if api else ('<html lang="ja">' in body)


def test_query_size_limits(tiny_client) -> None:
    assert tiny_client.get("/search?q=" + "a" * (MAX_QUERY_STRING - 2)).status_code == 400
    r = tiny_client.get("/search?q=" + "a" * MAX_QUERY_STRING)
    assert r.status_code == 414 and '<html lang="ja">' in r.get_data(as_text=True)
    r = tiny_client.post("/api/recommend", json={"text": "a" * (1 << 20)})
    assert r.status_code == 413 and r.get_json()["error"]["status"] == 413


def test_an_address_encoded_in_shift_jis_opens_the_same_page(client) -> None:
    """A link on an older intranet page may percent-encode Shift_JIS: 認知症 as %94F%92m%8F%C7."""
    sjis = quote_from_bytes("認知症".encode("cp932"))
    r = client.get(f"/search?q={sjis}&theme={sjis}")
    assert r.status_code == 301
    utf8 = quote("認知症")
    assert r.headers["Location"] == f"/search?q={utf8}&theme={utf8}"
    assert "「認知症」" in client.get(r.headers["Location"]).get_data(as_text=True)


@pytest.mark.parametrize(
    ("query", "read"),
    [
        # half-width katakana whose bytes begin like UTF-8 (ﾃｽ is ý, then a cut): still Shift_JIS
        (quote_from_bytes("ﾃｽﾄ".encode("cp932")), [("q", "ﾃｽﾄ")]),
        ("%C0%AF", [("q", "ﾀｯ")]),
        # a space as +, a repeated name, an empty pair: kept as they were
        (f"{quote_from_bytes('見守り'.encode('cp932'))}+a&q=b&&page=2",
         [("q", "見守り a"), ("q", "b"), ("page", "2")]),
    ],
)  # fmt: skip
def test_shift_jis_is_read_pair_by_pair(client, query: str, read: list) -> None:
    r = client.get(f"/api/search?q={query}")
    assert r.status_code == 301
    location = r.headers["Location"]
    assert location.startswith("/api/search?") and location.isascii()
    assert parse_qsl(urlsplit(location).query, keep_blank_values=True) == read


@pytest.mark.parametrize(
    "query",
    [
        "q=%E8%AA%8D%E7%9F%A5%E7%97",  # 認知症 in UTF-8 with its last byte lost
        "q=%E8%AA%8D%E7%9F%A5%E7%97&page=2",
        "q=%FF%FF",  # no character in Shift_JIS either
        "q=%80",  # read as Shift_JIS, a control character
    ],
)
def test_an_address_whose_characters_cannot_be_read_says_so(client, query: str) -> None:
    page = client.get(f"/search?{query}")
    assert page.status_code == 400
    assert "アドレス（URL）の文字を読み取れませんでした" in page.get_data(as_text=True)
    api = client.get(f"/api/search?{query}")
    assert api.status_code == 400 and "読み取れません" in api.get_json()["error"]["message"]


def test_a_form_posted_to_an_address_in_shift_jis_is_not_redirected(client) -> None:
    sjis = quote_from_bytes("認知症".encode("cp932"))
    r = client.post(f"/recommend?q={sjis}", data={"text": "認知症の人の居場所"})
    assert r.status_code == 400 and "読み取れません" in r.get_data(as_text=True)


# --- privacy ---------------------------------------------------------------------------------------

SECRET = "山田花子さん（八十七歳）が夜中に徘徊して見守りが必要"


def test_query_text_is_never_logged(tiny_client, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    secret_q = "山田花子 見守り"
    calls = [
        lambda: tiny_client.get("/search", query_string={"q": secret_q}),
        lambda: tiny_client.get("/search", query_string={"q": secret_q, "page": "x"}),
        lambda: tiny_client.get("/search", query_string={"q": "山田花子" * 60}),
        lambda: tiny_client.get("/api/search", query_string={"q": secret_q}),
        lambda: tiny_client.get("/recommend", query_string={"text": SECRET}),
        lambda: tiny_client.post("/recommend", data={"text": SECRET}),
        lambda: tiny_client.post("/recommend", data={"text": SECRET + "\x00"}),
        lambda: tiny_client.post("/recommend", data={"text": SECRET * 200}),
        lambda: tiny_client.post("/api/recommend", json={"text": SECRET}),
        lambda: tiny_client.post("/api/recommend", json={"text": SECRET * 2000}),
        lambda: tiny_client.get("/search?q=" + quote("山田花子") * 3000),
    ]
    statuses = [call().status_code for call in calls]
    assert statuses == [200, 400, 400, 200, 200, 200, 400, 413, 200, 413, 414]
    records = [r for r in caplog.records if r.name == "caresearch.web"]
    assert len(records) == len(calls), "one line per request: method, path, status, time"
    for record in records:
        assert re.fullmatch(r"(GET|POST) /[a-z/.]* \d{3} \d+\.\dms", record.getMessage())
    logged = caplog.text + " ".join(str(r.args) for r in caplog.records)
    for fragment in ("山田", "花子", "徘徊", "見守り", "q=", "text=", quote("山田")):
        assert fragment not in logged


# --- the operations section of the README ------------------------------------------------------


def test_readme_operations_section_matches_the_code() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## 運用とセキュリティ", 1)[1].split("\n## ", 1)[0]
    defaults = Settings()
    assert "127.0.0.1" in section and "--host" in section
    assert f"{defaults.max_query_chars}文字" in section
    assert f"{defaults.max_text_chars:,}文字" in section
    assert f"{MAX_CONTENT_LENGTH // 1024}KB" in section and "413" in section
    assert f"{MAX_QUERY_STRING // 1024}KB" in section and "414" in section
    for words in ("CARESEARCH_MAX_QUERY_CHARS", "CARESEARCH_MAX_TEXT_CHARS", "ログ"):
        assert words in section
    assert "caresearch build" in section and "--force" in section and "CURRENT" in section
    assert "リバースプロキシ" in section and "複数" in section
    english = readme.split("## English", 1)[1]
    assert "Operations" in english and "127.0.0.1" in english
