"""The script that made the bundled examples still runs, offline, and reproduces their data."""
import subprocess
import sys
from pathlib import Path

import numpy as np

import kipoi_explain as kx

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_quick_run_reproduces_data_and_writes_loadable_models(tmp_path):
    proc = subprocess.run([sys.executable, str(EXAMPLES / "train_examples.py"), "--quick",
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in ("genome.fa", "regions.bed", "sequences.fa", "planted_sites.tsv"):
        assert (tmp_path / "data" / name).read_bytes() == \
            (EXAMPLES / "data" / name).read_bytes(), name
    x = kx.from_fasta(tmp_path / "data" / "sequences.fa").onehot[:4]
    for name in ("pytorch_cnn", "keras_cnn"):
        model = kx.load_model(tmp_path / "models" / name)
        assert list(model.output_names) == ["CTCF", "HNF4A", "CEBPB"]
        assert model.predict(x).shape == (4, 3)
        assert np.isfinite(model.predict(x)).all()
