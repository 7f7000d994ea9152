"""The index directory: numbered builds, an atomic pointer to the current one, fingerprints.

Layout of `index/`:
  CURRENT                 one line: the name of the build that readers open
  builds/<name>/          a complete build (Whoosh files, model, corpus snapshot, meta.json)
  builds/<name>.partial/  a build being written; never opened, removed by the next build

A build is written under a `.partial` name, renamed when complete, and published by replacing
CURRENT with os.replace, which is atomic: a reader sees the old build or the new one, never half
of either. A pointer file instead of a symlink works on Windows too. Stdlib only.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from pathlib import Path

POINTER = "CURRENT"
BUILDS = "builds"
META = "meta.json"
KEEP_BUILDS = 2  # the current build and the one before it, for readers still on it


def fingerprint(files: list[Path], *extra: str) -> str:
    """SHA-256 over the bytes of `files` (sorted by name) and `extra` settings."""
    h = hashlib.sha256()
    for path in sorted(files):
        h.update(path.name.encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    for item in extra:
        h.update(item.encode())
        h.update(b"\0")
    return h.hexdigest()


class IndexStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def current(self) -> Path | None:
        """The published build directory, or None when nothing was ever built."""
        try:
            name = (self.root / POINTER).read_text(encoding="utf-8").strip()
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not name or "/" in name or "\\" in name or name.startswith("."):
            return None
        path = self.root / BUILDS / name
        return path if path.is_dir() else None

    def current_name(self) -> str | None:
        cur = self.current()
        return cur.name if cur else None

    def meta(self, build: Path | None = None) -> dict | None:
        build = build or self.current()
        if build is None:
            return None
        try:
            return json.loads((build / META).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def new_build(self) -> Path:
        """A fresh, empty `.partial` directory for a build to write into."""
        builds = self.root / BUILDS
        builds.mkdir(parents=True, exist_ok=True)
        self._remove_stale_partials()
        name = time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:8]
        path = builds / f"{name}.partial"
        path.mkdir()
        return path

    def publish(self, partial: Path, meta: dict) -> Path:
        """Seal a finished build and point CURRENT at it, atomically.

        The sizes of its files go into meta.json, so a truncated file is detected at start.
        """
        meta = {**meta, "files": file_sizes(partial)}
        _write_atomic(partial / META, json.dumps(meta, ensure_ascii=False, indent=2))
        final = partial.with_name(partial.name.removesuffix(".partial"))
        os.replace(partial, final)
        _write_atomic(self.root / POINTER, final.name + "\n")
        self._prune(keep=final.name)
        return final

    def discard(self, partial: Path) -> None:
        shutil.rmtree(partial, ignore_errors=True)

    def _remove_stale_partials(self, older_than: float = 3600.0) -> None:
        # A partial younger than an hour may belong to a build still running in another process.
        now = time.time()
        for p in (self.root / BUILDS).glob("*.partial"):
            try:
                if now - p.stat().st_mtime > older_than:
                    shutil.rmtree(p, ignore_errors=True)
            except OSError:
                pass

    def _prune(self, keep: str) -> None:
        builds = sorted(
            (
                p
                for p in (self.root / BUILDS).iterdir()
                if p.is_dir() and not p.name.endswith(".partial")
            ),
            key=lambda p: p.name,
        )
        old = [p for p in builds if p.name != keep][: max(0, len(builds) - KEEP_BUILDS)]
        for p in old:
            shutil.rmtree(p, ignore_errors=True)


def file_sizes(build: Path) -> dict[str, int]:
    return {
        p.relative_to(build).as_posix(): p.stat().st_size
        for p in sorted(build.rglob("*"))
        if p.is_file() and p.name != META and not p.name.endswith(".tmp")
    }


def verify(build: Path, meta: dict) -> list[str]:
    """Files of a build that are missing or whose size changed since it was published."""
    expected = meta.get("files") or {}
    actual = file_sizes(build)
    return sorted(name for name, size in expected.items() if actual.get(name) != size)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
