"""``modisco``: TF-MoDISco (modisco-lite) on our attributions, patterns matched to JASPAR.

The example CNN was trained on sequences with planted CTCF, HNF4A and CEBPB sites; its
DeepSHAP attributions of the bundled windows must give back those three motifs as patterns,
each pattern's seqlets lying on planted sites of the TF it matches.
"""
import contextlib
import io
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

import kipoi_explain as kx
from kipoi_explain import codec
from kipoi_explain.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "examples" / "data"
MODEL = ROOT / "examples" / "models" / "pytorch_cnn"
SEQUENCES = DATA / "sequences.fa"
PLANTED = ("CTCF", "HNF4A", "CEBPB")


@pytest.fixture(scope="module")
def found():
    return kx.modisco(MODEL, SEQUENCES, target="all")


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """The command on the same windows, read from the genome with --bed."""
    out = tmp_path_factory.mktemp("modisco") / "out"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = main(["modisco", MODEL, "--fasta", DATA / "genome.fa", "--bed",
                       DATA / "regions.bed", "--target", "all", "--no-progress", "-o", out])
    return status, out, printed.getvalue()


def planted_sites() -> dict:
    """``(sequence index, TF) -> [(start, end)]`` of the planted sites, in window coordinates."""
    names = kx.from_fasta(SEQUENCES).names
    sites = pd.read_csv(DATA / "planted_sites.tsv", sep="\t")
    where = {}
    for row in sites.itertuples():
        where.setdefault((names.index(row.region), row.motif_name), []).append(
            (row.window_start, row.window_end))
    return where


@pytest.mark.slow
def test_planted_motifs_come_back_as_patterns_matching_their_tf(found):
    significant = {m.best.name: m for m in found.patterns
                   if m.best is not None and m.best.q_value <= 0.05}
    # All three planted motifs are found (at q ~ 1e-10), and nothing else matches JASPAR.
    assert sorted(significant) == sorted(PLANTED)
    assert len(found) == 3
    for name, motif in significant.items():
        assert motif.best.q_value < 1e-6
        assert motif.n_sites >= 20        # modisco-lite's smallest final cluster
        assert motif.name.startswith("pos_patterns.")   # they raise the prediction


@pytest.mark.slow
def test_each_pattern_s_seqlets_lie_on_planted_sites_of_its_tf(found, tmp_path):
    sites = planted_sites()
    path = tmp_path / "modisco_results.h5"
    path.write_bytes(found.hdf5.tobytes())
    on_own = []
    with h5py.File(path, "r") as h5:
        for motif in found.patterns:
            seqlets = h5[motif.name.replace(".", "/")]["seqlets"]
            for i, start, end in zip(seqlets["example_idx"][:], seqlets["start"][:],
                                     seqlets["end"][:]):
                overlaps = {tf for tf in PLANTED for site_start, site_end in
                            sites.get((int(i), tf), []) if start < site_end and site_start < end}
                # A seqlet off every planted site is a chance site in the random background;
                # one on another TF's site only would be a wrong pattern.
                assert overlaps <= {motif.best.name} or motif.best.name in overlaps
                on_own.append((motif.name, motif.best.name in overlaps))
    table = pd.DataFrame(on_own, columns=["pattern", "on_site"])
    # Measured: 97 of 105 seqlets (CTCF's pattern 26 of 30) on a planted site of their TF.
    assert table["on_site"].mean() >= 0.9
    assert table.groupby("pattern")["on_site"].mean().min() >= 0.8


@pytest.mark.slow
def test_the_result_travels_through_the_codec(found):
    back = codec.decode(codec.encode(found))
    assert isinstance(back, kx.ModiscoResult)
    np.testing.assert_array_equal(back.hdf5, found.hdf5)
    assert [m.best.id for m in back.patterns] == [m.best.id for m in found.patterns]
    for ours, theirs in zip(back.cwms, found.cwms):
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.slow
def test_cli_writes_modisco_lite_s_file_and_the_report(cli_run, found, tmp_path):
    status, out, printed = cli_run
    assert status == 0
    table = pd.read_csv(out / "patterns.tsv", sep="\t")
    assert sorted(table.loc[table["significant"], "match_name"]) == sorted(PLANTED)
    assert list(table["n_seqlets"]) == [m.n_sites for m in found.patterns]
    # The same windows read from the genome give the library's patterns.
    with h5py.File(out / "modisco_results.h5", "r") as h5:
        assert h5.attrs["window_size"] == 200
        for motif, cwm in zip(found.patterns, found.cwms):
            group = h5[motif.name.replace(".", "/")]
            assert {"sequence", "contrib_scores", "hypothetical_contribs", "seqlets"} <= \
                set(group)
            start, end = motif.details["span"]
            np.testing.assert_allclose(group["contrib_scores"][start:end], cwm, rtol=1e-5)
    # modisco-lite's own tools read it.
    from modiscolite.report import report_motifs

    report_motifs(out / "modisco_results.h5", tmp_path / "lite", "./", None, False)
    assert len(list((tmp_path / "lite" / "trimmed_logos").glob("*.cwm.fwd.png"))) == 3
    text = (out / "patterns.meme").read_text()
    assert text.count("MOTIF pos_patterns.pattern_") == 3 and "CTCF" in text
    assert len(list((out / "logos").glob("*.png"))) == 6
    report = (out / "report.html").read_text()
    assert report.count("data:image/png;base64,") == 6
    assert "http://" not in report and "https://" not in report and "pytorch_cnn" in report
    # One summary line, then a line per matched pattern and per file written.
    summary = printed.splitlines()[0]
    assert summary.startswith("3 TF-MoDISco patterns (105 seqlets) in 100 sequences of "
                              "'pytorch_cnn' (deepshap, target CTCF+HNF4A+CEBPB); 3 match")


def test_too_few_sequences_give_an_empty_valid_result(tmp_path, capsys):
    out = tmp_path / "few"
    few = tmp_path / "few.fa"
    few.write_text(">" + ">".join(SEQUENCES.read_text().split(">")[1:4]))
    assert main(["modisco", MODEL, "--sequences", few, "--target", "all", "--no-progress",
                 "-o", out]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("0 TF-MoDISco patterns (0 seqlets) in 3 sequences")
    assert "no patterns" in printed
    assert pd.read_csv(out / "patterns.tsv", sep="\t").empty
    with h5py.File(out / "modisco_results.h5", "r") as h5:
        assert "pos_patterns" not in h5 and h5.attrs["window_size"] == 200
    assert "No patterns were found" in (out / "report.html").read_text()


def test_ism_is_refused_in_one_line(tmp_path, capsys):
    with pytest.raises(kx.InputError, match="method 'ism' gives no hypothetical"):
        kx.modisco(MODEL, SEQUENCES, method="ism")
    assert main(["modisco", MODEL, "--sequences", SEQUENCES, "--method", "ism",
                 "-o", tmp_path / "ism"]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "method 'ism'" in error
    assert not (tmp_path / "ism").exists()


def test_an_unwritable_output_is_refused_before_the_model_is_loaded(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    assert main(["modisco", tmp_path / "no_such_model", "--sequences", SEQUENCES,
                 "-o", blocker / "out"]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "nothing can be written under it" in error
