"""Settings: one defaults table read by the CLI, the web app and validation. Stdlib only."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# In a checkout the defaults are the project's corpus/ and index/; installed from a wheel,
# they are corpus/ and index/ under the current directory.
_BASE = PROJECT_ROOT if (PROJECT_ROOT / "corpus" / "cases").is_dir() else Path.cwd()

# (name, default, environment variable, help)
DEFAULTS: tuple[tuple[str, object, str, str], ...] = (
    ("corpus_dir", _BASE / "corpus", "CARESEARCH_CORPUS", "directory of case files"),
    ("index_dir", _BASE / "index", "CARESEARCH_INDEX", "directory of the built index"),
    ("max_query_chars", 200, "CARESEARCH_MAX_QUERY_CHARS", "longest keyword query accepted"),
    ("max_text_chars", 4000, "CARESEARCH_MAX_TEXT_CHARS", "longest problem description accepted"),
    ("page_size", 10, "CARESEARCH_PAGE_SIZE", "cases per result page"),
    ("passages_per_case", 3, "CARESEARCH_PASSAGES_PER_CASE", "passages shown under each case"),
)


@dataclass(frozen=True)
class Settings:
    corpus_dir: Path = _BASE / "corpus"
    index_dir: Path = _BASE / "index"
    max_query_chars: int = 200
    max_text_chars: int = 4000
    page_size: int = 10
    passages_per_case: int = 3

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> Settings:
        """Defaults, then environment variables, then explicit overrides (None means unset)."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for name, default, var, _help in DEFAULTS:
            raw = env.get(var)
            if raw:
                values[name] = type(default)(raw) if not isinstance(default, Path) else Path(raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        for f in fields(cls):
            if f.name in values and isinstance(getattr(cls, f.name, None), Path):
                values[f.name] = Path(values[f.name])  # type: ignore[arg-type]
        return replace(cls(), **values)
