"""`caresearch eval`: score the dev sets, for our method and plain baselines in the same run.

Every dev item carries a `split` (tune | holdout), fixed once; figures are reported for each
split and for all items, so a threshold chosen on `tune` is checked on `holdout`.

Search: case nDCG@3, MRR, passage hit@3, and for compounds the corpus lacks (`exact: none`)
the share answered honestly (a fallback or no hits). Baseline: BM25 over Sudachi surface
forms (no normalisation, synonyms, parts or readings), words ORed.

Recommend: case nDCG@3, MRR, Recall@1, answer hit@3 and @1 (one of the first three answers
overall, or the first, is a labelled passage; labels belong to cases graded for the item, so a
right passage under a wrong case does not count), first-case answer hit@3 and @1 (among the
passages shown under the first case: what the page shows first), off-topic descriptions
flagged "no strong match", answerable descriptions wrongly flagged, how often a case shown at
高 / 中 / 低 is graded, and the passages that lead many descriptions. Baselines: plain TF-IDF over
the description's terms, and plain BM25 over all answer passages (cases by their best passage).
"""

from __future__ import annotations

import math
import tempfile
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import yaml

from .analysis import split_words, surface_analyzer
from .building import index_docs, load_baseline_passages
from .docscores import word_vector
from .engine import Engine
from .errors import CaresearchError, QueryError
from .highlight import match_spans
from .index import SearchIndex
from .index_writer import IndexDoc, write_index
from .models import LESSON_KINDS
from .policy import LEVELS
from .query import QueryWord, Variant

BASELINE_NO_MATCH_COSINE = 0.1
SPLITS = ("tune", "holdout", "all")
# Sections a recommend label may name (eval/recommend_dev.yaml): the answer sections.
LABEL_SECTIONS = frozenset(("background", "content", "change", "story", *LESSON_KINDS))


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


def hit_at(shown: Sequence[str], relevant: Sequence[str], k: int = 3) -> float:
    return 1.0 if set(shown[:k]) & set(relevant) else 0.0


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def load_items(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise CaresearchError(f"評価セットが見つかりません: {path}")
    try:
        items = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise CaresearchError(f"評価セット {path} を読めません: {exc}") from exc
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise CaresearchError(f"{path}: 評価セットは項目のリストにしてください")
    return items


def _by_split(items: list[dict], per_item: list[dict], metrics: Callable[[list[dict]], dict]):
    out = {}
    for split in SPLITS:
        chosen = [
            r for it, r in zip(items, per_item, strict=True) if split in ("all", it.get("split"))
        ]
        out[split] = {"n": len(chosen), **metrics(chosen)}
    return out


# --- search ------------------------------------------------------------------------------------


class SearchRun(NamedTuple):
    cases: list[str]
    passages: list[str]
    honest: bool  # said "no exact match": a fallback or no hits
    full: int | None = None  # the first `full` cases are shown as full matches (None: all)


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

    def search(self, text: str) -> SearchRun:
        scores = np.zeros(len(self.index.docs), dtype=np.float64)
        for w in split_words(text.replace('"', " ")):
            terms = tuple(t.text for t in self.analyzer.tokens(w))
            if terms:
                word = QueryWord(w, tuple(Variant((t,), 1.0, "exact", t) for t in terms))
                scores += word_vector(self.index, word)
        cases: list[str] = []
        passages: list[str] = []
        for d in np.argsort(-scores, kind="stable"):
            if scores[d] <= 0:
                break
            meta = self.index.docs[int(d)]
            if meta.case_id not in cases:
                cases.append(meta.case_id)
            if meta.kind != "case":
                passages.append(meta.id)
        return SearchRun(cases, passages, not cases)


def _search_ours(engine: Engine, text: str) -> SearchRun:
    try:
        result = engine.search(text, page_size=50)
    except QueryError:
        return SearchRun([], [], True)
    # the partial matches that follow few full ones (said to be partial) are shown too
    hits = result.hits + result.partial
    cases = [h.case.id for h in hits]
    passages = [p.passage.id for h in hits for p in h.passages]
    # honest: no full match claimed (a fallback announced, or no full hit)
    honest = result.fallback is not None or not result.hits
    return SearchRun(cases, passages, honest, len(result.hits))


def _search_metrics(rows: list[dict]) -> dict[str, Any]:
    graded = [r for r in rows if r["graded"]]
    shown = [x for r in rows for x in r["exact_hits"]]
    return {
        "case_ndcg@3": _mean([r["ndcg@3"] for r in graded]),
        "mrr": _mean([r["rr"] for r in graded]),
        "passage_hit@3": _mean([r["hit@3"] for r in graded if r["has_passages"]]),
        "absent_honest": _mean([r["honest"] for r in rows if r["absent"]]),
        "exact_precision": _mean(shown),
    }


class ExactCheck:
    """Whether a case contains every word of a query as typed or through the care table
    (tiers 1–2), read from the case's own text: the test behind "exact precision"."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._texts: dict[str, str] = {}

    def __call__(self, query: str, case_id: str) -> float:
        try:
            parsed = self.engine.expander.parse(query)
        except QueryError:
            return 0.0
        text = self._texts.get(case_id)
        if text is None:
            case = self.engine.case(case_id)
            parts = [case.title, *case.keywords, *case.editorial_keywords, *case.themes]
            parts += [*case.implementing_bodies, case.contact or "", *case.diagram_text]
            parts += [f"{p.heading or ''}\n{p.text}" for p in case.passages()]
            text = self._texts[case_id] = "\n".join(parts)
        found = [
            any(match_spans(text, [w.up_to(2)], self.engine.analyzer) for w in group)
            for group in parsed.groups
        ]
        return 1.0 if all(found) else 0.0


def eval_search(engine: Engine, items: list[dict], baseline: SurfaceBaseline) -> dict[str, Any]:
    out: dict[str, Any] = {"n": len(items)}
    exact = ExactCheck(engine)
    for name, run in (
        ("caresearch", lambda q: _search_ours(engine, q)),
        ("baseline", baseline.search),
    ):
        rows = []
        for item in items:
            got = run(item["query"])
            grades = item.get("cases") or {}
            rows.append(
                {
                    "id": item.get("id"),
                    "query": item["query"],
                    "graded": bool(grades),
                    "has_passages": bool(item.get("passages")),
                    "absent": item.get("exact") == "none",
                    "ndcg@3": round(ndcg_at(got.cases, grades), 3),
                    "rr": reciprocal_rank(got.cases, grades),
                    "hit@3": hit_at(got.passages, item.get("passages") or []),
                    "honest": 1.0 if got.honest else 0.0,
                    # shown as a full match: no relaxation announced for the query or the hit
                    "exact_hits": [
                        exact(item["query"], c)
                        for c in got.cases[: min(10, 10 if got.full is None else got.full)]
                    ]
                    if not got.honest
                    else [],
                    "top": got.cases[:3],
                }
            )
        out[name] = {"splits": _by_split(items, rows, _search_metrics), "items": rows}
    return out


# --- recommend ---------------------------------------------------------------------------------


class RecommendRun(NamedTuple):
    cases: list[str]
    answers: list[str]  # the overall answer list, best first
    first_case_answers: list[str]  # the passages shown under the first case
    no_match: bool | None  # None: the system cannot say
    levels: tuple[str, ...] = ()  # the confidence shown for each case (ours only)


def _recommend_ours(engine: Engine, text: str) -> RecommendRun:
    r = engine.recommend(text, limit=6)
    first = [sl.lesson.id for sl in r.cases[0].lessons] if r.cases else []
    return RecommendRun(
        [c.case.id for c in r.cases],
        [sl.lesson.id for sl in r.lessons],
        first,
        r.no_strong_match,
        tuple(c.confidence for c in r.cases),
    )


class TfidfBaseline:
    """Plain TF-IDF: cases by cosine, answers by their passage's cosine (from the build's
    BASELINE_FILE, which only the evaluation reads)."""

    def __init__(self, engine: Engine) -> None:
        self.passages = load_baseline_passages(engine.build_path)

    def __call__(self, engine: Engine, text: str) -> RecommendRun:
        model = engine.model
        literal = Counter(engine.analyzer.terms(text))
        cosine, _coverage = model.score_cases(literal, literal, {})
        order = np.argsort(-cosine, kind="stable")
        ranked = [model.case_ids_[i] for i in order if cosine[i] > 0]
        q = model.query_vector(literal)
        passage_scores = np.asarray((self.passages @ q.T).todense()).ravel()
        top = set(ranked[:3])
        answers = [
            model.passage_ids_[j]
            for j in np.argsort(-passage_scores, kind="stable")
            if passage_scores[j] > 0 and model.case_ids_[model.passage_case_[j]] in top
        ]
        first = [p for p in answers if ranked and p.startswith(ranked[0] + "-")]
        best = float(cosine.max()) if len(cosine) else 0.0
        return RecommendRun(ranked, answers, first, best < BASELINE_NO_MATCH_COSINE)


def _recommend_bm25(engine: Engine, text: str) -> RecommendRun:
    """Plain BM25 over every answer passage (Sudachi terms, the index's own BM25F table)."""
    scores = np.zeros(len(engine.index.docs), dtype=np.float64)
    for term in engine.analyzer.terms(text):
        col = engine.index.term_vector(term)
        if col is not None:
            scores += col
    docs = engine.index.docs
    answers: list[str] = []
    cases: list[str] = []
    for d in np.argsort(-scores, kind="stable"):
        if scores[d] <= 0:
            break
        meta = docs[int(d)]
        if meta.kind in LABEL_SECTIONS:
            answers.append(meta.id)
            if meta.case_id not in cases:
                cases.append(meta.case_id)
    first = [p for p in answers if cases and p.startswith(cases[0] + "-")]
    return RecommendRun(cases, answers, first, None)


def _recommend_metrics(rows: list[dict]) -> dict[str, Any]:
    answerable = [r for r in rows if not r["off_topic"]]
    off = [r for r in rows if r["off_topic"]]
    flags = [r["flagged"] for r in rows if r["flagged"] is not None]
    return {
        "case_ndcg@3": _mean([r["ndcg@3"] for r in answerable]),
        "mrr": _mean([r["rr"] for r in answerable]),
        "recall@1": _mean([r["r@1"] for r in answerable]),
        "answer_hit@3": _mean([r["hit@3"] for r in answerable]),
        "answer_hit@1": _mean([r["hit@1"] for r in answerable]),
        "first_case_hit@3": _mean([r["first_hit@3"] for r in answerable]),
        "first_case_hit@1": _mean([r["first_hit@1"] for r in answerable]),
        "off_topic_flagged": _mean([float(r["flagged"]) for r in off]) if flags else None,
        "answerable_flagged": (sum(1 for r in answerable if r["flagged"]) if flags else None),
        **{f"graded_at_{level}": _graded_at(rows, level) for level in reversed(LEVELS)},
    }


def _graded_at(rows: list[dict], level: str) -> float | None:
    """The share of the cases shown at confidence `level` (over all items, off-topic ones
    included) that the item grades at all: what 高, 中 and 低 promise a reader."""
    grades = [g for r in rows for lv, g in r["levels"] if lv == level]
    return _mean([float(g > 0) for g in grades]) if grades else None


def eval_recommend(engine: Engine, items: list[dict]) -> dict[str, Any]:
    out: dict[str, Any] = {"n": len(items)}
    systems = (
        ("caresearch", _recommend_ours),
        ("tfidf", TfidfBaseline(engine)),
        ("bm25_passages", _recommend_bm25),
    )
    for name, run in systems:
        rows = []
        leads: Counter = Counter()
        leads_wrong: Counter = Counter()
        leads_flagged: Counter = Counter()  # ... of those, under "no strong match"
        for item in items:
            got = run(engine, item["text"])
            grades = item.get("cases") or {}
            labels = item.get("passages", item.get("lessons")) or []
            if got.answers:
                leads[got.answers[0]] += 1
                if got.answers[0] not in labels:
                    leads_wrong[got.answers[0]] += 1
                    leads_flagged[got.answers[0]] += bool(got.no_match)
            rows.append(
                {
                    "id": item.get("id"),
                    "text": item["text"][:40],
                    "off_topic": bool(item.get("no_match")),
                    "flagged": got.no_match,
                    "ndcg@3": round(ndcg_at(got.cases, grades), 3),
                    "rr": reciprocal_rank(got.cases, grades),
                    "r@1": 1.0 if got.cases and grades.get(got.cases[0], 0) == 3 else 0.0,
                    "hit@3": hit_at(got.answers, labels),
                    "hit@1": hit_at(got.answers, labels, 1),
                    "levels": [  # none for the baselines
                        (lv, grades.get(c, 0)) for lv, c in zip(got.levels, got.cases, strict=False)
                    ],
                    "first_hit@3": hit_at(got.first_case_answers, labels),
                    "first_hit@1": hit_at(got.first_case_answers, labels, 1),
                    "top": got.cases[:3],
                    "answers": got.answers[:3],
                }
            )
        out[name] = {
            "splits": _by_split(items, rows, _recommend_metrics),
            "leaders": [
                {
                    "passage": p,
                    "leads": n,
                    "not_answering": leads_wrong[p],
                    "not_answering_flagged": leads_flagged[p],
                }
                for p, n in leads.most_common(5)
            ],
            "items": rows,
        }
    return out


def run_eval(engine: Engine, dev_dir: Path) -> dict[str, Any]:
    """Score both dev sets in `dev_dir`; a missing or unreadable file is an error."""
    search_items = load_items(dev_dir / "search_dev.yaml")
    rec_items = load_items(dev_dir / "recommend_dev.yaml")
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="caresearch-baseline-") as tmp:
        baseline = SurfaceBaseline(engine, Path(tmp))
        try:
            report["search"] = eval_search(engine, search_items, baseline)
        finally:
            baseline.index.close()
    report["recommend"] = eval_recommend(engine, rec_items)
    return report


SEARCH_METRICS = ("case_ndcg@3", "mrr", "passage_hit@3", "absent_honest", "exact_precision")
RECOMMEND_METRICS = (
    "case_ndcg@3",
    "mrr",
    "recall@1",
    "answer_hit@3",
    "answer_hit@1",
    "first_case_hit@3",
    "first_case_hit@1",
    "off_topic_flagged",
    "answerable_flagged",
    *(f"graded_at_{level}" for level in reversed(LEVELS)),
)


def format_report(report: Mapping[str, Any]) -> str:
    """One table per task and split (tune, holdout, all), systems side by side."""
    lines: list[str] = []
    for task, metrics in (("search", SEARCH_METRICS), ("recommend", RECOMMEND_METRICS)):
        if task not in report:
            continue
        r = report[task]
        systems = [k for k in r if k != "n"]
        for split in SPLITS:
            n = r[systems[0]]["splits"][split]["n"]
            if not n:
                continue
            lines.append(f"{task}, {split} ({n} items)")
            lines.append(f"  {'metric':<20}" + "".join(f"{name:>15}" for name in systems))
            for m in metrics:
                cells = [r[name]["splits"][split].get(m) for name in systems]
                lines.append(f"  {m:<20}" + "".join(f"{_cell(v):>15}" for v in cells))
            lines.append("")
        if task == "recommend" and r["caresearch"]["leaders"]:
            top = ", ".join(
                f"{x['passage']} {x['leads']} ({x['not_answering']} not answering,"
                f" {x['not_answering_flagged']} of them under no strong match)"
                for x in r["caresearch"]["leaders"][:3]
            )
            lines.append(f"  passages shown first most often: {top}")
            lines.append("")
    return "\n".join(lines)


def _cell(value: float | int | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


__all__ = ["format_report", "run_eval"]
