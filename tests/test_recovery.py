"""The example models were trained on planted JASPAR motifs: attributions must find them.

On the positive regions, the mean per-sequence AUROC of position importance against planted
motif positions must reach 0.8 for ISM and DeepSHAP, for the PyTorch and the Keras model.
"""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import kipoi_explain as kx

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def positives():
    seqs = kx.from_bed(EXAMPLES / "data" / "regions.bed", EXAMPLES / "data" / "genome.fa", 200)
    sites = pd.read_csv(EXAMPLES / "data" / "planted_sites.tsv", sep="\t")
    keep = [i for i, name in enumerate(seqs.names) if name in set(sites.region)]
    mask = np.zeros((len(keep), 200), dtype=bool)
    motifs = []
    for row, i in enumerate(keep):
        planted = sites[sites.region == seqs.names[i]]
        for site in planted.itertuples():
            mask[row, site.window_start:site.window_end] = True
        motifs.append(tuple(sorted(planted.motif_name)))
    return seqs.onehot[keep], mask, motifs


def mean_auroc(importance, mask):
    from sklearn.metrics import roc_auc_score

    return float(np.mean([roc_auc_score(m, s) for s, m in zip(importance, mask)]))


@pytest.mark.slow
@pytest.mark.parametrize("model_name", ["pytorch_cnn", "keras_cnn"])
@pytest.mark.parametrize("method, options", [("ism", {}), ("deepshap", {"n_references": 20})])
def test_planted_motifs_are_recovered(positives, model_name, method, options):
    """Each region is explained for the outputs of the motifs planted in it."""
    x, mask, motifs = positives
    model = kx.load_model(EXAMPLES / "models" / model_name)
    importance = np.zeros(mask.shape)
    for target in set(motifs):
        rows = [i for i, m in enumerate(motifs) if m == target]
        result = kx.explain(model, x[rows], method, target=list(target), **options)
        importance[rows] = result.position_importance()
    auroc = mean_auroc(importance, mask)
    print(f"{model_name} {method}: mean per-sequence AUROC {auroc:.3f} over {len(mask)} positives")
    assert auroc >= 0.8
