"""What an import found, and its Japanese rendering for the terminal."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .layout import SECTION_NAMES, SECTION_ORDER
from .repair import Span

# Passage counts are shown in template order; figure texts last.
COUNT_ORDER = (*SECTION_ORDER, "diagram")


@dataclass(frozen=True)
class DraftSummary:
    case_id: str
    path: Path  # the draft file written
    title: str
    place: str  # 都道府県 市区町村
    pages: str | None
    counts: dict[str, int]  # passages per section (diagram: figure texts)
    review: tuple[str, ...]


@dataclass(frozen=True)
class FileSummary:
    path: Path
    kind: str
    pages: int
    drafts: tuple[DraftSummary, ...]
    repeated_lines: int  # dropped as repeats of earlier pages
    repeated_at: tuple[Span, ...]  # where they were
    furniture_lines: int  # page numbers and running headers
    preface_lines: int  # text before the first case, not imported


@dataclass(frozen=True)
class ImportSummary:
    files: tuple[FileSummary, ...]

    @property
    def drafts(self) -> tuple[DraftSummary, ...]:
        return tuple(d for f in self.files for d in f.drafts)

    @property
    def review_items(self) -> int:
        return sum(len(d.review) for d in self.drafts)


def format_summary(summary: ImportSummary) -> str:
    out: list[str] = []
    for f in summary.files:
        out.append(f"{f.path.name}（{f.kind}、{f.pages}ページ）: 事例 {len(f.drafts)} 件")
        notes = []
        if f.repeated_lines:
            notes.append(
                f"前に出た文の繰り返し {f.repeated_lines} 行を除きました（{_where(f)}）。"
                "原本と見比べ、繰り返しでない内容なら下書きに書き加えてください"
            )
        if f.furniture_lines:
            notes.append(f"ページ番号・柱の {f.furniture_lines} 行を除きました")
        if f.preface_lines:
            notes.append(f"最初の事例より前の {f.preface_lines} 行（前書き等）は取り込んでいません")
        for note in notes:
            out.append(f"  ・{note}")
        for d in f.drafts:
            pages = f"、{d.pages}ページ" if d.pages else ""
            out.append(f"  - {d.case_id}: {d.place}「{d.title}」{pages}")
            out.append(f"    書き出し先: {d.path}")
            counts = "、".join(
                f"{SECTION_NAMES.get(k, k)} {d.counts[k]}" for k in COUNT_ORDER if d.counts.get(k)
            )
            out.append(f"    欄ごとの件数: {counts}")
            out.append(f"    確認が必要な点（review）: {len(d.review)} 件")
            for item in d.review:
                out.append(f"      ・{item}")
    drafts = summary.drafts
    out.append(
        f"合計: 事例 {len(drafts)} 件、確認が必要な点 {summary.review_items} 件。"
        "下書きを確認し reviewed: true にしてから caresearch validate → caresearch build を実行してください。"
    )
    return "\n".join(out)


def _where(f: FileSummary) -> str:
    """Where the repeats were, as the reader finds them in the original: pages of a document
    with pages, else lines (paragraphs of a Word file)."""
    if f.pages > 1 or f.kind == "pdf":  # a PDF's extracted lines are nowhere to be seen
        return "、".join(
            f"{s.first_page}ページ" if s.first_page == s.last_page
            else f"{s.first_page}～{s.last_page}ページ"
            for s in f.repeated_at
        )  # fmt: skip
    unit = "段落目" if f.kind == "docx" else "行目"
    return "、".join(
        f"{s.first}{unit}" if s.first == s.last else f"{s.first}～{s.last}{unit}"
        for s in f.repeated_at
    )
