"""No traceback anywhere: every case of the malformed-input corpus (``malformed_corpus.py``:
broken model directories and weights files, compressed, binary and ragged FASTA files, bad BED
and VCF records, unreadable arrays and motif files, outputs that cannot be written) ends with
exit status 2 and one error line naming the file, and leaves no output behind."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

CORPUS = Path(__file__).with_name("malformed_corpus.py")


@pytest.mark.slow
def test_every_malformed_input_is_one_line_naming_its_file(tmp_path):
    proc = subprocess.run([sys.executable, str(CORPUS), str(tmp_path)], capture_output=True,
                          text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(results) >= 100
    assert "Traceback" not in proc.stderr
    failures = [r for r in results if r["traceback"] or r["status"] != 2 or not r["named"]
                or r["left"] or "\n" in r["error"]]
    assert failures == [], json.dumps(failures, indent=1)[:6000]
    by_case = {r["case"]: r["error"] for r in results}
    assert "model.yaml, line 2:" in by_case["explain-model-yaml_syntax"]
    assert "file 'weights.pt' is empty" in by_case["explain-model-weights_empty"]
    assert "'model.keras' is not a .keras archive" in by_case["predict-model-keras_truncated"]
    assert "is gzip-compressed, not bgzip" in by_case["explain-fasta-gzip"]
    assert "is a file, so nothing can be written under it" in \
        by_case["explain-output-under-a-file"]
