"""The `caresearch` command: a thin adapter that parses argv, calls the Engine, prints.

Every error becomes one short line on stderr and a non-zero exit (2 for bad input); no
traceback reaches the user. Query text is never logged.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

from . import serialize
from .argparse_ja import Parser, limited
from .config import LIMITS, SETTINGS, Settings
from .errors import CaresearchError, CorpusError, IndexNotReady, QueryError
from .models import (
    CONFIDENCE_LABELS,
    FACETS,
    LESSON_KINDS,
    SECTION_LABELS,
    matched_label,
)

EXIT_USAGE = 2
DRAFT_HINT = "確認して reviewed: true にすると入ります（確認項目は caresearch validate で表示）"


# --- output helpers ----------------------------------------------------------------------------


def _print_json(data: Any, out: TextIO, *, lines: bool = False) -> None:
    if lines:
        out.write(json.dumps(data, ensure_ascii=False) + "\n")
    else:
        out.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def _strip_marks(snippet: str) -> str:
    """A snippet as plain text, its marked words in ≪≫: not 【】, which the cases write around
    their headings (【介護サービス事業者が連携しやすい環境整備】), and in Shift_JIS for a Windows
    console."""
    import html

    return html.unescape(snippet.replace("<mark>", "≪").replace("</mark>", "≫"))


def _progress(it: Iterable, total: int, desc: str) -> Iterable:
    from tqdm import tqdm

    # Only worth a bar when it takes a while and stderr is a terminal.
    return tqdm(it, total=total, desc=desc, unit="件", disable=None, mininterval=0.5, leave=False)


# --- engine access -----------------------------------------------------------------------------


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(corpus_dir=args.corpus, index_dir=args.index)


def _engine(args: argparse.Namespace):
    """Open the index, building it first when it is missing or older than the corpus. When
    that build fails (a colleague's broken case file, an index folder that cannot be written)
    and an earlier index exists, that one answers, with a warning: one typo never takes the
    search down for everyone (`caresearch build` itself still stops)."""
    from .engine import Engine
    from .store import IndexStore

    settings = _settings(args)
    if Engine.is_stale(settings):
        print("索引を作成しています…", file=sys.stderr)
        try:
            report = Engine.build(settings, progress=_progress)
        except CaresearchError as failed:
            # only an index of this same corpus folder (a corpus that is gone, or another
            # corpus, is no reason to answer from an index of a different one)
            built_from = (IndexStore(settings.index_dir).meta() or {}).get("corpus_dir")
            if built_from != str(settings.corpus_dir) or not settings.corpus_dir.is_dir():
                raise
            try:
                engine = Engine.open(settings)
            except IndexNotReady:
                raise failed from None
            print(f"{STALE_INDEX}\n理由: {failed}", file=sys.stderr)
            return engine
        print(_build_line(report), file=sys.stderr)
    return Engine.open(settings)


STALE_INDEX = (
    "警告: 事例フォルダの変更を索引に入れられませんでした。前回作った索引で答えます（変更した事例は"
    "まだ入っていません）。理由を直してから caresearch build を実行してください。"
)


def _build_line(report) -> str:
    line = (
        f"索引を作成しました（事例 {report.cases} 件、答えの箇所 {report.passages} 件、"
        f"文書 {report.documents} 件、{report.seconds:.1f} 秒）: {report.path}"
        if report.built
        else f"索引は最新です（事例 {report.cases} 件、答えの箇所 {report.passages} 件）: {report.path}"
    )
    if drafts := report.drafts:  # 確認中の下書き: named, with what to do
        shown = "、".join(drafts[:5]) + ("など" if len(drafts) > 5 else "")
        line += f"\n確認中の下書き {len(drafts)} 件（{shown}）は索引に入れていません。{DRAFT_HINT}"
    return line


def _read_stdin_lines(stdin: TextIO) -> Iterable[str]:
    raw = stdin.buffer.read() if hasattr(stdin, "buffer") else stdin.read().encode()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise QueryError(f"標準入力が UTF-8 ではありません（{exc.start + 1} バイト目）。") from None
    return text.splitlines()


def _each_query(
    args: argparse.Namespace,
    text: str,
    run: Callable[[str], dict],
    render: Callable[[dict], None],
    stdin: TextIO,
    out: TextIO,
) -> int:
    """One query, or with '-' one query per stdin line printed as JSON Lines, in order."""
    if text != "-":
        data = run(text)
        if args.json:
            _print_json(data, out)
        else:
            render(data)
        return 0
    status = 0
    # Line N of the output answers line N of the input, a blank line with an error.
    for line in _read_stdin_lines(stdin):
        try:
            _print_json(run(line), out, lines=True)
        except QueryError as exc:
            _print_json({"query": line, "error": exc.message}, out, lines=True)
            status = 1
    return status


# --- commands ----------------------------------------------------------------------------------


def cmd_build(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    from .engine import Engine

    report = Engine.build(_settings(args), force=args.force, progress=_progress)
    print(_build_line(report), file=out)
    return 0


def cmd_search(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    engine = _engine(args)
    filters = {f.key: getattr(args, f.key) for f in FACETS}

    def run(q: str) -> dict:
        result = engine.search(
            q, filters=filters, page=args.page, page_size=args.limit, exact=args.exact
        )
        return serialize.search_result(result)

    def render(data: dict) -> None:
        print(f"「{data['query']}」 {data['total']}件", file=out)
        if data["notice"]:
            print(data["notice"], file=out)
        if data["total"] or data["partial"]:
            _print_other_ways(data, out)
        if not data["hits"] and data["total"]:
            print("1ページ目: --page 1", file=out)  # the notice said the page is past the end
        also = "、".join(
            f"{w['word']} → {'、'.join(e['label'] for e in w['expansions'])}"
            for w in data["expansions"]
        )
        if data["exact"]:
            read = f"（かなの読み：{also}）" if also else ""
            print(
                f"入力した語だけで検索しています{read}。言い換え・略語も含めるには --exact を外します",
                file=out,
            )
        elif also:
            print(f"次の語も含めて検索しました：{also}（入力した語だけで検索: --exact）", file=out)
        first = (data["page"] - 1) * data["page_size"] + 1
        last = first + len(data["hits"]) - 1
        if data["hits"] and (first > 1 or last < data["total"]):  # one page of several
            limit = f" --limit {args.limit}" if args.limit else ""
            more = f"。次: --page {data['page'] + 1}{limit}" if last < data["total"] else ""
            shown = f"{first}件目" if first == last else f"{first}～{last}件目"
            print(f"{shown}を表示（全{data['total']}件{more}）", file=out)
        for n, hit in enumerate(data["hits"], start=first):
            _print_hit(f"{n}.", hit, out)
        if data["partial"]:
            print(f"\n{data['partial_note']}", file=out)
            for hit in data["partial"]:
                _print_hit("・", hit, out)
            if data["partial_total"] > len(data["partial"]):  # --page does not reach them
                more = min(data["partial_total"], LIMITS["limit"].high)
                print(f"（もっと見るには: --limit {more}）", file=out)
        if not data["total"] and not data["partial"]:
            print("該当する事例はありません。", file=out)
            _print_other_ways(data, out)

    query = " ".join(("-" + q[1:]) if q.startswith("－") else q for q in args.query)
    return _each_query(args, query, run, render, stdin, out)


def _print_other_ways(data: dict, out: TextIO) -> None:
    if instead := "、".join(f"{x['word']} → {x['instead']}" for x in data["suggestions"]):
        print(f"こちらの言い方でも探せます: {instead}", file=out)


def _print_hit(mark: str, hit: dict, out: TextIO) -> None:
    print(
        f"\n{mark} {hit['prefecture']} {hit['municipality']}  {hit['title']}  [{hit['case_id']}]",
        file=out,
    )
    for note in (hit.get("holds"), hit["matched_note"]):
        if note:
            print(f"   （{note}）", file=out)
    for p in hit["passages"]:
        label = SECTION_LABELS.get(p["section"], p["section"])
        print(f"   - ({label}) {_strip_marks(p['snippet'])}", file=out)


def cmd_recommend(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    engine = _engine(args)

    def run(text: str) -> dict:
        return serialize.recommendation(engine.recommend(text, limit=args.limit))

    def render(data: dict) -> None:
        if data["notice"]:
            print(data["notice"], file=out)
        for n, c in enumerate(data["cases"], 1):
            print(
                f"\n{n}. {c['prefecture']} {c['municipality']}  {c['title']}  [{c['case_id']}]",
                file=out,
            )
            print(f"   適合度: {CONFIDENCE_LABELS[c['confidence']]}（{c['reason']}）", file=out)
            terms = "、".join(
                matched_label(m["query"], m["case"], m["via"]) for m in c["matched_terms"]
            )
            if terms:
                print(f"   なぜこの事例?: {terms}", file=out)
            if c["notice"]:
                print(f"   {c['notice']}", file=out)
            for les in c["lessons"]:
                label = SECTION_LABELS.get(les["section"], les["section"])
                print(f"   - ({label}) {_strip_marks(les['snippet'])}  [{les['id']}]", file=out)

    return _each_query(args, args.text, run, render, stdin, out)


def cmd_similar(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    engine = _engine(args)
    case = engine.find_case(args.case_id)
    data = serialize.similar(case, engine.similar(case.id, limit=args.limit))
    if args.json:
        _print_json(data, out)
        return 0
    print(f"{case.prefecture} {case.municipality} に似た事例:", file=out)
    for s in data["similar"]:  # in order of similarity; the page shows no raw score either
        print(f"- {s['prefecture']} {s['municipality']}  {s['title']}  [{s['case_id']}]", file=out)
        if s["shared_themes"]:
            print(f"  共通のテーマ: {'、'.join(s['shared_themes'])}", file=out)
        if s["shared_terms"]:
            print(f"  共通する言葉: {'、'.join(s['shared_terms'][:5])}", file=out)
    return 0


def cmd_show(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    engine = _engine(args)
    case = engine.find_case(args.case_id)
    if args.json:
        _print_json(serialize.case_detail(case), out)
        return 0
    from .render import case_text

    out.write(case_text(case))
    return 0


def cmd_lessons(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    engine = _engine(args)
    items = engine.lessons(theme=args.theme, prefecture=args.prefecture, kind=args.kind)
    data = serialize.lessons(items, args.theme, engine.lesson_themes)
    if args.json:
        _print_json(data, out)
        return 0
    for case, lesson in items:
        print(f"[{lesson.id}] {case.municipality}: {lesson.text}", file=out)
    if data["notice"]:
        print(data["notice"], file=out)
    return 0


def cmd_validate(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    from .corpus import validate_corpus

    corpus_dir = Path(args.dir) if args.dir else _settings(args).corpus_dir
    problems = validate_corpus(corpus_dir)
    if not problems:
        print(f"問題はありません: {corpus_dir}", file=out)
        return 0
    for p in problems:
        print(str(p), file=sys.stderr)
    print(f"{len(problems)} 件の問題があります: {corpus_dir}", file=sys.stderr)
    return 1


def cmd_import(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    from . import importing
    from .corpus import CASES_DIRNAME, case_ids

    corpus_dir = _settings(args).corpus_dir
    out_dir = Path(args.out) if args.out else corpus_dir / CASES_DIRNAME
    summary = importing.import_files(
        [Path(f) for f in args.files], out_dir, existing_ids=case_ids(corpus_dir)
    )
    print(importing.format_summary(summary), file=out)
    return 0


def cmd_serve(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    import logging

    from .engine import LiveEngine
    from .web import create_app, listening_at, make_server

    engine = _engine(args)
    app = create_app(LiveEngine(engine.settings, engine))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # 「Task queue depth is N」 whenever every thread is busy: half the lines of a busy log, and
    # nothing to act on (requests wait their turn; --threads adds memory, not speed)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    if args.get:
        response = app.test_client().get(args.get)
        out.write(response.get_data(as_text=True))
        return 0 if response.status_code < 400 else 1
    import threading

    _limit_malloc_arenas()
    # bound before anything is said: a port in use is one line saying what to do (exit 2)
    server = make_server(app, host=args.host, port=args.port, threads=args.threads)
    # The encoder loads while the server starts listening, not in the first recommend.
    threading.Thread(target=engine.warm_up, name="warm-up", daemon=True).start()
    print(
        f"caresearch: {listening_at(args.host, args.port)} で待ち受けています (Ctrl+C で終了)",
        file=sys.stderr,
    )
    server.run()
    return 0


def _limit_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's per-thread malloc arenas before the request threads start.

    Each thread otherwise keeps its own arena of freed numpy buffers: on a 10,000-case index
    that is hundreds of MB of resident memory that no request uses. Elsewhere (musl, macOS)
    this does nothing.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt(-8, arenas)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass


def cmd_eval(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    from .evaluate import run_eval

    engine = _engine(args)
    report = run_eval(engine, Path(args.dev_dir))
    if args.json:
        _print_json(report, out)
    else:
        from .evaluate import format_report

        out.write(format_report(report))
    return 0


# --- parser ------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    common = Parser(add_help=False)
    common.add_argument(
        "--corpus", metavar="DIR", help="事例フォルダ（環境変数 CARESEARCH_CORPUS、既定: corpus/）"
    )
    common.add_argument(
        "--index", metavar="DIR", help="索引フォルダ（環境変数 CARESEARCH_INDEX、既定: index/）"
    )
    as_json = Parser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="JSON で出力する")

    parser = Parser(
        prog="caresearch",
        description="地域包括ケアの取組事例を探す",
        epilog="環境変数:\n"
        + "\n".join(
            f"  {s.env:<30} {s.help}"
            + (f"（{s.low}～{s.high}、既定 {s.default}）" if s.low is not None else "")
            for s in SETTINGS
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("build", parents=[common], help="事例から索引を作る")
    p.add_argument("--force", action="store_true", help="最新でも作り直す")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("search", parents=[common, as_json], help="キーワードで探す")
    p.add_argument(
        "query",
        nargs="+",
        help="キーワード（OR か | でどちらか、-語 か NOT 語 で除外、引用符で語句のまま）。"
        "'-' なら標準入力から1行に1つ（1行に1つの JSON で出力）",
    )
    for f in FACETS:
        # an ASCII metavar: argparse counts a kanji as one column and misaligns the help
        p.add_argument(
            f.flag, dest=f.key, metavar=f.key.upper(), action="append",
            help=f"{f.label}で絞り込む（{f.help}。くり返し指定すると、いずれかに当てはまる事例）",
        )  # fmt: skip
    p.add_argument("--page", type=limited("page"), default=1, help="ページ（1から）")
    p.add_argument("--limit", type=limited("limit"), default=None, help="1ページの事例の数")
    p.add_argument(
        "--exact", action="store_true", help="入力した語だけで探す（言い換え・語の一部を使わない）"
    )
    p.set_defaults(func=cmd_search)

    p = sub.add_parser(
        "recommend",
        parents=[common, as_json],
        help="課題の文章から、合う事例と答えになる箇所を探す",
    )
    p.add_argument("text", help="自分の言葉で書いた課題。'-' なら標準入力から1行に1つ")
    p.add_argument("--limit", type=limited("limit"), default=5, help="事例の数（既定 5）")
    p.set_defaults(func=cmd_recommend)

    p = sub.add_parser("similar", parents=[common, as_json], help="ある事例に似た事例")
    p.add_argument(
        "case_id", help="事例の id（例: tobetsu。検索結果の [ ] の中）か市町村名（当別町）"
    )
    p.add_argument("--limit", type=limited("limit"), default=5, help="事例の数（既定 5）")
    p.set_defaults(func=cmd_similar)

    p = sub.add_parser("show", parents=[common, as_json], help="事例を1件表示する")
    p.add_argument(
        "case_id", help="事例の id（例: tobetsu。検索結果の [ ] の中）か市町村名（当別町）"
    )
    p.set_defaults(func=cmd_show)

    p = sub.add_parser(
        "lessons",
        parents=[common, as_json],
        help="教訓（この事例のポイントと、これから取り組む皆さまへ）の一覧",
    )
    p.add_argument("--theme", help="教訓のテーマで絞り込む（例: 介護予防）")
    p.add_argument("--pref", dest="prefecture", help="都道府県で絞り込む（例: 北海道）")
    p.add_argument(
        "--kind", choices=LESSON_KINDS, help="key_point（ポイント）か suggestion（皆さまへ）"
    )
    p.set_defaults(func=cmd_lessons)

    for name in ("validate",):
        p = sub.add_parser(
            name, parents=[common], help="事例ファイルを検査する（何も書き換えない）"
        )
        p.add_argument("dir", nargs="?", help="事例フォルダ（既定: --corpus）")
        p.set_defaults(func=cmd_validate)
    corpus = sub.add_parser("corpus", help="事例フォルダの道具")
    csub = corpus.add_subparsers(dest="corpus_command", required=True, metavar="COMMAND")
    p = csub.add_parser(
        "validate", parents=[common], help="事例ファイルを検査する（何も書き換えない）"
    )
    p.add_argument("dir", nargs="?", help="事例フォルダ（既定: --corpus）")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser(
        "import",
        parents=[common],
        help="事例集（PDF・Word・テキスト）から事例の下書きを作る（上書きしない）",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="PDF・.docx・.txt・.md のファイル")
    p.add_argument(
        "--out", metavar="DIR", help="下書きを書き出すフォルダ（既定: 事例フォルダの cases/）"
    )
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("serve", parents=[common], help="Web 画面のサーバーを起動する（waitress）")
    p.add_argument("--host", default="127.0.0.1", help="待ち受けるアドレス（既定 127.0.0.1）")
    p.add_argument("--port", type=int, default=8000, help="ポート（既定 8000）")
    p.add_argument(
        "--threads",
        type=limited("threads"),
        default=4,
        help="リクエストを処理するスレッドの数（既定 4。増やしてもメモリを使うだけ）",
    )
    p.add_argument("--get", metavar="PATH", help="1つのリクエストにその場で答えて表示し、終わる")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser(
        "eval", parents=[common, as_json], help="開発用評価セットで採点し、基準と比べる"
    )
    p.add_argument(
        "--dev-dir",
        default=str(Path(__file__).resolve().parents[2] / "eval"),
        help="評価セットのフォルダ（recommend_dev.yaml と search_dev.yaml）",
    )
    p.set_defaults(func=cmd_eval)
    return parser


def _protect_minus(argv: list[str]) -> list[str]:
    """`search -認知症`: a leading minus before a non-ASCII word excludes that word; write it
    as the full-width minus (the query parser reads both) so argparse does not take it for an
    option."""
    return [("－" + a[1:]) if a[:1] == "-" and a[1:2] and not a[1:2].isascii() else a for a in argv]


def main(
    argv: Sequence[str] | None = None, out: TextIO | None = None, stdin: TextIO | None = None
) -> int:
    if out is None:
        # a character the output's code page lacks (output redirected on a Japanese Windows
        # is cp932) is replaced: never a crash after the work is done
        for stream in (sys.stdout, sys.stderr):
            if isinstance(stream, io.TextIOWrapper):
                stream.reconfigure(errors="replace")
    out = out or sys.stdout
    stdin = stdin or sys.stdin
    parser = build_parser()
    args = parser.parse_args(_protect_minus(list(sys.argv[1:] if argv is None else argv)))
    try:
        return args.func(args, out, stdin)
    except CorpusError as exc:
        print(f"caresearch: エラー: {exc.message}", file=sys.stderr)
        for p in exc.problems:
            print(f"  {p}", file=sys.stderr)
        return exc.exit_code
    except CaresearchError as exc:
        print(f"caresearch: エラー: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
