"""Few full matches: the cases that have only some of the words (or a compound's parts) follow
them, said to be partial, never mixed into the full matches (issue 13: exact before loose)."""

from __future__ import annotations

import io
import json

from caresearch import serialize
from caresearch.cli import main
from caresearch.engine import Engine
from caresearch.evaluate import ExactCheck
from caresearch.models import PartialMatch


def _text(engine: Engine, case_id: str) -> str:
    """Everything the case file says, to check a claim against."""
    return (engine.settings.corpus_dir / "cases" / f"{case_id}.yaml").read_text(encoding="utf-8")


def test_a_compound_with_few_cases_is_followed_by_cases_with_all_its_parts_apart(
    bundled_engine: Engine,
) -> None:
    result = bundled_engine.search("認知症対策")
    full = [h.case.id for h in result.hits]
    partial = [h.case.id for h in result.partial]
    assert 0 < len(full) < 3 and partial
    assert not set(full) & set(partial)
    check = ExactCheck(bundled_engine)
    for case_id in full:
        assert check("認知症対策", case_id) == 1.0
    for case_id in partial:
        text = _text(bundled_engine, case_id)
        # every part, never the compound: 対策 alone is not enough
        assert "認知症" in text and "対策" in text and "認知症対策" not in text
    # each says how it holds the word: its parts, apart
    for hit in result.partial:
        assert hit.partial is not None and not hit.partial.has and not hit.partial.lacks
        assert hit.partial.parts == (("認知症対策", ("認知症", "対策")),)
    data = serialize.search_result(result)
    assert data["partial_note"].startswith(
        "入力した語（同じ意味の語を含む）をすべて含む事例は以上です"
    )
    assert data["partial"][0]["holds"] == (
        "「認知症対策」は語の一部（認知症、対策）が別々に出てきます。"
    )


def test_several_words_with_few_full_matches_are_followed_by_cases_with_some_of_them(
    bundled_engine: Engine,
) -> None:
    result = bundled_engine.search("アンケート 調査")
    assert [h.case.id for h in result.hits] == ["tsuruoka"]
    assert result.partial
    for hit in result.partial:
        text = _text(bundled_engine, hit.case.id)
        assert "調査" in text and "アンケート" not in text
        # the shown passage is one where a word matched, highlighted
        assert hit.passages and all("<mark>" in p.snippet for p in hit.passages)
        assert hit.partial == PartialMatch(has=("調査",), lacks=("アンケート",))
    data = serialize.search_result(result)
    assert data["total"] == 1 and len(data["hits"]) == 1  # the partial ones are not counted
    assert [h["case_id"] for h in data["partial"]] == [h.case.id for h in result.partial]
    assert data["partial"][0]["holds"] == "「調査」を含みます。「アンケート」は含みません。"
    assert "holds" not in data["hits"][0]


def test_the_partial_matches_say_how_many_there_are_when_not_all_are_shown(
    bundled_engine: Engine,
) -> None:
    every = bundled_engine.search("認知症 見守り")
    assert len(every.partial) == every.partial_total > 2  # a page holds them all
    one = bundled_engine.search("認知症 見守り", page_size=1)
    assert len(one.partial) == 1 and one.partial_total == every.partial_total
    assert one.partial[0].case.id == every.partial[0].case.id
    count = f"（{every.partial_total}件のうち、合う語の多い順に1件）"
    assert count in serialize.search_result(one)["partial_note"]


def test_a_filter_that_leaves_no_full_match_still_shows_the_partial_ones(
    bundled_engine: Engine, client
) -> None:
    result = bundled_engine.search("認知症 見守り", filters={"prefecture": "山形県"})
    assert result.total == 0 and [h.case.id for h in result.partial] == ["tsuruoka"]
    note = serialize.search_result(result)["partial_note"]
    # 当別町 has both words, outside the filter: the note speaks of the filtered cases only
    assert note.startswith(
        "絞り込みの中で、入力した語（同じ意味の語を含む）をすべて含む事例はありません"
    )
    page = client.get(
        "/search", query_string={"q": "認知症 見守り", "prefecture": "山形県"}
    ).get_data(as_text=True)
    assert "一部だけに一致する事例" in page and "事例が見つかりませんでした" not in page


def test_no_partial_matches_when_enough_cases_have_every_word(bundled_engine: Engine) -> None:
    result = bundled_engine.search("認知症")
    assert result.total >= 3 and not result.partial
    assert serialize.search_result(result)["partial_note"] is None


def test_exact_mode_quotes_and_exclusions_hold_for_the_partial_matches(
    bundled_engine: Engine,
) -> None:
    assert not bundled_engine.search("アンケート 調査", exact=True).partial
    assert not bundled_engine.search('"認知症対策"').partial  # a phrase is not cut into parts
    loose = {h.case.id for h in bundled_engine.search("アンケート 調査").partial}
    kept = {h.case.id for h in bundled_engine.search("アンケート 調査 -介護予防").partial}
    assert kept < loose
    for case_id in loose - kept:
        assert "介護予防" in _text(bundled_engine, case_id)


def test_partial_matches_follow_the_last_full_match_only(bundled_engine: Engine) -> None:
    two = bundled_engine.search("認知症対策", page=1, page_size=1)
    assert len(two.hits) == 1 and not two.partial  # the second full match is on page 2
    assert bundled_engine.search("認知症対策", page=2, page_size=1).partial
    past = bundled_engine.search("アンケート 調査", page=2, page_size=1)
    assert not past.hits and not past.partial


def test_the_page_and_the_cli_say_which_cases_are_partial(bundled_engine: Engine, client) -> None:
    page = client.get("/search", query_string={"q": "アンケート 調査"}).get_data(as_text=True)
    assert "一部だけに一致する事例" in page
    head, _, tail = page.partition('class="partial"')
    assert "鶴岡市" in head and "鶴岡市" not in tail and "横浜市" in tail
    assert "「調査」を含みます。「アンケート」は含みません。" in tail
    where = ["--corpus", str(bundled_engine.settings.corpus_dir)]
    where += ["--index", str(bundled_engine.settings.index_dir)]
    out = io.StringIO()
    assert main(["search", "アンケート 調査", *where], out=out) == 0
    text = out.getvalue()
    note = text.index("入力した語（同じ意味の語を含む）をすべて含む事例は以上です")
    assert text.index("鶴岡市") < note < text.index("横浜市")
    assert "（「調査」を含みます。「アンケート」は含みません。）" in text[note:]
    out = io.StringIO()
    assert main(["search", "アンケート 調査", "--json", *where], out=out) == 0
    data = json.loads(out.getvalue())
    assert data["total"] == 1 and data["partial"][0]["case_id"] == "yokohama"


def test_a_case_found_through_a_related_word_is_not_said_to_contain_the_word(
    bundled_engine: Engine,
) -> None:
    # 買い物 points to 生活支援 and 外出支援; the cases that say those never say 買い物
    result = bundled_engine.search("買い物")
    related = [h for h in result.partial if h.partial and h.partial.related]
    assert related
    for hit in related:
        assert "買い物" not in _text(bundled_engine, hit.case.id)
        assert not hit.partial.has and not hit.partial.synonyms
        (word, found), *_ = hit.partial.related
        assert word == "買い物" and all(w in _text(bundled_engine, hit.case.id) for w in found)
        note = serialize.held_note(hit.partial)
        assert note.startswith("「買い物」は含みませんが、関連する語（")


def test_words_joined_by_or_find_what_each_finds_alone(bundled_engine: Engine) -> None:
    # a new user's trial: 「成年後見 OR 権利擁護」 found 0 cases (and said 「すべて含む事例は
    # ありません」) while each word alone finds 横浜市 and 浦安市 (権利擁護 through 後見人)
    alone = {h.case.id for w in ("成年後見", "権利擁護") for h in bundled_engine.search(w).hits}
    either = bundled_engine.search("成年後見 OR 権利擁護")
    assert {h.case.id for h in either.hits} == alone and either.total == len(alone)
    assert serialize.search_notice(either).startswith(
        "「権利擁護」を含む事例はありません。関連する語"
    )
    # a word found nowhere beside one found is named, not dropped in silence
    result = bundled_engine.search("協議体 OR 通いの場")
    assert result.total == len(bundled_engine.search("通いの場").hits) > 0
    assert result.nowhere == ("協議体",)
    assert "「協議体」を含む事例はありません。" in serialize.search_notice(result)
    # ... quoted, or in exact mode, too (only relaxing is not for them)
    for query, exact in [("虐待 OR 認知症", True), ('"虐待" OR 認知症', False)]:
        assert bundled_engine.search(query, exact=exact).nowhere == ("虐待",)


def test_a_search_that_finds_nothing_names_the_words_no_case_has(bundled_engine: Engine) -> None:
    result = bundled_engine.search("宇宙船 火星")
    assert result.total == 0
    assert serialize.search_notice(result) == "「宇宙船」「火星」を含む事例はありません。"
    both = bundled_engine.search("協議体 OR 宇宙船")
    assert both.total == 0
    assert serialize.search_notice(both) == "「協議体」または「宇宙船」を含む事例はありません。"


def test_a_loanword_typed_in_hiragana_is_not_found_through_the_piece_the_analyser_knows(
    bundled_engine: Engine,
) -> None:
    # こーでぃねーたー found 3 cases through 【こう】した (the analyser kept こう of こー and
    # dropped でぃねーたー), shown as a full match; ｺｰﾃﾞｨﾈｰﾀｰ honestly found none
    result = bundled_engine.search("こーでぃねーたー")
    assert result.total == bundled_engine.search("ｺｰﾃﾞｨﾈｰﾀｰ").total == 0
    assert result.nowhere == ("こーでぃねーたー",)
    # (そーしゃるわーかー had found そう: 「問題がありそうな」)
    result = bundled_engine.search("そーしゃるわーかー")
    katakana = {h.case.id for h in bundled_engine.search("ソーシャルワーカー").hits}
    assert {h.case.id for h in result.hits} <= katakana
    assert not [p for h in result.hits for p in h.passages if "<mark>そう</mark>" in p.snippet]
    # ... and a quoted katakana phrase the cases write is found (a particle the index drops
    # inside it is no piece lost): 「ケアマネジャーなど」 was said to be in no case
    assert bundled_engine.search('"ケアマネジャーなど"').total > 0
    # ... while a loanword the cases write is found by its reading, and みんなのうた (みんな is
    # no word to the index) still finds 当別町's みんなのうた
    assert (
        bundled_engine.search("こーでぃねーと").total
        == bundled_engine.search("コーディネート").total
        > 0
    )
    assert [h.case.id for h in bundled_engine.search("みんなのうた").hits] == ["tobetsu"]


def test_a_query_pasted_twice_is_asked_and_said_once(bundled_engine: Engine) -> None:
    once = bundled_engine.search("認知症 見守り 通いの場")
    twice = bundled_engine.search("認知症 見守り 通いの場 認知症 見守り 通いの場")
    assert [h.case.id for h in twice.hits] == [h.case.id for h in once.hits]
    assert serialize.search_notice(twice).count("「通いの場」を含む事例はありません") == 1
    assert twice.expansions == once.expansions
    assert len(bundled_engine.search("見守 見守").suggestions) == len(
        bundled_engine.search("見守").suggestions
    )


def test_exact_mode_says_it_is_exact_when_a_kana_word_was_read(
    bundled_engine: Engine, client
) -> None:
    # a new user's trial: /search?q=にんちしょう&exact=1 offered 「入力した語だけで検索」, a link to
    # the page it was on, and never said the search was exact
    html = client.get("/search", query_string={"q": "にんちしょう", "exact": "1"}).get_data(
        as_text=True
    )
    assert "入力した語だけで検索しています（かなの読み：にんちしょう → 認知症）。" in html
    assert "次の語も含めて検索しました" not in html
    assert '<a href="/search?q=%E3%81%AB%E3%82%93%E3%81%A1%E3%81%97%E3%82%87%E3%81%86">' in html
    where = ["--corpus", str(bundled_engine.settings.corpus_dir)]
    where += ["--index", str(bundled_engine.settings.index_dir)]
    out = io.StringIO()
    assert main(["search", "--exact", "にんちしょう", *where], out=out) == 0
    text = out.getvalue()
    assert "入力した語だけで検索しています（かなの読み：にんちしょう → 認知症）" in text
    assert "--exact）" not in text


def test_one_word_relaxed_to_its_parts_is_not_said_to_lack_all_the_words(
    bundled_engine: Engine,
) -> None:
    # a new user's trial: 「遠距離介護」 (one word) read 「…語の一部（介護）を含む事例を表示しています。
    # すべての語を含む事例がないため、いずれかの語を含む事例を表示しています」
    result = bundled_engine.search("遠距離介護")
    assert result.fallback and result.fallback.endswith("or") and result.total
    assert serialize.search_notice(result) == (
        "「遠距離介護」を含む事例はありません。語の一部（介護）を含む事例を表示しています。"
    )
    two = serialize.search_notice(bundled_engine.search("認知症 宇宙船"))
    assert two.endswith("すべての語を含む事例がないため、いずれかの語を含む事例を表示しています。")
    # ... words joined by a particle are words asked too (a second read: 「南砺と当別」 lost it)
    joined = serialize.search_notice(bundled_engine.search("南砺と当別"))
    assert joined == "すべての語を含む事例がないため、いずれかの語を含む事例を表示しています。"


def test_the_cli_says_how_to_see_every_partial_match(bundled_engine: Engine) -> None:
    # a new user's trial: 「（5件のうち、合う語の多い順に3件）」, and --page 2 said the page was
    # past the end: nothing led to the other two
    where = ["--corpus", str(bundled_engine.settings.corpus_dir)]
    where += ["--index", str(bundled_engine.settings.index_dir)]
    query = "独居 認知症 遠方 家族"
    out = io.StringIO()
    assert main(["search", "--limit", "3", query, "--json", *where], out=out) == 0
    total = json.loads(out.getvalue())["partial_total"]
    assert total > 3
    out = io.StringIO()
    assert main(["search", "--limit", "3", query, *where], out=out) == 0
    assert f"（もっと見るには: --limit {total}）" in out.getvalue()
    out = io.StringIO()
    assert main(["search", "--limit", str(total), query, *where], out=out) == 0
    assert out.getvalue().count("\n・ ") == total and "もっと見るには" not in out.getvalue()


def test_a_name_typed_in_variant_kanji_finds_the_case(bundled_engine: Engine) -> None:
    # a blind dev item (s820): 南礪, the old form of 南砺市's 砺, found nothing
    result = bundled_engine.search("南礪")
    assert [h.case.id for h in result.hits] == ["nanto"] and not result.fallback
    assert "<mark>南砺" in result.hits[0].passages[0].snippet
    assert [h.case.id for h in bundled_engine.search("南礪市 在宅医療").hits] == ["nanto"]


def test_two_living_together_is_found_however_typed(bundled_engine: Engine) -> None:
    # a blind dev item (s841): ２人暮らし fell back to the parts 人 and 暮らし (楢葉町 writes
    # 「孫との二人暮らし」: Sudachi reads 二人 as one word, so the digit is no numeral to it)
    for typed in ("２人暮らし", "2人暮らし", "ふたり暮らし", "二人暮らし"):
        result = bundled_engine.search(typed)
        assert [h.case.id for h in result.hits] == ["naraha"] and not result.fallback, typed
