"""Problems found in content, config or layouts, and the exception that carries them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Level = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with one file, at one line when the line is known."""

    path: str
    line: int | None
    message: str
    level: Level = "error"

    @property
    def is_error(self) -> bool:
        """True for errors, False for warnings."""
        return self.level == "error"

    def format(self) -> str:
        """`path:line: level: message`, the form compilers and editors understand."""
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.level}: {self.message}"

    def __str__(self) -> str:
        return self.format()


class BuildError(Exception):
    """Raised with every problem of a run when at least one of them is an error."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(p.format() for p in self.problems))


def error(path: str, line: int | None, message: str) -> Problem:
    """An error-level problem."""
    return Problem(path, line, message, "error")


def warning(path: str, line: int | None, message: str) -> Problem:
    """A warning-level problem."""
    return Problem(path, line, message, "warning")


def raise_if_errors(problems: Iterable[Problem]) -> None:
    """Raise BuildError with all problems when any of them is an error."""
    problems = tuple(problems)
    if any(p.is_error for p in problems):
        raise BuildError(sorted(problems, key=_sort_key))


def _sort_key(problem: Problem) -> tuple[str, int, str]:
    return (problem.path, problem.line or 0, problem.message)


def sorted_problems(problems: Iterable[Problem]) -> list[Problem]:
    """Problems in file, then line order."""
    return sorted(problems, key=_sort_key)
