"""deepliver_like (DeepLiver-class liver enhancer CNN, enhancer = HNF4A AND CEBPB): the analyses
the review credits DeepLiver with must recover the planted grammar.

- DeepSHAP (DeepExplainer) contributions of an enhancer sit on its two planted sites;
- seqlets called from those contributions group under HNF4A and CEBPB in JASPAR (TomTom);
- in-silico mutagenesis of a region (``kx.screen``): destroying either site of an enhancer
  drops the prediction, shuffling background does not.
"""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import kipoi_explain as kx

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "examples" / "models" / "standins" / "deepliver_like"
DATA = ROOT / "examples" / "data" / "standins" / "deepliver_like"
PLANTED = {"MA1494": "HNF4A", "MA0466": "CEBPB"}


@pytest.fixture(scope="module")
def model():
    return kx.load_model(MODEL)


@pytest.fixture(scope="module")
def enhancers(model):
    """The evaluation enhancers the model calls (p > 0.5; all but one of 20), one-hot, and the
    sites of each: the analyses explain what the model predicts."""
    seqs = kx.from_fasta(DATA / "sequences.fa")
    sites = pd.read_csv(DATA / "sites.tsv", sep="\t")
    called = model.predict(seqs.onehot)[:, 0] > 0.5
    rows = [i for i, name in enumerate(seqs.names) if name.startswith("enhancer_") and called[i]]
    assert len(rows) >= 18
    return seqs.onehot[rows], [sites[sites.sequence == seqs.names[i]] for i in rows]


@pytest.fixture(scope="module")
def deepshap(model, enhancers):
    return kx.explain(model, enhancers[0], "deepshap", n_references=20)


def test_grammar_is_learned(model):
    """Enhancers score high, single-motif decoys and background low (else nothing below means
    anything)."""
    from sklearn.metrics import roc_auc_score

    seqs = kx.from_fasta(DATA / "sequences.fa")
    predicted = model.predict(seqs.onehot)[:, 0]
    enhancer = np.array([name.startswith("enhancer_") for name in seqs.names])
    auroc = roc_auc_score(enhancer, predicted)
    print(f"AUROC {auroc:.3f}; median enhancer {np.median(predicted[enhancer]):.3f}, "
          f"median decoy or background {np.median(predicted[~enhancer]):.3f}")
    assert auroc > 0.95
    assert np.median(predicted[enhancer]) > 0.9 and np.median(predicted[~enhancer]) < 0.1


def test_deepshap_mass_is_on_both_sites(deepshap, enhancers):
    importance = np.clip(deepshap.position_importance(), 0, None)
    shares = []
    for row, planted in zip(importance, enhancers[1]):
        shares.append([row[s.start:s.end].sum() / row.sum() for s in planted.itertuples()])
    shares = np.array(shares)
    print(f"positive DeepSHAP mass per site: min {shares.min():.3f}; on both sites: min "
          f"{shares.sum(axis=1).min():.3f}, mean {shares.sum(axis=1).mean():.3f} "
          f"(sites cover {sum(len(p) for p in enhancers[1])} / {importance.size} positions)")
    assert shares.sum(axis=1).min() > 0.6
    assert shares.min() > 0.15


@pytest.mark.slow
def test_seqlets_from_contributions_recover_hnf4a_and_cebpb(deepshap):
    called = kx.seqlets(deepshap)
    groups = {motif.details["group"].split(".")[0]: motif for motif in called.groups}
    for base_id, name in PLANTED.items():
        group = groups[base_id]
        print(f"{name}: {group.n_sites} seqlets, group PFM best {group.best.id} "
              f"{group.best.name} q={group.best.q_value:.2g}")
        assert group.best.id.split(".")[0] == base_id and group.best.q_value < 0.05
        assert group.n_sites >= 5


def test_destroying_either_site_drops_the_prediction(model, enhancers):
    x, planted = enhancers
    screen = kx.screen(model, x, window=20, stride=5, perturbation="shuffle", n_shuffles=4)
    site_drops, background = [], []
    for effects, sites in zip(screen.effects, planted):
        covers = [(screen.starts <= s.start) & (screen.ends >= s.end) for s in sites.itertuples()]
        touches = np.zeros(len(effects), dtype=bool)
        for s in sites.itertuples():
            touches |= (screen.starts < s.end) & (screen.ends > s.start)
        site_drops.append([effects[c].min() for c in covers])
        background.append(effects[~touches])
    site_drops, background = np.array(site_drops).ravel(), np.concatenate(background)
    dropped = np.mean(site_drops < -0.4)
    quiet = np.mean(np.abs(background) < 0.1)
    print(f"sites whose shuffling drops the prediction by > 0.4: {dropped:.3f} of "
          f"{len(site_drops)} (median drop {np.median(site_drops):.3f}); background windows "
          f"changing it by < 0.1: {quiet:.3f} (max |change| {np.abs(background).max():.3f})")
    assert dropped >= 0.85 and quiet >= 0.95


@pytest.mark.slow
def test_quick_run_writes_the_same_data_and_a_loadable_model(tmp_path, quick_run):
    quick = kx.load_model(quick_run("deepliver_like", tmp_path, ("sequences.fa", "sites.tsv")))
    assert list(quick.output_names) == ["liver_enhancer"]
    assert quick.predict(kx.from_fasta(DATA / "sequences.fa").onehot[:3]).shape == (3, 1)
