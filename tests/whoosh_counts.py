"""Test oracle: term counts read back from a Whoosh index's postings with Whoosh's own reader.

A build collects the same counts while it writes; the tests compare the two.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from pathlib import Path

from whoosh import index as whoosh_index

from caresearch.index import INDEX_NAME, TEXT_FIELDS
from caresearch.models import TermCounts


def term_counts(path: Path, fields: Sequence[str] = TEXT_FIELDS) -> TermCounts:
    """Every (document, term, field) count in the index at `path`."""
    ix = whoosh_index.open_dir(str(path), indexname=INDEX_NAME, readonly=True)
    try:
        with ix.reader() as reader:
            doc_ids = tuple(f["id"] for f in reader.all_stored_fields())
            vocab: dict[str, int] = {}
            rows, cols, counts, field_of = array("i"), array("i"), array("f"), array("b")
            for k, field in enumerate(fields):
                for term in reader.field_terms(field):
                    j = vocab.setdefault(term, len(vocab))
                    for docnum, freq in reader.postings(field, term).items_as("frequency"):
                        rows.append(docnum)
                        cols.append(j)
                        counts.append(freq)
                        field_of.append(k)
    finally:
        ix.close()
    return TermCounts(doc_ids, tuple(vocab), rows, cols, counts, field_of, tuple(fields))
