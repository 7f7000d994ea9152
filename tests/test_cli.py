"""The `caresearch` command, run in-process through cli.main and, for exit codes, as a process.

Every run passes --index (or CARESEARCH_INDEX) under tmp_path, so the repository's index/ is
never touched.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import unicodedata
from pathlib import Path

import doc_factory
import pytest

from caresearch.cli import main
from caresearch.config import PROJECT_ROOT, SETTINGS
from caresearch.corpus import load_corpus
from caresearch.engine import Engine
from caresearch.models import SECTION_LABELS
from caresearch.render import FIGURES_NOTE

CORPUS = PROJECT_ROOT / "corpus"
TINY = Path(__file__).parent / "data" / "tiny_corpus"
EXE = Path(sys.executable).with_name("caresearch")
ENV_VARS = [s.env for s in SETTINGS]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "index"
    assert main(["build", "--corpus", str(CORPUS), "--index", str(path)], out=io.StringIO()) == 0
    return path


def run(argv: list[str], stdin: str | None = None) -> tuple[int, str]:
    out = io.StringIO()
    code = main(argv, out=out, stdin=io.StringIO(stdin) if stdin is not None else None)
    return code, out.getvalue()


def cli(index_dir: Path, *argv: str, stdin: str | None = None) -> tuple[int, str]:
    return run([*argv, "--corpus", str(CORPUS), "--index", str(index_dir)], stdin)


def search_json(index_dir: Path, *argv: str) -> dict:
    code, out = cli(index_dir, "search", *argv, "--json")
    assert code == 0
    return json.loads(out)


# --- build -----------------------------------------------------------------------------------------


def test_build_says_what_it_did(tmp_path: Path) -> None:
    argv = ["build", "--corpus", str(TINY), "--index", str(tmp_path / "index")]
    code, out = run(argv)
    assert code == 0
    assert "索引を作成しました" in out and "事例 3 件" in out and "答えの箇所 25 件" in out
    assert str(tmp_path / "index") in out
    code, out = run(argv)
    assert code == 0 and "索引は最新です" in out
    code, out = run([*argv, "--force"])
    assert code == 0 and "索引を作成しました" in out and "最新" not in out


def test_build_of_a_broken_corpus_fails_with_file_messages(tmp_path: Path, capsys) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(TINY, corpus)
    (corpus / "cases" / "beta.yaml").write_text("id: beta\n", encoding="utf-8")
    code, _out = run(["build", "--corpus", str(corpus), "--index", str(tmp_path / "index")])
    err = capsys.readouterr().err
    assert code != 0
    assert "beta.yaml" in err and "Traceback" not in err
    assert not (tmp_path / "index" / "CURRENT").exists()


def test_a_broken_case_file_leaves_the_last_index_answering_with_a_warning(
    tmp_path: Path, capsys
) -> None:
    # an administrator's trial: after a colleague's typo in one case file, the server would
    # not start again (its first step is the build), though a good index was there
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(TINY, corpus)
    where = ["--corpus", str(corpus), "--index", str(index)]
    assert run(["build", *where])[0] == 0
    capsys.readouterr()
    (corpus / "cases" / "broken.yaml").write_text(
        "id: broken\ntitle: [unclosed\n", encoding="utf-8"
    )
    code, out = run(["search", "認知症", *where])
    err = capsys.readouterr().err
    assert code == 0 and "件" in out
    assert "前回作った索引で答えます" in err and "broken.yaml" in err
    code, _out = run(["serve", "--get", "/", *where])
    assert code == 0
    # the build itself still stops, and with no earlier index there is nothing to fall back on,
    # nor with an index of another corpus folder or of a folder that is gone
    assert run(["build", *where])[0] != 0
    shutil.copytree(corpus, tmp_path / "other")  # another folder, as broken
    for other in (tmp_path / "gone", tmp_path / "other"):
        assert run(["search", "認知症", "--corpus", str(other), "--index", str(index)])[0] != 0
    fresh = ["--corpus", str(corpus), "--index", str(tmp_path / "new-index")]
    capsys.readouterr()
    assert run(["search", "認知症", *fresh])[0] != 0
    assert "broken.yaml" in capsys.readouterr().err


def test_serve_refuses_threads_it_cannot_run_and_a_port_that_is_no_number(capsys) -> None:
    # --threads 0 was taken, then no request was ever answered; --port abc was half English
    for argv, said in (
        (
            ["serve", "--threads", "0"],
            "--threads: スレッドの数は1から64までの整数で指定してください",
        ),
        (["serve", "--port", "abc"], "--port には整数を指定してください（指定されたのは「abc」）"),
    ):
        with pytest.raises(SystemExit) as stopped:
            run(argv)
        assert stopped.value.code == 2 and said in capsys.readouterr().err


# --- search ------------------------------------------------------------------------------------------


def test_search_json_shape(index_dir: Path) -> None:
    data = search_json(index_dir, "認知症 就労")
    assert {"query", "total", "fallback", "hits", "facets"} <= set(data)
    assert data["query"] == "認知症 就労" and data["fallback"] is None
    assert data["total"] == len(data["hits"]) >= 1
    for hit in data["hits"]:
        assert {"case_id", "municipality", "prefecture", "title", "score", "passages"} <= set(hit)
        assert isinstance(hit["score"], float)
        for p in hit["passages"]:
            assert {"id", "case_id", "section", "text", "snippet"} <= set(p)
            assert p["case_id"] == hit["case_id"] and p["section"] in SECTION_LABELS
        assert any("<mark>" in p["snippet"] for p in hit["passages"])
    assert {"prefecture", "region", "theme", "keyword", "section"} <= set(data["facets"])


@pytest.mark.parametrize(
    "query", ["認知症", "ケアマネ", "ざいたく", "住民 ボランティア", "医療介護連携"]
)
def test_search_json_agrees_with_the_engine(
    index_dir: Path, bundled_engine: Engine, query: str
) -> None:
    data = search_json(index_dir, query)
    result = bundled_engine.search(query)
    assert [h["case_id"] for h in data["hits"]] == [h.case.id for h in result.hits]
    assert data["total"] == result.total and data["fallback"] == result.fallback


@pytest.mark.parametrize(("flag", "value", "field"), [("--pref", "北海道", "prefecture")])
def test_search_prefecture_filter(index_dir: Path, flag: str, value: str, field: str) -> None:
    data = search_json(index_dir, "連携", flag, value)
    assert data["total"] >= 1
    assert {h[field] for h in data["hits"]} == {value}
    assert data["filters"] == {"prefecture": [value]}


def test_search_theme_filter(index_dir: Path, bundled_engine: Engine) -> None:
    data = search_json(index_dir, "地域", "--theme", "認知症")
    with_theme = {c.id for c in bundled_engine.cases if "認知症" in c.themes}
    assert data["total"] >= 1
    assert {h["case_id"] for h in data["hits"]} <= with_theme


@pytest.mark.parametrize("limit", [1, 2, 4])
def test_search_limit(index_dir: Path, limit: int) -> None:
    data = search_json(index_dir, "地域", "--limit", str(limit))
    assert len(data["hits"]) == min(limit, data["total"])
    assert data["total"] > limit


@pytest.mark.parametrize("limit", ["0", "101", "-3"])
def test_search_limit_out_of_range_is_a_usage_error(index_dir: Path, limit: str, capsys) -> None:
    with pytest.raises(SystemExit) as info:
        cli(index_dir, "search", "地域", "--limit", limit)
    assert info.value.code == 2
    assert "--limit" in capsys.readouterr().err


def test_search_text_output(index_dir: Path) -> None:
    code, out = cli(index_dir, "search", "認知症 就労")
    assert code == 0
    assert "tobetsu" in out and "北海道" in out
    assert "≪認知症≫" in out or "≪就労≫" in out  # marks shown without HTML
    assert "<mark>" not in out
    # ... not in the 【】 the cases write around their headings (the trial's 環境整備 read
    # 「【介護サービス事業者が連携しやすい【環境整備】】」)
    code, out = cli(index_dir, "search", "環境整備")
    assert "【介護サービス事業者が連携しやすい≪環境整備≫】" in out
    assert any(label in out for label in SECTION_LABELS.values())


def test_recommend_text_output_says_what_to_add_when_no_case_matches(index_dir: Path) -> None:
    code, out = cli(index_dir, "recommend", "近所の人の愚痴を聞く寄り合いの仕組みを検討したい")
    assert code == 0
    assert "この課題に合う事例は見つかりませんでした。" in out and "具体的な内容" in out
    assert "参考として近い事例" not in out  # nothing below it to refer to
    code, out = cli(index_dir, "recommend", "--json", "宇宙船の修理をしたい")
    data = json.loads(out)
    assert code == 0 and data["cases"] == []
    assert "宇宙船" in data["notice"] and "一般的な語" not in data["notice"]


def test_recommend_text_output_says_when_every_case_is_low(index_dir: Path) -> None:
    text = "講座を開いても、受けた人がその後なんにもしない。勉強しっぱなしで、修了証だけがたまっていく。"
    data = json.loads(cli(index_dir, "recommend", "--json", text)[1])
    assert not data["no_strong_match"] and {c["confidence"] for c in data["cases"]} == {"low"}
    # ... in the JSON too (its notice was null)
    assert data["notice"].startswith("どの事例も、課題の一部に合うだけです")
    code, out = cli(index_dir, "recommend", text)
    assert code == 0 and out.lstrip().startswith("どの事例も、課題の一部に合うだけです")


def test_search_text_output_says_when_it_fell_back(index_dir: Path) -> None:
    data = search_json(index_dir, "仮設住宅 回想法")
    assert data["fallback"] == "or"
    code, out = cli(index_dir, "search", "仮設住宅 回想法")
    assert code == 0 and "いずれか" in out


def test_search_without_hits(index_dir: Path) -> None:
    code, out = cli(index_dir, "search", "宇宙飛行士")
    assert code == 0 and "該当する事例はありません" in out
    assert search_json(index_dir, "宇宙飛行士")["hits"] == []


def test_search_names_the_word_a_cut_short_word_may_be(index_dir: Path) -> None:
    code, out = cli(index_dir, "search", "見守")
    assert code == 0 and "こちらの言い方でも探せます: 見守 → 見守り" in out
    suggested = search_json(index_dir, "見守 -認知症")["suggestions"]
    assert {"word": "見守", "instead": "見守り", "query": "見守り -認知症"} in suggested


@pytest.mark.parametrize("query", ["の", "！？", "", "を"])
def test_search_unusable_query_exits_2_with_one_line(index_dir: Path, query: str, capsys) -> None:
    code, out = cli(index_dir, "search", query)
    err = capsys.readouterr().err.strip()
    assert code == 2 and out == ""
    assert err.startswith("caresearch: エラー:") and "\n" not in err


def test_search_queries_from_stdin_print_json_lines_in_order(index_dir: Path) -> None:
    queries = ["認知症", "ケアマネ", "ざいたく", "住民 ボランティア"]
    code, out = cli(index_dir, "search", "-", stdin="\n".join(queries) + "\n")
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert [d["query"] for d in lines] == queries
    for d, q in zip(lines, queries, strict=True):
        assert d == search_json(index_dir, q)


def test_a_blank_stdin_line_is_answered_in_place_so_lines_stay_aligned(index_dir: Path) -> None:
    code, out = cli(index_dir, "search", "-", stdin="認知症\n\nケアマネ\n")
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 3 and code == 1
    assert lines[0]["query"] == "認知症" and "hits" in lines[0]
    assert lines[1] == {"query": "", "error": "検索語を入力してください。"}
    assert lines[2]["query"] == "ケアマネ" and "hits" in lines[2]


def test_stdin_line_with_a_bad_query_reports_it_in_place(index_dir: Path) -> None:
    code, out = cli(index_dir, "search", "-", stdin="認知症\nの\n連携\n")
    lines = [json.loads(line) for line in out.splitlines()]
    assert [d["query"] for d in lines] == ["認知症", "の", "連携"]
    assert "error" in lines[1] and lines[1]["error"]
    assert "hits" in lines[0] and "hits" in lines[2]
    assert code != 0


# --- show, lessons, similar ----------------------------------------------------------------------


def test_show_prints_the_case(index_dir: Path, bundled_engine: Engine) -> None:
    case = bundled_engine.case("nanto")
    code, out = cli(index_dir, "show", "nanto")
    assert code == 0
    assert case.title in out and case.municipality in out
    assert case.key_points[0].text in out


def test_show_says_figures_are_lost_only_of_a_case_whose_file_says_so(
    index_dir: Path, tmp_path: Path
) -> None:
    code, out = cli(index_dir, "show", "nanto")  # bundled: figures_missing: true
    assert code == 0 and FIGURES_NOTE in out
    code, out = run(["show", "alpha", "--corpus", str(TINY), "--index", str(tmp_path / "i")])
    assert code == 0 and "出典: " in out and "失われ" not in out  # figures_missing: false


def test_show_json(index_dir: Path, bundled_engine: Engine) -> None:
    code, out = cli(index_dir, "show", "nanto", "--json")
    assert code == 0
    data = json.loads(out)
    case = bundled_engine.case("nanto")
    assert data["case_id"] == "nanto" and data["title"] == case.title
    assert [les["id"] for les in data["lessons"]] == [les.id for les in case.lessons]


@pytest.mark.parametrize("extra", [[], ["--json"]])
def test_show_unknown_id_fails_with_a_clear_message(index_dir: Path, extra, capsys) -> None:
    code, out = cli(index_dir, "show", "no-such-case", *extra)
    err = capsys.readouterr().err
    assert code != 0 and out == ""
    assert "no-such-case" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("name", ["南砺市", "南砺", "富山県南砺市", "ＮＡＮＴＯ", "南砺　市"])
def test_show_and_similar_take_the_municipality_as_people_name_it(
    index_dir: Path, bundled_engine: Engine, name: str
) -> None:
    code, out = cli(index_dir, "show", name, "--json")
    assert code == 0 and json.loads(out)["case_id"] == "nanto"
    code, out = cli(index_dir, "similar", name)
    assert code == 0 and out.startswith("富山県 南砺市 に似た事例")


@pytest.mark.parametrize(
    ("name", "key"), [("浦安市", "浦安"), ("四日市", "四日"), ("大町", "大"), ("市", "市")]
)
def test_one_suffix_comes_off_a_municipality_name(name: str, key: str) -> None:
    from caresearch.engine import _without_suffix

    assert _without_suffix(name) == key


def test_an_unknown_name_lists_the_cases_one_may_name(index_dir: Path, capsys) -> None:
    code, _out = cli(index_dir, "show", "東京")
    err = capsys.readouterr().err
    assert code != 0 and err.startswith("caresearch: エラー: 事例が見つかりません: 東京")
    assert "南砺市 [nanto]" in err and "当別町 [tobetsu]" in err


def test_lessons_json(index_dir: Path) -> None:
    code, out = cli(index_dir, "lessons", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["total"] == len(data["lessons"]) == 56
    assert {les["kind"] for les in data["lessons"]} == {"key_point", "suggestion"}
    code, out = cli(index_dir, "lessons", "--json", "--theme", "災害・避難")
    filtered = json.loads(out)
    assert 0 < filtered["total"] < 56
    assert {les["case_id"] for les in filtered["lessons"]} == {"naraha"}


@pytest.mark.parametrize(
    "argv",
    [["lessons"], ["search", "認知症"], ["recommend", "認知症の人の見守り"], ["similar", "nanto"],
     ["show", "nanto"]],
)  # fmt: skip
def test_every_json_output_is_readable_japanese(index_dir: Path, argv: list[str]) -> None:
    code, out = cli(index_dir, *argv, "--json")
    assert code == 0 and "\\u" not in out and re.search("[ぁ-ん]", out)
    assert json.loads(out)


def test_lessons_say_so_when_none_fits(index_dir: Path) -> None:
    # a known theme that no lesson carries: a sentence that says why, not an empty screen
    code, out = cli(index_dir, "lessons", "--theme", "認知症")
    assert code == 0 and out.startswith("テーマ「認知症」の付いた教訓はありません")
    assert "キーワード検索のテーマで探せます" in out
    # a theme lessons carry, with a condition that leaves none: the general sentence
    code, out = cli(index_dir, "lessons", "--theme", "災害・避難", "--pref", "千葉県")
    assert code == 0 and out.strip() == "条件に合う教訓はありません。条件を変えてお試しください。"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["search", "認知症", "--page", "0"],
            "--page: ページ番号は1から1000までの整数で指定してください",
        ),
        (["search"], "次の引数が必要です: query"),
        (["lessons", "--kind", "foo"], "--kind に「foo」は指定できません"),
        (["search", "認知症", "--bogus"], "不明な引数です: --bogus"),
    ],
)
def test_command_line_mistakes_are_explained_in_japanese(capsys, argv, message) -> None:
    with pytest.raises(SystemExit) as exit_:
        run(argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_similar_json(index_dir: Path) -> None:
    code, out = cli(index_dir, "similar", "tsuruoka", "--json", "--limit", "3")
    assert code == 0
    data = json.loads(out)
    assert data["case_id"] == "tsuruoka"
    assert len(data["similar"]) == 3
    assert "tsuruoka" not in [s["case_id"] for s in data["similar"]]
    scores = [s["score"] for s in data["similar"]]
    assert scores == sorted(scores, reverse=True)
    for s in data["similar"]:
        assert {"case_id", "title", "score", "shared_themes", "shared_terms"} <= set(s)


def test_similar_says_why_without_a_raw_score(index_dir: Path) -> None:
    code, out = cli(index_dir, "similar", "tobetsu", "--limit", "2")
    assert code == 0 and "共通のテーマ: " in out
    assert not re.search(r"\d\.\d", out)  # never 0.26: a number that means nothing to a reader
    shown = re.findall(r"\[([a-z_0-9]+)\]", out)  # each with the id `show` takes
    assert shown and cli(index_dir, "show", shown[0])[0] == 0


def test_similar_unknown_id(index_dir: Path, capsys) -> None:
    code, _out = cli(index_dir, "similar", "nope", "--json")
    assert code != 0 and "nope" in capsys.readouterr().err


# --- validate ----------------------------------------------------------------------------------------


def test_validate_ok(tmp_path: Path) -> None:
    code, out = run(["validate", str(TINY)])
    assert code == 0 and "問題はありません" in out


def test_validate_broken_corpus_lists_file_and_field(tmp_path: Path, capsys) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(TINY, corpus)
    gamma = corpus / "cases" / "gamma.yaml"
    gamma.write_text(
        gamma.read_text(encoding="utf-8").replace("region: 九州・沖縄", "region: 火星"),
        encoding="utf-8",
    )
    (corpus / "cases" / "beta.yaml").write_text("id: beta\ntitle: [\n", encoding="utf-8")
    before = {p.name: p.read_bytes() for p in (corpus / "cases").iterdir()}
    for argv in (["validate", str(corpus)], ["validate", "--corpus", str(corpus)]):
        code, _out = run(argv)
        err = capsys.readouterr().err
        assert code != 0
        assert "cases/gamma.yaml: region:" in err
        assert "cases/beta.yaml" in err
        assert "Traceback" not in err
    assert {p.name: p.read_bytes() for p in (corpus / "cases").iterdir()} == before


def test_an_imported_draft_marked_reviewed_with_placeholders_is_refused(
    tiny_corpus: Path, tmp_path: Path, capsys
) -> None:
    """A town's document whose title and place the importer did not find: the draft holds the
    importer's own placeholders, and ticking reviewed: true does not let them into the index."""
    case = {c.id: c for c in load_corpus(CORPUS)}["nanto"]
    found = (case.title, f"{case.prefecture} {case.municipality}")
    doc = tmp_path / "jirei.txt"
    doc.write_text(
        "\n".join(x for x in doc_factory.case_lines(case) if x not in found), encoding="utf-8"
    )
    assert run(["import", str(doc), "--corpus", str(tiny_corpus)])[0] == 0
    draft = tiny_corpus / "cases" / "jirei_1.yaml"
    text = draft.read_text(encoding="utf-8")
    draft.write_text(re.sub(r"(?m)^reviewed: false$", "reviewed: true", text), encoding="utf-8")
    code, out = run(["validate", str(tiny_corpus)])
    err = capsys.readouterr().err
    assert code == 1 and "問題はありません" not in out
    for field, label in (
        ("prefecture", "都道府県"),
        ("municipality", "市区町村"),
        ("title", "タイトル"),
    ):
        assert f"cases/jirei_1.yaml: {field}: {label}が仮の値「（" in err
    code, out = run(
        ["search", "見守り", "--corpus", str(tiny_corpus), "--index", str(tmp_path / "i")]
    )
    assert code == 1 and "（" not in out and "cases/jirei_1.yaml: title:" in capsys.readouterr().err


def test_a_build_names_the_drafts_it_left_out(tiny_corpus: Path, tmp_path: Path) -> None:
    # a build said 「事例 3 件」 and nothing of the imported case still waiting for review
    case = {c.id: c for c in load_corpus(CORPUS)}["nanto"]
    doc = tmp_path / "jirei.txt"
    doc.write_text("\n".join(doc_factory.case_lines(case)), encoding="utf-8")
    assert run(["import", str(doc), "--corpus", str(tiny_corpus)])[0] == 0
    code, out = run(["build", "--corpus", str(tiny_corpus), "--index", str(tmp_path / "i")])
    assert code == 0 and "事例 3 件" in out
    assert "確認中の下書き 1 件（jirei_1）は索引に入れていません" in out and "reviewed: true" in out


# --- import ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """A .docx and a text file written from two bundled cases (tests/doc_factory.py)."""
    tmp = tmp_path_factory.mktemp("documents")
    cases = {c.id: c for c in load_corpus(CORPUS)}
    return [
        doc_factory.write_case(cases["tobetsu"], tmp / "tobetsu_jirei.docx", "docx"),
        doc_factory.write_case(cases["nanto"], tmp / "nanto_jirei.txt", "txt"),
    ]


def case_files(corpus: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (corpus / "cases").iterdir()}


def test_import_writes_drafts_into_the_corpus_and_prints_a_summary(
    tiny_corpus: Path, documents: list[Path]
) -> None:
    before = case_files(tiny_corpus)
    code, out = run(["import", *map(str, documents), "--corpus", str(tiny_corpus)])
    assert code == 0
    after = case_files(tiny_corpus)
    assert set(after) - set(before) == {"tobetsu_jirei_1.yaml", "nanto_jirei_1.yaml"}
    assert {name: after[name] for name in before} == before
    assert "tobetsu_jirei.docx（docx、1ページ）: 事例 1 件" in out
    assert "nanto_jirei.txt（text、2ページ）: 事例 1 件" in out  # the file ends in a form feed
    assert "北海道 当別町" in out and "富山県 南砺市" in out
    assert f"書き出し先: {tiny_corpus / 'cases' / 'tobetsu_jirei_1.yaml'}" in out
    assert "合計: 事例 2 件" in out


def test_import_never_reuses_a_case_id_of_the_corpus(
    tiny_corpus: Path, documents: list[Path], tmp_path: Path
) -> None:
    docx = str(documents[0])
    assert run(["import", docx, "--corpus", str(tiny_corpus)])[0] == 0
    before = case_files(tiny_corpus)
    assert "tobetsu_jirei_1.yaml" in before
    # --out elsewhere: the id taken in the corpus is not used again
    code, out = run(["import", docx, "--corpus", str(tiny_corpus), "--out", str(tmp_path / "d")])
    assert code == 0 and "tobetsu_jirei_2:" in out
    assert [p.name for p in (tmp_path / "d").iterdir()] == ["tobetsu_jirei_2.yaml"]
    # into the corpus again: a new file beside the first draft, which is left as it was
    assert run(["import", docx, "--corpus", str(tiny_corpus)])[0] == 0
    after = case_files(tiny_corpus)
    assert set(after) - set(before) == {"tobetsu_jirei_2.yaml"}
    assert {name: after[name] for name in before} == before


def test_recommend_says_when_a_case_shows_its_key_points_for_want_of_a_matching_passage(
    index_dir: Path,
) -> None:
    code, out = cli(index_dir, "recommend", "医者が往診してくれない")
    assert code == 0
    blocks = re.split(r"\n(?=\d+\. )", out)
    yokohama = next(b for b in blocks if "[yokohama]" in b)
    note = "この事例の本文には、課題の語を含む箇所がありません。この事例のポイントを示します。"
    assert note in yokohama
    assert all(note not in b for b in blocks if "[nanto]" in b or "[tsuruoka]" in b)
    # the JSON says it as the case's notice, for a page the API feeds
    code, out = cli(index_dir, "recommend", "医者が往診してくれない", "--json")
    notices = {c["case_id"]: c["notice"] for c in json.loads(out)["cases"]}
    assert notices["yokohama"] == note
    assert notices["nanto"] is None and notices["tsuruoka"] is None


def test_import_of_a_pdf_printed_from_a_browser_prints_nothing_in_english(
    tmp_path: Path, capsys, caplog: pytest.LogCaptureFixture
) -> None:
    # a PDF Chromium printed: pdfminer warned on stderr 「Could not get FontBBox from font
    # descriptor because None cannot be parsed as 4 floats」, once per font and page (pytest
    # takes log records from stderr, so they are looked for among its records too)
    caplog.set_level(logging.DEBUG)
    pdf = Path(__file__).parent / "data" / "chromium_printed.pdf"
    code, out = run(["import", str(pdf), "--out", str(tmp_path / "drafts")])
    assert code == 0 and "事例 1 件" in out
    assert capsys.readouterr().err == ""
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.txt", b"", "empty.txt: 空のファイルです"),
        ("old.doc", b"\xd0\xcf\x11\xe0", "old.doc: 古い形式のWord文書（.doc）です"),
    ],
)
def test_import_of_a_bad_file_exits_2_with_one_line_and_writes_nothing(
    tiny_corpus: Path,
    documents: list[Path],
    tmp_path: Path,
    capsys,
    name: str,
    data: bytes,
    message: str,
) -> None:
    bad = tmp_path / name
    bad.write_bytes(data)
    before = case_files(tiny_corpus)
    code, out = run(["import", *map(str, documents), str(bad), "--corpus", str(tiny_corpus)])
    err = capsys.readouterr().err
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1
    assert err.startswith(f"caresearch: エラー: {message}") and "してください" in err
    assert case_files(tiny_corpus) == before


# --- where the corpus and index come from ----------------------------------------------------------


def test_env_vars_choose_corpus_and_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    index = tmp_path / "env-index"
    monkeypatch.setenv("CARESEARCH_CORPUS", str(TINY))
    monkeypatch.setenv("CARESEARCH_INDEX", str(index))
    code, out = run(["search", "ケアマネ", "--json"])
    assert code == 0
    assert {h["case_id"] for h in json.loads(out)["hits"]} == {"alpha", "beta"}
    assert (index / "CURRENT").is_file()


def test_flags_override_env_vars(
    tmp_path: Path, index_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CARESEARCH_CORPUS", str(TINY))
    monkeypatch.setenv("CARESEARCH_INDEX", str(tmp_path / "unused"))
    data = search_json(index_dir, "認知症")
    assert data["total"] >= 1 and not {"alpha", "beta", "gamma"} & {
        h["case_id"] for h in data["hits"]
    }
    assert not (tmp_path / "unused").exists()


def test_search_builds_a_missing_index_first(tmp_path: Path, capsys) -> None:
    index = tmp_path / "index"
    code, out = run(["search", "ケアマネ", "--corpus", str(TINY), "--index", str(index)])
    assert code == 0 and "alpha" in out
    assert (index / "CURRENT").is_file()
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "索引を作成しています…"  # in Japanese only, as every other message
    assert err[1].startswith("索引を作成しました（事例 3 件")


# --- as a process: exit codes and no tracebacks ------------------------------------------------------


def _proc(*argv: str | bytes, index: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    return subprocess.run(
        [str(EXE), *argv, "--corpus", str(CORPUS), "--index", str(index)],
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_process_exit_codes(index_dir: Path) -> None:
    ok = _proc("search", "認知症", "--json", index=index_dir)
    assert ok.returncode == 0, ok.stderr.decode()
    assert json.loads(ok.stdout)["total"] >= 1
    bad = _proc("search", "の", index=index_dir)
    assert bad.returncode == 2 and b"Traceback" not in bad.stderr
    missing = _proc("show", "no-such-case", index=index_dir)
    assert missing.returncode == 1 and b"Traceback" not in missing.stderr
    assert "no-such-case" in missing.stderr.decode()


def test_serve_on_a_port_in_use_says_so_in_one_line_and_exits_2(index_dir: Path) -> None:
    with socket.socket() as taken:  # another server already listening there
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _proc("serve", "--port", str(port), index=index_dir)
    err = result.stderr.decode()
    assert result.returncode == 2 and result.stdout == b""
    assert "待ち受けています" not in err and "Traceback" not in err and "Errno" not in err
    assert err.splitlines() == [
        f"caresearch: エラー: ポート {port} は、ほかのプログラム（すでに起動している caresearch "
        f"serve など）が使っています。--port で別のポートを指定する（例: --port {port + 1}）か、"
        "そのプログラムを止めてから起動し直してください。"
    ]


@pytest.mark.parametrize(
    ("host", "said"),
    [
        ("127.0.0.1", "http://127.0.0.1:8000/"),
        # an administrator's trial: 0.0.0.0 was printed as the address to open, which no
        # browser opens, and :: as http://:::8000/
        (
            "0.0.0.0",
            "http://127.0.0.1:8000/（このPC。庁内の他の端末からは http://このPCのIPアドレス:8000/）",
        ),
        # waitress listens on :: for IPv6 only: 127.0.0.1 would be refused there
        (
            "::",
            "http://[::1]:8000/（このPC。庁内の他の端末からは http://このPCのIPアドレス:8000/）",
        ),
        ("::1", "http://[::1]:8000/"),
        ("[::1]", "http://[::1]:8000/"),
    ],
)
def test_serve_names_an_address_a_browser_opens(host: str, said: str) -> None:
    from caresearch.web import listening_at

    assert listening_at(host, 8000) == said


def test_process_undecodable_query_is_a_usage_error(index_dir: Path) -> None:
    result = _proc("search", b"\xff\xfe", index=index_dir)
    assert result.returncode == 2
    assert b"Traceback" not in result.stderr


def test_search_takes_several_words_and_a_leading_minus_without_dashes(index_dir: Path) -> None:
    data = search_json(index_dir, "認知症", "-就労")
    assert data["query"] == "認知症 -就労"
    assert data["excluded"] == ["就労"]
    assert (
        "「就労」（同じ意味の語を含む）を含む事例は除いています" in data["notice"]
    )  # and the page
    # when nothing is left, the notice is what says why
    nothing = search_json(index_dir, "認知症", "-介護")
    assert nothing["total"] == 0 and "「介護」" in nothing["notice"]
    # in exact mode only the word as typed is excluded, and the notice says no more
    exact = search_json(index_dir, "認知症", "-ケアマネ", "--exact")
    assert "「ケアマネ」を含む事例は除いています" in exact["notice"]
    without = {h["case_id"] for h in search_json(index_dir, "認知症")["hits"]}
    work = {h["case_id"] for h in search_json(index_dir, "就労")["hits"]}
    assert {h["case_id"] for h in data["hits"]} == without - work


def test_search_text_output_says_which_part_of_the_results_it_shows(index_dir: Path) -> None:
    total = search_json(index_dir, "地域")["total"]
    assert total > 2
    out = cli(index_dir, "search", "地域", "--limit", "2")[1]
    assert f"1～2件目を表示（全{total}件。次: --page 2 --limit 2）" in out  # cp932 has no –
    whole = cli(index_dir, "search", "地域", "--limit", str(total))[1]
    assert "件目を表示" not in whole  # everything fits on one page


def test_search_page_past_the_end_says_so(index_dir: Path) -> None:
    code, out = cli(index_dir, "search", "認知症", "--page", "50")
    assert code == 0
    assert "このページに結果はありません（全 " in out and "該当する事例はありません" not in out


def test_search_lists_the_expansions_and_the_relaxed_compound(index_dir: Path) -> None:
    code, out = cli(index_dir, "search", "ケアマネ")
    assert (
        code == 0 and "次の語も含めて検索しました：ケアマネ → " in out and "介護支援専門員" in out
    )
    code, out = cli(index_dir, "search", "協議体")
    assert "「協議体」を含む事例はありません。語の一部（協議）を含む事例を表示しています。" in out
    data = search_json(index_dir, "協議体")
    assert data["fallback"] == "parts" and data["relaxed"] == [
        {"word": "協議体", "parts": ["協議"]}
    ]
    exact = search_json(index_dir, "ケアマネ", "--exact")
    assert exact["exact"] is True and exact["expansions"] == []


def test_an_unknown_theme_is_the_same_error_as_in_lessons(index_dir: Path, capsys) -> None:
    assert cli(index_dir, "search", "認知症", "--theme", "xyz")[0] == 2
    search_err = capsys.readouterr().err
    assert cli(index_dir, "lessons", "--theme", "xyz")[0] == 2
    assert capsys.readouterr().err == search_err


@pytest.mark.parametrize(
    "command",
    ["build", "search", "recommend", "similar", "show", "lessons", "validate", "import", "serve"],
)
def test_the_help_is_in_japanese(command: str, capsys) -> None:
    # the users read Japanese: each command and option says what it does in Japanese
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = capsys.readouterr().out
    assert "事例" in text and "--corpus" in text and "事例フォルダ" in text
    assert (
        text.startswith("使い方: ") and "オプション:" in text and "この説明を表示して終わる" in text
    )
    assert text.count("オプション:") == 1  # the shared options are not a second group
    assert text.split("オプション:\n", 1)[1].startswith("  -h, --help")  # first, as usual
    # the help's columns line up on screen: an option's text starts where the others' do (a
    # kanji is two columns wide, argparse counts it as one)
    starts = {
        sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in m.group(1))
        for line in text.splitlines()
        if (m := re.match(r"(  -\S.*?  +)\S", line))
    }
    assert len(starts) == 1, starts
    for english in ("corpus directory", "print JSON", "keyword search", "build the index",
                    "cases per page", "in your own words", "draft case files", "request threads",
                    "filter:", "e.g.", "usage:", "options:", "show this help"):  # fmt: skip
        assert english not in text, (command, english)
