"""The real app in Debian's chromium: waitress on 127.0.0.1, Playwright's sync API, axe-core.

Every page type is screenshotted into test-output/screenshots/ and checked with axe-core (no
"serious" or "critical" violation). Any request to a host other than 127.0.0.1 is blocked and
fails the test.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from caresearch.config import PROJECT_ROOT

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():  # pragma: no cover - the test command installs chromium
    pytest.skip("Debian's chromium (/usr/bin/chromium) is not installed", allow_module_level=True)

waitress = pytest.importorskip("waitress")
sync_api = pytest.importorskip("playwright.sync_api")
axe_module = pytest.importorskip("axe_playwright_python.sync_playwright")

pytestmark = pytest.mark.browser

SHOTS = PROJECT_ROOT / "test-output" / "screenshots"
PROBLEM = "認知症の人と家族を地域で支えたい。ケアマネジャーと医師の連携も課題です。"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def base_url(app) -> Iterator[str]:
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def browser():
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser, base_url):
    context = browser.new_context(
        base_url=base_url, locale="ja-JP", viewport={"width": 1280, "height": 900}
    )
    blocked: list[str] = []

    def only_localhost(route):
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    context.route("**/*", only_localhost)
    pg = context.new_page()
    errors: list[str] = []  # CSP violations and script errors; a 404 status is not one
    pg.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and "Failed to load resource" not in m.text
            else None
        ),
    )
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    context.close()
    assert blocked == [], f"requests outside 127.0.0.1 were attempted: {blocked}"
    assert errors == [], f"console errors (CSP violations?): {errors}"


def check_axe(page, name: str) -> None:
    results = axe_module.Axe().run(page)
    bad = [v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]
    for v in bad:
        print(f"[axe:{name}] {v['impact']} {v['id']}: {v['help']}")
        for node in v["nodes"][:5]:
            print("    ", node.get("target"), node.get("failureSummary", "").replace("\n", " "))
    assert not bad, f"axe found serious/critical violations on {name}"


def shoot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_top_page(page):
    page.goto("/")
    assert page.locator("html").get_attribute("lang") == "ja"
    assert page.get_by_role("heading", level=1).inner_text() == "地域包括ケアの取組事例をさがす"
    assert page.locator("#problem").get_attribute("placeholder").startswith("例:")
    shoot(page, "01-top")
    check_axe(page, "top")


def test_keyword_search(page, bundled_engine):
    page.goto("/")
    page.fill("#q", "認知症")
    page.press("#q", "Enter")
    page.wait_for_url("**/search?q=*")
    hits = page.locator("li.hit")
    expected = bundled_engine.search("認知症")
    assert hits.count() == len(expected.hits)
    for i, hit in enumerate(expected.hits):
        assert hit.case.title in hits.nth(i).inner_text()
    assert page.locator("li.hit mark").count() >= len(expected.hits)
    assert page.locator("mark").first.inner_text() == "認知症"
    shoot(page, "02-search")
    check_axe(page, "search")


def test_facet_filter_click(page, bundled_engine):
    page.goto("/search?q=認知症")
    page.locator(".facets a", has_text="在宅医療").first.click()
    page.wait_for_url("**theme=*")
    query = parse_qs(urlsplit(page.url).query)
    assert query == {"q": ["認知症"], "theme": ["在宅医療"]}
    expected = bundled_engine.search("認知症", filters={"theme": "在宅医療"})
    assert page.locator("li.hit").count() == len(expected.hits)
    assert page.locator(".facets a.selected", has_text="在宅医療").count() == 1
    shoot(page, "03-search-filtered")
    page.locator(".facets a.selected", has_text="在宅医療").click()
    page.wait_for_url(lambda url: "theme=" not in url)
    assert page.locator("li.hit").count() == len(bundled_engine.search("認知症").hits)


def test_zero_hits_and_fallback(page):
    page.goto("/search?q=ふるさと納税")
    assert page.get_by_text("事例が見つかりませんでした").is_visible()
    shoot(page, "04-search-zero")
    check_axe(page, "search-zero")
    page.goto("/search?q=認知症 ふるさと納税")
    assert page.get_by_text("いずれかの語を含む事例を表示しています").is_visible()


def test_problem_description(page, bundled_engine):
    page.goto("/")
    page.fill("#problem", PROBLEM)
    page.get_by_role("button", name="課題に合う事例を探す").click()
    page.wait_for_url("**/recommend")
    rec = bundled_engine.recommend(PROBLEM)
    cards = page.locator("li.rec")
    assert cards.count() == len(rec.cases)
    for i, cr in enumerate(rec.cases):
        assert cr.case.title in cards.nth(i).inner_text()
    assert page.get_by_role("heading", name="なぜこの事例?").first.is_visible()
    assert page.locator(".badge").first.inner_text().endswith(("高", "中", "低"))
    shoot(page, "05-recommend")
    check_axe(page, "recommend")


def test_no_strong_match(page):
    page.goto("/recommend?text=観光客を増やすための観光振興とふるさと納税の返礼品の開発")
    assert page.get_by_text("この課題に強く合う事例は見つかりませんでした。").is_visible()
    shoot(page, "06-recommend-no-strong-match")
    check_axe(page, "recommend-no-strong")


def test_case_page(page, bundled_engine):
    page.goto("/cases/tobetsu#tobetsu-kp-r1")
    lesson = page.locator("#tobetsu-kp-r1")
    assert lesson.is_visible()
    assert page.evaluate("document.querySelector(':target').id") == "tobetsu-kp-r1"
    assert lesson.get_by_role("button", name="リンクをコピー").count() == 1  # from app.js
    similar = page.locator("#similar li.card")
    assert similar.count() == len(bundled_engine.similar("tobetsu"))
    assert page.get_by_text("抽出元のPDFから半角の数字と英字が失われている").is_visible()
    page.evaluate("window.scrollTo(0, 0)")
    shoot(page, "07-case")
    check_axe(page, "case")


def test_handout_from_checkboxes_and_markdown(page, bundled_engine):
    page.goto("/lessons?theme=認知症")
    shoot(page, "08-lessons")
    check_axe(page, "lessons")
    boxes = page.locator('input[type="checkbox"][name="lesson"]')
    chosen = [boxes.nth(i).get_attribute("value") for i in (0, 1)]
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.get_by_role("button", name="選んだ項目で配布資料をつくる").click()
    page.wait_for_url("**/handout?*")
    body = page.locator("article.handout").inner_text()
    for lid in chosen:
        assert bundled_engine.lesson(lid)[1].text in body
    shoot(page, "09-handout")
    check_axe(page, "handout")
    page.emulate_media(media="print")
    assert not page.locator(".site-header").is_visible()
    shoot(page, "10-handout-print")
    page.emulate_media(media="screen")
    with page.expect_download() as info:
        page.get_by_role("link", name="Markdown 形式でダウンロード").click()
    download = info.value
    assert download.suggested_filename == "caresearch-handout.md"
    text = Path(download.path()).read_text(encoding="utf-8")
    for lid in chosen:
        assert lid in text


def test_lessons_filter_form_without_js(browser, base_url):
    context = browser.new_context(base_url=base_url, java_script_enabled=False)
    pg = context.new_page()
    pg.goto("/lessons")
    pg.select_option("#f-theme", "介護予防")
    pg.select_option("#f-pref", "千葉県")
    pg.get_by_role("button", name="この条件で表示").click()
    pg.wait_for_url("**theme=*")
    assert parse_qs(urlsplit(pg.url).query)["prefecture"] == ["千葉県"]
    assert pg.locator("section h2").first.inner_text() == "介護予防"
    context.close()


def test_keyboard_only(page):
    page.goto("/")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.className")
    assert focused == "skip-link"
    box = page.locator(".skip-link").bounding_box()
    assert box and box["y"] >= 0, "the skip link becomes visible when focused"
    for _ in range(20):
        if page.evaluate("document.activeElement.id") == "q":
            break
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "q"
    style = page.evaluate(
        "(() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineStyle, parseFloat(s.outlineWidth)]; })()"
    )
    assert style[0] != "none" and style[1] >= 2, style
    page.keyboard.type("見守り")
    shoot(page, "11-keyboard-focus")
    page.keyboard.press("Enter")
    page.wait_for_url("**/search?q=*")
    assert page.locator("li.hit").count() > 0


def test_error_page(page):
    response = page.goto("/cases/nope")
    assert response.status == 404
    assert page.get_by_role("heading", level=1).inner_text() == "ページが見つかりません"
    shoot(page, "12-error")
    check_axe(page, "error")
