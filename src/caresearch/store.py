"""The index directory: numbered builds, an atomic pointer to the current one, fingerprints.

Layout of `index/`:
  CURRENT                 one line: the name of the build that readers open
  builds/<name>/          a complete build (Whoosh files, model, corpus snapshot, meta.json)
  builds/<name>.partial/  a build being written; never opened, removed by the next build

A build is written under a `.partial` name, renamed when complete, and published by replacing
CURRENT with os.replace, which is atomic: a reader sees the old build or the new one, never half
of either. A pointer file instead of a symlink works on Windows too. Stdlib only.

While it writes, a build holds an advisory lock on `builds/<name>.partial.lock`; the kernel
drops it when the process dies, even by SIGKILL, so the next build removes the partials of
builds that died and leaves those of builds still running alone. Without fcntl (Windows), a
partial is removed once it is an hour old.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import time
import uuid
import weakref
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: partials are removed by age instead
    fcntl = None  # type: ignore[assignment]

POINTER = "CURRENT"
BUILDS = "builds"
META = "meta.json"
KEEP_BUILDS = 2  # the current build and the one before it, for readers still on it
PARTIAL = ".partial"
LOCK = ".lock"  # builds/<name>.partial.lock, held while the build is being written


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
        self._locks: dict[str, object] = {}  # partial name -> its open, locked lock file

    def current(self) -> Path | None:
        """The published build directory, or None when nothing was ever built."""
        try:
            name = (self.root / POINTER).read_text(encoding="utf-8").strip()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError, UnicodeDecodeError):
            return None  # missing, or garbage that cannot be a build name: nothing published
        if not name or "/" in name or "\\" in name or name.startswith("."):
            return None
        path = self.root / BUILDS / name
        return path if path.is_dir() else None

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
        path = builds / f"{name}{PARTIAL}"
        self._lock(path)  # before the directory exists, so no other build can think it dead
        path.mkdir()
        return path

    def publish(self, partial: Path, meta: dict) -> Path:
        """Seal a finished build and point CURRENT at it, atomically.

        The sizes of its files go into meta.json, so a truncated file is detected at start.
        """
        meta = {**meta, "files": file_sizes(partial)}
        _write_atomic(partial / META, json.dumps(meta, ensure_ascii=False, indent=2))
        final = partial.with_name(partial.name.removesuffix(PARTIAL))
        os.replace(partial, final)
        self._unlock(partial)
        _write_atomic(self.root / POINTER, final.name + "\n")
        self._prune(keep=final.name)
        return final

    def discard(self, partial: Path) -> None:
        shutil.rmtree(partial, ignore_errors=True)
        self._unlock(partial)

    def _lock(self, partial: Path) -> None:
        if fcntl is None:  # pragma: no cover - Windows
            return
        f = open(partial.with_name(partial.name + LOCK), "w")  # noqa: SIM115 - held until publish
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            raise
        self._locks[partial.name] = f

    def _unlock(self, partial: Path) -> None:
        f = self._locks.pop(partial.name, None)
        if f is not None:
            partial.with_name(partial.name + LOCK).unlink(missing_ok=True)
            f.close()  # type: ignore[attr-defined]

    def _remove_stale_partials(self, older_than: float = 3600.0) -> None:
        """Remove what builds that died left behind: their partials and lock files."""
        builds = self.root / BUILDS
        now = time.time()
        for p in builds.glob(f"*{PARTIAL}"):
            lock = p.with_name(p.name + LOCK)
            try:
                if lock.exists() and fcntl is not None:
                    if _is_abandoned(lock):
                        shutil.rmtree(p, ignore_errors=True)
                        lock.unlink(missing_ok=True)
                # No lock file (Windows, or an older version): a partial younger than an hour
                # may belong to a build still running in another process.
                elif now - p.stat().st_mtime > older_than:
                    shutil.rmtree(p, ignore_errors=True)
            except OSError:
                pass
        if fcntl is not None:
            for lock in builds.glob(f"*{PARTIAL}{LOCK}"):
                try:
                    if not lock.with_name(lock.name.removesuffix(LOCK)).exists() and _is_abandoned(
                        lock
                    ):
                        lock.unlink(missing_ok=True)
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


def _is_abandoned(lock: Path) -> bool:
    """True when no running build holds `lock` (its builder finished or died)."""
    with open(lock, "rb") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(f, fcntl.LOCK_UN)
        return True


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk must not leave half a pointer file behind
        raise


class HeldFile:
    """A build's file kept open while the build is in use, read at offsets under a lock. A
    request still running on a build that later builds have pruned reads it all the same (each
    read had opened the file anew: FileNotFoundError, a 500 or a false 「壊れています」 during
    rebuilds). Closed when the object goes, after the last request on the build."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = open(path, "rb")  # noqa: SIM115 - open for the object's life
        self._lock = threading.Lock()
        weakref.finalize(self, self._file.close)

    def size(self) -> int:
        return os.fstat(self._file.fileno()).st_size

    def read(self, offset: int, length: int) -> bytes:
        with self._lock:  # a seek and its read belong together
            self._file.seek(offset)
            return self._file.read(length)
