"""The JSON API: the CLI's --json shapes (serialize.*) and JSON errors with the right status."""

from __future__ import annotations

import json

import pytest

from caresearch import serialize

PROBLEM = "認知症の人と家族を地域で支えたい。ケアマネジャーと医師の連携も課題です。"


def error_of(r, status: int) -> str:
    assert r.status_code == status
    assert r.mimetype == "application/json"
    body = r.get_json()
    assert set(body) == {"error"}
    assert body["error"]["status"] == status
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]["message"]


def test_search_has_the_cli_shape(client, bundled_engine):
    r = client.get("/api/search?q=認知症")
    assert r.status_code == 200 and r.mimetype == "application/json"
    assert r.get_json() == serialize.search_result(bundled_engine.search("認知症"))
    assert "<mark>認知症</mark>" in r.get_data(as_text=True)  # not \u-escaped, not HTML-escaped


def test_search_filters_page_and_limit(client, bundled_engine):
    r = client.get("/api/search?q=地域&theme=介護予防&page=2&limit=1")
    expected = bundled_engine.search("地域", filters={"theme": "介護予防"}, page=2, page_size=1)
    assert r.get_json() == serialize.search_result(expected)
    data = r.get_json()
    assert data["page"] == 2 and data["page_size"] == 1 and len(data["hits"]) <= 1
    assert data["filters"] == {"theme": ["介護予防"]}
    several = client.get("/api/search?q=地域&theme=介護予防&theme=認知症").get_json()
    assert several["filters"] == {"theme": ["介護予防", "認知症"]}
    assert several["total"] >= data["total"]


@pytest.mark.parametrize("flag", ["1", "true", "on"])
def test_exact_mode_searches_only_the_words_as_typed(client, bundled_engine, flag):
    loose = client.get("/api/search?q=ケアマネ").get_json()
    exact = client.get(f"/api/search?q=ケアマネ&exact={flag}").get_json()
    assert exact == serialize.search_result(bundled_engine.search("ケアマネ", exact=True))
    assert exact["exact"] is True and loose["exact"] is False
    assert exact["total"] < loose["total"]  # 介護支援専門員 and ケアマネジャー are not searched


def test_a_page_past_the_end_says_so(client):
    data = client.get("/api/search?q=認知症&page=99").get_json()
    assert data["hits"] == [] and data["total"] > 0
    assert data["notice"] == f"このページに結果はありません（全 {data['total']} 件）。"


def test_search_fallback_is_reported(client):
    assert client.get("/api/search?q=ICT 回想法").get_json()["fallback"] == "or"
    relaxed = client.get("/api/search?q=認知症 ふるさと納税").get_json()
    assert relaxed["fallback"] == "parts+or"
    # 納税 is in no case: only the part some case has is named
    assert relaxed["relaxed"] == [{"word": "ふるさと納税", "parts": ["ふるさと"]}]
    assert "「ふるさと納税」を含む事例はありません" in relaxed["notice"]


def test_a_related_word_searched_instead_is_reported(client):
    data = client.get("/api/search?q=通いの場").get_json()
    assert data["fallback"] == "related"
    assert data["relaxed"] == [
        {"word": "通いの場", "related": ["サロン", "高齢者サロン", "居場所"]}
    ]
    assert data["notice"] == (
        "「通いの場」を含む事例はありません。"
        "関連する語（サロン、高齢者サロン、居場所）を含む事例を表示しています。"
    )
    assert {h["tier"] for h in data["hits"]} == {"related"}


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/api/search", 400),
        ("/api/search?q=", 400),
        ("/api/search?q=+++", 400),
        ("/api/search?q=" + "認" * 201, 400),
        ("/api/search?q=認知症&page=0", 400),
        ("/api/search?q=認知症&page=abc", 400),
        ("/api/search?q=認知症&limit=51", 400),
        ("/api/cases/nope", 404),
        ("/api/cases/..", 404),
        ("/api/cases/nope/similar", 404),
        ("/api/lessons?theme=存在しないテーマ", 400),
        ("/api/lessons?kind=other", 400),
        ("/api/nothing", 404),
        ("/api/recommend", 405),
    ],
)
def test_get_errors_are_json(client, url, status):
    error_of(client.get(url), status)


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("/api/search?q=認知症&page=abc", "page: ページ番号は1から1000までの整数"),
        ("/api/search?q=認知症&page=1.5", "page: ページ番号は1から1000までの整数"),
        ("/api/search?q=認知症&limit=すべて", "limit: 件数は1から50までの整数"),
        ("/api/search?q=認知症&page=①", "page: ページ番号は1から1000までの整数"),  # not a number
        ("/api/cases/tobetsu/similar?limit=0", "limit: 件数は1から50までの整数"),
    ],
)
def test_a_number_that_is_not_one_is_named_with_its_parameter(client, url, said):
    # a program's author sees which parameter was wrong, as the CLI names its option
    assert said in error_of(client.get(url), 400)


def test_a_bad_limit_in_a_recommend_body_is_named(client):
    body = '{"text": "認知症", "limit": 0}'
    response = client.post("/api/recommend", data=body, content_type="application/json")
    assert "limit: 件数は1から50までの整数" in error_of(response, 400)


@pytest.mark.parametrize(
    ("method", "url", "body", "said"),
    [
        ("get", "/api/search?q=認知症&pref=東京都", None, "使えないパラメータです: 「pref」"),
        (
            "get",
            "/api/lessons?theme=介護予防&case=tobetsu",
            None,
            "使えないパラメータです: 「case」",
        ),
        ("get", "/api/cases/tobetsu/similar?n=3", None, "使えないパラメータです: 「n」"),
        ("post", "/api/recommend", {"text": "医者が足りない", "limt": 3}, "「limt」"),
        # the body is read, not the address: limit=1 there was dropped and 5 cases came back
        ("post", "/api/recommend?limit=1", {"text": "医者が足りない"}, "アドレスのパラメータは"),
        # one value read, the other dropped
        ("get", "/api/search?q=認知症&q=就労", None, "一度だけ指定できるパラメータです: q"),
        (
            "get",
            "/api/search?q=認知症&page=1&page=2",
            None,
            "一度だけ指定できるパラメータです: page",
        ),
    ],
)
def test_a_parameter_an_endpoint_does_not_read_is_named_not_dropped(
    client, method, url, body, said
):
    # a filter under a guessed name was ignored: every case came back, as if it had matched
    r = client.get(url) if method == "get" else client.post(url, json=body)
    assert said in error_of(r, 400)


def test_filters_may_repeat_and_every_value_counts(client, bundled_engine):
    two = client.get("/api/lessons?theme=介護予防&theme=在宅医療").get_json()["total"]
    assert two == len(bundled_engine.lessons(theme=["介護予防", "在宅医療"]))
    assert two > client.get("/api/lessons?theme=介護予防").get_json()["total"]


def test_every_api_endpoint_declares_the_parameters_it_reads(app):
    from caresearch.web.api import PARAMETERS

    endpoints = {r.endpoint for r in app.url_map.iter_rules() if r.endpoint.startswith("api.")}
    assert endpoints == set(PARAMETERS)


def test_the_parameters_an_endpoint_reads_are_accepted(client):
    for url in (
        "/api/search?q=認知症&prefecture=北海道&theme=認知症&page=1&limit=2&exact=0",
        "/api/lessons?theme=介護予防&prefecture=千葉県&kind=suggestion",
        "/api/cases/tobetsu/similar?limit=2",
        "/api/cases",
        "/api/cases/tobetsu",
    ):
        assert client.get(url).status_code == 200, url


def test_a_method_that_does_not_work_says_which_does(client):
    message = error_of(client.get("/api/recommend"), 405)
    assert "使える方法: POST" in message and '{"text"' in message
    assert "使える方法: GET" in error_of(client.post("/api/search?q=認知症"), 405)


def test_recommend_has_the_cli_shape(client, bundled_engine):
    r = client.post("/api/recommend", json={"text": PROBLEM})
    assert r.status_code == 200
    assert r.get_json() == serialize.recommendation(bundled_engine.recommend(PROBLEM))
    r = client.post("/api/recommend", json={"text": PROBLEM, "limit": 2})
    assert len(r.get_json()["cases"]) <= 2


def test_recommend_flags_no_strong_match(client):
    data = client.post(
        "/api/recommend", json={"text": "観光客を増やすための観光振興とふるさと納税の返礼品の開発"}
    ).get_json()
    assert data["no_strong_match"] is True
    assert all(c["confidence"] == "low" for c in data["cases"])
    # said in the JSON as on the page and the CLI (its notice was null)
    assert data["cases"] and data["notice"].startswith(
        "この課題に強く合う事例は見つかりませんでした。"
    )


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[1, 2]",
        '"text"',
        "{}",
        '{"text": ""}',
        '{"text": "   "}',
        '{"text": 42}',
        '{"text": null}',
        '{"text": "認知症", "limit": 0}',
        '{"text": "認知症", "limit": "x"}',
        '{"text": "認知症", "limit": true}',
        "[" * 995,  # nested too deeply for the JSON reader: was a RecursionError and a 500
    ],
)
def test_recommend_bad_bodies_are_400(client, body):
    error_of(client.post("/api/recommend", data=body, content_type="application/json"), 400)


def test_recommend_without_json_content_type_is_400(client):
    message = error_of(client.post("/api/recommend", data={"text": PROBLEM}), 400)
    # fetch() sends a string body as text/plain: the message names the header to set
    assert "Content-Type: application/json" in message
    message = error_of(
        client.post("/api/recommend", data='{"text": "見守り"}', content_type="text/plain"), 400
    )
    assert "Content-Type: application/json" in message


def test_a_filter_given_empty_first_and_then_set_is_applied(client):
    # a form with an empty first option sent prefecture=&prefecture=北海道: the filter was
    # dropped and every case came back
    r = client.get("/api/search?q=高齢者&prefecture=&prefecture=北海道")
    data = r.get_json()
    assert r.status_code == 200 and data["filters"] == {"prefecture": ["北海道"]}
    assert {h["prefecture"] for h in data["hits"]} == {"北海道"}


def test_recommend_too_long_is_413(client):
    message = error_of(client.post("/api/recommend", json={"text": "認" * 4001}), 413)
    assert "4000" in message
    body = json.dumps({"text": "あ" * 70_000})
    error_of(client.post("/api/recommend", data=body, content_type="application/json"), 413)


def test_wrong_methods_are_405(client):
    for url in ("/api/search?q=認知症", "/api/cases", "/api/cases/tobetsu", "/api/lessons"):
        r = client.post(url, json={})
        error_of(r, 405)
        assert "GET" in r.headers["Allow"]


def test_cases_list(client, bundled_engine):
    data = client.get("/api/cases").get_json()
    assert data["total"] == len(bundled_engine.cases)
    assert data["cases"] == [serialize.case_summary(c) for c in bundled_engine.cases]


def test_case_detail_and_similar(client, bundled_engine):
    case = bundled_engine.case("tobetsu")
    assert client.get("/api/cases/tobetsu").get_json() == serialize.case_detail(case)
    data = client.get("/api/cases/tobetsu/similar").get_json()
    assert data == serialize.similar(case, bundled_engine.similar("tobetsu"))
    assert data["similar"] and all(s["case_id"] != "tobetsu" for s in data["similar"])
    assert len(client.get("/api/cases/tsuruoka/similar?limit=2").get_json()["similar"]) == 2
    # by its municipality too, as `caresearch show 当別町` reads it (it was a 404)
    assert client.get("/api/cases/当別町").get_json() == serialize.case_detail(case)
    assert client.get("/api/cases/当別/similar").get_json() == data


def test_lessons(client, bundled_engine):
    data = client.get("/api/lessons?theme=認知症").get_json()
    expected = bundled_engine.lessons(theme="認知症")
    assert data["total"] == len(expected)
    assert data["lessons"] == [serialize.lesson_dict(lesson) for _c, lesson in expected]
    kinds = {
        les["kind"] for les in client.get("/api/lessons?kind=suggestion").get_json()["lessons"]
    }
    assert kinds == {"suggestion"}
    assert client.get("/api/lessons").get_json()["total"] == len(bundled_engine.lessons())
    # an empty list says why, as the page and the CLI do (認知症 is a theme of cases only)
    assert data["total"] == 0 and data["notice"].startswith(
        "テーマ「認知症」の付いた教訓はありません"
    )
    assert client.get("/api/lessons?kind=suggestion").get_json()["notice"] is None


def test_api_responses_carry_security_headers(client):
    for r in (client.get("/api/cases"), client.get("/api/cases/nope")):
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert "default-src 'self'" in r.headers["Content-Security-Policy"]


def test_tiny_corpus_titles_stay_data(tiny_client):
    r = tiny_client.get("/api/cases/gamma")
    assert r.mimetype == "application/json"
    assert r.get_json()["title"] == "住民の居場所づくり<script>alert(1)</script>"
    hits = tiny_client.get("/api/search?q=居場所").get_json()["hits"]
    assert any(h["case_id"] == "gamma" for h in hits)


def test_the_readme_lists_every_endpoint_with_the_parameters_it_reads(app):
    import re
    from pathlib import Path

    from caresearch.web.api import PARAMETERS

    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    table = readme.split("## JSON API", 1)[1].split("\n## ", 1)[0]
    rows = {
        r.split("|")[1].strip(" `"): r.split("|")[2]
        for r in table.splitlines()
        if r.startswith("| `")
    }
    paths = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PARAMETERS:
            method = "POST" if "POST" in rule.methods else "GET"
            paths[rule.endpoint] = f"{method} " + re.sub(r"<(?:\w+:)?(\w+)>", r"<id>", rule.rule)
    assert set(rows) == set(paths.values())
    for endpoint, usable in PARAMETERS.items():
        # `name` in the cell, or "name": in a JSON body; kind's values are named with it
        named = {a or b for a, b in re.findall(r'`(\w+)`|"(\w+)":', rows[paths[endpoint]])}
        assert named - {"key_point", "suggestion"} == set(usable), endpoint


def test_an_unknown_lesson_kind_names_the_kinds_there_are(client):
    said = error_of(client.get("/api/lessons?kind=foo"), 400)
    assert "key_point（この事例のポイント）" in said and "suggestion" in said
