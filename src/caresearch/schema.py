"""What the author of a case file reads about it: the JSON Schema check and its errors, and
YAML's, as Japanese problems (「title: 文字列を書きます（書かれているのは整数）」). `corpus` checks
the files and the rules across them; this module says what is wrong in words.
"""

from __future__ import annotations

import datetime
import difflib
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import fastjsonschema
import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

SCHEMA_PATH = Path(__file__).parent / "data" / "case.schema.json"
PATTERN_MESSAGES = {
    r"\S": "空です",
    r"^[a-z][a-z0-9_]*$": "id は半角の英小文字・数字・_ で書きます（例: tobetsu）",
    r"^\S+[都道府県]$": "都・道・府・県で終わる都道府県名を書きます",
    r"^\S+[市町村区]$": "市・町・村・区で終わる市区町村名を書きます",
    r"^[0-9a-f]{64}$": "sha256 の16進（64文字）を書きます",
}
# What a file's author reads (Japanese, as the rest of the tool); field paths stay as written.
# PyYAML's most common complaints, said in Japanese (any other is shown as PyYAML says it).
YAML_PROBLEMS = (
    ("tab character", "タブ文字は使えません。字下げは半角スペースにします"),
    (
        "cannot start any token",
        "ここには書けない文字があります（タブ文字なら半角スペースにします）",
    ),
    (
        "mapping values are not allowed",
        "「:」の使い方が正しくありません（「- 」のあとの半角スペースが抜けていないか、"
        "値に「: 」を含むなら引用符で囲みます）",
    ),
    ("could not find expected ':'", "「項目: 値」の「:」がありません"),
    ("did not find expected key", "字下げがそろっていません"),
    ("did not find expected node content", "値が書かれていません（「- 」や「: 」のあとが空です）"),
    ("found unexpected end of stream", "引用符や括弧が閉じられていません"),
    ("did not find expected ',' or ']'", "[ ] の中の区切り（,）か閉じ括弧 ] がありません"),
    ("did not find expected ',' or '}'", "{ } の中の区切り（,）か閉じ括弧 } がありません"),
    ("found duplicate anchor", "同じアンカー（&）が2回使われています"),
)
TYPE_NAMES = {
    "string": "文字列",
    "array": "リスト（- で始まる行）",
    "object": "項目: 値 の組",
    "integer": "整数",
    "number": "数値",
    "boolean": "true か false",
    "null": "空欄",
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the corpus. `file` is relative to the corpus dir (posix)."""

    file: str
    field: str
    message: str
    # "error"; "draft": an imported case whose review is still open; "duplicate": a case another
    # file has too (same municipality and title), indexed all the same
    kind: str = "error"

    def __str__(self) -> str:
        return (
            f"{self.file}: {self.field}: {self.message}"
            if self.field
            else f"{self.file}: {self.message}"
        )


# ---------------------------------------------------------------- schema errors → problems


@cache
def _validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


@cache
def _fast_check() -> Callable[[Any], Any]:
    """The schema compiled to Python (fastjsonschema): ~30x faster on valid files, which are
    nearly all of them; jsonschema then explains any file this rejects, error by error."""
    return fastjsonschema.compile(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


def schema_errors(data: Any) -> list[ValidationError]:
    try:
        _fast_check()(data)
        return []
    except fastjsonschema.JsonSchemaException:
        return sorted(
            _validator().iter_errors(data), key=lambda e: (_path(e.absolute_path), e.validator)
        )


def _path(parts: Any) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _join(base: str, key: str) -> str:
    return f"{base}.{key}" if base else key


# What YAML read, as the message names it (bool before int: True is an int too)
VALUE_NAMES: tuple[tuple[type, str], ...] = (
    (type(None), "空欄"),
    (bool, "true/false"),
    (str, "文字列"),
    (int, "整数"),
    (float, "数値"),
    (list, "リスト"),
    (dict, "項目: 値 の組"),
    (datetime.date, "日付。文字列にするなら引用符で囲みます"),  # YAML reads 2014-04-01 so
)


def type_name(value: Any) -> str:
    return next(
        (name for kind, name in VALUE_NAMES if isinstance(value, kind)), type(value).__name__
    )


def schema_problems(rel: str, error: ValidationError) -> list[Problem]:
    where = _path(error.absolute_path)
    kind, value, inst = error.validator, error.validator_value, error.instance
    if kind == "required" and isinstance(inst, dict):
        return [
            Problem(rel, _join(where, k), "必須の項目がありません") for k in value if k not in inst
        ]
    if kind == "additionalProperties" and isinstance(inst, dict):
        known = list(error.schema.get("properties", {}))
        out = []
        for key in inst:
            if key in known:
                continue
            close = difflib.get_close_matches(str(key).strip("\u3000"), known, n=1, cutoff=0.7)
            hint = f"（{close[0]} の書き間違いではありませんか）" if close else ""
            if str(key)[:1] == "\u3000":  # indented with a full-width space: YAML kept it
                hint = "（全角スペースで字下げされています。字下げは半角スペースにします）"
            out.append(Problem(rel, _join(where, str(key)), f"知らない項目です{hint}"))
        return out
    if kind == "type":
        wanted = value if isinstance(value, list) else [value]
        expected = "か".join(TYPE_NAMES.get(w, w) for w in wanted if w != "null")
        blank = "。空欄でも構いません" if "null" in wanted else ""
        return [
            Problem(rel, where, f"{expected}を書きます（書かれているのは{type_name(inst)}{blank}）")
        ]
    if kind == "enum":
        allowed = "、".join("空欄" if v is None else str(v) for v in value)
        written = "空欄" if inst is None else repr(inst)
        return [Problem(rel, where, f"{written} ではなく、次のどれかにします: {allowed}")]
    if kind == "pattern":
        message = PATTERN_MESSAGES.get(value, f"{inst!r} は形式 {value} に合いません")
        if value != r"\S":
            message = f"{message}（書かれているのは {inst!r}）"
        return [Problem(rel, where, message)]
    if kind == "minItems":
        return [Problem(rel, where, f"{value} 個以上書きます")]
    if kind == "maxItems":
        return [Problem(rel, where, f"{value} 個までです")]
    if kind == "uniqueItems" and isinstance(inst, list):
        twice = next((v for i, v in enumerate(inst) if v in inst[:i]), None)
        return [Problem(rel, where, f"同じもの（{twice}）が2回以上書かれています")]
    if kind == "minimum":
        return [Problem(rel, where, f"{value} 以上にします（書かれているのは {inst!r}）")]
    return [Problem(rel, where, error.message)]


def yaml_problem(exc: yaml.YAMLError) -> str:
    """A YAML syntax error as its author reads it: where, and what (in Japanese when known)."""
    mark = getattr(exc, "problem_mark", None)
    where = f"（{mark.line + 1} 行 {mark.column + 1} 文字目）" if mark else ""
    what = str(getattr(exc, "problem", None) or exc)
    said = next((ja for en, ja in YAML_PROBLEMS if en in what), what)
    return f"YAML の書き方に誤りがあります{where}: {said}"
