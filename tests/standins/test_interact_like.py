"""The INTERACT-class stand-in (examples/standins/interact_like.py): a CNN + transformer that
reads the methylation of the central CpG from its own token, trained so that a CTCF motif
30-100 bp away (beyond the token's 18 bp receptive field) unmethylates it. Its attention from
the CpG, ISM and saliency all point at the planted motif."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import kipoi_explain as kx

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "examples" / "models" / "standins" / "interact_like"
DATA = ROOT / "examples" / "data" / "standins" / "interact_like"
CPG = 200
LENGTH = 400


@pytest.fixture(scope="module")
def model():
    return kx.load_model(MODEL)


@pytest.fixture(scope="module")
def windows():
    return kx.from_fasta(DATA / "sequences.fa")


@pytest.fixture(scope="module")
def near(windows):
    """The 20 windows with the motif 30-100 bp from the CpG, and each one's motif span."""
    sites = pd.read_csv(DATA / "sites.tsv", sep="\t")
    spans = {row.record: (row.start, row.end) for row in sites.itertuples()}
    keep = [i for i, name in enumerate(windows.names) if name.startswith("near_")]
    assert len(keep) == 20
    return windows.onehot[keep], [spans[windows.names[i]] for i in keep]


def test_a_nearby_motif_unmethylates_the_cpg(model, windows):
    beta = model.predict(windows.onehot)[:, 0]
    near = np.array([name.startswith("near_") for name in windows.names])
    # Measured: median beta 0.08 near a motif, 0.75 without one or with one 140-180 bp away.
    assert np.median(beta[near]) < 0.2 and np.median(beta[~near]) > 0.6
    ordered = (beta[near][:, None] < beta[~near][None, :]).mean()
    assert ordered > 0.9


def test_attention_from_the_cpg_points_at_the_motif(model, near):
    x, spans = near
    result = kx.attention(model, x, reduce="mean", query=CPG)
    assert result.maps.shape == (20, 1, 4, 40, 40) and result.reduced.shape == (20, 40)
    keys = result.key_positions.spans
    ratios, beats_all = [], []
    for row, (start, end) in zip(result.reduced, spans):
        motif = np.flatnonzero((keys[:, 0] < end) & (keys[:, 1] > start))
        cpg = np.flatnonzero((keys[:, 0] <= CPG) & (keys[:, 1] > CPG))
        background = np.setdiff1d(np.arange(len(row)), np.union1d(motif, cpg))
        ratios.append(row[motif].max() / row[background].mean())
        beats_all.append(row[motif].max() > row[background].max())
    ratios = np.array(ratios)
    # Measured: the motif token draws >= 17x the mean background attention, median ~150x,
    # and beats every background token in all 20 windows.
    assert ratios.min() > 5 and np.median(ratios) > 30
    assert sum(beats_all) >= 18


# ISM runs 1,200 forward passes per window, so it sees only the first 8.
@pytest.mark.parametrize("method, n_windows", [("ism", 8), ("saliency", 20)])
def test_mutating_the_motif_changes_the_output_most(model, near, method, n_windows):
    x, spans = near
    importance = np.abs(kx.explain(model, x[:n_windows], method,
                                   target="methylation").position_importance())
    assert importance.shape == (n_windows, LENGTH)
    peaks, ratios = [], []
    for row, (start, end) in zip(importance, spans):
        # A peak within 2 bp of the site still marks it: the conv filter spans its flanks.
        peaks.append(start - 2 <= np.argmax(row) < end + 2)
        outside = np.ones(LENGTH, dtype=bool)
        outside[start:end] = False
        ratios.append(row[start:end].mean() / row[outside].mean())
    # Measured: the peak lies on the motif in 7 of 8 windows (ISM) and 20 of 20 (saliency);
    # the motif's mean importance is a median 43x (ISM) and 21x (saliency) the rest's.
    assert sum(peaks) >= n_windows - 2
    assert np.median(ratios) > 8


@pytest.mark.slow
def test_script_quick_run_reproduces_the_windows(tmp_path, quick_run):
    model = kx.load_model(quick_run("interact_like", tmp_path, ("sequences.fa", "sites.tsv")))
    maps = kx.attention(model, DATA / "sequences.fa", reduce="mean", query=CPG)
    assert maps.maps.shape == (40, 1, 4, 40, 40) and list(model.output_names) == ["methylation"]
