"""The bundled corpus (content) and the loader/validator (behaviour)."""

from __future__ import annotations

import re
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

import caresearch.corpus as corpus_module
from caresearch.corpus import Problem, load_corpus, load_themes, validate_corpus
from caresearch.errors import CorpusError
from caresearch.models import Case

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
DATA = Path(__file__).parent / "data"
TINY = DATA / "tiny_corpus"
EXPECTED = yaml.safe_load((DATA / "expected_lessons.yaml").read_text(encoding="utf-8"))

CASE_IDS = ["tobetsu", "tsuruoka", "naraha", "urayasu", "yokohama", "nanto"]
KP_REGION = {"tobetsu": 3, "tsuruoka": 4, "naraha": 3, "urayasu": 3, "yokohama": 2, "nanto": 3}
KP_MUNICIPALITY = {
    "tobetsu": 2,
    "tsuruoka": 3,
    "naraha": 3,
    "urayasu": 5,
    "yokohama": 3,
    "nanto": 3,
}
SUGGESTIONS = {"tobetsu": 3, "tsuruoka": 3, "naraha": 3, "urayasu": 4, "yokohama": 3, "nanto": 3}
# The one sentence the seed really prints twice: the same subsidy opened a support centre in
# both evacuation sites (楢葉町's timeline, L2207 and L2217). It stays in both events.
LEGIT_REPEATS = {
    "同時に福島県の地域支え合い体制づくり助成事業補助金を受けて、仮設住宅内にサポートセンターを開設"
}

PAGE_HEADER = re.compile(r"第\s*[3３]章[\s\u3000]*地域包括ケアシステムの取組事例")


@pytest.fixture(scope="module")
def cases() -> tuple[Case, ...]:
    return load_corpus(CORPUS)


@pytest.fixture(scope="module")
def by_id(cases: tuple[Case, ...]) -> dict[str, Case]:
    return {c.id: c for c in cases}


def text_fields(case: Case) -> Iterator[tuple[str, str]]:
    """Every displayed text of a case, with a label (diagram_text excluded: never shown)."""
    yield "title", case.title
    for k in case.keywords:
        yield "keywords", k
    for b in case.implementing_bodies:
        yield "implementing_bodies", b
    for p in case.passages():
        yield p.id, p.text
        if p.heading:
            yield p.id + ".heading", p.heading
    for sec in case.contents:
        if sec.subheading:
            yield sec.id + ".subheading", sec.subheading
    if case.contact:
        yield "contact", case.contact


def pieces(case: Case) -> Iterator[tuple[str, str]]:
    """The smallest text units: items, paragraphs, and timeline entries (one per line)."""
    for label, text in text_fields(case):
        for line in text.split("\n"):
            yield label, line


# ---------------------------------------------------------------- content


def test_six_cases_in_order(cases: tuple[Case, ...]) -> None:
    assert [c.id for c in cases] == CASE_IDS
    assert [c.order for c in cases] == [1, 2, 3, 4, 5, 6]
    assert [c.name for c in cases] == [
        "北海道 当別町",
        "山形県 鶴岡市",
        "福島県 楢葉町",
        "千葉県 浦安市",
        "神奈川県 横浜市",
        "富山県 南砺市",
    ]
    assert [c.region for c in cases] == ["北海道", "東北", "東北", "関東", "関東", "中部"]
    assert [c.municipality_type for c in cases] == ["町", "市", "町", "市", "政令指定都市", "市"]


def test_lesson_counts(by_id: dict[str, Case]) -> None:
    for cid in CASE_IDS:
        case = by_id[cid]
        assert sum(k.audience == "region" for k in case.key_points) == KP_REGION[cid], cid
        assert sum(k.audience == "municipality" for k in case.key_points) == KP_MUNICIPALITY[cid], (
            cid
        )
        assert len(case.suggestions) == SUGGESTIONS[cid], cid
    assert sum(len(c.key_points) for c in by_id.values()) == 37
    assert sum(len(c.suggestions) for c in by_id.values()) == 19


def test_all_56_lessons_verbatim_exactly_once_under_the_right_case(cases: tuple[Case, ...]) -> None:
    expected = {
        les["id"]: (cid, les["text"]) for cid, d in EXPECTED.items() for les in d["lessons"]
    }
    assert len(expected) == 56
    got = [(les.id, les.case_id, les.text) for c in cases for les in c.lessons]
    assert len(got) == 56
    assert Counter(i for i, _c, _t in got) == Counter(expected.keys())  # each id once
    for lid, cid, text in got:
        assert (cid, text) == expected[lid], lid
    texts = Counter(t for _i, _c, t in got)
    assert max(texts.values()) == 1
    # And no lesson text shows up anywhere else in the corpus (e.g. as a repeat in another case).
    for case in cases:
        for label, text in pieces(case):
            if not re.search(r"-(kp-[rm]|sg-)\d+$", label):
                assert text not in texts, (case.id, label)


def test_lesson_ids_kinds_and_order(cases: tuple[Case, ...]) -> None:
    for case in cases:
        for prefix, lessons in (
            ("kp-r", [k for k in case.key_points if k.audience == "region"]),
            ("kp-m", [k for k in case.key_points if k.audience == "municipality"]),
            ("sg-", list(case.suggestions)),
        ):
            assert [les.id for les in lessons] == [
                f"{case.id}-{prefix}{n}" for n in range(1, len(lessons) + 1)
            ]
            assert [les.order for les in lessons] == list(range(1, len(lessons) + 1))
        assert {k.kind for k in case.key_points} == {"key_point"}
        assert {(s.kind, s.audience) for s in case.suggestions} == {("suggestion", "starter")}


def test_every_suggestion_ends_with_mashou(cases: tuple[Case, ...]) -> None:
    for case in cases:
        for s in case.suggestions:
            assert s.text.endswith("ましょう"), s.id


def test_features_changes_recommendations_match_the_seed(by_id: dict[str, Case]) -> None:
    for cid, d in EXPECTED.items():
        case = by_id[cid]
        restored = {r.target: r.restored for r in case.restorations}
        features = []
        for f in case.features:
            # An editorial restoration (ICT in 鶴岡市) is the only allowed change.
            features.append(f.text.replace(restored[f.id], "", 1) if f.id in restored else f.text)
        assert features == [f["text"] for f in d["features"]], cid
        assert [c.text for c in case.changes] == [c["text"] for c in d["changes"]], cid
        assert case.recommendation == d["recommendation"][0]["text"], cid
    assert sum(len(c.features) for c in by_id.values()) == 13
    assert sum(len(c.changes) for c in by_id.values()) == 16


def test_no_page_furniture_or_private_use_characters(cases: tuple[Case, ...]) -> None:
    for case in cases:
        everything = list(text_fields(case)) + [("diagram_text", t) for t in case.diagram_text]
        for label, text in everything:
            assert not re.search("[\ue000-\uf8ff]", text), (case.id, label)
            assert not PAGE_HEADER.search(text), (case.id, label)
            assert "≪" not in text and "≫" not in text, (case.id, label)
            assert not re.search("[\uff61-\uff9f]", text), (case.id, label)  # half-width kana
            for line in text.split("\n"):
                assert not re.fullmatch(r"\s*\d{1,3}\s*", line), (case.id, label)
                assert line == line.strip() and line, (case.id, label)


def test_no_text_repeated_within_the_corpus(cases: tuple[Case, ...]) -> None:
    seen: Counter[str] = Counter(t for c in cases for _label, t in pieces(c) if len(t) >= 10)
    repeated = {t for t, n in seen.items() if n > 1}
    # Short generic strings (headings such as 地域包括支援センター) are not text units.
    assert repeated <= LEGIT_REPEATS
    naraha = [t for label, t in pieces_of("naraha", cases) if label.startswith("naraha-ev-")]
    assert naraha.count(next(iter(LEGIT_REPEATS))) == 2


def pieces_of(cid: str, cases: tuple[Case, ...]) -> list[tuple[str, str]]:
    return [p for c in cases if c.id == cid for p in pieces(c)]


def test_no_foreign_text_from_interleaved_pages(cases: tuple[Case, ...]) -> None:
    """Pages of one case repeated inside the next (浦安→横浜, 横浜→南砺) stay with their owner."""
    owner = {t: c.id for c in cases for _l, t in pieces(c) if len(t) >= 20}
    for case in cases:
        blob = "\n".join(t for _l, t in text_fields(case))
        for text, cid in owner.items():
            if cid != case.id:
                assert text not in blob, (case.id, cid, text[:30])
    assert_only_in(cases, "協働提案事業や助成金制度など", "urayasu")
    assert_only_in(cases, "事業者連絡会は、あくまでも参加している民間事業者", "yokohama")
    assert_only_in(cases, "主役は住民、専門職はサポーター", None)  # the intro column is not a case


def assert_only_in(cases: tuple[Case, ...], needle: str, cid: str | None) -> None:
    where = {c.id for c in cases for _l, t in text_fields(c) if needle in t}
    assert where == ({cid} if cid else set()), needle


def test_privacy_edit_holds(by_id: dict[str, Case]) -> None:
    for case in by_id.values():
        for _label, text in text_fields(case):
            assert "藤木" not in text
    titles = [s.title for s in by_id["urayasu"].stories]
    assert "「介護ボランティアをつくる」卒業生 Ｆさん（キラキラ応援隊 代表）" in titles
    # A professional named in an official role keeps the name.
    assert any("岩室紳也氏" in p for s in by_id["urayasu"].contents for p in s.paragraphs)


def test_restorations_are_recorded_and_gaps_stay_honest(by_id: dict[str, Case]) -> None:
    ts = by_id["tsuruoka"]
    assert ts.keywords == (
        "医療・介護連携",
        "在宅医療連携拠点",
        "医師会と介護支援専門員等との多職種連携",
    )
    assert ts.editorial_keywords == ("ICT", "Net4U")
    assert "ICT" in ts.title
    assert {r.target for r in ts.restorations} >= {"title", "tsuruoka-feat-1", "keywords"}
    assert by_id["tobetsu"].keywords == ("就労の場の確保", "共生", "学生", "ボランティア")
    # Dropped digits are never invented.
    assert any("平成 年" in e.period_label for e in by_id["tobetsu"].history)
    for case in by_id.values():
        assert case.figures_missing
        assert any("図" in n for n in case.quality_notes)
        assert case.source is not None and case.source.sha256
        for r in case.restorations:
            assert r.note


def test_themes_are_the_controlled_vocabulary(cases: tuple[Case, ...]) -> None:
    labels = load_themes(CORPUS)
    assert 15 <= len(labels) <= 18
    assert len(set(labels)) == len(labels)
    used = {t for c in cases for t in c.themes}
    assert used <= set(labels)
    assert {"医療・介護連携", "介護予防", "認知症", "災害・避難", "ICT・情報共有"} <= used
    for case in cases:
        assert len(case.themes) >= 3, case.id
    by = {c.id: set(c.themes) for c in cases}
    assert "災害・避難" in by["naraha"] and "災害・避難" not in by["tobetsu"]
    assert {"医療・介護連携", "在宅医療", "ICT・情報共有"} <= by["tsuruoka"]
    assert "事業者連携" in by["yokohama"]


def test_every_lesson_has_its_own_themes(cases: tuple[Case, ...]) -> None:
    """Themes belong to lessons (tools/corpus_overrides.yaml lesson_themes): each lesson has
    one to four, from the vocabulary, chosen by what the lesson itself is about."""
    labels = set(load_themes(CORPUS))
    lessons = {les.id: les for c in cases for les in c.lessons}
    assert len(lessons) == 56
    for lesson in lessons.values():
        assert 1 <= len(lesson.themes) <= 4 and set(lesson.themes) <= labels, lesson.id
    assert not any("認知症" in les.themes for les in lessons.values())  # none is about it
    assert "医療・介護連携" in lessons["tsuruoka-kp-r2"].themes
    assert lessons["nanto-kp-r1"].themes == ("大学連携", "人材育成")  # 医師不足 is not dementia


def test_suggestions_label(by_id: dict[str, Case]) -> None:
    assert by_id["yokohama"].suggestions_label == "まず取り組むべき事項"
    assert by_id["tobetsu"].suggestions_label == "これから取り組む皆さまへ～まず始めてみるために"


def test_loaded_cases_keep_every_text_of_the_yaml(cases: tuple[Case, ...]) -> None:
    """Loading loses nothing: each passage is the YAML's item, in the file's order (a story
    begins with its subject line)."""
    for case in cases:
        d = yaml.safe_load((CORPUS / "cases" / f"{case.id}.yaml").read_text(encoding="utf-8"))
        expected = [(x["id"], x["text"]) for x in d["features"] + d["background"]]
        expected += [(f"{case.id}-rec", d["recommendation"])] if d.get("recommendation") else []
        expected += [(f"{case.id}-summary", d["summary"])] if d.get("summary") else []
        for s in d["contents"]:
            expected.append((s["id"], "\n".join(s["paragraphs"])))
            expected += [(f"{s['id']}-budget", s["budget"])] if s.get("budget") else []
        expected += [(e["id"], e["text"]) for e in d["history"]]
        expected += [(x["id"], x["text"]) for x in d["outcomes"]["changes"]]
        expected += [
            (s["id"], "\n".join(([s["subject"]] if s.get("subject") else []) + s["paragraphs"]))
            for s in d["outcomes"]["stories"]
        ]
        kp = d["key_points"]
        expected += [(x["id"], x["text"]) for x in kp["region"] + kp["municipality"]]
        expected += [(x["id"], x["text"]) for x in d["suggestions"]]
        assert [(p.id, p.text) for p in case.passages()] == expected
        assert (case.title, list(case.keywords), list(case.themes)) == (
            d["title"],
            d["keywords"],
            d["themes"],
        )
        assert [(r.target, r.restored) for r in case.restorations] == [
            (r["target"], r["restored"]) for r in d["restorations"]
        ]
        assert list(case.diagram_text) == d["diagram_text"]


def test_template_is_not_loaded_and_a_copy_left_unfilled_is_refused(tmp_path: Path) -> None:
    assert not (CORPUS / "cases" / "TEMPLATE.yaml").exists()
    corpus = tmp_path / "corpus"
    (corpus / "cases").mkdir(parents=True)
    shutil.copy(CORPUS / "themes.yaml", corpus / "themes.yaml")
    shutil.copy(CORPUS / "TEMPLATE.yaml", corpus / "cases" / "example.yaml")
    problems = validate_corpus(corpus)
    # its structure is valid: what is wrong is only the 「（…）」 it says to replace
    assert problems and all("仮の値「（" in p.message for p in problems), problems
    fields = [p.field for p in problems]
    for field in ("municipality", "title", "keywords[0]", "overview.total_population"):
        assert field in fields  # the names the importer fills so, and every 「（例）…」
    assert "contents[0].heading" not in fields  # a heading may be 「（参考）」: not judged by form
    assert fields.index("municipality") < fields.index("title") < fields.index("keywords[0]")
    with pytest.raises(CorpusError):
        load_corpus(corpus)


# ---------------------------------------------------------------- tiny corpus


def test_tiny_corpus_is_valid_and_awkward() -> None:
    assert validate_corpus(TINY) == []
    cases = load_corpus(TINY)
    assert [c.id for c in cases] == ["alpha", "beta", "gamma"]
    blob = "\n".join(t for c in cases for _l, t in text_fields(c))
    for needle in (
        "ｹｱﾏﾈ",
        "ﾃﾞｲｻｰﾋﾞｽ",
        "みまもり",
        "ざいたく",
        "介護支援専門員（ケアマネ）",
        "ＩＣＴ",
    ):
        assert needle in blob, needle
    assert "<script>alert(1)</script>" in cases[2].title
    for case in cases:
        assert 1 <= len(case.features) <= 2 and case.contents and case.changes
        assert len(case.key_points) == 2 and len(case.suggestions) == 2


# ---------------------------------------------------------------- validator


VALID_CASE = """\
id: {id}
order: 1
prefecture: 架空県
municipality: てすと町
region: 東北
title: テスト事例
keywords: [見守り]
themes: [生活支援]
features:
  - id: {id}-feat-1
    text: 特徴
key_points:
  region:
    - id: {id}-kp-r1
      text: 地域のポイント
  municipality:
    - id: {id}-kp-m1
      text: 自治体のポイント
suggestions:
  - id: {id}-sg-1
    text: 始めてみましょう
"""


def make_corpus(root: Path, files: dict[str, str]) -> Path:
    (root / "cases").mkdir(parents=True)
    (root / "themes.yaml").write_text(
        "- {label: 生活支援, description: d}\n- {label: 認知症, description: d}\n", encoding="utf-8"
    )
    for name, text in files.items():
        (root / "cases" / name).write_text(text, encoding="utf-8")
    return root


def test_valid_small_corpus(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path, {"one.yaml": VALID_CASE.format(id="one")})
    assert validate_corpus(corpus) == []
    (case,) = load_corpus(corpus)
    assert case.lessons[0].case_id == "one" and case.lessons[0].audience == "region"


@pytest.mark.parametrize("processes", [False, True], ids=["one process", "several processes"])
def test_validator_reports_every_problem_and_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, processes: bool
) -> None:
    if processes:  # a large corpus is read and checked in several processes: same report
        monkeypatch.setattr(corpus_module, "PARALLEL_MIN_FILES", 1)
    ok = VALID_CASE.format(id="good")
    files = {
        "good.yaml": ok,
        # missing field
        "nofield.yaml": VALID_CASE.format(id="nofield").replace("title: テスト事例\n", ""),
        # wrong type
        "wrongtype.yaml": VALID_CASE.format(id="wrongtype").replace("order: 1", "order: first"),
        # duplicate case id (file name also disagrees with the id)
        "copy.yaml": ok,
        # duplicate lesson id within the corpus
        "duplesson.yaml": VALID_CASE.format(id="duplesson").replace(
            "duplesson-kp-m1", "duplesson-kp-r1"
        ),
        # unknown theme
        "theme.yaml": VALID_CASE.format(id="theme").replace(
            "themes: [生活支援]", "themes: [生活支援, 介護]"
        ),
        # empty lesson
        "empty.yaml": VALID_CASE.format(id="empty").replace("始めてみましょう", '""'),
        # unreadable YAML
        "broken.yaml": "id: broken\ntitle: [unclosed\n",
        # unknown field (a typo)
        "typo.yaml": VALID_CASE.format(id="typo").replace("keywords:", "keyword:"),
    }
    corpus = make_corpus(tmp_path / "c", files)
    before = {
        p: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(corpus.rglob("*")) if p.is_file()
    }

    problems = validate_corpus(corpus)
    got = {str(p) for p in problems}

    expected = {
        "cases/nofield.yaml: title: 必須の項目がありません",
        "cases/wrongtype.yaml: order: 整数を書きます（書かれているのは文字列）",
        "cases/copy.yaml: id: ファイル名は id と同じにします: cases/good.yaml",
        "cases/good.yaml: id: 事例の id good が重複しています（cases/copy.yaml にもあります）",
        "cases/duplesson.yaml: key_points.municipality[0].id: "
        "id duplesson-kp-r1 は duplesson-kp-m<番号> の形にします",
        "cases/duplesson.yaml: key_points.municipality[0].id: "
        "id duplesson-kp-r1 が重複しています（cases/duplesson.yaml: key_points.region[0].id にもあります）",
        "cases/theme.yaml: themes[1]: テーマ「介護」は themes.yaml にありません",
        "cases/empty.yaml: suggestions[0].text: 文が空です",
        "cases/typo.yaml: keywords: 必須の項目がありません",
        "cases/typo.yaml: keyword: 知らない項目です（keywords の書き間違いではありませんか）",
    }
    assert expected <= got, sorted(got - expected)
    broken = [p for p in problems if p.file == "cases/broken.yaml"]
    assert len(broken) == 1 and broken[0].field == ""
    assert re.fullmatch(r"YAML の書き方に誤りがあります（3 行 1 文字目）: .+", broken[0].message), (
        broken[0].message
    )
    # Copies of the same lessons in copy.yaml and good.yaml collide too.
    assert any(
        p.file == "cases/good.yaml" and "id good-feat-1 が重複しています" in p.message
        for p in problems
    )
    # Every broken file is reported (nothing stops at the first error).
    assert {p.file for p in problems} >= {f"cases/{n}" for n in files if n != "good.yaml"}

    after = {
        p: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(corpus.rglob("*")) if p.is_file()
    }
    assert after == before

    with pytest.raises(CorpusError) as exc:
        load_corpus(corpus)
    assert exc.value.problems == problems


def test_a_case_id_changed_alone_is_one_problem_not_one_per_item(tmp_path: Path) -> None:
    bundled = Path(__file__).resolve().parents[1] / "corpus"
    text = (bundled / "cases" / "tobetsu.yaml").read_text(encoding="utf-8")
    corpus = make_corpus(
        tmp_path, {"tobetsu2.yaml": text.replace("id: tobetsu\n", "id: tobetsu2\n", 1)}
    )
    # (this corpus's themes file knows two themes: the others are problems of their own)
    (problem,) = [p for p in validate_corpus(corpus) if p.field.endswith("id")]
    assert problem.field == "id" and "「tobetsu-」で始まっています" in problem.message
    assert "「tobetsu2-」で始めます" in problem.message


def test_a_corpus_read_in_several_processes_is_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    bundled = Path(__file__).resolve().parents[1] / "corpus"
    one = load_corpus(bundled)
    monkeypatch.setattr(corpus_module, "PARALLEL_MIN_FILES", 1)
    assert load_corpus(bundled) == one


def test_problem_str() -> None:
    assert str(Problem("cases/foo.yaml", "key_points.region[0].text", "文が空です")) == (
        "cases/foo.yaml: key_points.region[0].text: 文が空です"
    )
    assert (
        str(Problem("cases", "", "cases フォルダがありません"))
        == "cases: cases フォルダがありません"
    )


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            ("region: 東北", "region: 東北地方"),
            "region: '東北地方' ではなく、次のどれかにします: 北海道、東北、関東",
        ),
        (
            ("prefecture: 架空県", "prefecture: 架空"),
            "prefecture: 都・道・府・県で終わる都道府県名を書きます（書かれているのは '架空'）",
        ),
        (("title: テスト事例", "title: '  '"), "title: 空です"),
        (("region: 東北", "region:"), "region: 空欄 ではなく、次のどれかにします: 北海道、東北"),
        (
            ("order: 1", "order: 1\n\u3000title_note: x"),
            "\u3000title_note: 知らない項目です（全角スペースで字下げされています。",
        ),
        (
            ("keywords: [見守り]", "keywords: [見守り]\n\tx: 1"),
            "YAML の書き方に誤りがあります（8 行 1 文字目）: ここには書けない文字があります（タブ文字",
        ),
        (
            ("title: テスト事例", "title: テスト事例: 副題"),
            "「:」の使い方が正しくありません（「- 」のあとの半角スペースが抜けていないか",
        ),
        (
            ("title: テスト事例", "title: 2014-04-01"),
            "title: 文字列を書きます（書かれているのは日付。文字列にするなら引用符で囲みます）",
        ),
        (("themes: [生活支援]", "themes: []"), "themes: 1 個以上書きます"),
        (
            ("  - id: x-feat-1\n    text: 特徴\n", "  - id: x-feat-1\n"),
            "features[0].text: 必須の項目がありません",
        ),
        (
            ("id: x-feat-1", "id: x-feature-1"),
            "features[0].id: id x-feature-1 は x-feat-<番号> の形にします",
        ),
        (
            ("keywords: [見守り]", "keywords: 見守り"),
            "keywords: リスト（- で始まる行）を書きます（書かれているのは文字列）",
        ),
        (
            ("keywords: [見守り]", "keywords: [見守り]\nkeywords: [重複]"),
            "YAML の書き方に誤りがあります（8 行 1 文字目）: 同じ項目 'keywords' が2回書かれています",
        ),
        (
            ("order: 1", "order: 1\nthemes_typo: []"),
            "themes_typo: 知らない項目です（themes の書き間違いではありませんか）",
        ),
        (
            ("    text: 始めてみましょう", "    text: 始めてみましょう\n    themes: [介護]"),
            "suggestions[0].themes[0]: テーマ「介護」は themes.yaml にありません",
        ),
        (
            (
                "    text: 始めてみましょう",
                "    text: 始めてみましょう\n    themes: [生活支援, 生活支援]",
            ),
            "suggestions[0].themes: 同じもの（生活支援）が2回以上書かれています",
        ),
    ],
)
def test_validator_messages(tmp_path: Path, edit: tuple[str, str], expected: str) -> None:
    text = VALID_CASE.format(id="x")
    assert edit[0] in text
    corpus = make_corpus(tmp_path, {"x.yaml": text.replace(edit[0], edit[1])})
    got = [str(p) for p in validate_corpus(corpus)]
    assert any(expected in g for g in got), got


def test_structural_problems(tmp_path: Path) -> None:
    assert [str(p) for p in validate_corpus(tmp_path)] == [
        "themes.yaml: テーマの一覧（使えるテーマの名前）のファイルがありません",
        "cases: cases フォルダ（事例ごとに <id>.yaml）がありません",
    ]
    corpus = make_corpus(tmp_path / "c", {"list.yaml": "- a\n- b\n", "empty.yaml": ""})
    (corpus / "cases" / "old.yml").write_text(VALID_CASE.format(id="old"), encoding="utf-8")
    got = [str(p) for p in validate_corpus(corpus)]
    assert "cases/list.yaml: 事例の項目（項目: 値 の組）を書きます（書かれているのはリスト）" in got
    assert (
        "cases/empty.yaml: 事例の項目（項目: 値 の組）を書きます（書かれているのは空のファイル）"
        in got
    )
    assert "cases/old.yml: 事例ファイルの拡張子は .yaml にします" in got
    (corpus / "themes.yaml").write_text(
        "- {label: 生活支援}\n- {label: 生活支援}\n- {lable: x}\n", encoding="utf-8"
    )
    got = [str(p) for p in validate_corpus(corpus)]
    assert "themes.yaml: [1].label: テーマ「生活支援」が2回あります" in got
    assert "themes.yaml: [2].lable: 知らない項目です" in got
    with pytest.raises(CorpusError):
        load_themes(corpus)


# What `caresearch import` writes where it found no prefecture, municipality, title or keyword.
IMPORTED_PLACEHOLDERS = (
    ("prefecture: 架空県", "prefecture: （都道府県）県"),
    ("municipality: てすと町", "municipality: （市区町村）市"),
    ("title: テスト事例", "title: （タイトル）"),
    ("keywords: [見守り]", "keywords: [見守り, （キーワード）]"),
)


def with_placeholders(text: str, head: str) -> str:
    for old, new in IMPORTED_PLACEHOLDERS:
        text = text.replace(old, new)
    return head + text


def test_a_reviewed_case_still_holding_placeholders_is_reported_field_by_field(
    tmp_path: Path,
) -> None:
    text = with_placeholders(VALID_CASE.format(id="x"), "reviewed: true\nreview: [確かめた]\n")
    corpus = make_corpus(tmp_path, {"x.yaml": text})
    got = [str(p) for p in validate_corpus(corpus)]
    assert got == [
        "cases/x.yaml: prefecture: 都道府県が仮の値「（都道府県）県」のままです。"
        "「（…）」の部分は実際の内容に書き換えてください",
        "cases/x.yaml: municipality: 市区町村が仮の値「（市区町村）市」のままです。"
        "「（…）」の部分は実際の内容に書き換えてください",
        "cases/x.yaml: title: タイトルが仮の値「（タイトル）」のままです。"
        "「（…）」の部分は実際の内容に書き換えてください",
        "cases/x.yaml: keywords[1]: キーワードが仮の値「（キーワード）」のままです。"
        "「（…）」の部分は実際の内容に書き換えてください",
    ]
    with pytest.raises(CorpusError):  # so the build stops: no 「（都道府県）県」 in the results
        load_corpus(corpus)
    # an emptied review list is as good as reviewed: the case would be indexed, so it is checked
    (corpus / "cases" / "x.yaml").write_text(
        with_placeholders(VALID_CASE.format(id="x"), "reviewed: false\nreview: []\n"),
        encoding="utf-8",
    )
    assert len(validate_corpus(corpus)) == 4


def test_a_draft_under_review_may_still_hold_its_placeholders(tmp_path: Path) -> None:
    head = "reviewed: false\nreview: [タイトルが見つかりません。title を書いてください]\n"
    corpus = make_corpus(tmp_path, {"x.yaml": with_placeholders(VALID_CASE.format(id="x"), head)})
    (problem,) = validate_corpus(corpus)
    assert problem.kind == "draft"  # reported once, as a draft that is not indexed yet
    assert load_corpus(corpus) == ()


def test_the_same_case_in_two_files_is_reported_and_both_stay_indexed(tmp_path: Path) -> None:
    # a new user imported their 事例集 twice and reviewed both copies: validate and build said
    # nothing, and every search listed the case twice
    x, y = VALID_CASE.format(id="x"), VALID_CASE.format(id="y")
    corpus = make_corpus(tmp_path, {"x.yaml": x, "y.yaml": y})
    (problem,) = validate_corpus(corpus)
    assert problem.kind == "duplicate" and problem.file == "cases/y.yaml"
    assert "x.yaml にもあります" in problem.message
    assert [c.id for c in load_corpus(corpus)] == ["x", "y"]
    title = yaml.safe_load(y)["title"]
    (corpus / "cases" / "y.yaml").write_text(y.replace(title, title + "（二）"), encoding="utf-8")
    assert validate_corpus(corpus) == []
    # two drafts that both lack their title and place are two cases, not one imported twice
    head = "reviewed: false\nreview: [タイトルが見つかりません。title を書いてください]\n"
    drafts = {f"{k}.yaml": with_placeholders(VALID_CASE.format(id=k), head) for k in "xy"}
    assert [p.kind for p in validate_corpus(make_corpus(tmp_path / "d", drafts))] == ["draft"] * 2


@pytest.mark.parametrize(
    ("old", "new"),
    [
        # prose: a paragraph or item can be a bracketed aside of its own
        ("    text: 特徴", "    text: （当別町が窓口となり、「介護福祉空間推進交付金」を活用）"),
        ("keywords: [見守り]", "keywords: [見守り]\nimplementing_bodies: [（一社）ケア協会]"),
        # a name that is a bracket in its own right (the report has such lines)
        ("keywords: [見守り]", "keywords: [見守り]\nimplementing_bodies: [（直営）]"),
    ],
)
def test_bracketed_text_that_is_content_is_not_a_placeholder(
    tmp_path: Path, old: str, new: str
) -> None:
    case = VALID_CASE.format(id="x")
    assert old in case
    assert validate_corpus(make_corpus(tmp_path, {"x.yaml": case.replace(old, new)})) == []


@pytest.mark.parametrize(
    ("prefecture", "region"),
    [
        ("北海道", "北海道"),
        ("長野県", "中部"),
        ("東京都", "関東"),
        ("京都府", "近畿"),
        ("沖縄県", "九州・沖縄"),
    ],
)
def test_the_region_must_be_the_prefectures(tmp_path: Path, prefecture: str, region: str) -> None:
    wrong = "東北" if region != "東北" else "関東"
    text = VALID_CASE.format(id="x").replace("prefecture: 架空県", f"prefecture: {prefecture}")
    corpus = make_corpus(tmp_path, {"x.yaml": text.replace("region: 東北", f"region: {wrong}")})
    (problem,) = validate_corpus(corpus)
    assert problem.field == "region"
    assert (
        f"「{wrong}」になっていますが、{prefecture}の地方区分は「{region}」です" in problem.message
    )
    assert f"region: {region} にしてください" in problem.message
    (corpus / "cases" / "x.yaml").write_text(
        text.replace("region: 東北", f"region: {region}"), encoding="utf-8"
    )
    assert validate_corpus(corpus) == []


def test_load_corpus_sorts_by_order_then_id(tmp_path: Path) -> None:
    files = {
        "b.yaml": VALID_CASE.format(id="b"),
        "a.yaml": VALID_CASE.format(id="a").replace("order: 1", "order: 2"),
        "c.yaml": VALID_CASE.format(id="c"),
    }
    assert [c.id for c in load_corpus(make_corpus(tmp_path, files))] == ["b", "c", "a"]
