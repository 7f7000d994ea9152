"""Plain-text and Markdown renderings of cases and lessons (for `show` and the handout)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .models import AUDIENCE_LABELS, Case, Lesson

FIGURES_NOTE = "※ 抽出元のPDFから半角の数字と英字が失われているため、人口・年度・件数などの数値は表示できません。"


def case_sections(case: Case) -> list[tuple[str, list[str]]]:
    """(heading, paragraphs) in reading order; the one order shared by `show` and Markdown."""
    out: list[tuple[str, list[str]]] = []

    def add(heading: str, paras: Iterable[str]) -> None:
        paras = [p for p in paras if p]
        if paras:
            out.append((heading, paras))

    add("この事例の特徴", (f"・{i.text}" for i in case.features))
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
            [*([st.subject] if st.subject else []), *st.paragraphs],
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
    lines += ["", FIGURES_NOTE]
    if case.source:
        lines.append(f"出典: {case.source.report} {case.source.chapter}")
    return "\n".join(lines) + "\n"


def handout_markdown(
    title: str, cases: Sequence[Case], lessons: Sequence[tuple[Case, Lesson]], base_url: str = ""
) -> str:
    """The handout for a meeting (協議の場): chosen lessons, then chosen cases in brief."""
    lines = [f"# {title}", ""]
    if lessons:
        lines += ["## 取り組みのヒント", ""]
        for case, lesson in lessons:
            kind = (
                "これから取り組む皆さまへ" if lesson.kind == "suggestion" else "この事例のポイント"
            )
            lines.append(f"- {_md(lesson.text)}  ")
            lines.append(
                f"  （{_md(case.prefecture)} {_md(case.municipality)}・{kind}・{lesson.id}）"
            )
        lines.append("")
    if cases:
        lines += ["## 参考事例", ""]
        for case in cases:
            lines += [f"### {_md(case.prefecture)} {_md(case.municipality)}: {_md(case.title)}", ""]
            lines += [f"- {_md(i.text)}" for i in case.features]
            if base_url:
                lines.append(f"- 詳細: {base_url}/cases/{case.id}")
            lines.append("")
    lines += [FIGURES_NOTE, ""]
    return "\n".join(lines)


def _md(text: str) -> str:
    """Neutralise Markdown and HTML syntax in corpus text."""
    for ch in "\\`*_[]<>#|":
        text = text.replace(ch, "\\" + ch)
    return " ".join(text.split())
