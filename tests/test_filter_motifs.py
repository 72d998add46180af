"""Filter motifs as published: read after each filter's nonlinearity, matched only when
informative, with p-, q- and E-values and TomTom's overlap (torch, Keras 3, memelite)."""
from pathlib import Path

import numpy as np
import pytest
import torch

import kipoi_explain as kx
from kipoi_explain.motif import build_motif
from kipoi_explain.motif.database import MotifDatabase, jaspar
from kipoi_explain.motif.matching import match

from conftest import random_onehot

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CTCF = "MA0139.2"


class FunctionalRelu(torch.nn.Module):
    """A conv whose activation is called inside forward(): no module for a hook to find."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv1d(4, 6, 9, padding=4)
        self.pool = torch.nn.AdaptiveMaxPool1d(1)
        self.head = torch.nn.Linear(6, 1)

    def forward(self, x):
        return self.head(self.pool(torch.relu(self.conv(x))).flatten(1))


def conv_bn_relu(seed=0):
    torch.manual_seed(seed)
    module = torch.nn.Sequential(torch.nn.Conv1d(4, 6, 9, padding=4), torch.nn.BatchNorm1d(6),
                                 torch.nn.ReLU(), torch.nn.Dropout(0.1),
                                 torch.nn.AdaptiveMaxPool1d(1), torch.nn.Flatten(),
                                 torch.nn.Linear(6, 1))
    with torch.no_grad():
        # A batch norm that changes which windows pass the threshold: a shift per channel.
        module[1].running_mean.uniform_(-1, 1)
        module[1].running_var.uniform_(0.5, 2)
        module[1].bias.uniform_(-0.5, 0.5)
    return module.eval()


def keras_conv_bn_activation(activation="exponential", fused=False):
    import keras

    inputs = keras.Input((60, 4))
    conv = keras.layers.Conv1D(6, 9, padding="same", activation="relu" if fused else None)
    h = conv(inputs)
    if not fused:
        h = keras.layers.BatchNormalization()(h)
        h = keras.layers.Activation(activation)(h)
        h = keras.layers.Dropout(0.1)(h)
    h = keras.layers.GlobalMaxPooling1D()(h)
    return keras.Model(inputs, keras.layers.Dense(1)(h))


# ---- 1. the layer read ------------------------------------------------------------------------

def test_torch_filters_are_read_after_batch_norm_and_relu():
    model = kx.load_model(conv_bn_relu(), input_length=60)
    assert model.filters.conv_layers()[0].activation == "2"


@pytest.mark.parametrize("fused", [False, True])
def test_keras_filters_are_read_at_their_activation(fused):
    keras_model = keras_conv_bn_activation(fused=fused)
    conv = kx.load_model(keras_model).filters.conv_layers()[0]
    expected = conv.name if fused else next(
        layer.name for layer in keras_model.layers if type(layer).__name__ == "Activation")
    assert conv.activation == expected


@pytest.mark.slow
def test_counts_are_those_of_the_activation_output_computed_by_hand():
    """Windows above 0.5 x max of relu(batchnorm(conv(x))), aligned and counted directly."""
    module = conv_bn_relu()
    x = random_onehot(50, 60, seed=3)
    found = kx.motifs(kx.load_model(module, input_length=60), x, database=jaspar())
    assert found.settings["read_at"] == "2" and "read_at_reason" not in found.settings
    with torch.no_grad():
        act = module[2](module[1](module[0](torch.tensor(x.transpose(0, 2, 1))))).numpy()
    padded = np.pad(x, ((0, 0), (4, 4), (0, 0)))
    for f, motif in enumerate(found):
        cut = 0.5 * act[:, f].max()
        seq, pos = np.nonzero(act[:, f] > cut)
        if cut <= 0:
            assert motif.n_sites == 0 and motif.details["unmatched"] == "never activated above 0"
            continue
        counts = padded[seq[:, None], pos[:, None] + np.arange(9)].sum(0)
        assert motif.n_sites == len(seq)
        np.testing.assert_allclose(motif.pfm, counts / counts.sum(1, keepdims=True), atol=1e-12)
        assert motif.details["read_at"] == "2"


def test_batch_norm_changes_the_sites_against_the_raw_convolution():
    x = random_onehot(50, 60, seed=3)
    model = kx.load_model(conv_bn_relu(), input_length=60)
    after = kx.motifs(model, x, database=jaspar())
    raw = kx.motifs(model, x, database=jaspar(), read_at="0")
    assert raw.settings["read_at"] == "0"
    assert [m.n_sites for m in after] != [m.n_sites for m in raw]


def test_functional_activation_is_said_and_the_raw_output_read():
    found = kx.motifs(kx.load_model(FunctionalRelu(), input_length=60),
                      random_onehot(20, 60), database=jaspar())
    assert found.settings["read_at"] == "conv"
    assert "functional activation" in found.settings["read_at_reason"]


def test_read_at_a_layer_of_another_shape_is_refused():
    model = kx.load_model(conv_bn_relu(), input_length=60)
    with pytest.raises(kx.InputError, match="read_at '4'.*not one value per position"):
        kx.motifs(model, random_onehot(4, 60), read_at="4", database=jaspar())
    with pytest.raises(kx.InputError, match="read_at 'nope': no such layer"):
        kx.motifs(model, random_onehot(4, 60), read_at="nope", database=jaspar())


def test_cli_names_the_layer_read(tmp_path, capsys):
    from kipoi_explain.cli.main import main

    rc = main(["motifs", str(EXAMPLES / "models" / "pytorch_cnn"), "--sequences",
               str(EXAMPLES / "data" / "sequences.fa"), "-o", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert rc == 0 and "read by activations at 'relu1'" in out
    table = (tmp_path / "out" / "matches.tsv").read_text().splitlines()
    header = table[0].split("\t")
    assert {"e_value", "overlap", "read_at", "unmatched"} <= set(header)


# ---- 2. information-content gates -------------------------------------------------------------

def test_flat_filters_of_the_deepliver_standin_match_nothing():
    """Before the gates, 17 of its 32 near-flat filters 'matched' CTCF at q ~ 1e-6; CTCF is
    not planted there."""
    root = EXAMPLES / "models" / "standins" / "deepliver_like"
    seqs = EXAMPLES / "data" / "standins" / "deepliver_like" / "sequences.fa"
    found = kx.motifs(kx.load_model(str(root)), str(seqs))
    flat = [m for m in found if m.information_content.max() < 1.0]
    assert len(flat) >= 16
    assert all(m.matches == [] and "bits" in m.details["unmatched"] for m in flat)
    assert not any(m.best is not None and m.best.name == "CTCF" for m in found)


def test_gates_are_per_position_and_in_total():
    db = jaspar()
    ctcf = db.pfms[db.ids.index(CTCF)]
    blurred = 0.5 * ctcf + 0.5 * 0.25          # every position below 1 bit, 19 positions
    short = ctcf[5:8]                           # three sharp positions: few bits in all
    motifs = [build_motif(name, pfm, 10) for name, pfm in
              (("ctcf", ctcf), ("blurred", blurred), ("short", short))]
    assert motifs[1].information_content.max() < 1.0 < motifs[1].information_content.sum()
    assert motifs[2].information_content.max() > 1.0
    kx.motif.attach_matches(motifs, db, 3)
    assert motifs[0].best.id == CTCF
    assert motifs[1].matches == [] and "most informative position" in \
        motifs[1].details["unmatched"]
    assert motifs[2].matches == [] and "bits <" in motifs[2].details["unmatched"]
    kx.motif.attach_matches(motifs[1:2], db, 3, min_peak_bits=0.1, min_total_bits=1)
    assert motifs[1].matches, "lower gates let the blurred CTCF be matched"


# ---- 3. E-values and overlap ------------------------------------------------------------------

def test_e_value_is_p_times_the_database_size():
    db = jaspar()
    hits = match([db.pfms[db.ids.index(CTCF)]], db, 5)[0]
    assert hits[0].id == CTCF and hits[0].overlap == len(db.pfms[db.ids.index(CTCF)])
    for hit in hits:
        assert hit.e_value == pytest.approx(hit.p_value * len(db))
        assert hit.q_value >= hit.p_value


@pytest.mark.filterwarnings("ignore:tomtom was given:UserWarning")
def test_an_alignment_sharing_too_few_columns_is_no_match():
    """A query that shares only its last 3 columns with a database motif."""
    rng = np.random.default_rng(0)
    sharp = np.eye(4)[rng.integers(0, 4, 12)] * 0.97 + 0.0075
    target = sharp[:8]
    query = np.concatenate([sharp[5:8], np.eye(4)[[0, 0, 0, 0, 0, 0, 0]] * 0.97 + 0.0075])
    db = MotifDatabase(("T1",), ("target",), (target,), {})
    loose = match([query], db, 1, min_overlap=1)[0][0]
    strict = match([query], db, 1, min_overlap=5)[0][0]
    assert loose.overlap < 5
    assert strict.p_value == 1.0 and loose.p_value < 1.0
