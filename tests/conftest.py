"""Shared fixtures: real corpora built into temporary index directories (no stubs).

`bundled_engine` is the six seed cases; `tiny_engine` is tests/data/tiny_corpus (awkward text:
half-width kana, hiragana spellings, ケアマネ, <script> in a title). Both are session-scoped
because a build takes a second or two; tests must not mutate them.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from caresearch.config import PROJECT_ROOT, Settings
from caresearch.engine import Engine

DATA = Path(__file__).parent / "data"
BUNDLED_CORPUS = PROJECT_ROOT / "corpus"


@pytest.fixture()
def tiny_corpus(tmp_path: Path) -> Path:
    """A private, writable copy of the tiny corpus."""
    dst = tmp_path / "corpus"
    shutil.copytree(DATA / "tiny_corpus", dst)
    return dst


def _engine(tmp: Path, corpus: Path) -> Iterator[Engine]:
    settings = Settings.from_env({}, corpus_dir=corpus, index_dir=tmp / "index")
    Engine.build(settings)
    engine = Engine.open(settings)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def bundled_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    tmp = tmp_path_factory.mktemp("bundled")
    return Settings.from_env({}, corpus_dir=BUNDLED_CORPUS, index_dir=tmp / "index")


@pytest.fixture(scope="session")
def bundled_engine(bundled_settings: Settings) -> Iterator[Engine]:
    Engine.build(bundled_settings)
    engine = Engine.open(bundled_settings)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def tiny_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    tmp = tmp_path_factory.mktemp("tiny")
    corpus = tmp / "corpus"
    shutil.copytree(DATA / "tiny_corpus", corpus)
    yield from _engine(tmp, corpus)


@pytest.fixture(scope="session")
def app(bundled_engine: Engine):
    from caresearch.web import create_app

    return create_app(bundled_engine, {"TESTING": True})


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def tiny_app(tiny_engine: Engine):
    from caresearch.web import create_app

    return create_app(tiny_engine, {"TESTING": True})


@pytest.fixture()
def tiny_client(tiny_app):
    return tiny_app.test_client()
