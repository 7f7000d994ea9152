"""The recommender's decisions, as data and pure functions: which words say what a description
is about, when a match is strong, how confident a case is, which passages answer.

Every threshold and cap is a field of one frozen `RecommendPolicy`; nothing here reads an
index, so each rule is unit-tested on plain numbers (tests/test_policy.py). To change the
no-match rule, change `is_strong_match` or its thresholds, and its tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .analysis import Token

# Nouns too general to say what a description is about; they never count towards coverage.
GENERIC_NOUNS = frozenset(
    """
    平成 令和 昭和 当時 程度 様々 方法 仕方 やり方 事例 話 人 方
    取り組み 取組 自治体 課題 状況 必要 場合 今後 内容 部分 様子 点 面
    中 上 下 前 後 間 他 全体 問題 現状 結果 参考 例 具体 年 月 日
    度 年度 以前 以降 何 誰 毎年 最近 成功 工夫 一つ 皆 全て 全部 多く
    各 等 ほか 手 目 気 声 形 的 性 化 者 員
    """.split()  # noqa: SIM905 (a word list reads better as text)
)
TOPIC_POS = frozenset({"名詞", "形状詞"})
MIN_REASON_IDF = 2.5  # a word in more than about a fifth of all passages explains nothing
LEVELS = ("low", "medium", "high")


def is_topic(token: Token) -> bool:
    """A word that says what a description is about: a specific noun, not filler."""
    return (
        token.pos[0] in TOPIC_POS
        and token.pos[1] not in ("数詞", "助動詞語幹")
        and token.text not in GENERIC_NOUNS
        and not token.text.isdigit()
    )


@dataclass(frozen=True)
class RecommendPolicy:
    """Thresholds and caps of the recommender, measured on eval/recommend_dev.yaml
    (docs/recommend.md). Coverage is the idf-weighted share of the description's topic
    words that a case contains (directly or through a synonym)."""

    strong_coverage: float = 0.5  # a strong match covers half of what the description is about
    partial_coverage: float = 0.34  # ... or a third of it
    partial_min_terms: int = 4  # ... through at least four distinct topic words
    high_coverage: float = 0.6
    medium_coverage: float = 0.4
    high_relative: float = 0.7  # a case's fused score against the first case's
    medium_relative: float = 0.4
    synonym_weight: float = 0.5  # a synonym's weight in the query vector, against 1 for a word
    max_description_words: int = 40  # topic words in the BM25 query, most specific first
    rank_depth: int = 200  # cases taken from each ranking into the fusion
    no_match_cases: int = 3  # cases shown (all low) when nothing matches strongly
    lessons_per_case: int = 3
    contents_per_case: int = 2  # 取り組み内容 passages shown under a case besides its lessons
    overall_lessons: int = 10
    matched_terms: int = 12  # matched words listed per case


def is_strong_match(coverage: float, n_matched: int, policy: RecommendPolicy) -> bool:
    """Whether the best case answers the description: it covers half of what the description
    is about, or a third of it through several distinct words (one or two shared words are
    chance)."""
    return coverage >= policy.strong_coverage or (
        coverage >= policy.partial_coverage and n_matched >= policy.partial_min_terms
    )


def confidences(
    coverages: Sequence[float], relatives: Sequence[float], strong: bool, policy: RecommendPolicy
) -> list[str]:
    """'high' / 'medium' / 'low' for cases in rank order. Without a strong match every case
    is low; a case never shows more confidence than the one ranked above it."""
    out: list[str] = []
    cap = 2
    for coverage, relative in zip(coverages, relatives, strict=True):
        level = 0
        if strong and coverage >= policy.medium_coverage and relative >= policy.medium_relative:
            level = (
                2 if coverage >= policy.high_coverage and relative >= policy.high_relative else 1
            )
        cap = min(cap, level)
        out.append(LEVELS[cap])
    return out


def choose_passages(
    scored: Sequence[tuple[float, str, str]], lesson_kinds: Sequence[str], policy: RecommendPolicy
) -> list[tuple[float, str, str]]:
    """The passages shown under a case, from (score, passage id, section) of its answer
    passages: its best lessons (even at score 0, so a case always shows its lessons), then
    its best matching 取り組み内容 passages."""
    lessons = sorted((s for s in scored if s[2] in lesson_kinds), key=lambda s: -s[0])
    contents = sorted(
        (s for s in scored if s[2] not in lesson_kinds and s[0] > 0), key=lambda s: -s[0]
    )
    return lessons[: policy.lessons_per_case] + contents[: policy.contents_per_case]
