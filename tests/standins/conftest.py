"""Shared fixture for the stand-in tests: running a stand-in's script in its quick mode."""
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_quick(name, out, data_files):
    """Run ``examples/standins/<name>.py --quick --out <out>`` and check its evaluation data.

    Parameters
    ----------
    name : str
        The stand-in, e.g. ``"basset_like"``.
    out : pathlib.Path
        Output root the script writes ``models/`` and ``data/`` under.
    data_files : tuple of str
        Files of ``data/standins/<name>/`` that the quick run must write byte for byte as
        bundled: the quick mode trains less, but evaluates on the same data.

    Returns
    -------
    pathlib.Path
        The quick run's model directory, ``<out>/models/standins/<name>``.
    """
    proc = subprocess.run([sys.executable, str(EXAMPLES / "standins" / f"{name}.py"),
                           "--quick", "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for file in data_files:
        written = out / "data" / "standins" / name / file
        bundled = EXAMPLES / "data" / "standins" / name / file
        assert written.read_bytes() == bundled.read_bytes(), file
    return out / "models" / "standins" / name


@pytest.fixture
def quick_run():
    """:func:`run_quick`, as a fixture so that test modules need not import a conftest."""
    return run_quick
