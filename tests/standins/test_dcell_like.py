"""The DCell-class stand-in (examples/standins/dcell_like.py): entity importance finds the
planted epistatic pair GENE10 x GENE17, its small term S05 and that term's parent L2, by
every entity method, ahead of the weaker additive decoy GENE03 (S03, L1)."""
from pathlib import Path

import numpy as np
import pytest

import kipoi_explain as kx

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "examples" / "models" / "standins" / "dcell_like"
GENOTYPES = ROOT / "examples" / "data" / "standins" / "dcell_like" / "genotypes.tsv"
METHODS = ["grad_x_activation", "integrated_gradients", "ablation"]
PLANTED = {"small_term": "S05", "large_term": "L2"}


@pytest.fixture(scope="module")
def model():
    return kx.load_model(MODEL)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("level", sorted(PLANTED))
def test_the_planted_term_ranks_first_at_each_level(model, level, method):
    table = kx.entities(model, GENOTYPES, level, method).table()
    assert table["entity"].iloc[0] == PLANTED[level]
    # Measured: the planted term scores 2.0x (large terms, gradient x activation) to 3.6x the
    # decoy's term, which in turn scores > 20x every neutral term.
    first, second = table["mean_abs"].iloc[:2]
    assert first > 1.5 * second


@pytest.mark.parametrize("method", METHODS)
def test_the_epistatic_pair_ranks_top_two_among_genes(model, method):
    result = kx.entities(model, GENOTYPES, "gene", method)
    table = result.table()
    assert set(table["entity"].iloc[:2]) == {"GENE10", "GENE17"}
    # The decoy is real but weaker; the 21 neutral genes carry almost nothing.
    assert table["entity"].iloc[2] == "GENE03"
    assert table["mean_abs"].iloc[1] > 1.5 * table["mean_abs"].iloc[2]
    assert table["mean_abs"].iloc[2] > 10 * table["mean_abs"].iloc[3]
    # A gene that is not deleted scores 0 by gradient x input and ablation at the input (up
    # to float rounding between batches): the importance comes from the deleted genes.
    if method != "integrated_gradients":
        genotypes = np.loadtxt(GENOTYPES, skiprows=1, usecols=range(1, 25))
        assert np.abs(result.scores[genotypes == 0]).max() < 1e-6


@pytest.mark.slow
def test_script_quick_run_writes_a_loadable_model(tmp_path, quick_run):
    model_dir = quick_run("dcell_like", tmp_path, ("genotypes.tsv",))
    assert (model_dir / "entities.yaml").read_bytes() == (MODEL / "entities.yaml").read_bytes()
    terms = kx.entities(model_dir, GENOTYPES, "small_term", "ablation")
    assert terms.scores.shape == (80, 8) and np.isfinite(terms.scores).all()
