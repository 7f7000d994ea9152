"""Load on loopback: waitress on 127.0.0.1 (port 0) in a thread, concurrent clients, a rebuild.

Bounded: 8 client threads x 40 requests mixing search, recommend and case pages, 60 s at most.
A rebuild (Engine.build(force=True) in another thread) is swapped in during the load through
the app's LiveEngine: no request may fail, and the new build answers within a few seconds.
The figures are printed (run with -s to see them).
"""

from __future__ import annotations

import json
import logging
import random
import shutil
import statistics
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import waitress
from waitress import wasyncore

from caresearch.config import Settings
from caresearch.engine import Engine, LiveEngine
from caresearch.web import SERVER_OPTIONS, create_app

DATA = Path(__file__).parent / "data"
CLIENTS = 8
REQUESTS_PER_CLIENT = 40
DEADLINE = 60.0
SECRET = "秘密の山田花子さん宅の見守り"  # a query that must never reach a log

SEARCHES = ["見守り", "ケアマネ", "サロン", "認知症", "ﾃﾞｲｻｰﾋﾞｽ", "居場所 体操", "自治会 みまもり"]
PROBLEMS = [
    "ひとり暮らしの高齢者の見守りの担い手が足りない",
    "住民が運営する居場所やサロンをつくりたい",
    "ケアマネと自治会の連携がうまくいかない",
    SECRET,
]
CASE_IDS = ["alpha", "beta", "gamma"]


@dataclass
class Server:
    url: str
    settings: Settings
    corpus: Path

    def get(self, path: str, timeout: float = 30) -> tuple[int, bytes]:
        return _fetch(urllib.request.Request(self.url + path), timeout)

    def post(self, path: str, body: bytes, content_type: str) -> tuple[int, bytes]:
        req = urllib.request.Request(
            self.url + path, data=body, headers={"Content-Type": content_type}
        )
        return _fetch(req, 30)


def _fetch(req: urllib.request.Request, timeout: float) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("load")
    corpus = tmp / "corpus"
    shutil.copytree(DATA / "tiny_corpus", corpus)
    settings = Settings.from_env({}, corpus_dir=corpus, index_dir=tmp / "index")
    Engine.build(settings)
    live = LiveEngine(settings)
    app = create_app(live)
    srv = waitress.create_server(app, host="127.0.0.1", port=0, threads=8, **SERVER_OPTIONS)
    stopping = threading.Event()

    def loop() -> None:
        # The loop runs here, and is shut down here, so no socket is closed under a poll.
        while not stopping.is_set():
            wasyncore.loop(timeout=0.05, map=srv._map, count=1)
        srv.task_dispatcher.shutdown()
        for channel in list(srv._map.values()):
            channel.close()

    thread = threading.Thread(target=loop, name="waitress", daemon=True)
    thread.start()
    try:
        yield Server(f"http://127.0.0.1:{srv.effective_port}", settings, corpus)
    finally:
        stopping.set()
        thread.join(10)
        live.get().close()


def _one_request(server: Server, rnd: random.Random) -> tuple[str, int, float]:
    kind = rnd.choice(
        ["search", "api_search", "recommend", "recommend_post", "api_recommend", "case"]
    )
    started = time.perf_counter()
    if kind == "search":
        status, _ = server.get("/search?" + urllib.parse.urlencode({"q": rnd.choice(SEARCHES)}))
    elif kind == "api_search":
        status, _ = server.get("/api/search?" + urllib.parse.urlencode({"q": rnd.choice(SEARCHES)}))
    elif kind == "recommend":
        query = urllib.parse.urlencode({"text": rnd.choice(PROBLEMS)})
        status, _ = server.get("/recommend?" + query)
    elif kind == "recommend_post":
        body = urllib.parse.urlencode({"text": rnd.choice(PROBLEMS)}).encode()
        status, _ = server.post("/recommend", body, "application/x-www-form-urlencoded")
    elif kind == "api_recommend":
        body = json.dumps({"text": rnd.choice(PROBLEMS)}).encode()
        status, _ = server.post("/api/recommend", body, "application/json")
    else:
        status, _ = server.get(f"/cases/{rnd.choice(CASE_IDS)}")
    return kind, status, time.perf_counter() - started


def _client(
    server: Server, seed: int, until: threading.Event | None = None
) -> list[tuple[str, int, float]]:
    """REQUESTS_PER_CLIENT requests, and more until `until` is set (bounded in count and time)."""
    rnd = random.Random(seed)
    out = [_one_request(server, rnd) for _ in range(REQUESTS_PER_CLIENT)]
    stop = time.monotonic() + DEADLINE / 2
    while until is not None and not until.is_set() and len(out) < 10 * REQUESTS_PER_CLIENT:
        if time.monotonic() > stop:
            break
        out.append(_one_request(server, rnd))
    return out


def _add_case(corpus: Path, case_id: str) -> None:
    text = (corpus / "cases" / "alpha.yaml").read_text(encoding="utf-8")
    text = text.replace("alpha", case_id).replace("order: 1", "order: 9")
    (corpus / "cases" / f"{case_id}.yaml").write_text(text, encoding="utf-8")


def test_concurrent_clients_and_a_rebuild_fail_no_request(server: Server, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    assert server.get("/cases/delta")[0] == 404
    old_build = server.settings.index_dir / "CURRENT"
    old_name = old_build.read_text(encoding="utf-8").strip()
    rebuilt = threading.Event()
    build_error: list[BaseException] = []
    built_at: list[float] = []

    def rebuild() -> None:
        time.sleep(0.5)  # while the clients are busy
        try:
            _add_case(server.corpus, "delta")
            Engine.build(server.settings, force=True)
            built_at.append(time.perf_counter())
        except BaseException as exc:  # reported by the test below
            build_error.append(exc)
        finally:
            rebuilt.set()

    started = time.perf_counter()
    builder = threading.Thread(target=rebuild, name="rebuild")
    builder.start()
    with ThreadPoolExecutor(CLIENTS) as pool:
        futures = [pool.submit(_client, server, seed, rebuilt) for seed in range(CLIENTS)]
        results = [r for f in futures for r in f.result(timeout=DEADLINE)]
    load_done = time.perf_counter()
    builder.join(DEADLINE)
    elapsed = load_done - started
    assert not build_error, build_error
    assert rebuilt.is_set() and built_at[0] < load_done, "the rebuild should land during the load"
    assert old_build.read_text(encoding="utf-8").strip() != old_name

    # The new build answers within a few seconds (LiveEngine checks CURRENT once a second).
    deadline, checks = time.monotonic() + 5, 1
    while server.get("/cases/delta")[0] != 200:
        assert time.monotonic() < deadline, "the rebuilt index was not picked up in 5 s"
        time.sleep(0.1)
        checks += 1
    seen = time.perf_counter() - built_at[0]
    status, body = server.get("/api/search?" + urllib.parse.urlencode({"q": "みまもり"}))
    assert status == 200 and "delta" in {h["case_id"] for h in json.loads(body)["hits"]}

    errors = [(kind, status) for kind, status, _s in results if status != 200]
    latencies = sorted(s for _k, _st, s in results)
    print(
        f"\nload: {len(results)} requests from {CLIENTS} clients in {elapsed:.1f} s, "
        f"{len(errors)} errors; latency p50 {statistics.median(latencies) * 1000:.0f} ms, "
        f"p95 {latencies[int(len(latencies) * 0.95)] * 1000:.0f} ms, "
        f"max {latencies[-1] * 1000:.0f} ms; rebuild published at {built_at[0] - started:.1f} s; new case served at check {checks}, "
        f"{seen:.1f} s after publishing"
    )
    assert len(results) >= CLIENTS * REQUESTS_PER_CLIENT
    assert errors == []
    assert elapsed < DEADLINE
    # Privacy: the app logged each request (method, path, status, time) but no query text.
    assert "GET /search 200" in caplog.text and "POST /api/recommend 200" in caplog.text
    assert SECRET not in caplog.text and "見守り" not in caplog.text and "q=" not in caplog.text


def test_oversized_requests_are_refused_and_the_server_keeps_answering(server: Server) -> None:
    # 1 MB in the query string: over waitress's 256 KB header limit, refused before the app.
    status, _ = server.get("/search?q=" + "a" * (1 << 20))
    assert status == 431
    # 100 KB: past the app's 64 KB query-string limit, a Japanese page.
    status, body = server.get("/search?q=" + "a" * 100_000)
    assert status == 414 and '<html lang="ja">' in body.decode()
    # 1 MB bodies: the app's 413, as JSON under /api and as a Japanese page elsewhere.
    big = json.dumps({"text": "a" * (1 << 20)}).encode()
    status, body = server.post("/api/recommend", big, "application/json")
    assert status == 413 and json.loads(body)["error"]["status"] == 413
    form = urllib.parse.urlencode({"text": "あ" * 110_000}).encode()  # 1 MB percent-encoded
    status, body = server.post("/recommend", form, "application/x-www-form-urlencoded")
    assert status == 413 and "大きすぎます" in body.decode()
    # Past the server's body cap: waitress answers 413 from the headers and hangs up, without
    # spooling the body (the client may still be sending it and see the connection drop).
    try:
        status, _ = server.post("/api/recommend", b"x" * (3 << 20), "application/json")
    except urllib.error.URLError as exc:
        assert isinstance(exc.reason, (BrokenPipeError, ConnectionResetError)), exc
    else:
        assert status == 413
    assert server.get("/cases/alpha")[0] == 200
