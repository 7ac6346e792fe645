"""Classroom mode: one sandbox for a whole class, a key per student, and an instructor's view.

`roster` holds the class list and its keys, `gate` checks every request (whose key, how fast,
what they may see), `server` is the `Classroom` itself and the instructor's HTTP paths.
"""

from __future__ import annotations

from .gate import Gate, TokenBucket
from .roster import INSTRUCTOR, Roster, Student
from .server import Classroom, StagedEvent

__all__ = ["INSTRUCTOR", "Classroom", "Gate", "Roster", "StagedEvent", "Student", "TokenBucket"]
