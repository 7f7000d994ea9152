"""The real app in Debian's chromium: waitress on 127.0.0.1, Playwright's sync API, axe-core.

Every page type is screenshotted into test-output/screenshots/ and checked with axe-core (no
"serious" or "critical" violation). Any request to a host other than 127.0.0.1 is blocked and
fails the test.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

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


def test_multi_select_filters_go_into_the_url(page, bundled_engine):
    page.goto("/search?q=地域")
    assert page.locator("details.filters-fold").get_attribute("open") is not None  # wide: open
    page.locator('input[name="theme"][value="在宅医療"]').check()
    page.locator('input[name="theme"][value="災害・避難"]').check()
    page.get_by_role("button", name="この条件で絞り込む").click()
    page.wait_for_url("**theme=*")
    query = parse_qs(urlsplit(page.url).query)
    assert query["q"] == ["地域"] and sorted(query["theme"]) == ["在宅医療", "災害・避難"]
    expected = bundled_engine.search("地域", filters={"theme": ["在宅医療", "災害・避難"]})
    assert page.locator("li.hit").count() == len(expected.hits)
    assert page.locator('input[name="theme"][value="在宅医療"]').is_checked()
    shoot(page, "03-search-filtered")
    check_axe(page, "search-filtered")
    page.reload()  # the URL alone keeps the filters (bookmark, share)
    assert page.locator("li.hit").count() == len(expected.hits)
    page.locator('input[name="theme"][value="在宅医療"]').uncheck()
    page.get_by_role("button", name="この条件で絞り込む").click()
    page.wait_for_url(lambda url: "%E5%9C%A8%E5%AE%85" not in url)
    assert parse_qs(urlsplit(page.url).query)["theme"] == ["災害・避難"]


def test_filters_fold_below_a_phone_screen_of_results(browser, base_url):
    context = browser.new_context(base_url=base_url, viewport={"width": 390, "height": 844})
    pg = context.new_page()
    pg.goto("/search?q=認知症")
    fold = pg.locator("details.filters-fold")
    assert fold.get_attribute("open") is None
    assert not pg.locator('input[name="theme"][value="在宅医療"]').is_visible()
    first = pg.locator("li.hit").first.bounding_box()
    assert first and first["y"] < 844, f"the first result starts at {first}"
    pg.locator("details.filters-fold > summary").click()
    pg.locator('input[name="theme"][value="在宅医療"]').check()
    pg.get_by_role("button", name="この条件で絞り込む").click()
    pg.wait_for_url("**theme=*")
    assert parse_qs(urlsplit(pg.url).query)["theme"] == ["在宅医療"]
    shoot(pg, "03b-search-phone")
    check_axe(pg, "search-phone")
    context.close()


def test_results_without_filters_take_the_whole_width(page):
    # with no facets to show (one hit), the result card sat in the filters' 15rem column
    page.set_viewport_size({"width": 1000, "height": 800})
    page.goto('/search?q="認知症の人"')
    assert page.locator("form.facets").count() == 0
    assert page.locator("form.results").bounding_box()["width"] > 600


def test_zero_hits_and_fallback(page):
    page.goto("/search?q=ドローン")
    assert page.get_by_text("事例が見つかりませんでした").is_visible()
    shoot(page, "04-search-zero")
    check_axe(page, "search-zero")
    page.goto("/search?q=認知症 ドローン")
    assert page.get_by_text("いずれかの語を含む事例を表示しています").is_visible()


def test_problem_description(page, bundled_engine):
    page.goto("/")
    page.fill("#problem", PROBLEM)
    page.press("#problem", "Control+Enter")  # sent from the keyboard, as mail is
    page.wait_for_url("**/recommend")
    rec = bundled_engine.recommend(PROBLEM)
    cards = page.locator("li.rec")
    assert cards.count() == len(rec.cases)
    for i, cr in enumerate(rec.cases):
        assert cr.case.title in cards.nth(i).inner_text()
    assert page.get_by_text("なぜこの事例?").first.is_visible()
    assert page.locator(".answer mark").count() > 0
    assert page.locator(".badge").first.inner_text().endswith(("高", "中", "低"))
    shoot(page, "05-recommend")
    check_axe(page, "recommend")


def test_a_problem_past_the_limit_is_counted_kept_and_not_sent(page, bundled_engine):
    # the box cut what was pasted at 4,000 characters without a word; past 7,000 the server's
    # 413 page lost it all
    limit = bundled_engine.settings.max_text_chars
    page.goto("/")
    page.fill("#problem", PROBLEM)
    assert page.locator(".char-count").inner_text() == f"{len(PROBLEM)} / {limit}文字"
    long = "認知症の人の居場所づくり。" * (limit // 13 + 10)
    page.fill("#problem", long)
    page.get_by_role("button", name="課題に合う事例を探す").click()
    assert page.url.endswith("/"), "not sent"
    page.press("#problem", "Control+Enter")  # nor from the keyboard
    assert page.url.endswith("/"), "not sent"
    assert page.input_value("#problem") == long, "nothing cut"
    assert page.locator(".char-count").inner_text() == f"{len(long)} / {limit}文字"
    assert page.get_by_role("status").filter(has_text="文字を超えています").inner_text() == (
        f"{limit}文字を超えています。短くまとめてください。"
    )
    assert page.evaluate("document.activeElement.id") == "problem"
    assert page.get_attribute("#problem", "aria-invalid") == "true"


def test_answer_links_to_its_place_in_the_case_page(page, bundled_engine):
    rec = bundled_engine.recommend(PROBLEM)
    target = rec.cases[0].lessons[0].lesson
    page.goto("/recommend?text=" + PROBLEM)
    page.locator(f'a[href$="#{target.id}"]', has_text="続きを読む").first.click()
    page.wait_for_url(f"**/cases/{target.case_id}#{target.id}")
    assert page.evaluate("document.querySelector(':target').id") == target.id
    color = page.evaluate("getComputedStyle(document.querySelector(':target')).backgroundColor")
    assert color == "rgb(255, 243, 196)", "the target is highlighted"
    box = page.locator(f"#{target.id}").bounding_box()
    assert box and -2 <= box["y"] < 900, "the browser scrolled to the answer"


def test_no_strong_match(page):
    page.goto("/recommend?text=観光客を増やすための観光振興とふるさと納税の返礼品の開発")
    assert page.get_by_text("この課題に強く合う事例は見つかりませんでした。").is_visible()
    assert page.locator(".notice-info a", has_text="キーワード検索").count() == 1
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


def test_a_figure_text_hit_opens_the_figure_words_it_links_to(page):
    # 買い物 is only in 鶴岡市's figure text: the hit links to #figures, where the words were
    # folded away and stayed so
    page.goto("/search?q=買い物")
    page.locator('a[href*="/cases/tsuruoka?q="][href$="#figures"]').first.click()
    page.wait_for_load_state()
    assert page.evaluate("document.querySelector('#figures details').open")
    assert page.locator("#figures mark").filter(has_text="買い物").first.is_visible()


def _basket_ids(page) -> list[str]:
    return page.evaluate(
        "JSON.parse(localStorage.getItem('caresearch.handout.v1') || '{}').items.map(i => i.id)"
    )


def test_handout_basket_across_pages_reorder_remove_print_and_download(page, bundled_engine):
    import docx

    page.goto("/lessons?theme=事業者連携&case=yokohama")
    shoot(page, "08-lessons")
    check_axe(page, "lessons")
    first = page.locator("[data-add]").first
    first_id = first.get_attribute("data-add")
    first.click()
    assert first.get_attribute("aria-pressed") == "true"
    assert page.locator("[data-basket-count]").inner_text() == "（1件）"
    page.goto("/cases/naraha")
    # a passage's button and the case summary's say which they add
    assert page.locator('[data-add="naraha-sec-1"]').inner_text().startswith("配布資料に追加")
    summary = page.locator('[data-add="naraha"]')
    assert summary.inner_text().startswith("事例の概要を配布資料に追加")
    page.locator('[data-add="naraha-sec-1"]').click()
    page.locator('[data-add="naraha-kp-m1"]').click()
    page.reload()
    assert page.locator('[data-add="naraha-sec-1"]').get_attribute("aria-pressed") == "true"
    # the bar's link is readable: not white on the white of a secondary button
    opener = page.get_by_role("link", name="配布資料を開く").first
    color, background = opener.evaluate(
        "e => [getComputedStyle(e).color, getComputedStyle(e).backgroundColor]"
    )
    assert color != background and color != "rgb(255, 255, 255)"
    assert page.locator("[data-basket-count]").inner_text() == "（3件）"
    assert _basket_ids(page) == [first_id, "naraha-sec-1", "naraha-kp-m1"]

    page.get_by_role("link", name="配布資料（3件）").click()
    page.wait_for_url("**/handout?*basket=*")
    items = page.locator("[data-handout-items] > li")
    assert [items.nth(i).get_attribute("data-item") for i in range(3)] == _basket_ids(page)
    check_axe(page, "handout")
    assert page.locator("[data-order-hint]").is_visible()  # the buttons came with the script
    page.fill("#h-title", "第2回 地域ケア推進会議 資料")
    page.fill("#h-meeting", "地域ケア推進会議")
    page.fill("#h-date", "2025-04-01")
    page.locator("[data-handout-items] > li").nth(0).get_by_role("button", name="下へ").click()
    assert page.locator("[data-handout-count]").inner_text() == "3"
    # by keyboard: an item moved to the end keeps the focus on its other button (on the
    # disabled one it fell to the page), and after 「削除」 Enter again puts the item back
    # instead of taking the next one too
    page.locator("[data-handout-items] > li").nth(1).get_by_role("button", name="下へ").focus()
    page.keyboard.press("Enter")
    focused = "[document.activeElement.textContent, document.activeElement.disabled]"
    name, disabled = page.evaluate(focused)
    assert name.startswith("上へ（") and not disabled
    page.keyboard.press("Enter")  # back up: the three in the order before
    page.locator("[data-handout-items] > li").nth(0).get_by_role("button", name="削除").focus()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.textContent") == "元に戻す"
    page.keyboard.press("Enter")
    assert page.locator("[data-handout-count]").inner_text() == "3"
    # 「削除」 took an item and its memo for good: now it says so and puts it back
    page.locator("[data-handout-items] > li").nth(2).locator("textarea").fill("あとで見る")
    page.locator("[data-handout-items] > li").nth(2).get_by_role("button", name="削除").click()
    assert page.locator("[data-handout-count]").inner_text() == "2"  # the page says how many
    removed = page.locator("[data-handout-removed]")
    assert "を外しました（メモも一緒に）。" in removed.inner_text()
    removed.get_by_role("button", name="元に戻す").click()
    assert page.locator("[data-handout-count]").inner_text() == "3"
    assert items.nth(2).locator("textarea").input_value() == "あとで見る"
    assert len(_basket_ids(page)) == 3
    page.locator("[data-handout-items] > li").nth(2).get_by_role("button", name="削除").click()
    page.locator("[data-handout-items] > li").nth(0).locator("textarea").fill("楢葉町の拠点の例")
    assert _basket_ids(page) == ["naraha-sec-1", first_id]
    page.reload()  # everything is kept in the browser
    assert [items.nth(i).get_attribute("data-item") for i in range(items.count())] == [
        "naraha-sec-1",
        first_id,
    ]
    assert page.input_value("#h-title") == "第2回 地域ケア推進会議 資料"
    assert items.nth(0).locator("textarea").input_value() == "楢葉町の拠点の例"
    assert "出典: " in items.nth(0).inner_text()
    shoot(page, "09-handout")

    page.emulate_media(media="print")
    assert not page.locator(".site-header").is_visible()
    assert not page.locator("textarea").first.is_visible()
    assert page.locator(".memo-print").first.inner_text() == "メモ: 楢葉町の拠点の例"
    assert page.locator(".handout-title").inner_text() == "第2回 地域ケア推進会議 資料"
    # the date as the downloads write it, not as the date field holds it
    assert page.locator("[data-print='meta']").inner_text() == "地域ケア推進会議・2025年4月1日"
    # a new case is ruled off, not put on a new sheet (six one-line lessons printed six pages);
    # an item is never split across sheets
    second = page.evaluate(
        "(e => [getComputedStyle(e).breakBefore, getComputedStyle(e).breakInside,"
        " getComputedStyle(e).borderTopStyle])(document.querySelectorAll('[data-handout-items] > li')[1])"
    )
    assert second == ["auto", "avoid", "solid"]
    shoot(page, "10-handout-print")
    page.emulate_media(media="screen")

    with page.expect_download() as info:
        page.get_by_role("button", name="Markdown でダウンロード").click()
    md = Path(info.value.path()).read_text(encoding="utf-8")
    assert info.value.suggested_filename.startswith("第2回_地域ケア推進会議_資料")
    assert info.value.suggested_filename.endswith(".md")
    assert md.startswith("# 第2回 地域ケア推進会議 資料")
    assert md.index("福島県 楢葉町") < md.index("神奈川県 横浜市")
    assert "楢葉町の拠点の例" in md and "naraha-sec-1" not in md and first_id not in md
    with page.expect_download() as info:
        page.get_by_role("button", name="Word（.docx）でダウンロード").click()
    assert info.value.suggested_filename.startswith("第2回_地域ケア推進会議_資料")
    assert info.value.suggested_filename.endswith(".docx")
    document = docx.Document(info.value.path())
    text = "\n".join(p.text for p in document.paragraphs)
    assert document.paragraphs[0].text == "第2回 地域ケア推進会議 資料"
    assert "地域ケア推進会議・2025年4月1日" in text and "メモ: 楢葉町の拠点の例" in text
    assert bundled_engine.lesson(first_id)[1].text in text
    assert text.index("楢葉町") < text.index(bundled_engine.lesson(first_id)[1].text)


def test_a_shared_handout_link_joining_ones_basket_says_so_and_can_be_undone(page):
    # a colleague's link merged its items into one's own basket without a word
    page.goto("/cases/naraha")
    page.evaluate(
        "localStorage.setItem('caresearch.handout.v1', JSON.stringify({items: "
        "[{id: 'naraha-sec-1', memo: 'メモ'}, {id: 'naraha-kp-m1', memo: ''}]}))"
    )
    page.goto("/handout?item=tobetsu-kp-r1")
    page.wait_for_url("**/handout?*basket=*")
    note = page.get_by_role("status").filter(has_text="リンクの")
    assert note.inner_text().startswith(
        "共有されたリンクの項目 1 件を、あなたの配布資料（これまでの 2 件）に加えました。"
    )
    assert _basket_ids(page) == ["naraha-sec-1", "naraha-kp-m1", "tobetsu-kp-r1"]
    # what is typed after the merge stays when the link's item is taken back out
    page.fill("#h-meeting", "第2回 地域ケア会議")
    note.get_by_role("button", name="追加を取り消す").click()
    page.wait_for_function("!location.search.includes('tobetsu')")
    assert _basket_ids(page) == ["naraha-sec-1", "naraha-kp-m1"]
    assert page.input_value("#h-meeting") == "第2回 地域ケア会議"
    assert page.locator("textarea[data-memo]").first.input_value() == "メモ"
    said = page.get_by_role("status").filter(has_text="追加を取り消しました").inner_text()
    assert said == "追加を取り消しました（元の 2 件に戻しました）。"
    # a link to an item one has already adds nothing, and says so
    page.goto("/handout?item=naraha-kp-m1")
    page.wait_for_url("**/handout?*basket=*")
    assert (
        page.get_by_role("status").filter(has_text="すでにあなたの配布資料に入っています").count()
    )
    assert _basket_ids(page) == ["naraha-sec-1", "naraha-kp-m1"]
    # the menu's 配布資料 shows one's basket, with nothing said of a link
    page.goto("/cases/naraha")
    page.get_by_role("link", name="配布資料（2件）").click()
    page.wait_for_url("**/handout?*basket=*")
    assert page.get_by_role("status").filter(has_text="リンクの").count() == 0
    # a colleague's address bar, copied as it is (their basket=…), joins one's basket: it
    # replaced it, memos and all
    page.goto("/handout?item=tobetsu-sec-2&item=nanto-bg-1&basket=colleague")
    page.wait_for_function("!location.search.includes('colleague')")
    assert _basket_ids(page) == ["naraha-sec-1", "naraha-kp-m1", "tobetsu-sec-2", "nanto-bg-1"]
    assert page.locator("textarea[data-memo]").first.input_value() == "メモ"
    assert page.get_by_role("status").filter(has_text="2 件を").count()
    # an empty basket takes a link as it is, with nothing to say
    page.evaluate("localStorage.clear()")
    page.goto("/handout?item=tobetsu-kp-r1")
    assert page.get_by_role("status").filter(has_text="リンクの").count() == 0
    assert _basket_ids(page) == ["tobetsu-kp-r1"]


def test_handout_from_checkboxes_without_js(browser, base_url, bundled_engine):
    context = browser.new_context(base_url=base_url, java_script_enabled=False)
    pg = context.new_page()
    pg.goto("/lessons?case=tobetsu")
    boxes = pg.locator('input[type="checkbox"][name="item"]')
    chosen = [boxes.nth(i).get_attribute("value") for i in (0, 1)]
    boxes.nth(0).check()
    boxes.nth(1).check()
    pg.get_by_role("button", name="選んだ項目で配布資料をつくる").click()
    pg.wait_for_url("**/handout?*")
    body = pg.locator("article.handout").inner_text()
    assert "上へ" not in pg.locator("main").inner_text()  # no word of buttons that are not there
    for lid in chosen:
        assert bundled_engine.lesson(lid)[1].text in body
    with pg.expect_download() as info:
        pg.get_by_role("button", name="Markdown でダウンロード").click()
    assert bundled_engine.lesson(chosen[0])[1].text in Path(info.value.path()).read_text("utf-8")
    context.close()


def test_lessons_filter_form_without_js(browser, base_url):
    context = browser.new_context(base_url=base_url, java_script_enabled=False)
    pg = context.new_page()
    pg.goto("/lessons")
    pg.select_option("#f-theme", "介護予防")
    pg.select_option("#f-case", "urayasu")
    pg.select_option("#f-audience", "municipality")
    pg.get_by_role("button", name="この条件で表示").click()
    pg.wait_for_url("**theme=*")
    query = parse_qs(urlsplit(pg.url).query)
    assert query["case"] == ["urayasu"] and query["audience"] == ["municipality"]
    assert pg.locator("li.lesson").count() == 2  # urayasu-kp-m2, -m3
    context.close()


def test_keyboard_only(page):
    page.goto("/")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.className")
    assert focused == "skip-link"
    box = page.locator(".skip-link").bounding_box()
    assert box and box["y"] >= 0, "the skip link becomes visible when focused"
    name = page.locator(".site-name").bounding_box()
    assert name and box["y"] + box["height"] <= name["y"], "the skip link covers nothing"
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


def test_favicon_and_no_404s(page):
    statuses: list[tuple[str, int]] = []
    page.on("response", lambda r: statuses.append((r.url, r.status)))
    page.goto("/cases/tobetsu")
    page.wait_for_load_state("networkidle")
    assert all(status < 400 for _url, status in statuses), statuses
    assert page.request.get("/favicon.ico").status == 200


def test_error_page(page):
    response = page.goto("/cases/nope")
    assert response.status == 404
    assert page.get_by_role("heading", level=1).inner_text() == "ページが見つかりません"
    shoot(page, "12-error")
    check_axe(page, "error")


def test_keyboard_reaches_the_results_past_the_filters(page):
    page.goto("/search?q=" + quote("見守り"))
    page.locator("#q").focus()
    for _ in range(7):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.getAttribute('href')") == "#results":
            break
    else:
        pytest.fail("no link past the filters within 7 Tab presses of the search box")
    box = page.locator("a[href='#results']").bounding_box()
    assert box and box["height"] > 0, "the link is visible while focused"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    first = page.locator("li.hit").first
    assert first.evaluate("(el) => el.contains(document.activeElement)"), (
        "Tab then reaches the first result"
    )


def test_a_shared_link_into_a_full_handout_says_what_was_not_added(page):
    # 100 items already: the link's item was not added, and the page said 「すでに…入っています」
    page.goto("/cases/naraha")
    page.evaluate(
        "localStorage.setItem('caresearch.handout.v1', JSON.stringify({items: "
        "Array.from({length: 100}, (_, i) => ({id: i % 2 ? 'naraha-sec-1' : 'naraha-kp-m1', memo: ''}))"
        ".map((it, i) => ({id: i < 2 ? it.id : 'naraha-sec-' + (i + 10), memo: ''}))}))"
    )
    page.goto("/handout?item=tobetsu-kp-r1")
    page.wait_for_url("**/handout?*basket=*")
    said = page.get_by_role("status").filter(has_text="100件までのため").inner_text()
    assert "1 件を加えられませんでした" in said
    assert "tobetsu-kp-r1" not in _basket_ids(page)


def test_a_handout_tab_left_open_never_saves_its_older_items_over_the_basket(page):
    # a second read: tab 1 shows the basket; tab 2 adds an item; typing in tab 1 saved tab 1's
    # rows, and the item was gone
    page.goto("/cases/naraha")
    page.evaluate(
        "localStorage.setItem('caresearch.handout.v1', JSON.stringify({items: "
        "[{id: 'naraha-sec-1', memo: ''}]}))"
    )
    page.goto("/handout")
    page.wait_for_url("**/handout?*basket=*")
    other = page.context.new_page()
    other.goto(page.url.replace("item=naraha-sec-1", "item=tobetsu-kp-r1").split("&basket")[0])
    other.wait_for_url("**/handout?*basket=*")
    assert _basket_ids(other) == ["naraha-sec-1", "tobetsu-kp-r1"]
    page.wait_for_function("location.search.includes('tobetsu-kp-r1')")  # it follows
    page.locator("textarea[data-memo]").first.fill("メモ")
    assert _basket_ids(page) == ["naraha-sec-1", "tobetsu-kp-r1"]
    # an old address of one's own basket shows the basket as it is now
    old = page.url.replace("item=tobetsu-kp-r1&", "")
    page.goto(old)
    page.wait_for_function("location.search.includes('tobetsu-kp-r1')")
    assert page.locator("[data-handout-items] > li").count() == 2
    other.close()


# --- a trial at 200 % zoom (683 × 384), by keyboard, with NVDA ---------------------------------

ZOOMED = {"width": 683, "height": 384}


def _in_view(page, selector: str) -> bool:
    box = page.locator(selector).first.bounding_box()
    height = page.viewport_size["height"]
    return bool(box) and box["y"] >= 0 and box["y"] + min(box["height"], 40) <= height


def _ring(page) -> tuple[str, float]:
    return page.evaluate(
        "(() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineStyle, parseFloat(s.outlineWidth)]; })()"
    )


def test_problem_results_come_into_view_with_the_focus_and_say_how_many(page, bundled_engine):
    # the page came back with the focus on <body>, scrolled to the top, the results below the
    # screen and the title unchanged: nothing seemed to happen
    page.set_viewport_size(ZOOMED)
    page.goto("/recommend")
    assert page.evaluate("document.activeElement === document.body")  # nothing to move to yet
    page.fill("#problem", PROBLEM)
    page.get_by_role("button", name="課題に合う事例を探す").click()
    page.wait_for_load_state()
    count = len(bundled_engine.recommend(PROBLEM).cases)
    assert (
        page.title().startswith("「認知症の人と家族を") and f"の結果（{count}件）" in page.title()
    )
    assert page.evaluate("document.activeElement.id") == "h-results"
    assert _in_view(page, "#h-results")
    assert _ring(page)[0] != "none"
    status = page.get_by_role("status").filter(has_text="見つかりました")
    assert status.inner_text() == f"課題に合う事例が {count}件 見つかりました。"
    shoot(page, "13-recommend-zoomed")
    # Tab from there goes on into the results
    page.keyboard.press("Tab")
    assert page.evaluate("!!document.activeElement.closest('#h-results ~ *, .recs')")


def test_an_empty_problem_is_said_at_the_field_which_takes_the_focus(page):
    # the error stood at y=628 below the form, and the field was neither marked nor focused
    page.set_viewport_size(ZOOMED)
    page.goto("/recommend")
    page.get_by_role("button", name="課題に合う事例を探す").click()
    page.wait_for_load_state()
    alert = page.get_by_role("alert")
    assert alert.inner_text() == "課題の内容を入力してください。"
    assert _in_view(page, "[role=alert]")
    assert page.evaluate("document.activeElement.id") == "problem"
    assert page.get_attribute("#problem", "aria-invalid") == "true"  # app.js keeps it
    described = page.get_attribute("#problem", "aria-describedby").split()
    assert page.locator(f"#{described[0]}").inner_text() == "課題の内容を入力してください。"
    shoot(page, "14-recommend-error-zoomed")
    check_axe(page, "recommend-error")
    page.keyboard.type("見守り")  # typing clears the mark, not the words
    assert page.get_attribute("#problem", "aria-invalid") == "false"


def test_the_skip_link_past_the_filters_lands_in_sight_with_a_ring(page):
    # it moved the focus to a 1×6 px hidden heading: no ring, the first result above the screen
    for viewport in (ZOOMED, {"width": 1280, "height": 900}):
        page.set_viewport_size(viewport)
        page.goto("/search?q=" + quote("見守り"))
        page.locator("a[href='#results']").focus()
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "results"
        box = page.locator("#results").bounding_box()
        assert box["width"] > 100 and box["height"] > 16, box
        assert _in_view(page, "#results") and _in_view(page, "li.hit")
        style, width = _ring(page)
        assert style != "none" and width >= 2
    shoot(page, "15-search-skip-link")


def _handout(page, ids: list[str]) -> None:
    page.goto("/handout?" + "&".join(f"item={i}" for i in ids))
    page.wait_for_url("**/handout?*basket=*")


def test_handout_moves_are_announced_and_items_are_named_apart(page):
    # 「上へ」「下へ」 said nothing; three lessons of one section sounded the same
    _handout(page, ["tobetsu-sg-1", "tobetsu-sg-2", "tobetsu-sg-3", "nanto"])
    items = page.locator("[data-handout-items] > li")
    first = items.nth(0).get_by_role("button", name="下へ")
    first.click()
    moved = page.locator("[data-handout-moved]")
    assert moved.get_attribute("role") == "status"
    assert moved.inner_text() == "2番目に移動しました（全4件）"
    page.keyboard.press("Enter")  # the focus stayed on the button
    assert moved.inner_text() == "3番目に移動しました（全4件）"
    items.nth(3).get_by_role("button", name="上へ").click()
    assert moved.inner_text() == "3番目に移動しました（全4件）"
    for role_name in ("上へ", "下へ", "削除"):
        buttons = page.get_by_role("button", name=role_name)
        names = [buttons.nth(i).text_content() for i in range(buttons.count())]
        assert len(names) == 4 and len(set(names)) == 4, names
    memos = [
        page.get_by_label("メモ").nth(i).evaluate("e => e.labels[0].textContent") for i in range(4)
    ]
    assert len(set(memos)) == 4
    # 「削除」 says which it took out
    target = items.filter(has_text="学生ボランティアなどの活動にも目を向けて")
    target.get_by_role("button", name="削除").click()
    said = page.locator("[data-handout-removed]").inner_text()
    assert said.startswith("当別町 これから取り組む皆さまへ「学生ボランティアなどの活動にも")
    assert "を外しました。" in said


def _posts(page) -> list[str]:
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.method == "POST" else None)
    return sent


@pytest.mark.parametrize("script", [True, False])
def test_enter_in_a_handout_text_field_downloads_nothing(browser, base_url, script):
    # Enter in 題名 or 会議名 pressed the first button and a Markdown file came down
    context = browser.new_context(base_url=base_url, java_script_enabled=script)
    pg = context.new_page()
    pg.goto("/handout?item=tobetsu-sg-1&item=nanto")
    sent = _posts(pg)
    for field in ("#h-title", "#h-meeting"):
        pg.locator(field).focus()
        pg.keyboard.type("第2回")
        pg.keyboard.press("Enter")
    if script:  # Chrome's date field passes over a disabled default button: app.js stops it
        pg.fill("#h-date", "2025-04-01")
        pg.locator("#h-date").focus()
        pg.keyboard.press("Enter")
    pg.wait_for_timeout(500)
    assert sent == [] and "/handout?" in pg.url
    # the buttons still download
    with pg.expect_download() as info:
        pg.get_by_role("button", name="Markdown でダウンロード").click()
    assert info.value.suggested_filename.endswith(".md")
    context.close()


def test_a_date_the_field_cannot_send_is_said_beside_it_and_the_handout_stays(page):
    # a five-digit year could be typed; the download then replaced the handout with a 400 page
    _handout(page, ["tobetsu-sg-1"])
    date = page.locator("#h-date")
    assert date.get_attribute("max") == "2099-12-31"
    date.focus()
    page.keyboard.type(
        "2025504012025504"
    )  # more digits than a year has, whatever the fields' order
    assert re.fullmatch(r"(?:\d{4}-\d{2}-\d{2})?", page.input_value("#h-date"))
    date.evaluate("e => { e.value = '1999-04-01'; }")  # a year the field refuses
    sent = _posts(page)
    page.get_by_role("button", name="Word（.docx）でダウンロード").click()
    page.wait_for_timeout(300)
    assert sent == [] and "/handout?" in page.url
    assert page.evaluate("document.activeElement.id") == "h-date"
    assert date.get_attribute("aria-invalid") == "true"
    message = page.locator("#" + date.get_attribute("aria-describedby"))
    assert message.inner_text().startswith("日付は2000年1月1日から2099年12月31日までの日を")
    assert _in_view(page, "#" + date.get_attribute("aria-describedby"))
    check_axe(page, "handout-date-error")
    page.fill("#h-date", "2025-04-01")  # put right, the message goes
    assert not message.is_visible() and date.get_attribute("aria-invalid") is None
    with page.expect_download():
        page.get_by_role("button", name="Word（.docx）でダウンロード").click()


def test_a_date_the_field_cannot_send_stays_on_the_handout_without_script(browser, base_url):
    context = browser.new_context(base_url=base_url, java_script_enabled=False)
    pg = context.new_page()
    pg.goto("/handout?item=tobetsu-sg-1")
    pg.locator("#h-date").evaluate("e => { e.value = '1999-04-01'; }")
    sent = _posts(pg)
    pg.get_by_role("button", name="Markdown でダウンロード").click()
    pg.wait_for_timeout(300)
    assert sent == [] and pg.locator("article.handout").is_visible()  # the browser's own check
    context.close()
