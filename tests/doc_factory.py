"""Write 事例集 documents (PDF, .docx, text) from curated cases, and read the imported drafts
back for comparison, for the import tests and eval/import_eval.py.

The layout follows the report's template with its labels in reading order, plus what real
files add: a running header and page numbers (PDF), overview figures with numbers, and the
case's figure words as a block of short lines (a diagram's text layer).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from caresearch.corpus import _to_case
from caresearch.models import Case

FONT = Path("/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf")
WS = re.compile(r"\s+")


def overview_for(case: Case) -> dict[str, str]:
    """Synthetic overview figures (the curated cases lost theirs), stable per case."""
    n = sum(map(ord, case.id)) % 90 + 10
    return {
        "total_population": f"{n * 1000 + 234:,}人",
        "population_65_over": f"{n * 310:,}人（{n % 20 + 20}.{n % 10}％）",
        "care_certified": f"{n * 52:,}人",
        "insurance_premium": f"{4000 + n * 17:,}円",
    }


def case_lines(case: Case, *, figures: bool = True) -> list[str]:
    out = [
        f"キーワード {'、'.join(case.keywords)}",
        case.title,
        f"{case.prefecture} {case.municipality}",
    ]
    out.append("【この事例の特徴】")
    out += [f"・ {x.text}" for x in case.features]
    ov = overview_for(case)
    out += [
        "地域概要",
        f"総人口：{ov['total_population']}",
        f"65歳以上人口：{ov['population_65_over']}",
        f"要介護認定者数：{ov['care_certified']}",
        f"第9期介護保険料：{ov['insurance_premium']}",
    ]
    if case.implementing_bodies:
        out.append("実施主体")
        out += [f"・{b}" for b in case.implementing_bodies]
    out.append("取り組みの背景・課題認識")
    out += [f"・ {x.text}" for x in case.background]
    if case.recommendation:
        out += ["《検討会からの推薦メッセージ》", case.recommendation]
    out.append("取り組み内容")
    if case.summary:
        out.append(case.summary)
    for sec in case.contents:
        sub = f" ～{sec.subheading}" if sec.subheading else ""
        out.append(f"【{sec.heading}{sub}】")
        out += [f"・ {p}" for p in sec.paragraphs]
        if sec.budget:
            out.append(f"【予算】{sec.budget.replace(chr(10), '')}")
    if figures:
        for text in case.diagram_text[:2]:
            out += _figure_lines(text)
    if case.history:
        out.append("取り組みの経緯")
        for ev in case.history:
            out.append(ev.period_label)
            out += ev.text.split("\n")
    out.append("取り組みの成果")
    if case.changes:
        out.append("地域に見られた変化")
        out += [f"・ {x.text}" for x in case.changes]
    if case.stories:
        out.append("取り組みが生かされた個別支援")
        for st in case.stories:
            if st.title:
                out.append(f"《{st.title}》")
            if st.subject:
                out.append(st.subject)
            out += list(st.paragraphs)
    out.append("この事例のポイント（工夫や成功要因など）")
    out.append("１．地域")
    out += [f"・ {x.text}" for x in case.key_points if x.audience == "region"]
    out.append("２．自治体")
    out += [f"・ {x.text}" for x in case.key_points if x.audience == "municipality"]
    out.append(case.suggestions_label)
    out += [f"・ {x.text}" for x in case.suggestions]
    if case.contact:
        out += ["【参考】連絡先", f"・ {case.contact}"]
    return out


def _figure_lines(text: str) -> list[str]:
    """A diagram's words as a text layer gives them: short, one box per line."""
    words = [w for w in re.split(r"\s+", text) if w]
    out: list[str] = []
    for w in words:
        out += [w[i : i + 8] for i in range(0, len(w), 8)]
    return out[:40]


def write_case(case: Case, path: Path, kind: str, *, figures: bool = True) -> Path:
    return write_cases([case], path, kind, figures=figures)


def write_cases(cases: list[Case], path: Path, kind: str, *, figures: bool = True) -> Path:
    lines: list[str] = []
    for case in cases:
        lines += case_lines(case, figures=figures)
        lines.append("\f")
    if kind == "pdf":
        write_pdf(lines, path)
    elif kind == "docx":
        write_docx([x for x in lines if x != "\f"], path)
    else:
        path.write_text("\n".join(lines), encoding="utf-8")
    return path


def write_pdf(
    lines: list[str], path: Path, *, header: str = "地域包括ケアシステムの取組事例集"
) -> None:
    from fpdf import FPDF
    from fpdf.enums import WrapMode

    class Report(FPDF):
        def header(self) -> None:
            self.set_font("ipag", size=8)
            self.cell(0, 6, header, align="R", new_x="LMARGIN", new_y="NEXT")

        def footer(self) -> None:
            self.set_y(-12)
            self.set_font("ipag", size=8)
            self.cell(0, 6, str(self.page_no()), align="C")

    pdf = Report(format="A4")
    pdf.add_font("ipag", fname=str(FONT))
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    pdf.set_font("ipag", size=10)
    for line in lines:
        if line == "\f":
            if pdf.get_y() > 30:
                pdf.add_page()
            continue
        pdf.multi_cell(
            0, 5.5, line, align="L", new_x="LMARGIN", new_y="NEXT", wrapmode=WrapMode.CHAR
        )
    pdf.output(str(path))


def write_docx(lines: list[str], path: Path) -> None:
    import docx

    document = docx.Document()
    for line in lines:
        document.add_paragraph(line)
    document.save(str(path))


# ---------------------------------------------------------------- reading the drafts back


def norm(s: str) -> str:
    """Text compared whitespace-insensitively."""
    return WS.sub("", s)


def read_drafts(out: Path) -> list[tuple[dict[str, Any], Case]]:
    """(YAML data, Case) of every draft in `out`, by file name."""
    found = []
    for p in sorted(out.glob("*.yaml")):
        d = yaml.safe_load(p.read_text(encoding="utf-8"))
        found.append((d, _to_case(d)))
    return found


def unrestored(text: str, target: str, case: Case) -> str:
    """The curated text without the words an editor restored (absent from any source)."""
    for r in case.restorations:
        if r.target == target:
            text = text.replace(r.restored, "", 1)
    return text
