"""The comparison with Captum and tangermeme runs, prints its one table, and finds the same
numbers as the other libraries (``benchmarks/compare.py --quick``: small networks, 200 bp)."""
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("captum")
pytest.importorskip("tangermeme")

COMPARE = Path(__file__).resolve().parents[1] / "benchmarks" / "compare.py"
TOLERANCE = 1e-4


def test_quick_comparison_prints_one_table_of_equal_scores():
    proc = subprocess.run([sys.executable, str(COMPARE), "--quick"], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("# CPU ") and "torch " in lines[0] and "captum " in lines[0]
    header, *body = [line for line in lines if line.startswith("|") and "---" not in line]
    assert header.split("|")[1].strip() == "method"
    rows = {}
    for line in body:
        method, model, length, ours, theirs, ratio, fpe, diff, scale = \
            [cell.strip() for cell in line.strip("|").split("|")]
        library, seconds = theirs.split(": ")
        assert length == "200" and min(float(ours), float(seconds), float(fpe)) > 0
        assert float(ratio) == pytest.approx(float(seconds) / float(ours), rel=0.02)
        rows[method, model, library] = float(diff), float(scale)
    expected = {(method, model, library) for model in ("basset", "bpnet_like")
                for method, library in [("deepshap", "tangermeme"), ("deepshap", "captum"),
                                        ("integrated_gradients", "captum"),
                                        ("saliency", "captum"), ("ism", "tangermeme"),
                                        ("ism", "naive ISM (ours)")]}
    assert set(rows) == expected
    # Captum's DeepLIFT drops its max-pool rule where a ReLU module feeds the pool (Basset):
    # its scores there are gradients through the pool, not DeepLIFT's (see compare.py).
    for key in expected - {("deepshap", "basset", "captum")}:
        diff, scale = rows[key]
        # Equal, and on scores well above the tolerance, so that equality means something.
        assert diff <= TOLERANCE and scale > 100 * TOLERANCE, (key, diff, scale)
