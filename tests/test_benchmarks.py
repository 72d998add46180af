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


@pytest.mark.slow
def test_quick_comparison_prints_one_table_of_equal_scores():
    proc = subprocess.run([sys.executable, str(COMPARE), "--quick"], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("# CPU ") and "torch " in lines[0] and "captum " in lines[0]
    tables, rows_of = [], None
    for line in lines:
        if line.startswith("|") and "---" not in line:
            if rows_of is None:
                rows_of = []
                tables.append(rows_of)
            rows_of.append(line)
        elif not line.startswith("|"):
            rows_of = None
    assert len(tables) == 3, proc.stdout
    check_published(tables[1])
    check_defaults(tables[2])
    header, *body = tables[0]
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


FAST_ISM = Path(__file__).resolve().parents[1] / "benchmarks" / "fast_ism.py"


@pytest.mark.slow
def test_fast_ism_benchmark_prints_one_table_of_equal_scores():
    """``benchmarks/fast_ism.py --quick`` on the two zoo layouts and BPNet, 10 positions."""
    pytest.importorskip("bpnetlite")
    proc = subprocess.run([sys.executable, str(FAST_ISM), "--quick", "--positions", "10",
                           "--models", "basset_zoo", "beluga_zoo", "bpnet"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    header, *body = [line for line in proc.stdout.splitlines()
                     if line.startswith("|") and "---" not in line]
    assert header.split("|")[1].strip() == "model"
    rows = {}
    for line in body:
        name, shape, length, mutants, fast, naive, speedup, fast_fpe, naive_fpe, diff, scale = \
            [cell.strip() for cell in line.strip("|").split("|")]
        assert int(mutants) == 30 and min(float(fast), float(naive), float(fast_fpe)) > 0
        assert float(speedup) == pytest.approx(float(naive) / float(fast), rel=0.02)
        rows[name] = shape, float(diff), float(scale)
    assert rows["basset_zoo"][0] == "4x600x1" and rows["beluga_zoo"][0] == "4x1x1000"
    for shape, diff, scale in rows.values():
        assert diff <= 1e-4 * max(1.0, scale) and scale > 1e-2
    # Fast ISM ran on every model: no fallback is listed.
    assert not [line for line in proc.stdout.splitlines() if line.startswith("- ")]


def cells(line):
    return [cell.strip() for cell in line.strip("|").split("|")]


def check_published(table):
    """DeepSHAP on ChromBPNet and Enformer: ours complete to float32 rounding; tangermeme equal
    to ours where it has bpnet-lite's rules (ChromBPNet), incomplete where it has none
    (Enformer's GELU module, softmax, attention products)."""
    header, *body = table
    assert cells(header)[6] == "ours: completeness error"
    rows = {(c[1], c[4].split(":")[0]): c for c in map(cells, body)}
    assert set(rows) == {(m, lib) for m in ("ChromBPNet", "Enformer")
                         for lib in ("tangermeme", "captum")}
    for row in rows.values():
        assert float(row[6]) < 1e-5 * max(1, float(row[9]) * 100), row
    chrom = rows["ChromBPNet", "tangermeme"]
    assert float(chrom[7]) < 1e-5 and float(chrom[8]) < TOLERANCE
    enformer = rows["Enformer", "tangermeme"]
    assert enformer[7] == "-" or float(enformer[7]) > 100 * float(enformer[6])


def check_defaults(table):
    header, *body = table
    assert cells(header)[:5] == ["model", "length", "ours (s)", "tangermeme (s)",
                                 "ratio theirs/ours"]
    for row in map(cells, body):
        assert float(row[2]) > 0 and float(row[3]) > 0 and int(row[5]) >= 1
