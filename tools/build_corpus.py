#!/usr/bin/env python3
"""Generate corpus/cases/<id>.yaml from the seed text.

Inputs (all committed): the seed (corpus/source/…), the line-range manifest
(tools/corpus_manifest.yaml) and the hand curation (tools/corpus_overrides.yaml).

    .venv/bin/python tools/build_corpus.py            # (re)write corpus/cases/*.yaml
    .venv/bin/python tools/build_corpus.py --check    # exit 1 if the committed files differ
    .venv/bin/python tools/build_corpus.py --out DIR  # write elsewhere (tests)

The build is deterministic: same inputs, same bytes. It refuses to run when the seed's sha256 is
not the one in the manifest, when a manifest range touches text that the global dedupe marks as a
repeat, when a kept line of a case is claimed by no range (or by two), or when an override does not
apply exactly once.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import re
import sys
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from caresearch.importing.drafting import case_yaml
from caresearch.importing.layout import SECTION_ORDER

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "tools" / "corpus_manifest.yaml"
OVERRIDES = ROOT / "tools" / "corpus_overrides.yaml"
CASES_DIR = ROOT / "corpus" / "cases"
THEMES = ROOT / "corpus" / "themes.yaml"

Range = tuple[int, int]

PUA = re.compile("[\ue000-\uf8ff]")
PAGE_HEADER = re.compile(r"^\s*第\s*[3３]章[\s\u3000]*地域包括ケアシステムの取組事例\s*$")
PAGE_NUMBER = re.compile(r"^\s*\d{2,3}\s*$")
HALFWIDTH_KANA = re.compile("[\uff61-\uff9f]+")  # includes ､ and ･
# A new item starts at a bullet or another marker (checked on the raw line, before the
# private-use bullets are stripped).
ITEM_START = re.compile(r"^(?:[\ue000-\uf8ff・◎※【≪《①-⑳]|[１-９]．|[Ａ-Ｚ]さん)")
BULLET = re.compile(r"^[・◎]\s*")
PERIOD_ONLY = re.compile(r"^平成[\s年度月～翌以前]*$")
PERIOD_INLINE = re.compile(r"^(平成[\s年度月～翌以前]*?)\s*[：:]\s*(.+)$")
# Template labels: the PDF prints them as grey boxes; the extraction emits most of them after
# the content they label. They carry no text of the case and end the item before them.
LABELS = frozenset(
    {
        "【この事例の特徴】",
        "地域概要 実施主体",
        "取り組みの背景・課題認識",
        "背景・課題",
        "取り組み内容",
        "《検討 からの推薦メッセージ》",
        "取り組みの経緯",
        "取り組みの成果",
        "この事例のポイント（工夫や成功要因など）",
        "これから取り組む皆さまへ ～まず始めてみるために、この事例から得られる示唆",
        "まず取り組むべき事項",
        "【参考】事業推進体制・職員体制",
        "【参考】 、連絡先",
        "地域に見られた変化",
        "取り組みが生かされた個別支援",
        "取り組みが生かされた個別事例",
        "参加者の声",
        "１．地域",
        "２．自治体",
    }
)
# Manifest sections: the template's sections (the one list `caresearch import` uses too) and the
# keyword and place lines; the overview box and the centre table go to figures or ignore.
SECTION_PARSERS = frozenset({"keywords", "location", *SECTION_ORDER} - {"overview", "center_table"})
LESSON_ID = re.compile(r"-(kp-[rm]|sg-)\d+$")


class BuildError(Exception):
    """The inputs are inconsistent; the message says where."""


@dataclass(frozen=True)
class Line:
    n: int  # 1-based line number in the seed
    raw: str
    text: str  # cleaned display text

    @property
    def starts_item(self) -> bool:
        return bool(ITEM_START.match(self.raw.strip()))

    @property
    def is_label(self) -> bool:
        return re.sub(r"\s+", " ", self.text) in LABELS


# ---------------------------------------------------------------- text helpers


def clean(raw: str) -> str:
    """Display text of one line: no private-use bullets, full-width katakana, 《》 brackets."""
    s = PUA.sub("", raw)
    s = HALFWIDTH_KANA.sub(lambda m: unicodedata.normalize("NFKC", m.group()), s)
    s = s.replace("≪", "《").replace("≫", "》")  # U+226A/B are maths signs used as brackets
    return s.strip()


def width(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WFA" else 1 for c in s)


def join(lines: Iterable[Line]) -> str:
    # Japanese hard wraps: concatenate with no separator.
    return "".join(ln.text for ln in lines)


def unbullet(s: str) -> str:
    return BULLET.sub("", s).strip()


def norm_for_dedupe(s: str) -> str:
    return re.sub(r"\s+", "", PUA.sub("", unicodedata.normalize("NFKC", s)))


# ---------------------------------------------------------------- seed and dedupe


def read_seed(path: Path, sha256: str) -> list[str]:
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise BuildError(
            f"seed {path} has sha256 {digest}, the manifest expects {sha256}; "
            "line ranges would point at the wrong text"
        )
    return data.decode("utf-8").split("\n")


def kept_line_numbers(lines: list[str]) -> set[int]:
    """Global dedupe of the extraction's repeated pages (SEED-MAP §3.1).

    A segment starts at a line beginning with an ASCII space or キーワード, at a bare page number
    and right after one. A segment whose normalised text already occurs in the kept text is a
    repeat (whole page, fragment, or a page of the previous case) and is dropped.
    """
    segments: list[list[int]] = []
    current: list[int] = []
    after_page_number = False
    for n, line in enumerate(lines, 1):
        is_page_number = bool(PAGE_NUMBER.match(line))
        if current and (
            line.startswith(" ")
            or line.startswith("キーワード")
            or is_page_number
            or after_page_number
        ):
            segments.append(current)
            current = []
        current.append(n)
        after_page_number = is_page_number
    segments.append(current)
    kept: set[int] = set()
    kept_text = ""
    for seg in segments:
        t = "".join(norm_for_dedupe(lines[n - 1]) for n in seg)
        if not t or t.isdigit() or t in kept_text:
            continue
        kept.update(seg)
        kept_text += t
    return kept


def is_furniture(raw: str) -> bool:
    return bool(PAGE_HEADER.match(raw) or PAGE_NUMBER.match(raw))


def ranges_of(value: Any, where: str) -> list[Range]:
    if not isinstance(value, list) or not all(
        isinstance(r, list) and len(r) == 2 and all(isinstance(x, int) for x in r) for r in value
    ):
        raise BuildError(f"{where}: expected a list of [first, last] line pairs")
    out = [(a, b) for a, b in value]
    for a, b in out:
        if a > b:
            raise BuildError(f"{where}: range [{a}, {b}] is reversed")
    return out


def merge_ranges(ranges: Iterable[Range], seed: list[str]) -> list[Range]:
    """Sorted ranges, merged when only blank lines or page furniture separate them."""
    merged: list[Range] = []
    for a, b in sorted(ranges):
        if merged:
            pa, pb = merged[-1]
            gap = seed[pb : a - 1]
            if a <= pb + 1 or all(not g.strip() or is_furniture(g) for g in gap):
                merged[-1] = (pa, max(pb, b))
                continue
        merged.append((a, b))
    return merged


# ---------------------------------------------------------------- splitting


def items(lines: list[Line]) -> list[list[Line]]:
    """Group lines into items: a marker starts one, a template label ends one (and is dropped)."""
    groups: list[list[Line]] = []
    current: list[Line] = []
    for ln in lines:
        if ln.is_label:
            if current:
                groups.append(current)
            current = []
            continue
        if ln.starts_item and current:
            groups.append(current)
            current = []
        current.append(ln)
    if current:
        groups.append(current)
    return groups


def continues(line: str, nxt: str) -> bool:
    """In a timeline, does `line` wrap onto `nxt`? (Each entry is one line unless it wrapped.)"""
    if re.search(r"[、をにへがのとで]$", line):  # a clause cannot end an entry
        return True
    if line.count("（") > line.count("）") or line.count("「") > line.count("」"):
        return True  # an unclosed bracket
    return bool(re.match(r"^[のをにへがはとでもやーッャュョァィゥェォっゃゅょ）」、。]", nxt))


def paragraphs(lines: list[Line], mode: str, breaks: set[int], joins: set[int]) -> list[str]:
    """Split unmarked lines into paragraphs (blank lines carry no information in the seed).

    mode "prose": a paragraph ends at a sentence end (。, 。」, 。）) or at a short line.
    mode "list": every line is an entry unless it visibly continues (see `continues`).
    A bullet line always starts a paragraph. Overrides (`breaks` after line n, `joins` line n
    with the next) fix the few wrong guesses.
    """
    if not lines:
        return []
    full = max(width(ln.text) for ln in lines)
    out: list[str] = []
    current: list[Line] = []
    for i, ln in enumerate(lines):
        if ln.starts_item and current:
            out.append(unbullet(join(current)))
            current = []
        current.append(ln)
        nxt = lines[i + 1] if i + 1 < len(lines) else None
        if nxt is None:
            ends = True
        elif mode == "prose":
            ends = bool(re.search(r"。[」）]?$", ln.text)) or width(ln.text) < 0.8 * full
        elif mode == "bullets":
            ends = False  # entries end only where the next bullet starts
        else:
            ends = not continues(ln.text, nxt.text)
        if ln.n in breaks:
            ends = True
        elif ln.n in joins:
            ends = False
        if ends:
            out.append(unbullet(join(current)))
            current = []
    return [p for p in out if p]


# ---------------------------------------------------------------- section parsers


class CaseBuilder:
    def __init__(self, case_id: str, spec: dict, ovr: dict, seed: list[str], kept: set[int]):
        self.id = case_id
        self.spec = spec
        self.ovr = ovr
        self.seed = seed
        self.kept = kept
        self.breaks = set(ovr.get("breaks", []))
        self.joins = set(ovr.get("joins", []))
        self.claimed: dict[int, str] = {}

    def claim(self, ranges: list[Range], what: str) -> list[Line]:
        """Lines of `ranges` (blank lines and page furniture skipped), recorded for coverage."""
        out: list[Line] = []
        for a, b in ranges:
            if b > len(self.seed):
                raise BuildError(f"{self.id}.{what}: line {b} is past the end of the seed")
            for n in range(a, b + 1):
                raw = self.seed[n - 1]
                if not raw.strip() or is_furniture(raw):
                    continue
                if n not in self.kept:
                    raise BuildError(
                        f"{self.id}.{what}: line {n} is a repeat of earlier text "
                        "(dropped by the global dedupe); point the range at the first occurrence"
                    )
                if n in self.claimed:
                    raise BuildError(f"{self.id}.{what}: line {n} is also in {self.claimed[n]}")
                self.claimed[n] = what
                out.append(Line(n, raw, clean(raw)))
        return out

    def section(self, name: str) -> list[Line]:
        sections = self.spec["sections"]
        if name not in sections:
            return []
        return self.claim(ranges_of(sections[name], f"{self.id}.sections.{name}"), name)

    def ids(self, prefix: str, texts: list[str]) -> list[dict[str, str]]:
        return [{"id": f"{self.id}-{prefix}{i}", "text": t} for i, t in enumerate(texts, 1)]

    def item_texts(self, name: str) -> list[str]:
        return [unbullet(join(group)) for group in items(self.section(name))]

    def check_coverage(self) -> None:
        a, b = self.spec["raw"]
        for n in range(a, min(b, len(self.seed)) + 1):
            raw = self.seed[n - 1]
            if n in self.kept and raw.strip() and not is_furniture(raw) and n not in self.claimed:
                raise BuildError(
                    f"{self.id}: kept line {n} is in no manifest range: {raw.strip()!r}"
                )

    # -- parsers

    def keywords(self) -> tuple[list[str], str]:
        text = join(self.section("keywords"))
        if not text.startswith("キーワード"):
            raise BuildError(f"{self.id}: keywords line does not start with キーワード: {text!r}")
        raw = text.removeprefix("キーワード").strip()
        # A dropped Latin keyword leaves an empty slot (「、 、」): drop it, restore editorially.
        return [k.strip() for k in raw.split("、") if k.strip()], raw

    def location(self) -> tuple[str, str]:
        parts = join(self.section("location")).split()
        if len(parts) != 2:
            raise BuildError(f"{self.id}: location line is not '<prefecture> <municipality>'")
        return parts[0], parts[1]

    def bodies(self) -> list[str]:
        out: list[str] = []
        for group in items(self.section("bodies")):
            text = join(group)
            if BULLET.match(text):
                out.append(unbullet(text))
            else:  # a wrapped comma-separated list (鶴岡市, 楢葉町)
                out.extend(p.strip() for p in text.split("、") if p.strip())
        return out

    def summary(self) -> str | None:
        text = "".join(unbullet(join(g)) for g in items(self.section("summary")))
        return text or None

    def contents(self) -> list[dict[str, Any]]:
        sections: list[dict[str, Any]] = []
        for group in items(self.section("contents")):
            first = group[0].text
            if first.startswith("【予算】"):
                if not sections:
                    raise BuildError(f"{self.id}: 【予算】 before any 【…】 heading")
                budget_lines = [Line(ln.n, ln.raw, ln.text) for ln in group]
                budget_lines[0] = Line(group[0].n, "", first.removeprefix("【予算】").strip())
                # Budget entries end with the closing bracket of their （平成 年度 …予算）.
                parts: list[str] = []
                cur = ""
                for ln in budget_lines:
                    cur += ln.text
                    if ln.text.endswith("）") or ln.n in self.breaks:
                        parts.append(cur)
                        cur = ""
                if cur:
                    parts.append(cur)
                sections[-1]["budget"] = "\n".join(parts)
            elif first.startswith("【"):
                if not first.endswith("】") or len(group) != 1:
                    raise BuildError(
                        f"{self.id}: heading at line {group[0].n} is not one 【…】 line"
                    )
                inner = first[1:-1].strip()
                heading, _, sub = inner.partition("～")
                sections.append(
                    {
                        "id": f"{self.id}-sec-{len(sections) + 1}",
                        "heading": heading.strip(),
                        "subheading": sub.strip().strip("～").strip() or None,
                        "paragraphs": [],
                        "budget": None,
                    }
                )
            else:
                if not sections:
                    raise BuildError(
                        f"{self.id}: text at line {group[0].n} before any 【…】 heading"
                    )
                sections[-1]["paragraphs"].append(unbullet(join(group)))
        return sections

    def history(self) -> list[dict[str, str]]:
        events: list[tuple[str, list[Line]]] = []
        for ln in self.section("history"):
            if ln.is_label:
                continue
            m_inline = PERIOD_INLINE.match(ln.text)
            if PERIOD_ONLY.match(ln.text):
                events.append((ln.text, []))
            elif m_inline:
                events.append(
                    (m_inline.group(1).strip(), [Line(ln.n, m_inline.group(2), m_inline.group(2))])
                )
            else:
                if not events:
                    raise BuildError(f"{self.id}: history line {ln.n} before any 平成… period")
                events[-1][1].append(ln)
        # 横浜市 and 南砺市 bullet their timeline entries; the others put one entry on a line.
        mode = (
            "bullets" if any(ln.text.startswith("・") for _p, ls in events for ln in ls) else "list"
        )
        out = []
        for i, (period, lines) in enumerate(events, 1):
            # One event per period heading, its entries on separate lines of `text`.
            entries = paragraphs(lines, mode, self.breaks, self.joins)
            out.append({"id": f"{self.id}-ev-{i}", "period": period, "text": "\n".join(entries)})
        return out

    def stories(self) -> list[dict[str, Any]]:
        stories: list[dict[str, Any]] = []
        body: dict[int, list[Line]] = {}
        for ln in self.section("stories"):
            if ln.is_label:
                continue
            if ln.text.startswith("《") and ln.text.endswith("》"):
                stories.append({"title": ln.text[1:-1].strip(), "subject": None})
                continue
            if re.match(r"^[Ａ-Ｚ]さん（", ln.text) and stories and stories[-1]["subject"] is None:
                stories[-1]["subject"] = ln.text
                continue
            if not stories:  # 楢葉町's story has no 《…》 title
                stories.append({"title": None, "subject": None})
            body.setdefault(len(stories) - 1, []).append(ln)
        out = []
        for i, st in enumerate(stories):
            paras = paragraphs(body.get(i, []), "prose", self.breaks, self.joins)
            out.append(
                {
                    "id": f"{self.id}-story-{i + 1}",
                    "title": st["title"],
                    "subject": st["subject"],
                    "paragraphs": paras,
                }
            )
        return out

    def figures(self) -> list[str]:
        out = []
        for i, fig in enumerate(self.spec.get("figures") or [], 1):
            lines = self.claim(ranges_of(fig, f"{self.id}.figures[{i}]"), f"figures[{i}]")
            out.append(" ".join(ln.text for ln in lines if not ln.is_label))
        return [t for t in out if t]

    def ignored(self) -> None:
        for reason, value in (self.spec.get("ignore") or {}).items():
            self.claim(ranges_of(value, f"{self.id}.ignore.{reason}"), f"ignore.{reason}")

    # -- assembly

    def add_lesson_themes(self, lessons: list[dict[str, Any]], labels: list[str]) -> None:
        """Each lesson's themes from the overrides' lesson_themes: every lesson needs an entry,
        every entry a lesson, every label a theme of corpus/themes.yaml."""
        chosen = dict(self.ovr.get("lesson_themes") or {})
        for lesson in lessons:
            themes = chosen.pop(lesson["id"], None)
            if not themes:
                raise BuildError(f"{self.id}: lesson_themes has no themes for {lesson['id']}")
            unknown = [t for t in themes if t not in labels]
            if unknown or len(set(themes)) != len(themes):
                raise BuildError(f"{lesson['id']}: unknown or repeated themes {unknown or themes}")
            lesson["themes"] = list(themes)
        if chosen:
            raise BuildError(f"{self.id}: lesson_themes for unknown lessons {sorted(chosen)}")

    def build(self, common: dict, seed_file: str, sha256: str, themes: list[str]) -> dict[str, Any]:
        unknown = set(self.spec["sections"]) - set(SECTION_PARSERS)
        if unknown:
            raise BuildError(f"{self.id}: unknown manifest sections {sorted(unknown)}")
        keywords, _raw = self.keywords()
        prefecture, municipality = self.location()
        title = join(self.section("title"))
        features = self.ids("feat-", self.item_texts("features"))
        bodies = self.bodies()
        background = self.ids("bg-", self.item_texts("background"))
        summary = self.summary()
        recommendation = "".join(unbullet(join(g)) for g in items(self.section("recommendation")))
        contents = self.contents()
        history = self.history()
        changes = self.ids("chg-", self.item_texts("changes"))
        stories = self.stories()
        kp_region = self.ids("kp-r", self.item_texts("kp_region"))
        kp_municipality = self.ids("kp-m", self.item_texts("kp_municipality"))
        suggestions = self.ids("sg-", self.item_texts("suggestions"))
        self.add_lesson_themes([*kp_region, *kp_municipality, *suggestions], themes)
        contact = unbullet(join(self.section("contact"))) or None
        diagram_text = self.figures()
        self.ignored()
        self.check_coverage()

        ovr = self.ovr
        all_ranges = [r for v in self.spec["sections"].values() for r in ranges_of(v, self.id)]
        for fig in self.spec.get("figures") or []:
            all_ranges += ranges_of(fig, self.id)
        for value in (self.spec.get("ignore") or {}).values():
            all_ranges += ranges_of(value, self.id)
        case: dict[str, Any] = {
            "id": self.id,
            "order": self.spec["order"],
            "prefecture": prefecture,
            "municipality": municipality,
            "municipality_type": ovr["municipality_type"],
            "region": ovr["region"],
            "title": title,
            "keywords": keywords,
            "editorial_keywords": list(ovr.get("editorial_keywords", [])),
            "themes": list(ovr["themes"]),
            "features": features,
            "implementing_bodies": bodies,
            "background": background,
            "recommendation": recommendation,
            "summary": summary,
            "contents": contents,
            "history": history,
            "outcomes": {"changes": changes, "stories": stories},
            "key_points": {"region": kp_region, "municipality": kp_municipality},
            "suggestions_label": ovr.get("suggestions_label", common["suggestions_label"]),
            "suggestions": suggestions,
            "contact": contact,
            "diagram_text": diagram_text,
            "restorations": [],
            "source": {
                "report": common["report"],
                "chapter": common["chapter"],
                "pages": None,
                "file": seed_file,
                "sha256": sha256,
                "lines": [list(r) for r in merge_ranges(all_ranges, self.seed)],
            },
            "quality_notes": list(common["quality_notes"]) + list(ovr.get("quality_notes", [])),
            "figures_missing": True,
        }
        for edit in ovr.get("edits", []):
            apply_edit(case, edit)
        case["restorations"].extend(dict(r) for r in ovr.get("restorations", []))
        return case


# ---------------------------------------------------------------- overrides


def _find_item(node: Any, item_id: str) -> Iterator[dict]:
    if isinstance(node, dict):
        if node.get("id") == item_id:
            yield node
        for v in node.values():
            yield from _find_item(v, item_id)
    elif isinstance(node, list):
        for v in node:
            yield from _find_item(v, item_id)


def apply_edit(case: dict[str, Any], edit: dict[str, Any]) -> None:
    """Replace `find` by `replace` in one field; it must match exactly once (catches drift)."""
    target, field = edit["target"], edit.get("field")
    where = f"{case['id']}: edit {target}{'.' + field if field else ''}"
    if LESSON_ID.search(target):
        raise BuildError(f"{where}: lessons are verbatim and may not be edited")
    if target in case and not field:
        holder, key = case, target
    else:
        found = list(_find_item(case, target))
        if len(found) != 1:
            raise BuildError(f"{where}: target not found")
        holder, key = found[0], field or "text"
    value = holder.get(key)
    find, replace = edit["find"], edit["replace"]
    if isinstance(value, list):
        hits = [i for i, v in enumerate(value) if isinstance(v, str) and find in v]
        if len(hits) != 1 or value[hits[0]].count(find) != 1:
            raise BuildError(
                f"{where}: {find!r} must occur exactly once, found {len(hits)} entries"
            )
        value[hits[0]] = value[hits[0]].replace(find, replace)
    elif isinstance(value, str):
        if value.count(find) != 1:
            raise BuildError(f"{where}: {find!r} occurs {value.count(find)} times, expected once")
        new = value.replace(find, replace)
        holder[key] = new if new.strip() else None
    else:
        raise BuildError(f"{where}: field holds no text")
    if edit.get("kind") == "restoration":
        case["restorations"].append(
            {"target": target, "restored": edit["restored"], "note": edit.get("note", "")}
        )
    elif edit.get("kind") not in ("privacy", "cleanup"):
        raise BuildError(f"{where}: kind must be restoration, privacy or cleanup")


# ---------------------------------------------------------------- YAML output


HEADER = (
    "# Generated by tools/build_corpus.py from {file} (sha256 {sha}).\n"
    "# Do not edit by hand: change tools/corpus_manifest.yaml or tools/corpus_overrides.yaml\n"
    "# and run `.venv/bin/python tools/build_corpus.py`.\n"
)


def dump_case(case: dict[str, Any]) -> str:
    """The case file: a header, then the YAML `caresearch import` writes (one writer for both)."""
    header = HEADER.format(file=case["source"]["file"], sha=case["source"]["sha256"])
    return header + case_yaml(case)


# ---------------------------------------------------------------- driver


def load_yaml(path: Path) -> dict:
    with path.open(encoding="utf-8") as f:
        data = yaml.safe_load(f)
    if not isinstance(data, dict):
        raise BuildError(f"{path}: expected a mapping")
    return data


def build(
    seed_path: Path | None = None,
    manifest_path: Path = MANIFEST,
    overrides_path: Path = OVERRIDES,
) -> dict[str, str]:
    """Return {file name: YAML text} for every case."""
    manifest = load_yaml(manifest_path)
    overrides = load_yaml(overrides_path)
    seed_cfg = manifest["seed"]
    path = seed_path or ROOT / seed_cfg["file"]
    seed = read_seed(path, seed_cfg["sha256"])
    kept = kept_line_numbers(seed)
    common = overrides["common"]
    with THEMES.open(encoding="utf-8") as f:
        labels = [entry["label"] for entry in yaml.safe_load(f)]
    files: dict[str, str] = {}
    missing = set(manifest["cases"]) ^ set(overrides["cases"])
    if missing:
        raise BuildError(f"cases in only one of manifest/overrides: {sorted(missing)}")
    for case_id, spec in manifest["cases"].items():
        builder = CaseBuilder(case_id, spec, overrides["cases"][case_id], seed, kept)
        case = builder.build(common, Path(seed_cfg["file"]).name, seed_cfg["sha256"], labels)
        files[f"{case_id}.yaml"] = dump_case(case)
    return files


def write(files: dict[str, str], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (out_dir / name).write_text(text, encoding="utf-8", newline="\n")


def check(files: dict[str, str], out_dir: Path) -> list[str]:
    """Differences between the generated and the committed files, as short summaries."""
    problems: list[str] = []
    committed = {p.name for p in out_dir.glob("*.yaml")} if out_dir.is_dir() else set()
    for name in sorted(set(files) | committed):
        path = out_dir / name
        if name not in files:
            problems.append(f"{path}: not generated by the builder (stale?)")
            continue
        if not path.exists():
            problems.append(f"{path}: missing")
            continue
        old = path.read_text(encoding="utf-8")
        if old != files[name]:
            diff = list(
                difflib.unified_diff(
                    old.splitlines(),
                    files[name].splitlines(),
                    "committed",
                    "generated",
                    n=0,
                    lineterm="",
                )
            )
            changed = sum(1 for d in diff if d[:1] in "+-" and d[:3] not in ("+++", "---"))
            problems.append(f"{path}: differs ({changed} lines)\n" + "\n".join(diff[:12]))
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--check", action="store_true", help="compare with the committed files, write nothing"
    )
    ap.add_argument(
        "--out", type=Path, default=CASES_DIR, help="output directory (default corpus/cases)"
    )
    ap.add_argument(
        "--seed", type=Path, default=None, help="seed file (default: from the manifest)"
    )
    args = ap.parse_args(argv)
    try:
        files = build(args.seed)
    except (BuildError, OSError, yaml.YAMLError, KeyError) as exc:
        print(f"build_corpus: error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        problems = check(files, args.out)
        for p in problems:
            print(p, file=sys.stderr)
        if problems:
            print(
                f"build_corpus: {len(problems)} file(s) out of date; run tools/build_corpus.py",
                file=sys.stderr,
            )
            return 1
        print(f"build_corpus: {len(files)} case files up to date")
        return 0
    write(files, args.out)
    print(f"build_corpus: wrote {len(files)} case files to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
