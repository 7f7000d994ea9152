"""The Whoosh index (caresearch.index) and the build directory (caresearch.store), via Engine.build.

Every index here lives under tmp_path; the repository's index/ is never touched.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from whoosh_counts import term_counts

import caresearch.building as building
from caresearch.analysis import Analyzer
from caresearch.config import Settings
from caresearch.engine import Engine
from caresearch.errors import CaresearchError, CorpusError, IndexNotReady
from caresearch.index import SearchIndex, _intersect_sorted
from caresearch.index_writer import SudachiTokenizer
from caresearch.store import IndexStore


def settings_for(corpus: Path, tmp_path: Path) -> Settings:
    return Settings.from_env({}, corpus_dir=corpus, index_dir=tmp_path / "index")


def current_pointer(s: Settings) -> str:
    return (s.index_dir / "CURRENT").read_text(encoding="utf-8").strip()


def search_ids(s: Settings, query: str) -> list[str]:
    engine = Engine.open(s)
    try:
        return [h.case.id for h in engine.search(query, page_size=50).hits]
    finally:
        engine.close()


@pytest.fixture()
def built(tiny_corpus: Path, tmp_path: Path) -> Settings:
    s = settings_for(tiny_corpus, tmp_path)
    assert Engine.build(s).built
    return s


# --- documents -----------------------------------------------------------------------------------


def test_one_document_per_passage_and_one_per_case(bundled_engine: Engine) -> None:
    cases = bundled_engine.cases
    passages = [p for c in cases for p in c.passages()]
    docs = bundled_engine.index.docs
    assert len(bundled_engine.index) == len(docs) == len(passages) + len(cases)
    assert sorted(d.id for d in docs if d.kind != "case") == sorted(p.id for p in passages)
    assert sorted(d.case_id for d in docs if d.kind == "case") == sorted(c.id for c in cases)
    by_id = {p.id: p for p in passages}
    for d in docs:
        if d.kind != "case":
            assert d.kind == by_id[d.id].section and d.case_id == by_id[d.id].case_id


def test_build_report_counts(tiny_corpus: Path, tmp_path: Path) -> None:
    report = Engine.build(settings_for(tiny_corpus, tmp_path))
    engine = Engine.open(settings_for(tiny_corpus, tmp_path))
    try:
        assert report.built is True
        assert report.cases == len(engine.cases) == 3
        assert report.passages == sum(1 for c in engine.cases for _ in c.passages())
        assert report.documents == report.passages + report.cases == len(engine.index)
        assert Path(report.path) == engine.build_path
    finally:
        engine.close()


def test_case_document_makes_title_and_keywords_searchable(tiny_engine: Engine) -> None:
    # ﾃﾞｲｻｰﾋﾞｽ is a keyword of alpha; 協定 only a heading; both are found through the index
    assert "alpha" in [h.case.id for h in tiny_engine.search("デイサービス").hits]
    assert "alpha" in [h.case.id for h in tiny_engine.search("あるふぁ町").hits]


# --- the Whoosh tokenizer -------------------------------------------------------------------------


def test_whoosh_tokens_carry_offsets_and_part_positions() -> None:
    text = "地域の認知症カフェ"
    tokens = [
        (t.text, t.pos, t.startchar, t.endchar)
        for t in SudachiTokenizer()(text, positions=True, chars=True)
    ]
    start = text.index("認知症")
    assert ("認知症", 1, start, start + 3) in tokens
    assert ("認知", 1, start, start + 3) in tokens
    assert ("症", 2, start, start + 3) in tokens
    for _term, _pos, s, e in tokens:
        assert text[s:e] in {"地域", "認知症", "カフェ"}


def test_whoosh_tokenizer_honours_start_offsets() -> None:
    tok = SudachiTokenizer()
    plain = [(t.pos, t.startchar) for t in tok("認知症カフェ", positions=True, chars=True)]
    shifted = [
        (t.pos, t.startchar)
        for t in tok("認知症カフェ", positions=True, chars=True, start_pos=10, start_char=100)
    ]
    assert shifted == [(p + 10, c + 100) for p, c in plain]


# --- the build directory: atomic, idempotent, fingerprinted ---------------------------------------


def test_build_publishes_a_complete_build_through_current(built: Settings) -> None:
    store = IndexStore(built.index_dir)
    name = current_pointer(built)
    assert not name.endswith(".partial")
    assert store.current() == built.index_dir / "builds" / name
    assert (store.current() / "meta.json").is_file()
    assert not list((built.index_dir / "builds").glob("*.partial"))


def test_second_build_is_skipped(built: Settings) -> None:
    before = current_pointer(built)
    report = Engine.build(built)
    assert report.built is False
    assert current_pointer(built) == before
    assert Path(report.path).name == before
    assert not Engine.is_stale(built)


def test_force_rebuilds(built: Settings) -> None:
    before = current_pointer(built)
    assert Engine.build(built, force=True).built is True
    assert current_pointer(built) != before
    assert search_ids(built, "ケアマネ")


def test_changed_case_file_is_rebuilt_and_searchable(built: Settings) -> None:
    before = current_pointer(built)
    assert "gamma" not in search_ids(built, "フレイル")
    path = built.corpus_dir / "cases" / "gamma.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("週２回の体操", "週２回のフレイル予防体操"),
        encoding="utf-8",
    )
    assert Engine.is_stale(built)
    report = Engine.build(built)
    assert report.built is True
    assert current_pointer(built) != before
    assert "gamma" in search_ids(built, "フレイル")


def test_changed_analysis_settings_rebuild(built: Settings, monkeypatch) -> None:
    monkeypatch.setattr(building, "Analyzer", lambda: Analyzer(split_parts=False))
    assert Engine.is_stale(built)
    assert Engine.build(built).built is True


def test_moving_the_corpus_does_not_force_a_rebuild(built: Settings, tmp_path: Path) -> None:
    moved = tmp_path / "moved"
    built.corpus_dir.rename(moved)
    assert Engine.build(dataclasses.replace(built, corpus_dir=moved)).built is False


def test_a_partial_build_is_never_current(built: Settings, monkeypatch) -> None:
    """While a build writes, readers still open the previous build."""
    before = current_pointer(built)
    seen: dict[str, object] = {}
    real = building.write_index

    def spying(path: Path, *args, **kwargs):
        n = real(path, *args, **kwargs)
        seen["partial"] = path.parent.name
        seen["current"] = current_pointer(built)
        seen["ids"] = search_ids(built, "ケアマネ")
        return n

    monkeypatch.setattr(building, "write_index", spying)
    assert Engine.build(built, force=True).built
    assert str(seen["partial"]).endswith(".partial")
    assert seen["current"] == before
    assert seen["ids"] == ["alpha", "beta"]
    assert current_pointer(built) != before
    assert not current_pointer(built).endswith(".partial")


def test_a_build_that_fails_midway_leaves_the_previous_build_serving(
    built: Settings, monkeypatch
) -> None:
    before = current_pointer(built)
    expected = search_ids(built, "ケアマネ")

    class Boom(Exception):
        pass

    def failing(*args, **kwargs):
        raise Boom("disk full")

    monkeypatch.setattr(building.TfidfModel, "fit", failing)
    with pytest.raises(Boom):
        Engine.build(built, force=True)
    assert current_pointer(built) == before
    assert not list((built.index_dir / "builds").glob("*.partial"))
    assert search_ids(built, "ケアマネ") == expected


def test_a_broken_case_file_raises_corpus_error_and_keeps_current(built: Settings) -> None:
    before = current_pointer(built)
    expected = search_ids(built, "ケアマネ")
    (built.corpus_dir / "cases" / "beta.yaml").write_text("id: beta\ntitle: [\n", encoding="utf-8")
    with pytest.raises(CorpusError) as info:
        Engine.build(built)
    assert any("beta.yaml" in str(p) for p in info.value.problems)
    assert current_pointer(built) == before
    assert search_ids(built, "ケアマネ") == expected


def test_invalid_case_field_is_a_corpus_error_naming_the_field(built: Settings) -> None:
    path = built.corpus_dir / "cases" / "gamma.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("region: 九州・沖縄", "region: 火星"),
        encoding="utf-8",
    )
    with pytest.raises(CorpusError) as info:
        Engine.build(built)
    assert any("gamma.yaml" in str(p) and "region" in str(p) for p in info.value.problems)


def test_old_builds_are_pruned(built: Settings) -> None:
    for _ in range(3):
        Engine.build(built, force=True)
    builds = [p for p in (built.index_dir / "builds").iterdir() if p.is_dir()]
    assert 1 <= len(builds) <= 2
    assert IndexStore(built.index_dir).current() in builds


# --- opening ---------------------------------------------------------------------------------------


def test_opening_without_a_build_says_to_build(tmp_path: Path) -> None:
    with pytest.raises(IndexNotReady) as info:
        Engine.open(settings_for(tmp_path / "corpus", tmp_path))
    assert "build" in info.value.message


@pytest.mark.parametrize("pointer", ["", "../../etc", ".hidden", "no-such-build"])
def test_bad_current_pointer_is_index_not_ready(built: Settings, pointer: str) -> None:
    (built.index_dir / "CURRENT").write_text(pointer, encoding="utf-8")
    with pytest.raises(IndexNotReady):
        Engine.open(built)


def test_damaged_index_files_are_index_not_ready(built: Settings) -> None:
    build = IndexStore(built.index_dir).current()
    for path in build.rglob("*"):
        if path.is_file() and path.name != "meta.json":
            path.write_bytes(b"garbage")
    with pytest.raises(IndexNotReady):
        Engine.open(built)


def test_build_from_another_format_is_index_not_ready(built: Settings) -> None:
    meta = IndexStore(built.index_dir).current() / "meta.json"
    meta.write_text('{"format": -1}', encoding="utf-8")
    with pytest.raises(IndexNotReady):
        Engine.open(built)
    assert Engine.is_stale(built)


def test_index_dir_is_only_written_where_settings_say(built: Settings) -> None:
    assert built.index_dir.is_dir()
    allowed = {"CURRENT", "builds", building.VECTOR_CACHE}
    assert {p.name for p in built.index_dir.iterdir()} <= allowed | {
        p.name for p in built.index_dir.iterdir() if p.name.startswith(".")
    }
    assert os.path.commonpath([built.index_dir, built.corpus_dir]) != str(built.corpus_dir)


# --- scoring a query word ------------------------------------------------------------------------


# --- the bulk writer: several processes, runs on disk, counts collected while writing ---------


def _postings(path: Path) -> dict:
    """Everything a reader sees of an index: postings with their values and block statistics,
    term statistics, stored fields and field lengths, by document id (segment order aside)."""
    from whoosh.index import open_dir

    from caresearch.index import INDEX_NAME, TEXT_FIELDS

    ix = open_dir(str(path), indexname=INDEX_NAME)
    try:
        with ix.reader() as r:
            ids = [f["id"] for f in r.all_stored_fields()]
            out: dict = {
                "stored": sorted(map(tuple, (sorted(f.items()) for f in r.all_stored_fields())))
            }
            for field in ("id", "case_id", "kind", *TEXT_FIELDS):
                for term in r.field_terms(field):
                    m = r.postings(field, term)
                    posts = []
                    while m.is_active():
                        posts.append((ids[m.id()], m.weight(), m.value()))
                        m.next()
                    info = r.term_info(field, term)
                    out[(field, term)] = (
                        sorted(posts),
                        round(info.weight(), 3),  # summed over segments in float32
                        info.doc_frequency(),
                        info.max_weight(),
                        info.min_length(),
                        info.max_length(),
                    )
            for field in TEXT_FIELDS:
                out[("length", field)] = r.field_length(field)
                out[("lengths", field)] = sorted(
                    (ids[d], r.doc_field_length(d, field) or 0) for d in range(r.doc_count_all())
                )
    finally:
        ix.close()
    return out


def _counts_by_id(counts) -> set:
    return {
        (counts.doc_ids[r], counts.vocab[c], n, f)
        for r, c, n, f in zip(counts.rows, counts.cols, counts.counts, counts.fields, strict=True)
    }


def test_parallel_and_spilled_builds_index_exactly_what_whoosh_would(
    bundled_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bulk writer's short cuts (our postings, several processes, sorted runs on disk)
    must write the same index as Whoosh's own writer, and collect the counts it holds."""
    from whoosh.index import create_in

    from caresearch import index_writer as index_mod

    docs = list(building.index_docs(bundled_engine.cases))
    analyzer = Analyzer()
    # Whoosh's own writer, as the reference
    ref = tmp_path / "whoosh"
    ref.mkdir()
    ix = create_in(str(ref), index_mod.make_schema(analyzer), indexname=index_mod.INDEX_NAME)
    writer = ix.writer()
    for d in docs:
        fields = {"id": d.id, "case_id": d.case_id, "kind": d.kind}
        fields.update((n, getattr(d, n)) for n in index_mod.TEXT_FIELDS if getattr(d, n))
        writer.add_document(**fields)
    writer.commit()
    expected = _postings(ref)

    one = tmp_path / "one"
    n, counts_one = index_mod.write_index(one, docs, analyzer)
    assert n == len(docs) and _postings(one) == expected
    monkeypatch.setattr(index_mod, "BATCH_DOCS", 7)  # many batches over both processes
    two = tmp_path / "two"
    _n, counts_two = index_mod.write_index(two, docs, analyzer, procs=2)
    assert _postings(two) == expected
    monkeypatch.setattr(index_mod, "RUN_POSTINGS", 500)  # several sorted runs per writer
    spilled = tmp_path / "spilled"
    _n, counts_spilled = index_mod.write_index(spilled, docs, analyzer, procs=2)
    assert _postings(spilled) == expected
    assert not [p for p in spilled.rglob("*.run")]  # runs are removed after the flush

    # The counts collected while writing are those Whoosh holds, however the build ran.
    held = _counts_by_id(term_counts(one))
    assert _counts_by_id(counts_one) == held
    assert _counts_by_id(counts_two) == held == _counts_by_id(counts_spilled)
    # ...and the document table of a parallel build follows Whoosh's document numbers.
    for path in (two, spilled):
        table = SearchIndex.open(path)
        try:
            stored = term_counts(path).doc_ids
            assert list(table.docs.ids) == list(stored)
            assert [d.case_id for d in table.docs] == [d.id.split("-")[0] for d in table.docs]
        finally:
            table.close()


@pytest.mark.skipif(
    multiprocessing.get_start_method() != "fork",
    reason="the failure is patched into this process before the indexing processes fork",
)
def test_a_failing_indexing_process_stops_the_build_and_leaves_nothing(
    tiny_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from caresearch import index_writer as index_mod

    s = settings_for(tiny_corpus, tmp_path)
    assert Engine.build(s).built
    before = current_pointer(s)
    monkeypatch.setattr(building, "PARALLEL_MIN_DOCS", 1)  # two processes even for 3 cases
    monkeypatch.setattr(index_mod, "BATCH_DOCS", 2)
    real_add = index_mod._BulkWriter.add

    def add(self, doc):  # runs in the indexing processes (forked with this patch)
        if doc.kind == "case" and doc.case_id == "beta":
            raise OSError(28, "No space left on device")
        real_add(self, doc)

    monkeypatch.setattr(index_mod._BulkWriter, "add", add)
    with pytest.raises(CaresearchError, match="No space left on device"):
        Engine.build(s, force=True)
    assert current_pointer(s) == before
    assert not list((s.index_dir / "builds").glob("*.partial"))
    assert search_ids(s, "見守り")  # the old build still answers


# --- oracle: the precomputed BM25F table against Whoosh's own scorer ----------------------------

# Whoosh stores a field's length in one byte (a lossy log scale), so its length normalisation
# differs from ours, computed on exact lengths: measured on the bundled corpus, a median of
# 1.1 %, 2.8 % at the 99th percentile and 7.7 % at most (long fields, coarse length steps).
BM25F_MAX_DIFF = 0.08
BM25F_P99_DIFF = 0.03


def test_precomputed_bm25f_agrees_with_whooshs_scorer(bundled_engine: Engine) -> None:
    from whoosh import index as whoosh_index
    from whoosh.scoring import BM25F

    from caresearch.index import INDEX_NAME, TEXT_FIELDS

    ix = whoosh_index.open_dir(
        str(bundled_engine.build_path / "whoosh"), indexname=INDEX_NAME, readonly=True
    )
    impacts = bundled_engine.index.impacts.tocsc()
    vocab = bundled_engine.index.vocab
    diffs: list[float] = []
    try:
        with ix.searcher(weighting=BM25F()) as s:
            terms = sorted(vocab)[::7]  # a spread of ~1/7 of the vocabulary
            for term in terms:
                expected: dict[int, float] = {}
                for field in TEXT_FIELDS:
                    if (field, term) not in s.reader():
                        continue
                    scorer = s.weighting.scorer(s, field, term)
                    m = s.reader().postings(field, term)
                    while m.is_active():
                        expected[m.id()] = expected.get(m.id(), 0.0) + scorer.score(m)
                        m.next()
                j = vocab[term]
                col = impacts[:, j].toarray().ravel()
                assert set(np.flatnonzero(col)) == set(expected), term
                for doc, score in expected.items():
                    diffs.append(abs(float(col[doc]) - score) / score)
    finally:
        ix.close()
    assert len(diffs) > 900
    assert max(diffs) <= BM25F_MAX_DIFF
    assert np.percentile(diffs, 99) <= BM25F_P99_DIFF


def test_phrases_from_stored_positions_match_whooshs_phrase_query(bundled_engine: Engine) -> None:
    """Queries check phrases on the positions the build stored beside the index; Whoosh's
    own phrase query over its segments is the oracle."""
    from whoosh import index as whoosh_index
    from whoosh.query import Or, Phrase

    from caresearch.index import INDEX_NAME, TEXT_FIELDS

    analyzer = Analyzer()
    phrases = set()
    for case in list(bundled_engine.cases)[:3]:
        for p in list(case.passages())[:12]:
            terms = [t for t, *_ in analyzer.index_terms(p.text)]
            phrases.update(tuple(terms[i : i + n]) for n in (2, 3) for i in range(0, 12, 3))
    phrases.add(("地域", "包括", "支援", "センター"))
    phrases.add(("支援", "地域"))  # words that occur, but never in this order
    ix = whoosh_index.open_dir(
        str(bundled_engine.build_path / "whoosh"), indexname=INDEX_NAME, readonly=True
    )
    checked = 0
    try:
        with ix.searcher() as s:
            for terms in sorted(phrases):
                if len(terms) < 2:
                    continue
                query = Or([Phrase(f, list(terms)) for f in TEXT_FIELDS])
                expected = {hit.docnum for hit in s.search(query, limit=None)}
                docs, _scores = bundled_engine.index.phrase(terms)
                assert set(docs.tolist()) == expected, terms
                checked += bool(expected)
    finally:
        ix.close()
    assert checked > 20


@given(st.sets(st.integers(0, 299)), st.sets(st.integers(0, 299)))
def test_documents_holding_both_terms_are_the_intersection(a: set, b: set) -> None:
    """Both ways of intersecting two columns (binary search when one is much shorter, marks
    otherwise) give the sorted intersection."""
    x, y = np.array(sorted(a), dtype=np.int64), np.array(sorted(b), dtype=np.int64)
    assert _intersect_sorted(x, y, 300).tolist() == sorted(a & b)
