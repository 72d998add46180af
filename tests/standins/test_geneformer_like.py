"""The Geneformer-class stand-in (examples/standins/geneformer_like.py): in-silico deletion of
gene tokens, read from a text file of gene names, finds the planted driver GENE17 of the disease
state, ahead of the enriched but non-causal decoy GENE05; occlusion by the pad token and
integrated gradients at the gene embedding agree."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import kipoi_explain as kx

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "examples" / "models" / "standins" / "geneformer_like"
DATA = ROOT / "examples" / "data" / "standins" / "geneformer_like"
CELLS = DATA / "cells.txt"
DRIVER, DECOY = "GENE17", "GENE05"


@pytest.fixture(scope="module")
def model():
    return kx.load_model(MODEL)


@pytest.fixture(scope="module")
def disease():
    return pd.read_csv(DATA / "states.tsv", sep="\t")["state"].to_numpy() == "disease"


@pytest.fixture(scope="module")
def deletion(model):
    return kx.explain(model, CELLS, "deletion", target="disease")


def ids_of(model, token):
    return model.layout.vocabulary.index(token)


def test_cells_are_read_from_the_gene_name_file(model, deletion):
    lines = CELLS.read_text().splitlines()
    assert deletion.names == [line.split("\t")[0] for line in lines]
    vocabulary = np.array(model.layout.vocabulary)
    for row, line in zip(deletion.inputs.astype(int), lines):
        genes = line.split("\t")[1].split()
        assert list(vocabulary[row[:len(genes)]]) == genes
        assert (row[len(genes):] == model.layout.pad).all()


def test_deleting_the_driver_shifts_disease_cells_most(model, deletion, disease):
    x = deletion.inputs.astype(int)
    driver = x == ids_of(model, DRIVER)
    assert driver[disease].any(axis=1).all()
    magnitude = np.abs(deletion.scores)
    assert (magnitude.argmax(axis=1) == driver.argmax(axis=1))[disease].all()
    # Measured: deleting GENE17 drops P(disease) by 0.998 in every disease cell; no other
    # deletion, the decoy's included, moves it by more than 1e-4.
    assert (deletion.scores[driver & disease[:, None]] > 0.9).all()
    others = magnitude[disease][~driver[disease]]
    assert others.max() < 0.05
    decoy = x == ids_of(model, DECOY)
    assert (decoy & disease[:, None]).any() and magnitude[decoy].max() < 0.05


def test_a_lowly_ranked_driver_in_a_healthy_cell_matters_little(model, deletion, disease):
    """Healthy cells may express the driver at rank 15 or lower: the model reads the rank, so
    deleting it there barely moves the prediction (presence alone would have made it large)."""
    driver = deletion.inputs.astype(int) == ids_of(model, DRIVER)
    healthy_with_driver = driver & ~disease[:, None]
    assert healthy_with_driver.any()
    assert np.abs(deletion.scores[healthy_with_driver]).max() < 0.05
    assert (deletion.predictions[~disease, 0] < 0.5).all()


def test_deletion_equals_predicting_the_cell_without_the_driver(model, deletion, disease):
    """Each cell's driver score is P(disease) of the cell minus that of the cell with GENE17
    struck from its gene list (the later genes moving up a rank), encoded here by hand."""
    vocabulary = list(model.layout.vocabulary)
    without = np.full((len(disease), model.layout.length), model.layout.pad, dtype=np.float32)
    for row, line in enumerate(CELLS.read_text().splitlines()):
        genes = [g for g in line.split("\t")[1].split() if g != DRIVER]
        without[row, :len(genes)] = [vocabulary.index(g) for g in genes]
    p_without = model.predict(without)[:, 0]
    driver = deletion.inputs.astype(int) == ids_of(model, DRIVER)
    has_driver = driver.any(axis=1)
    np.testing.assert_allclose(deletion.scores[driver],
                               (deletion.predictions[:, 0] - p_without)[has_driver], atol=1e-5)
    assert (p_without[disease] < 0.5).all()


@pytest.mark.parametrize("method", ["occlusion", "integrated_gradients"])
def test_occlusion_and_integrated_gradients_agree(model, method, disease):
    result = kx.explain(model, CELLS, method, target="disease")
    driver = result.inputs.astype(int) == ids_of(model, DRIVER)
    magnitude = np.abs(result.scores)
    assert (magnitude.argmax(axis=1) == driver.argmax(axis=1))[disease].all()
    # Measured (integrated gradients, the weaker of the two): in every disease cell the driver
    # scores at least 19x the cell's next gene (at least 0.46 against at most 0.093).
    second = np.sort(magnitude[disease], axis=1)[:, -2]
    assert (magnitude[driver & disease[:, None]] > 5 * second).all()


@pytest.mark.slow
def test_script_quick_run_writes_a_loadable_model(tmp_path, quick_run):
    model_dir = quick_run("geneformer_like", tmp_path, ("cells.txt",))
    for name in ("inputs.yaml", "vocabulary.txt", "model.py"):
        assert (model_dir / name).read_bytes() == (MODEL / name).read_bytes()
    result = kx.explain(model_dir, CELLS, "deletion", target="disease")
    assert result.scores.shape == (40, 24) and np.isfinite(result.scores).all()
