"""The scripts that made the bundled examples still run, offline, and reproduce their data."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import kipoi_explain as kx

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def quick_run(script: str, out: Path) -> None:
    proc = subprocess.run([sys.executable, str(EXAMPLES / script), "--quick", "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.slow
def test_quick_run_reproduces_data_and_writes_loadable_models(tmp_path):
    quick_run("train_examples.py", tmp_path)
    for name in ("genome.fa", "regions.bed", "sequences.fa", "planted_sites.tsv"):
        assert (tmp_path / "data" / name).read_bytes() == \
            (EXAMPLES / "data" / name).read_bytes(), name
    x = kx.from_fasta(tmp_path / "data" / "sequences.fa").onehot[:4]
    for name in ("pytorch_cnn", "keras_cnn"):
        model = kx.load_model(tmp_path / "models" / name)
        assert list(model.output_names) == ["CTCF", "HNF4A", "CEBPB"]
        assert model.predict(x).shape == (4, 3)
        assert np.isfinite(model.predict(x)).all()


@pytest.mark.slow
def test_transformer_script_reproduces_its_evaluation_data(tmp_path):
    quick_run("train_transformer.py", tmp_path)
    for name in ("pair_sequences.fa", "pair_sites.tsv"):
        assert (tmp_path / "data" / name).read_bytes() == \
            (EXAMPLES / "data" / name).read_bytes(), name
    model = kx.load_model(tmp_path / "models" / "pytorch_transformer")
    maps = kx.attention(model, tmp_path / "data" / "pair_sequences.fa", reduce="mean")
    assert maps.maps.shape == (40, 1, 4, 75, 75) and list(model.output_names) == ["pair"]


@pytest.mark.slow
def test_gennet_script_reproduces_its_annotation_and_mapping(tmp_path):
    quick_run("train_gennet.py", tmp_path)
    assert (tmp_path / "data" / "gennet_annotation.tsv").read_bytes() == \
        (EXAMPLES / "data" / "gennet_annotation.tsv").read_bytes()
    for name in ("entities.yaml", "model.py", "dataloader.py"):
        assert (tmp_path / "models" / "gennet" / name).read_bytes() == \
            (EXAMPLES / "models" / "gennet" / name).read_bytes(), name
    genes = kx.entities(tmp_path / "models" / "gennet", tmp_path / "data" / "genotypes.tsv",
                        "gene", "ablation")
    assert genes.scores.shape[1] == 25 and np.isfinite(genes.scores).all()
