"""``kipoi-explain attention`` in-process, on a small conv + transformer Kipoi model built here
(random weights: the command's files must equal the library's result, whatever the model
learnt)."""
import importlib.util

import h5py
import numpy as np
import pytest

import kipoi_explain as kx
from kipoi_explain.cli.main import main
from kipoi_explain.writers import read_attention_hdf5, write_attention_hdf5

LENGTH = 100
LAYERS = ["encoder.0.self_attn", "encoder.1.self_attn"]

MODEL_PY = '''
"""Conv stem + two TransformerEncoderLayers, built by tests/test_cli_attention.py."""
import torch
from torch import nn


class TinyTransformer(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 16, kernel_size=9, padding=4)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool1d(4)
        self.encoder = nn.ModuleList([
            nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True)
            for _ in range(2)])
        self.head = nn.Linear(16, 2)
        self.out = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.pool(self.relu(self.conv(x))).transpose(1, 2)
        for layer in self.encoder:
            h = layer(h)
        return self.out(self.head(h.mean(dim=1)))
'''

MODEL_YAML = f"""defined_as: kipoi.model.PyTorchModel
args:
  module_file: model.py
  module_class: TinyTransformer
  weights: weights.pt
default_dataloader:
  defined_as: kipoiseq.dataloaders.SeqIntervalDl
  default_args:
    auto_resize_len: {LENGTH}
    alphabet_axis: 0
    ignore_targets: true
    dtype: np.float32
info:
  authors:
  - name: kipoi-explain tests
  doc: Random-weight conv + transformer model for the attention command's tests.
schema:
  inputs:
    name: seq
    shape: (4, {LENGTH})
    special_type: DNASeq
    doc: One-hot DNA, alphabet A, C, G, T along axis 0.
  targets:
    shape: (2,)
    doc: Two sigmoid outputs.
    column_labels:
    - first
    - second
dependencies:
  pip:
  - torch
"""


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The Kipoi model directory, a FASTA of 6 sequences, and a genome with a BED of 4
    intervals (one on the - strand)."""
    import torch

    root = tmp_path_factory.mktemp("attention")
    model_dir = root / "tiny_transformer"
    model_dir.mkdir()
    (model_dir / "model.py").write_text(MODEL_PY)
    (model_dir / "model.yaml").write_text(MODEL_YAML)
    spec = importlib.util.spec_from_file_location("tiny_transformer_build",
                                                  model_dir / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.manual_seed(0)
    torch.save(module.TinyTransformer().state_dict(), model_dir / "weights.pt")

    rng = np.random.default_rng(7)
    sequences = root / "seqs.fa"
    sequences.write_text("".join(f">s{i}\n{''.join(rng.choice(list('ACGT'), LENGTH))}\n"
                                 for i in range(6)))
    genome = root / "genome.fa"
    genome.write_text(">chr1\n" + "".join(rng.choice(list("ACGT"), 1000)) + "\n")
    bed = root / "regions.bed"
    bed.write_text("chr1\t100\t200\ta\t0\t+\nchr1\t300\t420\tb\t0\t-\n"
                   "chr1\t500\t560\tc\t0\t+\nchr1\t700\t800\td\t0\t-\n")
    return {"model": model_dir, "sequences": sequences, "genome": genome, "bed": bed}


@pytest.fixture(scope="module")
def model(files):
    return kx.load_model(files["model"])


def run(capsys, *args):
    status = main(["attention", *map(str, args)])
    out, err = capsys.readouterr()
    return status, out, err


def assert_same(read, expected):
    """Every array and field of two AttentionMaps is identical."""
    for name in ("maps", "reduced", "predictions", "inputs"):
        np.testing.assert_array_equal(getattr(read, name), getattr(expected, name), err_msg=name)
    assert read.maps.dtype == np.float32
    for name in ("query_positions", "key_positions"):
        np.testing.assert_array_equal(getattr(read, name).spans, getattr(expected, name).spans)
        np.testing.assert_array_equal(getattr(read, name).centers,
                                      getattr(expected, name).centers)
        assert getattr(read, name).source == getattr(expected, name).source
    assert (read.layers, read.heads, read.reduce, read.names) == \
        (expected.layers, expected.heads, expected.reduce, expected.names)
    assert read.settings == expected.settings
    assert read.model["fingerprint"] == expected.model["fingerprint"]
    if expected.query is None:
        assert read.query is None
    else:
        np.testing.assert_array_equal(read.query, expected.query)


def assert_png(path):
    from PIL import Image

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert min(image.size) > 200


def test_writes_the_library_maps_and_a_heat_map(files, model, tmp_path, capsys):
    out = tmp_path / "maps" / "attention.h5"
    status, stdout, _ = run(capsys, files["model"], "--sequences", files["sequences"],
                            "--no-progress", "-o", out)
    assert status == 0
    expected = kx.attention(model, str(files["sequences"]))
    read = read_attention_hdf5(out)
    assert_same(read, expected)
    assert read.maps.shape == (6, 2, 4, 25, 25) and read.layers == LAYERS
    assert read.intervals is None
    assert_png(out.with_suffix(".png"))
    assert stdout.splitlines()[0].startswith(
        "attention of 6 sequences of 'tiny_transformer': 2 layer(s) x 4 head(s), "
        "25 queries x 25 keys (reduce none; tokens by receptive field of encoder.0.self_attn)")
    assert f"  wrote {out}" in stdout and f"  wrote {out.with_suffix('.png')}" in stdout


def test_query_row_of_a_rollout_over_chosen_layers_and_heads(files, model, tmp_path, capsys):
    out = tmp_path / "rollout.h5"
    status, stdout, _ = run(capsys, files["model"], "--sequences", files["sequences"],
                            "--layers", "1,encoder.0.self_attn", "--heads", "0,2",
                            "--reduce", "rollout", "--query", 50, "--plot-sequences", 2,
                            "--no-progress", "-o", out)
    assert status == 0
    expected = kx.attention(model, str(files["sequences"]), layers=[1, LAYERS[0]],
                            heads=[0, 2], reduce="rollout", query=50)
    read = read_attention_hdf5(out)
    assert_same(read, expected)
    # Layers in forward order whatever order they were named in; one row per sequence.
    assert read.layers == LAYERS and read.heads == [0, 2]
    assert read.reduced.shape == (6, 25)
    np.testing.assert_allclose(read.reduced.sum(axis=1), 1, rtol=1e-5)
    token = read.query_positions.centers[read.query]
    assert np.all(np.abs(token - 50) <= 2)
    assert "row of the query at base 50" in stdout
    assert_png(out.with_suffix(".png"))


def test_bed_input_stores_intervals_and_genome_spans_of_tokens(files, model, tmp_path, capsys):
    out = tmp_path / "bed.h5"
    status, _, _ = run(capsys, files["model"], "--bed", files["bed"], "--fasta",
                       files["genome"], "--use-strand", "--reduce", "heads", "--no-plot",
                       "--no-progress", "-o", out)
    assert status == 0
    assert not out.with_suffix(".png").exists()
    read = read_attention_hdf5(out)
    assert [str(i) for i in read.intervals] == ["chr1:100-200", "chr1:310-410",
                                                "chr1:480-580", "chr1:700-800"]
    assert [i.reverse for i in read.intervals] == [False, True, False, True]
    assert read.reduced.shape == (4, 2, 25, 25)
    spans = read.key_positions.spans
    with h5py.File(out) as store:
        keys, queries = store["genome_spans/keys"][()], store["genome_spans/queries"][()]
    assert keys.shape == queries.shape == (4, 25, 2)
    # + strand: the interval start plus the span; - strand: mirrored from the interval end.
    np.testing.assert_array_equal(keys[0], 100 + spans)
    np.testing.assert_array_equal(keys[1], 410 - spans[:, ::-1])
    for i in range(4):
        np.testing.assert_array_equal(queries[i], read.genome_spans(i, keys=False))


def test_round_trip_keeps_a_per_layer_query_row(files, model, tmp_path):
    result = kx.attention(model, str(files["sequences"]), layers=[0], reduce="layers",
                          query=np.arange(6) * 10)
    read = read_attention_hdf5(write_attention_hdf5(result, tmp_path / "r.h5"))
    assert_same(read, result)
    assert read.reduced.shape == (6, 4, 25)
    assert read.settings["query"] == [0, 10, 20, 30, 40, 50]


def test_reading_another_file_is_refused(tmp_path):
    with h5py.File(tmp_path / "other.h5", "w") as store:
        store["scores"] = np.zeros(3)
    with pytest.raises(ValueError, match="not an attention map file"):
        read_attention_hdf5(tmp_path / "other.h5")


@pytest.mark.parametrize("args, message", [
    (["--layers", "nope"], "'nope': not an attention layer; attention layers are "
                           "encoder.0.self_attn, encoder.1.self_attn"),
    (["--layers", "5"], "attention layer index 5: the model has 2 attention layers"),
    (["--heads", "0,x"], "--heads '0,x': expected comma-separated head indices"),
    (["--heads", "4"], "heads=[4]: expected indices 0 to 3"),
    (["--query", "100"], "query position 100 of sequence 0: outside the input (0 to 99)"),
    (["--plot-sequences", "0"], "--plot-sequences 0: expected at least 1"),
])
def test_bad_options_are_one_line_errors(files, tmp_path, capsys, args, message):
    out = tmp_path / "x.h5"
    status, _, err = run(capsys, files["model"], "--sequences", files["sequences"], *args,
                         "--no-progress", "-o", out)
    assert status == 2
    assert message in err
    assert err.startswith("kipoi-explain attention: error: ") and err.count("\n") == 1
    assert not out.exists()


def test_a_model_of_features_is_refused(tmp_path, capsys, files):
    from pathlib import Path

    gennet = Path(__file__).resolve().parents[1] / "examples" / "models" / "gennet"
    status, _, err = run(capsys, gennet, "--sequences", files["sequences"], "-o",
                         tmp_path / "x.h5")
    assert status == 2
    assert "attention maps needs a model of one-hot DNA; model 'gennet' takes features" in err


def test_unknown_reduction_is_an_argparse_error(files, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        run(capsys, files["model"], "--sequences", files["sequences"], "--reduce", "max",
            "-o", tmp_path / "x.h5")
    assert exit_.value.code == 2
    assert "invalid choice: 'max'" in capsys.readouterr().err
