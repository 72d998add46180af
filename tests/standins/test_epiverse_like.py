"""The ``epiverse_like`` stand-in (EpiVerse / EpiGePT class: DNA plus chromatin tracks through a
CNN + transformer): attributions to the sequence and to each track, and perturbations of the DNA
with the tracks held fixed, checked against the planted truth (an HNF4A motif marks the region
only where the ATAC track is open at it; the CTCF track is a distractor)."""
import csv
from pathlib import Path

import numpy as np
import pytest

import kipoi_explain as kx

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MODEL = EXAMPLES / "models" / "standins" / "epiverse_like"
DATA = EXAMPLES / "data" / "standins" / "epiverse_like"
ATAC, CTCF = 0, 1
# Bases either side of a motif that its attribution may spill into: the 15 bp stem kernel
# reaches 7 bp beyond the motif.
FLANK = 7


@pytest.fixture(scope="module")
def model():
    return kx.load_model(MODEL)


@pytest.fixture(scope="module")
def regions():
    """Evaluation regions: one-hot DNA, chromatin tracks ``(N, L, 2)`` and their sites."""
    with open(DATA / "sites.tsv") as handle:
        sites = list(csv.DictReader(handle, delimiter="\t"))
    return kx.from_fasta(DATA / "sequences.fa").onehot, np.load(DATA / "chromatin.npy"), sites


def subset(regions, kind):
    """The regions of one kind: DNA, tracks, motif spans ``(start, end)``."""
    x, chromatin, sites = regions
    rows = [i for i, s in enumerate(sites) if s["kind"] == kind]
    return x[rows], chromatin[rows], [(int(sites[i]["start"]), int(sites[i]["end"])) for i in rows]


def share_in(values, spans, flank=0):
    """Per region, the share of ``values`` (N, L) inside its span widened by ``flank``."""
    return np.array([v[max(s - flank, 0):e + flank].sum() / v.sum()
                     for v, (s, e) in zip(values, spans)])


def test_dict_schema_loads_dna_plus_a_two_channel_track_and_the_model_learned_the_and(
        model, regions):
    assert [(e.name, e.shape, e.kind) for e in model.extra_inputs] == \
        [("chromatin", (200, 2), "track")]
    x, chromatin, sites = regions
    predicted = model.with_inputs({"chromatin": chromatin}, len(x)).predict(x)[:, 0]
    kinds = np.array([s["kind"] for s in sites])
    # Marked only with motif AND open chromatin at it; a peak elsewhere or no motif is not
    # enough. Motifs are PWM samples, so a weak instance may miss: a 0.9 accuracy, not 1.
    assert ((predicted > 0.5) == (kinds == "open")).mean() >= 0.9


def test_grad_x_input_attributes_to_the_motif_and_to_the_atac_track_at_it(model, regions):
    x, chromatin, spans = subset(regions, "open")
    result = kx.explain(model, x, "grad_x_input", target="H3K27ac",
                        inputs={"chromatin": chromatin})
    dna = np.abs(result.scores).sum(axis=2)
    track = np.abs(result.extra_scores["chromatin"])
    assert track.shape == chromatin.shape
    # A uniform spread would put ~6.5% (motif) / ~13.5% (with flanks) of the mass there.
    assert np.median(share_in(dna, spans, FLANK)) > 0.5
    assert np.median(share_in(track[:, :, ATAC], spans, FLANK)) > 0.5
    # The distractor track gets less than the causal one in most regions (a CTCF peak on the
    # motif, planted in ~30% of them, can draw some).
    assert (track[:, :, CTCF].sum(axis=1) < track[:, :, ATAC].sum(axis=1)).mean() >= 0.8


def test_closing_the_atac_track_at_the_motif_removes_the_mark(model, regions):
    x, chromatin, spans = subset(regions, "open")
    closed = chromatin.copy()
    for row, (start, end) in zip(closed, spans):
        # The peak (sd 6 bp) is centred on the motif: 20 bp either side covers > 3 sd.
        row[max(start - 20, 0):end + 20, ATAC] = 0.0
    before = model.with_inputs({"chromatin": chromatin}, len(x)).predict(x)[:, 0]
    after = model.with_inputs({"chromatin": closed}, len(x)).predict(x)[:, 0]
    assert np.median(before) > 0.9 and np.median(after) < 0.1
    assert (after < before).all()


def test_ism_holds_the_tracks_fixed_so_the_motif_matters_only_in_open_chromatin(model, regions):
    effect = {}
    for kind in ("open", "closed"):
        x, chromatin, spans = subset(regions, kind)
        # The strongest loss any single mutation inside the motif causes, per region.
        effect[kind] = np.array([
            -kx.explain(model, x[i:i + 1], "ism", target=0, start=s, end=e,
                        inputs={"chromatin": chromatin[i:i + 1]}).scores[0, s:e].min()
            for i, (s, e) in enumerate(spans)])
    assert np.median(effect["open"]) > 0.3
    assert np.median(effect["closed"]) < 0.05


def test_integrated_gradients_with_the_tracks_held_fixed_concentrate_on_the_motif(model, regions):
    x, chromatin, spans = subset(regions, "open")
    result = kx.explain(model, x, "integrated_gradients", target=0, n_steps=32,
                        inputs={"chromatin": chromatin})
    assert result.extra_scores is None
    share = share_in(np.abs(result.scores).sum(axis=2), spans, FLANK)
    assert np.median(share) > 0.5


def test_attention_flows_to_the_motif_only_where_the_chromatin_is_open(model, regions):
    received = {}
    for kind in ("open", "closed"):
        x, chromatin, spans = subset(regions, kind)
        # kx.attention takes no extra inputs yet; the bound model's attention maps do.
        (maps,) = kx.attention_maps.maps(model.with_inputs({"chromatin": chromatin}, len(x)),
                                         x, model.attention.attention_layers())
        to_keys = maps.mean(axis=(1, 2))
        # Token t covers bases [4 t, 4 t + 4): the tokens overlapping the motif.
        received[kind] = np.array([to_keys[i, s // 4:(e - 1) // 4 + 1].sum()
                                   for i, (s, e) in enumerate(spans)])
    # The motif's ~4 of 50 tokens would receive ~8% of the attention if it were uniform.
    assert np.median(received["open"]) > 0.25
    assert np.median(received["closed"]) < 0.1


@pytest.mark.slow
def test_quick_run_writes_a_loadable_model_and_the_same_evaluation_data(tmp_path, quick_run):
    quick = kx.load_model(quick_run("epiverse_like", tmp_path,
                                    ("sequences.fa", "chromatin.npy", "sites.tsv")))
    x = kx.from_fasta(DATA / "sequences.fa").onehot[:3]
    predicted = quick.with_inputs({"chromatin": np.load(DATA / "chromatin.npy")[:3]}, 3).predict(x)
    assert predicted.shape == (3, 1) and np.isfinite(predicted).all()
