"""caresearch.importing: 事例集 documents → draft case files (and drafts in the corpus)."""

from __future__ import annotations

import codecs
import os
import re
import shutil
import stat
import zipfile
from pathlib import Path

import doc_factory
import pytest
import yaml
from doc_factory import norm, read_drafts, unrestored

from caresearch.corpus import load_corpus, validate_corpus
from caresearch.errors import ImportFailed
from caresearch.importing import ImportSummary, format_summary, import_files
from caresearch.importing.reading import read_document
from caresearch.importing.repair import repair
from caresearch.models import Case

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
SEED = CORPUS / "source" / "000_b7a95137f3db6541.txt"


@pytest.fixture(scope="module")
def curated() -> dict[str, Case]:
    return {c.municipality: c for c in load_corpus(CORPUS)}


def drafts(out: Path) -> dict[str, tuple[dict, Case]]:
    return {case.municipality: (d, case) for d, case in read_drafts(out)}


def recovered_share(curated: dict[str, Case], imported: dict[str, tuple[dict, Case]]) -> float:
    total = hits = 0
    for muni, cur in curated.items():
        got: dict[str, set[str]] = {}
        for p in imported[muni][1].passages():
            got.setdefault(p.section, set()).add(norm(p.text))
        for p in cur.passages():
            total += 1
            hits += bool(
                {norm(p.text), norm(unrestored(p.text, p.id, cur))} & got.get(p.section, set())
            )
    return hits / total


def lessons_by_kind(case: Case) -> dict[str, list[str]]:
    return {
        "region": [norm(x.text) for x in case.key_points if x.audience == "region"],
        "municipality": [norm(x.text) for x in case.key_points if x.audience == "municipality"],
        "suggestion": [norm(x.text) for x in case.suggestions],
    }


def corpus_with(tmp_path: Path) -> Path:
    """A small writable corpus: the themes and two bundled cases."""
    corpus = tmp_path / "corpus"
    (corpus / "cases").mkdir(parents=True)
    shutil.copy(CORPUS / "themes.yaml", corpus / "themes.yaml")
    for name in ("tobetsu", "nanto"):
        shutil.copy(CORPUS / "cases" / f"{name}.yaml", corpus / "cases")
    return corpus


@pytest.fixture
def corpus_and_draft(tmp_path: Path, curated: dict[str, Case]) -> tuple[Path, ImportSummary]:
    """corpus_with(tmp_path) plus one draft imported from a .docx of 横浜市's case."""
    doc = doc_factory.write_case(curated["横浜市"], tmp_path / "yoko.docx", "docx")
    corpus = corpus_with(tmp_path)
    return corpus, import_files([doc], corpus / "cases")


# ---------------------------------------------------------------- the bundled source


@pytest.fixture(scope="module")
def seed_import(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("seed") / "cases"
    summary = import_files([SEED], out)
    return out, summary


def test_bundled_source_gives_six_cases_with_their_place_and_title(
    seed_import: tuple[Path, object], curated: dict[str, Case]
) -> None:
    out, _summary = seed_import
    imported = drafts(out)
    assert set(imported) == set(curated)
    for muni, cur in curated.items():
        _d, case = imported[muni]
        assert case.prefecture == cur.prefecture
        assert norm(case.title) == norm(unrestored(cur.title, "title", cur))


def test_bundled_source_gives_all_56_lessons_under_their_case_and_kind(
    seed_import: tuple[Path, object], curated: dict[str, Case]
) -> None:
    imported = drafts(seed_import[0])
    total = 0
    for muni, cur in curated.items():
        assert lessons_by_kind(imported[muni][1]) == lessons_by_kind(cur), muni
        total += len(cur.lessons)
    assert total == 56


def test_bundled_source_passages_land_in_their_section_and_none_is_invented(
    seed_import: tuple[Path, object], curated: dict[str, Case]
) -> None:
    imported = drafts(seed_import[0])
    assert recovered_share(curated, imported) >= 0.9
    for muni, cur in curated.items():
        whole = "".join(norm(unrestored(p.text, p.id, cur)) for p in cur.passages())
        for p in imported[muni][1].passages():
            assert norm(p.text) in whole, (p.id, p.text[:60])


def test_extraction_damage_is_repaired() -> None:
    lines, repairs = repair(read_document(SEED).lines)
    text = "\n".join(ln.text for ln in lines)
    assert repairs.repeated > 1000 and repairs.furniture >= 5  # repeated pages, page headers
    assert "地域包括ケアシステムの取組事例" not in {ln.text for ln in lines}
    assert not re.search("[\ue000-\uf8ff]", text)  # Wingdings bullets
    assert "ﾌｯﾄﾎﾞｰﾙ" not in text and "フットボール" in text  # half-width kana
    assert "≪" not in text


def test_figure_words_go_to_diagram_text_not_passages(seed_import: tuple[Path, object]) -> None:
    imported = drafts(seed_import[0])
    d, case = imported["鶴岡市"]
    assert any("入院前の状況報告書" in t for t in d["diagram_text"])
    assert not any("入院前の状況報告書" in p.text for p in case.passages())
    d, case = imported["当別町"]
    assert any("活動の第一の転機" in t for t in d["diagram_text"])  # the phase figure
    assert not any("転機" in p.text for p in case.passages() if p.section == "history")


def test_labels_printed_after_their_content_are_put_back(seed_import: tuple[Path, object]) -> None:
    d, case = drafts(seed_import[0])["楢葉町"]
    # 楢葉町's caption comes after the recommendation and two stray labels.
    assert case.summary and case.summary.startswith("楢葉町では")
    assert case.recommendation.startswith("住民にとって最も身近な楢葉町役場")
    assert [s.heading for s in case.contents] == [
        "拠点づくり",
        "支援メニューづくり",
        "情報共有と連携",
        "人づくり",
    ]
    assert d["contact"].startswith("楢葉町いわき出張所")
    assert drafts(seed_import[0])["横浜市"][0]["suggestions_label"] == "まず取り組むべき事項"


def test_draft_records_source_review_and_proposed_themes(seed_import: tuple[Path, object]) -> None:
    out, summary = seed_import
    d, _case = drafts(out)["南砺市"]
    assert d["source"]["file"] == SEED.name and d["source"]["lines"][0][0] > 4000
    assert d["reviewed"] is False and d["review"]
    assert any("半角の数字・英字" in item for item in d["review"])
    assert set(d["themes"]) >= {"人材育成", "行政組織", "在宅医療"}
    text = format_summary(summary)  # type: ignore[arg-type]
    assert "事例 6 件" in text and "南砺市" in text and "この事例のポイント（１．地域） 3" in text


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("kind", ["pdf", "docx", "txt"])
def test_round_trip_through_a_generated_document(
    kind: str, tmp_path: Path, curated: dict[str, Case]
) -> None:
    cases = list(curated.values())
    files = [doc_factory.write_case(c, tmp_path / f"{c.id}.{kind}", kind) for c in cases[:3]]
    files.append(doc_factory.write_cases(cases[3:], tmp_path / f"rest.{kind}", kind))
    out = tmp_path / "cases"
    summary = import_files(files, out)
    assert len(summary.drafts) == 6
    imported = drafts(out)
    assert set(imported) == set(curated)
    assert recovered_share(curated, imported) >= 0.97
    for muni, cur in curated.items():
        d, case = imported[muni]
        assert lessons_by_kind(case) == lessons_by_kind(cur)
        assert d["overview"] == doc_factory.overview_for(cur)
        if kind == "pdf":
            assert d["source"]["pages"]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-8-sig", "cp932"])
def test_a_text_file_saved_by_notepad_in_any_encoding_is_read(
    encoding: str, tmp_path: Path, curated: dict[str, Case]
) -> None:
    # Notepad's "Unicode" is UTF-16 with a byte order mark: it was called binary
    utf8 = doc_factory.write_case(curated["南砺市"], tmp_path / "nanto.txt", "txt")
    text = utf8.read_text(encoding="utf-8")
    if encoding == "utf-16-be":
        data = codecs.BOM_UTF16_BE + text.encode("utf-16-be")
    else:
        data = text.encode(encoding, errors="replace" if encoding == "cp932" else "strict")
    saved = tmp_path / f"nanto-{encoding}.txt"
    saved.write_bytes(data)
    assert [ln.text for ln in read_document(saved).lines][:40] == [
        ln.text for ln in read_document(utf8).lines
    ][:40]


TYPED_CASE = """キーワード：買い物支援、移動販売、見守り
岩手県 山田町
移動販売車と見守りを組み合わせた買い物支援のしくみづくり

この事例の特徴
・地元スーパーと社会福祉協議会が協定を結び、移動販売車の巡回時に高齢者の見守りを行っている
・生活支援コーディネーターが地区ごとの会議で買い物の困りごとを拾い上げた

取り組み内容
【移動販売車による買い物支援】
地元スーパーが週2回、集落を巡回する移動販売車を運行している。販売員は高齢者の様子を確認する。

この事例のポイント
１．地域
・民間事業者の本業に見守りを組み込むことで、無理なく続く仕組みになっている。

これから取り組む皆さまへ
・地域の商店や事業者の活動の中に、見守りの機会がないか探してみましょう

連絡先：山田町 長寿福祉課
"""


def import_typed(tmp_path: Path, name: str, text: str) -> dict:
    """The one draft `caresearch import` writes for `text` saved as the file `name`."""
    typed = tmp_path / name
    typed.write_text(text, encoding="utf-8")
    out = tmp_path / "cases"
    import_files([typed], out)
    ((draft, _case),) = drafts(out).values()
    return draft


def test_a_case_typed_one_item_per_line_is_read_as_typed(tmp_path: Path) -> None:
    # the title under the place line, 「・」 items of different lengths, the contact on one line
    draft = import_typed(tmp_path, "山田町.txt", TYPED_CASE)
    assert draft["title"] == "移動販売車と見守りを組み合わせた買い物支援のしくみづくり"
    assert [f["text"] for f in draft["features"]] == [
        "地元スーパーと社会福祉協議会が協定を結び、移動販売車の巡回時に高齢者の見守りを行っている",
        "生活支援コーディネーターが地区ごとの会議で買い物の困りごとを拾い上げた",
    ]
    assert draft["contact"] == "山田町 長寿福祉課"
    assert draft["suggestions"][-1]["text"].endswith("探してみましょう")


@pytest.mark.parametrize(
    "layout", ["place title keywords", "title place keywords", "place keywords title"]
)
def test_place_and_title_typed_around_the_keyword_line_belong_to_their_case(
    tmp_path: Path, layout: str
) -> None:
    # a new user's file put each case's place and title first: both drafts lost them, and the
    # second case's place and title were glued onto the first case's last suggestion; the
    # document's title and the case before's contact lines are no case's title
    def head(town: str, title: str) -> str:
        parts = {"place": f"岩手県 {town}", "title": title, "keywords": "キーワード：買い物支援"}
        return "\n".join(parts[p] for p in layout.split())

    def case(town: str, title: str) -> str:
        body = TYPED_CASE.split("\n", 3)[3].replace("山田町", town)
        return f"{head(town, title)}\n{body}電話 0193-82-3111\n"

    typed = tmp_path / "事例集.txt"
    typed.write_text(
        "令和6年度 取組事例集\n\n"
        + case("山田町", "移動販売車による買い物支援")
        + case("大槌町", "商店と連携した見守り"),
        encoding="utf-8",
    )
    import_files([typed], tmp_path / "cases")
    got = sorted(
        (d["municipality"], d["title"], d) for d, _c in drafts(tmp_path / "cases").values()
    )
    assert [(m, t) for m, t, _d in got] == [
        ("大槌町", "商店と連携した見守り"),
        ("山田町", "移動販売車による買い物支援"),
    ]
    for _m, _t, draft in got:
        assert draft["prefecture"] == "岩手県"
        assert draft["suggestions"][-1]["text"].endswith("探してみましょう")


TOWN_CASE = """事例１　住民が運営する「通いの場」ふれあい茶の間
長野県　青葉町
キーワード：通いの場、介護予防、住民主体

背景
山間部の下平地区では一人暮らしの高齢者が増え、冬には外出の機会がほとんどなくなっていた。

取り組み内容
【住民ボランティアによる運営】
地区の有志8名が会を立ち上げ、毎週水曜日に公民館で通いの場を開いている。

成果
参加者は開始時の12名から28名に増えた。欠席した人に電話をかける見守りが自然に生まれた。

今後の課題
運営ボランティアの平均年齢が72歳となり、次の担い手の確保が課題である。

ポイント
・住民が自分たちで決めて運営することで、やらされ感がなく長続きしている
・保健師が定期的に関わり、住民の安心につながっている

連絡先：青葉町健康福祉課　地域包括ケア推進係
"""


@pytest.mark.parametrize("kind", ["txt", "docx"])
def test_a_towns_own_headings_put_each_part_in_its_section(tmp_path: Path, kind: str) -> None:
    # a new user's 事例集 used 成果, 課題 and ポイント: the three went into the last 【…】 item,
    # each glued to its heading (「成果参加者は…」), and its lessons were nowhere
    path = tmp_path / f"青葉町.{kind}"
    if kind == "docx":
        doc_factory.write_docx(TOWN_CASE.splitlines(), path)
    else:
        path.write_text(TOWN_CASE, encoding="utf-8")
    import_files([path], tmp_path / "cases")
    ((draft, _case),) = drafts(tmp_path / "cases").values()
    assert draft["title"] == "住民が運営する「通いの場」ふれあい茶の間"  # not 事例１
    assert [c["heading"] for c in draft["contents"]] == ["住民ボランティアによる運営", "今後の課題"]
    assert draft["contents"][0]["paragraphs"] == [
        "地区の有志8名が会を立ち上げ、毎週水曜日に公民館で通いの場を開いている。"
    ]
    assert draft["contents"][1]["paragraphs"][0].startswith("運営ボランティアの平均年齢")
    assert [c["text"][:7] for c in draft["outcomes"]["changes"]] == ["参加者は開始時"]
    assert [k["text"][:6] for k in draft["key_points"]["region"]] == [
        "住民が自分た",
        "保健師が定期",
    ]
    assert draft["contact"] == "青葉町健康福祉課 地域包括ケア推進係"
    # each guess is said, so a reviewer can move it
    assert any("「【今後の課題】」" in r for r in draft["review"])
    assert any("「ポイント」の項目" in r for r in draft["review"])


def _titles_imported(tmp_path: Path, name: str, text: str) -> list[tuple[str, dict]]:
    """(title, draft) of each draft `caresearch import` writes for `text` saved as `name`."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    import_files([path], tmp_path / "cases")
    return sorted((d["title"], d) for d, _c in read_drafts(tmp_path / "cases"))


TOWN_TITLES = [
    "住民が運営する「通いの場」おたがいさま便",
    "住民が運営する「通いの場」ふれあい茶の間",
]


@pytest.mark.parametrize("keywords", [True, False])
def test_a_collection_that_names_its_town_once_is_read_case_by_case(
    tmp_path: Path, keywords: bool
) -> None:
    # a new user's 事例集 named its town only in its header: without a キーワード line in each case
    # nothing was imported (「取組事例が見つかりません」); with one, every title was lost and the
    # next case's 「事例２ …」 glued onto the contact before
    second = TOWN_CASE.replace("事例１", "事例２").replace("ふれあい茶の間", "おたがいさま便")
    for a, b in (("8名", "5名"), ("水曜日", "金曜日"), ("12名", "9名"), ("72歳", "75歳")):
        second = second.replace(a, b)  # a body of its own
    cases = [c.replace("長野県　青葉町\n", "") for c in (TOWN_CASE, second)]
    if not keywords:
        cases = [re.sub(r"キーワード：.*\n", "", c) for c in cases]
    text = "令和6年度 取組事例集\n長野県青葉町　健康福祉課　地域包括ケア推進係\n\n" + "\n".join(
        cases
    )
    got = _titles_imported(tmp_path, "青葉町.txt", text)
    assert [t for t, _d in got] == TOWN_TITLES
    for _t, draft in got:
        assert (draft["prefecture"], draft["municipality"], draft["region"]) == (
            "長野県",
            "青葉町",
            "中部",
        )
        assert any("文書の冒頭の「長野県青葉町" in r for r in draft["review"])
        assert draft["contact"] == "青葉町健康福祉課 地域包括ケア推進係"


SHEET_ROWS = (
    ("事例名", "住民が運営する通いの場"),
    ("市町村", "長野県 青葉町"),
    ("キーワード", "通いの場、介護予防"),
    ("背景", "山間部では一人暮らしの高齢者が増えていた。"),
    ("成果", "参加者は12名から28名に増えた。"),
    ("ポイント", "住民が自分たちで決めて運営することで長続きしている。"),
    ("連絡先", "青葉町健康福祉課"),
)


@pytest.mark.parametrize("layout", ["table", "typed", "table with blank lines", "label alone"])
def test_a_case_sheet_of_labels_and_their_text_is_read_field_by_field(
    tmp_path: Path, layout: str
) -> None:
    # a new user's Word 事例シート, a table of label | text: the title became 「…通いの場市町村」,
    # the keywords and the contact went to diagram_text and 成果 and ポイント into the summary;
    # typed as 「背景：…」 on one line, the same
    import docx

    document = docx.Document()
    document.add_paragraph("青葉町 取組事例シート")
    if layout.startswith("table"):
        # a cell may open with an empty paragraph (a second reader's find: the row was lost)
        blank = "\n" if layout.endswith("blank lines") else ""
        table = document.add_table(rows=len(SHEET_ROWS), cols=2)
        for row, (label, text) in zip(table.rows, SHEET_ROWS, strict=True):
            row.cells[0].text, row.cells[1].text = blank + label, blank + text
    elif layout == "label alone":  # 背景： on its line, the text on the next
        for label, text in SHEET_ROWS:
            document.add_paragraph(f"{label}：")
            document.add_paragraph(text)
    else:
        for label, text in SHEET_ROWS:
            document.add_paragraph(f"{label}：{text}")
    document.save(str(tmp_path / "シート.docx"))
    import_files([tmp_path / "シート.docx"], tmp_path / "cases")
    ((draft, _case),) = read_drafts(tmp_path / "cases")
    assert (draft["title"], draft["prefecture"], draft["municipality"]) == (
        "住民が運営する通いの場",
        "長野県",
        "青葉町",
    )
    assert draft["keywords"] == ["通いの場", "介護予防"]
    assert [b["text"] for b in draft["background"]] == [
        "山間部では一人暮らしの高齢者が増えていた。"
    ]
    assert [c["text"] for c in draft["outcomes"]["changes"]] == ["参加者は12名から28名に増えた。"]
    assert len(draft["key_points"]["region"]) == 1
    assert draft["contact"] == "青葉町健康福祉課" and draft["diagram_text"] == []


def test_a_table_of_contents_and_words_like_jirei_ichiran_start_no_case(tmp_path: Path) -> None:
    # a second reader's find: 「事例一覧」 became a draft titled 「覧」, and a 目次 of 「事例１ …」 lines
    # gave a draft for each line besides the cases themselves; 京都府京都市 was read 京都 + 府京都市
    second = TOWN_CASE.replace("事例１", "事例２").replace("ふれあい茶の間", "おたがいさま便")
    for a, b in (("8名", "5名"), ("水曜日", "金曜日"), ("12名", "9名"), ("72歳", "75歳")):
        second = second.replace(a, b)
    cases = [re.sub(r"(長野県　青葉町|キーワード：.*)\n", "", c) for c in (TOWN_CASE, second)]
    contents = "事例一覧\n事例１　住民が運営する「通いの場」ふれあい茶の間\n事例２　住民が運営する「通いの場」おたがいさま便\n"
    text = "京都府京都市　健康福祉局\n" + contents + "\n" + "\n".join(cases)
    got = _titles_imported(tmp_path, "京都市.txt", text)
    assert [t for t, _d in got] == TOWN_TITLES
    assert {(d["prefecture"], d["municipality"], d["region"]) for _t, d in got} == {
        ("京都府", "京都市", "近畿")
    }


def _two_cases(page_break: bool) -> list[str]:
    """Two typed cases of two towns that share a contact (and nothing else), the second's
    after a page break when `page_break`."""
    lines: list[str] = []
    for town, title in (
        ("山田町", "移動販売車による買い物支援"),
        ("大槌町", "商店と連携した見守り"),
    ):
        body = TYPED_CASE.split("\n", 3)[3].replace("連絡先：山田町 長寿福祉課", "")
        if town == "大槌町":  # a body of its own: only the contact is the same
            body = body.replace("移動販売車", "配達の車").replace("スーパー", "商店")
            body = body.replace("見守り", "声かけ")
        lines += [f"岩手県 {town}", title, f"キーワード：{title}", *body.strip().splitlines()]
        if page_break and town == "大槌町":
            lines.append("\f")
        lines += ["連絡先：岩手県社会福祉協議会 地域福祉課", "\f"]
    return lines


@pytest.mark.parametrize("kind", ["pdf", "txt", "docx"])
def test_a_line_a_towns_document_writes_twice_is_kept_twice(tmp_path: Path, kind: str) -> None:
    # a new user's 事例集: the third case's contact, the same as the first's, on a new page or
    # in a file of indented paragraphs, was dropped as a repeated page (「繰り返されたページ等の 1 行を
    # 除きました」) and the draft's contact left empty
    lines = _two_cases(page_break=True)
    path = tmp_path / f"事例集.{kind}"
    indented = [f" {x}" for x in lines if x != "\f"]  # paragraphs indented with a space
    if kind == "pdf":
        doc_factory.write_pdf(lines, path, header="")
    elif kind == "docx":
        doc_factory.write_docx(indented, path)
    else:
        path.write_text("\n".join(indented), encoding="utf-8")
    summary = import_files([path], tmp_path / "cases")
    assert summary.files[0].repeated_lines == 0
    got = sorted((d["municipality"], d) for d, _c in drafts(tmp_path / "cases").values())
    assert [m for m, _d in got] == ["大槌町", "山田町"]
    assert {d["contact"] for _m, d in got} == {"岩手県社会福祉協議会 地域福祉課"}


def test_a_repeated_page_that_is_dropped_is_named_with_its_page(tmp_path: Path) -> None:
    # the extraction's repeats are still dropped, but never silently: the summary says where
    lines = _two_cases(page_break=False)
    page = lines.index("\f")
    repeat = lines[3 : page - 1]  # the first case's body, printed again on a page of its own
    assert sum(map(len, repeat)) >= 200
    pdf = tmp_path / "事例集.pdf"
    doc_factory.write_pdf([*lines[: page + 1], *repeat, "\f", *lines[page + 1 :]], pdf, header="")
    summary = import_files([pdf], tmp_path / "cases")
    assert summary.files[0].repeated_lines == sum(1 for x in repeat if x)
    assert len(summary.drafts) == 2
    text = format_summary(summary)
    assert "前に出た文の繰り返し" in text and "（2ページ）" in text


def test_importing_the_same_file_twice_says_so_on_the_second_drafts(tmp_path: Path) -> None:
    out = tmp_path / "cases"
    first = import_files([typed_file(tmp_path)], out).files[0].drafts[0]
    again = import_files([typed_file(tmp_path)], out).files[0].drafts[0]
    assert not any("既にあります" in r for r in first.review)
    assert any(f"既にあります（{first.case_id}）" in r for r in again.review)


def test_drafts_whose_names_were_not_found_are_not_called_the_same_case(tmp_path: Path) -> None:
    # two drafts holding 「（市区町村）市」「（タイトル）」 were told to delete one another
    nameless = "\n".join(TYPED_CASE.splitlines()[0:1] + TYPED_CASE.splitlines()[3:]) + "\n"
    typed = tmp_path / "jirei.txt"
    typed.write_text(nameless + nameless.replace("買い物支援", "移動支援"), encoding="utf-8")
    summary = import_files([typed], tmp_path / "cases")
    assert len(summary.files[0].drafts) == 2
    assert not any("既にあります" in r for d in summary.files[0].drafts for r in d.review)


def test_drafts_are_written_with_the_users_umask(tmp_path: Path) -> None:
    # mkstemp wrote 0600: a server running as another user could not read the case
    old = os.umask(0o022)
    try:
        draft = import_files([typed_file(tmp_path)], tmp_path / "cases").files[0].drafts[0]
    finally:
        os.umask(old)
    assert stat.S_IMODE(draft.path.stat().st_mode) == 0o644


def typed_file(tmp_path: Path) -> Path:
    typed = tmp_path / "山田町.txt"
    typed.write_text(TYPED_CASE, encoding="utf-8")
    return typed


def test_imported_lessons_carry_the_case_themes_they_speak_of(tmp_path: Path) -> None:
    # the lessons page filters lessons by their own themes: imported ones had none, so no
    # theme filter ever showed them
    draft = import_typed(tmp_path, "山田町.txt", TYPED_CASE)
    assert "生活支援" in draft["themes"]
    (point,) = draft["key_points"]["region"]
    assert "見守り" in point["text"] and "生活支援" in point["themes"]
    lessons = [*draft["key_points"]["region"], *draft["suggestions"]]
    assert all(set(x["themes"]) <= set(draft["themes"]) for x in lessons)


def test_the_overview_figures_typed_under_the_features_are_read(tmp_path: Path) -> None:
    # 75歳以上人口 went to figure text, and a premium typed without its 第N期 was lost
    figures = "総人口：8,412人\n75歳以上人口：1,902人（22.6％）\n介護保険料：6,100円\n"
    draft = import_typed(
        tmp_path,
        "山田町.txt",
        TYPED_CASE.replace("\n取り組み内容\n", f"\n{figures}\n取り組み内容\n"),
    )
    assert draft["overview"] == {
        "total_population": "8,412人",
        "population_75_over": "1,902人（22.6％）",
        "insurance_premium": "6,100円",
    }
    assert not draft.get("diagram_text")


def test_a_keyword_with_a_middle_dot_stays_one_keyword(tmp_path: Path) -> None:
    draft = import_typed(
        tmp_path,
        "山田町.txt",
        TYPED_CASE.replace("キーワード：買い物支援、", "キーワード：医療・介護連携、自助・互助、"),
    )
    assert draft["keywords"] == ["医療・介護連携", "自助・互助", "移動販売", "見守り"]


def test_a_typed_case_with_headings_and_a_timeline_in_its_own_words(tmp_path: Path) -> None:
    # a new user's file: 「取り組みの背景・課題」 was glued onto the last feature, two 「・」 items
    # of the same length were read as one wrapped line, and 「令和２年　…」 went to figure text
    draft = import_typed(
        tmp_path,
        "山川町.txt",
        TYPED_CASE.replace(
            "\n取り組み内容\n",
            "\n取り組みの背景・課題\n"
            "・令和２年に路線バスが廃止され、お年寄りが買い物や通院に行けなくなった\n"
            "・地域包括支援センターへの相談のうち、移動に関するものが３割を占めている\n"
            "\n取り組み内容\n",
        ).replace(
            "\nこの事例のポイント\n",
            "\n取り組みの経緯\n令和２年　路線バス廃止、集落で聞き取り\n2021年 養成講座を開始\n"
            "\nこの事例のポイント\n",
        ),
    )
    assert len(draft["features"]) == 2 and draft["features"][1]["text"].endswith("拾い上げた")
    assert [b["text"][:8] for b in draft["background"]] == ["令和２年に路線バ", "地域包括支援セン"]
    assert [(e["period"], e["text"]) for e in draft["history"]] == [
        ("令和２年", "路線バス廃止、集落で聞き取り"),
        ("2021年", "養成講座を開始"),
    ]
    assert not draft.get("diagram_text")


def test_a_sentence_that_starts_with_a_year_stays_in_its_section(tmp_path: Path) -> None:
    # 「2021年 4月から…」 reads as a timeline entry only under 取り組みの経緯
    draft = import_typed(
        tmp_path,
        "山田町.txt",
        TYPED_CASE.replace(
            "販売員は高齢者の様子を確認する。\n",
            "販売員は高齢者の様子を確認する。\n2021年 4月から見守り協力員の養成講座を開いている。\n",
        ),
    )
    assert not draft["history"]
    # ... and each typed line that ends a sentence is a paragraph of its own
    assert draft["contents"][0]["paragraphs"] == [
        "地元スーパーが週2回、集落を巡回する移動販売車を運行している。販売員は高齢者の様子を確認する。",
        "2021年 4月から見守り協力員の養成講座を開いている。",
    ]


def test_a_subheading_named_like_a_section_stays_in_the_contents(tmp_path: Path) -> None:
    # 【経緯】 and 【背景】 are subheadings of 取り組み内容; 経緯 and 背景 alone are sections
    draft = import_typed(
        tmp_path,
        "川口町.txt",
        TYPED_CASE.replace(
            "\nこの事例のポイント\n",
            "【経緯】\n町内の商店が閉店し、社会福祉協議会が地元スーパーに働きかけた。\n"
            "\nこの事例のポイント\n",
        ),
    )
    assert [c["heading"] for c in draft["contents"]] == ["移動販売車による買い物支援", "経緯"]
    assert not draft["history"] and not draft.get("diagram_text")


def test_typed_subheadings_and_stories_are_read_as_their_sections(tmp_path: Path) -> None:
    # from a second trial: 【…】～… (the subheading after the brackets) went to the summary with
    # its heading glued on, 個別の事例 was glued onto the last change, and the person a typed
    # story is about was glued onto its paragraph
    draft = import_typed(
        tmp_path,
        "桜町.txt",
        TYPED_CASE.replace(
            "【移動販売車による買い物支援】", "【移動販売車による買い物支援】～週2回の巡回"
        ).replace(
            "\nこの事例のポイント\n",
            "\n地域に見られた変化\n・買い物の帰りにサロンに寄る人が増えた。\n"
            "\n個別の事例\nＣさん（80代・女性・独居）\n"
            "免許を返納してから外出が減っていたが、週に1回スーパーに通うようになった。\n"
            "\nこの事例のポイント\n",
        ),
    )
    (section,) = draft["contents"]
    assert (section["heading"], section["subheading"]) == (
        "移動販売車による買い物支援",
        "週2回の巡回",
    )
    assert not draft["summary"]
    assert [c["text"] for c in draft["outcomes"]["changes"]] == [
        "買い物の帰りにサロンに寄る人が増えた。"
    ]
    (story,) = draft["outcomes"]["stories"]
    assert story["subject"] == "Ｃさん（80代・女性・独居）"
    assert story["paragraphs"][0].startswith("免許を返納してから")


def test_typed_items_of_one_length_stay_apart_and_an_indented_line_goes_on(
    tmp_path: Path,
) -> None:
    # from a third read: the template's labels (all of a few lengths) made a typed case look
    # wrapped, joining two 「・」 items of one length; a typed item that goes on, indented, on a
    # second line became an item of its own
    draft = import_typed(
        tmp_path,
        "山田町.txt",
        TYPED_CASE.replace(
            "・地元スーパーと社会福祉協議会が協定を結び、移動販売車の巡回時に高齢者の見守りを行っている\n"
            "・生活支援コーディネーターが地区ごとの会議で買い物の困りごとを拾い上げた\n",
            "・地元スーパーと社会福祉協議会が協定を結び、移動販売車で見守りを行っている。\n"
            "　異変に気づいたときは、地域包括支援センターに連絡する。\n"
            "・生活支援コーディネーターが地区ごとの会議で、買い物の困りごとを拾い上げた\n",
        ),
    )
    assert [f["text"] for f in draft["features"]] == [
        "地元スーパーと社会福祉協議会が協定を結び、移動販売車で見守りを行っている。"
        "異変に気づいたときは、地域包括支援センターに連絡する。",
        "生活支援コーディネーターが地区ごとの会議で、買い物の困りごとを拾い上げた",
    ]


def test_two_people_of_one_story_are_its_subject(tmp_path: Path) -> None:
    draft = import_typed(
        tmp_path,
        "鶴岡.txt",
        TYPED_CASE.replace(
            "\nこの事例のポイント\n",
            "\n取り組みが生かされた個別支援\n《夫婦を同時に支えた事例》\nＡさん（80代・男性）\n"
            "Ｂさん（70代・女性、Ａさんの妻）\n夫婦二人暮らしで、Ａさんの入院を機にＢさんの認知症が進んだ。\n"
            "Ａさん（80代）は今、週に2回デイサービスに通っている（送迎つき）。\n"
            "\nこの事例のポイント\n",
        ),
    )
    (story,) = draft["outcomes"]["stories"]
    assert story["title"] == "夫婦を同時に支えた事例"
    assert story["subject"] == "Ａさん（80代・男性）、Ｂさん（70代・女性、Ａさんの妻）"
    assert "週に2回デイサービス" in "".join(story["paragraphs"])  # a sentence, not a person line


def test_text_copied_out_of_a_pdf_rejoins_a_middle_dot_that_wrapped(tmp_path: Path) -> None:
    # lines cut at one width (and a longer footnote): 「・」 opening a line after a full line
    # is the middle dot of 医療機関・訪問看護, not a new item
    draft = import_typed(
        tmp_path,
        "青葉町.txt",
        "キーワード：在宅医療、多職種連携\n宮城県 青葉町\n医師会を軸にした在宅医療と介護の連携\n\n"
        "この事例の特徴\n"
        "・医師会と町が協定を結び、在宅医療を支える多職種の研修を毎月開いている。研修には医療機関\n"
        "・訪問看護ステーション・居宅介護支援事業所の職員が参加し、顔の見える関係をつくってきた。\n"
        "・退院時の情報共有のため、病院の地域連携室とケアマネジャーが同じ様式を使うようにした。\n\n"
        "取り組みの背景・課題認識\n"
        "・町の高齢化率は３８％を超え、在宅で療養する高齢者が増えているが、訪問診療を行う診療所は\n"
        "２か所しかなく、医療と介護の連携が課題となっていた。\n"
        "※ 高齢化率は令和２年国勢調査による。認定者数は広域連合の数値で、近隣の２町を含む人数・率である。\n",
    )
    assert len(draft["features"]) == 2
    assert "医療機関・訪問看護ステーション" in draft["features"][0]["text"]


def test_a_typed_memo_printed_to_pdf_keeps_its_items_apart(tmp_path: Path) -> None:
    # one item per line, no 。 at their ends, of about one length: 「・」 opening the second
    # line was taken for a middle dot that wrapped, and the two features became one
    lines = [
        "長野県 山田町",
        "認知症の人と家族が集えるカフェを商店街の空き店舗に開設",
        "キーワード：認知症カフェ、空き店舗活用",
        "この事例の特徴",
        "・商店街の空き店舗を活用し、認知症の人と家族、地域住民が気軽に集えるカフェを開いている",
        "・生活支援コーディネーターが商店街振興組合と話し合い、運営のボランティアを募った",
        "取り組みの背景・課題",
        "令和2年度のニーズ調査で、認知症の人の家族の約6割が「相談できる場がない」と回答した。",
        "また、町内に日中の居場所が少なかった。",
    ]
    draft = _one_pdf_draft(tmp_path, lines)
    assert [f["text"][:6] for f in draft["features"]] == ["商店街の空き", "生活支援コー"]
    assert len(draft["background"]) == 2


def test_a_short_typeset_pdf_still_rejoins_a_middle_dot_that_wrapped(tmp_path: Path) -> None:
    # the same page as a PDF of one short case: few lines share its width, yet a line cut in
    # mid-sentence says it was wrapped, and 「・訪問看護」 goes on 医療機関
    lines = [
        "キーワード：在宅医療、多職種連携",
        "宮城県 青葉町",
        "医師会を軸にした在宅医療と介護の連携",
        "この事例の特徴",
        "・医師会と町が協定を結び、在宅医療を支える多職種の研修を毎月開いている。研修には医療機関",
        "・訪問看護ステーション・居宅介護支援事業所の職員が参加し、顔の見える関係をつくってきた。",
        "・退院時の情報共有のため、病院の地域連携室とケアマネジャーが同じ様式を使うようにした。",
    ]
    draft = _one_pdf_draft(tmp_path, lines)
    assert len(draft["features"]) == 2
    assert "医療機関・訪問看護ステーション" in draft["features"][0]["text"]


def _one_pdf_draft(tmp_path: Path, lines: list[str]) -> dict:
    """The draft of a one-case PDF printed from `lines` (no running header)."""
    pdf = tmp_path / "事例.pdf"
    doc_factory.write_pdf(lines, pdf, header="")
    import_files([pdf], tmp_path / "cases")
    ((draft, _case),) = read_drafts(tmp_path / "cases")
    return draft


def test_pdf_running_header_and_page_numbers_are_removed(
    tmp_path: Path, curated: dict[str, Case]
) -> None:
    pdf = doc_factory.write_cases(list(curated.values()), tmp_path / "all.pdf", "pdf")
    lines, repairs = repair(read_document(pdf).lines)
    assert repairs.furniture >= 10
    assert not any(ln.text == "地域包括ケアシステムの取組事例集" for ln in lines)
    assert not any(re.fullmatch(r"\d+", ln.text) for ln in lines)


@pytest.mark.parametrize(
    ("header", "head"),
    [("", "place title keywords"), ("長野県 緑ヶ丘町", "keywords place title")],
)
def test_a_towns_own_pdf_keeps_the_place_of_each_case(
    tmp_path: Path, header: str, head: str
) -> None:
    # every case of one town's collection opens its page with 「長野県 緑ヶ丘町」: it was taken
    # for a running header and every draft lost its place; and where the same words are the
    # running header above the report's own layout, they stay a header, not a case's title
    lines: list[str] = []
    titles = ("移動販売車による買い物支援", "商店と連携した見守り", "配達の見守り")
    for n, title in enumerate(titles):
        body = TYPED_CASE.split("\n", 3)[3].replace("山田町", "緑ヶ丘町").replace("2", str(n + 2))
        parts = {"place": "長野県 緑ヶ丘町", "title": title, "keywords": f"キーワード：{title}"}
        lines += [*(parts[p] for p in head.split()), *body.splitlines(), "\f"]
    pdf = tmp_path / "緑ヶ丘町事例集.pdf"
    doc_factory.write_pdf(lines, pdf, header=header)
    import_files([pdf], tmp_path / "cases")
    got = [d for d, _c in read_drafts(tmp_path / "cases")]
    assert sorted(d["title"] for d in got) == sorted(titles)
    assert {(d["prefecture"], d["municipality"], d["region"]) for d in got} == {
        ("長野県", "緑ヶ丘町", "中部")
    }


def test_docx_page_breaks_count_pages(tmp_path: Path) -> None:
    import docx
    from docx.enum.text import WD_BREAK
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    document = docx.Document()
    document.add_paragraph("一枚目")
    document.add_page_break()  # Word's 改ページ: a run with <w:br w:type="page"/>
    second = document.add_paragraph("二枚目")
    second.add_run().add_break(WD_BREAK.PAGE)  # ... or after the text of a paragraph
    third = document.add_paragraph("三枚目")
    off = OxmlElement("w:pageBreakBefore")  # a paragraph property switched off
    off.set(qn("w:val"), "0")
    third._p.get_or_add_pPr().append(off)
    document.save(str(tmp_path / "pages.docx"))
    read = read_document(tmp_path / "pages.docx")
    assert read.pages == 3
    assert [(ln.page, ln.text) for ln in read.lines if ln.text] == [
        (1, "一枚目"),
        (2, "二枚目"),
        (3, "三枚目"),
    ]


def test_docx_table_cell_merged_across_columns_is_read_once(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_paragraph("地域概要")
    table = document.add_table(rows=2, cols=3)
    table.cell(0, 0).merge(table.cell(0, 1)).text = "総人口：12,345人"
    table.cell(0, 2).text = "（令和5年）"
    for col, text in enumerate(("65歳以上人口：", "4,321人", "（35.0％）")):
        table.cell(1, col).text = text
    document.add_paragraph("実施主体")
    document.save(str(tmp_path / "table.docx"))
    lines = [ln.text for ln in read_document(tmp_path / "table.docx").lines]
    assert lines == [
        "地域概要",
        "総人口：12,345人",
        "（令和5年）",
        "65歳以上人口：",
        "4,321人",
        "（35.0％）",
        "実施主体",
    ]


# ---------------------------------------------------------------- bad input


def _encrypted_pdf(path: Path, curated: dict[str, Case]) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_font("ipag", fname=str(doc_factory.FONT))
    pdf.set_font("ipag", size=10)
    pdf.add_page()
    pdf.cell(text="キーワード 秘密")
    pdf.set_encryption(owner_password="owner", user_password="user")
    pdf.output(str(path))
    return path


def _image_only_pdf(path: Path) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 60, style="F")
    pdf.output(str(path))
    return path


BAD_INPUTS = {
    "encrypted": ("locked.pdf", "パスワード"),
    "image_only": ("scan.pdf", "OCR済みのPDF"),
    "truncated": ("cut.pdf", "途中で切れて"),
    "empty": ("empty.txt", "空のファイル"),
    "fake_docx": ("fake.docx", "Word文書（.docx）ではありません"),
    "too_large": ("huge.pdf", "大きすぎます"),
    "not_a_case": ("memo.txt", "取組事例が見つかりません"),
}


def make_bad(kind: str, tmp_path: Path, curated: dict[str, Case]) -> Path:
    name, _ = BAD_INPUTS[kind]
    path = tmp_path / name
    if kind == "encrypted":
        return _encrypted_pdf(path, curated)
    if kind == "image_only":
        return _image_only_pdf(path)
    if kind == "truncated":
        good = doc_factory.write_case(curated["当別町"], tmp_path / "good.pdf", "pdf")
        data = good.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        return path
    if kind == "empty":
        path.write_bytes(b"")
        return path
    if kind == "fake_docx":
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("photos/readme.txt", "not a word document")
        return path
    if kind == "too_large":
        with path.open("wb") as f:  # sparse: 200 MB without writing them
            f.write(b"%PDF-1.7\n")
            f.truncate(200 * 1024 * 1024)
        return path
    path.write_text("会議のメモ\n来週の予定を確認する。\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("kind", list(BAD_INPUTS))
def test_bad_input_fails_with_one_clear_line_and_writes_nothing(
    kind: str, tmp_path: Path, curated: dict[str, Case]
) -> None:
    bad = make_bad(kind, tmp_path, curated)
    good = doc_factory.write_case(curated["南砺市"], tmp_path / "good.docx", "docx")
    out = tmp_path / "out" / "cases"
    with pytest.raises(ImportFailed) as err:
        import_files([good, bad], out)
    message = str(err.value)
    assert err.value.exit_code == 2
    assert "\n" not in message and message.startswith(bad.name)
    assert BAD_INPUTS[kind][1] in message
    assert "してください" in message  # says what to do
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize("where", ["a_file", "under_a_file"])
def test_an_output_folder_that_cannot_be_one_is_a_clear_error(
    where: str, tmp_path: Path, curated: dict[str, Case]
) -> None:
    good = doc_factory.write_case(curated["南砺市"], tmp_path / "good.docx", "docx")
    existing = tmp_path / "cases.txt"
    existing.write_text("メモ", encoding="utf-8")
    out = existing if where == "a_file" else existing / "cases"
    with pytest.raises(ImportFailed) as err:
        import_files([good], out)
    assert err.value.exit_code == 2 and "--out" in str(err.value)
    assert existing.read_text(encoding="utf-8") == "メモ"


def test_import_never_overwrites_an_existing_case(tmp_path: Path, curated: dict[str, Case]) -> None:
    doc = doc_factory.write_case(curated["当別町"], tmp_path / "tobetsu_jirei.docx", "docx")
    out = tmp_path / "cases"
    first = import_files([doc], out)
    written = first.drafts[0].path
    before = written.read_bytes()
    second = import_files([doc], out, existing_ids={"tobetsu_jirei_2"})
    assert written.read_bytes() == before
    assert second.drafts[0].case_id == "tobetsu_jirei_3"
    assert sorted(p.name for p in out.glob("*.yaml")) == [
        "tobetsu_jirei_1.yaml",
        "tobetsu_jirei_3.yaml",
    ]
    assert not list(out.glob(".import-*"))


# ---------------------------------------------------------------- drafts in the corpus


def test_drafts_are_skipped_by_load_corpus_until_reviewed(
    corpus_and_draft: tuple[Path, ImportSummary],
) -> None:
    corpus, summary = corpus_and_draft
    draft = summary.drafts[0].path
    assert [c.id for c in load_corpus(corpus)] == ["tobetsu", "nanto"]
    text = draft.read_text(encoding="utf-8")
    draft.write_text(text.replace("reviewed: false", "reviewed: true"), encoding="utf-8")
    ids = [c.id for c in load_corpus(corpus)]
    assert ids == ["tobetsu", "nanto", summary.drafts[0].case_id]
    data = yaml.safe_load(text)
    data["review"] = []  # every item dealt with
    draft.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert summary.drafts[0].case_id in [c.id for c in load_corpus(corpus)]


def test_validate_reports_each_draft_with_its_open_items(
    corpus_and_draft: tuple[Path, ImportSummary],
) -> None:
    corpus, summary = corpus_and_draft
    problems = validate_corpus(corpus)
    assert [p.kind for p in problems] == ["draft"]
    (p,) = problems
    assert p.file == f"cases/{summary.drafts[0].case_id}.yaml"
    for item in summary.drafts[0].review:
        assert item in p.message
    assert p.message.startswith("下書き（確認が済むまで索引に入りません）")  # said in Japanese
    assert f"確認が必要な点 {len(summary.drafts[0].review)} 件" in p.message
    # Fixing the draft into an invalid state is reported as an error, as for any case.
    path = summary.drafts[0].path
    path.write_text(
        path.read_text(encoding="utf-8").replace("reviewed: false", "reviewed: maybe"),
        encoding="utf-8",
    )
    assert any(p.kind == "error" and p.field == "reviewed" for p in validate_corpus(corpus))


def test_web_ui_has_no_upload_form() -> None:
    templates = ROOT / "web" / "templates"
    for page in templates.glob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert 'type="file"' not in html and "multipart/form-data" not in html, page.name
