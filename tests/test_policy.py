"""The recommender's decisions as pure functions: no index, no corpus, plain numbers."""

from __future__ import annotations

import dataclasses

import pytest

from caresearch.analysis import Analyzer
from caresearch.models import LESSON_KINDS
from caresearch.policy import (
    RecommendPolicy,
    choose_passages,
    confidences,
    is_strong_match,
    is_topic,
)

POLICY = RecommendPolicy()


def test_the_policy_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        POLICY.strong_coverage = 0.1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("coverage", "n_matched", "strong"),
    [
        (0.5, 1, True),  # half of what the description is about
        (0.49, 3, False),  # a third, but through too few words
        (0.34, 4, True),  # a third through four distinct words
        (0.33, 10, False),
        (0.0, 0, False),
    ],
)
def test_strong_match_needs_half_or_a_third_through_several_words(
    coverage: float, n_matched: int, strong: bool
) -> None:
    assert is_strong_match(coverage, n_matched, POLICY) is strong


def test_thresholds_come_from_the_policy_object() -> None:
    lenient = dataclasses.replace(POLICY, strong_coverage=0.2)
    assert not is_strong_match(0.3, 1, POLICY)
    assert is_strong_match(0.3, 1, lenient)


def test_without_a_strong_match_every_case_is_low() -> None:
    assert confidences([0.9, 0.8], [1.0, 0.9], False, POLICY) == ["low", "low"]


def test_confidence_follows_coverage_and_relative_score() -> None:
    levels = confidences([0.7, 0.45, 0.9, 0.9], [1.0, 0.9, 0.3, 0.9], True, POLICY)
    assert levels[0] == "high"
    assert levels[1] == "medium"  # covers less than the high line
    assert levels[2] == "low"  # far behind the first case
    assert levels[3] == "low"  # never above a case ranked before it


def test_passages_shown_are_best_lessons_then_best_matching_contents() -> None:
    scored = [
        (0.1, "a-kp-r1", "key_point"),
        (0.0, "a-kp-r2", "key_point"),
        (0.5, "a-sg-1", "suggestion"),
        (0.3, "a-kp-m1", "key_point"),
        (0.9, "a-sec-1", "content"),
        (0.0, "a-sec-2", "content"),
        (0.2, "a-sec-3", "content"),
        (0.1, "a-sec-4", "content"),
    ]
    chosen = [pid for _s, pid, _k in choose_passages(scored, LESSON_KINDS, POLICY)]
    assert chosen == ["a-sg-1", "a-kp-m1", "a-kp-r1", "a-sec-1", "a-sec-3"]


def test_a_case_without_matching_passages_still_shows_its_lessons() -> None:
    scored = [(0.0, "a-kp-r1", "key_point"), (0.0, "a-sec-1", "content")]
    assert [p for _s, p, _k in choose_passages(scored, LESSON_KINDS, POLICY)] == ["a-kp-r1"]


def test_filler_words_are_not_topics() -> None:
    a = Analyzer()
    text = "うちの町ではどうすればいいのか考えています。方法を知りたい。"
    assert [t.text for t in a.tokens(text) if is_topic(t)] == []
    assert [t.text for t in a.tokens("認知症の人の就労") if is_topic(t)][:1] == ["認知症"]
