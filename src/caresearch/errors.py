"""The exception hierarchy. Translated to exit codes and HTTP statuses only at the edges."""

from __future__ import annotations


class CaresearchError(Exception):
    """Base class: a message meant for a person, plus how the edges report it."""

    exit_code = 1
    http_status = 500

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class CorpusError(CaresearchError):
    """One or more case files are unreadable or invalid. `problems` lists each one."""

    def __init__(self, message: str, problems: list | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])


class IndexNotReady(CaresearchError):
    """The index is missing, stale or corrupt: run `caresearch build`."""

    http_status = 503


class QueryError(CaresearchError):
    """Empty, too long or otherwise unusable input from a user."""

    exit_code = 2
    http_status = 400


class QueryTooLarge(QueryError):
    http_status = 413


class NotFound(CaresearchError):
    """An unknown case or lesson id."""

    http_status = 404


class SettingError(CaresearchError):
    """A setting (environment variable or option) outside its declared type or range."""

    exit_code = 2


class ImportFailed(CaresearchError):
    """A document given to `caresearch import` cannot be imported (unreadable, encrypted, no
    text, too large, would overwrite a case). The message names the file and what to do; nothing
    has been written."""

    exit_code = 2
    http_status = 400
