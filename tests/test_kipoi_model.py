"""Kipoi model directories and zoo checkouts, loaded through Kipoi's own loader."""
import shutil
from pathlib import Path

import numpy as np
import pytest

import kipoi_explain as kx

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
MODELS = {"pytorch_cnn": "pytorch", "keras_cnn": "keras"}
OUTPUTS = ["CTCF", "HNF4A", "CEBPB"]


@pytest.mark.parametrize("name, framework", MODELS.items())
def test_metadata_comes_from_model_yaml(name, framework):
    model = kx.load_model(EXAMPLES / "models" / name)
    assert model.framework == framework
    assert model.input_length == 200
    assert list(model.output_names) == OUTPUTS
    assert model.output_shape == (3,)
    # The PyTorch example reads (N, 4, L): kipoiseq's alphabet_axis=0.
    assert model.layout.alphabet_axis == (0 if framework == "pytorch" else 1)
    assert model.source["type"] == "kipoi"


@pytest.mark.parametrize("name", MODELS)
def test_predictions_equal_kipoi_with_its_own_dataloader(name):
    import kipoi

    path = str(EXAMPLES / "models" / name)
    kipoi_model = kipoi.get_model(path, source="dir")
    loader = kipoi_model.default_dataloader(intervals_file=str(EXAMPLES / "data" / "regions.bed"),
                                            fasta_file=str(EXAMPLES / "data" / "genome.fa"))
    batch = next(loader.batch_iter(batch_size=16))
    expected = kipoi_model.predict_on_batch(batch["inputs"])
    ours = kx.load_model(path)
    seqs = kx.from_bed(EXAMPLES / "data" / "regions.bed", EXAMPLES / "data" / "genome.fa",
                       ours.input_length)
    np.testing.assert_allclose(ours.predict(seqs.onehot[:16]), expected, rtol=1e-5, atol=1e-6)


def test_zoo_checkout_and_model_name(tmp_path):
    shutil.copytree(EXAMPLES / "models" / "pytorch_cnn", tmp_path / "Examples" / "pytorch_cnn")
    model = kx.load_model("Examples/pytorch_cnn", zoo=str(tmp_path))
    direct = kx.load_model(EXAMPLES / "models" / "pytorch_cnn")
    assert model.fingerprint() == direct.fingerprint()
    with pytest.raises(kx.InputError, match="no model.yaml"):
        kx.load_model("Examples/absent", zoo=str(tmp_path))


def test_directory_without_model_yaml(tmp_path):
    with pytest.raises(kx.InputError, match="no model.yaml"):
        kx.load_model(tmp_path)


def test_unsupported_kipoi_type_is_named(tmp_path):
    (tmp_path / "model.yaml").write_text(
        "defined_as: kipoi.model.TensorFlow2Model\nargs:\n  savedmodel_path: saved\n"
        "info:\n  authors:\n    - name: x\n  doc: x\n"
        "schema:\n  inputs:\n    shape: (10,)\n  targets:\n    shape: (1,)\n")
    with pytest.raises(kx.InputError, match="TensorFlow2Model"):
        kx.load_model(tmp_path)


def test_unknown_path_and_option():
    with pytest.raises(kx.InputError, match="not a Kipoi model directory") as raised:
        kx.load_model("no/such/model")
    # Both ways of naming a zoo checkout: Python's keyword and the command line's flag.
    assert "zoo=CHECKOUT" in str(raised.value) and "--zoo CHECKOUT" in str(raised.value)


@pytest.mark.slow
def test_cli_names_its_zoo_flag(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "kipoi_explain", "predict", "no/such/model",
                           "--fasta", "x.fa", "-o", str(tmp_path / "p.h5")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert "--zoo CHECKOUT" in proc.stderr
    with pytest.raises(kx.InputError, match="input_length"):
        kx.load_model(EXAMPLES / "models" / "pytorch_cnn", input_length=3)


def test_layout_read_from_the_schema_when_the_dataloader_does_not_say(tmp_path):
    """A (4, 1, L) model whose model.yaml names no alphabet_axis: the adapter reads the shape."""
    import yaml

    model_dir = tmp_path / "dummy_axis"
    shutil.copytree(EXAMPLES / "models" / "pytorch_cnn", model_dir)
    (model_dir / "model.py").write_text(
        (model_dir / "model.py").read_text() + "\n\nclass Squeezed(TFBindingCNN):\n"
        "    def forward(self, x):\n        return super().forward(x[:, :, 0, :])\n")
    spec = yaml.safe_load((model_dir / "model.yaml").read_text())
    spec["args"]["module_class"] = "Squeezed"
    spec["default_dataloader"]["default_args"] = {"auto_resize_len": 200, "dummy_axis": 1}
    spec["schema"]["inputs"]["shape"] = "(4, 1, 200)"
    (model_dir / "model.yaml").write_text(yaml.safe_dump(spec))
    model = kx.load_model(model_dir)
    assert (model.layout.alphabet_axis, model.layout.dummy_axis) == (0, 1)
    x = kx.from_fasta(EXAMPLES / "data" / "sequences.fa").onehot[:5]
    reference = kx.load_model(EXAMPLES / "models" / "pytorch_cnn")
    np.testing.assert_allclose(model.predict(x), reference.predict(x), rtol=1e-6)
