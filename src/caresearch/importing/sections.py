"""Turn one section's lines into items or paragraphs: rejoin hard wraps, split at bullets,
and set aside figure text (runs of short fragments that never form a sentence)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from . import layout as L
from .finding import CaseLines, ends_sentence, is_bullet, is_period, label_of, width
from .repair import Line

SHORT = 12  # characters: figure labels are shorter than this, on average
SHORT_RUN = 3  # this many short unbulleted lines in a row, outside a paragraph, are a figure


@dataclass
class Parsed:
    """A section's result: texts plus the lines moved to the diagram text."""

    texts: list[Any] = field(default_factory=list)
    diagram: list[list[Line]] = field(default_factory=list)


def unbullet(s: str) -> str:
    return L.BULLET.sub("", s).strip()


def join(lines: list[Line]) -> str:
    """Japanese hard wraps: concatenate with no separator (a space only between two Latin words)."""
    out = ""
    for ln in lines:
        t = ln.text
        if out and re.search(r"[A-Za-z0-9]$", out) and re.match(r"^[A-Za-z0-9]", t):
            out += " "
        out += t
    return out


def is_figure_block(lines: list[Line]) -> bool:
    """Does a run of unbulleted lines read as figure labels rather than prose?"""
    if not lines:
        return False
    text = join(lines)
    mean = sum(len(ln.text) for ln in lines) / len(lines)
    return "。" not in text or mean < SHORT


def short_run(lines: list[Line], start: int) -> bool:
    """Do SHORT_RUN unbulleted lines from `start` look like figure labels (all short)?"""
    run = lines[start : start + SHORT_RUN]
    return (
        len(run) == SHORT_RUN
        and not any(is_bullet(x) or is_period(x) or L.HEADING.match(x.text) for x in run)
        and all(len(x.text) < SHORT + 4 for x in run)
        and sum(len(x.text) for x in run) / SHORT_RUN < SHORT
    )


def _block(lines: list[Line], start: int, case: CaseLines) -> list[Line]:
    """Unbulleted lines from `start` up to the next bullet or break."""
    out = [lines[start]]
    for ln in lines[start + 1 :]:
        if is_bullet(ln) or ln.n in case.breaks or L.HEADING.match(ln.text) or is_period(ln):
            break
        out.append(ln)
    return out


def items(lines: list[Line], case: CaseLines, *, prose: bool = False) -> Parsed:
    """Items of a bulleted list: a bullet starts one, other lines continue it.

    An unbulleted run that starts where no item is open (after a skipped label, after a finished
    sentence, or before the first bullet) is a new paragraph when it reads as prose, and figure
    text otherwise. With `prose`, a paragraph also ends at a sentence end followed by a line that
    is short of the full width.
    """
    out = Parsed()
    current: list[Line] = []
    full = max((width(ln.text) for ln in lines), default=0)
    # a document wrapped at a fixed width (finding.hard_wrapped) leaves several of this
    # section's lines at its full width; in a file with one item per line (typed text, Word)
    # 「・」 always opens an item
    wrapped = case.hard_wrapped and sum(width(ln.text) >= 0.9 * full for ln in lines) >= 2
    in_figure = False
    i = 0
    while i < len(lines):
        ln = lines[i]
        prev = current[-1] if current else None
        if in_figure:
            # A figure goes on until a line that reads as text: a long bullet or a sentence.
            if ln.n in case.breaks or (
                width(ln.text) >= 0.75 * full and (is_bullet(ln) or ends_sentence(ln))
            ):
                in_figure = False
            else:
                out.diagram[-1].append(ln)
                i += 1
                continue
        wraps_onto = (
            case.hard_wrapped
            and prev is not None
            and not ends_sentence(prev)
            and not prev.text.endswith("ましょう")  # a suggestion ends so, without 。
            and width(prev.text) >= 0.75 * full
        )
        if not is_bullet(ln) and not ends_sentence(ln) and not wraps_onto and short_run(lines, i):
            if current:
                out.texts.append(current)
            current = []
            out.diagram.append([ln])
            in_figure = True
            i += 1
            continue
        # typed text and Word keep a paragraph to its line: one that ends a sentence ends it,
        # unless the next line is indented to go on the same item
        typed_end = not case.hard_wrapped and ends_sentence(prev) and not ln.raw[:1].isspace()
        closed = (
            typed_end
            or not current
            or ln.n in case.breaks
            or (prose and ends_sentence(prev))
            or (ends_sentence(prev) and prev is not None and width(prev.text) < 0.8 * full)
        )
        # 「・」 opening a line right after a full line is a middle dot that wrapped (医療機関・訪問).
        mid_dot = (
            wrapped
            and ln.text.startswith("・")
            and not ln.text[1:2].isspace()
            and prev is not None
            and not ends_sentence(prev)
            and width(prev.text) >= 0.9 * full
        )
        if is_bullet(ln) and not mid_dot:
            if current:
                out.texts.append(current)
            current = [ln]
            i += 1
            continue
        if mid_dot:
            current.append(ln)
            i += 1
            continue
        if closed:
            block = _block(lines, i, case)
            if is_figure_block(block) and (
                not prose or len(block) >= SHORT_RUN or "。" not in join(block)
            ):
                out.diagram.append(block)
                i += len(block)
                if current:
                    out.texts.append(current)
                current = []
                continue
            if current and (prose or ln.n in case.breaks or typed_end):
                out.texts.append(current)
                current = []
        current.append(ln)
        i += 1
    if current:
        out.texts.append(current)
    out.texts = [t for t in (unbullet(join(group)) for group in out.texts) if t]
    return out


def prose_paragraphs(lines: list[Line], case: CaseLines) -> Parsed:
    return items(lines, case, prose=True)


def bodies(lines: list[Line], case: CaseLines) -> Parsed:
    parsed = items(lines, case)
    out: list[str] = []
    for group_text, bulleted in _bulleted_texts(lines, parsed.texts):
        if bulleted:
            out.append(group_text)
        else:  # a wrapped comma-separated list
            out.extend(p.strip() for p in group_text.split("、") if p.strip())
    parsed.texts = out
    return parsed


def _bulleted_texts(lines: list[Line], texts: list[str]) -> list[tuple[str, bool]]:
    bulleted = {unbullet(ln.text)[:6] for ln in lines if is_bullet(ln)}
    return [(t, t[:6] in bulleted) for t in texts]


def contents(lines: list[Line], case: CaseLines) -> Parsed:
    """【heading ～subheading】 sections with their paragraphs and 【予算】 budget."""
    out = Parsed()
    sections: list[dict[str, Any]] = []
    body: list[Line] = []
    budget: list[Line] = []

    def close() -> None:
        nonlocal body, budget
        if not sections:
            if body or budget:
                case.review.append(
                    "取り組み内容の見出し（【…】）より前の文章を、見出しのない項目にしました"
                )
                sections.append(_section("（見出しなし）"))
            else:
                return
        parsed = items(body, case)
        sections[-1]["paragraphs"].extend(parsed.texts)
        out.diagram.extend(parsed.diagram)
        if budget:
            sections[-1]["budget"] = "\n".join(_budget_entries(budget))
        body, budget = [], []

    budget_done = False
    for ln in lines:
        m_budget = L.BUDGET.match(ln.text)
        if m_budget:
            if budget and not budget_done:
                budget.append(ln)
            else:
                budget = [Line(ln.n, ln.page, ln.raw, m_budget.group(1).strip(), ln.marker)]
                budget_done = False
            continue
        m = L.HEADING.match(ln.text)
        if budget and not budget_done and not m and not is_bullet(ln):
            last = budget[-1]
            longest = max(width(b.text) for b in budget)
            wrapped = not re.search(r"[）)。]$", last.text) and width(last.text) >= 0.8 * longest
            if L.BUDGET_WORDS.search(ln.text) or wrapped:
                budget.append(ln)
                continue
        if budget and not budget_done:
            budget_done = True
            case.breaks.add(ln.n)  # what follows a budget starts a new block
        if m:
            close()
            budget_done = False
            sections.append(_section(m.group(1) + (f"～{m.group(2)}" if m.group(2) else "")))
            continue
        body.append(ln)
    close()
    # A heading with nothing under it is a boxed word of a figure, not a section.
    for sec in sections:
        if not sec["paragraphs"] and not sec["budget"]:
            out.diagram.append([Line(0, 0, sec["heading"], sec["heading"])])
    out.texts = [sec for sec in sections if sec["paragraphs"] or sec["budget"]]
    return out


def _section(inner: str) -> dict[str, Any]:
    heading, _, sub = inner.strip().partition("～")
    return {
        "heading": heading.strip() or inner.strip(),
        "subheading": sub.strip().strip("～").strip() or None,
        "paragraphs": [],
        "budget": None,
    }


def _budget_entries(lines: list[Line]) -> list[str]:
    parts: list[str] = []
    cur = ""
    for ln in lines:
        cur += ln.text
        if cur.endswith("）"):
            parts.append(cur)
            cur = ""
    if cur:
        parts.append(cur)
    return [p for p in parts if p.strip()]


def history(lines: list[Line], case: CaseLines) -> Parsed:
    """Timeline: a period line, then its entries (one per line or bulleted)."""
    out = Parsed()
    events: list[tuple[str, list[Line]]] = []
    i = 0
    while i < len(lines):
        ln = lines[i]
        m = L.TIMELINE_ENTRY.match(ln.text)
        if m:
            entry = m.group(2) or m.group(3)
            events.append(
                (m.group(1).strip(), [Line(ln.n, ln.page, ln.raw, entry)] if entry else [])
            )
            i += 1
            continue
        if not events:
            case.review.append(
                f"取り組みの経緯の時期より前の行を経緯に含めませんでした: 「{ln.text[:30]}」"
            )
            out.diagram.append([ln])
            i += 1
            continue
        if not is_bullet(ln) and short_run(lines, i):
            # A phase figure: it runs to the end of the section, unless a period followed by a
            # bulleted entry resumes the timeline.
            run: list[Line] = []
            while i < len(lines):
                x = lines[i]
                nxt = lines[i + 1] if i + 1 < len(lines) else None
                if is_period(x) and nxt is not None and is_bullet(nxt):
                    break
                run.append(x)
                i += 1
            out.diagram.append(run)
            continue
        events[-1][1].append(ln)
        i += 1
    bulleted = any(is_bullet(x) for _p, ls in events for x in ls)
    for period, ls in events:
        entries = _timeline_entries(ls, bulleted)
        out.texts.append((period, "\n".join(entries)))
    return out


def _timeline_entries(lines: list[Line], bulleted: bool) -> list[str]:
    if not lines:
        return []
    full = max(width(ln.text) for ln in lines)
    out: list[list[Line]] = []
    for ln in lines:
        if not out or is_bullet(ln):
            out.append([ln])
            continue
        prev = out[-1][-1]
        if bulleted or _continues(prev.text, ln.text, full):
            out[-1].append(ln)
        else:
            out.append([ln])
    return [t for t in (unbullet(join(g)) for g in out) if t]


def _continues(line: str, nxt: str, full: int) -> bool:
    """In a one-entry-a-line timeline, does `line` wrap onto `nxt`?"""
    if re.search(r"[、をにへがのとで]$", line):
        return True
    if line.count("（") > line.count("）") or line.count("「") > line.count("」"):
        return True
    if re.match(r"^[のをにへがはとでもやーッャュョァィゥェォっゃゅょ）」、。]", nxt):
        return True
    return width(line) >= 0.97 * full and not L.SENTENCE_END.search(line)


def stories(lines: list[Line], case: CaseLines) -> Parsed:
    out = Parsed()
    stories_: list[dict[str, Any]] = []
    body: dict[int, list[Line]] = {}
    for ln in lines:
        m = L.STORY_TITLE.match(ln.text)
        if m and not label_of(ln):
            stories_.append({"title": m.group(1).strip(), "subject": None})
            continue
        if L.SUBJECT.match(ln.text):
            if stories_ and not body.get(len(stories_) - 1):  # under its 《title》, or a second
                subject = stories_[-1]["subject"]  # person of the same story
                stories_[-1]["subject"] = f"{subject}、{ln.text}" if subject else ln.text
            else:  # a typed story starts with its person (Ｃさん（80代・女性）), untitled
                stories_.append({"title": None, "subject": ln.text})
            continue
        if not stories_:
            stories_.append({"title": None, "subject": None})
        body.setdefault(len(stories_) - 1, []).append(ln)
    for i, st in enumerate(stories_):
        parsed = prose_paragraphs(body.get(i, []), case)
        out.diagram.extend(parsed.diagram)
        if parsed.texts or st["title"] or st["subject"]:
            out.texts.append({**st, "paragraphs": parsed.texts})
    return out


def overview(lines: list[Line]) -> dict[str, str]:
    """Overview figures that carry a number (a label whose value was lost gives nothing)."""
    found: dict[str, str] = {}
    aged = 0
    for ln in lines:
        key = ln.key
        for name, pattern in L.OVERVIEW_FIELDS:
            m = pattern.match(key)
            if not m:
                continue
            if name == "population_65_over":
                aged += 1
                if aged == 2 and not key.startswith(("65", "６５")):  # 歳以上人口 twice
                    name = "population_75_over"
            value = m.group(1).strip()
            if name == "note":
                value = ln.text
            if (name == "note" or re.search(r"[0-9０-９]", value)) and name not in found:
                found[name] = value
            break
    return found


def is_label_line(ln: Line) -> bool:
    return label_of(ln) is not None
