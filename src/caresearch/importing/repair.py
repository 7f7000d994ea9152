"""Undo what PDF text extraction does to a report, line by line (no section knowledge here).

- character forms: half-width katakana and punctuation become full-width (ｹｱﾏﾈ → ケアマネ,
  ､ → 、), the maths signs ≪≫ used as brackets become 《》, 〜 becomes ～, U+3000 a space;
  the report's Wingdings bullets (private-use characters) are kept apart as a line `marker`;
- page furniture: bare page numbers and running headers (a chapter header, or a line that
  opens or closes most pages);
- repeated pages: the extraction emits many pages twice (and sometimes a page of the previous
  case again); a segment of lines whose text already occurred is dropped;
- blank lines, which carry nothing in an extraction that puts one after every line.

Hard-wrapped lines are rejoined later, per section (`finding`), because whether a line ends a
paragraph depends on the kind of section it is in.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from .layout import LABELS, LOCATION
from .reading import RawLine

PUA = re.compile("[\ue000-\uf8ff]")
HALFWIDTH = re.compile("[\uff61-\uff9f]+")  # half-width katakana, ｡｢｣､･
PAGE_NUMBER = re.compile(
    r"^\s*[-－—‐]?\s*[0-9０-９]{1,4}\s*[-－—‐]?\s*$|^\s*[0-9０-９]{1,4}\s*/\s*[0-9０-９]{1,4}\s*$"
)
CHAPTER_HEADER = re.compile(r"^\s*第\s*[0-9０-９一二三四五六七八九十]{1,3}\s*章[\s\u3000]*\S")
SPACES = re.compile(r"[ \t\u3000\u00a0]+")
MIN_REPEAT_CHARS = 200  # a shorter repeat is the document's own (see _first_occurrences)
MAX_SPAN_GAP = 8  # dropped lines this close (blank lines, furniture between) are one place


@dataclass(frozen=True)
class Line:
    """A cleaned line: `text` without bullets' private-use glyphs; `marker` is that glyph (or
    ""); `raw` as read; `n` and `page` point back into the document."""

    n: int
    page: int
    raw: str
    text: str
    marker: str = ""

    @property
    def key(self) -> str:
        """The text without whitespace: what the label table and comparisons use."""
        return SPACES.sub("", self.text)


class Span(NamedTuple):
    """Lines `first` to `last` of a document (`RawLine.n`), on pages `first_page` to
    `last_page`."""

    first: int
    last: int
    first_page: int
    last_page: int


@dataclass(frozen=True)
class Repairs:
    """What `repair` removed, for the summary: where the repeats were, so a reader can look."""

    furniture: int
    repeated: int
    repeated_at: tuple[Span, ...] = ()


def normalise(text: str) -> str:
    """Character forms only; never changes words."""
    s = HALFWIDTH.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)
    s = s.replace("≪", "《").replace("≫", "》").replace("〜", "～").replace("\u3000", " ")
    return s


def clean(raw: RawLine) -> Line:
    text = normalise(raw.text)
    markers = PUA.findall(text)
    text = SPACES.sub(" ", PUA.sub("", text)).strip()
    return Line(raw.n, raw.page, raw.text, text, markers[0] if markers else "")


def repair(raw_lines: Sequence[RawLine]) -> tuple[list[Line], Repairs]:
    """Clean lines in reading order, without furniture, repeats and blank lines."""
    furniture = _furniture(raw_lines)
    keep = _first_occurrences(raw_lines, furniture)
    kept_raw = [r for r in raw_lines if r.n not in furniture]
    lines = _merge_bare_bullets([clean(r) for r in kept_raw if r.n in keep])
    dropped = [r for r in kept_raw if r.n not in keep and r.text.strip()]
    return lines, Repairs(len(furniture), len(dropped), _spans(dropped))


def _spans(lines: Sequence[RawLine]) -> tuple[Span, ...]:
    """`lines` as runs of lines that follow each other in the document (furniture and blank
    lines between them do not break a run)."""
    out: list[Span] = []
    for r in lines:
        if out and r.n - out[-1].last <= MAX_SPAN_GAP:
            out[-1] = out[-1]._replace(last=r.n, last_page=r.page)
        else:
            out.append(Span(r.n, r.n, r.page, r.page))
    return tuple(out)


BARE_BULLETS = frozenset({"・", "◎", "○", "●", "■", "◆", "※", "✓", "➢"})


def _merge_bare_bullets(lines: list[Line]) -> list[Line]:
    """A bullet that a layout put on its own line goes back in front of the next line."""
    out: list[Line] = []
    carry: Line | None = None
    for ln in lines:
        if not ln.text and not ln.marker:
            continue
        if carry is not None:
            text = ln.text if carry.marker else f"{carry.text} {ln.text}"
            ln = Line(ln.n, ln.page, ln.raw, text, carry.marker or ln.marker)
            carry = None
        if (ln.marker and not ln.text) or (ln.text in BARE_BULLETS and not ln.marker):
            carry = ln
            continue
        out.append(ln)
    if carry is not None:
        out.append(carry)
    return out


def _furniture(raw_lines: Sequence[RawLine]) -> set[int]:
    """Line numbers of page numbers and running headers/footers."""
    out = {r.n for r in raw_lines if PAGE_NUMBER.match(r.text)}
    out |= {r.n for r in raw_lines if CHAPTER_HEADER.match(normalise(r.text)) and len(r.text) < 60}
    pages: dict[int, list[RawLine]] = {}
    for r in raw_lines:
        if r.text.strip() and r.n not in out:
            pages.setdefault(r.page, []).append(r)
    if len(pages) >= 3 and any(r.edge for r in raw_lines):
        # A line in the page margin (PDFs only: other formats do not say where a line sits)
        # on at least half of the pages is a running header or footer. Template labels are
        # not: a one-page case repeats them on every page.
        def edges(page_lines: list[RawLine]) -> list[RawLine]:
            return [r for r in page_lines if r.edge and _key(r.text).strip("【】") not in LABELS]

        counts: Counter[str] = Counter()
        places: set[str] = set()
        for page_lines in pages.values():
            counts.update({k for k in (_key(r.text) for r in edges(page_lines)) if k})
            places.update(_key(r.text) for r in page_lines if LOCATION.match(normalise(r.text)))
        # ... but a town's own collection may open each case page with its place (長野県 緑ヶ丘町
        # above キーワード): a place on no more pages than there are cases is each case's, not a
        # header, unless the cases have their place under キーワード (the report's layout)
        cases = _places_above(raw_lines)
        running = {
            k
            for k, c in counts.items()
            if c >= max(3, len(pages) // 2) and len(k) <= 60 and not (k in places and c <= cases)
        }
        for page_lines in pages.values():
            out.update(r.n for r in edges(page_lines) if _key(r.text) in running)
    return out


def _places_above(raw_lines: Sequence[RawLine]) -> int:
    """How many cases there are when the document writes each case's place above its キーワード
    line; 0 when a place follows the キーワード lines (then a place on every page is a header)."""
    text = [normalise(r.text).strip() for r in raw_lines if r.text.strip()]
    keywords = {_key(t) for t in text if t.startswith("キーワード")}
    below = any(
        t.startswith("キーワード") and any(LOCATION.match(n) for n in text[i + 1 : i + 4])
        for i, t in enumerate(text)
    )
    return 0 if below else len(keywords)


def _key(text: str) -> str:
    return SPACES.sub("", PUA.sub("", normalise(text)))


def _first_occurrences(raw_lines: Sequence[RawLine], furniture: set[int]) -> set[int]:
    """Line numbers to keep when repeated segments are dropped.

    A segment starts on a new page, at a line that starts with a space (this extraction starts
    each page's text so), at a キーワード line and after page furniture. A segment whose text (whitespace removed) already
    occurs in the kept text is a repeat (a whole page, a fragment, or a page of another case).
    """
    segments: list[list[RawLine]] = []
    current: list[RawLine] = []
    after_furniture = False
    for r in raw_lines:
        if r.n in furniture:
            after_furniture = True
            continue
        starts = (
            after_furniture
            or not current
            or r.page != current[-1].page
            or (r.text.startswith(" ") and r.text.strip())
            or r.text.lstrip().startswith("キーワード")
        )
        if starts and current:
            segments.append(current)
            current = []
        current.append(r)
        after_furniture = False
    if current:
        segments.append(current)
    # A run of repeated segments is dropped only when it is long: an extraction repeats whole
    # pages (the bundled report's shortest run is 410 characters), while a town's own document
    # writes a short line again (one 連絡先 for two cases, a heading) and means it.
    kept: set[int] = set()
    seen = ""
    run: list[RawLine] = []

    def end_run() -> None:
        if sum(len(_key(r.text)) for r in run) < MIN_REPEAT_CHARS:
            kept.update(r.n for r in run)
        run.clear()

    for seg in segments:
        text = "".join(_key(r.text) for r in seg)
        if text and text in seen:
            run.extend(seg)
            continue
        end_run()
        kept.update(r.n for r in seg)
        seen += text
    end_run()
    return kept
