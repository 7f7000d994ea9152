"""tools/build_corpus.py: reproducible, refuses a changed seed, checks its own manifest."""

from __future__ import annotations

import hashlib
import importlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "tools" / "build_corpus.py"
CASES = ROOT / "corpus" / "cases"
SEED = ROOT / "corpus" / "source" / "000_b7a95137f3db6541.txt"
SEED_SHA256 = "fc19611f4a47384cd38d6395b9c6beb792911890d65d0188f7cd86465d79a2f9"


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TOOL), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )


@pytest.fixture(scope="module")
def builder() -> Iterator[ModuleType]:
    """The tool as a module (it lives in tools/, outside the package)."""
    sys.path.insert(0, str(TOOL.parent))
    try:
        yield importlib.import_module("build_corpus")
    finally:
        sys.path.remove(str(TOOL.parent))


def test_regeneration_is_byte_identical(tmp_path: Path) -> None:
    out = tmp_path / "cases"
    result = run("--out", out)
    assert result.returncode == 0, result.stderr
    generated = sorted(p.name for p in out.glob("*.yaml"))
    committed = sorted(p.name for p in CASES.glob("*.yaml"))
    assert (
        generated
        == committed
        == sorted(
            f"{c}.yaml" for c in ["tobetsu", "tsuruoka", "naraha", "urayasu", "yokohama", "nanto"]
        )
    )
    for name in generated:
        assert (out / name).read_bytes() == (CASES / name).read_bytes(), name
    # Twice in a row: deterministic.
    again = tmp_path / "again"
    assert run("--out", again).returncode == 0
    for name in generated:
        assert (again / name).read_bytes() == (out / name).read_bytes(), name


def test_check_mode(tmp_path: Path) -> None:
    result = run("--check")
    assert result.returncode == 0, result.stderr
    out = tmp_path / "cases"
    shutil.copytree(CASES, out)
    path = out / "naraha.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("孤独死", "孤立死", 1), encoding="utf-8"
    )
    (out / "stale.yaml").write_text("id: stale\n", encoding="utf-8")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    result = run("--check", "--out", out)
    assert result.returncode == 1
    assert "naraha.yaml: differs" in result.stderr and "孤立死" in result.stderr
    assert "stale.yaml: not generated" in result.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # --check writes nothing


def test_modified_seed_is_refused(tmp_path: Path) -> None:
    data = bytearray(SEED.read_bytes())
    data[5000] ^= 0x01  # one bit, same length: line numbers would still "work"
    bad = tmp_path / "seed.txt"
    bad.write_bytes(bytes(data))
    out = tmp_path / "out"
    result = run("--seed", bad, "--out", out)
    assert result.returncode == 2
    assert "sha256" in result.stderr and SEED_SHA256 in result.stderr
    assert not out.exists()


def test_committed_seed_matches_manifest() -> None:
    manifest = yaml.safe_load((ROOT / "tools" / "corpus_manifest.yaml").read_text(encoding="utf-8"))
    assert manifest["seed"]["sha256"] == SEED_SHA256
    assert hashlib.sha256(SEED.read_bytes()).hexdigest() == SEED_SHA256


def test_dedupe_matches_the_seed_map(builder: ModuleType) -> None:
    """The global dedupe keeps exactly the first occurrences listed in SEED-MAP §3.1."""
    seed = SEED.read_text(encoding="utf-8").split("\n")
    kept = builder.kept_line_numbers(seed)
    runs = []
    for n in sorted(kept):
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    assert runs == [
        [1, 33], [37, 209], [263, 453], [641, 828], [1013, 1242], [1473, 1614], [1645, 1778],
        [1802, 1955], [2113, 2184], [2186, 2257], [2400, 2485], [2551, 2860], [3171, 3467],
        [3531, 3768], [3989, 4134], [4218, 4348], [4480, 4662], [4849, 5021],
    ]  # fmt: skip


def test_manifest_must_point_at_first_occurrences(builder: ModuleType, tmp_path: Path) -> None:
    manifest = yaml.safe_load((ROOT / "tools" / "corpus_manifest.yaml").read_text(encoding="utf-8"))
    # 浦安市's suggestions are repeated inside 横浜市 (L3769-3935): pointing there must fail.
    manifest["cases"]["yokohama"]["sections"]["suggestions"] = [[3799, 3805]]
    bad = tmp_path / "manifest.yaml"
    bad.write_text(yaml.safe_dump(manifest, allow_unicode=True), encoding="utf-8")
    with pytest.raises(builder.BuildError, match="repeat of earlier text"):
        builder.build(manifest_path=bad)
    # Dropping a range leaves kept lines unclaimed.
    manifest = yaml.safe_load((ROOT / "tools" / "corpus_manifest.yaml").read_text(encoding="utf-8"))
    del manifest["cases"]["nanto"]["sections"]["contact"]
    bad.write_text(yaml.safe_dump(manifest, allow_unicode=True), encoding="utf-8")
    with pytest.raises(builder.BuildError, match="kept line 5013 is in no manifest range"):
        builder.build(manifest_path=bad)


def test_overrides_must_apply_exactly_once(builder: ModuleType, tmp_path: Path) -> None:
    overrides = yaml.safe_load(
        (ROOT / "tools" / "corpus_overrides.yaml").read_text(encoding="utf-8")
    )
    edit = {
        "target": "urayasu-story-1",
        "field": "title",
        "find": "存在しない",
        "replace": "x",
        "kind": "cleanup",
    }
    overrides["cases"]["urayasu"]["edits"].append(edit)
    bad = tmp_path / "overrides.yaml"
    bad.write_text(yaml.safe_dump(overrides, allow_unicode=True), encoding="utf-8")
    with pytest.raises(builder.BuildError, match="occurs 0 times"):
        builder.build(overrides_path=bad)
    # Lessons are verbatim: an edit aimed at one is refused.
    overrides["cases"]["urayasu"]["edits"][-1] = dict(
        edit, target="urayasu-sg-4", find="協働", field=None
    )
    bad.write_text(yaml.safe_dump(overrides, allow_unicode=True), encoding="utf-8")
    with pytest.raises(builder.BuildError, match="verbatim"):
        builder.build(overrides_path=bad)


def test_text_cleaning(builder: ModuleType) -> None:
    assert (
        builder.clean("\uf0d8 楢葉町地域包括支援ｾﾝﾀｰ､ﾌｯﾄﾎﾞｰﾙｳﾞｨﾚｯｼﾞ ")
        == "楢葉町地域包括支援センター、フットボールヴィレッジ"
    )
    assert builder.clean("≪検討 からの推薦メッセージ≫") == "《検討 からの推薦メッセージ》"
    assert builder.clean("ＮＰＯ２４ Ａさん") == "ＮＰＯ２４ Ａさん"  # only katakana is normalised
    assert builder.PAGE_HEADER.match(" 第 3章\u3000地域包括ケアシステムの取組事例")
    assert builder.PAGE_HEADER.match(" 第３章 地域包括ケアシステムの取組事例")


def test_generated_files_are_readable_yaml() -> None:
    text = (CASES / "tobetsu.yaml").read_text(encoding="utf-8")
    assert (
        "学生が起点となり高齢者の力を引き出した共生と就労支援のしくみづくり" in text
    )  # not \u-escaped
    assert text.startswith("# Generated by tools/build_corpus.py")
    data = yaml.safe_load(text)
    assert list(data)[:4] == ["id", "order", "prefecture", "municipality"]
    assert data["source"]["lines"][0] == [101, 209]
