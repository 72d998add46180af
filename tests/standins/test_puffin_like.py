"""The ``puffin_like`` stand-in (profile output, Puffin class): attribution of the bins at an
initiation peak finds the SP1 site that drives it, inserting the motif creates a peak where the
planted rule puts it, and a deletion screen finds the site."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import kipoi_explain as kx

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MODEL_DIR = EXAMPLES / "models" / "standins" / "puffin_like"
DATA = EXAMPLES / "data" / "standins" / "puffin_like"
SITES = pd.read_csv(DATA / "sites.tsv", sep="\t")
# Consensus of JASPAR MA0079.5 (SP1), the planted promoter motif; its centre is base 4.
SP1 = "GGGGCGGGG"
# The planted rule: initiation 40 bp downstream of a site's centre, in its orientation.
OFFSET = 40
# Half-width of the bin window read around a peak (the planted peak's sd is 3 bp).
HALF = 3
# Sum of one planted peak over the profile: a Gaussian of height 1 and sd 3 bp.
PEAK_MASS = 3 * np.sqrt(2 * np.pi)


@pytest.fixture(scope="module")
def model():
    return kx.load_model(MODEL_DIR)


@pytest.fixture(scope="module")
def seqs():
    return kx.from_fasta(DATA / "sequences.fa")


def subset(seqs, names):
    keep = [seqs.names.index(n) for n in names]
    return kx.SequenceSet(seqs.onehot[keep], list(names))


def plus_sites():
    return SITES[SITES.strand == "+"].itertuples()


def test_model_outputs_a_two_strand_profile_peaking_at_the_planted_position(model, seqs):
    assert list(model.output_names) == ["plus", "minus"]
    predictions = model.predict(seqs.onehot)
    assert predictions.shape == (24, 320, 2)
    for site in SITES.itertuples():
        track = 0 if site.strand == "+" else 1
        profile = predictions[seqs.names.index(site.record), :, track]
        assert abs(int(profile.argmax()) - site.peak) <= 2, site.record


def test_attribution_of_the_peak_bins_concentrates_on_the_motif(model, seqs):
    for site in plus_sites():
        one = subset(seqs, [site.record])
        peak = kx.explain(model, one, "grad_x_input", target="plus",
                          bins=(site.peak - HALF, site.peak + HALF + 1))
        importance = np.abs(peak.position_importance()[0])
        # The site and 2 bp either side are 13 of 320 bases (4%); they get 28-59% of the mass.
        on_site = importance[site.start - 2:site.end + 2].sum() / importance.sum()
        assert on_site > 0.2, (site.record, on_site)
        assert site.start <= int(importance.argmax()) < site.end
        # Bins 60 bp away hold no signal, so the same analysis there finds (almost) nothing:
        # this fails if the bins window were ignored.
        far = site.peak + 60 if site.peak + 60 + HALF < 320 else site.peak - 60
        elsewhere = kx.explain(model, one, "grad_x_input", target="plus",
                               bins=(far - HALF, far + HALF + 1))
        assert np.abs(elsewhere.scores).sum() < 0.05 * np.abs(peak.scores).sum()


def test_inserting_the_motif_creates_a_peak_at_the_planted_offset(model, seqs):
    background = subset(seqs, [n for n in seqs.names if n.startswith("none_")])
    positions = [60, 140, 220]
    expected_peaks = [p + len(SP1) // 2 + OFFSET for p in positions]
    # effects[j, i]: change of the bins around the peak expected for position j when the
    # motif is implanted at position i, mean over the background sequences.
    effects = np.array([
        kx.insertion(model, background, SP1, positions=positions, target="plus",
                     bins=(peak - HALF, peak + HALF + 1)).effects.mean(axis=0)
        for peak in expected_peaks])
    diagonal = np.diag(effects)
    off_diagonal = np.abs(effects[~np.eye(3, dtype=bool)])
    # The planted peak sums to about 5.7 over 7 bins; the insertion must create most of it,
    # exactly where the rule puts it and nowhere else.
    assert diagonal.min() > 2.5, effects
    assert off_diagonal.max() < 0.1 * diagonal.min(), effects
    # On the minus strand the same motif reads as its reverse complement and drives
    # initiation upstream: on the minus track.
    minus = kx.insertion(model, background, "CCCCGCCCC", positions=[140], target="minus",
                         bins=(140 + 4 - OFFSET - HALF, 140 + 4 - OFFSET + HALF + 1))
    assert minus.effects.mean() > 2.5


def test_deletion_screen_over_the_motif_removes_the_peak(model, seqs):
    records = [s.record for s in plus_sites()]
    # The target is the whole plus track: a deletion upstream of the site only shifts the
    # peak, which leaves the track's total unchanged, so only deleting the site can lower it.
    result = kx.screen(model, subset(seqs, records), window=10, stride=5,
                       perturbation="delete", target="plus")
    for i, site in enumerate(plus_sites()):
        effects = result.effects[i]
        overlaps = (result.starts < site.end) & (result.ends > site.start)
        best = int(effects.argmin())
        assert overlaps[best], site.record
        # Deleting the site removes most of its peak (measured: 71-119% of the planted mass),
        # and no window off the site comes close (measured: at most 40% of the best).
        assert effects[best] < -0.5 * PEAK_MASS, site.record
        assert np.abs(effects[~overlaps]).max() < 0.5 * abs(effects[best]), site.record


@pytest.mark.slow
def test_script_quick_run_writes_a_loadable_model(tmp_path, quick_run):
    quick = kx.load_model(quick_run("puffin_like", tmp_path, ("sequences.fa", "sites.tsv")))
    x = kx.from_fasta(DATA / "sequences.fa").onehot[:3]
    assert quick.predict(x).shape == (3, 320, 2) and list(quick.output_names) == ["plus", "minus"]
