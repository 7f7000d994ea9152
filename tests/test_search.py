"""Keyword search (caresearch.searching, query, highlight) through the Engine.

Three corpora: the bundled six cases, the tiny awkward corpus, and small corpora written here
into tmp dirs where one case differs from another in exactly the way a test is about.
"""

from __future__ import annotations

import dataclasses
import html
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from caresearch import serialize
from caresearch.analysis import Analyzer
from caresearch.config import Settings
from caresearch.docscores import DOC_DECAY, covering, score_cases, word_vector
from caresearch.engine import Engine
from caresearch.errors import QueryError
from caresearch.filters import FacetTable
from caresearch.highlight import flatten, match_spans, snippet
from caresearch.models import (
    FACETS,
    SECTION_BY_KEY,
    SECTION_LABELS,
    TIER_NAMES,
    CaseInfo,
    Relaxed,
    SearchResult,
)
from caresearch.querysyntax import split_query, typed
from caresearch.synonyms import SynonymTable

MARK = re.compile(r"<mark>(.*?)</mark>", re.S)
NEUTRAL = "高齢者の暮らしを地域で支える。"


# --- helpers -----------------------------------------------------------------------------------


def write_corpus(root: Path, cases: dict[str, dict]) -> Path:
    """A valid corpus of minimal cases. Each value overrides fields of a neutral case."""
    (root / "cases").mkdir(parents=True)
    (root / "themes.yaml").write_text(
        "- {label: 生活支援, description: d}\n- {label: 認知症, description: d}\n",
        encoding="utf-8",
    )
    for order, (cid, extra) in enumerate(cases.items(), start=1):
        features = extra.pop("features", [NEUTRAL])
        key_points = extra.pop("key_points", ["住民が運営を担っている。"])
        data = {
            "id": cid,
            "order": order,
            "prefecture": "架空県",
            "municipality": f"{cid}町",
            "region": "東北",
            "title": "取り組み事例",
            "keywords": ["地域"],
            "themes": ["生活支援"],
            "features": [
                {"id": f"{cid}-feat-{i}", "text": t} for i, t in enumerate(features, start=1)
            ],
            "key_points": {
                "region": [
                    {"id": f"{cid}-kp-r{i}", "text": t} for i, t in enumerate(key_points, start=1)
                ],
                "municipality": [{"id": f"{cid}-kp-m1", "text": "町が後押しした。"}],
            },
            "suggestions": [{"id": f"{cid}-sg-1", "text": "まず始めてみましょう"}],
            **extra,
        }
        (root / "cases" / f"{cid}.yaml").write_text(
            yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8"
        )
    return root


def open_engine(tmp: Path, cases: dict[str, dict]) -> Iterator[Engine]:
    settings = Settings.from_env(
        {}, corpus_dir=write_corpus(tmp / "corpus", cases), index_dir=tmp / "index"
    )
    Engine.build(settings)
    engine = Engine.open(settings)
    yield engine
    engine.close()


def ids(result: SearchResult) -> list[str]:
    return [h.case.id for h in result.hits]


def all_hits(engine: Engine, query: str, **filters: str) -> SearchResult:
    return engine.search(query, filters=filters or None, page_size=50)


def marked(result: SearchResult) -> list[str]:
    return [
        html.unescape(m) for h in result.hits for p in h.passages for m in MARK.findall(p.snippet)
    ]


def case_text(case) -> str:
    return "\n".join([case.title, *case.keywords, *(p.text for p in case.passages())])


# --- small purpose-built corpora -----------------------------------------------------------------


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    cases = {
        # literal vs curated-synonym spellings, otherwise identical
        "kema_lit": {"features": ["ケアマネが高齢者の暮らしを地域で支える。"]},
        "kema_syn": {"features": ["介護支援専門員が高齢者の暮らしを地域で支える。"]},
        "shakyo_lit": {"features": ["社協が高齢者の暮らしを地域で支える。"]},
        "shakyo_syn": {"features": ["社会福祉協議会が高齢者の暮らしを地域で支える。"]},
        "gh_lit": {"features": ["グループホームが高齢者の暮らしを地域で支える。"]},
        "gh_syn": {"features": ["認知症対応型共同生活介護が高齢者の暮らしを地域で支える。"]},
        # hiragana vs kanji spelling
        "zt_kana": {"features": ["ざいたくの高齢者の暮らしを地域で支える。"]},
        "zt_kanji": {"features": ["在宅の高齢者の暮らしを地域で支える。"]},
        # a multi-morpheme word, whole vs scattered
        "phrase_whole": {"features": ["介護予防教室を公民館で開いている。"]},
        "phrase_scattered": {"features": ["教室では介護について学び、予防にも取り組む。"]},
        # two words in different passages of one case, or only one of them
        "and_both": {
            "features": ["見守り活動を自治会が担う。"],
            "key_points": ["配食の事業者も加わった。"],
        },
        "and_one": {"features": ["見守り活動を自治会が担う。"]},
        # markup in corpus text
        "markup": {
            "title": "声かけ<script>alert(1)</script>",
            "features": ['<b>声かけ</b> & "訪問" <script>alert(1)</script> を続ける'],
        },
        # quoted phrase: adjacent vs apart
        "quote_adj": {"features": ["在宅医療を進める。"]},
        "quote_apart": {"features": ["在宅介護と病院の医療を進める。"]},
        # a compound with a stop-word part (事業所 = 事業 + 所), whole vs scattered
        "office_whole": {"features": ["居宅介護支援事業所が相談に応じる。"]},
        "office_scattered": {"features": ["事業所では、居宅で暮らす人の介護を支援する。"]},
        # a phrase split by a sentence end
        "sentence_split": {"features": ["母は在宅。医療は病院で受ける。"]},
    }
    yield from open_engine(tmp_path_factory.mktemp("small"), cases)


@pytest.mark.parametrize(
    ("literal", "other"),
    [
        ("kema_lit", "kema_syn"),
        ("shakyo_lit", "shakyo_syn"),
        ("gh_lit", "gh_syn"),
    ],
)
def test_synonym_expansion_finds_the_other_spelling_but_never_outranks_the_literal(
    small: Engine, literal: str, other: str
) -> None:
    for query_case, expanded_case in ((literal, other), (other, literal)):
        word = small.case(query_case).features[0].text.split("が")[0]
        result = all_hits(small, word)
        got = ids(result)
        assert got[0] == query_case, (word, got)
        assert expanded_case in got, (word, got)
        scores = {h.case.id: h.score for h in result.hits}
        assert scores[query_case] > scores[expanded_case]


def test_hiragana_query_finds_kanji_text_but_below_the_literal_spelling(small: Engine) -> None:
    result = all_hits(small, "ざいたく")
    assert ids(result)[0] == "zt_kana"
    scores = {h.case.id: h.score for h in result.hits}
    assert 0 < scores["zt_kanji"] < scores["zt_kana"]
    kanji_first = ids(all_hits(small, "在宅"))
    assert "zt_kanji" in kanji_first
    if "zt_kana" in kanji_first:
        assert kanji_first.index("zt_kanji") < kanji_first.index("zt_kana")


def test_reading_match_is_marked_on_the_kanji(small: Engine) -> None:
    result = all_hits(small, "ざいたく")
    (kanji,) = [h for h in result.hits if h.case.id == "zt_kanji"]
    assert any("<mark>在宅</mark>" in p.snippet for p in kanji.passages)


def test_multi_morpheme_word_is_matched_as_a_phrase(small: Engine) -> None:
    assert ids(all_hits(small, "介護予防教室")) == ["phrase_whole"]
    # as separate words both cases have all three
    assert set(ids(all_hits(small, "介護 予防 教室"))) >= {"phrase_whole", "phrase_scattered"}


@pytest.mark.parametrize("query", ['"在宅医療"', "「在宅医療」", "“在宅医療”"])
def test_quoted_phrase_requires_adjacent_words(small: Engine, query: str) -> None:
    got = ids(all_hits(small, query))
    assert "quote_adj" in got and "quote_apart" not in got


def test_quoted_phrase_does_not_match_across_a_sentence_end(small: Engine) -> None:
    assert "sentence_split" not in ids(all_hits(small, '"在宅医療"'))


def test_unquoted_words_need_not_be_adjacent(small: Engine) -> None:
    got = ids(all_hits(small, "在宅 医療"))
    assert {"quote_adj", "quote_apart"} <= set(got)


def test_quoted_phrase_with_a_space_inside_stays_one_phrase(small: Engine) -> None:
    assert ids(all_hits(small, '"介護予防 教室"')) == ["phrase_whole"]


def test_words_are_anded_at_case_level_across_passages(small: Engine) -> None:
    result = all_hits(small, "見守り 配食")
    assert ids(result) == ["and_both"]
    assert result.fallback is None
    # both passages are shown, each marked with its own word
    shown = {p.passage.id: p.snippet for p in result.hits[0].passages}
    assert "<mark>見守り</mark>" in shown["and_both-feat-1"]
    assert "<mark>配食</mark>" in shown["and_both-kp-r1"]


def test_no_case_with_all_words_falls_back_to_or_and_says_so(small: Engine) -> None:
    result = all_hits(small, "グループホーム 配食")
    assert result.fallback == "or"
    assert {"gh_lit", "and_both"} <= set(ids(result))


def test_snippets_escape_corpus_markup_and_mark_only_matches(small: Engine) -> None:
    result = all_hits(small, "声かけ")
    (hit,) = [h for h in result.hits if h.case.id == "markup"]
    snippet = hit.passages[0].snippet
    assert "<script>" not in snippet and "<b>" not in snippet
    assert "&lt;b&gt;<mark>声かけ</mark>&lt;/b&gt;" in snippet
    assert "&amp;" in snippet and "&lt;script&gt;" in snippet
    # the title itself is data, returned as written (escaping is the renderer's job)
    assert hit.case.title == "声かけ<script>alert(1)</script>"


# --- every curated synonym group works ---------------------------------------------------------


@pytest.fixture(scope="module")
def synonym_corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, list]]:
    """One case per synonym group, written with the group's first spelling only."""
    groups = SynonymTable.load().groups
    cases = {f"g{i}": {"features": [f"{g[0]}を活用する。"]} for i, g in enumerate(groups)}
    for engine in open_engine(tmp_path_factory.mktemp("synonyms"), cases):
        yield engine, list(groups)


def test_every_synonym_finds_text_written_with_the_first_spelling(
    synonym_corpus: tuple[Engine, list],
) -> None:
    engine, groups = synonym_corpus
    missed = []
    for i, group in enumerate(groups):
        for term in group[1:]:
            if f"g{i}" not in ids(all_hits(engine, term)):
                missed.append((term, group[0]))
    assert missed == []


def test_a_paraphrase_points_outside_its_own_synonym_group() -> None:
    # a pointer to a word of its own group says nothing the group does not, and in keyword
    # search it could never be used (the group is found wherever the pointer's target is)
    # (compared as analysed, the way the table is keyed: 閉じこもる and 閉じこもり are one word)
    table = SynonymTable.load()
    analyzer = Analyzer()

    def key(word: str) -> tuple[str, ...]:
        return tuple(t.text for t in analyzer.tokens(word))

    group_of = {key(term): k for k, group in enumerate(table.groups) for term in group}
    same = [
        (word, target)
        for word, targets in table.paraphrases
        for target in targets
        if key(word) == key(target)
        or (key(word) in group_of and group_of.get(key(target)) == group_of[key(word)])
    ]
    assert same == []
    terms = [term for group in table.groups for term in group]
    assert len(terms) == len(set(terms))  # and a term is in one group only


# 診療所 = 診療 + 所, and 所 is a stop word: the phrase of parts must still match.
@pytest.mark.parametrize("term", ["クリニック", "医院"])
def test_synonym_whose_compound_has_a_stop_word_part_is_found(
    synonym_corpus: tuple[Engine, list], term: str
) -> None:
    engine, groups = synonym_corpus
    (i,) = [i for i, g in enumerate(groups) if term in g]
    assert groups[i][0] == "診療所"
    assert f"g{i}" in ids(all_hits(engine, term))


def test_literal_word_with_a_stop_word_part_is_matched_as_a_phrase(small: Engine) -> None:
    # 居宅介護支援事業所 = 居宅 介護 支援 事業所(事業 所), and 所 is a stop word
    assert ids(all_hits(small, "居宅介護支援事業所")) == ["office_whole"]


# Sudachi splits 見守り before a particle (見守りを…) into 見(る) + 守り, and 見る is a stop word.
@pytest.mark.parametrize("query", ["見守り", "みまもり"])
def test_mimamori_before_a_particle_is_found(
    synonym_corpus: tuple[Engine, list], query: str
) -> None:
    engine, groups = synonym_corpus
    (i,) = [i for i, g in enumerate(groups) if g[0] == "見守り"]
    assert engine.case(f"g{i}").features[0].text == "見守りを活用する。"
    assert f"g{i}" in ids(all_hits(engine, query))


# A lone surrogate is what argv holds for undecodable bytes; Sudachi cannot encode it.
@pytest.mark.parametrize("query", ["\ud800", "認知症\udcff"])
def test_lone_surrogate_is_a_query_error(bundled_engine: Engine, query: str) -> None:
    with pytest.raises(QueryError):
        bundled_engine.search(query)


# --- the examples on real text ------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "written"),
    [
        ("ケアマネ", "介護支援専門員"),
        ("社協", "社会福祉協議会"),
        ("包括", "地域包括支援センター"),
        ("ファミサポ", "ファミリーサポート"),
        ("認デイ", "認知症対応型通所介護"),
        # as staff write them in notes and forms
        ("CM", "介護支援専門員"),
        ("サ担", "サービス担当者会議"),
        ("総診", "総合診療"),
        ("通所", "デイサービス"),
        ("アセス", "アセスメント"),
        ("サポセン", "サポートセンター"),
        ("Ns", "看護師"),
        ("DS", "デイサービス"),
        ("DM", "糖尿病"),
        ("訪入", "訪問入浴"),
        ("GP", "総合診療医"),
        ("平時", "平常"),  # 平常時: 時 is not indexed on its own
        ("ショート", "ショートステイ"),
        ("SS", "ショートステイ"),
        ("地密", "地域密着型サービス"),
        ("主マネ", "主任介護支援専門員"),
        ("特非", "特定非営利活動法人"),
        ("コミレス", "コミュニティレストラン"),
        ("居宅支援事業所", "居宅介護支援事業所"),
        ("美容院", "美容室"),
        ("ベッド", "ベット"),  # 楢葉町 writes ベット
        ("成人病", "生活習慣病"),
        ("文科省", "文部科学省"),
        ("総合支援法", "自立支援法"),  # the law's name since 2013, and before
        ("介護認定", "要介護認定"),
        ("認知症施策", "認知症対策"),
        ("啓蒙", "啓発"),
        # the fifth review: administration and meetings
        ("所管課", "担当課"),
        ("組織改編", "組織再編"),
        ("優良事例", "好事例"),
        ("トライアンドエラー", "試行錯誤"),
        ("意識変革", "意識改革"),
        ("利用者負担", "自己負担"),
        ("グループ討議", "グループワーク"),
        ("定例会", "定例会議"),
        ("介保法", "介護保険法"),
        # the sixth review
        ("健康状況", "健康状態"),
        ("心理的負担", "精神的負担"),
        ("経費", "費用"),
        ("世帯構成", "家族構成"),
        ("主管課", "担当課"),
    ],
)
def test_jargon_finds_the_formal_term_in_the_bundled_cases(
    bundled_engine: Engine, query: str, written: str
) -> None:
    result = all_hits(bundled_engine, query)
    assert result.total > 0
    assert written in marked(result)


def test_a_plain_word_for_a_written_one_is_its_synonym_not_a_related_word(
    bundled_engine: Engine,
) -> None:
    # 医者 is what 医師 is, said plainly: a synonym (no 「関連する語」 notice in search, and
    # counted as the word itself in 課題から探す's reason line)
    result = all_hits(bundled_engine, "医者")
    assert result.fallback is None and "医師" in marked(result)
    rec = bundled_engine.recommend("医者が足りない。一人暮らしのお年寄りの見守りが心配。")
    assert any("医者" in cr.reason.partition("）")[0] for cr in rec.cases)
    assert not any("医者 → 医師" in cr.reason for cr in rec.cases)


def test_kema_finds_cases_that_never_say_kema(bundled_engine: Engine) -> None:
    result = all_hits(bundled_engine, "ケアマネ")
    assert any("ケアマネ" not in case_text(h.case) for h in result.hits)


@pytest.mark.parametrize(
    ("kana", "kanji"),
    [("ざいたく", "在宅"), ("いりょうかいごれんけい", "医療介護連携"), ("なんと", "南砺")],
)
def test_hiragana_query_finds_kanji_in_the_bundled_cases(
    bundled_engine: Engine, kana: str, kanji: str
) -> None:
    result = all_hits(bundled_engine, kana)
    assert result.total > 0
    assert kanji in case_text(result.hits[0].case)
    # a mark spells it, the particles of a phrase aside (医療と介護の連携)
    assert any(kanji in re.sub("[との・]", "", m) for m in marked(result))


def test_naming_a_municipality_in_kana_ranks_it_first(bundled_engine: Engine) -> None:
    assert ids(all_hits(bundled_engine, "なんと"))[0] == "nanto"


@pytest.mark.parametrize("query", ["認知", "症"])
def test_part_of_a_compound_finds_the_compound(bundled_engine: Engine, query: str) -> None:
    result = all_hits(bundled_engine, query)
    assert result.total > 0
    # the whole word is marked, never a fragment of it
    assert "認知症" in marked(result)
    for hit in result.hits:
        for p in hit.passages:
            assert "<mark>認知</mark>症" not in p.snippet
            assert "認知<mark>症</mark>" not in p.snippet


@pytest.mark.parametrize("query", ["ｹｱﾏﾈ", "ＩＣＴ", "ict"])
def test_width_and_case_variants_search_alike(tiny_engine: Engine, query: str) -> None:
    canonical = {"ｹｱﾏﾈ": "ケアマネ", "ＩＣＴ": "ICT", "ict": "ICT"}[query]
    assert ids(all_hits(tiny_engine, query)) == ids(all_hits(tiny_engine, canonical))
    assert all_hits(tiny_engine, query).total > 0


# --- AND, OR fallback: generic properties on the bundled corpus ---------------------------------

PAIRS = ["認知症 就労", "在宅医療 ICT", "見守り ボランティア", "介護予防 体操", "医師会 研修"]


@pytest.mark.parametrize("query", PAIRS)
def test_two_words_give_the_cases_each_word_finds(bundled_engine: Engine, query: str) -> None:
    a, b = query.split()
    found_a, found_b = set(ids(all_hits(bundled_engine, a))), set(ids(all_hits(bundled_engine, b)))
    result = all_hits(bundled_engine, query)
    if found_a & found_b:
        assert result.fallback is None
        assert set(ids(result)) == found_a & found_b
    else:
        assert result.fallback == "or"
        assert set(ids(result)) == found_a | found_b


def test_fallback_is_none_for_one_word_without_hits(bundled_engine: Engine) -> None:
    result = all_hits(bundled_engine, "宇宙飛行士")
    assert result.total == 0 and result.hits == () and result.fallback is None


def test_or_fallback_ranks_cases_with_more_words_first(tiny_engine: Engine) -> None:
    # alpha has ケアマネ and みまもり; beta has ケアマネ and ＩＣＴ; nobody has all three
    result = all_hits(tiny_engine, "ケアマネ みまもり ＩＣＴ サロン")
    assert result.fallback == "or"
    assert set(ids(result)) == {"alpha", "beta", "gamma"}
    assert ids(result)[-1] == "gamma"  # only one of four words


def test_or_fallback_ranks_more_words_first_even_when_one_is_only_in_a_figure(
    bundled_engine: Engine,
) -> None:
    # No case has the third word. 横浜市 and 楢葉町 have 服薬 and 連携 in their text, 鶴岡市 has
    # 連携 in its text and 服薬 only in a form; the rest have 連携 alone.
    result = all_hits(bundled_engine, "服薬 連携 ジェットコースター")
    assert result.fallback is not None and result.fallback.endswith("or")
    assert set(ids(result)[:3]) == {"yokohama", "naraha", "tsuruoka"} and result.total > 3
    assert ids(result)[2] == "tsuruoka" and result.hits[2].elsewhere == (("服薬", "figure"),)


def test_a_query_of_more_words_than_can_be_told_apart_is_refused(
    bundled_engine: Engine,
) -> None:
    # each word is one bit of a document's group mask; a 65th would share one (65 words of
    # two kanji the cases write, distinct: a word typed twice is one word)
    text = (bundled_engine.settings.corpus_dir / "cases" / "tobetsu.yaml").read_text("utf-8")
    words = list(
        dict.fromkeys(
            t.surface
            for t in bundled_engine.analyzer.tokens(text)
            if len(t.surface) == 2 and all("一" <= c <= "鿿" for c in t.surface)
        )
    )[:65]
    assert len(words) == 65
    with pytest.raises(QueryError, match="検索語が多すぎます"):
        bundled_engine.search(" ".join(words))
    assert bundled_engine.search(" ".join(words[:64])).total > 0
    assert bundled_engine.search(" ".join(["介護"] * 65)).total > 0


# --- result shape --------------------------------------------------------------------------------

QUERIES = [
    "認知症",
    "連携",
    "ケアマネ",
    "ざいたく",
    "住民 ボランティア",
    "医療介護連携",
    "見守り",
    "買い物 支援",
]


@pytest.mark.parametrize("query", QUERIES)
def test_results_are_grouped_by_case_with_their_best_passages(
    bundled_engine: Engine, query: str
) -> None:
    result = all_hits(bundled_engine, query)
    got = ids(result)
    assert len(got) == len(set(got)) == result.total
    # evidence first (tier, then text before title/figure-only matches, then every word in
    # one passage), then the score
    keys = [(h.tier, h.matched_in != "text", not h.together, -h.score) for h in result.hits]
    assert keys == sorted(keys)
    limit = bundled_engine.settings.passages_per_case
    for hit in result.hits:
        if hit.matched_in != "text" and not hit.elsewhere:  # only in title/keywords/figures
            assert hit.passages == ()
            continue
        assert 1 <= len(hit.passages) <= limit
        assert all("<mark>" in p.snippet for p in hit.passages)  # a visible reason
        # best first, a timeline line's score counting its section's shown_weight
        scores = [p.score * SECTION_BY_KEY[p.passage.section].shown_weight for p in hit.passages]
        if len(query.split()) == 1:  # several words: a passage showing another word may come first
            assert scores == sorted(scores, reverse=True)
        for p in hit.passages:
            assert p.passage.case_id == hit.case.id
            assert p.passage.section in SECTION_LABELS
            assert p.passage.section_label == SECTION_LABELS[p.passage.section]


def _plain(snippet: str) -> str:
    return html.unescape(snippet.replace("<mark>", "").replace("</mark>", "")).strip("…")


@pytest.mark.parametrize("query", QUERIES)
def test_snippets_are_escaped_text_with_whole_words_marked(
    bundled_engine: Engine, query: str
) -> None:
    analyzer = bundled_engine.analyzer
    result = all_hits(bundled_engine, query)
    assert any("<mark>" in p.snippet for h in result.hits for p in h.passages)
    for hit in result.hits:
        for p in hit.passages:
            # nothing but our own <mark> tags
            assert re.sub(r"</?mark>", "", p.snippet).count("<") == 0
            text = p.passage.text
            if p.snippet.lstrip("…").startswith("【"):  # only the heading matched
                text = f"【{p.passage.heading}】{text}"
            flat = " ".join(text.split())
            plain = _plain(p.snippet)
            offset = flat.find(plain)
            assert offset >= 0, (p.passage.id, p.snippet)
            # each mark starts and ends on a word boundary of the passage
            starts = {t.start for t in analyzer.tokens(flat)}
            ends = {t.end for t in analyzer.tokens(flat)}
            pos, rest = offset, p.snippet.lstrip("…")
            for piece in re.split(r"(</?mark>)", rest):
                if piece == "<mark>":
                    assert pos in starts, (p.passage.id, p.snippet)
                elif piece == "</mark>":
                    assert pos in ends, (p.passage.id, p.snippet)
                else:
                    pos += len(html.unescape(piece.rstrip("…")))


@pytest.mark.parametrize("lead", ["の協力を得て、", "京都子どもの心のケアチームや"])
def test_an_excerpt_that_starts_mid_text_starts_on_a_word(lead: str) -> None:
    # 楢葉町's passage was shown as 「…もの心のケアチーム」: 子ども cut in two
    text = "仮設住宅連絡員の研修を行っている。また" + lead + "生活支援相談員の教育を行い、" * 8
    at = text.index("生活支援")
    shown = snippet(text, [(at, at + 4)], 60)
    first = shown.removeprefix("…")[0]
    assert shown.startswith("…") and "<mark>生活支援</mark>" in shown
    # after a punctuation mark, or where a kanji or katakana word begins: never mid-word
    before = text[text.index(shown.removeprefix("…")[:6]) - 1]
    assert before in "、。" or (first >= "\u4e00" and not "\u4e00" <= before <= "\u9fff")


def test_an_excerpt_that_starts_on_a_word_keeps_its_match_at_the_end() -> None:
    # moving the start back to a punctuation mark moved the end too and dropped the match
    text = "地域の、" + "みんなで話し合う場をつくりました" * 10 + "認知症"
    shown = snippet(text, [(len(text) - 3, len(text))])
    assert shown.endswith("<mark>認知症</mark>")


def test_title_with_markup_never_leaks_into_snippets(tiny_engine: Engine) -> None:
    result = all_hits(tiny_engine, "居場所")
    assert "gamma" in ids(result)
    for hit in result.hits:
        for p in hit.passages:
            assert "<script>" not in p.snippet and "<b>" not in p.snippet


# --- filters, facets, paging ---------------------------------------------------------------------


def _passes(case, key: str, value: str) -> bool:
    return {
        "prefecture": lambda: case.prefecture == value,
        "region": lambda: case.region == value,
        "theme": lambda: value in case.themes,
        "keyword": lambda: value in case.keywords + case.editorial_keywords,
    }[key]()


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("prefecture", "北海道"),
        ("prefecture", "千葉県"),
        ("region", "東北"),
        ("region", "関東"),
        ("theme", "認知症"),
        ("theme", "在宅医療"),
        ("keyword", "住民参加"),
    ],
)
@pytest.mark.parametrize("query", ["連携", "地域", "高齢者"])
def test_case_filters_keep_exactly_the_matching_cases_in_order(
    bundled_engine: Engine, query: str, key: str, value: str
) -> None:
    unfiltered = all_hits(bundled_engine, query)
    filtered = all_hits(bundled_engine, query, **{key: value})
    expected = [h.case.id for h in unfiltered.hits if _passes(h.case, key, value)]
    assert expected, "pick a filter value that keeps something"
    assert ids(filtered) == expected
    assert filtered.total == len(expected)
    assert filtered.filters == {key: (value,)}


@pytest.mark.parametrize("section", ["key_point", "suggestion", "background"])
def test_section_filter_shows_only_passages_of_that_section(
    bundled_engine: Engine, section: str
) -> None:
    result = all_hits(bundled_engine, "地域", section=section)
    assert result.total > 0
    for hit in result.hits:
        assert {p.passage.section for p in hit.passages} == {section}
    # the section facet keeps its other values: choosing one more widens the result (OR)
    assert section in result.facets["section"] and len(result.facets["section"]) > 1


def test_filter_value_that_no_case_has_is_a_clear_error(bundled_engine: Engine) -> None:
    with pytest.raises(QueryError, match="都道府県に「沖縄県」はありません"):
        all_hits(bundled_engine, "連携", prefecture="沖縄県")


def test_a_filter_value_typed_short_is_pointed_to_the_values_there_are(
    bundled_engine: Engine,
) -> None:
    with pytest.raises(QueryError) as exc:
        all_hits(bundled_engine, "連携", prefecture="千葉")
    message = str(exc.value)
    assert "「千葉県」ではありませんか" in message
    assert "指定できる値: " in message and all(
        c.prefecture in message for c in bundled_engine.cases
    )


def test_a_section_is_chosen_by_the_label_the_page_shows(bundled_engine: Engine) -> None:
    by_label = all_hits(bundled_engine, "地域", section="これから取り組む皆さまへ")
    by_key = all_hits(bundled_engine, "地域", section="suggestion")
    assert by_label.total and ids(by_label) == ids(by_key)
    assert by_label.total < all_hits(bundled_engine, "地域").total  # the filter did filter
    assert all(p.passage.section == "suggestion" for h in by_label.hits for p in h.passages)
    # a value typed in another width is the same value
    assert ids(all_hits(bundled_engine, "連携", theme="ＩＣＴ・情報共有")) == ids(
        all_hits(bundled_engine, "連携", theme="ICT・情報共有")
    )


def test_filter_that_matches_no_hit_gives_no_hits(bundled_engine: Engine) -> None:
    result = all_hits(bundled_engine, "仮設住宅", prefecture="北海道")
    assert result.total == 0 and result.hits == ()


def test_unknown_filter_is_a_query_error(bundled_engine: Engine) -> None:
    with pytest.raises(QueryError):
        bundled_engine.search("連携", filters={"colour": "red"})


@pytest.mark.parametrize("query", ["連携", "認知症", "住民"])
def test_facet_counts_describe_the_result_set(bundled_engine: Engine, query: str) -> None:
    result = all_hits(bundled_engine, query)
    cases = [h.case for h in result.hits]
    assert result.facets["prefecture"] == dict(Counter(c.prefecture for c in cases))
    assert result.facets["region"] == dict(Counter(c.region for c in cases))
    assert result.facets["theme"] == dict(Counter(t for c in cases for t in c.themes))
    assert sum(result.facets["prefecture"].values()) == result.total
    # sections: how many cases have a matching passage of that kind
    assert all(1 <= n <= result.total for n in result.facets["section"].values())
    assert set(result.facets["section"]) <= set(SECTION_LABELS)


def test_facets_follow_the_other_filters(bundled_engine: Engine) -> None:
    result = all_hits(bundled_engine, "連携", region="関東")
    assert set(result.facets["prefecture"]) <= {"千葉県", "神奈川県"}
    # the filtered facet counts as if it were not set: its other values stay choosable
    assert result.facets["region"] == all_hits(bundled_engine, "連携").facets["region"]


def test_values_of_one_facet_combine_with_or_and_facets_with_and(bundled_engine: Engine) -> None:
    one = set(ids(all_hits(bundled_engine, "地域", theme="認知症")))
    other = set(ids(all_hits(bundled_engine, "地域", theme="災害・避難")))
    both = bundled_engine.search("地域", filters={"theme": ["認知症", "災害・避難"]}, page_size=50)
    assert set(ids(both)) == one | other and one and other
    towns = bundled_engine.search(
        "地域", filters={"theme": ["認知症", "災害・避難"], "municipality_type": "町"}, page_size=50
    )
    assert set(ids(towns)) == {
        c for c in one | other if bundled_engine.case(c).municipality_type == "町"
    }


def test_pages_partition_the_ranking(bundled_engine: Engine) -> None:
    everything = all_hits(bundled_engine, "連携")
    assert everything.total >= 5
    pages = []
    for page in range(1, everything.total // 2 + 3):
        result = bundled_engine.search("連携", page=page, page_size=2)
        assert result.total == everything.total
        assert result.page == page and result.page_size == 2
        pages.extend(ids(result))
    assert pages == ids(everything)


def test_default_page_size_comes_from_settings(bundled_engine: Engine) -> None:
    result = bundled_engine.search("地域")
    assert result.page_size == bundled_engine.settings.page_size
    assert len(result.hits) == min(result.total, bundled_engine.settings.page_size)


@pytest.mark.parametrize("page", [0, -1])
def test_bad_page_is_a_query_error(bundled_engine: Engine, page: int) -> None:
    with pytest.raises(QueryError):
        bundled_engine.search("連携", page=page)


# --- unusable input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query", ["", "   ", "\u3000", "\n", "の", "を", "の を", "！？", "!?", "。、", "「」", '""']
)
def test_empty_particle_or_symbol_query_is_a_clear_query_error(
    bundled_engine: Engine, query: str
) -> None:
    with pytest.raises(QueryError) as info:
        bundled_engine.search(query)
    message = info.value.message
    assert message and "\n" not in message and "Traceback" not in message
    assert re.search(r"[ぁ-んァ-ン一-龥]", message)  # a sentence for a Japanese user


def test_too_long_query_is_a_query_error(bundled_engine: Engine) -> None:
    limit = bundled_engine.settings.max_query_chars
    bundled_engine.search("認知症" + "あ" * (limit - 3))  # at the limit: fine
    with pytest.raises(QueryError):
        bundled_engine.search("認知症" * limit)


WHOOSH_SYNTAX = [
    "title:",
    "title:認知症",
    "body:(連携 OR 認知症)",
    "*",
    "認知*",
    "?",
    "認?症",
    '"認知症',
    '認知症"',
    "(認知症",
    "認知症)",
    "[a TO",
    "{認知症",
    "認知症]",
    "AND",
    "OR",
    "NOT",
    "AND OR NOT",
    "認知症 AND",
    "OR 就労",
    "NOT 認知症",
    "認知症 ANDNOT 就労",
    "認知症~2",
    "認知症^3",
    "\\",
    "a:b:c",
    ":",
    "-認知症",
    "+認知症",
    "'認知症",
    "<script>alert(1)</script>",
    "%00",
    "\x00",
    "認知症\x00就労",
]


@pytest.mark.parametrize("query", WHOOSH_SYNTAX)
def test_query_syntax_never_raises_anything_but_query_error(
    bundled_engine: Engine, query: str
) -> None:
    try:
        result = bundled_engine.search(query)
    except QueryError as exc:
        assert exc.message
    else:
        assert isinstance(result, SearchResult)


def test_and_is_the_default_and_not_searched_for(bundled_engine: Engine) -> None:
    assert ids(all_hits(bundled_engine, "認知症 AND 就労")) == ids(
        all_hits(bundled_engine, "認知症 就労")
    )


@pytest.mark.parametrize(
    "query",
    [
        "認知症 OR 就労",
        "認知症 | 就労",
        "認知症|就労",
        "認知症 ｜ 就労",
        "認知症 ＯＲ 就労",
        "認知症 or 就労",
    ],
)
def test_or_finds_the_cases_of_either_word(bundled_engine: Engine, query: str) -> None:
    either = set(ids(all_hits(bundled_engine, "認知症"))) | set(
        ids(all_hits(bundled_engine, "就労"))
    )
    result = all_hits(bundled_engine, query)
    assert set(ids(result)) == either and result.fallback is None
    assert len(either) > len(ids(all_hits(bundled_engine, "認知症 就労")))


@pytest.mark.parametrize(
    "query",
    [
        "認知症 NOT 就労",
        "認知症 -就労",
        "認知症 －就労",
        "認知症 - 就労",  # a minus standing alone still negates the next word
        '認知症 -"就労"',  # ... and a quoted phrase
        "認知症 -「就労」",
        "認知症 ＮＯＴ 就労",
        "認知症 ー就労",  # a kana-mode keyboard types ー for the minus
        "認知症 ‐就労",
    ],
)
def test_a_negated_word_excludes_the_cases_that_contain_it(
    bundled_engine: Engine, query: str
) -> None:
    with_work = set(ids(all_hits(bundled_engine, "就労")))
    result = ids(all_hits(bundled_engine, query))
    assert result and not set(result) & with_work
    assert set(result) == set(ids(all_hits(bundled_engine, "認知症"))) - with_work


def test_a_negated_word_excludes_its_synonyms_too(bundled_engine: Engine) -> None:
    # ケアマネ finds 介護支援専門員 and ケアマネジャー; excluding it excludes what it finds
    with_word = set(ids(all_hits(bundled_engine, "ケアマネ")))
    assert with_word - set(ids(all_hits(bundled_engine, '"ケアマネ"')))  # found via synonyms
    result = set(ids(all_hits(bundled_engine, "認知症 -ケアマネ")))
    assert result == set(ids(all_hits(bundled_engine, "認知症"))) - with_word


@pytest.mark.parametrize(
    "query", ["認知症 について", "認知症 など", "認知症 として", "認知症 による"]
)
def test_grammar_typed_beside_a_word_does_not_narrow_the_search(
    bundled_engine: Engine, query: str
) -> None:
    assert ids(all_hits(bundled_engine, query)) == ids(all_hits(bundled_engine, "認知症"))


@pytest.mark.parametrize(
    ("query", "word"),
    [
        # a problem typed as a phrase: the word is searched, not 「医者がい」 cut into がい
        ("医者がいない", "医者"),
        ("ケアマネがいません", "ケアマネ"),  # kana of two scripts: a phrase, not one word
        ("ヘルパーが足りない", "ヘルパー"),
        ("通いの場がほしい", "通いの場"),
    ],
)
def test_a_phrase_typed_as_a_problem_searches_its_word(
    bundled_engine: Engine, query: str, word: str
) -> None:
    result = all_hits(bundled_engine, query)
    assert ids(result) == ids(all_hits(bundled_engine, word)) and result.total > 0
    assert {w.word for w in result.expansions} <= {word}


@pytest.mark.parametrize("query", ["認知症、就労", "認知症，就労", "認知症/就労", "認知症／就労"])
def test_a_list_typed_with_commas_or_slashes_is_several_words(
    bundled_engine: Engine, query: str
) -> None:
    result = all_hits(bundled_engine, query)
    assert ids(result) == ids(all_hits(bundled_engine, "認知症 就労")) and not result.relaxed


def test_a_comma_or_slash_between_digits_belongs_to_the_number() -> None:
    words = [t.text for t in split_query("1,000人 1/2 認知症,就労")]
    assert words == ["1,000人", "1/2", "認知症", "就労"]


@pytest.mark.parametrize("query", ["する", "もの", "ため", "について", "について の"])
def test_grammar_alone_is_not_a_search(bundled_engine: Engine, query: str) -> None:
    with pytest.raises(QueryError, match="内容を表す語"):
        bundled_engine.search(query)


def test_one_kana_and_a_suffix_is_a_word_not_grammar(bundled_engine: Engine) -> None:
    # サ付き (サービス付き高齢者向け住宅) was read as サ + the suffix 付き, and サ alone as nothing:
    # 「助詞や記号…だけでは検索できません」
    assert ids(all_hits(bundled_engine, "サ付き")) == ids(all_hits(bundled_engine, "サ高住")) != []
    assert all_hits(bundled_engine, "ゲ付き").query == "ゲ付き"  # no such word: no hits, no error


def test_the_parts_of_a_compound_found_nowhere_carry_their_synonyms(bundled_engine: Engine) -> None:
    # ケアマネ支援: no case writes ケアマネ, so its part ケアマネ found nothing and every case with
    # 支援 alone came first; 鶴岡市 writes 介護支援専門員 and 支援
    result = all_hits(bundled_engine, "ケアマネ支援")
    assert result.fallback == "parts" and ids(result)[0] == "tsuruoka"
    assert "介護支援専門員" in marked(result)
    # any-word fallback over such parts: each part is held as a word (not 「語の一部（）」)
    for hit in all_hits(bundled_engine, "ケアマネ支援 災害").hits:
        assert hit.partial is not None and not hit.partial.parts
        assert set(hit.partial.has) | set(hit.partial.lacks) == {"ケアマネ", "支援", "災害"}


def test_when_no_case_has_every_word_each_hit_says_which_it_has(bundled_engine: Engine) -> None:
    result = all_hits(bundled_engine, "学生 災害")
    assert result.fallback == "or" and result.hits
    for hit in result.hits:
        held = hit.partial
        assert held is not None and held.has and held.lacks
        assert set(held.has) | set(held.lacks) == {"学生", "災害"}
    # where every word is found, no hit is a partial one
    assert all(h.partial is None for h in all_hits(bundled_engine, "学生 認知症").hits)


@pytest.mark.parametrize(
    "pasted",
    ["<b>認知症</b>", "<span class='x'>認知症</span>&nbsp;", "認<b>知</b>症", "認知&#8203;症"],
)
def test_markup_pasted_with_a_word_is_not_searched(bundled_engine: Engine, pasted: str) -> None:
    # </b> was read as the separator / between 「<b>認知症<」 and 「b>」: 1 hit, not 5
    result, plain = all_hits(bundled_engine, pasted), all_hits(bundled_engine, "認知症")
    assert ids(result) == ids(plain) and result.expansions == plain.expansions
    assert not result.relaxed and not result.nowhere


def test_a_word_in_angle_brackets_is_no_markup(bundled_engine: Engine) -> None:
    # <ICT> is no HTML element: it was taken for a tag and left nothing to search
    assert ids(all_hits(bundled_engine, "<ICT>")) == ids(all_hits(bundled_engine, "ICT")) != []


@pytest.mark.parametrize("invisible", ["\u200b", "\ufeff", "\u202e", "\u00ad", "\u2060"])
def test_characters_that_show_nothing_are_ignored(bundled_engine: Engine, invisible: str) -> None:
    result = all_hits(bundled_engine, f"認知{invisible}症{invisible}")
    assert ids(result) == ids(all_hits(bundled_engine, "認知症")) and result.query == "認知症"
    with pytest.raises(QueryError, match="検索語を入力"):
        bundled_engine.search(invisible * 3)


PIECES = [
    "認知症",
    "連携",
    "の",
    "を",
    "AND",
    "OR",
    "NOT",
    ":",
    "*",
    "?",
    '"',
    "「",
    "」",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "^",
    "~",
    "-",
    "+",
    "\\",
    "/",
    "ｹｱﾏﾈ",
    "ざいたく",
    "！",
    "　",
    " ",
]


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=3)), max_size=8))
def test_any_typed_text_gives_results_or_query_error(bundled_engine: Engine, pieces: list) -> None:
    text = "".join(pieces)
    try:
        result = bundled_engine.search(text)
    except QueryError as exc:
        assert exc.message
    else:
        assert result.query == typed(text)  # as typed, less what shows nothing (U+200B…) and markup
        assert len(result.hits) == min(result.total, result.page_size)


# --- one word: the disjunction of its variants ------------------------------------------------


def word_scores(engine: Engine, word) -> dict[int, float]:
    """The word's score per matching document, as the searcher computes it."""
    v = word_vector(engine.index, word)
    return {int(d): float(v[d]) for d in np.flatnonzero(v)}


def _alone(word, variant):
    """The word with only one of its alternatives."""
    return dataclasses.replace(word, variants=(variant,))


@pytest.mark.parametrize("text", ["認知症", "見守り", "連携", "なんと", "いりょうかいごれんけい"])
def test_word_without_expansions_scores_like_its_variants(
    bundled_engine: Engine, text: str
) -> None:
    word = bundled_engine.expander.parse(text).words[0]
    scores = word_scores(bundled_engine, word)
    assert scores
    alternatives = [_alone(word, v) for v in word.variants]
    parts = [word_scores(bundled_engine, w) for w in alternatives]
    # every document matched by the word is matched by one of its alternatives, and vice versa
    assert set(scores) == set().union(*parts)


@pytest.mark.parametrize("text", ["ケアマネ", "介護支援専門員", "社協", "包括"])
def test_a_documents_word_score_comes_only_from_its_own_matches(
    bundled_engine: Engine, text: str
) -> None:
    word = bundled_engine.expander.parse(text).words[0]
    scores = word_scores(bundled_engine, word)
    alternatives = [_alone(word, v) for v in word.variants]
    parts = [word_scores(bundled_engine, w) for w in alternatives]
    for doc, score in scores.items():
        own = [p[doc] for p in parts if doc in p]
        # a disjunction-max is at least the best alternative and at most their sum
        assert max(own) - 1e-6 <= score <= sum(own) + 1e-6, (bundled_engine.index.docs[doc], own)


# --- tiers of evidence: as typed, through the care table, by parts --------------------------


def test_a_compound_no_case_contains_is_said_so_and_relaxed_to_its_parts(
    bundled_engine: Engine,
) -> None:
    result = all_hits(bundled_engine, "協議体")
    assert result.fallback == "parts"
    # 体 alone would match 自治体, 身体
    assert result.relaxed == (Relaxed("協議体", "parts", ("協議",)),)
    assert all(TIER_NAMES[h.tier] == "parts" for h in result.hits)
    for hit in (h for h in result.hits if h.matched_in == "text"):
        marked = {m for p in hit.passages for m in re.findall(r"<mark>(.*?)</mark>", p.snippet)}
        assert marked and all("協議" in m for m in marked), marked


def test_a_word_no_case_contains_is_searched_as_what_the_table_points_it_to(
    bundled_engine: Engine,
) -> None:
    # No case says 通いの場; the table points it (one way) to サロン and 居場所, which are not
    # the same thing, so the page says what it searched instead of calling them a match.
    result = all_hits(bundled_engine, "通いの場")
    assert result.fallback == "related"
    # the words it points to, and their synonyms (高齢者サロン is in サロン's group)
    assert result.relaxed == (Relaxed("通いの場", "related", ("サロン", "高齢者サロン", "居場所")),)
    assert result.total >= 2 and all(TIER_NAMES[h.tier] == "related" for h in result.hits)
    assert marked(result) and all("サロン" in m or "居場所" in m for m in marked(result))
    assert {e.tier for e in result.expansions} == {"related"}
    # with exact mode on and nothing found, the page suggests them
    exact = bundled_engine.search("通いの場", exact=True)
    assert exact.total == 0 and {"サロン", "居場所"} <= {s.instead for s in exact.suggestions}
    with_other = all_hits(bundled_engine, "通いの場 認知症")
    assert with_other.fallback == "related" and with_other.total >= 1
    assert {"サロン", "居場所"} & set(marked(with_other)) and "認知症" in marked(with_other)


def test_terminal_care_is_searched_as_what_the_cases_call_it(bundled_engine: Engine) -> None:
    # no case says ターミナルケア; its parts found 当別町's 地域福祉ターミナル, a place, while
    # 鶴岡市 tells of 看取り at home and a 緩和ケア project
    result = all_hits(bundled_engine, "ターミナルケア")
    assert result.fallback == "related" and "tsuruoka" in ids(result)
    assert "tobetsu" not in ids(result)


def test_house_calls_are_searched_as_the_home_care_the_cases_tell(bundled_engine: Engine) -> None:
    # no case says 往診 nor 訪問診療, the word it pointed to: it found nothing, while 南砺市 and
    # 鶴岡市 tell of 在宅医療
    result = all_hits(bundled_engine, "往診")
    assert result.fallback == "related" and {"nanto", "tsuruoka"} <= set(ids(result))
    assert "在宅医療" in marked(result)


def test_a_case_conference_typed_short_finds_the_meetings_the_cases_hold(
    bundled_engine: Engine,
) -> None:
    # カンファ found nothing: 楢葉町 holds ケア会議 every week, 鶴岡市's form asks for a カンファレンス
    result = all_hits(bundled_engine, "カンファ")
    assert result.fallback == "related" and ids(result)[0] == "naraha"
    assert "ケア会議" in marked(result)


@pytest.mark.parametrize(
    ("query", "written"),
    [
        ("被災者", "避難者"),
        ("OB会", "修了生"),
        ("全戸訪問", "家庭訪問"),
        ("介護予防サポーター", "介護予防リーダー"),
        ("地域通貨", "ポイント制度"),
        ("ニュータウン", "住宅開発"),
        ("生涯学習", "市民大学"),
        ("オンコール", "随時対応"),
        ("総合計画", "基本計画"),
        ("リロケーションダメージ", "転居"),
        ("へき地医療", "医師不足"),
        ("ケース会議", "ケア会議"),
        ("運営推進会議", "介護・医療連携推進会議"),
        ("人手不足", "マンパワー不足"),
        ("看護サマリー", "退院・退所情報提供書"),
        ("縦割り", "組織再編"),
        ("町医者", "開業医"),
        ("問題行動", "周辺症状"),
        ("MCI", "認知機能低下"),
        ("看護職", "看護師"),
        ("連絡票", "連携シート"),
        ("思い出話", "回想法"),
        ("公営住宅", "町営住宅"),
        ("風呂", "入浴"),
        ("特定高齢者", "二次予防事業"),
        ("人材不足", "マンパワー不足"),
        ("共生型サービス", "共生型"),
        ("DPAT", "心のケアチーム"),
        ("無医地区", "医師不足"),
        ("多職種研修", "合同研修"),
        ("サマリー", "退院・退所情報提供書"),
        ("茶話会", "サロン"),
        ("送迎", "移送サービス"),
        ("戸別訪問", "家庭訪問"),
        ("地域食堂", "コミュニティレストラン"),
        # the fifth review: administration, meetings, medicine
        ("KPI", "目標値"),
        ("PDCA", "検証"),
        ("トップダウン", "リーダーシップ"),
        ("財源確保", "補助金"),
        ("ファシリテーター", "アドバイザー"),
        ("ヒアリング", "実態調査"),
        ("分科会", "ワーキング会議"),
        ("薬剤師", "服薬管理"),
        ("歯科", "口腔"),
        ("ホスピス", "緩和ケア"),
        ("連携パス", "連携シート"),
        ("メンタルヘルス", "精神的負担"),
        ("ソーシャルキャピタル", "互助"),
        ("法人化", "法人格"),
        ("グランドデザイン", "全体構想"),
        ("LSA", "生活支援相談員"),
        ("ライフサポートアドバイザー", "生活支援相談員"),
        ("生活援助員", "生活支援相談員"),
        # the sixth review
        ("保健事業", "健康づくり事業"),
        ("特定健診", "健康診査"),
        ("メタボ", "生活習慣病"),
        ("ポピュレーションアプローチ", "健康づくり"),
        ("ハイリスクアプローチ", "二次予防事業"),
        ("一次予防", "介護予防事業"),
        ("セルフケア", "健康管理"),
        ("健康寿命", "健康づくり"),
        ("健康教室", "運動教室"),
        ("運動器機能向上", "身体機能"),
        ("栄養改善", "食事管理"),
        ("オーラルフレイル", "口腔"),
        ("保健センター", "保健衛生係"),
        ("ヘルスメイト", "健康づくり支援者"),
        ("休診", "医師不足"),
        ("閉院", "病棟閉鎖"),
        ("中間施設", "老人保健施設"),
        ("在宅移行", "在宅ケア"),
        ("大学病院", "附属病院"),
        ("在宅医療コーディネーター", "地域医療連携室"),
        ("マッチング", "結びつける"),
        ("つなぎ役", "コーディネート"),
        ("人材発掘", "担い手"),
        ("ボランティア養成", "ボランティア育成"),
        ("資源開発", "社会資源"),
        ("訪問型サービスD", "移送サービス"),
        ("初期費用", "初期負担"),
        ("イニシャルコスト", "初期負担"),
        ("運営費", "運営補助金"),
        ("ランニングコスト", "家賃補助"),
        ("委託料", "業務委託"),
        ("利用料", "自己負担"),
        ("事業者募集", "参入"),
        ("専従", "専属"),
        ("応援派遣", "派遣看護師"),
        ("人員不足", "マンパワー不足"),
        ("職員不足", "マンパワー不足"),
        ("理事長", "法人代表者"),
        ("緊急通報", "随時対応"),
        ("悪質商法", "防犯"),
        ("民児協", "民生委員"),
        ("ブランチ", "在宅介護支援センター"),
    ],
)
def test_other_names_find_what_the_cases_call_it(
    bundled_engine: Engine, query: str, written: str
) -> None:
    result = all_hits(bundled_engine, query)
    assert result.fallback == "related" and written in marked(result)


def test_a_word_read_from_kana_brings_its_synonyms(bundled_engine: Engine) -> None:
    # しゃきょう is read as 社協, which 楢葉町 writes in full: 社会福祉協議会 (typed 社協 found it)
    kana = all_hits(bundled_engine, "しゃきょう")
    assert ids(kana) == ids(all_hits(bundled_engine, "社協")) and "naraha" in ids(kana)
    assert "社会福祉協議会" in marked(kana)


def test_medical_dependency_is_searched_as_medical_needs_not_its_parts(
    bundled_engine: Engine,
) -> None:
    # no case says 医療依存度; its parts found 楢葉町's 依存度, residents leaning on the support
    # offered, while 鶴岡市 lists the facilities that take people with high 医療ニーズ
    result = all_hits(bundled_engine, "医療依存度")
    assert result.fallback == "related" and ids(result) == ["tsuruoka"]
    assert "医療ニーズ" in marked(result)


def test_a_related_word_is_one_way_and_never_searched_in_exact_mode(
    bundled_engine: Engine,
) -> None:
    # サロン is in the corpus: it is searched as itself and its true synonyms, not as 通いの場
    salon = all_hits(bundled_engine, "サロン")
    assert salon.fallback is None and all(h.tier <= 2 for h in salon.hits)
    assert not {e.label for e in salon.expansions} & {"通いの場", "居場所"}
    assert bundled_engine.search("通いの場", exact=True).total == 0
    assert bundled_engine.search('"通いの場"').total == 0


def test_a_compound_of_one_character_parts_finds_nothing_rather_than_noise(
    bundled_engine: Engine,
) -> None:
    result = all_hits(bundled_engine, "第2層")
    assert result.total == 0 and result.fallback is None


def test_cases_with_the_word_as_typed_come_before_cases_that_need_a_synonym(
    bundled_engine: Engine,
) -> None:
    result = all_hits(bundled_engine, "ケアマネ")
    tiers = [h.tier for h in result.hits]
    assert tiers == sorted(tiers) and 2 in tiers
    labels = {e.label for e in result.expansions if e.word == "ケアマネ"}
    assert "介護支援専門員" in labels
    assert {e.tier for e in result.expansions} == {"synonym"}


def test_inside_a_case_passages_with_the_word_as_typed_come_before_synonym_ones(
    bundled_engine: Engine,
) -> None:
    """高齢者: 浦安市's key point says only 老人会 (a synonym's compound) and scores high for its
    length; the passages that say 高齢者 come first all the same."""
    typed = re.compile("高齢者")
    for hit in all_hits(bundled_engine, "高齢者").hits:
        has = [bool(typed.search(p.passage.text)) for p in hit.passages]
        assert has == sorted(has, reverse=True), hit.case.id
    urayasu = next(h for h in all_hits(bundled_engine, "高齢者").hits if h.case.id == "urayasu")
    assert "高齢者" in urayasu.passages[0].passage.text
    assert any("老人会" in p.text for p in bundled_engine.case("urayasu").passages())


@pytest.mark.parametrize("typed", ["借り上げ住宅", "借り上げ"])
def test_a_word_typed_as_the_case_writes_it_is_found_where_its_stem_reads_as_a_verb(
    bundled_engine: Engine, typed: str
) -> None:
    """楢葉町 writes 「仮設住宅・借り上げ住宅」, which the analysis reads as the verb 借り上げる
    before 住宅, while 借り上げ typed alone is a noun: typed as written, it is found."""
    result = all_hits(bundled_engine, typed)
    assert [h.case.id for h in result.hits] == ["naraha"] and result.fallback is None
    assert "借り上げ住宅" in result.hits[0].passages[0].passage.text
    assert "<mark>借り上げ" in result.hits[0].passages[0].snippet


def test_words_joined_by_a_particle_are_searched_as_words_apart(bundled_engine: Engine) -> None:
    """認知症の人 found only the case that writes 認知症の人 and showed 痴呆人 as a synonym;
    ケアマネと民生委員 showed ケアマネジャー民生委員. Typed with a particle, the words are
    searched as if typed with a space; quoted, as a phrase; a phrase the table knows stays."""
    for joined, spaced in (
        ("認知症の人", "認知症 人"),
        ("ケアマネと民生委員", "ケアマネ 民生委員"),
    ):
        result = all_hits(bundled_engine, joined)
        assert ids(result) == ids(all_hits(bundled_engine, spaced))
        labels = {e.label for e in result.expansions}
        assert not any("痴呆人" in x or "ケアマネジャー民生委員" in x for x in labels)
    assert len(ids(all_hits(bundled_engine, "認知症の人"))) > len(
        ids(all_hits(bundled_engine, '"認知症の人"'))
    )
    assert all_hits(bundled_engine, "通いの場").fallback == "related"


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("高齢者の見守り", ["高齢者", "見守り"]),  # の + 見守り is no predicate to drop
        ("お医者さんと看護師", ["医者", "看護師"]),  # an honorific before the particle
        ("通いの場の運営", ["通いの場", "運営"]),  # never cut inside a phrase the table knows
        ("ちいきのちゃのま", ["ちいきのちゃのま"]),  # kana alone is cut into syllables, not words
    ],
)
def test_the_words_a_particle_joins(bundled_engine: Engine, typed: str, words: list) -> None:
    parsed = bundled_engine.expander.parse(typed)
    assert [w.text for w in parsed.words] == words
    # in exact mode the words are still only as typed
    exact = bundled_engine.expander.parse(typed, exact=True)
    assert all(v.tier == 1 for w in exact.words for v in w.variants)


def test_a_case_with_one_passage_holding_every_word_ranks_first(bundled_engine: Engine) -> None:
    """認知症 カフェ: 南砺市 writes オレンジカフェ（認知症カフェ） in one passage; 当別町 has its
    カフェ and its 認知症 in different passages, and came first on its score."""
    result = all_hits(bundled_engine, "認知症 カフェ")
    assert ids(result)[0] == "nanto"
    together = [
        any("認知症" in p.passage.text and "カフェ" in p.passage.text for p in h.passages)
        for h in result.hits
    ]
    assert together == sorted(together, reverse=True) and not all(together)
    assert [h.together for h in result.hits] == together  # what ranked it, as the JSON says
    assert serialize.case_hit(result.hits[0])["together"] is True


def test_a_word_the_analysis_misreads_is_never_a_full_match(bundled_engine: Engine) -> None:
    """看看連携 (nurses of a hospital and of home care working together): Sudachi reads 看 as
    the verb 見る, which no index keeps, so it was searched as 連携 and shown as a full match."""
    result = all_hits(bundled_engine, "看看連携")
    assert result.fallback is not None and "parts" in result.fallback
    assert [r.words for r in result.relaxed] == [("連携",)]
    assert all_hits(bundled_engine, "連携").fallback is None  # what is left is found as typed


def test_exact_mode_searches_only_the_words_as_typed(bundled_engine: Engine) -> None:
    loose = all_hits(bundled_engine, "ケアマネ")
    exact = bundled_engine.search("ケアマネ", exact=True, page_size=50)
    assert exact.exact and exact.expansions == ()
    assert set(ids(exact)) == {h.case.id for h in loose.hits if h.tier == 1}
    assert all(h.tier == 1 for h in exact.hits)
    # and no relaxation to parts either
    assert bundled_engine.search("協議体", exact=True).total == 0


@pytest.mark.parametrize("query", ["＂認知症の人＂", "〝認知症の人〟", "『認知症の人』"])
def test_quotes_typed_in_japanese_input_make_a_phrase_too(
    bundled_engine: Engine, query: str
) -> None:
    """An IME types full-width ＂ and 〝 〟: a phrase as "…" is, not words apart."""
    phrase = ids(all_hits(bundled_engine, '"認知症の人"'))
    assert ids(all_hits(bundled_engine, query)) == phrase
    assert len(phrase) < len(ids(all_hits(bundled_engine, "認知症の人")))


def test_quoted_words_are_searched_as_typed(bundled_engine: Engine) -> None:
    result = all_hits(bundled_engine, '"ケアマネ"')
    assert result.expansions == () and all(h.tier == 1 for h in result.hits)


def test_a_digit_matches_the_same_number_not_every_kanji_one(bundled_engine: Engine) -> None:
    snippets = [p.snippet for h in all_hits(bundled_engine, "1").hits for p in h.passages]
    marked = {m for s in snippets for m in re.findall(r"<mark>(.*?)</mark>", s)}
    assert {"１", "①"} <= marked <= {"1", "１", "①", "一"}, marked
    # 一 only where it counts something (第一, 一次, 一日), never in 一つずつ
    assert not any("<mark>一</mark>つ" in s for s in snippets)


def test_half_width_katakana_reading_works_like_hiragana(bundled_engine: Engine) -> None:
    assert ids(all_hits(bundled_engine, "ﾆﾝﾁｼｮｳ")) == ids(all_hits(bundled_engine, "にんちしょう"))
    assert ids(all_hits(bundled_engine, "ﾆﾝﾁｼｮｳ"))


def test_a_katakana_word_finds_the_name_a_case_writes_in_hiragana(bundled_engine: Engine) -> None:
    """当別町's farm is ぺこぺこのはたけ, its ターミナル みんなのうた, in hiragana; typed in katakana,
    either width, each finds what the hiragana finds, as typed (tier 1) and marked. Not when the
    hiragana is only syllables."""
    for hiragana, katakana in (("ぺこぺこのはたけ", "ﾍﾟｺﾍﾟｺﾉﾊﾀｹ"), ("みんなのうた", "ミンナノウタ")):
        wanted = ids(all_hits(bundled_engine, hiragana))
        assert wanted == ["tobetsu"]
        result = all_hits(bundled_engine, katakana)
        assert ids(result) == wanted and result.fallback is None
        assert result.hits[0].tier == 1
        assert any("<mark>" in p.snippet for p in result.hits[0].passages)
    assert (
        all_hits(bundled_engine, "ジェットコースター").total == 0
    )  # じぇっとこーすたー holds こう


def test_a_kana_word_is_read_with_any_of_the_common_words_of_its_readings(
    bundled_engine: Engine,
) -> None:
    # じょせい reads 助成 more often than 女性 in the corpus; the case says 女性議会
    result = all_hits(bundled_engine, "じょせいぎかい")
    assert ids(result) == ["nanto"] and result.fallback is None
    assert "女性議会" in marked(result)
    shown = [e.label for e in result.expansions]
    assert "女性議会" in shown and "助成議会" not in shown  # only readings some case has


@pytest.mark.parametrize(
    ("kana", "written"),
    [
        # the prefix 多 (タ) of 多職種: read alone, 多 is サワ, and one kana is too short to look up
        ("たしょくしゅ", "多職種"),
        ("ﾀｼｮｸｼｭ", "多職種"),
        # 空き is the verb 空く to the index, read アク alone
        ("あきてんぽ", "空き店舗"),
    ],
)
def test_a_kana_word_is_read_as_the_text_reads_its_words(
    bundled_engine: Engine, kana: str, written: str
) -> None:
    """Only the reading the build keeps from the text finds these; every case that writes the
    word is found, as the kanji are, and the word is marked."""
    wanted = ids(all_hits(bundled_engine, written))
    assert wanted
    result = all_hits(bundled_engine, kana)
    assert ids(result) == wanted and result.fallback is None
    assert written in marked(result)


@pytest.mark.parametrize(
    ("query", "case", "word"),
    [
        ("２４時間", "yokohama", "定期巡回"),  # the 24-hour visiting service; no case has 24時間
        ("生活援助", "naraha", "家事"),  # 訪問介護's household help: 楢葉町's 家事ヘルパー
        ("農福連携", "tobetsu", "農作業"),  # farm work for disabled and older people
        ("総合事業", "urayasu", "介護予防"),  # 介護予防・日常生活支援総合事業: 浦安市's 介護予防
    ],
)
def test_care_terms_no_case_writes_find_what_they_point_to_and_say_so(
    bundled_engine: Engine, query: str, case: str, word: str
) -> None:
    result = all_hits(bundled_engine, query)
    assert result.fallback == "related"
    assert ids(result)[0] == case and word in result.relaxed[0].words
    assert f"「{query}」を含む事例はありません" in (serialize.search_notice(result) or "")


def test_a_kana_word_the_table_reads_whole_is_not_cut_into_other_words(
    bundled_engine: Engine,
) -> None:
    # a new user's trial: としより was also read トシ + ヨリ, 都市 + より, and 横浜市's 都市部 came
    # first; a word the care table reads whole (年寄り) is not read piece by piece
    result = all_hits(bundled_engine, "としより")
    labels = [e.label for e in result.expansions]
    assert "高齢者" in labels and not any(label.startswith("都市") for label in labels)
    assert result.hits and "都市" not in marked(result)
    # a word the corpus reads whole stays beside the table's (きかん: 帰還 to the table)
    assert "機関" in [e.label for e in all_hits(bundled_engine, "きかん").expansions]


def test_a_long_run_of_kana_tries_only_a_few_readings(bundled_engine: Engine) -> None:
    # 20 pieces of three readings each: never every combination (3**20)
    word = bundled_engine.expander.word("けん" * 20)
    readings = [v for v in (word.variants if word else ()) if v.via == "reading"]
    assert len(readings) <= 1 + 3 * 3  # its katakana spelling; three cuts, three readings each
    assert bundled_engine.search("けん" * 20).total == 0


def test_a_kana_word_is_read_in_every_cut_into_as_few_pieces(bundled_engine: Engine) -> None:
    # カイソウホウ is カイ + ソウホウ (会 + 双方) or カイソウ + ホウ (回想 + 法): 南砺市 writes 回想法
    result = all_hits(bundled_engine, "かいそうほう")
    assert ids(result) == ["nanto"] and result.fallback is None
    assert "回想法" in marked(result)


@pytest.mark.parametrize(("typed", "full"), [("有老", "有料老人ホーム"), ("Ｄｒ", "医師")])
def test_abbreviations_staff_write_find_the_full_word(
    bundled_engine: Engine, typed: str, full: str
) -> None:
    assert ids(all_hits(bundled_engine, typed)) == ids(all_hits(bundled_engine, full))
    assert ids(all_hits(bundled_engine, typed))


def test_a_kana_compound_finds_the_cases_that_write_it(bundled_engine: Engine) -> None:
    # にんちしょう + たいさく: the compound 認知症 is indexed with its parts (認知, 症)
    assert ids(all_hits(bundled_engine, "にんちしょうたいさく")) == ids(
        all_hits(bundled_engine, "認知症対策")
    )
    assert all_hits(bundled_engine, "にんちしょうたいさく").fallback is None


@pytest.mark.parametrize(("kana", "kanji"), [("いしぶそく", "医師不足"), ("ｲｼﾌﾞｿｸ", "医師不足")])
def test_a_kana_compound_is_read_with_its_voiced_second_word(
    bundled_engine: Engine, kana: str, kanji: str
) -> None:
    # 医師不足 reads イシブソク; 不足 alone reads フソク (rendaku)
    result = all_hits(bundled_engine, kana)
    assert ids(result) == ids(all_hits(bundled_engine, kanji)) == ["nanto"]
    assert result.fallback is None and kanji in marked(result)


@pytest.mark.parametrize("kana", ["かよいのば", "ｶﾖｲﾉﾊﾞ"])
def test_a_kana_care_term_no_case_writes_is_read_as_the_table_word(
    bundled_engine: Engine, kana: str
) -> None:
    # 通いの場 is in the care table, not in any case: typed in kana it finds what the kanji
    # finds (the words it points to), and says so
    result = all_hits(bundled_engine, kana)
    assert result.fallback == "related"
    assert ids(result) == ids(all_hits(bundled_engine, "通いの場"))
    assert f"「{kana}」を含む事例はありません" in (serialize.search_notice(result) or "")


@pytest.mark.parametrize(("hiragana", "katakana"), [("がん", "ガン"), ("ぼけ", "ボケ")])
def test_a_table_word_written_in_both_kana_finds_the_same(
    bundled_engine: Engine, hiragana: str, katakana: str
) -> None:
    # the table writes both spellings (they read alike): each is found as the other
    assert ids(all_hits(bundled_engine, hiragana)) == ids(all_hits(bundled_engine, katakana))


def test_a_katakana_compound_still_falls_back_to_its_parts(bundled_engine: Engine) -> None:
    # katakana is cut into words by Sudachi, not syllables: サロン + マップ (no case has マップ,
    # so サロン alone is named as what was shown)
    result = all_hits(bundled_engine, "サロンマップ")
    assert result.total and result.relaxed[0].words == ("サロン",)


def test_a_kana_word_is_never_cut_into_syllables(bundled_engine: Engine) -> None:
    # its parts are those of its reading (町作り, 協議会), never syllables (せい, きく)
    relaxed = all_hits(bundled_engine, "まちづくりきょうぎかい").relaxed
    assert relaxed and set(relaxed[0].words) == {"町作り", "協議会"}
    assert all_hits(bundled_engine, "あいうえおかきく").total == 0


def test_a_hit_found_only_in_figure_text_says_so_and_comes_last(bundled_engine: Engine) -> None:
    result = all_hits(bundled_engine, "服薬")  # 鶴岡市: only in a form's labels
    kinds = [h.matched_in for h in result.hits]
    assert kinds[0] == "text" and "figure" in kinds
    assert kinds == sorted(kinds, key=lambda k: k != "text")
    assert all(h.passages == () for h in result.hits if h.matched_in == "figure")


def test_a_programme_named_only_in_a_budget_line_is_found_there(bundled_engine: Engine) -> None:
    # 鶴岡市 names 包括的継続的ケアマネジメント事業 only in the 予算 line under its 研修 section;
    # typed with the 中黒 people write, it is still that word
    for query in ("包括的・継続的ケアマネジメント", "地域支援事業"):
        result = all_hits(bundled_engine, query)
        assert result.fallback is None
        first = result.hits[0]
        assert first.case.id == "tsuruoka" and first.matched_in == "text"
        shown = first.passages[0].passage
        assert shown.section_label == "予算" and shown.id.endswith("-budget")
        assert "<mark>" in first.passages[0].snippet
    # a word of a section's heading is that section's match, not its budget line's too
    (urayasu,) = [h for h in all_hits(bundled_engine, "輩出").hits if h.case.id == "urayasu"]
    assert "urayasu-sec-1-budget" not in [p.passage.id for p in urayasu.passages]


def test_a_hit_found_only_in_its_themes_names_the_theme(bundled_engine: Engine) -> None:
    # 横浜市 and 楢葉町 carry the theme ICT・情報共有 but no passage says ICT
    hits = {h.case.id: h for h in all_hits(bundled_engine, "ＩＣＴ").hits}
    tagged = [h for h in hits.values() if h.matched_in == "title"]
    assert tagged and all(not h.passages for h in tagged)
    for h in tagged:
        assert "ICT・情報共有" in h.case.themes
        assert serialize.matched_note(h) == "テーマ「ICT・情報共有」に一致"


def test_a_hit_found_only_by_its_place_says_so(bundled_engine: Engine) -> None:
    # 山形 is in no title: the case document's title field holds the place too
    (hit,) = all_hits(bundled_engine, "山形").hits
    assert hit.matched_in == "place"
    assert serialize.matched_note(hit) == "所在地（山形県 鶴岡市）に一致"
    # ... and where passages show the other word
    (with_text,) = all_hits(bundled_engine, "山形 医療").hits
    assert with_text.passages and with_text.elsewhere == (("山形", "place"),)
    assert serialize.matched_note(with_text) == "「山形」は所在地にのみ一致"


def test_a_typed_word_in_a_figure_ranks_below_its_synonym_in_a_paragraph(
    bundled_engine: Engine,
) -> None:
    # 浦安市 has ヘルパー only in a figure's label; 横浜市's paragraphs say 訪問介護
    result = all_hits(bundled_engine, "ヘルパー")
    order = ids(result)
    urayasu = next(h for h in result.hits if h.case.id == "urayasu")
    assert urayasu.matched_in == "figure" and urayasu.tier == 1  # as typed
    assert order.index("yokohama") < order.index("urayasu")
    assert [h.matched_in for h in result.hits][-1] == "figure"


def test_a_word_that_only_a_form_holds_is_named_and_ranks_below_text_matches(
    bundled_engine: Engine,
) -> None:
    # 鶴岡市 has 買い物 only in a discharge form's labels; its passages show only 支援
    hits = all_hits(bundled_engine, "買い物 支援").hits
    tsuruoka = next(h for h in hits if h.case.id == "tsuruoka")
    assert tsuruoka.elsewhere == (("買い物", "figure"),) and tsuruoka.matched_in == "figure"
    assert tsuruoka.passages and all("<mark>" in p.snippet for p in tsuruoka.passages)
    assert serialize.matched_note(tsuruoka) == "「買い物」は図表中の語句にのみ一致"
    # 服薬 連携: 鶴岡市 scores highest (連携 everywhere) but holds 服薬 only in the form, so the
    # cases whose text has both words come first
    ranked = all_hits(bundled_engine, "服薬 連携").hits
    assert [h.matched_in for h in ranked] == ["text", "text", "figure"]
    assert ranked[-1].case.id == "tsuruoka" and ranked[-1].elsewhere == (("服薬", "figure"),)
    assert ranked[-1].score > ranked[0].score


def test_a_timeline_line_is_shown_after_passages_that_say_what_was_done(
    bundled_engine: Engine,
) -> None:
    # 鶴岡市's 経緯 line scores highest for these words (a list of events, each named once);
    # its key points, which say what was decided and why, are shown first
    hit = all_hits(bundled_engine, "地域包括支援センター 直営").hits[0]
    sections = [p.passage.section for p in hit.passages]
    assert sections[0] == "key_point" and "history" in sections
    history = next(p for p in hit.passages if p.passage.section == "history")
    assert history.score > hit.passages[0].score


def test_each_word_outside_the_passages_is_named_with_its_own_place(
    bundled_engine: Engine,
) -> None:
    # 長寿介護課 is only in 鶴岡市's contact line: not a figure
    (hit,) = all_hits(bundled_engine, "長寿介護課").hits
    assert hit.matched_in == "details" and hit.passages == ()
    assert serialize.matched_note(hit) == "実施主体・連絡先に一致"
    # 鶴岡市 has ICT in its text and 服薬 only in a form; 横浜市 has 服薬 in its text and ICT
    # only as a theme tag; nobody has the third word, and only words a case holds are named
    hits = {h.case.id: h for h in all_hits(bundled_engine, "服薬 ICT ジェットコースター").hits}
    assert hits["tsuruoka"].elsewhere == (("服薬", "figure"),)
    assert hits["yokohama"].elsewhere == (("ICT", "title"),)
    both = dataclasses.replace(hits["tsuruoka"], elsewhere=(("服薬", "figure"), ("ICT", "title")))
    assert serialize.matched_note(both) == (
        "「ICT」はタイトル・キーワード・テーマ、「服薬」は図表中の語句にのみ一致"
    )


def test_a_hit_through_a_theme_tag_says_it_matched_in_title_or_keywords(
    bundled_engine: Engine,
) -> None:
    # 楢葉町 says ICT nowhere in its text; it is tagged with the theme ICT・情報共有
    hits = {h.case.id: h for h in all_hits(bundled_engine, "ICT").hits}
    assert hits["naraha"].matched_in == "title" and hits["naraha"].passages == ()
    assert hits["tsuruoka"].matched_in == "text"


@pytest.mark.parametrize(
    "query", ["ケアマネ", "地域包括支援センター", "認知症 カフェ", "ざいたく", "協議体"]
)
def test_highlights_read_from_the_index_equal_those_of_analysing_the_text(
    bundled_engine: Engine, query: str
) -> None:
    """The spans stored at build time mark exactly what analysing the passage again would."""
    corpus, highlighter = bundled_engine.corpus, bundled_engine.searcher.highlighter
    words = bundled_engine.expander.parse(query).words
    marked = 0
    for d, doc_id in enumerate(corpus.doc_ids):
        if (p := corpus.passage(doc_id)) is None:
            continue
        stored = highlighter.passage_spans(d, words)
        assert stored == match_spans(p.text, words, bundled_engine.analyzer), doc_id
        marked += len(stored)
    assert marked or query == "協議体"


@given(st.text(alphabet="ab 　\n\t。", max_size=40), st.data())
def test_flattened_snippet_text_keeps_every_span_on_the_same_characters(text: str, data) -> None:
    words = [m.span() for m in re.finditer(r"[ab。]+", text)]
    spans = data.draw(st.lists(st.sampled_from(words), unique=True)) if words else []
    spans.sort()
    flat, moved = flatten(text, spans)
    assert flat == " ".join(text.split())
    assert [flat[s:e] for s, e in moved] == [text[s:e] for s, e in spans]


def test_the_shown_passages_show_every_query_word_between_them(bundled_engine: Engine) -> None:
    # 楢葉町 says 仮設住宅 and 孤独死, never in one passage: one of each is shown
    (hit,) = [h for h in all_hits(bundled_engine, "仮設住宅 孤独死").hits if h.case.id == "naraha"]
    marked = {m for p in hit.passages for m in re.findall(r"<mark>(.*?)</mark>", p.snippet)}
    assert "孤独死" in marked and any("仮設住宅" in m for m in marked)


def test_passages_are_chosen_for_new_words_first_then_by_score() -> None:
    docs = np.array([10, 11, 12, 13])  # best first
    groups = np.zeros(14, dtype=np.uint64)
    groups[[10, 11, 12, 13]] = [0b01, 0b01, 0b10, 0b11]
    assert covering(docs, groups, 3) == [13, 10, 11]  # both words first, then by score
    groups[13] = 0b01
    assert covering(docs, groups, 3) == [10, 12, 11]  # the best of each word, then the next


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 6), st.sampled_from([0.5, 1.0, 1.5, 2.25, 3.0, 7.75])),
        max_size=40,
    )
)
def test_case_score_is_best_document_plus_decayed_next_ones(docs: list) -> None:
    """The vectorised case scores equal the definition: a case's documents sorted by score,
    the k-th weighted by DOC_DECAY[k] (ties included, which is where a level-by-level
    computation could go wrong)."""
    case_of = np.array([c for c, _ in docs], dtype=np.int64)
    score_of = np.array([s for _, s in docs], dtype=np.float32)
    cases, scores = score_cases(case_of, score_of, 7)
    expected = {}
    for c in sorted({c for c, _ in docs}):
        best = sorted((s for c2, s in docs if c2 == c), reverse=True)
        expected[c] = sum(d * s for d, s in zip(DOC_DECAY, best, strict=False))
    assert cases.tolist() == list(expected)
    assert scores.tolist() == pytest.approx(list(expected.values()))


def test_facet_table_counts_like_a_counter_in_rank_order(bundled_engine: Engine) -> None:
    """Counts per facet value over a chosen ranking equal counting the cases one by one,
    and values with equal counts come in the order they first appear down the ranking."""
    infos = list(bundled_engine.case_infos)
    table = FacetTable(infos)
    rng = np.random.default_rng(7)
    for _ in range(20):
        ranked = rng.permutation(len(infos))[: rng.integers(0, len(infos) + 1)]
        counts = table.counts(ranked, Counter())
        for facet in FACETS:
            if facet.values is None:
                continue
            chosen: list[CaseInfo] = [infos[i] for i in ranked]
            expected = Counter(v for c in chosen for v in facet.values(c)).most_common()
            assert list(counts[facet.key].items()) == expected


def test_a_story_is_found_by_its_subject(bundled_engine: Engine) -> None:
    """Who a story is about (「Ａさん（…・要介護２）」) is shown with the story, so it is
    searched too: the digit typed half-width finds the full-width one, marked."""
    result = bundled_engine.search("要介護2")
    assert result.fallback is None and ids(result) == ["tobetsu"]
    snippet = result.hits[0].passages[0].snippet
    assert snippet.startswith("Ａさん") and "<mark>要介護２</mark>" in snippet


def test_case_scores_end_even_with_a_nan_score() -> None:
    """A damaged index could hold a NaN score: ranking must still end (the other cases keep
    their scores), not loop waiting for the NaN to be credited."""
    case_of = np.array([0, 0, 1], dtype=np.int64)
    score_of = np.array([np.nan, 1.0, 2.0], dtype=np.float32)
    with np.errstate(invalid="ignore"):  # numpy warns of the NaN; the point is that it ends
        cases, scores = score_cases(case_of, score_of, 2)
    assert cases.tolist() == [0, 1] and scores[1] == 2.0


def test_a_synonym_inside_a_compound_is_shown_as_the_whole_word_searched(
    bundled_engine: Engine,
) -> None:
    """ケアマネ連携 searches 介護支援専門員連携 (the part replaced): the page must say that, not
    「ケアマネ連携 → 介護支援専門員」, which reads as if the bare synonym had been searched."""
    result = bundled_engine.search("ケアマネ連携")
    shown = {e.label for e in result.expansions if e.word == "ケアマネ連携"}
    assert "介護支援専門員連携" in shown and "介護支援専門員" not in shown


@pytest.mark.parametrize(
    ("query", "junk"),
    [
        ("高齢者虐待防止", "高齢者高齢者虐待防止"),
        ("有償ボランティア", "有償ボランティア活動"),
        ("通所型サービス", "デイサービス型サービス"),  # サービス twice
    ],
)
def test_a_part_is_not_replaced_by_a_longer_form_of_itself(
    bundled_engine: Engine, query: str, junk: str
) -> None:
    """虐待 and 高齢者虐待 share a group; replacing the part 虐待 by 高齢者虐待 searched (and showed)
    「高齢者高齢者虐待防止」, and ボランティア by ボランティア活動 「有償ボランティア活動」; nor by a
    form that repeats another part (通所 → デイサービス in 通所型サービス)."""
    result = bundled_engine.search(query)
    labels = [e.label for e in result.expansions if e.tier == "synonym"]
    assert labels, "the other spellings of the part are still searched"
    assert junk not in labels, labels


def test_a_part_is_replaced_where_the_other_part_is_only_inside_its_letters(
    bundled_engine: Engine,
) -> None:
    # 日常生活動作 holds the letters 活動 across 生活|動作: ADL活動 still searches it
    labels = {e.label for e in bundled_engine.search("ADL活動").expansions if e.tier == "synonym"}
    assert "日常生活動作活動" in labels, labels


def test_a_part_is_replaced_by_a_longer_word_that_is_another_term(bundled_engine: Engine) -> None:
    # リハビリテーション holds the letters of リハ but not the term: 在宅リハ still searches it
    result = bundled_engine.search("在宅リハ")
    labels = {e.label for e in result.expansions if e.tier == "synonym"}
    assert "在宅リハビリテーション" in labels, labels


@pytest.mark.parametrize(
    ("typed", "plain"),
    [
        ("お医者さん", "医者"),
        ("ヘルパーさん", "ヘルパー"),
        ("ご家族", "家族"),
        ("民生委員さん", "民生委員"),
    ],
)
def test_honorifics_around_a_word_are_not_searched(
    bundled_engine: Engine, typed: str, plain: str
) -> None:
    # お医者さん finds what 医者 finds (医師, by the table); no reading of さん as 3
    honorific, bare = all_hits(bundled_engine, typed), all_hits(bundled_engine, plain)
    assert honorific.total > 0 and ids(honorific) == ids(bare)
    assert {e.label for e in honorific.expansions} == {e.label for e in bare.expansions}
    assert not any("3" in e.label for e in honorific.expansions)


@pytest.mark.parametrize(
    ("typed", "searched"),
    [
        ("おむつ", "おむつ"),
        ("ごみ", "ごみ"),
        ("お茶", "お茶"),
        ("ありさま", "ありさま"),  # さま ends no word here
        ("有り様", "有り様"),
        ("お客様", "お客様"),
        ("お母さん", "お母さん"),  # one word to the analyser
        ("おばあちゃん", "おばあ"),  # not ばあ: お before a kana fragment stays
    ],
)
def test_a_word_that_only_looks_like_an_honorific_is_kept(
    bundled_engine: Engine, typed: str, searched: str
) -> None:
    assert bundled_engine.expander.parse(typed).groups[0][0].text == searched


@pytest.mark.parametrize("query", ["認知症'", "認知症';", "（認知症）", "認知症!?", "＜認知症＞"])
def test_punctuation_stuck_to_a_word_is_not_part_of_it(bundled_engine: Engine, query: str) -> None:
    """A pasted or mistyped 「認知症';」 searched and listed 「認知症' → 痴呆」 as the word."""
    result = all_hits(bundled_engine, query)
    assert ids(result) == ids(all_hits(bundled_engine, "認知症"))
    assert {e.word for e in result.expansions} == {"認知症"}


@pytest.mark.parametrize("query", ["100㎡", "37.5℃", "¥1000"])
def test_a_unit_or_currency_sign_stays_with_its_number(bundled_engine: Engine, query: str) -> None:
    parsed = bundled_engine.expander.parse(query)
    assert [w.text for g in parsed.groups for w in g] == [query]


def test_a_compound_whose_parts_no_case_has_is_not_said_to_be_shown_by_them(
    bundled_engine: Engine,
) -> None:
    # 山間部: no case writes 山間 either; the notice said 「語の一部（山間）を含む事例を表示」
    assert all_hits(bundled_engine, "山間").total == 0
    result = all_hits(bundled_engine, "買い物支援 山間部 高齢者")
    notice = serialize.search_notice(result) or ""
    assert "「山間部」を含む事例はありません。" in notice and "山間）" not in notice
    assert not any(r.word == "山間部" for r in result.relaxed)
    alone = all_hits(bundled_engine, "山間部")
    assert alone.total == 0 and not alone.relaxed and not alone.expansions


def test_a_typed_word_no_case_has_is_named_even_when_another_word_holds_it(
    bundled_engine: Engine,
) -> None:
    # a second read: 山間 typed beside 山間部 (whose part it is) went unnamed
    result = all_hits(bundled_engine, "山間 山間部 介護")
    assert set(result.nowhere) == {"山間", "山間部"}
