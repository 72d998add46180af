"""The bundled example transformer: its attention, gradients and ISM find the motif pair it was
trained on (examples/train_transformer.py: the label is a CTCF and an HNF4A site 50-200 bp
apart, farther than any token's receptive field, so only attention can join them)."""
import numpy as np
import pandas as pd
import pytest

import kipoi_explain as kx
from conftest import EXAMPLE_DIR

MODEL = EXAMPLE_DIR / "models" / "pytorch_transformer"
PAIRS = [("CTCF", "HNF4A"), ("HNF4A", "CTCF")]


@pytest.fixture(scope="module")
def model():
    return kx.load_model(MODEL)


@pytest.fixture(scope="module")
def positives():
    """The 20 sequences holding the pair, and each one's site of each motif."""
    seqs = kx.from_fasta(EXAMPLE_DIR / "data" / "pair_sequences.fa")
    keep = [i for i, name in enumerate(seqs.names) if name.startswith("pos_")]
    assert len(keep) == 20
    sites = pd.read_csv(EXAMPLE_DIR / "data" / "pair_sites.tsv", sep="\t")
    spans = {(row.record, row.motif_name): (row.start, row.end) for row in sites.itertuples()}
    return kx.SequenceSet(seqs.onehot[keep], [seqs.names[i] for i in keep]), spans


def test_the_pair_is_what_the_model_predicts(model):
    seqs = kx.from_fasta(EXAMPLE_DIR / "data" / "pair_sequences.fa")
    pred = model.predict(seqs.onehot)[:, 0]
    positive = np.array([name.startswith("pos_") for name in seqs.names])
    assert pred[positive].min() > pred[~positive].max()


@pytest.mark.parametrize("source, partner", PAIRS)
def test_attention_of_a_motif_points_at_its_partner(model, positives, source, partner):
    seqs, spans = positives
    centres = np.array([sum(spans[name, source]) // 2 for name in seqs.names])
    result = kx.attention(model, seqs, reduce="mean", query=centres)
    assert result.maps.shape == (20, 1, 4, 75, 75)
    assert result.reduced.shape == (20, 75)
    keys = result.key_positions.spans
    ratios, beats_all = [], []
    for row, name in zip(result.reduced, seqs.names):
        def overlapping(site):
            return np.flatnonzero((keys[:, 0] < site[1]) & (keys[:, 1] > site[0]))

        partner_tokens = overlapping(spans[name, partner])
        background = np.setdiff1d(np.arange(len(row)),
                                  np.union1d(partner_tokens, overlapping(spans[name, source])))
        ratios.append(row[partner_tokens].max() / row[background].mean())
        beats_all.append(row[partner_tokens].max() > row[background].max())
    # Measured: every sequence's partner token draws >= 2.2x the mean background attention;
    # it beats every background token in 18 (CTCF -> HNF4A) and 20 (HNF4A -> CTCF) of 20.
    assert min(ratios) > 2
    assert np.median(ratios) > 5
    assert sum(beats_all) >= 16


def _destroyed(x, names, spans, motif, seed=0):
    """``x`` with ``motif``'s site of each sequence replaced by random bases."""
    rng = np.random.default_rng(seed)
    out = x.copy()
    for k, name in enumerate(names):
        start, end = spans[name, motif]
        out[k, start:end] = np.eye(4, dtype=np.float32)[rng.integers(0, 4, end - start)]
    return out


@pytest.mark.slow
@pytest.mark.parametrize("method", ["ism", "grad_x_input"])
@pytest.mark.parametrize("source, partner", PAIRS)
def test_destroying_a_motif_changes_importance_at_its_partner(model, positives, method,
                                                              source, partner):
    seqs, spans = positives
    x = seqs.onehot
    intact = kx.explain(model, x, method, target="pair").position_importance()
    without = kx.explain(model, _destroyed(x, seqs.names, spans, source), method,
                         target="pair").position_importance()
    change = np.abs(intact - without)
    ratios = []
    for k, name in enumerate(seqs.names):
        background = np.ones(x.shape[1], dtype=bool)
        for motif in (source, partner):
            start, end = spans[name, motif]
            background[start:end] = False
        start, end = spans[name, partner]
        ratios.append(change[k, start:end].mean() / change[k, background].mean())
    # Measured medians: ISM 14 (CTCF -> HNF4A) and 900 (HNF4A -> CTCF); gradient x input 5.5
    # and 35. The partner's importance depends on the motif, the background's does not.
    assert np.median(ratios) > 4
    assert sum(r > 1.2 for r in ratios) >= 17
