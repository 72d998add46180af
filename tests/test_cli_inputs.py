"""``kipoi-explain explain`` and ``screen`` on models of several inputs (``--extra-input NAME=FILE``)
and of token ids (``--input``), in process and with ``--remote``: the files hold the library's
results, and misuse is a one-line error with exit status 2."""
import numpy as np
import pytest
from PIL import Image

import kipoi_explain as kx
from kipoi_explain.cli.main import main
from kipoi_explain.writers import read_hdf5

from conftest import serve
from test_service_inputs import VOCAB, cells, multi_dir, samples, token_dir  # noqa: F401 (fixtures)


@pytest.fixture(scope="module")
def files(tmp_path_factory, multi_dir):  # noqa: F811
    root = tmp_path_factory.mktemp("cli_inputs")
    x, extra = samples(3)
    fasta = root / "seqs.fa"
    fasta.write_text("".join(f">s{i}\n{''.join('ACGT'[b] for b in row.argmax(-1))}\n"
                             for i, row in enumerate(x)))
    for name, values in extra.items():
        np.save(root / f"{name}.npy", values)
    ids = cells(3)
    text = root / "cells.txt"
    text.write_text("".join(f"cell{i}\t{' '.join(VOCAB[t] for t in row if t)}\n"
                            for i, row in enumerate(ids)))
    return {"root": root, "x": x, "extra": extra, "fasta": fasta, "ids": ids, "cells": text}


@pytest.fixture(scope="module")
def server(multi_dir, token_dir):  # noqa: F811
    running = serve(models={"multi": multi_dir, "ranks": token_dir})
    yield running
    running.stop(0)


def run(capsys, *args):
    status = main(list(map(str, args)))
    out, err = capsys.readouterr()
    return status, out, err


def input_flags(files):
    return ["--extra-input", f"signal={files['root'] / 'signal.npy'}",
            "--extra-input", f"covariates={files['root'] / 'covariates.npy'}"]


@pytest.mark.slow
@pytest.mark.parametrize("remote", [False, True])
def test_explain_with_extra_inputs_writes_their_scores(capsys, files, multi_dir, server,  # noqa: F811
                                                       tmp_path, remote):
    out = tmp_path / "gxi.h5"
    where = ["--remote", f"127.0.0.1:{server.port}", "multi"] if remote else [multi_dir]
    status, stdout, err = run(capsys, "explain", *where, "--sequences", files["fasta"],
                              "--method", "grad_x_input", "--target", "plus",
                              *input_flags(files), "-o", out)
    assert status == 0, err
    result = read_hdf5(out)
    expected = kx.explain(kx.load_model(multi_dir), files["x"], "grad_x_input", target="plus",
                          inputs=files["extra"])
    np.testing.assert_allclose(result.scores, expected.scores, rtol=1e-6, atol=1e-7)
    for name in ("signal", "covariates"):
        np.testing.assert_allclose(result.extra_scores[name], expected.extra_scores[name],
                                   rtol=1e-6, atol=1e-7)
    assert Image.open(out.with_suffix(".png")).size[0] > 100


def test_screen_with_extra_inputs(capsys, files, multi_dir, tmp_path):  # noqa: F811
    out = tmp_path / "screen.tsv"
    status, _, err = run(capsys, "screen", multi_dir, "--sequences", files["fasta"],
                         "--window", 10, "--perturbation", "mask", "--target", "minus",
                         *input_flags(files), "-o", out, "--no-plot")
    assert status == 0, err
    effects = np.loadtxt(out, skiprows=1, usecols=-1, delimiter="\t", dtype=str)
    expected = kx.screen(kx.load_model(multi_dir), files["x"], window=10, perturbation="mask",
                         target="minus", inputs=files["extra"])
    np.testing.assert_allclose(effects.astype(float)[:6],
                               expected.effects.reshape(-1)[:6], rtol=1e-4, atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("remote", [False, True])
def test_explain_tokens_from_a_text_file(capsys, files, token_dir, server, tmp_path,  # noqa: F811
                                         remote):
    out = tmp_path / "deletion.h5"
    where = ["--remote", f"127.0.0.1:{server.port}", "ranks"] if remote else [token_dir]
    status, stdout, err = run(capsys, "explain", *where, "--input", files["cells"],
                              "--method", "deletion", "--target", "disease", "-o", out)
    assert status == 0, err
    assert "explained 3 samples" in stdout
    result = read_hdf5(out)
    np.testing.assert_array_equal(result.inputs, files["ids"])
    expected = kx.explain(kx.load_model(token_dir), files["ids"], "deletion", target="disease")
    np.testing.assert_allclose(result.scores, expected.scores, rtol=1e-6, atol=1e-7)
    assert result.names == ["cell0", "cell1", "cell2"]
    assert Image.open(out.with_suffix(".png")).size[0] > 100


def test_misuse_is_a_one_line_error(capsys, files, multi_dir, token_dir, tmp_path):  # noqa: F811
    out = tmp_path / "x.h5"
    status, _, err = run(capsys, "explain", multi_dir, "--sequences", files["fasta"],
                         "--method", "saliency", "--extra-input", "signal", "-o", out)
    assert status == 2 and "--extra-input 'signal': expected NAME=FILE" in err
    status, _, err = run(capsys, "explain", multi_dir, "--sequences", files["fasta"],
                         "--method", "saliency", "--extra-input",
                         f"signal={files['root'] / 'signal.npy'}", "-o", out)
    assert status == 2 and "missing 'covariates'" in err
    status, _, err = run(capsys, "explain", token_dir, "--sequences", files["fasta"],
                         "--method", "deletion", "-o", out)
    assert status == 2 and "give its samples with --input" in err
    status, _, err = run(capsys, "explain", token_dir, "--input", files["cells"],
                         "--method", "deepshap", "-o", out)
    assert status == 2 and "deepshap" in err


def test_bins_and_reduce_reach_the_target(capsys, files, multi_dir, tmp_path):  # noqa: F811
    out = tmp_path / "bins.h5"
    status, stdout, err = run(capsys, "explain", multi_dir, "--sequences", files["fasta"],
                              "--method", "saliency", "--target", "all", "--bins",
                              "plus=0,2;minus=3,6", "--reduce", "mean", *input_flags(files),
                              "-o", out, "--no-plot")
    assert status == 0, err
    expected = kx.explain(kx.load_model(multi_dir), files["x"], "saliency", target="all",
                          bins={"plus": (0, 2), "minus": (3, 6)}, reduce="mean",
                          inputs=files["extra"])
    result = read_hdf5(out)
    assert result.target == expected.target and len(result.target["names"]) == 5
    np.testing.assert_allclose(result.scores, expected.scores, rtol=1e-6, atol=1e-8)
    assert "plus[0]+...+minus[5] (5 outputs, mean)" in stdout


def test_parse_bins():
    from kipoi_explain.commands.kinds import BINS

    parse_bins = BINS.parse

    assert parse_bins("10,20") == (10, 20)
    assert parse_bins("4,8:10,14") == ((4, 8), (10, 14))
    assert parse_bins("CAGE=16,17; DNase=3,5") == {"CAGE": (16, 17), "DNase": (3, 5)}
    for bad in ("10", "a,b", "1,2:3,4:5,6", "=1,2"):
        with pytest.raises(Exception, match="expected|at most"):
            parse_bins(bad)
