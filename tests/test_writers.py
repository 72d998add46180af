"""HDF5, TF-MoDISco and PNG writers: what is written reads back the same."""
import numpy as np
import pytest
from PIL import Image

import kipoi_explain as kx
from kipoi_explain.results import Interval
from kipoi_explain.writers import plot_attribution, read_hdf5, write_hdf5, write_modisco

from conftest import random_onehot


@pytest.fixture(scope="module")
def result(torch_cnn):
    model = kx.load_model(torch_cnn, input_length=100, output_names=["a", "b"])
    x = random_onehot(3, seed=4)
    seqs = kx.SequenceSet(x, ["r1", "r2", "r3"],
                          [Interval("chr1", 10 * i, 10 * i + 100, f"r{i}", "+") for i in (1, 2, 3)])
    return kx.explain(model, seqs, "integrated_gradients", target="b", n_steps=8)


def test_hdf5_round_trip(result, tmp_path):
    write_hdf5(result, tmp_path / "r.h5")
    back = read_hdf5(tmp_path / "r.h5")
    for name in ("scores", "inputs", "predictions", "hypothetical", "delta"):
        np.testing.assert_array_equal(getattr(back, name), getattr(result, name))
    assert back.names == ["r1", "r2", "r3"]
    assert back.intervals == result.intervals
    assert back.method == "integrated_gradients"
    assert back.target["names"] == ["b"]
    assert back.settings["n_steps"] == 8 and back.settings["version"] == kx.__version__
    assert back.model["fingerprint"] == result.model["fingerprint"] and len(
        back.model["fingerprint"]) == 64


def test_modisco_files_are_n_4_l(result, tmp_path):
    onehot_path, hyp_path = write_modisco(result, tmp_path / "modisco")
    onehot = np.load(onehot_path)["arr_0"]
    hyp = np.load(hyp_path)["arr_0"]
    assert onehot.shape == hyp.shape == (3, 4, 100)
    np.testing.assert_array_equal(onehot, result.inputs.transpose(0, 2, 1))
    np.testing.assert_array_equal(hyp, result.hypothetical.transpose(0, 2, 1))


def test_modisco_needs_hypothetical(torch_cnn, tmp_path):
    model = kx.load_model(torch_cnn, input_length=100)
    ism = kx.explain(model, random_onehot(1), "ism", start=0, end=5)
    with pytest.raises(kx.InputError, match="hypothetical"):
        write_modisco(ism, tmp_path)


def test_plot_draws_requested_sequences(result, tmp_path):
    one = Image.open(plot_attribution(result, tmp_path / "one.png", max_sequences=1))
    three = Image.open(plot_attribution(result, tmp_path / "three.png", max_sequences=3))
    assert one.format == "PNG" and three.format == "PNG"
    assert three.size[1] > 2 * one.size[1]
    # Not a blank canvas: the logo and heat map put many colours on it.
    assert len(np.unique(np.asarray(one.convert("RGB")).reshape(-1, 3), axis=0)) > 20


def _kept_figures(monkeypatch):
    """Figures a writer draws, kept open instead of closed once saved."""
    import matplotlib.pyplot as plt

    kept = []
    monkeypatch.setattr(plt, "close", kept.append)
    return kept


def test_plot_title_summarises_many_outputs(result, tmp_path, monkeypatch):
    import dataclasses

    import matplotlib.pyplot as plt

    from kipoi_explain.targets import Target, target_label

    # Short lists stay as they are; ten bins of one output (the Puffin stand-in) are summarised.
    assert target_label(Target((0, 1), ("a", "b"))) == "a+b"
    plus = tuple(f"plus[{i}]" for i in range(10))
    assert target_label(Target(tuple(range(10)), plus)) == "plus[0..9] (10 outputs, sum)"
    mixed = tuple(f"t{i}" for i in range(6))
    assert target_label(Target(tuple(range(6)), mixed, "mean")) == "t0+...+t5 (6 outputs, mean)"
    # A result's record of its target reads the same.
    assert target_label({"names": list(plus), "reduce": "mean"}) == \
        "plus[0..9] (10 outputs, mean)"
    # Through the plot: the title names the summary, not ten terms.
    many = dataclasses.replace(result, target={"columns": [1] * 10, "names": list(plus),
                                               "reduce": "sum"})
    kept = _kept_figures(monkeypatch)
    plot_attribution(many, tmp_path / "many.png", max_sequences=1)
    title = kept[0].axes[0].get_title()
    assert "target plus[0..9] (10 outputs, sum) = " in title and "plus[1]" not in title
    plt.close("all")


@pytest.mark.slow
def test_plot_position_ticks_are_integers(result, tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    from kipoi_explain.writers.logos import motif_logo

    kept = _kept_figures(monkeypatch)
    plot_attribution(result, tmp_path / "p.png", max_sequences=1)
    # A short motif is where a default locator puts ticks at halves.
    motif = kx.motif.build_motif("conv1/filter_0", np.full((3, 4), 0.25) + np.eye(3, 4) * 0.5,
                                 n_sites=5)
    motif_logo(motif, tmp_path / "logo.png")
    assert len(kept) == 2
    for fig in kept:
        for ax in fig.axes:
            if ax.get_label() == "<colorbar>":
                continue
            ticks = ax.get_xticks()
            assert len(ticks) and np.all(ticks == np.round(ticks)), ticks
    plt.close("all")
