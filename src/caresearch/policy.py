"""The recommender's decisions, as data and pure functions: which words say what a description
is about, when a match is strong, how confident a case is, which passages answer.

Every threshold and cap is a field of one frozen `RecommendPolicy`; nothing here reads an
index, so each rule is unit-tested on plain numbers (tests/test_policy.py). To change the
no-match rule, change `is_strong_match` or its thresholds, and its tests.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from itertools import islice
from pathlib import Path
from typing import TypeVar

import numpy as np

from .analysis import HONORIFIC_SUFFIXES, Token

# Nouns too general to say what a description is about; they never count towards coverage
# (as the analyzer normalises them: か所 → 箇所, づくり → 作り).
GENERIC_NOUNS = frozenset(
    """
    平成 令和 昭和 当時 程度 様々 方法 仕方 やり方 事例 話 人 方
    取り組み 取組 自治体 課題 状況 必要 場合 今後 内容 部分 様子 点 面
    中 上 下 前 後 間 他 全体 問題 現状 結果 参考 例 具体 年 月 日
    度 年度 以前 以降 何 誰 毎年 最近 成功 工夫 一つ 皆 全て 全部 多く
    各 等 ほか 手 目 気 声 形 的 性 化 者 員 箇所 喫緊 作り その後 侭 そのまま 役
    毎回 心配
    """.split()  # noqa: SIM905 (a word list reads better as text)
)
# Administrative words that any description and any case share (窓口, 相談, 連携, 仕組み…): they
# say little about which case answers, so they weigh `filler_weight` in a description, and a
# match made only of them is never a strong match.
ADMIN_FILLER = frozenset(
    """
    窓口 把握 相談 仕組み 体制 連携 検討 取り組み 取組み 支援 福祉 住民 事業 情報 課題 必要
    役場 行政 担当 職員 関係 機関 関係機関 会議 場 対応 地域 整備 推進 活用 実施 計画 調整
    確保 協力 参加 対策 制度 サービス 家族 本人 町 市 村 当町 当市 市町村 方針 役割 連絡
    共有 増加 状態 生活 対象 利用 提供 運営 充実 強化 構築 形 中心 全体 考え 声 思い 関係者
    主体
    """.split()  # noqa: SIM905 (a word list reads better as text)
)
# Nouns of everyday Japanese with their Zipf frequency (tools/everyday_words.py, from wordfreq):
# shared with a passage by chance (体, 名前, 一番), so above `RecommendPolicy.everyday_zipf` they
# weigh like filler in a description unless the care vocabulary knows them.
EVERYDAY_WORDS_PATH = Path(__file__).with_name("data") / "everyday_words.tsv"
# Absence and shortage in a description (医者がいない, おらん, いねえ, 担い手が足りない, 減っている): the cases
# say 不足. Matched on the raw text, because the analyzer drops いる/ない as filler.
# 〜ていない / 〜でおらず negate a verb (見られていない, 進んでいない): not absence, unless the verb
# says the shortage (足りていない, 見つかっていない, 手が回っていない, 確保できていない).
ABSENCE = re.compile(
    r"(?<![てで])(?:い(?:な[いく]|ません)|おらず)"
    # dialect: after a particle or a word, never inside one (難しいねえ, なおりません)
    r"|(?:(?<=[がはもに])|(?<![ぁ-ゖ]))(?:いね[えぇ]|お(?:らん|らへん|りません)|居(?:らん|りません))"
    r"|足り(?:[なずまん]|ひん|へん|てい?な|ておらず)|足ら(?:[なん]|へん)"
    r"|少な[いくかっ]|減っ|減り|減少|不足|見つか(?:ら|りません|ってい?な|っておらず)"
    r"|手が回(?:ら|りません|ってい?な|っておらず)|確保でき(?:な|ず|ません|てい?な|ておらず)"
)
ABSENCE_TERMS = ("不足",)
# ... the end of the word a match cuts (足りな → 足りない, 減っ → 減って, 少な → 少なく), never
# what follows it (いないので is いない)
_ABSENCE_END = re.compile(
    "(?<=な)[いく]|(?<=っ)て|(?<=ら)ない|(?<=でき)ない|(?<=回ら)ない|(?<=ま)せん"  # 足りま → 足りません
)


def absence_said(text: str) -> str | None:
    """The words of `text` that say something is missing, as written (いない, 足りない,
    減って); None when none do."""
    said = ABSENCE.search(text)
    if said is None:
        return None
    end = _ABSENCE_END.match(text, said.end())
    return text[said.start() : end.end() if end else said.end()]


# One-character suffixes that make a noun name a body or a place (協議体, 相談会, 研究所, 福祉課):
# the compound is a word of its own, not its first part. (者 and 員 are left out: 就農者 and
# 介護員 are about 就農 and 介護.)
ENTITY_SUFFIXES = frozenset("体会室所課係団局班")
TOPIC_POS = frozenset({"名詞", "形状詞"})
# An honorific around a word is shown with it (「おじいさん → 高齢者」, not 「じい → 高齢者」).
HONORIFIC_AFTER = re.compile("^(?:" + "|".join(HONORIFIC_SUFFIXES) + ")")
INFLECTED_POS = frozenset({"動詞", "形容詞", "助動詞"})  # written as a cut stem (泊まれ, 弱っ)
MIN_REASON_IDF = 2.5  # a word in more than about a fifth of all passages explains nothing
LEVELS = ("low", "medium", "high")
T = TypeVar("T")


@cache
def everyday_words() -> dict[str, float]:
    """Term -> Zipf frequency in everyday Japanese, from EVERYDAY_WORDS_PATH."""
    out: dict[str, float] = {}
    for line in EVERYDAY_WORDS_PATH.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            term, zipf = line.split("\t")
            out[term] = float(zipf)
    return out


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
    """Thresholds, weights and caps of the recommender, chosen on the tuning half of
    eval/recommend_dev.yaml (docs/recommend.md). Coverage is the idf-weighted share of the
    description's topic words (filler words weighing `filler_weight`) that a case contains,
    directly or through a synonym or paraphrase."""

    strong_coverage: float = 0.5  # a strong match covers half of what the description is about
    partial_coverage: float = 0.34  # ... or a third of it
    partial_min_terms: int = 3  # ... through at least three distinct specific words
    # ... and one passage holds this share of it through specific words (not scattered
    # across the case: off-topic descriptions match a word here and a word there)
    strong_passage_share: float = 0.19
    high_coverage: float = 0.6
    medium_coverage: float = 0.4
    high_relative: float = 0.7  # a case's best passage against the first case's
    medium_relative: float = 0.4
    high_min_words: int = 2  # 高 names at least this many of the main words
    # ... a main word a case has only through a word it points to (ごみ出し → 生活支援) counts
    # this much of one (tuning half: 1.0, 0.5, 0 put graded cases at 高 .906, .923, .915, at 中
    # .673, .692, .708, at 低 .169, .177, .184 of the time)
    related_main_weight: float = 0.5
    filler_weight: float = 0.25  # an administrative filler word, against 1 for a specific word
    # ... and a word this frequent in everyday Japanese (Zipf; 5.2 ≈ 160 per million words)
    everyday_zipf: float = 5.2
    absence_weight: float = 0.5  # 不足 added for いない / 足りない
    synonym_weight: float = 0.5  # a synonym or paraphrase, against 1 for the word itself
    rank_depth: int = 200  # cases taken from each lexical ranking as candidates
    # Case ranking: a weighted sum of each signal min-max normalised over the candidates:
    # TF-IDF cosine, best passage BM25, best passage embedding cosine. Without passage vectors
    # (CARESEARCH_EMBEDDING=0) the lexical weights apply. Both chosen on the tuning half.
    fusion: tuple[tuple[str, float], ...] = (("tfidf", 0.75), ("bm25", 1.0), ("semantic", 1.0))
    lexical_fusion: tuple[tuple[str, float], ...] = (("tfidf", 1.0), ("bm25", 1.0))
    no_match_cases: int = 3  # cases shown (all low) when nothing matches strongly
    passages_per_case: int = 3
    overall_answers: int = 5
    matched_terms: int = 12  # matched words listed per case
    main_terms: int = 5  # specific words the reason line counts
    excerpt_chars: int = 120
    max_sentences: int = 8  # a description's sentences the embedding reads one by one


def is_strong_match(
    coverage: float, n_matched: int, passage_share: float, policy: RecommendPolicy
) -> bool:
    """Whether the best case answers the description: it covers half of what the description
    is about, or a third of it through several distinct words (one or two shared words are
    chance); and some passage covers `strong_passage_share` of it by itself (`passage_share`,
    the best passage's share through specific words)."""
    enough = coverage >= policy.strong_coverage or (
        coverage >= policy.partial_coverage and n_matched >= policy.partial_min_terms
    )
    return enough and passage_share >= policy.strong_passage_share


def confidences(
    coverages: Sequence[float],
    relatives: Sequence[float],
    mains: Sequence[tuple[int, int, int]],
    strong: bool,
    policy: RecommendPolicy,
) -> list[str]:
    """'high' / 'medium' / 'low' for cases in rank order, from each case's coverage, its best
    passage against the first case's (`relatives`) and how many of the description's main
    words it is shown to have (`mains`: the k and N of its reason line and the words it has
    only through a related word, which count `related_main_weight`: 中 never reads 「1/5 に
    一致」, and 高 needs two words of its own: one word, however rare, is one piece of evidence,
    and a description that names only one is matched by every case that has it). Without a
    strong match every case is low; a case never shows more confidence than the one above it."""
    out: list[str] = []
    cap = 2
    for coverage, relative, (k, related, n) in zip(coverages, relatives, mains, strict=True):
        main = (k + policy.related_main_weight * related) / n if n else 0.0
        level = 0
        if (
            strong
            and coverage >= policy.medium_coverage
            and relative >= policy.medium_relative
            and main >= policy.medium_coverage
        ):
            high = (
                coverage >= policy.high_coverage
                and relative >= policy.high_relative
                and main >= policy.high_coverage
                and k >= policy.high_min_words
            )
            level = 2 if high else 1
        cap = min(cap, level)
        out.append(LEVELS[cap])
    return out


def choose_passages(
    scored: Sequence[tuple[float, str]], policy: RecommendPolicy, visible: Callable[[int], bool]
) -> list[int]:
    """Which of a case's answer passages to show, from (relevance, section) of each: the most
    relevant ones that matched where the reader can see it (`visible(k)`: a description's word
    is highlighted in passage k; one matched only through the parts of a synonym, 高齢者's 者, is
    no answer to show); the case's key points when none did (a case is never shown without
    something to read). Section weights are already in the relevance."""
    order = sorted(range(len(scored)), key=lambda k: -scored[k][0])
    chosen = _first_visible(
        (k for k in order if scored[k][0] > 0), visible, policy.passages_per_case
    )
    if not chosen:
        chosen = [k for k, (_s, section) in enumerate(scored) if section == "key_point"]
    return chosen[: policy.passages_per_case]


def overall_answers(
    cases: Sequence[tuple[str, float, Sequence[float]]],
    policy: RecommendPolicy,
    visible: Callable[[int, int], bool],
) -> list[tuple[int, int, float]]:
    """The best answers over all shown cases, as (case, passage, score) positions.

    `cases` holds (confidence, coverage, relevance of each passage). A passage scores its
    relevance (against the best passage shown) times its case's coverage (against the best
    case's), so a weak case's passage never leads a strong case's; only cases above 'low'
    contribute, unless none is. Only passages where a word is seen (`visible(case, passage)`)."""
    eligible = [c for c, (level, _cov, _s) in enumerate(cases) if level != "low"]
    eligible = eligible or list(range(len(cases)))
    top = max((s for c in eligible for s in cases[c][2]), default=0.0) or 1.0
    best_cov = max((cases[c][1] for c in eligible), default=0.0) or 1.0
    scored = [
        (c, k, s / top * cases[c][1] / best_cov)
        for c in eligible
        for k, s in enumerate(cases[c][2])
        if s > 0
    ]
    scored.sort(key=lambda x: -x[2])
    return _first_visible(iter(scored), lambda x: visible(x[0], x[1]), policy.overall_answers)


def _first_visible(candidates: Iterator[T], visible: Callable[[T], bool], n: int) -> list[T]:
    """The first `n` candidates that are visible, asking only until `n` are found."""
    return list(islice((x for x in candidates if visible(x)), n))


def minmax(values: np.ndarray) -> np.ndarray:
    """`values` scaled to 0..1 over themselves (all 0 when they are all equal)."""
    if not len(values):
        return values.astype(np.float64)
    lo, hi = float(values.min()), float(values.max())
    return (values - lo) / (hi - lo) if hi > lo else np.zeros(len(values), dtype=np.float64)


def fuse(signals: dict[str, np.ndarray], weights: Sequence[tuple[str, float]]) -> np.ndarray:
    """The weighted sum of the normalised signals (one value per candidate each)."""
    n = len(next(iter(signals.values())))
    total = np.zeros(n, dtype=np.float64)
    for name, w in weights:
        if w and name in signals:
            total += w * minmax(np.asarray(signals[name], dtype=np.float64))
    return total
