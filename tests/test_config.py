"""Settings and limits: one table each, read by the engine, the CLI and the web app."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from caresearch.config import LIMITS, SETTINGS, Settings, check_limit
from caresearch.errors import QueryError, SettingError

EXE = Path(sys.executable).with_name("caresearch")


def test_the_settings_dataclass_has_one_field_per_table_row() -> None:
    assert [f.name for f in dataclasses.fields(Settings)] == [s.name for s in SETTINGS]
    defaults = Settings()
    for s in SETTINGS:
        assert getattr(defaults, s.name) == s.default


def test_environment_values_are_read_and_converted() -> None:
    settings = Settings.from_env({"CARESEARCH_PAGE_SIZE": "7", "CARESEARCH_INDEX": "/tmp/x"})
    assert settings.page_size == 7 and settings.index_dir == Path("/tmp/x")


def test_overrides_win_over_the_environment() -> None:
    settings = Settings.from_env({"CARESEARCH_PAGE_SIZE": "7"}, page_size=3)
    assert settings.page_size == 3


@pytest.mark.parametrize("raw", ["abc", "0", "-1", "51", "1.5", " "])
def test_a_bad_integer_names_the_variable_and_the_range(raw: str) -> None:
    with pytest.raises(SettingError, match=r"CARESEARCH_PAGE_SIZE=.*1～50 の整数"):
        Settings.from_env({"CARESEARCH_PAGE_SIZE": raw})


@pytest.mark.parametrize("setting", [s for s in SETTINGS if s.type is int])
def test_every_integer_setting_accepts_its_range_and_refuses_outside(setting) -> None:
    assert getattr(Settings.from_env({setting.env: str(setting.low)}), setting.name) == setting.low
    assert getattr(Settings.from_env({setting.env: str(setting.high)}), setting.name) == (
        setting.high
    )
    with pytest.raises(SettingError, match=setting.env):
        Settings.from_env({setting.env: str(setting.high + 1)})


def test_an_unknown_override_is_a_programming_error() -> None:
    with pytest.raises(TypeError):
        Settings.from_env({}, page_sise=3)


@pytest.mark.parametrize("name", sorted(LIMITS))
def test_limits_accept_their_range_and_refuse_outside(name: str) -> None:
    limit = LIMITS[name]
    assert check_limit(name, limit.low) == limit.low
    assert check_limit(name, limit.high) == limit.high
    for bad in (limit.low - 1, limit.high + 1, True, "3"):
        with pytest.raises(QueryError, match=f"{limit.low}から{limit.high}"):
            check_limit(name, bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("CARESEARCH_PAGE_SIZE", "abc"),
        ("CARESEARCH_PAGE_SIZE", "0"),
        ("CARESEARCH_MAX_TEXT_CHARS", "x"),
    ],
)
def test_the_command_reports_a_bad_setting_in_one_line_with_exit_2(
    var: str, value: str, tmp_path: Path
) -> None:
    out = subprocess.run(
        [str(EXE), "search", "認知症", "--index", str(tmp_path / "index")],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", var: value},
    )
    assert out.returncode == 2
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and var in lines[0] and "Traceback" not in out.stderr


def test_help_lists_every_environment_variable() -> None:
    out = subprocess.run([str(EXE), "--help"], capture_output=True, text=True, timeout=60)
    for s in SETTINGS:
        assert s.env in out.stdout
