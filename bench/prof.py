"""cProfile the build, search, recommend and similar at one corpus size.

    .venv/bin/python bench/prof.py --size 1000                     # all four, profiles/ *.txt
    .venv/bin/python bench/prof.py --size 1000 --what search,recommend --passes 5
    .venv/bin/python bench/prof.py --corpus /tmp/c --index /tmp/i --what search

Writes bench/profiles/<what>-<size>.txt: the top functions by cumulative time and by own
time, with call counts (pstats format). Under cProfile pure-Python code looks slower than it
is (each call is instrumented), C code (Sudachi, numpy) does not: read the ranking, not the
absolute times, and compare with bench/RESULTS.md for real latencies.
(Not named profile.py: that would shadow the stdlib module cProfile imports.)
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(BENCH))

from run import git_info, load_queries  # noqa: E402


def report(prof: cProfile.Profile, title: str, top: int, dump: Path | None = None) -> str:
    if dump is not None:  # the raw profile, for `python -m pstats` or snakeviz
        prof.dump_stats(str(dump))
    out = io.StringIO()
    g = git_info()
    dirty = " + uncommitted src/ changes" if g["src_dirty"] else ""
    out.write(f"# {title}\n# git {g['commit']}{dirty}, {time.strftime('%Y-%m-%d %H:%M %z')}\n")
    out.write("\n## by cumulative time\n")
    st = pstats.Stats(prof, stream=out)
    st.strip_dirs().sort_stats("cumulative").print_stats(top)
    out.write("\n## by own time (tottime)\n")
    st.sort_stats("tottime").print_stats(top)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--size", default="1000", help="bundled or a number of synthetic cases")
    ap.add_argument("--corpus", type=Path, help="use this corpus instead of generating one")
    ap.add_argument("--index", type=Path, help="use (or build into) this index directory")
    ap.add_argument("--what", default="build,search,recommend,similar")
    ap.add_argument("--passes", type=int, default=3, help="passes over the query list")
    ap.add_argument("--top", type=int, default=60)
    ap.add_argument("--out", type=Path, default=BENCH / "profiles")
    args = ap.parse_args(argv)
    what = args.what.split(",")

    from caresearch.config import Settings
    from caresearch.engine import Engine

    tmp = Path(tempfile.mkdtemp(prefix="caresearch-prof-", dir="/tmp"))
    args.out.mkdir(exist_ok=True)
    try:
        if args.corpus:
            corpus = args.corpus
        elif args.size == "bundled":
            corpus = ROOT / "corpus"
        else:
            import synth

            corpus = tmp / "corpus"
            synth.generate(int(args.size), corpus)
        index = args.index or tmp / "index"
        settings = Settings.from_env({}, corpus_dir=corpus, index_dir=index)
        label = args.size if not args.corpus else corpus.name

        if "build" in what:
            prof = cProfile.Profile()
            t0 = time.perf_counter()
            prof.enable()
            rep = Engine.build(settings, force=True)
            prof.disable()
            wall = time.perf_counter() - t0
            title = f"Engine.build, {rep.cases} cases, {rep.passages} passages: {wall:.1f} s under cProfile"
            (args.out / f"build-{label}.txt").write_text(
                report(prof, title, args.top, args.out / f"build-{label}.prof")
            )
            print(title, file=sys.stderr)
        elif Engine.is_stale(settings):
            Engine.build(settings)

        engine = Engine.open(settings)
        search_qs, rec_qs = load_queries()
        for q in search_qs:
            engine.search(q["q"], filters=q.get("filters"))
        for text in rec_qs:
            engine.recommend(text)
        ops = {
            "search": (
                lambda: [engine.search(q["q"], filters=q.get("filters")) for q in search_qs],
                len(search_qs),
            ),
            "recommend": (lambda: [engine.recommend(t) for t in rec_qs], len(rec_qs)),
            "similar": (lambda: [engine.similar(c.id) for c in engine.cases[:5]], 5),
        }
        for name, (fn, n) in ops.items():
            if name not in what:
                continue
            prof = cProfile.Profile()
            t0 = time.perf_counter()
            prof.enable()
            for _ in range(args.passes if name != "similar" else 1):
                fn()
            prof.disable()
            wall = time.perf_counter() - t0
            calls = n * (args.passes if name != "similar" else 1)
            title = (
                f"Engine.{name}, {len(engine.cases)} cases: {calls} calls in {wall:.2f} s under "
                f"cProfile ({wall / calls * 1000:.1f} ms/call)"
            )
            (args.out / f"{name}-{label}.txt").write_text(
                report(prof, title, args.top, args.out / f"{name}-{label}.prof")
            )
            print(title, file=sys.stderr)
        engine.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
