"""Problem description → cases and lessons (the recommender and Engine.recommend)."""

from __future__ import annotations

import pytest
from whoosh_counts import term_counts

from caresearch.errors import QueryError, QueryTooLarge
from caresearch.recommend import rrf
from caresearch.tfidf import ANSWER_SECTIONS, TfidfModel


def test_using_an_unfitted_recommender_raises_a_clear_error():
    with pytest.raises(RuntimeError, match="not fitted"):
        TfidfModel().query_vector({"認知症": 1.0})


def test_fit_returns_self_and_learns_one_row_per_case_and_passage(bundled_engine):
    cases = bundled_engine.cases
    counts = term_counts(bundled_engine.build_path / "whoosh")
    rec = TfidfModel()
    assert rec.fit(cases, counts) is rec
    assert rec.case_matrix_.shape[0] == len(cases)
    # a row for each passage that can answer a problem: lessons and concrete 工夫
    answers = [p for c in cases for p in c.passages() if p.section in ANSWER_SECTIONS]
    assert rec.passage_ids_ == tuple(p.id for p in answers)
    assert rec.passage_matrix_.shape[0] == len(answers)
    # every passage has terms, and every case contains the terms of its passages
    assert all(rec.passage_matrix_[j].nnz > 0 for j in range(rec.passage_matrix_.shape[0]))
    for j, case in enumerate(rec.passage_case_):
        cols = rec.passage_matrix_[j].indices
        assert (rec.case_matrix_[case, cols].toarray() > 0).all()


def test_rrf_rewards_agreement_between_rankings():
    fused = rrf([["a", "b", "c"], ["b", "a", "c"]])
    assert fused["a"] == fused["b"] > fused["c"]


def test_rrf_keeps_one_rankings_order_when_the_other_is_silent():
    fused = rrf([["a", "b"], []])
    assert fused["a"] > fused["b"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("認知症の高齢者が畑仕事を続けられるよう、働く場をつくりたい。", "tobetsu"),
        ("ケアマネと病院の看護師の連携がうまくいかず、入退院の情報が伝わらない。", "tsuruoka"),
        ("豪雨災害で仮設住宅に移った高齢者の孤立と体力低下が心配です。", "naraha"),
        ("介護予防のリーダーを育成して市民と協働で教室を運営したい。", "urayasu"),
        ("民間の介護サービス事業者と保険者が話し合う連絡会をつくりたい。", "yokohama"),
        ("医師不足で地域医療が崩れそうなので、住民と専門職の人材育成講座を考えています。", "nanto"),
    ],
)
def test_each_case_is_found_from_a_description_in_other_words(bundled_engine, text, expected):
    rec = bundled_engine.recommend(text)
    assert not rec.no_strong_match
    assert rec.cases[0].case.id == expected
    assert rec.cases[0].confidence in ("high", "medium")


def test_lessons_come_from_their_own_case_with_key_points_and_suggestions_first(bundled_engine):
    rec = bundled_engine.recommend("ケアマネと病院の連携を進めるために研修会を開きたい")
    for cr in rec.cases:
        assert all(sl.lesson.case_id == cr.case.id for sl in cr.lessons)
        kinds = [getattr(sl.lesson, "section", None) for sl in cr.lessons]
        # lessons (key points / suggestions) precede the content passages
        assert kinds == sorted(kinds, key=lambda k: k == "content")
    assert all(sl.lesson.section in ("key_point", "suggestion") for sl in rec.lessons)
    scores = [sl.score for sl in rec.lessons]
    assert scores == sorted(scores, reverse=True)


def test_matched_terms_explain_synonym_matches(bundled_engine):
    rec = bundled_engine.recommend("ケアマネと病院の看護師の連携がうまくいかない")
    top = rec.cases[0]
    via = {m.query_term: (m.case_term, m.via) for m in top.matched_terms}
    assert "病院" in via
    assert via["ケアマネ"][1] == "synonym"


@pytest.mark.parametrize(
    "text",
    [
        "観光客を増やすために温泉街の旅館と連携した観光振興策を考えています。",
        "空き家バンクの登録件数が伸びず、移住希望者とのマッチングがうまくいきません。",
        "ふるさと納税の返礼品を開発して寄附額を増やしたい。",
    ],
)
def test_topics_outside_the_corpus_get_no_strong_match(bundled_engine, text):
    rec = bundled_engine.recommend(text)
    assert rec.no_strong_match
    assert len(rec.cases) <= 3
    assert all(c.confidence == "low" for c in rec.cases)


def test_half_width_and_hiragana_descriptions_match_like_their_standard_spelling(bundled_engine):
    a = bundled_engine.recommend("ｹｱﾏﾈと病院の連携")
    b = bundled_engine.recommend("ケアマネと病院の連携")
    assert [c.case.id for c in a.cases] == [c.case.id for c in b.cases]


@pytest.mark.parametrize("text", ["", "   ", "のをにが、。"])
def test_empty_or_contentless_descriptions_are_rejected_clearly(bundled_engine, text):
    with pytest.raises(QueryError):
        bundled_engine.recommend(text)


def test_overlong_descriptions_are_rejected(bundled_engine):
    with pytest.raises(QueryTooLarge):
        bundled_engine.recommend("認知症" * 5000)


def test_similar_cases_give_reasons(bundled_engine):
    sims = bundled_engine.similar("tsuruoka")
    assert sims and all(s.case.id != "tsuruoka" for s in sims)
    assert sims[0].case.id == "nanto"  # both: 医療・介護連携, 在宅医療
    assert sims[0].shared_themes
    scores = [s.score for s in sims]
    assert scores == sorted(scores, reverse=True)
