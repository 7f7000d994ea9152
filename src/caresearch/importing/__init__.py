"""Import a town's own 事例集 (PDF, .docx, text, Markdown) as draft case files.

    summary = import_files([Path("jireishu.pdf")], corpus_dir / "cases")
    print(format_summary(summary))

Modules, in the order the data flows: `reading` (file → lines with page numbers; every unusable
file ends as one ImportFailed), `repair` (undo extraction damage line by line), `finding`
(cases and the section of each line), `sections` (lines → items and paragraphs, figure text
set aside), `drafting` (→ a case file with its review list), `summary`. `layout` holds the
template's labels and patterns as data.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Collection, Sequence
from pathlib import Path

import yaml

from ..errors import ImportFailed
from ..fields import is_placeholder
from .drafting import build_case, case_text, dump_case, propose_lesson_themes, propose_themes
from .finding import split_cases
from .layout import DOCUMENT_PLACE, THEME_WORDS
from .reading import MAX_BYTES, Document, read_document
from .repair import repair
from .summary import DraftSummary, FileSummary, ImportSummary, format_summary

_TOP_FIELD = re.compile(r"^(municipality|title):[ \t]*(.*?)[ \t]*$", re.M)

__all__ = ["ImportFailed", "ImportSummary", "format_summary", "import_files", "read_document"]


def import_files(
    paths: Sequence[Path],
    out_dir: Path,
    *,
    existing_ids: Collection[str] = (),
    theme_labels: Sequence[str] | None = None,
    max_bytes: int = MAX_BYTES,
) -> ImportSummary:
    """Read every file, find its cases, then write one draft per case into `out_dir`.

    All files are read and parsed before anything is written: one bad file raises ImportFailed
    and no draft is written. A draft never replaces an existing file or case id (a free id is
    chosen), and each file appears in `out_dir` complete or not at all.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ImportFailed(
            f"出力先 {out_dir} はフォルダではなくファイルです。下書きを置くフォルダを --out に指定してください"
        )
    if not paths:
        raise ImportFailed(
            "取り込むファイルが指定されていません。PDF・Word（.docx）・テキストのファイル名を指定してください"
        )
    docs: list[Document] = [read_document(Path(p), max_bytes=max_bytes) for p in paths]
    labels = list(theme_labels) if theme_labels is not None else _theme_labels(out_dir)
    taken = (
        set(existing_ids) | {p.stem for p in out_dir.glob("*.yaml")}
        if out_dir.is_dir()
        else set(existing_ids)
    )
    already = _cases_by_title(out_dir)
    planned: list[tuple[Path, str]] = []
    files: list[FileSummary] = []
    order = 100
    for doc in docs:
        lines, repairs = repair(doc.lines)
        found, preface = split_cases(lines, doc.kind)
        if not found:
            raise ImportFailed(
                f"{doc.path.name}: 取組事例が見つかりません（「キーワード」の行、「北海道 当別町」のような"
                "都道府県・市区町村の行、「事例１ …」のような見出しがありません）。取組事例集のファイルを指定してください"
            )
        drafts: list[DraftSummary] = []
        slug = _slug(doc.path.stem)
        place = next((ln for ln in preface if DOCUMENT_PLACE.match(ln.text)), None)
        for found_case in found:
            case_id = _free_id(slug, taken)
            taken.add(case_id)
            order += 1
            case, counts = build_case(
                found_case,
                case_id=case_id,
                order=order,
                source_file=doc.path.name,
                themes=[],
                document_place=place,
            )
            case["themes"] = propose_themes(case_text(case), labels)
            propose_lesson_themes(case)
            key = (case["municipality"], case["title"])
            if not any(map(is_placeholder, key)) and (same := already.get(key)):
                case["review"].append(
                    f"同じ市区町村・タイトルの事例が既にあります（{same}）。同じ事例を二度"
                    "取り込んでいないか確かめ、二度目ならこの下書きを削除してください"
                )
            already.setdefault(key, case_id)
            target = out_dir / f"{case_id}.yaml"
            planned.append((target, dump_case(case)))
            drafts.append(
                DraftSummary(
                    case_id=case_id,
                    path=target,
                    title=case["title"],
                    place=f"{case['prefecture']} {case['municipality']}",
                    pages=case["source"]["pages"],
                    counts=counts,
                    review=tuple(case["review"]),
                )
            )
        files.append(
            FileSummary(
                path=doc.path,
                kind=doc.kind,
                pages=doc.pages,
                drafts=tuple(drafts),
                repeated_lines=repairs.repeated,
                repeated_at=repairs.repeated_at,
                furniture_lines=repairs.furniture,
                preface_lines=len(preface),
            )
        )
    _write_all(planned, out_dir)
    return ImportSummary(tuple(files))


def _cases_by_title(out_dir: Path) -> dict[tuple[str, str], str]:
    """(municipality, title) -> case id of each case file already in `out_dir` (drafts too):
    importing the same collection twice would index its cases twice."""
    out: dict[tuple[str, str], str] = {}
    for path in sorted(out_dir.glob("*.yaml")) if out_dir.is_dir() else ():
        try:  # the two top-level lines only: parsing 10,000 case files would take ~20 s
            fields = dict(_TOP_FIELD.findall(path.read_text(encoding="utf-8")))
            key = tuple(_scalar(fields.get(k, "")) for k in ("municipality", "title"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue  # validate reports a file it cannot read
        out.setdefault((str(key[0]), str(key[1])), path.stem)
    return out


def _scalar(text: str) -> object:
    return yaml.safe_load(text) if text else ""  # a quoted title reads as its text


def _theme_labels(out_dir: Path) -> list[str]:
    """Labels of the corpus's themes.yaml (out_dir is usually <corpus>/cases)."""
    themes = out_dir.parent / "themes.yaml"
    if themes.is_file():
        from ..corpus import load_themes

        return list(load_themes(out_dir.parent))
    return list(THEME_WORDS)


def _slug(stem: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "_", stem.lower()).strip("_")[:24].strip("_")
    if not s or not s[0].isalpha():
        s = f"draft_{s}" if s else "draft"
    return s


def _free_id(slug: str, taken: set[str]) -> str:
    k = 1
    while f"{slug}_{k}" in taken:
        k += 1
    return f"{slug}_{k}"


def _write_all(planned: list[tuple[Path, str]], out_dir: Path) -> None:
    """Write each draft through a temporary file and a hard link (which fails rather than
    replace an existing file); on any failure, remove what this call wrote."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ImportFailed(
            f"出力先 {out_dir} にフォルダを作れません。書き込めるフォルダを --out に指定してください"
        ) from exc
    written: list[Path] = []
    try:
        for target, text in planned:
            # os.open with 0o666 and O_EXCL: the file gets the user's umask (mkstemp's 0600
            # would hide the case from a server running as another user)
            tmp = out_dir / f".import-{secrets.token_hex(8)}.tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            try:
                with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
                    f.write(text)
                    f.flush()
                    os.fsync(f.fileno())
                os.link(tmp, target)
            finally:
                os.unlink(tmp)
            written.append(target)
    except FileExistsError as exc:
        for p in written:
            p.unlink(missing_ok=True)
        raise ImportFailed(
            f"{Path(exc.filename or '').name}: 同じ名前の事例ファイルが既にあります。上書きはしません。"
            "もう一度実行してください（別の名前で書き出します）"
        ) from exc
    except OSError as exc:
        for p in written:
            p.unlink(missing_ok=True)
        raise ImportFailed(
            f"{out_dir}: 下書きを書き出せません（{exc.strerror or exc}）。書き込める場所を --out で指定してください"
        ) from exc
