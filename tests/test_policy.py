"""The recommender's decisions as pure functions: no index, no corpus, plain numbers."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from caresearch.analysis import Analyzer
from caresearch.policy import (
    ABSENCE,
    ADMIN_FILLER,
    RecommendPolicy,
    choose_passages,
    confidences,
    fuse,
    is_strong_match,
    is_topic,
    minmax,
    overall_answers,
)

POLICY = RecommendPolicy()


def seen(_k: int) -> bool:  # every passage that matched shows its words
    return True


def seen_in(_c: int, _k: int) -> bool:
    return True


def test_the_policy_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        POLICY.strong_coverage = 0.1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("coverage", "n_matched", "strong"),
    [
        (0.5, 1, True),  # half of what the description is about
        (0.49, 2, False),  # a third, but through too few words
        (0.34, 3, True),  # a third through three distinct words
        (0.33, 10, False),
        (0.0, 0, False),
    ],
)
def test_strong_match_needs_half_or_a_third_through_several_words(
    coverage: float, n_matched: int, strong: bool
) -> None:
    assert is_strong_match(coverage, n_matched, 0.5, POLICY) is strong


def test_a_strong_match_needs_one_passage_that_covers_enough() -> None:
    """Words matched here and there across a case (one in each passage) are not an answer,
    however much of the description they cover together."""
    assert is_strong_match(0.9, 6, POLICY.strong_passage_share, POLICY)
    assert not is_strong_match(0.9, 6, POLICY.strong_passage_share - 0.01, POLICY)


def test_thresholds_come_from_the_policy_object() -> None:
    lenient = dataclasses.replace(POLICY, strong_coverage=0.2, strong_passage_share=0.0)
    assert not is_strong_match(0.3, 1, 0.0, POLICY)
    assert is_strong_match(0.3, 1, 0.0, lenient)


def test_without_a_strong_match_every_case_is_low() -> None:
    assert confidences([0.9, 0.8], [1.0, 0.9], [(5, 0, 5), (5, 0, 5)], False, POLICY) == [
        "low",
        "low",
    ]


def test_confidence_follows_coverage_and_relative_score() -> None:
    levels = confidences([0.7, 0.45, 0.9, 0.9], [1.0, 0.9, 0.3, 0.9], [(3, 0, 3)] * 4, True, POLICY)
    assert levels[0] == "high"
    assert levels[1] == "medium"  # covers less than the high line
    assert levels[2] == "low"  # far behind the first case
    assert levels[3] == "low"  # never above a case ranked before it


def test_confidence_agrees_with_the_main_words_the_reason_counts() -> None:
    # coverage alone would say 高 and 中; the reason lines read 2/5 and 1/5
    assert confidences([0.8, 0.7], [1.0, 0.9], [(2, 0, 5), (1, 0, 5)], True, POLICY) == [
        "medium",
        "low",
    ]
    assert confidences([0.8], [1.0], [(3, 0, 5)], True, POLICY) == ["high"]


def test_one_main_word_is_not_enough_for_high() -> None:
    # 「認知症の家族の相談が多い」: every case that has 認知症 reads 1/1; none of them is 高
    assert confidences([1.0, 0.9], [1.0, 0.9], [(1, 0, 1), (1, 0, 1)], True, POLICY) == [
        "medium",
        "medium",
    ]
    assert confidences([1.0], [1.0], [(2, 0, 2)], True, POLICY) == ["high"]


def test_a_word_had_only_through_a_related_word_counts_half_and_high_needs_two_own() -> None:
    # (k of its own, related, N): 「1/3 に一致（お年寄り）。関連する語で一致：ごみ出し → 生活支援、…」
    assert confidences([0.9], [1.0], [(1, 2, 3)], True, POLICY) == ["medium"]
    assert confidences([0.9], [1.0], [(2, 2, 4)], True, POLICY) == ["high"]  # (2 + 1) / 4
    assert confidences([0.9], [1.0], [(0, 2, 5)], True, POLICY) == ["low"]  # 1 / 5


def test_passages_shown_are_the_most_relevant_whatever_their_section() -> None:
    scored = [
        (0.1, "key_point"),
        (0.0, "key_point"),
        (0.5, "suggestion"),
        (0.9, "content"),
        (0.0, "content"),
        (0.7, "story"),
    ]
    assert choose_passages(scored, POLICY, seen) == [3, 5, 2]


def test_a_passage_where_no_word_is_seen_is_not_shown() -> None:
    # 3 and 5 scored only through the parts of a synonym (高齢者's 者): nothing to highlight
    scored = [(0.2, "key_point"), (0.0, "content"), (0.5, "suggestion"), (0.9, "content")]
    scored += [(0.1, "story"), (0.7, "story")]
    asked: list[int] = []

    def visible(k: int) -> bool:
        asked.append(k)
        return k not in (3, 5)

    assert choose_passages(scored, POLICY, visible) == [2, 0, 4]
    assert 1 not in asked  # a passage that did not match is never looked at


def test_a_case_without_matching_passages_still_shows_its_key_points() -> None:
    scored = [(0.0, "content"), (0.0, "key_point"), (0.0, "suggestion"), (0.0, "key_point")]
    assert choose_passages(scored, POLICY, seen) == [1, 3]
    # ... and so does one whose matches are none of them visible
    scored = [(0.4, "content"), (0.1, "key_point")]
    assert choose_passages(scored, POLICY, lambda k: False) == [1]


def test_overall_answers_follow_the_case_strength() -> None:
    cases = [
        ("high", 0.8, [0.5, 0.9]),  # the strong case
        ("low", 0.3, [1.0, 0.2]),  # a weak case whose passage scores higher on its own
    ]
    picked = overall_answers(cases, POLICY, seen_in)
    assert [(c, k) for c, k, _s in picked] == [(0, 1), (0, 0)]  # nothing from the weak case


def test_overall_answers_come_from_every_case_when_none_is_strong() -> None:
    cases = [("low", 0.3, [0.2, 0.0]), ("low", 0.3, [0.6])]
    picked = overall_answers(cases, POLICY, seen_in)
    assert [(c, k) for c, k, _s in picked] == [(1, 0), (0, 0)]
    assert len(overall_answers([("high", 0.9, [1.0] * 20)], POLICY, seen_in)) == (
        POLICY.overall_answers
    )


def test_overall_answers_skip_passages_where_no_word_is_seen() -> None:
    cases = [("high", 0.8, [0.5, 0.9, 0.7]), ("medium", 0.6, [1.0])]
    picked = overall_answers(cases, POLICY, lambda c, k: (c, k) != (0, 1))
    assert [(c, k) for c, k, _s in picked] == [(1, 0), (0, 2), (0, 0)]


def test_filler_words_weigh_less_than_specific_words() -> None:
    assert "窓口" in ADMIN_FILLER and "連携" in ADMIN_FILLER
    assert "認知症" not in ADMIN_FILLER
    assert 0 < POLICY.filler_weight < 1


@pytest.mark.parametrize(
    ("text", "absent"),
    [
        ("医者がいない", True),
        ("担い手が足りません", True),
        ("ボランティアが減っている", True),
        ("若い人が少なく", True),
        ("医者が多い", False),
        ("認知症の人の就労", False),
        ("医師がおらず", True),
        ("困りごとまで見られていない", False),  # a verb negated, nothing absent
        ("話し合いが進んでいない", False),
        ("連携しておらず", False),
        ("人手が足りていない", True),
        ("後継者が見つかっていない", True),
        ("手が回っていない", True),
        ("人材が確保できていない", True),
        # dialect, after a particle or a word
        ("村に医者がおらん", True),
        ("医者がおらへん", True),
        ("若いもんはいねえ", True),
        ("医者は居らん", True),
        ("担当の者がおりません", True),
        ("ヘルパーが足りん", True),
        ("人手が足りひん", True),
        ("お金が足らん", True),
        # ... and never inside another word
        ("サロンを続けるのは難しいねえ", False),
        ("膝の痛みがなおりません", False),
        ("この道は車がとおりません", False),
        ("始めて半年足らずで参加者が倍になった", False),  # 足らず: less than
    ],
)
def test_absence_phrasing_is_recognised(text: str, absent: bool) -> None:
    assert bool(ABSENCE.search(text)) is absent


def test_filler_words_are_not_topics() -> None:
    a = Analyzer()
    text = "うちの町ではどうすればいいのか考えています。方法を知りたい。"
    assert [t.text for t in a.tokens(text) if is_topic(t)] == []
    assert [t.text for t in a.tokens("認知症の人の就労") if is_topic(t)][:1] == ["認知症"]


def test_fusion_adds_the_signals_each_scaled_to_its_own_range() -> None:
    # a signal in large units (BM25) must not drown one in small units (cosine)
    signals = {"bm25": np.array([30.0, 10.0, 20.0]), "semantic": np.array([0.2, 0.5, 0.4])}
    fused = fuse(signals, (("bm25", 1.0), ("semantic", 1.0)))
    assert int(np.argmax(fused)) == 2  # second in both, first in neither
    assert fused.tolist() == pytest.approx([1.0, 1.0, 0.5 + 2 / 3])


def test_fusion_ignores_a_signal_without_weight_or_without_values() -> None:
    signals = {"tfidf": np.array([0.9, 0.1]), "bm25": np.array([1.0, 3.0])}
    weights = (("tfidf", 0.0), ("bm25", 1.0), ("semantic", 1.0))  # no vectors in this build
    assert fuse(signals, weights).tolist() == [0.0, 1.0]


def test_equal_values_scale_to_zero_not_to_a_division_error() -> None:
    assert minmax(np.array([2.0, 2.0])).tolist() == [0.0, 0.0]
    assert minmax(np.zeros(0)).tolist() == []
