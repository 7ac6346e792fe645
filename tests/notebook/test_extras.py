"""After the README's first command (`pip install -e .`, no extras), the widgets say what to install.

A fresh interpreter stands for that environment: `sys.modules[name] = None` is how Python itself
marks a module as absent (`import` raises ModuleNotFoundError, `find_spec` answers None), so the
notebook extra's modules are missing there as they are in a venv that never installed them.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from qodlab.notebook.extras import NOTEBOOK_MODULES

WITHOUT_EXTRA = f"import sys; sys.modules.update(dict.fromkeys({NOTEBOOK_MODULES!r}))\n"


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", WITHOUT_EXTRA + code], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("call", "what"),
    [
        ("qodlab.dashboard()", "qodlab's widgets"),
        ("qodlab.classroom_view('http://127.0.0.1:1', 'key')", "qodlab's widgets"),
        ("qodlab.TimelinePlot(qodlab.EventLog())", "qodlab.TimelinePlot"),
    ],
)
def test_without_the_notebook_extra_the_error_names_it_and_how_to_start_jupyterlab(call: str, what: str) -> None:
    code = f"""
import qodlab
try:
    {call}
except ModuleNotFoundError as exc:
    print(exc.name)
    print(exc)
"""
    out = _run(code)
    assert out.returncode == 0, out.stderr
    name, message = out.stdout.splitlines()[:2]
    assert name == "ipywidgets"
    assert message.startswith(what)
    assert "no module 'ipywidgets', 'plotly', 'anywidget'" in message
    assert "python -m pip install 'qodlab[notebook]' jupyterlab" in message
    assert "python -m pip install -e '.[notebook]' jupyterlab" in message
    assert "jupyter lab notebooks/01-quickstart.ipynb" in message


def test_without_the_notebook_extra_the_rest_still_works() -> None:
    code = """
import qodlab
sandbox = qodlab.Sandbox(speed=60, reuse=False)
with sandbox.client() as client:
    session = client.create_session(device={"phoneNumber": "+36721601234567"}, application_server="233.252.0.2",
                                    qos_profile="QOS_L", duration=600)
    session.wait_for("AVAILABLE", timeout=30)
png = qodlab.timeline_png(qodlab.EventLog())
sandbox.stop()
print(session.qos_status.value, png[:4] == b"\\x89PNG")
"""
    out = _run(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["AVAILABLE", "True"]


def test_with_the_extra_nothing_is_raised() -> None:
    from qodlab.notebook.extras import require_notebook_extra

    require_notebook_extra("this test's environment")  # the test extra includes the notebook extra
