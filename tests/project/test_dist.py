"""The package as published: scripts/check-dist builds the sdist and wheel from the committed tree, runs
`twine check`, installs the wheel in a fresh virtual environment outside the checkout and runs `qodlab demo`
there, so that a file missing from the package fails the suite. Also: the version is written once, and the
changelog and licences say what the package ships."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import qodlab

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_wheel_installed_outside_the_checkout_runs_the_demo() -> None:
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "check-dist")],
        env={**os.environ, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=880,
    )
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert "ran qodlab demo" in done.stderr
    assert f"qodlab {qodlab.__version__}" in done.stdout


def test_the_version_is_written_once_and_the_changelog_has_its_section() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" not in project and "version" in project["dynamic"]  # read from qodlab/__init__.py by hatch
    changelog = (ROOT / "CHANGELOG.md").read_text()
    versions = re.findall(r"^## \[([^\]]+)\]", changelog, re.MULTILINE)
    assert versions[:2] == ["Unreleased", qodlab.__version__]


def test_the_licences_ship_beside_what_they_cover() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0"
    for name in project["license-files"]:
        assert (ROOT / name).is_file(), name
    assert "Apache License" in (ROOT / "LICENSE").read_text()
    notice = (ROOT / "qodlab/sandbox/contract/NOTICE").read_text()
    assert "camaraproject/QualityOnDemand" in notice
    shipped = {
        p.relative_to(ROOT / "qodlab/sandbox/contract").as_posix()
        for p in (ROOT / "qodlab/sandbox/contract").rglob("*.yaml")
    }
    assert all(name in notice or name.startswith("r4.1/") for name in shipped), shipped
    classifiers = project["classifiers"]
    assert {"Framework :: Jupyter", "Typing :: Typed", "Programming Language :: Python :: 3.11"} <= set(classifiers)
    assert {"Documentation", "Source", "Issues", "Changelog"} <= set(project["urls"])
