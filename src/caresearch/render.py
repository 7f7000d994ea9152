"""Plain-text, Markdown and Word renderings of cases and handouts (for `show` and the web)."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .models import AUDIENCE_LABELS, OVERVIEW_LABELS, Case, CaseInfo, Passage

FIGURES_LOST = "抽出元のPDFから半角の数字と英字が失われているため、人口・年度・件数などの数値は表示できません。"
FIGURES_NOTE = f"※ {FIGURES_LOST}"  # with a case whose file says figures_missing: true
FIGURES_NAMES = 10  # cases named in one note; past this, counted


def figures_note(cases: Iterable[Case | CaseInfo]) -> str:
    """The note for a page or handout that shows these cases: said of those whose figures
    are missing, by name, or "" when there is none."""
    cases = list({c.id: c for c in cases}.values())  # a case chosen twice (two lessons) is one
    names = list(dict.fromkeys(c.name for c in cases if c.figures_missing))
    if not names:
        return ""
    if len(cases) > 1 and all(c.figures_missing for c in cases):
        who = "いずれの事例も"
    elif len(names) <= FIGURES_NAMES:
        who = f"{'、'.join(names)}の事例は"
    else:
        who = f"{len(names)}件の事例（各事例のページに表示）は"
    return f"※ {who}、{FIGURES_LOST}"


def case_sections(case: Case) -> list[tuple[str, list[str]]]:
    """(heading, paragraphs) in reading order; the one order shared by `show` and Markdown."""
    out: list[tuple[str, list[str]]] = []

    def add(heading: str, paras: Iterable[str]) -> None:
        paras = [p for p in paras if p]
        if paras:
            out.append((heading, paras))

    add("この事例の特徴", (f"・{i.text}" for i in case.features))
    add("地域概要", (f"{OVERVIEW_LABELS[k]}: {v}" for k, v in case.overview))
    add("実施主体", case.implementing_bodies)
    add("取り組みの背景・課題認識", (f"・{i.text}" for i in case.background))
    add("推薦メッセージ", [case.recommendation])
    add("取り組み内容", [case.summary or ""])
    for sec in case.contents:
        title = f"【{sec.heading}】" + (f" ～{sec.subheading}" if sec.subheading else "")
        add(title, [*sec.paragraphs, *([f"予算: {sec.budget}"] if sec.budget else [])])
    add("取り組みの経緯", (f"{e.period_label}: {e.text}" for e in case.history))
    add("地域に見られた変化", (f"・{i.text}" for i in case.changes))
    for st in case.stories:
        add(
            f"《{st.title}》" if st.title else "個別の事例",
            st.lines,
        )
    for audience in ("region", "municipality"):
        items = [k for k in case.key_points if k.audience == audience]
        add(
            f"この事例のポイント（{AUDIENCE_LABELS[audience]}）",
            (f"・{k.text} [{k.id}]" for k in items),
        )
    add(case.suggestions_label, (f"✓ {s.text} [{s.id}]" for s in case.suggestions))
    add("連絡先", [case.contact or ""])
    return out


def case_text(case: Case) -> str:
    lines = [f"{case.prefecture} {case.municipality}  [{case.id}]", case.title, ""]
    lines.append("キーワード: " + "、".join(case.keywords + case.editorial_keywords))
    lines.append("テーマ: " + "、".join(case.themes))
    for heading, paras in case_sections(case):
        lines += ["", f"■ {heading}", *paras]
    lines.append("")
    if case.figures_missing:
        lines.append(FIGURES_NOTE)
    if case.source:
        lines.append(source_line(case))
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class HandoutItem:
    """One chosen piece: a passage (a lesson or any other part of a case), or with
    `passage` None the case in brief (`case_brief`)."""

    case: Case
    passage: Passage | None
    label: str  # the section as people read it: この事例のポイント（地域）, 取り組み内容: 【…】
    memo: str = ""


@dataclass(frozen=True)
class Handout:
    title: str
    items: tuple[HandoutItem, ...]
    meeting: str = ""
    date: str = ""


def source_line(case: Case, *, report: bool = True, pages: bool = True) -> str:
    """Where the case comes from, as far as its source tells: report, chapter, pages (without
    the report, or that no page numbers survived, when a handout says it once:
    `handout_sources`); "" when nothing is left to say."""
    if case.source is None:
        return "出典: 記載なし"
    parts = [case.source.report if report else "", case.source.chapter]
    if case.source.pages:
        parts.append(f"{case.source.pages}ページ")
    elif pages:
        parts.append("ページ番号は抽出元に残っていない")
    said = "、".join(p for p in parts if p)
    return f"出典: {said}" if said else ""


def handout_sources(cases: Sequence[Case]) -> tuple[list[str], str]:
    """Each item's source line, and the note said once under the items: when every item comes
    from one report, its name (and that no page numbers survived, when none did) is said once
    instead of under each of them; "" when the items' reports differ."""
    reports = {c.source.report if c.source else None for c in cases}
    if len(reports) != 1 or None in reports or len(cases) < 2:
        return [source_line(c) for c in cases], ""
    pages = any(c.source and c.source.pages for c in cases)
    note = f"出典はいずれも{reports.pop()}。" + ("" if pages else "ページ番号は残っていません。")
    return [source_line(c, report=False, pages=pages) for c in cases], note


def case_brief(case: Case) -> tuple[str, list[str]]:
    """A case in brief, as a handout shows it, and the label it goes under: its features
    (この事例の特徴), else the summary of its 取り組み内容, else its first 【…】 section. A town's
    own 事例集 seldom has the template's features, and its brief was left empty."""
    if case.features:
        return "事例の概要（この事例の特徴）", [f"・{i.text}" for i in case.features]
    if case.summary:
        return "事例の概要（取り組み内容の概要）", _paragraphs(case.summary)
    if case.contents:
        first = case.contents[0]
        return f"事例の概要（取り組み内容: 【{first.heading}】）", list(first.paragraphs)
    return "事例の概要", []


def item_paragraphs(item: HandoutItem) -> list[str]:
    """The paragraphs of an item: the passage's, or the case's brief (`case_brief`)."""
    if item.passage is None:
        return case_brief(item.case)[1]
    return _paragraphs(item.passage.text)


def item_text(item: HandoutItem) -> list[str]:
    """`item_paragraphs`, under the case's title when the item is the case in brief (a
    document's item has no place heading of its own)."""
    title = [item.case.title] if item.passage is None else []
    return title + item_paragraphs(item)


def _paragraphs(text: str) -> list[str]:
    return [line for line in text.split("\n") if line.strip()]


def _place(case: Case) -> str:
    return f"{case.prefecture} {case.municipality}"


def _meta(handout: Handout) -> str:
    """The meeting and its date as people write a date (2025-04-01 → 2025年4月1日)."""
    date = ""
    if handout.date:
        y, m, d = (int(x) for x in handout.date.split("-"))
        date = f"{y}年{m}月{d}日"
    return "・".join(x for x in (handout.meeting, date) if x)


def handout_markdown(handout: Handout) -> str:
    """The handout for a meeting (協議の場) as Markdown: no internal ids, corpus text escaped."""
    lines = [f"# {_md(handout.title)}", ""]
    if meta := _meta(handout):
        lines += [_md(meta), ""]
    sources, sources_note = handout_sources([item.case for item in handout.items])
    for item, source in zip(handout.items, sources, strict=True):
        lines += [f"## {_md(_place(item.case))}「{_md(item.case.title)}」", ""]
        lines += [f"**{_md(item.label)}**", ""]
        lines += [_md(p) + "  " for p in item_text(item)]
        lines.append("")
        if item.memo:  # each line of it in the quote, kept apart by a hard break
            first, *rest = item.memo.split("\n")
            lines += [f"> メモ: {_md(first)}  ", *(f"> {_md(m)}  " for m in rest), ""]
        lines += [f"*{_md(source)}*", ""] if source else []
    for note in (sources_note, figures_note(item.case for item in handout.items)):
        if note:
            lines += [_md(note), ""]
    return "\n".join(lines)


def handout_docx(handout: Handout) -> bytes:
    """The handout as a Word file (python-docx): a page per case, in the chosen order."""
    from docx import Document  # imported here: only the download needs it
    from docx.enum.text import WD_BREAK

    doc = Document()
    _a4_in_japanese(doc)
    doc.add_heading(handout.title, level=0)
    if meta := _meta(handout):
        doc.add_paragraph(meta)
    previous = None
    sources, sources_note = handout_sources([item.case for item in handout.items])
    for item, source in zip(handout.items, sources, strict=True):
        if previous is not None and previous != item.case.id:
            doc.paragraphs[-1].add_run().add_break(WD_BREAK.PAGE)
        previous = item.case.id
        doc.add_heading(f"{_place(item.case)}「{item.case.title}」", level=1)
        doc.add_heading(item.label, level=2)
        for para in item_text(item):
            doc.add_paragraph(para)
        if item.memo:
            doc.add_paragraph(f"メモ: {item.memo}")
        if source:
            doc.add_paragraph(source).runs[0].italic = True
    for note in (sources_note, figures_note(item.case for item in handout.items)):
        if note:
            doc.add_paragraph(note)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


# The Word handout: A4 (Japanese offices print on it; python-docx's template is US Letter),
# margins in millimetres, and headings in the pages' dark blue (11:1 on white; the template's
# Heading 2 blue is 4:1, too light for a 13 pt heading).
PAGE_MM = (210, 297)
MARGIN_MM = 20
HEADING_RGB = (0x1F, 0x3B, 0x57)
HEADING_STYLES = ("Title", "Heading 1", "Heading 2")


def _a4_in_japanese(doc) -> None:
    """Page size and margins, Japanese as the text's language (Word's proofing, line breaking
    and fonts read it: the template says en-US), headings dark enough to read, and 「n / total」
    at the foot of every page."""
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Mm, RGBColor

    for section in doc.sections:
        section.page_width, section.page_height = (Mm(x) for x in PAGE_MM)
        for side in ("top", "bottom", "left", "right"):
            setattr(section, f"{side}_margin", Mm(MARGIN_MM))
        foot = section.footer.paragraphs[0]
        foot.alignment = WD_ALIGN_PARAGRAPH.CENTER
        for i, instruction in enumerate(("PAGE", "NUMPAGES")):
            if i:
                foot.add_run(" / ")
            # a field Word fills in as it lays out the pages ("1" until it does)
            for part in ("begin", instruction, "separate", "1", "end"):
                if part == "1":
                    foot.add_run(part)
                    continue
                mark = OxmlElement("w:instrText" if part == instruction else "w:fldChar")
                if part == instruction:
                    mark.text = f" {instruction} "
                    mark.set(qn("xml:space"), "preserve")
                else:
                    mark.set(qn("w:fldCharType"), part)
                foot.add_run().element.append(mark)
    defaults = doc.styles.element.find(qn("w:docDefaults"))
    run_defaults = defaults.find(qn("w:rPrDefault")).find(qn("w:rPr"))
    lang = run_defaults.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        run_defaults.append(lang)
    lang.set(qn("w:val"), "ja-JP")
    lang.set(qn("w:eastAsia"), "ja-JP")
    doc.core_properties.language = "ja-JP"
    for name in HEADING_STYLES:
        doc.styles[name].font.color.rgb = RGBColor(*HEADING_RGB)


def _md(text: str) -> str:
    """Neutralise Markdown and HTML syntax in corpus text."""
    for ch in "\\`*_[]<>#|":
        text = text.replace(ch, "\\" + ch)
    return " ".join(text.split())
