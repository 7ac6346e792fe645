"""The class list: one unguessable API key per student, and one for the instructor.

Keys are looked up by their SHA-256 digest (so a lookup's time says nothing about a key), never
appear in a repr, and are written to disk only in the roster file, with mode 0600.
"""

from __future__ import annotations

import csv
import hashlib
import os
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["INSTRUCTOR", "Roster", "Student"]

INSTRUCTOR = "instructor"


@dataclass(frozen=True)
class Student:
    """A name and its API key (the key never in a repr)."""

    name: str
    key: str = field(repr=False)


class Roster:
    """Students and their keys, and the instructor's key."""

    def __init__(self, names: Sequence[str]) -> None:
        if len(set(names)) != len(names) or INSTRUCTOR in names:
            msg = f"student names must be unique and not {INSTRUCTOR!r}"
            raise ValueError(msg)
        self.students = [Student(name, secrets.token_urlsafe(24)) for name in names]
        self.instructor = Student(INSTRUCTOR, secrets.token_urlsafe(24))
        self._by_digest = {_digest(s.key): s.name for s in [*self.students, self.instructor]}

    @classmethod
    def numbered(cls, count: int) -> Roster:
        """`student-01` ... `student-NN`."""
        width = max(2, len(str(count)))
        return cls([f"student-{i:0{width}d}" for i in range(1, count + 1)])

    @classmethod
    def from_csv(cls, path: str | os.PathLike[str]) -> Roster:
        """Names from the first column of a CSV file (a header `name` is skipped)."""
        with open(path, newline="") as file:
            names = [row[0].strip() for row in csv.reader(file) if row and row[0].strip()]
        return cls(names[1:] if names and names[0].lower() == "name" else names)

    def __repr__(self) -> str:
        return f"<Roster {len(self.students)} students, keys ***>"

    @property
    def names(self) -> list[str]:
        """The students' names, in order."""
        return [s.name for s in self.students]

    def who(self, key: str) -> str | None:
        """The name a key belongs to (`INSTRUCTOR` for the instructor's), or None.

        Whitespace around it is not part of a key (a line copied from the roster with its line end).
        """
        return self._by_digest.get(_digest(key.strip()))

    def key(self, name: str) -> str:
        """A student's key (or the instructor's), e.g. to hand it out."""
        if name == INSTRUCTOR:
            return self.instructor.key
        return next(s.key for s in self.students if s.name == name)

    def write(self, path: str | os.PathLike[str], oauth: bool = False) -> Path:
        """The roster as CSV, readable by its owner only (0600): `name,api_key`, the instructor last.

        With `oauth`, students hold OAuth clients: `name,api_key,client_id,client_secret`, a
        student's api_key empty (their key is their client's secret), the instructor's client empty.
        """
        target = Path(path)
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.chmod(target, 0o600)  # an existing file keeps its mode through O_CREAT: set it anyway
        with os.fdopen(descriptor, "w", newline="") as file:
            writer = csv.writer(file, lineterminator="\n")  # csv's default is \r\n: a key copied would carry \r
            if oauth:
                writer.writerow(["name", "api_key", "client_id", "client_secret"])
                writer.writerows((s.name, "", s.name, s.key) for s in self.students)
                writer.writerow((INSTRUCTOR, self.instructor.key, "", ""))
            else:
                writer.writerow(["name", "api_key"])
                writer.writerows(_rows([*self.students, self.instructor]))
        return target


def _rows(people: Iterable[Student]) -> Iterable[tuple[str, str]]:
    return ((s.name, s.key) for s in people)


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()
