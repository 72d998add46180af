"""motifs.meme, matches.tsv and logos: what a user opens after `kipoi-explain motifs`."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import kipoi_explain as kx
from kipoi_explain.motif import build_motif
from kipoi_explain.motif.database import jaspar
from kipoi_explain.results import MotifMatch
from kipoi_explain.writers import motif_logo, motif_table, write_meme, write_motif_table

CTCF = "MA0139.2"


@pytest.fixture(scope="module")
def found():
    """Two motifs: CTCF's own matrix (matched) and a flat one (no match)."""
    db = jaspar()
    ctcf = build_motif("conv1/filter_0", db.pfms[db.ids.index(CTCF)], n_sites=42,
                       details={"filter": 0})
    flat = build_motif("conv1/filter_1", np.full((8, 4), 0.25), n_sites=0, details={"filter": 1})
    kx.motif.attach_matches([ctcf], db, 3)
    return [ctcf, flat]


def test_meme_round_trips_through_memelite(found, tmp_path):
    from memelite.io import read_meme

    back = read_meme(str(write_meme(found, tmp_path / "motifs.meme")))
    assert list(back) == ["conv1/filter_0 CTCF", "conv1/filter_1"]
    for motif, pfm in zip(found, back.values()):
        np.testing.assert_allclose(pfm.T, motif.pfm, atol=1e-6)
    text = (tmp_path / "motifs.meme").read_text()
    assert "nsites= 42" in text and "ALPHABET= ACGT" in text


def test_table_has_a_row_per_match_and_keeps_unmatched_motifs(found, tmp_path):
    table = pd.read_csv(write_motif_table(found, tmp_path / "matches.tsv"), sep="\t")
    ctcf = table[table.motif == "conv1/filter_0"]
    assert list(ctcf["rank"]) == [1, 2, 3]
    assert ctcf.iloc[0].match_id == CTCF and ctcf.iloc[0].match_name == "CTCF"
    assert ctcf.iloc[0].q_value < 1e-10 and (ctcf.p_value.diff().dropna() >= 0).all()
    flat = table[table.motif == "conv1/filter_1"]
    assert len(flat) == 1 and pd.isna(flat.iloc[0].match_id)
    assert set(motif_table(found).columns) >= {"motif", "match_id", "match_name", "p_value",
                                               "q_value", "filter"}


def test_logo_shows_the_aligned_match_when_significant(found, tmp_path):
    with_match = Image.open(motif_logo(found[0], tmp_path / "a.png", jaspar()))
    without = Image.open(motif_logo(found[1], tmp_path / "b.png", jaspar()))
    assert with_match.size[1] > 1.5 * without.size[1]


def test_logo_of_a_reverse_strand_match(tmp_path):
    db = jaspar()
    rc = build_motif("rc", db.pfms[db.ids.index(CTCF)][::-1, ::-1], n_sites=1)
    kx.motif.attach_matches([rc], db, 1)
    assert rc.best == MotifMatch(CTCF, "CTCF", rc.best.p_value, rc.best.q_value, 0, "-",
                                 rc.best.p_value * len(db), len(rc.pfm))
    assert Path(motif_logo(rc, tmp_path / "rc.png", db)).stat().st_size > 5000
