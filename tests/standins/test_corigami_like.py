"""The ``corigami_like`` stand-in (C.Origami class: DNA plus CTCF and ATAC tracks to a Hi-C contact
map): in-silico genetic screens of the loop corner and gradient x input attributions to the DNA
and to each track, checked against the planted truth (a CTCF motif with CTCF signal is an
anchor; a convergent anchor pair makes a loop at its corner of the map)."""
import csv
from pathlib import Path

import numpy as np
import pytest

import kipoi_explain as kx

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MODEL = EXAMPLES / "models" / "standins" / "corigami_like"
DATA = EXAMPLES / "data" / "standins" / "corigami_like"
# Bases either side of a motif that its attribution may spill into: the 19 bp kernel reaches
# 9 bp beyond the motif.
FLANK = 9


@pytest.fixture(scope="module")
def model():
    return kx.load_model(MODEL)


@pytest.fixture(scope="module")
def regions():
    """Evaluation regions as ``(DNA, {track name: (N, L, 1)}, sites per region)``."""
    seqs = kx.from_fasta(DATA / "sequences.fa")
    with open(DATA / "sites.tsv") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    sites = [[r for r in rows if r["record"] == name] for name in seqs.names]
    tracks = {name: np.load(DATA / f"{name}.npy") for name in ("ctcf", "atac")}
    return seqs.onehot, tracks, sites


def loops(regions):
    """The loop regions, one at a time: DNA ``(1, L, 4)``, tracks, anchors and the decoy
    motif (no CTCF signal) as ``(start, end, bin)``."""
    x, tracks, sites = regions
    for i, region in enumerate(sites):
        if region[0]["kind"] != "loop":
            continue
        spans = [(int(s["start"]), int(s["end"]), int(s["bin"])) for s in region]
        anchors = [span for span, s in zip(spans, region) if s["ctcf_signal"] == "1"]
        decoy = [span for span, s in zip(spans, region) if s["ctcf_signal"] == "0"]
        yield x[i:i + 1], {k: v[i:i + 1] for k, v in tracks.items()}, sorted(anchors), decoy[0]


def corner(anchors):
    """Map window of the loop: the left anchor's bin (rows) x the right anchor's (columns)."""
    (_, _, left), (_, _, right) = anchors
    return (left, left + 1), (right, right + 1)


def overlaps(start, end, span):
    """Whether ``[start, end)`` overlaps the site ``span = (start, end, ...)``."""
    return start < span[1] and span[0] < end


def test_three_inputs_load_and_convergent_anchors_make_a_loop_at_their_corner(model, regions):
    assert [(e.name, e.shape, e.kind) for e in model.extra_inputs] == \
        [("ctcf", (1024, 1), "track"), ("atac", (1024, 1), "track")]
    assert model.output_shape == (16, 16)
    x, tracks, sites = regions
    maps = model.with_inputs(tracks, len(x)).predict(x)
    np.testing.assert_allclose(maps, maps.transpose(0, 2, 1), atol=1e-6)
    enrichment = {"loop": [], "noloop": []}
    for contact, region in zip(np.log(maps / (1 - maps)), sites):
        left, right = sorted(int(s["bin"]) for s in region if s["ctcf_signal"] == "1")
        # Observed over expected, as Hi-C loops are called: the corner's logit above the
        # median of its diagonal (contacts at the same distance).
        enrichment[region[0]["kind"]].append(
            contact[left, right] - np.median(np.diagonal(contact, right - left)))
    # Divergent motifs at the same kind of positions make (nearly) no loop.
    assert min(enrichment["loop"]) > 1.0
    assert np.median(enrichment["loop"]) > 2.0 and np.median(enrichment["noloop"]) < 0.5


# Deletions shift the bases right of the window while the tracks stay: the second anchor is
# found less often than by masking.
@pytest.mark.slow
@pytest.mark.parametrize("perturbation, window, min_both", [("mask", 32, 0.6),
                                                            ("delete", 16, 0.5)])
def test_screen_of_the_loop_corner_finds_the_anchors(model, regions, perturbation, window,
                                                      min_both):
    strongest_on_anchor, both_anchors, decoy = [], [], []
    for x, tracks, anchors, decoy_site in loops(regions):
        screen = kx.screen(model, x, window=window, perturbation=perturbation, target=0,
                           bins=corner(anchors), inputs=tracks)
        effects = screen.effects[0]
        spans = list(zip(screen.starts, screen.ends))
        order = np.argsort(effects)
        strongest_on_anchor.append(any(overlaps(*spans[order[0]], a) for a in anchors))
        both_anchors.append(all(any(overlaps(*spans[w], a) for w in order[:2]) for a in anchors))
        # The motif without CTCF signal is no anchor: perturbing it barely moves the corner.
        decoy.append(min(effects[w] for w, span in enumerate(spans)
                         if overlaps(*span, decoy_site)) / effects[order[0]])
    assert all(strongest_on_anchor)
    # The second anchor is found less often: the model learned anchors of unequal strength.
    assert np.mean(both_anchors) >= min_both
    assert np.median(decoy) < 0.15


def test_grad_x_input_of_the_corner_marks_the_anchors_in_the_dna_and_the_ctcf_track(model,
                                                                                      regions):
    dna_share, ctcf_share, decoy, atac_to_ctcf = [], [], [], []
    for x, tracks, anchors, decoy_site in loops(regions):
        result = kx.explain(model, x, "grad_x_input", target=0, bins=corner(anchors),
                            inputs=tracks)
        dna = np.abs(result.scores[0]).sum(axis=1)
        ctcf = np.abs(result.extra_scores["ctcf"][0, :, 0])
        atac = np.abs(result.extra_scores["atac"][0, :, 0])
        near = np.zeros(len(dna), dtype=bool)
        for start, end, _ in anchors:
            near[max(start - FLANK, 0):end + FLANK] = True
        dna_share.append(dna[near].sum() / dna.sum())
        ctcf_share.append(ctcf[near].sum() / ctcf.sum())
        decoy.append(dna[decoy_site[0]:decoy_site[1]].sum() / dna[near].sum())
        atac_to_ctcf.append(atac.sum() / ctcf.sum())
    # Anchors and their flanks are ~7% of the region. Every bin's anchor score reaches the
    # corner through the domain term's sums, so the rest of the region keeps some mass.
    assert np.median(dna_share) > 0.2 and np.median(ctcf_share) > 0.5
    assert np.median(decoy) < 0.3
    # ATAC is placed independently of anchors: less used than CTCF.
    assert np.median(atac_to_ctcf) < 1.0


@pytest.mark.slow
def test_quick_run_writes_a_loadable_model_and_the_same_evaluation_data(tmp_path, quick_run):
    quick = kx.load_model(quick_run("corigami_like", tmp_path,
                                    ("sequences.fa", "ctcf.npy", "atac.npy", "sites.tsv")))
    x = kx.from_fasta(DATA / "sequences.fa").onehot[:3]
    tracks = {name: np.load(DATA / f"{name}.npy")[:3] for name in ("ctcf", "atac")}
    predicted = quick.with_inputs(tracks, 3).predict(x)
    assert predicted.shape == (3, 16, 16) and np.isfinite(predicted).all()
