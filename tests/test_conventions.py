"""Conventions from STYLE.md that code review alone would not keep: checked, not just written down.

- Heavy libraries stay behind one module each (whoosh → index, sudachipy → analysis,
  sklearn → recommend), and the edges (cli, web) reach them only through the Engine.
- Analyzers and fitted models pickle; Sudachi objects are never created at import time.
- Whoosh and TF-IDF see the same tokens; two builds of one corpus search alike.
"""

from __future__ import annotations

import ast
import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from caresearch.analysis import Analyzer
from caresearch.config import PROJECT_ROOT, Settings
from caresearch.engine import Engine
from caresearch.index_writer import SudachiTokenizer
from caresearch.serialize import search_result

PACKAGE = PROJECT_ROOT / "src" / "caresearch"
MODULES = sorted(PACKAGE.rglob("*.py"))


def imported_modules(path: Path) -> set[str]:
    """Absolute names of every module `path` imports, at top level or inside functions."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    package = list(parts[:-1])  # caresearch/web/__init__.py and caresearch/web/api.py alike
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            names.add(module)
            # `from . import index` / `from caresearch import analysis` import submodules
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def importers_of(prefix: str) -> set[str]:
    return {
        path.relative_to(PACKAGE).as_posix()
        for path in MODULES
        if any(n == prefix or n.startswith(prefix + ".") for n in imported_modules(path))
    }


def test_module_list_is_not_empty() -> None:
    names = {p.relative_to(PACKAGE).as_posix() for p in MODULES}
    assert {
        "analysis.py",
        "index.py",
        "index_writer.py",
        "recommend.py",
        "tfidf.py",
        "policy.py",
        "building.py",
        "cli.py",
        "engine.py",
    } <= names


def test_import_resolution_helper() -> None:
    assert "caresearch.analysis" in imported_modules(PACKAGE / "index_writer.py")
    assert "whoosh.index" in imported_modules(PACKAGE / "index_writer.py")
    assert "caresearch.engine" in imported_modules(PACKAGE / "cli.py")


@pytest.mark.parametrize(
    ("library", "owners"),
    [
        ("whoosh", {"index_writer.py"}),  # a query reads our own tables, never Whoosh
        ("sudachipy", {"analysis.py"}),
        ("sklearn", {"tfidf.py"}),
    ],
)
def test_only_its_own_modules_import_each_heavy_library(library: str, owners: set[str]) -> None:
    assert importers_of(library) == owners


NAMEDTUPLE_API = {"_replace", "_asdict", "_fields", "_make"}


def private_reaches(path: Path) -> set[str]:
    """Private attributes that `path` reads on objects other than self and cls."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and node.attr not in NAMEDTUPLE_API
            and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
        ):
            found.add(node.attr)
    return found


def test_only_the_index_writer_reaches_into_private_names() -> None:
    """Whoosh's internals (and any other object's private attributes) stay in one module."""
    assert {"_postwriter", "_finalize_segment"} <= private_reaches(PACKAGE / "index_writer.py")
    others = {
        p.relative_to(PACKAGE).as_posix(): private_reaches(p)
        for p in MODULES
        if p.name != "index_writer.py"
    }
    assert {name: found for name, found in others.items() if found} == {}


def test_modules_stay_small() -> None:
    sizes = {p.relative_to(PACKAGE).as_posix(): len(p.read_text().splitlines()) for p in MODULES}
    assert sizes["engine.py"] < 350
    assert max(sizes.values()) <= 600, max(sizes, key=sizes.get)


def edge_modules() -> Iterator[Path]:
    yield PACKAGE / "cli.py"
    yield from sorted((PACKAGE / "web").rglob("*.py"))
    # web/__init__.py only marks the assets package (templates, static) for the wheel
    yield from sorted(p for p in (PROJECT_ROOT / "web").rglob("*.py") if p.name != "__init__.py")


@pytest.mark.parametrize(
    "path", list(edge_modules()), ids=lambda p: p.relative_to(PROJECT_ROOT).as_posix()
)
def test_edges_never_reach_past_the_engine(path: Path) -> None:
    forbidden = ("whoosh", "sudachipy", "sklearn", "caresearch.index", "caresearch.analysis")
    bad = {
        n for n in imported_modules(path) if any(n == f or n.startswith(f + ".") for f in forbidden)
    }
    assert bad == set()


def test_no_sudachi_objects_at_import_time() -> None:
    """Import every module with Sudachi's constructors replaced by ones that count calls."""
    script = r"""
import importlib, pkgutil, sys
import sudachipy, sudachipy.dictionary
made = []
real = sudachipy.Dictionary
def counting(*a, **k):
    made.append(1)
    return real(*a, **k)
sudachipy.Dictionary = sudachipy.dictionary.Dictionary = counting
import caresearch
for info in pkgutil.walk_packages(caresearch.__path__, "caresearch."):
    if info.name.endswith("__main__"):
        continue  # running the command is not importing it
    try:
        importlib.import_module(info.name)
    except ImportError as exc:  # an optional edge (flask) missing is not this test's business
        print("skipped", info.name, exc, file=sys.stderr)
assert "caresearch.analysis" in sys.modules and "caresearch.index" in sys.modules
before = len(made)
import caresearch.analysis
caresearch.analysis.Analyzer().tokens("認知症")  # the patch is live: first use counts
print(before, len(made) > before)
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.split() == ["0", "True"], out.stderr


def test_importing_the_package_does_not_load_heavy_libraries() -> None:
    script = "import sys, caresearch, caresearch.cli; print(sorted(m for m in ('whoosh', 'sudachipy', 'sklearn') if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]"


# --- pickling ------------------------------------------------------------------------------------


def test_analyzer_pickles_equal_and_analyses_alike() -> None:
    analyzer = Analyzer()
    analyzer.tokens("認知症カフェ")  # Sudachi is now loaded in this thread; nothing may stick
    clone = pickle.loads(pickle.dumps(analyzer))
    assert clone == analyzer and hash(clone) == hash(analyzer)
    text = "ｹｱﾏﾈと社会福祉協議会が認知症カフェを運営"
    assert clone.tokens(text) == analyzer.tokens(text)
    assert len(pickle.dumps(analyzer)) < 10_000  # settings only, no dictionary


def test_whoosh_tokenizer_pickles_equal() -> None:
    tok = SudachiTokenizer(Analyzer())
    list(tok("認知症"))
    clone = pickle.loads(pickle.dumps(tok))
    assert clone == tok and hash(clone) == hash(tok)
    assert [t.text for t in clone("在宅医療と介護")] == [t.text for t in tok("在宅医療と介護")]
    assert SudachiTokenizer(Analyzer(split_parts=False)) != tok


def test_fitted_tfidf_model_pickles_and_scores_alike(bundled_engine: Engine) -> None:
    rec = bundled_engine.model
    clone = pickle.loads(pickle.dumps(rec))
    weighted = {"認知症": 2.0, "就労": 1.0, "見守る": 1.0, "未知語": 1.0}
    literal = {"認知症": 1.0, "就労": 1.0}
    for a, b in zip(
        clone.score_cases(weighted, literal, {}),
        rec.score_cases(weighted, literal, {}),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(clone.passage_bm25(weighted), rec.passage_bm25(weighted))
    assert clone.vocabulary_ == rec.vocabulary_
    # the evaluation's TF-IDF passage matrix is stored apart, never loaded by a server
    assert not hasattr(clone, "passage_matrix_")


# --- one analysis for Whoosh and TF-IDF -----------------------------------------------------------------


def test_tfidf_vocabulary_is_what_whoosh_indexed(bundled_engine: Engine) -> None:
    """Every term of the lesson passages in the Whoosh index is a TF-IDF term, and back."""
    from whoosh import index as whoosh_index  # the test may look inside; src may not

    ix = whoosh_index.open_dir(
        str(bundled_engine.build_path / "whoosh"), indexname="passages", readonly=True
    )
    try:
        with ix.reader() as reader:
            indexed = {t.decode() if isinstance(t, bytes) else t for t in reader.lexicon("lesson")}
    finally:
        ix.close()
    lesson_terms = {
        t
        for c in bundled_engine.cases
        for p in c.passages()
        if p.section in ("key_point", "suggestion", "feature")
        for t in Analyzer().terms(p.text)
    }
    assert indexed == lesson_terms
    assert indexed <= set(bundled_engine.model.vocabulary_)


# --- reproducible builds ---------------------------------------------------------------------------

QUERIES = [
    "認知症",
    "ケアマネ",
    "ざいたく",
    "住民 ボランティア",
    "医療介護連携",
    "社協",
    "仮設住宅 回想法",
]


def test_two_builds_of_one_corpus_search_alike(bundled_engine: Engine, tmp_path: Path) -> None:
    settings = Settings.from_env(
        {}, corpus_dir=bundled_engine.settings.corpus_dir, index_dir=tmp_path / "index"
    )
    assert Engine.build(settings).built
    other = Engine.open(settings)
    try:
        assert other.build_path != bundled_engine.build_path
        for q in QUERIES:
            assert search_result(other.search(q)) == search_result(bundled_engine.search(q)), q
        assert [(s.case.id, s.score) for s in other.similar("nanto")] == [
            (s.case.id, s.score) for s in bundled_engine.similar("nanto")
        ]
    finally:
        other.close()


# --- one table of facets and limits for every edge ---------------------------------------------


def _cli_search_ids(engine: Engine, *argv: str) -> tuple[int, list[str]]:
    import io
    import json

    from caresearch.cli import main

    out = io.StringIO()
    s = engine.settings
    code = main(
        ["search", *argv, "--json", "--corpus", str(s.corpus_dir), "--index", str(s.index_dir)],
        out=out,
    )
    return code, [h["case_id"] for h in json.loads(out.getvalue())["hits"]] if code == 0 else []


def test_every_facet_filters_alike_in_the_engine_the_api_the_pages_and_the_cli(
    bundled_engine: Engine, client
) -> None:
    from caresearch.models import FACETS

    for facet in FACETS:
        for value in sorted(bundled_engine.facet_values[facet.key])[:3]:
            try:
                expected = [
                    h.case.id
                    for h in bundled_engine.search("地域", filters={facet.key: value}).hits
                ]
            except Exception as exc:
                pytest.fail(f"{facet.key}={value}: {exc}")
            api = client.get("/api/search", query_string={"q": "地域", facet.key: value}).json
            assert [h["case_id"] for h in api["hits"]] == expected, (facet.key, value)
            assert api["filters"] == {facet.key: [value]}
            page = client.get("/search", query_string={"q": "地域", facet.key: value})
            assert page.status_code == 200
            assert f"{len(expected)}件" in page.get_data(as_text=True)
            code, ids = _cli_search_ids(bundled_engine, "地域", facet.flag, value)
            assert (code, ids) == (0, expected), (facet.key, value)


def test_municipality_type_is_a_facet_end_to_end(bundled_engine: Engine, client) -> None:
    towns = bundled_engine.search("地域", filters={"municipality_type": "町"})
    assert {h.case.municipality[-1] for h in towns.hits} == {"町"}
    assert towns.facets["municipality_type"]["町"] == towns.total
    html = client.get("/search?q=地域").get_data(as_text=True)
    assert "市町村の種別" in html


def test_every_edge_refuses_the_same_limits(bundled_engine: Engine, client) -> None:
    from caresearch.config import LIMITS
    from caresearch.errors import QueryError

    high = LIMITS["limit"].high
    assert len(bundled_engine.search("地域", page_size=high).hits) <= high
    with pytest.raises(QueryError):
        bundled_engine.search("地域", page_size=high + 1)
    with pytest.raises(QueryError):
        bundled_engine.recommend("認知症の人の就労の場", limit=high + 1)
    assert client.get(f"/api/search?q=地域&limit={high + 1}").status_code == 400
    assert (
        client.post("/api/recommend", json={"text": "認知症", "limit": high + 1}).status_code == 400
    )
    assert client.get(f"/api/search?q=地域&limit={high}").status_code == 200
    with pytest.raises(SystemExit) as exit_info:
        _cli_search_ids(bundled_engine, "地域", "--limit", str(high + 1))
    assert exit_info.value.code == 2
    assert _cli_search_ids(bundled_engine, "地域", "--limit", str(high))[0] == 0
    page_high = LIMITS["page"].high
    assert client.get(f"/search?q=地域&page={page_high + 1}").status_code == 400
    assert client.get(f"/api/search?q=地域&page={page_high + 1}").status_code == 400
