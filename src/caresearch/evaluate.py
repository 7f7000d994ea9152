"""`caresearch eval`: score the dev sets, for our method and a plain baseline in the same run.

Search: case nDCG@3, MRR, passage hit@3; baseline = BM25 over Sudachi surface forms (no
normalisation, synonyms, parts or readings), words ORed. Recommend: case nDCG@3, MRR, Recall@1,
lesson hit@3, no-match accuracy; baseline = plain TF-IDF cosine over the description's literal
terms (no synonyms, no BM25 fusion), "no match" when the best cosine is under 0.1.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from .analysis import split_words, surface_analyzer
from .engine import Engine, index_docs
from .errors import QueryError
from .index import IndexDoc, SearchIndex, write_index
from .query import QueryWord, Variant
from .recommend import LESSON_SECTIONS

BASELINE_NO_MATCH_COSINE = 0.1


def ndcg_at(ranked: Sequence[str], grades: Mapping[str, int], k: int = 3) -> float:
    dcg = sum(grades.get(c, 0) / math.log2(i + 2) for i, c in enumerate(ranked[:k]))
    ideal = sorted(grades.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def reciprocal_rank(ranked: Sequence[str], grades: Mapping[str, int]) -> float:
    for i, c in enumerate(ranked):
        if grades.get(c, 0) >= 1:
            return 1.0 / (i + 1)
    return 0.0


def _mean(values: Sequence[float]) -> float:
    return round(sum(values) / len(values), 4) if values else 0.0


# --- search ------------------------------------------------------------------------------------


class SurfaceBaseline:
    """Plain BM25 over surface forms, in a temporary index built from the same cases."""

    def __init__(self, engine: Engine, workdir: Path) -> None:
        self.analyzer = surface_analyzer()
        docs = [
            IndexDoc(
                d.id,
                d.case_id,
                d.kind,
                body="\n".join(x for x in (d.title, d.keywords, d.lesson, d.heading, d.body) if x),
            )
            for d in index_docs(engine.cases)
        ]
        write_index(workdir, docs, self.analyzer)
        self.index = SearchIndex.open(workdir)

    def search(self, text: str) -> tuple[list[str], list[str]]:
        scores: dict[int, float] = {}
        for w in split_words(text.replace('"', " ")):
            terms = tuple(t.text for t in self.analyzer.tokens(w))
            if not terms:
                continue
            word = QueryWord(w, tuple(Variant((t,), 1.0, "exact", t) for t in terms))
            for docnum, s in self.index.word_scores(word).items():
                scores[docnum] = scores.get(docnum, 0.0) + s
        ranked_docs = sorted(scores, key=lambda d: -scores[d])
        cases: list[str] = []
        passages: list[str] = []
        for d in ranked_docs:
            meta = self.index.docs[d]
            if meta.case_id not in cases:
                cases.append(meta.case_id)
            if meta.kind != "case":
                passages.append(meta.id)
        return cases, passages


def _search_ours(engine: Engine, text: str) -> tuple[list[str], list[str]]:
    try:
        result = engine.search(text, page_size=50)
    except QueryError:
        return [], []
    cases = [h.case.id for h in result.hits]
    passages = [p.passage.id for h in result.hits for p in h.passages]
    return cases, passages


def eval_search(engine: Engine, items: list[dict], baseline: SurfaceBaseline) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, run in (
        ("caresearch", lambda q: _search_ours(engine, q)),
        ("baseline", baseline.search),
    ):
        ndcg, mrr, hit = [], [], []
        per_query = []
        for item in items:
            cases, passages = run(item["query"])
            grades = item.get("cases") or {}
            n = ndcg_at(cases, grades)
            ndcg.append(n)
            mrr.append(reciprocal_rank(cases, grades))
            hit.append(1.0 if set(passages[:3]) & set(item.get("passages") or []) else 0.0)
            per_query.append({"query": item["query"], "ndcg@3": round(n, 3), "top": cases[:3]})
        out[name] = {
            "case_ndcg@3": _mean(ndcg),
            "mrr": _mean(mrr),
            "passage_hit@3": _mean(hit),
            "queries": per_query,
        }
    return out


# --- recommend ---------------------------------------------------------------------------------


def _recommend_ours(engine: Engine, text: str) -> tuple[list[str], list[str], bool]:
    r = engine.recommend(text, limit=6)
    return [c.case.id for c in r.cases], [sl.lesson.id for sl in r.lessons], r.no_strong_match


def _recommend_baseline(engine: Engine, text: str) -> tuple[list[str], list[str], bool]:
    rec = engine.recommender
    literal: dict[str, float] = {}
    for t in engine.analyzer.terms(text):
        literal[t] = literal.get(t, 0.0) + 1.0
    cosine, _coverage = rec.score_cases(literal, literal, {})
    order = sorted(range(len(cosine)), key=lambda i: -cosine[i])
    ranked = [rec.case_ids_[i] for i in order if cosine[i] > 0]
    best = float(cosine.max()) if len(cosine) else 0.0
    passage_scores = rec.score_passages(literal)
    top = set(ranked[:3])
    lessons = sorted(
        (
            (float(passage_scores[i]), pid)
            for i, pid in enumerate(rec.passage_ids_)
            if rec.passage_section_[i] in LESSON_SECTIONS
            and rec.case_ids_[rec.passage_case_[i]] in top
        ),
        key=lambda x: -x[0],
    )
    return ranked, [pid for _s, pid in lessons[:10]], best < BASELINE_NO_MATCH_COSINE


def eval_recommend(engine: Engine, items: list[dict]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, run in (("caresearch", _recommend_ours), ("baseline", _recommend_baseline)):
        ndcg, mrr, r1, lhit, nm = [], [], [], [], []
        per_item = []
        for item in items:
            cases, lessons, no_match = run(engine, item["text"])
            expected_nm = bool(item.get("no_match"))
            nm.append(1.0 if no_match == expected_nm else 0.0)
            entry = {"text": item["text"][:40], "no_match": no_match, "top": cases[:3]}
            if not expected_nm:
                grades = item.get("cases") or {}
                ndcg.append(ndcg_at(cases, grades))
                mrr.append(reciprocal_rank(cases, grades))
                r1.append(1.0 if cases and grades.get(cases[0], 0) == 3 else 0.0)
                lhit.append(1.0 if set(lessons[:3]) & set(item.get("lessons") or []) else 0.0)
                entry["ndcg@3"] = round(ndcg[-1], 3)
            per_item.append(entry)
        out[name] = {
            "case_ndcg@3": _mean(ndcg),
            "mrr": _mean(mrr),
            "recall@1": _mean(r1),
            "lesson_hit@3": _mean(lhit),
            "no_match_accuracy": _mean(nm),
            "items": per_item,
        }
    return out


def run_eval(engine: Engine, dev_dir: Path) -> dict[str, Any]:
    report: dict[str, Any] = {}
    search_file, rec_file = dev_dir / "search_dev.yaml", dev_dir / "recommend_dev.yaml"
    if search_file.exists():
        items = yaml.safe_load(search_file.read_text(encoding="utf-8")) or []
        with tempfile.TemporaryDirectory(prefix="caresearch-baseline-") as tmp:
            baseline = SurfaceBaseline(engine, Path(tmp))
            try:
                report["search"] = {"n": len(items), **eval_search(engine, items, baseline)}
            finally:
                baseline.index.close()
    if rec_file.exists():
        items = yaml.safe_load(rec_file.read_text(encoding="utf-8")) or []
        report["recommend"] = {"n": len(items), **eval_recommend(engine, items)}
    return report


def format_report(report: Mapping[str, Any]) -> str:
    lines = []
    for task, metrics in (
        ("search", ("case_ndcg@3", "mrr", "passage_hit@3")),
        ("recommend", ("case_ndcg@3", "mrr", "recall@1", "lesson_hit@3", "no_match_accuracy")),
    ):
        if task not in report:
            continue
        r = report[task]
        lines.append(f"{task} ({r['n']} items)")
        lines.append(f"  {'metric':<20}{'caresearch':>12}{'baseline':>12}")
        for m in metrics:
            lines.append(f"  {m:<20}{r['caresearch'][m]:>12.3f}{r['baseline'][m]:>12.3f}")
        lines.append("")
    return "\n".join(lines)


__all__ = ["format_report", "run_eval"]
