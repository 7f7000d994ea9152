"""argparse in Japanese, as the users read it: 使い方, 引数, オプション, -h and argparse's own
error messages, and the type of an option with a limit of config.LIMITS (--page, --limit)."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from typing import NoReturn

from .config import LIMITS, limit_from
from .errors import QueryError


def limited(name: str) -> Callable[[str], int]:
    """An argparse type for the integer limit `name` of config.LIMITS."""

    def parse(raw: str) -> int:
        try:
            return limit_from(name, raw)
        except QueryError:
            raise argparse.ArgumentTypeError(LIMITS[name].message) from None

    parse.__name__ = name  # argparse names the type in its messages
    return parse


# argparse's own messages, said in Japanese like every other error of the tool.
_ARGPARSE_MESSAGES = (
    (re.compile(r"the following arguments are required: (.+)"), r"次の引数が必要です: \1"),
    (
        re.compile(r"argument (\S+): invalid choice: '?([^' ]*)'? \(choose from (.+)\)"),
        r"\1 に「\2」は指定できません（指定できる値: \3）",
    ),
    (re.compile(r"argument (\S+): expected one argument"), r"\1 の値がありません"),
    (
        re.compile(r"argument (\S+): invalid int value: '(.*)'"),
        r"\1 には整数を指定してください（指定されたのは「\2」）",
    ),
    (re.compile(r"argument (\S+): (.+)"), r"\1: \2"),
    (re.compile(r"unrecognized arguments: (.+)"), r"不明な引数です: \1"),
)


class _JapaneseUsage(argparse.HelpFormatter):
    """argparse's own words of a help page in Japanese (使い方:)."""

    def add_usage(self, usage, actions, groups, prefix=None):  # type: ignore[no-untyped-def]
        super().add_usage(usage, actions, groups, "使い方: " if prefix is None else prefix)


class _JapaneseRawUsage(_JapaneseUsage, argparse.RawDescriptionHelpFormatter):
    pass


class Parser(argparse.ArgumentParser):
    """argparse with its own words in Japanese: 使い方, 引数, オプション, -h."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        add_help = kwargs.pop("add_help", True)
        if kwargs.get("formatter_class") is argparse.RawDescriptionHelpFormatter:
            kwargs["formatter_class"] = _JapaneseRawUsage
        kwargs.setdefault("formatter_class", _JapaneseUsage)
        parents = kwargs.pop("parents", [])  # (options only: no parent sets defaults)
        super().__init__(*args, add_help=False, **kwargs)
        self._positionals.title = "引数"
        self._optionals.title = "オプション"
        if add_help:
            self.add_argument(
                "-h",
                "--help",
                action="help",
                default=argparse.SUPPRESS,
                help="この説明を表示して終わる",
            )
        for parent in parents:  # after the titles: else a second 「オプション:」
            self._add_container_actions(parent)

    def error(self, message: str) -> NoReturn:
        for pattern, japanese in _ARGPARSE_MESSAGES:
            if pattern.fullmatch(message):
                message = pattern.sub(japanese, message)
                break
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: エラー: {message}\n")
