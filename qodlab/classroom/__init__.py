"""Classroom mode: one sandbox for a whole class, a key per student, and an instructor's view.

`roster` holds the class list and its keys, `gate` checks every request (whose key, how fast,
what they may see), `history` numbers the class's status changes, `server` is the `Classroom`
itself and the instructor's HTTP paths, and `instructor` is their client, the model behind
`qodlab.widgets.ClassroomView`.
"""

from __future__ import annotations

from .gate import Gate, TokenBucket
from .history import History
from .instructor import Instructor
from .roster import INSTRUCTOR, Roster, Student
from .server import Classroom, StagedEvent

__all__ = [
    "INSTRUCTOR",
    "Classroom",
    "Gate",
    "History",
    "Instructor",
    "Roster",
    "StagedEvent",
    "Student",
    "TokenBucket",
]
