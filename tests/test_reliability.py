"""Bad input and faults: nothing crashes, nothing half-written, the old index keeps serving.

Bad input goes to the in-process Engine, the Flask test client and cli.main (plus hypothesis
with random Unicode). Faults: a damaged index run through the installed `caresearch` command,
a build killed with SIGKILL, a full disk (OSError ENOSPC monkeypatched into a writer), a broken
case file. Every index lives under tmp_path.
"""

from __future__ import annotations

import errno
import gc
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from caresearch import building, snapshot
from caresearch.cli import main
from caresearch.config import PROJECT_ROOT, SETTINGS, Settings
from caresearch.corpus import validate_corpus
from caresearch.engine import Engine, LiveEngine
from caresearch.errors import CorpusError, IndexNotReady, QueryError
from caresearch.store import IndexStore

DATA = Path(__file__).parent / "data"
TINY = DATA / "tiny_corpus"
EXE = Path(sys.executable).with_name("caresearch")
ENV_VARS = [s.env for s in SETTINGS]
MB = 1 << 20

# Text a user may type that is not a usable query: each gives a message, never a crash.
AWKWARD = [
    "",
    " ",
    "\u3000\u3000",
    "\t\n\r",
    "a\x00b",
    "\x1b[31m見守り",
    "見守り\x7f",
    "\u200b見守り\u200b",
    "\ufeff見守り",
    "\u202e見守り",
    "title:見守り",
    "keywords:サロン",
    "*",
    "?",
    "見守り*",
    "見?り",
    '"見守り',
    "見守り'",
    "(見守り",
    "見守り)",
    "[見守り TO サロン]",
    "{見守り",
    "見守り^2",
    "見守り~",
    "AND",
    "OR",
    "NOT",
    "見守り AND",
    "NOT 見守り",
    "OR OR OR",
    "\\",
    "%",
    "😀",
    "👨\u200d👩\u200d👧",
    "見守り😀サロン",
    "𩸽",
    "𠮷野家",
    "髙﨑",
    "か\u3099",
    "ｹｱﾏﾈ",
    "の",
    "、。・「」",
]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)


# --- bad input: engine ---------------------------------------------------------------------------


@pytest.mark.parametrize("text", AWKWARD)
def test_engine_takes_awkward_text_or_says_why(tiny_engine: Engine, text: str) -> None:
    for call in (tiny_engine.search, tiny_engine.recommend):
        try:
            call(text)
        except QueryError as exc:
            assert exc.message.strip() and "\n" not in exc.message


def test_engine_rejects_a_megabyte_before_analysing_it(tiny_engine: Engine) -> None:
    for call, limit in (
        (tiny_engine.search, tiny_engine.settings.max_query_chars),
        (tiny_engine.recommend, tiny_engine.settings.max_text_chars),
    ):
        started = time.perf_counter()
        with pytest.raises(QueryError, match="長すぎます") as info:
            call("見守り" * (MB // 3))
        assert time.perf_counter() - started < 1.0
        assert f"{limit}文字" in info.value.message


def test_lone_surrogates_from_undecodable_bytes_are_refused(tiny_engine: Engine) -> None:
    text = b"\xff\xfe\xe3\x81".decode("utf-8", "surrogateescape")
    for call in (tiny_engine.search, tiny_engine.recommend):
        with pytest.raises(QueryError):
            call(text)
        with pytest.raises(QueryError):
            call("見守り\ud800")


def _texts(chars: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Any text, or text built from query syntax, Japanese words and `chars`."""
    pieces = st.one_of(
        st.sampled_from(list('見守りケアマネ認知症サロン居場所の、。 \u3000*?:"()[]{}^~\\-+!')),
        st.sampled_from(["AND", "OR", "NOT", "TO", "title:", "ｹｱﾏﾈ", "😀", "𩸽", "見守り"]),
        chars,
    )
    return st.one_of(
        st.text(alphabet=chars, max_size=300), st.lists(pieces, max_size=40).map("".join)
    )


# The engine also gets lone surrogates (what undecodable bytes become); HTTP cannot carry them.
ANY_TEXT = _texts(st.characters())
HTTP_TEXT = _texts(st.characters(exclude_categories=["Cs"]))


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=ANY_TEXT)
def test_engine_search_never_raises_anything_but_query_error(tiny_engine: Engine, text) -> None:
    try:
        result = tiny_engine.search(text)
    except QueryError:
        return
    assert result.total >= len(result.hits)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=ANY_TEXT)
def test_engine_recommend_never_raises_anything_but_query_error(tiny_engine: Engine, text) -> None:
    try:
        rec = tiny_engine.recommend(text)
    except QueryError:
        return
    assert all(cr.confidence in ("high", "medium", "low") for cr in rec.cases)


# --- bad input: HTTP ------------------------------------------------------------------------------


def _assert_answer(r, *, api: bool) -> None:
    assert r.status_code in (200, 400, 413, 414), r.status_code
    if api:
        data = r.get_json()
        assert data is not None
        if r.status_code != 200:
            assert data["error"]["status"] == r.status_code and data["error"]["message"]
    else:
        html = r.get_data(as_text=True)
        assert '<html lang="ja">' in html
        if r.status_code != 200:
            assert "notice-error" in html


def _ask_everywhere(client, text: str) -> None:
    _assert_answer(client.get("/search", query_string={"q": text}), api=False)
    _assert_answer(client.get("/api/search", query_string={"q": text}), api=True)
    _assert_answer(client.post("/recommend", data={"text": text}), api=False)
    r = client.get("/recommend", query_string={"text": text})
    _assert_answer(r, api=False)
    _assert_answer(client.post("/api/recommend", json={"text": text}), api=True)


@pytest.mark.parametrize("text", AWKWARD)
def test_http_takes_awkward_text_or_says_why(tiny_client, text: str) -> None:
    _ask_everywhere(tiny_client, text)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(text=HTTP_TEXT)
def test_http_random_text_never_gives_5xx(tiny_app, text) -> None:
    _ask_everywhere(tiny_app.test_client(), text)


@pytest.mark.parametrize(
    "raw",
    ["%ff%fe", "%E3%81", "%E3%81%82%", "%zz", "%", "%%", "%C0%AF", "%00", "%0d%0aSet-Cookie:x=1"],
)
def test_broken_percent_encoding_and_invalid_utf8_in_urls(tiny_client, raw: str) -> None:
    for path, key, api in (
        ("/search", "q", False),
        ("/recommend", "text", False),
        ("/api/search", "q", True),
        ("/lessons", "theme", False),
        ("/handout", "lessons", False),
    ):
        r = tiny_client.get(f"{path}?{key}={raw}")
        assert r.status_code < 500, (path, raw)
        assert "Set-Cookie" not in r.headers
        if r.status_code == 301:  # read as Shift_JIS (%C0%AF: ﾀｯ): the same page in UTF-8
            location = r.headers["Location"]
            assert location.startswith(f"{path}?{key}=") and location.isascii()
            r = tiny_client.get(location)
        if r.status_code != 404:  # /handout: unknown lesson ids
            _assert_answer(r, api=api)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"text=%ff%fe%E3%81", "application/x-www-form-urlencoded"),
        (b"text=\xff\xfe\xe3\x81", "application/x-www-form-urlencoded"),
        (b"text=%", "application/x-www-form-urlencoded"),
        (b"\xff\xfe", "multipart/form-data; boundary=x"),
    ],
)
def test_broken_form_bodies(tiny_client, body: bytes, content_type: str) -> None:
    r = tiny_client.post("/recommend", data=body, content_type=content_type)
    assert r.status_code in (200, 400)
    _assert_answer(r, api=False)


@pytest.mark.parametrize(
    "body",
    [
        b'{"text": "\xff\xfe"}',
        b"\xff\xfe",
        b'{"text": "\\ud800"}',
        b'{"text": "\\u0000"}',
        b"{" * 10_000,
    ],
)
def test_broken_json_bodies_are_400_json(tiny_client, body: bytes) -> None:
    r = tiny_client.post("/api/recommend", data=body, content_type="application/json")
    assert r.status_code == 400
    _assert_answer(r, api=True)


@pytest.mark.parametrize(
    "path",
    [
        "/api/cases/nope",
        "/api/cases/..",
        "/api/cases/%2e%2e",
        "/api/cases/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/api/cases/alpha%00",
        "/api/cases/%2e%2e/similar",
        "/api/cases/..%5c..%5cwindows",
        "/handout?cases=../alpha",
        "/handout?lessons=%2e%2e%2falpha-sg-1",
        "/handout.md?cases=..%2F..%2Fetc%2Fpasswd",
        "/cases/%E3%81",
        "/cases/%ff",
        "/cases/alpha%2f..%2fbeta",
    ],
)
def test_unknown_or_path_like_ids_are_404(tiny_client, path: str) -> None:
    r = tiny_client.get(path)
    assert r.status_code == 404
    body = r.get_data(as_text=True)
    assert "見つかりません" in body and "root:" not in body


def test_a_megabyte_anywhere_is_refused_early(tiny_client) -> None:
    # ASCII, because the test client itself spends seconds unquoting a megabyte of %XX.
    huge = "a" * MB
    started = time.perf_counter()
    for path, key in (("/search", "q"), ("/recommend", "text"), ("/api/search", "q")):
        r = tiny_client.get(f"{path}?{key}={huge}")
        assert r.status_code == 414, path
        if path.startswith("/api/"):
            assert r.get_json()["error"]["status"] == 414
        else:
            html = r.get_data(as_text=True)
            assert '<html lang="ja">' in html and "長すぎます" in html
    r = tiny_client.post("/recommend", data={"text": "認" * MB})
    assert r.status_code == 413 and "大きすぎます" in r.get_data(as_text=True)
    r = tiny_client.post("/api/recommend", json={"text": "認" * MB})
    assert r.status_code == 413 and r.get_json()["error"]["status"] == 413
    assert time.perf_counter() - started < 5.0
    # Under the size limits but over the engine's: the limit is named.
    r = tiny_client.get("/search", query_string={"q": "認" * 201})
    assert r.status_code == 400 and "200文字" in r.get_data(as_text=True)
    r = tiny_client.post("/api/recommend", json={"text": "認" * 4001})
    assert r.status_code == 413 and "4000文字" in r.get_json()["error"]["message"]


# --- bad input: CLI -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("reliability-cli") / "index"
    Engine.build(Settings.from_env({}, corpus_dir=TINY, index_dir=path))
    return path


def _cli(index: Path, *argv: str, stdin: str | None = None) -> tuple[int, str]:
    out = io.StringIO()
    code = main(
        [*argv, "--corpus", str(TINY), "--index", str(index)],
        out=out,
        stdin=io.StringIO(stdin) if stdin is not None else None,
    )
    return code, out.getvalue()


CLI_AWKWARD = [
    *("", " ", "a\x00b", "\u202e見守り", "title:見守り", "*", '"見守り', "(見守り"),
    *("NOT", "😀", "𩸽", "ｹｱﾏﾈ", "の"),
]


@pytest.mark.parametrize("text", CLI_AWKWARD)
def test_cli_takes_awkward_text_or_says_why(cli_index: Path, text: str, capsys) -> None:
    for command in ("search", "recommend"):
        code, _out = _cli(cli_index, command, text)
        err = capsys.readouterr().err
        assert code in (0, 2), (command, text, err)
        if code:
            assert err.startswith("caresearch: エラー: ") and err.count("\n") == 1


def test_cli_megabyte_query_and_description(cli_index: Path, capsys) -> None:
    for command in ("search", "recommend"):
        code, _out = _cli(cli_index, command, "見守り" * (MB // 3))
        err = capsys.readouterr().err
        assert code == 2 and "長すぎます" in err and err.count("\n") == 1
    code, out = _cli(cli_index, "search", "-", "--json", stdin="見守り\n" + "あ" * MB + "\n")
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 1 and len(lines) == 2
    assert "hits" in lines[0] and "長すぎます" in lines[1]["error"]


@pytest.mark.parametrize(
    "case_id", ["../alpha", "%2e%2e", "..", "alpha/../beta", "", "\x00", "alpha-x"]
)
def test_cli_show_unknown_or_path_like_id(cli_index: Path, case_id: str, capsys) -> None:
    code, out = _cli(cli_index, "show", case_id)
    err = capsys.readouterr().err
    assert code == 1 and out == ""
    assert "見つかりません" in err and "Traceback" not in err


# --- faults: a damaged index -------------------------------------------------------------------


def _run(*argv: str, index: Path, corpus: Path = TINY) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    return subprocess.run(
        [str(EXE), *argv, "--corpus", str(corpus), "--index", str(index)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def built_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("reliability-built") / "index"
    Engine.build(Settings.from_env({}, corpus_dir=TINY, index_dir=path))
    return path


@pytest.fixture()
def index_copy(built_index: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "index"
    shutil.copytree(built_index, dst)
    return dst


def _build_dir(index: Path) -> Path:
    build = IndexStore(index).current()
    assert build is not None
    return build


def _garble(path: Path) -> None:
    """Same size, different bytes: only reading the file can tell."""
    size = path.stat().st_size
    path.write_bytes((b"\x80garbage" * (size // 8 + 1))[:size])


def _truncate_segment(index: Path) -> None:
    seg = next((_build_dir(index) / "whoosh").glob("*.seg"))
    with open(seg, "r+b") as f:
        f.truncate(seg.stat().st_size // 2)


def _garble_model(index: Path) -> None:
    _garble(_build_dir(index) / building.MODEL_FILE)


def _garble_toc(index: Path) -> None:
    _garble(next((_build_dir(index) / "whoosh").glob("*.toc")))


def _garble_positions(index: Path) -> None:
    _garble(_build_dir(index) / "whoosh" / "posptr.npy")


def _garble_snapshot(index: Path) -> None:
    _garble(_build_dir(index) / snapshot.TABLE_FILE)


def _garble_doc_table(index: Path) -> None:
    _garble(_build_dir(index) / "whoosh" / "docs.json")


DAMAGE = {
    "truncated whoosh segment": _truncate_segment,
    "garbled recommender.pkl": _garble_model,
    "garbled whoosh phrase positions": _garble_positions,
    "garbled whoosh document table": _garble_doc_table,
    "garbled corpus snapshot": _garble_snapshot,
}


@pytest.mark.parametrize(
    "damage",
    list(DAMAGE),
)
def test_damaged_index_is_detected_at_start_with_the_fix(index_copy: Path, damage: str) -> None:
    DAMAGE[damage](index_copy)
    with pytest.raises(IndexNotReady, match="caresearch build"):
        Engine.open(Settings.from_env({}, corpus_dir=TINY, index_dir=index_copy))
    # As a process, so a traceback would show: the CLI, or the server refusing to start.
    argv = ("serve", "--get", "/") if "whoosh" in damage else ("search", "見守り")
    result = _run(*argv, index=index_copy)
    assert result.returncode == 1, (argv, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("caresearch: エラー: ")
    assert "caresearch build" in lines[0]


def test_garbled_case_texts_are_reported_when_a_case_is_read(index_copy: Path, capsys) -> None:
    # The case texts are read when a case is shown, not at start: same size, other bytes.
    _garble(_build_dir(index_copy) / "cases.bin")
    settings = Settings.from_env({}, corpus_dir=TINY, index_dir=index_copy)
    engine = Engine.open(settings)
    case_id = engine.case_infos[0].id
    with pytest.raises(IndexNotReady, match="caresearch build --force"):
        engine.case(case_id)
    from caresearch.web import create_app

    client = create_app(engine).test_client()
    page = client.get(f"/cases/{case_id}")
    assert page.status_code == 503 and "caresearch build --force" in page.get_data(as_text=True)
    api = client.get(f"/api/cases/{case_id}")
    assert api.status_code == 503 and "build --force" in api.get_json()["error"]["message"]
    # the list of cases needs no case text and still works
    assert client.get("/").status_code == 200
    code, _out = _cli(index_copy, "show", case_id)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "caresearch build --force" in err[0]
    assert _cli(index_copy, "build", "--force")[0] == 0
    assert _cli(index_copy, "show", case_id)[0] == 0


def test_queries_never_read_whoosh_so_its_files_do_not_matter_to_serving(
    index_copy: Path,
) -> None:
    """Search reads the build's own tables; the Whoosh segments are the build's record
    (and the oracle the tests compare with), not read by a query."""
    settings = Settings.from_env({}, corpus_dir=TINY, index_dir=index_copy)
    engine = Engine.open(settings)
    before = [h.case.id for h in engine.search("見守り ケアマネ").hits]
    engine.close()
    _garble_toc(index_copy)
    engine = Engine.open(settings)
    try:
        assert [h.case.id for h in engine.search("見守り ケアマネ").hits] == before
    finally:
        engine.close()


def _advice(index: Path, capsys) -> list[str]:
    """The command the error message tells the user to run."""
    code, _out = _cli(index, "search", "見守り")
    err = capsys.readouterr().err
    assert code == 1
    advice = err.split("`", 2)[1].split()  # the command in backquotes
    assert advice[0] == "caresearch"
    return advice[1:]


def test_following_the_advice_for_a_truncated_segment_repairs_it(index_copy: Path, capsys) -> None:
    _truncate_segment(index_copy)
    advice = _advice(index_copy, capsys)
    assert advice == ["build", "--force"]
    assert _cli(index_copy, *advice)[0] == 0
    assert _cli(index_copy, "search", "見守り")[0] == 0


def test_following_the_advice_for_a_garbled_model_repairs_it(index_copy: Path, capsys) -> None:
    _garble_model(index_copy)
    advice = _advice(index_copy, capsys)  # ["build"]
    assert _cli(index_copy, *advice)[0] == 0
    assert _cli(index_copy, "search", "見守り")[0] == 0


POINTER_DAMAGE = {
    "missing meta.json": lambda index: (_build_dir(index) / "meta.json").unlink(),
    "garbage in CURRENT": lambda index: (index / "CURRENT").write_text("no such build\n"),
    "binary garbage in CURRENT": lambda index: (index / "CURRENT").write_bytes(b"\x8b\xff\x00"),
    "CURRENT points outside": lambda index: (index / "CURRENT").write_text("../../etc\n"),
    "CURRENT is a directory": lambda index: (
        (index / "CURRENT").unlink(),
        (index / "CURRENT").mkdir(),
    ),
    "no index at all": lambda index: shutil.rmtree(index),
}


@pytest.mark.parametrize("damage", list(POINTER_DAMAGE))
def test_unusable_pointer_or_meta(index_copy: Path, damage: str) -> None:
    POINTER_DAMAGE[damage](index_copy)
    settings = Settings.from_env({}, corpus_dir=TINY, index_dir=index_copy)
    # The server opens the index as it is: a clear message naming the fix.
    with pytest.raises(IndexNotReady, match="caresearch build"):
        Engine.open(settings)
    with pytest.raises(IndexNotReady, match="caresearch build"):
        LiveEngine(settings)
    if damage not in ("missing meta.json", "binary garbage in CURRENT"):
        return  # the CLI's rebuild is the same for all: two of them, as processes, suffice
    # The CLI builds what is missing, then answers.
    result = _run("search", "見守り", index=index_copy)
    assert result.returncode == 0, result.stderr
    assert "索引を作成しています…\n" in result.stderr and "Traceback" not in result.stderr


def test_pointer_that_is_a_directory_fails_the_build_cleanly(index_copy: Path, capsys) -> None:
    POINTER_DAMAGE["CURRENT is a directory"](index_copy)
    code, _out = _cli(index_copy, "search", "見守り")
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("caresearch: エラー: 索引の作成に失敗しました")
    assert not list((index_copy / "builds").glob("*.partial*"))


def test_live_engine_keeps_serving_when_the_new_build_is_damaged(
    tiny_corpus: Path, tmp_path, caplog
) -> None:
    settings = Settings.from_env({}, corpus_dir=tiny_corpus, index_dir=tmp_path / "index")
    Engine.build(settings)
    live = LiveEngine(settings, interval=0)
    old = live.get()
    Engine.build(settings, force=True)
    _truncate_segment(settings.index_dir)
    assert live.get() is old
    assert old.search("見守り").total >= 1
    assert "cannot be opened" in caplog.text  # the operator's log says why
    old.close()


def test_live_engine_closes_the_engines_it_replaced(tiny_corpus: Path, tmp_path) -> None:
    settings = Settings.from_env({}, corpus_dir=tiny_corpus, index_dir=tmp_path / "index")
    Engine.build(settings)
    live = LiveEngine(settings, interval=0)
    first = live.get()
    closed: list[Engine] = []
    real_close = first.close

    def close() -> None:
        closed.append(first)
        real_close()

    first.close = close  # type: ignore[method-assign]
    Engine.build(settings, force=True)
    second = live.get()
    assert second is not first and closed == []  # a request may still hold the first
    assert first.search("見守り").total >= 1
    Engine.build(settings, force=True)
    third = live.get()
    assert third is not second and closed == [first]
    live.close()


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads Linux's /proc")
def test_a_closed_engine_maps_none_of_its_files_though_something_still_holds_it(
    tiny_corpus: Path, tmp_path
) -> None:
    # an administrator's trial: the build a server started with stayed mapped after it had
    # been replaced (the server's start-up code still held it); Windows cannot delete a mapped
    # file, so its folder would never be pruned
    settings = Settings.from_env({}, corpus_dir=tiny_corpus, index_dir=tmp_path / "index")
    Engine.build(settings)
    held = Engine.open(settings)  # as a caller's variable holds the first engine
    assert held.search("見守り").total >= 1
    assert held.recommend("見守りの担い手が足りない").cases
    build = str(held.build_path)

    def mapped() -> list[str]:
        maps = Path("/proc/self/maps").read_text(encoding="utf-8", errors="replace")
        return [line.split()[-1] for line in maps.splitlines() if build in line]

    assert mapped()
    held.close()
    gc.collect()
    assert mapped() == []
    # a request still running on it finds no positions, and does not fail
    assert held.index.occurrences(0, ["見守り"]) == []
    assert held.search("見守り 担い手").total >= 0
    assert held.recommend("見守りの担い手が足りない") is not None


# --- faults: a build that dies -------------------------------------------------------------------


def _listing(index: Path) -> list[str]:
    return sorted(p.name for p in (index / "builds").iterdir())


@pytest.fixture()
def served(tiny_corpus: Path, tmp_path: Path) -> Iterator[tuple[Settings, str]]:
    """A published index of the tiny corpus, and its CURRENT."""
    settings = Settings.from_env({}, corpus_dir=tiny_corpus, index_dir=tmp_path / "index")
    Engine.build(settings)
    yield settings, (settings.index_dir / "CURRENT").read_text(encoding="utf-8")


def _assert_old_build_serves(settings: Settings, current: str) -> None:
    assert (settings.index_dir / "CURRENT").read_text(encoding="utf-8") == current
    assert not current.strip().endswith(".partial")
    engine = Engine.open(settings)
    try:
        assert len(engine.cases) == 3
        assert engine.search("見守り").total >= 1
        assert engine.recommend("ひとり暮らしの高齢者の見守り").cases
    finally:
        engine.close()


def _grow(corpus: Path) -> None:
    """The tiny corpus plus the bundled cases: a build that takes a few seconds."""
    for path in (PROJECT_ROOT / "corpus" / "cases").glob("*.yaml"):
        shutil.copy(path, corpus / "cases" / path.name)


def test_build_killed_midway_leaves_the_old_index_serving(served) -> None:
    settings, current = served
    _grow(settings.corpus_dir)
    builds = settings.index_dir / "builds"
    pointers: set[str] = set()
    stop = threading.Event()

    def watch() -> None:  # what a reader could see in CURRENT, while the build runs
        while not stop.is_set():
            pointers.add((settings.index_dir / "CURRENT").read_text(encoding="utf-8"))
            time.sleep(0.002)

    watcher = threading.Thread(target=watch)
    watcher.start()
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    argv = ["build", "--force", "--corpus", str(settings.corpus_dir)]
    proc = subprocess.Popen(
        [str(EXE), *argv, "--index", str(settings.index_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while not list(builds.glob("*.partial")):
            assert proc.poll() is None, "the build ended before it was caught writing"
            assert time.monotonic() < deadline
            time.sleep(0.005)
        time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(30)
        stop.set()
        watcher.join()
    assert proc.returncode == -signal.SIGKILL
    assert pointers == {current}, "CURRENT never changed while the build ran"
    assert list(builds.glob("*.partial")), "the dead build left its partial"
    _assert_old_build_serves(settings, current)

    # The next build removes what the dead one left, then publishes.
    report = Engine.build(settings, force=True)
    assert report.built and report.cases == 3 + len(list((PROJECT_ROOT / "corpus/cases").iterdir()))
    leftovers = [n for n in _listing(settings.index_dir) if n.endswith((".partial", ".lock"))]
    assert leftovers == []
    assert not list(settings.index_dir.glob("*.tmp")) and not list(
        settings.index_dir.glob(".*.tmp")
    )


def _enospc(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _fail_writing_index(monkeypatch):
    real = building.write_index

    def write_index(path, *args, **kwargs):
        real(path, *args, **kwargs)  # most of the work done, then the disk is full
        _enospc()

    monkeypatch.setattr(building, "write_index", write_index)


def _fail_writing_model(monkeypatch):
    monkeypatch.setattr(building, "_dump", _enospc)


def _fail_writing(name: str):
    """fsync reports ENOSPC for the temporary file behind `name` (the data only half there)."""

    def patch(monkeypatch):
        real = os.fsync

        def fsync(fd):
            target = os.readlink(f"/proc/self/fd/{fd}")
            if Path(target).name.startswith(f".{name}."):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real(fd)

        monkeypatch.setattr(os, "fsync", fsync)

    return patch


DISK_FULL = {
    "writing the whoosh index": _fail_writing_index,
    "writing the model": _fail_writing_model,
    "writing meta.json": _fail_writing("meta.json"),
    "writing CURRENT": _fail_writing("CURRENT"),
}


@pytest.mark.parametrize("where", list(DISK_FULL))
def test_disk_full_midway_leaves_the_old_index_serving(served, where, monkeypatch, capsys) -> None:
    settings, current = served
    before = _listing(settings.index_dir)
    DISK_FULL[where](monkeypatch)
    argv = ["build", "--force", "--corpus", str(settings.corpus_dir)]
    code = main([*argv, "--index", str(settings.index_dir)], out=io.StringIO())
    err = capsys.readouterr().err
    monkeypatch.undo()
    assert code == 1
    assert err.count("\n") == 1 and "No space left on device" in err
    assert "これまでの索引をそのまま使っています" in err
    after = _listing(settings.index_dir)
    assert not [n for n in after if n.endswith((".partial", ".lock"))]
    if where != "writing CURRENT":
        assert after == before
    # else: a complete, sealed build that was never published; the next build prunes it.
    assert not [p.name for p in settings.index_dir.rglob("*.tmp")]
    _assert_old_build_serves(settings, current)
    assert Engine.build(settings, force=True).built


def test_broken_case_file_never_produces_a_partial_index(served, capsys) -> None:
    settings, current = served
    before = _listing(settings.index_dir)
    beta = settings.corpus_dir / "cases" / "beta.yaml"
    beta.write_text(beta.read_text(encoding="utf-8").replace("title:", "titel:"), encoding="utf-8")
    (settings.corpus_dir / "cases" / "zeta.yaml").write_bytes(b"id: zeta\ntitle: \xff\n")
    problems = [str(p) for p in validate_corpus(settings.corpus_dir)]
    assert len(problems) >= 2
    with pytest.raises(CorpusError):
        Engine.build(settings, force=True)
    code = main(
        ["build", "--corpus", str(settings.corpus_dir), "--index", str(settings.index_dir)],
        out=io.StringIO(),
    )
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    for problem in problems:  # the same messages as `caresearch validate`
        assert problem in err
    assert _listing(settings.index_dir) == before
    _assert_old_build_serves(settings, current)
    # A server following CURRENT keeps the old build too.
    live = LiveEngine(settings, interval=0)
    assert len(live.get().cases) == 3
    live.get().close()


def test_build_that_cannot_write_says_so(tiny_corpus: Path, tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    code = main(
        ["build", "--corpus", str(tiny_corpus), "--index", str(blocker / "index")],
        out=io.StringIO(),
    )
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err


def _marked(marker: str) -> list[int]:
    """Processes whose environment holds `marker` (a build and the processes it started)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if marker.encode() in (proc / "environ").read_bytes():
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork and /proc")
def test_an_indexing_process_started_late_stops_when_its_build_was_killed(tmp_path) -> None:
    """A build killed before its indexing process got to run: the process must still see
    that its build is gone (it once read its parent with getppid() when it started, got 1,
    and waited for work forever)."""
    script = (
        "import multiprocessing as mp, multiprocessing.util as util, os, signal, sys, time\n"
        "from pathlib import Path\n"
        "from caresearch import index_writer as iw\n"
        "from caresearch.analysis import Analyzer\n"
        "path = Path(sys.argv[1])\n"
        "iw.write_index(path, [], Analyzer())\n"
        "class Late: pass\n"
        "late = Late()\n"
        "util.register_after_fork(late, lambda _: time.sleep(1.0))  # runs in the child\n"
        "ctx = mp.get_context('fork')\n"
        "worker = ctx.Process(target=iw._index_worker,\n"
        "    args=(str(path), ctx.Queue(), ctx.Queue(), os.getpid()), daemon=True)\n"
        "worker.start()\n"
        "Path(sys.argv[2]).write_text(str(worker.pid))\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    pid_file, log = tmp_path / "pid", tmp_path / "stderr"
    with open(log, "w") as err:  # not a pipe: the worker would hold it open
        code = subprocess.call(
            [sys.executable, "-c", script, str(tmp_path / "index"), str(pid_file)],
            stdout=subprocess.DEVNULL, stderr=err, env=env, timeout=120,
        )  # fmt: skip
    assert code == -signal.SIGKILL, log.read_text()
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = (
        Path(f"/proc/{pid}/status").exists()
        and "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    )
    if alive:
        os.kill(pid, signal.SIGKILL)
    assert not alive, "the indexing process outlived its killed build"


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc")
def test_indexing_processes_stop_when_their_build_is_killed(served) -> None:
    settings, current = served
    _grow(settings.corpus_dir)
    marker = f"CARESEARCH_TEST_BUILD={os.getpid()}-{time.monotonic_ns()}"
    script = (
        "import sys, caresearch.building as b, caresearch.index_writer as i\n"
        "from caresearch.config import Settings\n"
        "b.PARALLEL_MIN_DOCS = 1; i.BATCH_DOCS = 1  # two processes, fed slowly\n"
        "b.build(Settings.from_env({}, corpus_dir=sys.argv[1], index_dir=sys.argv[2]),"
        " force=True)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    env[marker.split("=")[0]] = marker.split("=")[1]
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(settings.corpus_dir), str(settings.index_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while len(_marked(marker)) < 3:  # the build and its two indexing processes
            assert proc.poll() is None, "the build ended before its indexing processes started"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(30)
    deadline = time.monotonic() + 15
    while _marked(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _marked(marker) == [], "indexing processes outlived the killed build"
    _assert_old_build_serves(settings, current)
