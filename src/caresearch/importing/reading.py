"""Read a 事例集 document into text lines with page numbers: PDF, .docx, plain text, Markdown.

Every way a file can be unusable ends here as one `ImportFailed` with a Japanese message that
names the file and says what to do. The PDF reader is pdfminer.six (MIT): on Japanese report
layouts it keeps the reading order of each text box, where pypdf interleaves columns (measured
in bench/import_bench.py).
"""

from __future__ import annotations

import codecs
import logging
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import ImportFailed
from .layout import MAX_LABEL_CHARS

MAX_BYTES = 100 * 1024 * 1024  # a 事例集 is a few MB; larger files are refused before reading
TEXT_SUFFIXES = frozenset({".txt", ".text", ".md", ".markdown"})
SUFFIXES = (".pdf", ".docx", ".txt", ".md")
TEXT_ENCODINGS = ("utf-8-sig", "cp932", "euc_jp")


@dataclass(frozen=True)
class RawLine:
    """One line as read: `page` is 1-based (1 for formats without pages), `n` the line's
    1-based position in the document."""

    n: int
    page: int
    text: str
    edge: bool = False  # in the top or bottom margin of a PDF page (where headers live)


@dataclass(frozen=True)
class Document:
    path: Path
    kind: str  # pdf | docx | text
    lines: tuple[RawLine, ...]
    pages: int


def fail(path: Path, what: str, todo: str) -> ImportFailed:
    return ImportFailed(f"{path.name}: {what}。{todo}")


def read_document(path: Path, *, max_bytes: int = MAX_BYTES) -> Document:
    """Lines of `path`, or ImportFailed saying why the file cannot be imported."""
    path = Path(path)
    if not path.exists():
        raise fail(path, "ファイルがありません", "ファイル名と場所を確かめてください")
    if not path.is_file():
        raise fail(
            path,
            "ファイルではありません",
            "PDF・Word（.docx）・テキストのファイルを指定してください",
        )
    size = path.stat().st_size
    if size == 0:
        raise fail(path, "空のファイルです", "内容のあるファイルを指定してください")
    if size > max_bytes:
        raise fail(
            path,
            f"ファイルが大きすぎます（{size / 1024 / 1024:.0f}MB、上限{max_bytes // 1024 // 1024}MB）",
            "事例集を分割するか、画像を減らしたPDFにしてください",
        )
    suffix = path.suffix.lower()
    lines: Sequence[tuple[int, str] | tuple[int, str, bool]]
    if suffix == ".pdf":
        lines, pages = _read_pdf(path)
        kind = "pdf"
    elif suffix == ".docx":
        lines, pages = _read_docx(path)
        kind = "docx"
    elif suffix in TEXT_SUFFIXES:
        lines, pages = _read_text(path, markdown=suffix in (".md", ".markdown"))
        kind = "text"
    elif suffix == ".doc":
        raise fail(
            path, "古い形式のWord文書（.doc）です", "Wordで .docx 形式で保存し直してください"
        )
    else:
        raise fail(
            path,
            f"対応していない形式です（{suffix or '拡張子なし'}）",
            "PDF・Word（.docx）・テキスト（.txt, .md）を指定してください",
        )
    numbered = tuple(
        RawLine(i, line[0], line[1], len(line) > 2 and bool(line[2]))
        for i, line in enumerate(lines, 1)
    )
    if not any(line.text.strip() for line in numbered):
        if kind == "pdf":
            raise fail(path, "文字情報のないPDFです", "OCR済みのPDFを指定してください")
        raise fail(path, "文字がありません", "事例の本文を含むファイルを指定してください")
    return Document(path, kind, numbered, pages)


# ---------------------------------------------------------------- text


def _read_text(path: Path, *, markdown: bool) -> tuple[list[tuple[int, str]], int]:
    data = path.read_bytes()
    if data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        data = _from_utf16(path, data)  # Notepad's "Unicode"
    if b"\x00" in data[:4096]:
        raise fail(
            path,
            "テキストファイルではありません（バイナリです）",
            "PDF・Word・テキストを指定してください",
        )
    for encoding in TEXT_ENCODINGS:
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise fail(
            path, "文字コードを判別できません", "UTF-8 または Shift_JIS で保存し直してください"
        )
    out: list[tuple[int, str]] = []
    for page, chunk in enumerate(text.split("\f"), 1):
        for line in chunk.splitlines():
            out.append((page, _markdown_line(line) if markdown else line))
    return out, text.count("\f") + 1


def _from_utf16(path: Path, data: bytes) -> bytes:
    """A UTF-16 text file (with its byte order mark) as UTF-8."""
    try:
        return data.decode("utf-16").encode("utf-8")
    except UnicodeDecodeError:
        raise fail(
            path,
            "UTF-16 のテキストとして読めません",
            "UTF-8 または Shift_JIS で保存し直してください",
        ) from None


def _markdown_line(line: str) -> str:
    stripped = line.strip()
    if stripped.startswith("#"):
        return stripped.lstrip("#").strip()
    if stripped[:2] in ("- ", "* ", "+ "):
        return "・" + stripped[2:].strip()
    return line.replace("**", "")


# ---------------------------------------------------------------- docx


def _read_docx(path: Path) -> tuple[list[tuple[int, str]], int]:
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if "word/document.xml" not in names or "[Content_Types].xml" not in names:
                raise fail(
                    path,
                    "Word文書（.docx）ではありません（中身が別の形式のZIPです）",
                    "Wordで開けることを確かめ、.docx で保存し直してください",
                )
            bad = zf.testzip()
    except zipfile.BadZipFile as exc:
        raise fail(
            path,
            "Word文書（.docx）として読めません（壊れているか、別の形式です）",
            "Wordで開けることを確かめ、.docx で保存し直してください",
        ) from exc
    if bad is not None:
        raise fail(path, "Word文書が壊れています", "Wordで開けることを確かめ、保存し直してください")
    import docx  # python-docx: imported here so that reading text files never needs it
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, KeyError, ValueError) as exc:
        raise fail(
            path,
            "Word文書（.docx）として読めません",
            "Wordで開けることを確かめ、保存し直してください",
        ) from exc
    out: list[tuple[int, str]] = []
    page = 1
    for text, before, after in _docx_blocks(document):
        page += before
        for line in text.split("\n"):
            out.append((page, line))
        page += after
    return out, page


def _docx_blocks(document: object) -> Iterator[tuple[str, int, int]]:
    """(text, page breaks before it, page breaks after it) of each paragraph and table cell,
    in document order."""
    from docx.oxml.ns import qn
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    body = document.element.body  # type: ignore[attr-defined]
    for child in body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            para = Paragraph(child, document)  # type: ignore[arg-type]
            # Word's 改ページ is <w:br w:type="page"/> in a run, before or after the text
            before = after = 0
            after_text = False
            for el in child.iter(qn("w:br"), qn("w:t")):
                if el.tag == qn("w:t"):
                    if el.text:
                        after_text = True
                elif el.get(qn("w:type")) == "page":
                    if after_text:
                        after += 1
                    else:
                        before += 1
            flag = child.find(f".//{qn('w:pageBreakBefore')}")
            if flag is not None and flag.get(qn("w:val"), "1") not in ("0", "false", "off"):
                before += 1
            style = (para.style.name or "") if para.style is not None else ""
            text = para.text
            if "List" in style and text.strip() and not text.lstrip().startswith("・"):
                text = "・" + text.strip()
            yield text, before, after
        elif tag == "tbl":
            table = Table(child, document)  # type: ignore[arg-type]
            for row in table.rows:
                # A horizontally merged cell comes once per grid column it spans, as the same
                # _Cell object (python-docx documents this for `_Row.cells`): read it once.
                grid = row.cells
                cells = [c for k, c in enumerate(grid) if k == 0 or c is not grid[k - 1]]
                texts = [[p.text for p in cell.paragraphs] for cell in cells]
                if len(texts) == 2 and _label_cell(texts[0]) and any(t.strip() for t in texts[1]):
                    # a 事例シート: a label cell and its text (背景 | 町内の…), one line as typed
                    # documents write it (背景：町内の…), then the text's other paragraphs
                    label = next(t.strip() for t in texts[0] if t.strip())
                    start = next(k for k, t in enumerate(texts[1]) if t.strip())
                    first, *rest = texts[1][start:]
                    yield f"{label}：{first}", 0, 0
                    for text in rest:
                        yield text, 0, 0
                    continue
                for paragraphs in texts:
                    for text in paragraphs:
                        yield text, 0, 0


def _label_cell(paragraphs: list[str]) -> bool:
    """A table cell that names what the cell beside it holds: one short line, no sentence, no
    label and value of its own (総人口：12,345人)."""
    lines = [p.strip() for p in paragraphs if p.strip()]
    return (
        len(lines) == 1
        and len(lines[0]) <= MAX_LABEL_CHARS
        and not any(c in lines[0] for c in "。：:")
    )


# ---------------------------------------------------------------- pdf


def _read_pdf(path: Path) -> tuple[list[tuple[int, str, bool]], int]:
    with path.open("rb") as f:
        head = f.read(1024)
        f.seek(max(0, path.stat().st_size - 2048))
        tail = f.read()
    if b"%PDF-" not in head:
        raise fail(
            path,
            "PDFではありません（中身が別の形式です）",
            "PDFとして開けるファイルを指定してください",
        )
    if b"%%EOF" not in tail:
        raise fail(
            path,
            "PDFが途中で切れています（ダウンロードやコピーが最後まで終わっていません）",
            "元のPDFをもう一度取得してください",
        )
    # pdfminer warns in English about fonts it reads anyway (a browser's PDF: 「Could not get
    # FontBBox from font descriptor…」, once per font and page): nothing a reader can act on
    logging.getLogger("pdfminer").setLevel(logging.ERROR)
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LAParams, LTTextContainer, LTTextLine
    from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
    from pdfminer.pdfparser import PDFSyntaxError
    from pdfminer.psparser import PSException

    out: list[tuple[int, str, bool]] = []
    pages = 0
    try:
        for pages, layout in enumerate(extract_pages(str(path), laparams=LAParams()), 1):
            margin = 0.08 * layout.height
            pieces = [
                line
                for element in layout
                if isinstance(element, LTTextContainer)
                for line in element
                if isinstance(line, LTTextLine)
            ]
            for y0, y1, text in _visual_lines(pieces):
                out.append((pages, text, y0 > layout.height - margin or y1 < margin))
    except (PDFPasswordIncorrect, PDFEncryptionError) as exc:
        raise fail(
            path,
            "パスワードで保護（暗号化）されたPDFです",
            "保護を解除したPDFを作り直して指定してください",
        ) from exc
    except (PDFSyntaxError, PSException, ValueError, KeyError, TypeError) as exc:
        raise fail(
            path,
            "PDFが壊れていて読めません",
            "元のPDFをもう一度取得するか、PDFに保存し直してください",
        ) from exc
    if pages == 0:
        raise fail(path, "ページのないPDFです", "元のPDFをもう一度取得してください")
    return out, pages


def _visual_lines(pieces: Sequence[object]) -> list[tuple[float, float, str]]:
    """Rejoin the pieces of one printed line that pdfminer split at wide spaces (「平成 年度」 →
    「平成」「年度」), keeping pdfminer's reading order of the lines otherwise: a piece joins an
    earlier line on the same baseline that ends just left of it (within four character heights,
    so two columns stay apart)."""
    lines: list[list[float | str]] = []  # [y0, y1, x1, text]
    for piece in pieces:
        x0, y0, x1, y1 = piece.x0, piece.y0, piece.x1, piece.y1  # type: ignore[attr-defined]
        text = piece.get_text().rstrip("\n")  # type: ignore[attr-defined]
        h = max(y1 - y0, 1.0)
        for line in reversed(lines):
            ly0, ly1, lx1 = float(line[0]), float(line[1]), float(line[2])
            mid = (y0 + y1) / 2
            if ly0 - 0.2 * h <= mid <= ly1 + 0.2 * h and -1.0 <= x0 - lx1 <= 4 * h:
                gap = " " if x0 - lx1 > 0.25 * h else ""
                line[2] = x1
                line[3] = f"{line[3]}{gap}{text}"
                break
        else:
            lines.append([y0, y1, x1, text])
    return [(float(a), float(b), str(t)) for a, b, _x, t in lines]
