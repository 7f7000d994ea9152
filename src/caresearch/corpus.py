"""Load and validate the case corpus: corpus/cases/<id>.yaml plus corpus/themes.yaml.

Validation never stops at the first error and never writes: it returns every problem it finds,
so a person fixing a case file sees the whole list at once. Structure is checked with the JSON
Schema in data/case.schema.json; rules that span fields or files are checked here.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from .errors import CorpusError
from .fields import is_placeholder, placeholder_problems, region_problems
from .models import (
    OVERVIEW_LABELS,
    Case,
    ContentSection,
    HistoryEvent,
    Item,
    Lesson,
    Restoration,
    Source,
    Story,
)
from .schema import Problem, schema_errors, schema_problems, type_name, yaml_problem

CASES_DIRNAME = "cases"
THEMES_FILENAME = "themes.yaml"
RENAMED_MIN_ITEMS = 3  # more item ids than this keeping one other case id: reported once
PARALLEL_MIN_FILES = 500  # below this, starting processes costs more than parsing in one

# Where item lists live in a case file and the id each item must carry: "<case>-<prefix><n>".
ID_PREFIXES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("features",), "feat-"),
    (("background",), "bg-"),
    (("contents",), "sec-"),
    (("history",), "ev-"),
    (("outcomes", "changes"), "chg-"),
    (("outcomes", "stories"), "story-"),
    (("key_points", "region"), "kp-r"),
    (("key_points", "municipality"), "kp-m"),
    (("suggestions",), "sg-"),
)
LESSON_LISTS = (("key_points", "region"), ("key_points", "municipality"), ("suggestions",))
# ---------------------------------------------------------------- YAML reading


# libyaml's parser when PyYAML was built with it: ten times faster on large corpora.
_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """SafeLoader that rejects duplicate keys (PyYAML silently keeps the last one)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _value in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"同じ項目 {key!r} が2回書かれています",
                    key_node.start_mark,
                )
            seen.add(key)
        except TypeError:
            pass  # unhashable key: SafeLoader reports it itself
    return _BaseLoader.construct_mapping(loader, node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _read_yaml(path: Path, rel: str, problems: list[Problem]) -> tuple[bool, Any]:
    """(ok, data); on failure a problem is appended and ok is False."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.append(
            Problem(
                rel,
                "",
                f"UTF-8 の文字コードではありません（{exc.start + 1} バイト目）。UTF-8 で保存し直してください",
            )
        )
        return False, None
    except OSError as exc:
        problems.append(Problem(rel, "", f"ファイルを読めません: {exc.strerror or exc}"))
        return False, None
    try:
        return True, yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        problems.append(Problem(rel, "", yaml_problem(exc)))
        return False, None


def _read_case(path: Path) -> tuple[bool, Any, list[Problem]]:
    """(ok, data, problems) of one case file: read, parsed and checked against the schema."""
    rel = f"{CASES_DIRNAME}/{path.name}"
    problems: list[Problem] = []
    ok, data = _read_yaml(path, rel, problems)
    if ok and isinstance(data, dict):
        for error in schema_errors(data):
            for p in schema_problems(rel, error):
                if p not in problems:
                    problems.append(p)
    return ok, data, problems


def _read_cases(paths: list[Path]) -> list[tuple[bool, Any, list[Problem]]]:
    """`_read_case` of each file: in several processes for a large corpus, where parsing and
    schema checks are most of the time of loading it."""
    procs = min(os.cpu_count() or 1, 4)
    if len(paths) < PARALLEL_MIN_FILES or procs < 2:
        return [_read_case(p) for p in paths]
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=procs) as pool:
        return list(pool.map(_read_case, paths, chunksize=64))


# ---------------------------------------------------------------- checks


def _themes(corpus_dir: Path, problems: list[Problem]) -> list[str] | None:
    path = corpus_dir / THEMES_FILENAME
    rel = THEMES_FILENAME
    if not path.is_file():
        problems.append(
            Problem(rel, "", "テーマの一覧（使えるテーマの名前）のファイルがありません")
        )
        return None
    ok, data = _read_yaml(path, rel, problems)
    if not ok:
        return None
    if not isinstance(data, list) or not data:
        problems.append(Problem(rel, "", "label と description の組を1つ以上、リストで書きます"))
        return None
    labels: list[str] = []
    for i, entry in enumerate(data):
        where = f"[{i}]"
        if not isinstance(entry, dict):
            problems.append(
                Problem(
                    rel,
                    where,
                    f"label と description の組を書きます（書かれているのは{type_name(entry)}）",
                )
            )
            continue
        for key in entry:
            if key not in ("label", "description"):
                problems.append(Problem(rel, f"{where}.{key}", "知らない項目です"))
        label = entry.get("label")
        if not isinstance(label, str) or not label.strip():
            problems.append(Problem(rel, f"{where}.label", "label がないか、空です"))
            continue
        if not isinstance(entry.get("description", ""), str):
            problems.append(Problem(rel, f"{where}.description", "文字列を書きます"))
        if label in labels:
            problems.append(Problem(rel, f"{where}.label", f"テーマ「{label}」が2回あります"))
            continue
        labels.append(label)
    return labels


def _get(data: Any, keys: tuple[str, ...]) -> Any:
    for k in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(k)
    return data


def _case_checks(
    rel: str,
    stem: str,
    data: dict[str, Any],
    labels: list[str] | None,
    seen_ids: dict[str, str],
    problems: list[Problem],
) -> None:
    """Rules the schema cannot express. Defensive: the data may be structurally broken."""
    case_id = data.get("id")
    if isinstance(case_id, str) and case_id != stem:
        problems.append(Problem(rel, "id", f"ファイル名は id と同じにします: cases/{case_id}.yaml"))
    problems.extend(region_problems(rel, data))
    if not is_open_draft(data):  # a draft's placeholders are its open review items
        problems.extend(placeholder_problems(rel, data))
    themes = data.get("themes")
    if labels is not None and isinstance(themes, list):
        for i, theme in enumerate(themes):
            if not isinstance(theme, str):
                continue
            if theme not in labels:
                close = difflib.get_close_matches(theme, labels, n=1)
                hint = f"（「{close[0]}」ではありませんか）" if close else ""
                problems.append(
                    Problem(
                        rel, f"themes[{i}]", f"テーマ「{theme}」は themes.yaml にありません{hint}"
                    )
                )
            elif themes.index(theme) != i:
                problems.append(Problem(rel, f"themes[{i}]", f"テーマ「{theme}」が2回あります"))
    for keys in LESSON_LISTS:
        lessons = _get(data, keys)
        if not isinstance(lessons, list):
            continue
        for i, lesson in enumerate(lessons):
            text = lesson.get("text") if isinstance(lesson, dict) else None
            if isinstance(text, str) and not text.strip():
                problems.append(Problem(rel, f"{'.'.join(keys)}[{i}].text", "文が空です"))
            themes = lesson.get("themes") if isinstance(lesson, dict) else None
            for j, theme in enumerate(
                themes if labels is not None and isinstance(themes, list) else []
            ):
                if isinstance(theme, str) and theme not in labels:
                    where = f"{'.'.join(keys)}[{i}].themes[{j}]"
                    problems.append(
                        Problem(rel, where, f"テーマ「{theme}」は themes.yaml にありません")
                    )
    if not isinstance(case_id, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", case_id):
        return  # item ids are checked against the case id; without one there is nothing to check
    misnamed: list[tuple[str, str, str]] = []  # (field, item id, the form it should have)
    for keys, prefix in ID_PREFIXES:
        entries = _get(data, keys)
        if not isinstance(entries, list):
            continue
        head = f"{case_id}-{prefix}"  # a string test: one compiled regex per case would
        # overflow re's cache on a large corpus and recompile thousands of times
        for i, entry in enumerate(entries):
            item_id = entry.get("id") if isinstance(entry, dict) else None
            if not isinstance(item_id, str):
                continue
            field = f"{'.'.join(keys)}[{i}].id"
            number = item_id[len(head) :]
            if not (
                item_id.startswith(head)
                and number.isascii()
                and number.isdigit()
                and not number.startswith("0")
            ):
                misnamed.append((field, item_id, f"{case_id}-{prefix}<番号>"))
            if item_id in seen_ids:
                problems.append(
                    Problem(
                        rel,
                        field,
                        f"id {item_id} が重複しています（{seen_ids[item_id]} にもあります）",
                    )
                )
            else:
                seen_ids[item_id] = f"{rel}: {field}"
    problems.extend(_renamed(rel, case_id, misnamed))


def _renamed(rel: str, case_id: str, misnamed: list[tuple[str, str, str]]) -> list[Problem]:
    """A problem per misnamed item id, or one for all of them where every item keeps another
    case id (the id: line was changed alone; 33 lines saying so helped no one)."""
    olds = {item_id.split("-")[0] for _field, item_id, _form in misnamed}
    if len(misnamed) <= RENAMED_MIN_ITEMS or len(olds) != 1:
        return [
            Problem(rel, field, f"id {item_id} は {form} の形にします")
            for field, item_id, form in misnamed
        ]
    (old,) = olds
    return [
        Problem(
            rel,
            "id",
            f"項目の id {len(misnamed)} 件が「{old}-」で始まっています。事例の id を {case_id} に"
            f"したなら項目の id も「{case_id}-」で始めます（または事例の id を {old} に戻します）",
        )
    ]


def _scan(corpus_dir: Path) -> tuple[list[Problem], list[str], list[dict[str, Any]]]:
    problems: list[Problem] = []
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        return [Problem(str(corpus_dir), "", "事例のフォルダがありません")], [], []
    labels = _themes(corpus_dir, problems)
    cases_dir = corpus_dir / CASES_DIRNAME
    if not cases_dir.is_dir():
        problems.append(
            Problem(CASES_DIRNAME, "", "cases フォルダ（事例ごとに <id>.yaml）がありません")
        )
        return problems, labels or [], []
    docs: list[dict[str, Any]] = []
    case_files: dict[str, str] = {}
    seen_ids: dict[str, str] = {}
    for path in sorted(cases_dir.glob("*.yml")):
        problems.append(
            Problem(f"{CASES_DIRNAME}/{path.name}", "", "事例ファイルの拡張子は .yaml にします")
        )
    paths = sorted(cases_dir.glob("*.yaml"))
    if not paths:
        problems.append(Problem(CASES_DIRNAME, "", "事例ファイル（*.yaml）がありません"))
    for path, (ok, data, file_problems) in zip(paths, _read_cases(paths), strict=True):
        rel = f"{CASES_DIRNAME}/{path.name}"
        before = len(problems)
        problems.extend(file_problems)
        if not ok:
            continue
        if not isinstance(data, dict):
            got = "空のファイル" if data is None else type_name(data)
            problems.append(
                Problem(rel, "", f"事例の項目（項目: 値 の組）を書きます（書かれているのは{got}）")
            )
            continue
        _case_checks(rel, path.stem, data, labels, seen_ids, problems)
        case_id = data.get("id")
        if isinstance(case_id, str):
            if case_id in case_files:
                problems.append(
                    Problem(
                        rel,
                        "id",
                        f"事例の id {case_id} が重複しています（{case_files[case_id]} にもあります）",
                    )
                )
            else:
                case_files[case_id] = rel
        if len(problems) == before:
            docs.append(data)
    return problems, labels or [], docs


# ---------------------------------------------------------------- public API


def validate_corpus(corpus_dir: Path) -> list[Problem]:
    """Every problem in the corpus (empty list = valid). Reads only; never modifies a file.

    A draft from `caresearch import` whose `review` list is not empty and that is not marked
    `reviewed: true` is reported too (kind "draft", one problem naming its open items): it is
    valid, but `load_corpus` leaves it out of the index until someone has reviewed it.
    """
    problems, _labels, docs = _scan(Path(corpus_dir))
    drafts = [_draft_problem(d) for d in docs if is_open_draft(d)]
    return problems + drafts + _same_case_twice(docs)


def _same_case_twice(docs: Sequence[dict[str, Any]]) -> list[Problem]:
    """A case whose municipality and title another case file has too (kind "duplicate"): the
    same 事例集 imported twice and both copies reviewed would show every case twice. Both stay
    in the index; the reader decides which to delete."""
    first: dict[tuple[str, ...], str] = {}
    out: list[Problem] = []
    for d in docs:
        key = tuple(str(d.get(k, "")) for k in ("prefecture", "municipality", "title"))
        if any(map(is_placeholder, key)):  # two drafts that lack a title are not one case
            continue
        if key in first:
            out.append(
                Problem(
                    f"{CASES_DIRNAME}/{d['id']}.yaml",
                    "title",
                    f"同じ都道府県・市区町村・タイトルの事例が {first[key]}.yaml にもあります。同じ事例を二度"
                    "取り込んでいないか確かめ、二度目ならどちらかを削除してください",
                    kind="duplicate",
                )
            )
        else:
            first[key] = str(d["id"])
    return out


def is_open_draft(data: dict[str, Any]) -> bool:
    """An imported case still waiting for review: items in `review`, and not `reviewed`."""
    return bool(data.get("review")) and not data.get("reviewed", False)


def _draft_problem(data: dict[str, Any]) -> Problem:
    items = data["review"]
    listed = " / ".join(f"{i}) {item}" for i, item in enumerate(items, 1))
    return Problem(
        f"{CASES_DIRNAME}/{data['id']}.yaml",
        "review",
        f"下書き（確認が済むまで索引に入りません）。確認が必要な点 {len(items)} 件"
        f"（直したら消すか、reviewed: true にしてください）: {listed}",
        kind="draft",
    )


def case_ids(corpus_dir: Path) -> set[str]:
    """Ids of every case file in the corpus, drafts and invalid files included (reads no file:
    a case's id is its file name)."""
    return {p.stem for p in (Path(corpus_dir) / CASES_DIRNAME).glob("*.yaml")}


def load_themes(corpus_dir: Path) -> tuple[str, ...]:
    """Theme labels of corpus_dir/themes.yaml, in file order."""
    problems: list[Problem] = []
    labels = _themes(Path(corpus_dir), problems)
    if problems or labels is None:
        raise CorpusError(
            f"{THEMES_FILENAME} に問題があります: {problems[0] if problems else 'テーマがありません'}",
            problems,
        )
    return tuple(labels)


def load_corpus(corpus_dir: Path) -> tuple[Case, ...]:
    """All cases, sorted by `order` then id. Raises CorpusError listing every problem.

    Imported drafts with open review items (`is_open_draft`) are left out: they are valid
    files, not yet cases to index."""
    return load_corpus_and_drafts(corpus_dir)[0]


def load_corpus_and_drafts(corpus_dir: Path) -> tuple[tuple[Case, ...], tuple[str, ...]]:
    """`load_corpus`, and the ids of the drafts it left out (a build names them)."""
    problems, _labels, docs = _scan(Path(corpus_dir))
    if problems:
        raise CorpusError(
            f"事例フォルダ {corpus_dir} に {len(problems)} 件の問題があります。最初の問題: {problems[0]}",
            problems,
        )
    cases = [_to_case(d) for d in docs if not is_open_draft(d)]
    drafts = tuple(sorted(str(d.get("id", "")) for d in docs if is_open_draft(d)))
    return tuple(sorted(cases, key=lambda c: (c.order, c.id))), drafts


def _items(entries: list[dict[str, Any]] | None) -> tuple[Item, ...]:
    return tuple(Item(e["id"], e["text"]) for e in entries or [])


def _lessons(
    case_id: str, entries: list[dict[str, Any]] | None, kind: str, audience: str
) -> tuple[Lesson, ...]:
    return tuple(
        Lesson(
            id=e["id"],
            case_id=case_id,
            kind=kind,
            audience=audience,
            text=e["text"],
            order=i,
            themes=tuple(e.get("themes") or ()),
        )
        for i, e in enumerate(entries or [], 1)
    )


def _to_case(d: dict[str, Any]) -> Case:
    cid = d["id"]
    outcomes = d.get("outcomes") or {}
    kp = d["key_points"]
    src = d.get("source")
    source = None
    if src is not None:
        source = Source(
            report=src["report"],
            chapter=src.get("chapter") or "",
            pages=src.get("pages"),
            file=src.get("file"),
            sha256=src.get("sha256"),
            lines=tuple((a, b) for a, b in src.get("lines") or []),
        )
    defaults = Case.__dataclass_fields__
    return Case(
        id=cid,
        order=d["order"],
        prefecture=d["prefecture"],
        municipality=d["municipality"],
        municipality_type=d.get("municipality_type"),
        region=d["region"],
        title=d["title"],
        keywords=tuple(d["keywords"]),
        editorial_keywords=tuple(d.get("editorial_keywords") or ()),
        themes=tuple(d["themes"]),
        features=_items(d.get("features")),
        implementing_bodies=tuple(d.get("implementing_bodies") or ()),
        background=_items(d.get("background")),
        recommendation=d.get("recommendation") or "",
        summary=d.get("summary"),
        contents=tuple(
            ContentSection(
                id=s["id"],
                heading=s["heading"],
                paragraphs=tuple(s["paragraphs"]),
                subheading=s.get("subheading"),
                budget=s.get("budget"),
            )
            for s in d.get("contents") or []
        ),
        history=tuple(
            HistoryEvent(e["id"], e["period"], e["text"]) for e in d.get("history") or []
        ),
        changes=_items(outcomes.get("changes")),
        stories=tuple(
            Story(
                id=s["id"],
                title=s.get("title"),
                paragraphs=tuple(s["paragraphs"]),
                subject=s.get("subject"),
            )
            for s in outcomes.get("stories") or []
        ),
        key_points=_lessons(cid, kp["region"], "key_point", "region")
        + _lessons(cid, kp["municipality"], "key_point", "municipality"),
        suggestions=_lessons(cid, d["suggestions"], "suggestion", "starter"),
        suggestions_label=d.get("suggestions_label") or defaults["suggestions_label"].default,
        contact=d.get("contact"),
        diagram_text=tuple(d.get("diagram_text") or ()),
        restorations=tuple(
            Restoration(r["target"], r["restored"], r.get("note", ""))
            for r in d.get("restorations") or []
        ),
        source=source,
        quality_notes=tuple(d.get("quality_notes") or ()),
        figures_missing=d.get("figures_missing", False),
        overview=_overview(d.get("overview") or {}),
    )


def _overview(figures: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """The 地域概要 figures a file gives, in OVERVIEW_LABELS order, as written."""
    values = ((k, str(figures.get(k, "")).strip()) for k in OVERVIEW_LABELS)
    return tuple((k, v) for k, v in values if v)
