#!/usr/bin/env python3
"""Measure `caresearch import` against the curated corpus (not a test; prints figures).

    .venv/bin/python eval/import_eval.py            # bundled source + round trips (PDF, docx)
    .venv/bin/python eval/import_eval.py --verbose  # also list every missed / invented passage

1. Bundled source: import corpus/source/000_b7a95137f3db6541.txt and compare with corpus/cases:
   cases found with the right municipality and title; curated passages recovered verbatim
   (whitespace-insensitive) under the right case and section; the 56 lessons under the right
   case and kind; passages the import invented (text found nowhere in the curated case).
2. Round trip: PDF (fpdf2) and .docx (python-docx) files generated from the curated cases by
   tests/doc_factory.py, imported back: passages under the right section, overview figures.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import doc_factory  # noqa: E402
from doc_factory import norm, unrestored  # noqa: E402

from caresearch.corpus import load_corpus  # noqa: E402
from caresearch.importing import import_files  # noqa: E402
from caresearch.models import Case  # noqa: E402

SEED = ROOT / "corpus" / "source" / "000_b7a95137f3db6541.txt"


def compare(
    curated: Iterable[Case], drafts: list[tuple[dict[str, Any], Case]], verbose: bool
) -> dict[str, Any]:
    by_muni = {c.municipality: (d, c) for d, c in drafts}
    res: dict[str, Any] = {
        "cases": 0,
        "cases_ok": 0,
        "passages": 0,
        "recovered": 0,
        "lessons": 0,
        "lessons_ok": 0,
        "imported": 0,
        "invented": 0,
        "per_section": {},
        "themes_tp": 0,
        "themes_fp": 0,
        "themes_fn": 0,
    }
    for cur in curated:
        res["cases"] += 1
        _d, imp = by_muni.get(cur.municipality, (None, None))
        if imp is None:
            if verbose:
                print(f"  MISSING CASE {cur.municipality}")
            continue
        if imp.prefecture == cur.prefecture and norm(imp.title) in (
            norm(cur.title),
            norm(unrestored(cur.title, "title", cur)),
        ):
            res["cases_ok"] += 1
        elif verbose:
            print(f"  TITLE {cur.id}: {imp.title!r} != {cur.title!r}")
        a, b = set(imp.themes), set(cur.themes)
        res["themes_tp"] += len(a & b)
        res["themes_fp"] += len(a - b)
        res["themes_fn"] += len(b - a)
        got: dict[str, set[str]] = {}
        for p in imp.passages():
            got.setdefault(p.section, set()).add(norm(p.text))
        for p in cur.passages():
            sec = res["per_section"].setdefault(p.section, [0, 0])
            sec[0] += 1
            res["passages"] += 1
            wanted = {norm(p.text), norm(unrestored(p.text, p.id, cur))}
            if wanted & got.get(p.section, set()):
                sec[1] += 1
                res["recovered"] += 1
            elif verbose:
                print(f"  MISSED {p.id} [{p.section}] {p.text[:60]!r}")
        for kind, cl, il in (
            (
                "kp-region",
                [x for x in cur.key_points if x.audience == "region"],
                [x for x in imp.key_points if x.audience == "region"],
            ),
            (
                "kp-municipality",
                [x for x in cur.key_points if x.audience == "municipality"],
                [x for x in imp.key_points if x.audience == "municipality"],
            ),
            ("suggestion", list(cur.suggestions), list(imp.suggestions)),
        ):
            texts = {norm(x.text) for x in il}
            for les in cl:
                res["lessons"] += 1
                if norm(les.text) in texts:
                    res["lessons_ok"] += 1
                elif verbose:
                    print(f"  LESSON MISSED {les.id} ({kind})")
        wholes = (
            "".join(norm(p.text) for p in cur.passages()),
            "".join(norm(unrestored(p.text, p.id, cur)) for p in cur.passages()),
        )
        for p in imp.passages():
            res["imported"] += 1
            if not any(norm(p.text) in whole for whole in wholes):
                res["invented"] += 1
                if verbose:
                    print(f"  INVENTED {p.id} [{p.section}] {p.text[:80]!r}")
    return res


def report(name: str, res: dict[str, Any]) -> None:
    pct = 100 * res["recovered"] / max(1, res["passages"])
    print(f"{name}:")
    print(f"  cases found with right municipality and title: {res['cases_ok']}/{res['cases']}")
    print(
        f"  curated passages recovered verbatim under the right case and section: "
        f"{res['recovered']}/{res['passages']} ({pct:.1f} %)"
    )
    for sec, (n, ok) in res["per_section"].items():
        print(f"    {sec:15s} {ok}/{n}")
    print(f"  lessons under the right case and kind: {res['lessons_ok']}/{res['lessons']}")
    print(f"  passages invented by the import: {res['invented']} of {res['imported']}")
    tp, fp, fn = res["themes_tp"], res["themes_fp"], res["themes_fn"]
    print(
        f"  proposed themes vs curated: precision {tp / max(1, tp + fp):.2f}, "
        f"recall {tp / max(1, tp + fn):.2f}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--skip-roundtrip", action="store_true")
    args = ap.parse_args()
    curated = load_corpus(ROOT / "corpus")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "cases"
        t0 = time.perf_counter()
        import_files([SEED], out)
        dt = time.perf_counter() - t0
        res = compare(curated, doc_factory.read_drafts(out), args.verbose)
        report(f"bundled source ({SEED.name}, {dt:.2f} s)", res)
        if args.skip_roundtrip:
            return 0
        for kind in ("pdf", "docx"):
            work = Path(tmp) / kind
            work.mkdir()
            files = [doc_factory.write_case(c, work / f"{c.id}.{kind}", kind) for c in curated]
            out = work / "cases"
            t0 = time.perf_counter()
            import_files(files, out)
            dt = time.perf_counter() - t0
            drafts = doc_factory.read_drafts(out)
            res = compare(curated, drafts, args.verbose)
            report(f"round trip {kind} ({dt:.2f} s)", res)
            want = got = 0
            for c in curated:
                exp = doc_factory.overview_for(c)
                d = next((d for d, x in drafts if x.municipality == c.municipality), {})
                for k, v in exp.items():
                    want += 1
                    got += (d.get("overview") or {}).get(k) == v
            print(f"  overview figures recovered: {got}/{want}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
