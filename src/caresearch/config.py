"""Settings and limits, each declared once as a table row. Stdlib only.

`SETTINGS` is what an operator can change (environment variable or CLI option): the CLI's
help, the environment and validation all read it. `LIMITS` are the ranges a request may ask
for (page numbers, result counts): the engine, the CLI's argument checks, the API and the
pages all read it, so they cannot disagree.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

from .errors import QueryError, SettingError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# In a checkout the defaults are the project's corpus/ and index/; installed from a wheel,
# they are corpus/ and index/ under the current directory.
_BASE = PROJECT_ROOT if (PROJECT_ROOT / "corpus" / "cases").is_dir() else Path.cwd()


class Setting(NamedTuple):
    name: str
    default: object
    type: type
    low: int | None  # inclusive range for integers
    high: int | None
    env: str
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("corpus_dir", _BASE / "corpus", Path, None, None, "CARESEARCH_CORPUS",
            "事例ファイルのフォルダ"),
    Setting("index_dir", _BASE / "index", Path, None, None, "CARESEARCH_INDEX",
            "作成した索引のフォルダ"),
    Setting("max_query_chars", 200, int, 10, 2000, "CARESEARCH_MAX_QUERY_CHARS",
            "キーワード検索で受け付ける最長の文字数"),
    # at most what a form can send within the 64 KB body limit (web.MAX_CONTENT_LENGTH): a
    # kanji goes as 9 bytes (%E8%AA%8D), so 7,000 of them and the rest of the form
    Setting("max_text_chars", 4000, int, 100, 7000, "CARESEARCH_MAX_TEXT_CHARS",
            "課題の文章で受け付ける最長の文字数"),
    Setting("page_size", 10, int, 1, 50, "CARESEARCH_PAGE_SIZE", "1ページに出す事例の数"),
    Setting("passages_per_case", 3, int, 1, 10, "CARESEARCH_PASSAGES_PER_CASE",
            "事例ごとに示す箇所の数"),
    Setting("embedding", 1, int, 0, 1, "CARESEARCH_EMBEDDING",
            "1: 「課題から探す」で文の意味の近さも使う（索引作成時に1箇所約5ミリ秒）、"
            "0: 語の一致だけ"),
)  # fmt: skip


class Limit(NamedTuple):
    name: str
    low: int
    high: int
    label: str  # the Japanese name used in messages

    @property
    def message(self) -> str:
        """What to say when a value is out of range (CLI and QueryError alike)."""
        return f"{self.label}は{self.low}から{self.high}までの整数で指定してください"


LIMITS: dict[str, Limit] = {
    limit.name: limit
    for limit in (
        Limit("page", 1, 1000, "ページ番号"),
        Limit("limit", 1, 50, "件数"),
        Limit("threads", 1, 64, "スレッドの数"),  # serve --threads: 0 answered nothing
    )
}


def is_on(value: str | None) -> bool:
    """A yes/no request parameter (`exact=1`, `true`, `on`, `yes`); absent or anything else is no."""
    return (value or "").strip().lower() in ("1", "true", "on", "yes")


def check_limit(name: str, value: object) -> int:
    """`value` if it lies within the limit `name`; else a QueryError that names the range."""
    limit = LIMITS[name]
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not limit.low <= value <= limit.high
    ):
        raise QueryError(f"{limit.message}。")
    return value


def limit_from(name: str, raw: object) -> int:
    """`raw` as typed (a string of digits) or sent (a JSON number) for the limit `name`; a word,
    a fraction, ① or true is the same QueryError as an out-of-range number."""
    if isinstance(raw, str):
        raw = int(raw.strip()) if raw.strip().isdecimal() else None
    return check_limit(name, raw)


def _convert(setting: Setting, raw: object, source: str) -> object:
    if setting.type is Path:
        if isinstance(raw, str) and not raw.strip():
            raise SettingError(f"{source}: フォルダを指定してください")
        return Path(raw)  # type: ignore[arg-type]
    value: int | None = None
    if isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    elif isinstance(raw, str) and raw.strip().lstrip("-").isdecimal():
        value = int(raw.strip())
    low, high = setting.low, setting.high
    if value is None or (low is not None and value < low) or (high is not None and value > high):
        raise SettingError(f"{source}={raw!s}: {low}～{high} の整数を指定してください")
    return value


_DEFAULT: dict[str, Any] = {s.name: s.default for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    """One value per row of SETTINGS (tests/test_config.py keeps the two in step)."""

    corpus_dir: Path = _DEFAULT["corpus_dir"]
    index_dir: Path = _DEFAULT["index_dir"]
    max_query_chars: int = _DEFAULT["max_query_chars"]
    max_text_chars: int = _DEFAULT["max_text_chars"]
    page_size: int = _DEFAULT["page_size"]
    passages_per_case: int = _DEFAULT["passages_per_case"]
    embedding: int = _DEFAULT["embedding"]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Defaults, then environment variables, then explicit overrides (None means unset).

        Every value is checked against its row in SETTINGS; a bad one raises SettingError
        naming the variable and the allowed range.
        """
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for s in SETTINGS:
            raw = env.get(s.env)
            if raw is not None and raw != "":
                values[s.name] = _convert(s, raw, s.env)
            if overrides.get(s.name) is not None:
                values[s.name] = _convert(s, overrides[s.name], f"--{s.name.replace('_', '-')}")
        unknown = set(overrides) - {s.name for s in SETTINGS}
        if unknown:
            raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
        return replace(cls(), **values)
