"""docs/api.md stays true: every key the JSON API returns is described in its endpoint's section,
every value the code declares (tiers, fallbacks, confidences, sections…) is listed, the limits
and defaults it states are the code's, its examples use only keys the API returns, and the
behaviours it promises (escaped snippets, code-point highlights, no CORS or caching headers,
keys in the CLI's order, unpaged partial matches, at most a few cases without a strong match) hold.

tests/test_api.py checks the API itself; this file checks what the document says of it.
"""

from __future__ import annotations

import json
import re
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest

from caresearch import config, highlight, models, policy, tfidf
from caresearch.web import MAX_CONTENT_LENGTH, MAX_QUERY_STRING, SERVER_OPTIONS
from caresearch.web.api import PARAMETERS

DOC_PATH = Path(__file__).parents[1] / "docs" / "api.md"

# The calls whose responses the document describes (its examples among them), chosen so that
# every optional key shows up: `holds`, `heading`, `elsewhere`, `relaxed`, `suggestions`, a
# case-level `notice`, no case at all, no strong match.
SEARCHES = [
    {"q": "見守り 買い物", "limit": "2"},  # the example: partial, holds, elsewhere (figure)
    {"q": "ICT 回想法"},  # fallback "or": holds on the hits
    {"q": "通いの場"},  # relaxed to related words
    {"q": "協議体"},  # relaxed to parts; a hit matched in details
    {"q": "認知症 -就労"},  # excluded
    {"q": "見守"},  # nothing found: suggestions, nowhere
    {"q": "ざいたく"},  # an expansion by reading (tier typed)
    {"q": "認知症", "theme": "介護予防", "section": "content"},  # filters
]
DESCRIPTIONS = [
    "医者がいない",  # the example: heading, highlights, synonym
    "ゴミ屋敷の対応に困っている",  # no case: notice of the words
    "相談と連携の仕組みを検討したい",  # no case: only general words
    "観光客を増やすための観光振興とふるさと納税の返礼品の開発",  # no strong match
    "自治会の担い手がいない",  # parts, and a case whose key points stand in (its notice)
    "ICTで情報共有したい",  # via theme
]
# The values of matched_terms[].via (models.MatchedTerm: exact | synonym | parts | theme)
VIA_VALUES = ("exact", "synonym", "parts", "theme")


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC_PATH.read_text(encoding="utf-8")


def section(doc: str, heading: str) -> str:
    """The text of the `## ` section whose heading starts with `heading` (up to the next one)."""
    parts = re.split(r"^(?=## )", doc, flags=re.M)
    found = [p for p in parts if p.startswith(f"## {heading}")]
    assert len(found) == 1, f"one section '## {heading}…' in docs/api.md, found {len(found)}"
    return found[0]


def code_tokens(text: str) -> set[str]:
    """The identifiers inside the `code spans` of `text`."""
    return {t for span in re.findall(r"`([^`\n]+)`", text) for t in re.findall(r"\w+", span)}


def table_tokens(text: str) -> set[str]:
    """The identifiers in code font in the table rows of `text` (where fields are described)."""
    return code_tokens("\n".join(line for line in text.splitlines() if line.startswith("|")))


def keys_of(value: Any, path: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """Every key path of a JSON value; a list's items are `[]`, the keys of facet counts
    (values of the data: 北海道, 認知症) are `*`."""
    out: set[tuple[str, ...]] = set()
    if isinstance(value, dict):
        data_keys = len(path) == 2 and path[0] == "facets"
        for k, v in value.items():
            here = (*path, "*" if data_keys else k)
            out.add(here)
            out |= keys_of(v, here)
    elif isinstance(value, list):
        for v in value:
            out |= keys_of(v, (*path, "[]"))
    return out


def names(paths: set[tuple[str, ...]]) -> set[str]:
    return {p[-1] for p in paths if p[-1] not in ("[]", "*")}


def get_json(client, url: str, params: dict | None = None) -> Any:
    r = client.get(url, query_string=params)
    assert r.status_code == 200, (url, params, r.get_data(as_text=True))
    return r.get_json()


def post_json(client, body: dict) -> Any:
    r = client.post("/api/recommend", json=body)
    assert r.status_code == 200, (body, r.get_data(as_text=True))
    return r.get_json()


@pytest.fixture(scope="module")
def responses(app) -> dict[str, list[Any]]:
    """Real responses of every endpoint on the bundled corpus, by endpoint name."""
    client = app.test_client()
    ids = [c["case_id"] for c in get_json(client, "/api/cases")["cases"]]
    missing = client.get("/api/cases/nope")
    assert missing.status_code == 404
    return {
        "api.search": [get_json(client, "/api/search", p) for p in SEARCHES],
        "api.recommend": [
            *(post_json(client, {"text": t}) for t in DESCRIPTIONS),
            post_json(client, {"text": "医者がいない", "limit": 2}),
        ],
        "api.cases": [get_json(client, "/api/cases")],
        "api.case": [get_json(client, f"/api/cases/{i}") for i in ids],
        "api.similar": [get_json(client, f"/api/cases/{i}/similar", {"limit": 50}) for i in ids],
        "api.lessons": [
            get_json(client, "/api/lessons"),
            get_json(client, "/api/lessons", {"theme": "介護予防", "prefecture": "千葉県"}),
        ],
        "error": [missing.get_json()],
    }


@pytest.fixture(scope="module")
def endpoint_headings(app) -> dict[str, str]:
    """Per API endpoint, the start of its section heading: `GET /api/cases/&lt;id&gt;/similar`."""
    out = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PARAMETERS:
            method = "POST" if "POST" in rule.methods else "GET"
            path = re.sub(r"<(?:\w+:)?\w+>", "&lt;id&gt;", rule.rule)
            out[rule.endpoint] = f"{method} {path} "
    assert set(out) == set(PARAMETERS)
    return out


def key_paths(responses: dict[str, list[Any]], endpoint: str) -> set[tuple[str, ...]]:
    return set().union(*(keys_of(r) for r in responses[endpoint]))


# --- every key is described ---------------------------------------------------------------


@pytest.mark.parametrize("endpoint", sorted(PARAMETERS))
def test_every_key_an_endpoint_returns_is_described_in_its_section(
    doc, responses, endpoint_headings, endpoint
):
    described = table_tokens(section(doc, endpoint_headings[endpoint]))
    returned = names(key_paths(responses, endpoint))
    assert returned, endpoint
    assert returned <= described, (
        f"{endpoint}: not in a table of its section: {returned - described}"
    )


def test_the_error_shape_is_described(doc, responses):
    described = table_tokens(section(doc, "エラー"))
    assert names(key_paths(responses, "error")) == {"error", "status", "message"}
    assert {"error", "status", "message"} <= described


def test_the_calls_above_return_the_optional_keys_the_document_names(responses):
    # if a corpus or ranking change hid them, the key test above would check less
    search = names(key_paths(responses, "api.search"))
    assert {"holds", "heading", "elsewhere", "instead", "related", "parts"} <= search
    recommend = names(key_paths(responses, "api.recommend"))
    assert {"heading", "highlights", "matched_terms", "via", "notice"} <= recommend
    assert any(
        c["notice"] == models.NO_PASSAGE_HOLDS
        for r in responses["api.recommend"]
        for c in r["cases"]
    )


@pytest.mark.parametrize("endpoint", sorted(PARAMETERS))
def test_every_parameter_an_endpoint_reads_is_in_its_table(doc, endpoint_headings, endpoint):
    described = table_tokens(section(doc, endpoint_headings[endpoint]))
    assert set(PARAMETERS[endpoint]) <= described, endpoint


def test_overview_keys_are_described_in_the_case_section(doc, endpoint_headings):
    text = section(doc, endpoint_headings["api.case"])
    for key, label in models.OVERVIEW_LABELS.items():
        assert f"`{key}`（{label}）" in text, key


# --- every value the code declares is listed ------------------------------------------------


def test_tiers_fallbacks_and_places_are_listed(doc, endpoint_headings, responses):
    text = section(doc, endpoint_headings["api.search"])
    listed = code_tokens(text)
    assert set(models.TIER_NAMES.values()) <= listed
    assert set(models.MATCHED_IN_LABELS) | {"text"} <= listed
    kinds = list(models.RELAXATIONS)
    relaxed = ["+".join(c) for n in range(1, len(kinds) + 1) for c in combinations(kinds, n)]
    fallbacks = [*relaxed, "or", *(f"{r}+or" for r in relaxed)]
    for value in fallbacks:
        assert f"| `{value}` |" in text, f"fallback {value} has no row"
    for r in responses["api.search"]:
        assert r["fallback"] is None or r["fallback"] in fallbacks
        for hit in r["hits"] + r["partial"]:
            assert hit["tier"] in models.TIER_NAMES.values()
            assert hit["matched_in"] in {*models.MATCHED_IN_LABELS, "text"}
        for e in r["expansions"]:
            assert {x["tier"] for x in e["expansions"]} <= set(models.TIER_NAMES.values())


def test_confidences_and_vias_are_listed(doc, endpoint_headings, responses):
    text = section(doc, endpoint_headings["api.recommend"])
    for key, label in models.CONFIDENCE_LABELS.items():
        assert f"`{key}`（{label}）" in text, key
    for via in VIA_VALUES:
        assert f"| `{via}` |" in text, via
    seen = {
        m["via"] for r in responses["api.recommend"] for c in r["cases"] for m in c["matched_terms"]
    }
    assert seen <= set(VIA_VALUES), seen - set(VIA_VALUES)
    assert {c["confidence"] for r in responses["api.recommend"] for c in r["cases"]} <= set(
        models.CONFIDENCE_LABELS
    )


def test_every_section_is_listed_with_its_label(doc, responses):
    for key, label in models.SECTION_LABELS.items():
        assert f"| `{key}` | {label} |" in doc, key
    answers = section(doc, "POST /api/recommend")
    assert {k for k, s in models.SECTION_BY_KEY.items() if s.answer_weight} <= code_tokens(answers)
    for r in responses["api.recommend"]:
        for lesson in r["lessons"] + [x for c in r["cases"] for x in c["lessons"]]:
            assert models.SECTION_BY_KEY[lesson["section"]].answer_weight > 0
            assert lesson["kind"] == lesson["section"]


def test_audiences_facets_and_lesson_kinds_are_listed(doc, endpoint_headings):
    for key, label in models.AUDIENCE_LABELS.items():
        assert f"`{key}`（{label}）" in doc, key
    for facet in models.FACETS:
        assert f"`{facet.key}`（{facet.label}）" in doc, facet.key
    lessons = section(doc, endpoint_headings["api.lessons"])
    assert set(models.LESSON_KINDS) <= code_tokens(lessons)


def test_the_notices_are_quoted_as_the_code_says_them(doc):
    for message in (
        models.NO_STRONG_MATCH,
        models.NO_CASE_ONLY_GENERAL,
        models.NO_PASSAGE_HOLDS,
        models.NO_CASE_FOR_WORDS.format(words="ゴミ屋敷"),
        models.PAST_THE_END.format(total=5),
    ):
        assert message in doc, message
    assert models.PARTIAL_MATCH.startswith(
        "どの事例も、課題の一部に合うだけです（合う度合い: 低）。"
    )
    assert "どの事例も、課題の一部に合うだけです（合う度合い: 低）。" in doc


# --- limits and defaults ----------------------------------------------------------------------


def tables_with_defaults(doc: str) -> list[str]:
    """The rows of the tables whose header has a 既定 (default) column: the parameter tables
    and the table of limits."""
    rows: list[str] = []
    for table in re.findall(r"(?:^\|.*\n)+", doc, flags=re.M):
        lines = table.splitlines()
        if "既定" in lines[0]:
            rows += lines[2:]
    return rows


def test_the_parameter_ranges_are_the_limits(doc):
    for name, limit in config.LIMITS.items():
        rows = [line for line in tables_with_defaults(doc) if line.startswith(f"| `{name}`")]
        if name == "threads":
            assert not rows  # a server option, not an API parameter
            continue
        assert rows, name
        for row in rows:
            assert f"{limit.low}〜{limit.high}" in row, row


def test_the_defaults_are_the_settings(doc):
    defaults = {s.env: s.default for s in config.SETTINGS}
    for env in (
        "CARESEARCH_PAGE_SIZE",
        "CARESEARCH_PASSAGES_PER_CASE",
        "CARESEARCH_MAX_QUERY_CHARS",
        "CARESEARCH_MAX_TEXT_CHARS",
    ):
        rows = [line for line in doc.splitlines() if line.startswith("|") and f"`{env}`" in line]
        assert rows, env
        for row in rows:
            assert str(defaults[env]) in row, row


def test_the_size_limits_are_the_servers(doc):
    assert f"{MAX_CONTENT_LENGTH // 1024} KB" in doc
    assert f"{MAX_QUERY_STRING // 1024} KB" in doc
    assert f"{SERVER_OPTIONS['max_request_body_size'] // (1024 * 1024)} MB" in doc


def test_the_caps_are_the_policys(doc, endpoint_headings):
    p = policy.RecommendPolicy()
    text = section(doc, endpoint_headings["api.recommend"])
    assert f"最大 {p.no_match_cases} 件" in text
    assert f"最大{p.passages_per_case}件" in text
    assert f"最大{p.overall_answers}件" in text
    assert f"最大{p.matched_terms}" in text
    assert f"約{p.excerpt_chars}文字" in text
    assert f"約{highlight.SNIPPET_CHARS}文字" in section(doc, endpoint_headings["api.search"])
    assert str(tfidf.MIN_SIMILARITY) in section(doc, endpoint_headings["api.similar"])


# --- the examples -------------------------------------------------------------------------------


EXAMPLE_ENDPOINTS = {
    "search": "api.search",
    "recommend": "api.recommend",
    "cases": "api.cases",
    "case": "api.case",
    "similar": "api.similar",
    "lessons": "api.lessons",
    "error": "error",
}


def test_every_example_is_json_with_keys_the_api_returns(doc, responses):
    examples = re.findall(r"<!-- example: (\w+) -->\n```json\n(.*?)```", doc, flags=re.S)
    assert {name for name, _ in examples} == set(EXAMPLE_ENDPOINTS)
    for name, text in examples:
        example = json.loads(text)
        real = key_paths(responses, EXAMPLE_ENDPOINTS[name])
        unknown = keys_of(example) - real
        assert not unknown, f"example {name}: keys the API does not return: {unknown}"
        if isinstance(example, dict) and name != "error":
            top = {p[0] for p in real}
            assert set(example) == top, f"example {name} leaves out top-level keys"


def test_the_examples_are_what_the_api_answers(client, doc):
    # the trimmed examples keep real values: the search example's counts and notes
    data = get_json(client, "/api/search", {"q": "見守り 買い物", "limit": "2"})
    assert f'"partial_note": "{data["partial_note"]}"' in doc
    assert f'"partial_total": {data["partial_total"]}' in doc
    none = post_json(client, {"text": "ゴミ屋敷の対応に困っている"})
    assert json.dumps(none["notice"], ensure_ascii=False) in doc


# --- what the document promises ---------------------------------------------------------------


def test_no_cors_or_caching_headers(client):
    for r in (
        client.get("/api/cases", headers={"Origin": "http://portal.example"}),
        client.post("/api/recommend", json={"text": "医者がいない"}),
        client.options("/api/recommend", headers={"Origin": "http://portal.example"}),
        client.get("/api/cases/nope"),
    ):
        for name, _value in r.headers.items():
            assert not name.lower().startswith("access-control-"), name
            assert name.lower() not in ("cache-control", "etag", "last-modified", "expires"), name


def test_facet_values_come_most_cases_first_as_the_cli_has_them(client, bundled_engine):
    # the API sorted every object's keys, so facets read in the order of their characters
    # (認知症: 4 came last) while the CLI's --json has them most first
    data = client.get("/api/search?q=認知症").get_json()
    for counts in data["facets"].values():
        assert list(counts.values()) == sorted(counts.values(), reverse=True)
    from caresearch import serialize

    expected = serialize.search_result(bundled_engine.search("認知症"))
    assert list(data["facets"]["theme"]) == list(expected["facets"]["theme"])
    assert client.get("/api/search?q=認知症").get_data(as_text=True).index('"query"') < 5


def test_snippets_are_escaped_html_with_only_mark(responses):
    snippets = [
        p["snippet"]
        for r in responses["api.search"]
        for hit in r["hits"] + r["partial"]
        for p in hit["passages"]
    ] + [
        lesson["snippet"]
        for r in responses["api.recommend"]
        for lesson in r["lessons"] + [x for c in r["cases"] for x in c["lessons"]]
    ]
    assert snippets
    for s in snippets:
        bare = re.sub(r"</?mark>", "", s)
        assert "<" not in bare and ">" not in bare, s


def test_highlights_are_code_point_spans_of_text(responses):
    spans = 0
    for r in responses["api.recommend"]:
        for lesson in r["lessons"] + [x for c in r["cases"] for x in c["lessons"]]:
            last = 0
            for start, end in lesson["highlights"]:
                assert last <= start < end <= len(lesson["text"]), lesson["id"]
                assert (
                    f"<mark>{lesson['text'][start:end]}" in lesson["snippet"]
                    or "…" in (lesson["snippet"])
                )
                last = end
                spans += 1
    assert spans


def test_without_a_strong_match_at_most_a_few_cases_whatever_the_limit(client):
    data = post_json(
        client, {"text": "観光客を増やすための観光振興とふるさと納税の返礼品の開発", "limit": 50}
    )
    assert data["no_strong_match"] is True
    assert 0 < len(data["cases"]) <= policy.RecommendPolicy().no_match_cases
    assert {c["confidence"] for c in data["cases"]} == {"low"}
    assert data["notice"] == models.NO_STRONG_MATCH


def test_partial_matches_are_not_paged_and_not_counted_in_total(client):
    one = get_json(client, "/api/search", {"q": "見守り 買い物", "limit": "1"})
    assert one["total"] == len(one["hits"]) == 1
    assert len(one["partial"]) == 1 < one["partial_total"]
    assert "のうち、合う語の多い順に1件" in one["partial_note"]
    assert all("holds" in hit for hit in one["partial"])
    assert all("holds" not in hit for hit in one["hits"])
    second = get_json(client, "/api/search", {"q": "見守り 買い物", "limit": "1", "page": "2"})
    assert second["partial"] == [] and second["hits"] == []
    every = get_json(client, "/api/search", {"q": "見守り 買い物", "limit": one["partial_total"]})
    assert len(every["partial"]) == one["partial_total"]


def test_identical_calls_answer_identical_bytes(client):
    for call in (
        lambda: client.get("/api/search", query_string={"q": "見守り 買い物"}),
        lambda: client.post("/api/recommend", json={"text": "医者がいない"}),
    ):
        assert call().get_data() == call().get_data()


def test_recommend_needs_a_json_content_type(client):
    r = client.post("/api/recommend", data='{"text": "医者がいない"}', content_type="text/plain")
    assert r.status_code == 400
    assert "Content-Type: application/json" in r.get_json()["error"]["message"]


def test_a_case_is_found_by_its_id_or_municipality_as_documented(client, doc, endpoint_headings):
    text = section(doc, endpoint_headings["api.case"])
    assert "市町村名（`当別町`、`当別`、`北海道当別町`" in text
    for name in ("tobetsu", "TOBETSU", "当別町", "当別", "北海道当別町"):
        assert get_json(client, f"/api/cases/{name}")["case_id"] == "tobetsu", name
    assert get_json(client, "/api/cases/当別町/similar")["case_id"] == "tobetsu"
    r = client.get("/api/cases/nope")
    assert r.status_code == 404
    assert r.get_json()["error"]["message"].startswith("事例が見つかりません: nope（事例の id か")
