"""Find the cases in a repaired document and give each line its section.

Two passes per case. `assign` walks the lines once with the template's section order as a
state machine: a label switches section only when it stands before content that fits it
(extraction prints most grey label boxes *after* their content; those are recognised and
skipped), and some lines start a section by their form wherever they are (a ✓ bullet, a 《…》
story title, a 【…】 heading, a timeline period, an overview field). Then `sections` turns each
section's lines into items or paragraphs, rejoining hard-wrapped lines, and moves figure text
(short fragments that never form a sentence) to the case's diagram text.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise

from . import layout as L
from .repair import Line

ORDER = {name: i for i, name in enumerate(L.SECTION_ORDER)}
# hard wraps in a text file: at least this many lines of this many characters or more share one
# width within a band of this many columns, and at least this share of them
WRAP_MIN_CHARS = 12
WRAP_BAND = 5
WRAP_MIN_LINES = 4
WRAP_MIN_SHARE = 0.2
WRAP_MAX_WIDER_SHARE = 0.2  # ... and at most this share of them is wider than the band
HEAD_LINES = 3  # the place and title lines a typed case may have above its キーワード line


@dataclass
class CaseLines:
    """One case's lines, sorted into sections (before parsing)."""

    keywords: Line | None
    title: list[Line]
    location: Line | None
    lines: list[Line]  # every line of the case, for the source range
    sections: dict[str, list[Line]] = field(default_factory=dict)
    breaks: set[int] = field(default_factory=set)  # line numbers right after a skipped label
    # the document's lines were wrapped at a fixed width (a PDF, or text copied from one);
    # typed text and Word hold one paragraph or item per line
    hard_wrapped: bool = True
    diagram: list[list[Line]] = field(default_factory=list)
    suggestions_label: str | None = None
    review: list[str] = field(default_factory=list)

    def add(self, section: str, line: Line) -> None:
        self.sections.setdefault(section, []).append(line)


# ---------------------------------------------------------------- helpers


def label_of(line: Line) -> tuple[str, str | None] | None:
    """(label key, section) when the line is a template label."""
    key = line.key
    if L.RECOMMENDATION.match(key) or L.RECOMMENDATION.match(line.text):
        return key, "recommendation"
    for k in (key, key.strip("【】")):
        if k in L.LABELS:
            return k, L.LABELS[k]
    if key in L.TYPED_LABELS:
        return key, L.TYPED_LABELS[key]
    return None


def is_period(line: Line) -> bool:
    return bool(L.PERIOD.match(line.text))


def is_bullet(line: Line) -> bool:
    return bool(line.marker) or bool(L.ITEM_START.match(line.text))


def is_bare_marker(line: Line) -> bool:
    return line.text in ("", "・", "-", "*") and not label_of(line)


def is_overview(line: Line) -> bool:
    return any(p.match(line.key) for _f, p in L.OVERVIEW_FIELDS) or bool(
        L.OVERVIEW_NOISE.match(line.key)
    )


def figure_follows(lines: Sequence[Line], k: int, run: int = 3, short: int = 12) -> bool:
    """Are the `run` lines after lines[k] short unbulleted fragments (a figure)?"""
    after = [x for x in lines[k + 1 : k + 1 + run] if not is_bare_marker(x)]
    return len(after) == run and all(
        len(x.text) < short
        and not is_bullet(x)
        and not label_of(x)
        and not (L.HEADING.match(x.text) and len(x.text) >= 8)
        and not is_period(x)
        for x in after
    )


def width(s: str) -> int:
    """Display width: a full-width character counts two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def ends_sentence(line: Line | None) -> bool:
    return line is not None and bool(L.SENTENCE_END.search(line.text))


# ---------------------------------------------------------------- cases


def split_cases(lines: Sequence[Line], kind: str = "pdf") -> tuple[list[CaseLines], list[Line]]:
    """Cases (each from its キーワード line, or its location line when a document has no
    キーワード lines) and the lines before the first case."""
    lines = _labels_apart(lines)
    starts = [
        i for i, ln in enumerate(lines) if L.KEYWORDS.match(ln.key) and ln.key != "キーワード"
    ]
    by_location = False
    # The title is the line(s) just above the location line; a document typed in its own order
    # may put the place and title above the キーワード line too (長野県 青葉村 / title / キーワード).
    head = _head_start
    if not starts:
        starts = [i for i, ln in enumerate(lines) if L.LOCATION.match(ln.text)]
        by_location, head = True, _title_start
    if not starts:  # neither: a town's own collection may head each case 「事例２ 社協による…」,
        # and a case has a section label before the next (a 目次 of such lines is no case)
        numbered = [i for i, ln in enumerate(lines) if _numbered_title(ln)]
        starts = [
            i
            for i, nxt in zip(numbered, [*numbered[1:], len(lines)], strict=False)
            if any(label_of(ln) for ln in lines[i + 1 : nxt])
        ]
        head = _at_line
    if not starts:
        return [], list(lines)
    cases: list[CaseLines] = []
    starts = [head(lines, i, prev) for prev, i in zip([-1, *starts[:-1]], starts, strict=True)]
    wrapped = hard_wrapped(lines, kind)
    for k, start in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else len(lines)
        case = assign(list(lines[start:end]), with_keywords=not by_location)
        case.hard_wrapped = wrapped
        cases.append(case)
    return cases, list(lines[: starts[0]])


def _labels_apart(lines: Sequence[Line]) -> list[Line]:
    """A label written with its text (背景：町内の…, 事例名：…) as the label's line and the
    text's (only the text for a title's or a place's label), as the other layouts put them;
    a label with its colon alone (背景：) as the label; not a キーワード or 連絡先 line, which are
    read as they are."""
    out: list[Line] = []
    lines = list(lines)
    for k, ln in enumerate(lines):
        bare = ln.text.rstrip("：: ")
        if bare in L.ONE_LINE_LABELS and bare != ln.text and k + 1 < len(lines):
            # キーワード： with its words on the next line, as 背景： (a Word cell's line break)
            lines[k + 1] = replace(lines[k + 1], text=f"{bare}：{lines[k + 1].text}")
            continue
        m = L.LABELLED.match(ln.text)
        if L.KEYWORDS.match(ln.key) or L.INLINE_CONTACT.match(ln.text):
            out.append(ln)
        elif bare != ln.text and _is_label_word(bare):  # 背景： on a line of its own
            out += [] if bare in L.HEAD_LABELS else [replace(ln, text=bare)]
        elif m is None or not _is_label_word(m.group(1)):
            out.append(ln)
        elif m.group(1) in L.HEAD_LABELS:
            out.append(replace(ln, text=m.group(2)))
        else:
            out += [replace(ln, text=m.group(1)), replace(ln, text=m.group(2))]
    return out


def _is_label_word(text: str) -> bool:
    """A label of the template, of a typed document or of a 事例シート (背景, 成果, 事例名)."""
    tables = (L.LABELS, L.TYPED_LABELS, L.TYPED_HEADINGS, L.HEAD_LABELS)
    return any(text in table for table in tables)


def hard_wrapped(lines: Sequence[Line], kind: str) -> bool:
    """Were the lines wrapped at a fixed width? A Word file's paragraphs are not; a text file or
    a PDF may be either (a typeset report, or a typed memo printed to PDF, one item per line):
    wrapped when many of its long lines share one width, give or take a character or two (a
    typed line ends where its sentence ends), and one of them stops in mid-sentence; a PDF
    needs only that line (a typeset page of one short case has few lines of any width)."""
    if kind not in ("text", "pdf"):
        return False
    # only lines of running text: the template's labels, headings and the like are all of a
    # few lengths and would make a band of their own
    running = [ln for ln in lines if not _furniture(ln) and len(ln.text) >= WRAP_MIN_CHARS]
    widths = Counter(width(ln.text) for ln in running)
    if not widths:
        return False
    start = max(widths, key=lambda w: sum(widths[w + d] for d in range(WRAP_BAND)))
    band = range(start, start + WRAP_BAND)
    common = sum(widths[w] for w in band)
    # the band is the wrap width: few lines are wider (a footnote may be)
    wider = sum(n for w, n in widths.items() if w >= band.stop)
    # ... and one of those lines stops in mid-sentence with its sentence going on below
    # (similar lengths alone happen in a typed list too)
    cut = any(
        width(ln.text) in band
        and not (ends_sentence(ln) or ln.text.endswith("ましょう"))
        and (_continues(nxt) or _NOUN_CUT_AT_DOT.match(ln.text[-1:] + nxt.text[:2]) is not None)
        for ln, nxt in pairwise(lines)
    )
    if kind == "pdf":  # a short typeset page has few lines of its width; one cut line says it
        return cut
    total = widths.total()
    return (
        cut
        and common >= WRAP_MIN_LINES
        and common >= WRAP_MIN_SHARE * total
        and wider <= WRAP_MAX_WIDER_SHARE * total
    )


# A list of nouns cut at a middle dot (…医療機関 / ・訪問看護…): a kanji or katakana at the end
# of the line, 「・」 and another at the start of the next. A typed item ends in kana (…している).
_NOUN_CUT_AT_DOT = re.compile("[一-鿿ァ-ヺ]・[一-鿿ァ-ヺ]")


def _continues(line: Line) -> bool:
    """Could `line` go on the sentence of the line before it (not a new item, nor a label,
    heading or the like)?"""
    return not (is_bullet(line) or _furniture(line))


def _furniture(line: Line) -> bool:
    """A template label, a 【heading】, a timeline entry, a keyword, place or contact line, a
    story's 《title》 or its person: no running text."""
    return bool(
        label_of(line)
        or L.HEADING.match(line.text)
        or L.TIMELINE_ENTRY.match(line.text)
        or L.LOCATION.match(line.text)
        or L.INLINE_CONTACT.match(line.text)
        or L.KEYWORDS.match(line.key)
        or L.STORY_TITLE.match(line.text)
        or L.SUBJECT.match(line.text)
    )


def _numbered_title(line: Line) -> bool:
    """A case's title with the collection's number before it (事例２ 社協による買い物支援), not
    a sentence about a case (事例２では…。)."""
    rest = L.CASE_NUMBER.sub("", line.text, count=1)
    return rest != line.text and bool(rest.strip()) and not ends_sentence(line)


def _at_line(lines: Sequence[Line], i: int, prev: int) -> int:
    return i


def _title_start(lines: Sequence[Line], loc: int, prev: int) -> int:
    i = loc
    while (
        i - 1 > prev
        and loc - (i - 1) <= 2
        and not label_of(lines[i - 1])
        and not is_bullet(lines[i - 1])
    ):
        i -= 1
    return i


def _head_start(lines: Sequence[Line], kw: int, prev: int) -> int:
    """Where the case of the キーワード line `kw` starts: at its place line when the case has
    it just above the キーワード line (長野県 青葉村 / title / キーワード), or at the one title line
    above that place when no title comes between place and キーワード and none follows the
    キーワード line either; else at the キーワード line itself (the report's own layout puts the
    title and the place under it)."""
    if _place_below(lines, kw):
        return kw
    i = kw
    while i - 1 > prev and kw - (i - 1) <= HEAD_LINES and not _ends_a_case(lines[i - 1]):
        i -= 1
    place = next((j for j in range(i, kw) if L.LOCATION.match(lines[j].text)), None)
    if place is None:
        # no place line: a numbered title just above (事例２ 社協による…) is still the case's
        numbered = [j for j in range(i, kw) if _numbered_title(lines[j])]
        return numbered[-1] if numbered else kw
    title_below = kw + 1 < len(lines) and not label_of(lines[kw + 1])
    if place + 1 < kw or title_below or place - 1 < i:
        return place
    return place - 1


def _place_below(lines: Sequence[Line], kw: int) -> bool:
    """Whether a place line follows the キーワード line `kw` before any label (the report's
    layout: キーワード / title / place)."""
    for ln in lines[kw + 1 : kw + 1 + HEAD_LINES]:
        if label_of(ln):
            return False
        if L.LOCATION.match(ln.text):
            return True
    return False


def _ends_a_case(line: Line) -> bool:
    """A line that cannot be the place or the title of the next case: a label, an item, the
    end of a sentence, or the furniture of the case before (its contact line)."""
    furniture = _furniture(line) and not L.LOCATION.match(line.text)
    return bool(label_of(line) or is_bullet(line) or ends_sentence(line) or furniture)


# ---------------------------------------------------------------- pass 1: sections


def assign(lines: list[Line], *, with_keywords: bool) -> CaseLines:
    case = CaseLines(keywords=None, title=[], location=None, lines=lines)
    i = 0
    if with_keywords:
        # the place and title may stand above the キーワード line (`_head_start`)
        k = next(k for k, ln in enumerate(lines) if L.KEYWORDS.match(ln.key))
        head, case.keywords = lines[:k], lines[k]
        i = k + 1
        place = [ln for ln in head if L.LOCATION.match(ln.text)]
        if place:  # the title under the place, or above it
            case.location = place[0]
            case.title = [ln for ln in head if ln is not place[0]]
        elif head:  # a numbered title above the キーワード line, and no place line
            case.title = head
    # Title: up to the location line (or the first label when there is none).
    j = i
    while (
        case.location is None
        and j < len(lines)
        and not L.LOCATION.match(lines[j].text)
        and not label_of(lines[j])
        and j - i < 4
    ):
        j += 1
    if case.location is None and j < len(lines) and L.LOCATION.match(lines[j].text):
        case.title, case.location = lines[i:j], lines[j]
        i = j + 1
    elif case.location is None and not case.title:
        case.title = lines[i : i + 1] if i < len(lines) and not label_of(lines[i]) else []
        i += len(case.title)
    # a document that puts the title under the place (岩手県 山田町 / 移動販売車と…)
    if not case.title and i < len(lines) and not label_of(lines[i]) and not is_bullet(lines[i]):
        case.title = [lines[i]]
        i += 1
    municipality = ""
    if case.location is not None:
        m = L.LOCATION.match(case.location.text)
        municipality = m.group(2) if m else ""

    state = "features"
    figure: list[Line] | None = None  # an open run of figure text
    pending: list[Line] = []  # text after the recommendation / before the first 【…】 heading
    rec_closed = False
    summary_closed = False
    after_label = False

    def flush() -> None:
        nonlocal pending
        if pending:
            text = "".join(ln.text for ln in pending)
            if "。" in text and not case.sections.get("summary"):
                case.sections["summary"] = pending
            else:
                case.diagram.append(pending)
            pending = []

    def close_figure() -> None:
        nonlocal figure
        if figure:
            case.diagram.append(figure)
        figure = None

    def switch(to: str) -> None:
        nonlocal state
        flush()
        close_figure()
        state = to

    rest = lines[i:]
    for k, ln in enumerate(rest):
        prev = rest[k - 1] if k else None
        if is_bare_marker(ln):
            continue
        if ln.key in L.TYPED_HEADINGS:
            ln = replace(ln, text=f"【{ln.text}】")
        lab = label_of(ln)
        if lab is not None:
            key, sec = lab
            after_label = True
            if key in L.SUGGESTION_LABELS:
                case.suggestions_label = ln.text.replace(" ", "")
            nxt = next((x for x in rest[k + 1 :] if not is_bare_marker(x)), None)
            next_is_label = nxt is not None and label_of(nxt) is not None
            if sec == "history":
                # right under the label, a typed 「令和２年　…」 starts the timeline too
                if nxt is not None and (is_period(nxt) or L.TIMELINE_ENTRY.match(nxt.text)):
                    switch("history")
                else:  # printed after the timeline, above its phase figure
                    flush()
                    close_figure()
                    figure = []
                continue
            if sec in L.IN_FLOW:
                if sec == "kp_region" and key in L.TYPED_LABELS:  # ポイント, not １．地域
                    case.review.append(
                        f"「{ln.text}」の項目はこの事例のポイント（１．地域）にしました。"
                        "自治体の取り組みの工夫なら（２．自治体）に移してください"
                    )
                switch(sec)
                continue
            if sec is not None and not next_is_label and ORDER[sec] > ORDER[state]:
                switch(sec)
                continue
            if state == "recommendation" and case.sections.get("recommendation"):
                rec_closed = True
            continue
        if after_label:
            case.breaks.add(ln.n)
            after_label = False
        # Lines that start a section by their form, wherever they are.
        if m := L.INLINE_CONTACT.match(ln.text):  # 連絡先：山田町 長寿福祉課, on one line
            switch("contact")
            case.add(state, replace(ln, text=m.group(1), marker="・"))  # an item, not a figure
            continue
        if ln.marker == L.CHECK_MARK:
            if state != "suggestions":
                switch("suggestions")
            close_figure()
            case.add(state, ln)
            continue
        if (
            state == "suggestions"
            and figure is None
            and is_bullet(ln)
            and not case.sections.get("contact")
            and any(x.marker == L.CHECK_MARK for x in case.sections.get("suggestions", []))
        ):
            switch("contact")  # the ✓ list is over: a plain bullet after it is the contact
            case.add(state, ln)
            continue
        if L.STORY_TITLE.match(ln.text):
            if state != "stories":
                switch("stories")
            close_figure()
            case.add(state, ln)
            continue
        if L.CENTER_TABLE.match(ln.key):
            switch("center_table")
            case.add(state, ln)
            continue
        if L.HEADING.match(ln.text) and not L.BUDGET.match(ln.text):
            if figure_follows(rest, k):
                # A boxed word inside a figure (【公助】), not a section heading.
                if figure is None:
                    flush()
                    figure = []
                figure.append(ln)
                continue
            if state != "contents":
                if ORDER[state] > ORDER["contents"] and state != "center_table":
                    case.review.append(
                        f"見出し「{ln.text}」は取組事例の様式にないため、取り組み内容の一項目にしました"
                        f"（元は「{L.SECTION_NAMES[state]}」の後）。正しい欄に移してください"
                    )
                switch("contents")
            else:
                flush()
                close_figure()
            case.add(state, ln)
            continue
        if L.BUDGET.match(ln.text):
            close_figure()
            if state != "contents":
                switch("contents")
            flush()
            case.add(state, ln)
            continue
        if is_period(ln) and (ORDER[state] <= ORDER["history"] or figure is not None):
            if state != "history":
                switch("history")
            close_figure()
            case.add(state, ln)
            continue
        if figure is not None:
            figure.append(ln)
            continue
        if ORDER[state] <= ORDER["bodies"] and is_overview(ln):
            state = "overview"
            case.add(state, ln)
            continue
        # Lines whose section depends on where they are.
        if state == "overview":
            state = "bodies"
        if state == "bodies" and is_bullet(ln) and len(ln.text) >= 30:
            state = "background"
        elif state == "background" and (
            (municipality and L.BULLET.sub("", ln.key).startswith(municipality + "では"))
            or (
                not is_bullet(ln)
                and ends_sentence(prev)
                and prev is not None
                and case.sections.get("background")
                and len(prev.text) < 0.8 * max(len(x.text) for x in case.sections["background"])
            )
        ):
            state = "summary"
        elif state == "features" and not case.sections.get("features") and not is_bullet(ln):
            pass  # text before any feature: kept as a feature paragraph (reviewed below)
        if state == "summary" and summary_closed:
            pending.append(ln)
            continue
        if state == "recommendation" and (
            rec_closed or (case.sections.get("recommendation") and ends_sentence(prev))
        ):
            rec_closed = True
            pending.append(ln)
            continue
        if state == "contents" and not any(
            L.HEADING.match(x.text) for x in case.sections.get("contents", [])
        ):
            pending.append(ln)
            continue
        case.add(state, ln)
        if state == "summary" and L.SUMMARY_END.search(ln.text):
            summary_closed = True
    flush()
    close_figure()
    return case
