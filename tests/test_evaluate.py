"""`caresearch eval`: the metrics, the split report, and errors for missing dev sets."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml

from caresearch.cli import main
from caresearch.engine import Engine
from caresearch.errors import CaresearchError
from caresearch.evaluate import format_report, hit_at, ndcg_at, reciprocal_rank, run_eval


def test_ndcg_is_one_for_the_ideal_order_and_less_otherwise() -> None:
    grades = {"a": 3, "b": 1}
    assert ndcg_at(["a", "b", "c"], grades) == pytest.approx(1.0)
    assert ndcg_at(["b", "a"], grades) < 1.0
    assert ndcg_at(["c", "d"], grades) == 0.0
    assert ndcg_at(["a"], {}) == 0.0


def test_reciprocal_rank_and_hit_count_the_first_relevant_item() -> None:
    assert reciprocal_rank(["x", "y", "a"], {"a": 1}) == pytest.approx(1 / 3)
    assert reciprocal_rank(["x"], {"a": 1}) == 0.0
    assert hit_at(["x", "y", "p"], ["p"]) == 1.0
    assert hit_at(["x", "y", "z", "p"], ["p"]) == 0.0


def write_dev(root: Path, search: list, recommend: list) -> Path:
    root.mkdir()
    (root / "search_dev.yaml").write_text(yaml.safe_dump(search, allow_unicode=True), "utf-8")
    (root / "recommend_dev.yaml").write_text(yaml.safe_dump(recommend, allow_unicode=True), "utf-8")
    return root


SEARCH = [
    {
        "id": "s1",
        "split": "tune",
        "query": "ケアマネ",
        "cases": {"alpha": 3},
        "passages": ["alpha-kp-r1"],
    },
    {
        "id": "s2",
        "split": "holdout",
        "query": "協議体",
        "exact": "none",
        "cases": {},
        "passages": [],
    },
]
RECOMMEND = [
    {
        "id": "r1",
        "split": "tune",
        "text": "ひとり暮らしの高齢者の見守りを、ケアマネと自治会で分担したい。",
        "cases": {"alpha": 3},
        "passages": ["alpha-kp-r1", "alpha-sg-1"],
    },
    {"id": "r2", "split": "holdout", "text": "観光客を増やすための観光案内所を駅前に作りたい。",
     "no_match": True, "cases": {}, "passages": []},
]  # fmt: skip


def test_eval_reports_each_split_for_each_system(tiny_engine: Engine, tmp_path: Path) -> None:
    report = run_eval(tiny_engine, write_dev(tmp_path / "dev", SEARCH, RECOMMEND))
    search = report["search"]["caresearch"]["splits"]
    assert search["tune"]["n"] == 1 and search["holdout"]["n"] == 1 and search["all"]["n"] == 2
    assert search["tune"]["case_ndcg@3"] == 1.0  # alpha is the ケアマネ case
    assert search["tune"]["absent_honest"] is None  # no absent compound in the tune half
    rec = report["recommend"]
    assert set(rec) == {"n", "caresearch", "tfidf", "bm25_passages"}
    assert rec["caresearch"]["splits"]["tune"]["recall@1"] == 1.0
    assert rec["bm25_passages"]["splits"]["all"]["off_topic_flagged"] is None  # cannot say
    text = format_report(report)
    assert "search, tune (1 items)" in text and "recommend, holdout (1 items)" in text
    assert "answer_hit@3" in text and "bm25_passages" in text


def test_eval_reports_how_often_a_case_shown_at_each_level_is_relevant(
    tiny_engine: Engine, tmp_path: Path
) -> None:
    off_topic = {"id": "r3", "split": "holdout", "no_match": True, "cases": {}, "passages": [],
                 "text": "高齢者の運転免許の自主返納を進めたいが、見守りの担い手と話す場がない。"}  # fmt: skip
    report = run_eval(tiny_engine, write_dev(tmp_path / "dev", SEARCH, [*RECOMMEND, off_topic]))
    ours = report["recommend"]["caresearch"]
    shown = {row["id"]: row["levels"] for row in ours["items"]}
    level, grade = shown["r1"][0]
    assert grade == 3  # alpha first, graded 3 by r1
    assert ours["splits"]["tune"][f"graded_at_{level}"] > 0
    # the holdout half is off-topic: whatever it shows, at whatever level, is graded 0
    holdout = ours["splits"]["holdout"]
    assert shown["r3"] and all(holdout[f"graded_at_{lv}"] == 0.0 for lv, _g in shown["r3"])
    assert report["recommend"]["tfidf"]["splits"]["all"]["graded_at_high"] is None
    assert "graded_at_medium" in format_report(report)


def test_a_missing_dev_set_is_an_error(tiny_engine: Engine, tmp_path: Path) -> None:
    dev = write_dev(tmp_path / "dev", SEARCH, RECOMMEND)
    (dev / "recommend_dev.yaml").unlink()
    with pytest.raises(CaresearchError, match=r"recommend_dev\.yaml"):
        run_eval(tiny_engine, dev)


def test_eval_with_a_missing_directory_fails_in_one_line(
    tiny_engine: Engine, tmp_path: Path, capsys
) -> None:
    settings = tiny_engine.settings
    argv = ["eval", "--dev-dir", str(tmp_path / "nonexistent")]
    argv += ["--corpus", str(settings.corpus_dir), "--index", str(settings.index_dir)]
    assert main(argv, out=io.StringIO()) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "評価セットが見つかりません" in err[0]
