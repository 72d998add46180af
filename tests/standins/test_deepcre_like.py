"""deepcre_like (DeepCRE-class Keras CNN on promoter + N spacer + terminator flanks): the analyses
the review credits DeepCRE with must recover the planted regulatory logic.

- DeepSHAP contributions (Keras) are positive on the activator in the promoter flank and
  negative on the repressor in the terminator flank;
- seqlets extracted from the contributions (TF-MoDISco's role) match the activator in JASPAR,
  and those of the negated contributions the repressor;
- the N spacer gets little attribution (none but what shuffled references put there).
"""
import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import kipoi_explain as kx

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "examples" / "models" / "standins" / "deepcre_like"
DATA = ROOT / "examples" / "data" / "standins" / "deepcre_like"
ACTIVATOR, REPRESSOR = "MA0088", "MA0138"  # ZNF143, REST
SPACER = slice(150, 170)


@pytest.fixture(scope="module")
def model():
    return kx.load_model(MODEL)


@pytest.fixture(scope="module")
def seqs():
    # N is DeepCRE's all-zero row, not the default uniform 0.25.
    return kx.from_fasta(DATA / "sequences.fa", ambiguous="zeros")


@pytest.fixture(scope="module")
def sites():
    return pd.read_csv(DATA / "sites.tsv", sep="\t")


@pytest.fixture(scope="module")
def deepshap(model, seqs):
    return kx.explain(model, seqs, "deepshap", n_references=10)


def site_sums(deepshap, seqs, sites, kind, role):
    """Summed position importance over the ``role`` site of every ``kind`` sequence."""
    importance = deepshap.position_importance()
    sums = []
    for i, name in enumerate(seqs.names):
        if name.startswith(f"{kind}_"):
            site = sites[(sites.sequence == name) & (sites.role == role)].iloc[0]
            sums.append(importance[i, site.start:site.end].sum())
    return np.array(sums)


def test_activator_contributes_positively_and_repressor_negatively(deepshap, seqs, sites):
    activator = site_sums(deepshap, seqs, sites, "both", "activator")
    repressor = site_sums(deepshap, seqs, sites, "both", "repressor")
    print(f"on {len(activator)} sequences with both: activator site sums {activator.min():.3f}"
          f"..{activator.max():.3f}, repressor site sums {repressor.min():.3f}.."
          f"{repressor.max():.3f}")
    assert activator.min() > 0 and repressor.max() < 0
    typical = np.median(np.abs(np.concatenate([activator, repressor])))
    # Decoys (each motif in the other flank) do nothing.
    decoys = np.concatenate([site_sums(deepshap, seqs, sites, "decoys", role)
                             for role in ("activator", "repressor")])
    print(f"decoy site |sum| max {np.abs(decoys).max():.3f}, median effective |sum| "
          f"{typical:.3f}")
    assert np.abs(decoys).max() < 0.25 * typical


@pytest.mark.slow
def test_seqlets_recover_activator_and_repressor(deepshap):
    positive = kx.seqlets(deepshap)
    # Seqlets are called on positive importance; the repressor's lowers the prediction, so it is
    # called on the negated contributions, as TF-MoDISco calls negative patterns.
    negated = kx.seqlets(dataclasses.replace(deepshap, scores=-deepshap.scores,
                                             hypothetical=-deepshap.hypothetical))
    for called, base_id in ((positive, ACTIVATOR), (negated, REPRESSOR)):
        top = called.groups[0]
        significant = [m.id.split(".")[0] for m in top.matches if m.q_value < 0.05]
        print(f"{base_id}: largest group {top.name} ({top.n_sites} seqlets), significant "
              f"matches {[f'{m.id} {m.name}' for m in top.matches if m.q_value < 0.05]}")
        # ZNF143's JASPAR motif is near-identical to its paralog ZNF76's, so either may rank
        # first; the planted motif must be among the significant matches.
        assert base_id in significant


def test_n_spacer_gets_little_attribution(deepshap):
    """The spacer holds no bases, so only references with bases there can give it any: the
    dinucleotide shuffles move the N block (they keep its length, not its place). Per position
    it must get far less than the flanks."""
    magnitude = np.abs(deepshap.scores).sum(axis=-1)
    spacer = magnitude[:, SPACER].mean()
    flanks = np.delete(magnitude, np.r_[SPACER], axis=1).mean()
    print(f"mean |DeepSHAP| per position: spacer {spacer:.2e}, flanks {flanks:.2e}")
    assert spacer < 0.3 * flanks


@pytest.mark.slow
def test_quick_run_writes_the_same_data_and_a_loadable_model(tmp_path, seqs, quick_run):
    quick = kx.load_model(quick_run("deepcre_like", tmp_path, ("sequences.fa", "sites.tsv")))
    assert list(quick.output_names) == ["high_expression"]
    assert quick.predict(seqs.onehot[:3]).shape == (3, 1)
