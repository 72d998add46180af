"""The ``orca_like`` stand-in (one contact map, Orca class): an in-silico deletion screen of the
loop corner finds the convergent CTCF sites that anchor the loop, and attribution of that
corner puts its mass on them."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import kipoi_explain as kx

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MODEL_DIR = EXAMPLES / "models" / "standins" / "orca_like"
DATA = EXAMPLES / "data" / "standins" / "orca_like"
SITES = pd.read_csv(DATA / "sites.tsv", sep="\t")
# Every evaluation sequence has its sites in bins 8 and 23: facing each other (a forward site
# upstream of a reverse one) in loop_*, facing away in divergent_*.
ANCHORS = (8, 23)
CORNER = ((ANCHORS[0], ANCHORS[0] + 1), (ANCHORS[1], ANCHORS[1] + 1))
# Planted loop strength, in log observed / expected.
LOOP = 2.0


@pytest.fixture(scope="module")
def model():
    return kx.load_model(MODEL_DIR)


@pytest.fixture(scope="module")
def seqs():
    return kx.from_fasta(DATA / "sequences.fa")


def subset(seqs, prefix):
    keep = [i for i, n in enumerate(seqs.names) if n.startswith(prefix)]
    return kx.SequenceSet(seqs.onehot[keep], [seqs.names[i] for i in keep])


@pytest.fixture(scope="module")
def loops(model, seqs):
    """The loop sequences whose loop the model calls (corner above half the planted strength).

    Sites are sampled from the PWM, so a weak anchor can go unseen; the analyses are checked
    on the loops the model does make.
    """
    corner = model.predict(seqs.onehot)[:, ANCHORS[0], ANCHORS[1]]
    keep = [i for i, n in enumerate(seqs.names) if n.startswith("loop") and corner[i] > LOOP / 2]
    return kx.SequenceSet(seqs.onehot[keep], [seqs.names[i] for i in keep])


def sites_of(record):
    return SITES[SITES.record == record]


def test_map_is_symmetric_and_only_convergent_sites_make_a_loop(model, seqs):
    assert list(model.output_names) == ["contact"]
    maps = model.predict(seqs.onehot)
    assert maps.shape == (20, 32, 32)
    np.testing.assert_allclose(maps, maps.transpose(0, 2, 1), atol=1e-5)
    corner = maps[:, ANCHORS[0], ANCHORS[1]]
    kinds = np.array([n.split("_")[0] for n in seqs.names])
    # Measured: 11 of the 12 loops called (1.1 to 1.8); divergent and empty sequences at most
    # 0.62 in absolute value.
    assert (corner[kinds == "loop"] > 0.5 * LOOP).sum() >= 10
    assert np.abs(corner[kinds != "loop"]).max() < 0.4 * LOOP


def test_deletion_screen_finds_the_loop_anchors(model, seqs, loops):
    # A 20 bp deletion shifts the sequence downstream of it by less than the 32 bp between a
    # site's centre and its bin's edge, so only deleting an anchor can break the loop.
    result = kx.screen(model, loops, window=20, stride=10, perturbation="delete", bins=CORNER)
    for i, name in enumerate(loops.names):
        effects = result.effects[i]
        hits = []
        for site in sites_of(name).itertuples():
            overlaps = (result.starts < site.end) & (result.ends > site.start)
            hits.append(overlaps)
            # Deleting either anchor breaks most of the loop.
            assert effects[overlaps].min() < -0.5 * result.reference[i], (name, site.strand)
        on_site = np.logical_or(*hits)
        assert on_site[int(effects.argmin())], name
        # Measured: off the sites at most 36% of the largest change, and 1% in the median (a
        # deletion can join bases into a partial site).
        off_site = np.abs(effects[~on_site])
        assert off_site.max() < 0.5 * abs(effects.min()), name
        assert np.median(off_site) < 0.05 * abs(effects.min()), name
    # Divergent sites make no loop, so the same screen finds nothing there.
    divergent = kx.screen(model, subset(seqs, "divergent"), window=20, stride=10,
                          perturbation="delete", bins=CORNER)
    # Measured: at most 0.56, against 1.2 to 1.9 at the loops.
    assert np.abs(divergent.effects).max() < 0.5 * np.median(-result.effects.min(axis=1))


def test_attribution_of_the_loop_corner_is_on_the_ctcf_sites(model, loops):
    # Integrated gradients rather than gradient x input: a strong anchor saturates the site
    # read-out's sigmoid, and its gradient vanishes.
    attribution = kx.explain(model, loops, "integrated_gradients", bins=CORNER)
    importance = np.abs(attribution.position_importance())
    for i, name in enumerate(loops.names):
        mask = np.zeros(importance.shape[1], dtype=bool)
        # Each site with 2 bp either side: the filters are 19 bp wide, the sites 15.
        for site in sites_of(name).itertuples():
            mask[site.start - 2:site.end + 2] = True
        # The two anchors are 1.7% of the 2048 bases; measured: 41-70% of the mass.
        share = importance[i, mask].sum() / importance[i].sum()
        assert share > 0.3, (name, share)
        # A chance partial site in the background can matter too (loop_01 has one between
        # the anchors, which insulates them a little); the top bases are still the anchors'.
        top = np.argsort(importance[i])[::-1][:10]
        assert mask[top].sum() >= 8, name


@pytest.mark.slow
def test_script_quick_run_writes_a_loadable_model(tmp_path, quick_run):
    quick = kx.load_model(quick_run("orca_like", tmp_path, ("sequences.fa", "sites.tsv")))
    x = kx.from_fasta(DATA / "sequences.fa").onehot[:3]
    assert quick.predict(x).shape == (3, 32, 32) and list(quick.output_names) == ["contact"]
