#!/usr/bin/env python3
"""Speed of `caresearch import` on a generated 100-page PDF, and the PDF library choice.

    .venv/bin/python bench/import_bench.py

1. Speed: the six curated cases, repeated with a per-copy mark on every line (so the repeat
   filter keeps them), written by fpdf2 until the PDF has 100 pages; import it, wall time.
2. Reading order (pdfminer.six vs pypdf, both permissively licensed): a two-column page whose
   producer writes the lines row by row (left, right, left, …), as table-like layouts and some
   DTP exports do, and the plain one-column case PDFs. Score: share of curated passages found
   whole (whitespace removed) in the extracted text.
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import doc_factory  # noqa: E402

from caresearch.corpus import load_corpus  # noqa: E402
from caresearch.importing import import_files  # noqa: E402
from caresearch.importing.reading import read_document  # noqa: E402

WS = re.compile(r"\s+")


def hundred_pages(path: Path) -> int:
    from pypdf import PdfReader

    cases = list(load_corpus(ROOT / "corpus"))
    lines: list[str] = []
    copy = 0
    while True:
        copy += 1
        for case in cases:
            lines += [
                f"{x}〔{copy}〕" if x and " " not in x[:8] else x
                for x in doc_factory.case_lines(case)
            ]
            lines.append("\f")
        doc_factory.write_pdf(lines, path)
        pages = len(PdfReader(str(path)).pages)
        if pages >= 100:
            return pages


def two_column_pdf(path: Path, left: list[str], right: list[str]) -> None:
    """Two columns, written row by row (the content stream interleaves the columns)."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.add_font("ipag", fname=str(doc_factory.FONT))
    pdf.set_font("ipag", size=9)
    pdf.add_page()
    y = 20.0
    for a, b in zip(left, right, strict=False):
        if y > 275:
            pdf.add_page()
            y = 20.0
        pdf.text(12, y, a)
        pdf.text(110, y, b)
        y += 5
    pdf.output(str(path))


def wrap(text: str, n: int = 22) -> list[str]:
    return [text[i : i + n] for i in range(0, len(text), n)]


def pairs_in_order(extracted: str, columns: list[list[str]]) -> float:
    """Share of consecutive lines of a column that follow each other in the extracted text."""
    flat = WS.sub("", extracted)
    pairs = [pair for col in columns for pair in pairwise(col)]
    return sum(WS.sub("", a + b) in flat for a, b in pairs) / len(pairs)


def score(extracted: str, passages: list[str]) -> float:
    flat = WS.sub("", extracted)
    return sum(WS.sub("", p) in flat for p in passages) / len(passages)


def pdfminer_text(path: Path) -> str:
    return "\n".join(r.text for r in read_document(path).lines)


def pypdf_text(path: Path) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() or "" for page in PdfReader(str(path)).pages)


def main() -> int:
    cases = list(load_corpus(ROOT / "corpus"))
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "hundred.pdf"
        pages = hundred_pages(big)
        t0 = time.perf_counter()
        summary = import_files([big], Path(tmp) / "cases")
        dt = time.perf_counter() - t0
        print(
            f"speed: {pages}-page PDF ({big.stat().st_size // 1024} KB) imported in {dt:.1f} s, "
            f"{len(summary.drafts)} cases (target < 30 s)"
        )

        # Reading order: one page, key points in the left column, suggestions in the right.
        layouts = []
        for chars in (16, 22):  # column width in characters; the gutter shrinks as it grows
            left = [t for c in cases for k in c.key_points for t in wrap(k.text, chars)][:50]
            right = [t for c in cases for s in c.suggestions for t in wrap(s.text, chars)][:50]
            two = Path(tmp) / f"two_columns_{chars}.pdf"
            two_column_pdf(two, left, right)
            layouts.append((chars, two, [left, right]))
        one = [doc_factory.write_case(c, Path(tmp) / f"{c.id}.pdf", "pdf") for c in cases]
        flat = [p.text for c in cases for p in c.passages()]
        for name, extract in (("pdfminer.six", pdfminer_text), ("pypdf", pypdf_text)):
            t0 = time.perf_counter()
            two = "; ".join(
                f"{chars}-char columns {pairs_in_order(extract(path), cols):.0%}"
                for chars, path, cols in layouts
            )
            one_score = score("\n".join(extract(p) for p in one), flat)
            dt = time.perf_counter() - t0
            print(
                f"reading order, {name}: two-column page written row by row, consecutive column "
                f"lines kept together: {two}; "
                f"one-column case PDFs {one_score:.0%} of passages whole ({dt:.1f} s)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
