"""Attribution plots and motif logos of the bundled example: logomaker's glyphs drawn as one path
per letter, genome coordinates on the axis, called motifs marked, progress per figure."""
from pathlib import Path

import numpy as np
import pytest

import kipoi_explain as kx
from kipoi_explain.errors import InputError
from kipoi_explain.sequences.genome import GenomeIntervals, read_bed
from kipoi_explain.writers import write_logos
from kipoi_explain.writers.glyphs import draw_logo, letter_outline
from kipoi_explain.writers.plot import (attribution_figure, genome_ticks, mark_spans,
                                        plot_attribution, plot_scores)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
MODEL = str(EXAMPLES / "models" / "pytorch_cnn")
FASTA = str(EXAMPLES / "data" / "genome.fa")
BED = str(EXAMPLES / "data" / "regions.bed")


@pytest.fixture(scope="module")
def quick_start():
    """The README's quick start: DeepSHAP of CTCF on the 100 example regions."""
    return kx.explain(MODEL, GenomeIntervals(FASTA, BED), method="deepshap", target="CTCF")


@pytest.fixture(scope="module")
def both_strands(tmp_path_factory):
    """The two best CTCF regions read on the + strand, then on the - strand (reverse
    complemented, with ``use_strand``)."""
    path = tmp_path_factory.mktemp("bed") / "strands.bed"
    regions = [read_bed(BED)[i] for i in (6, 4)]
    path.write_text("".join(f"{r.chrom}\t{r.start}\t{r.end}\t{r.name}{tag}\t0\t{strand}\n"
                            for strand, tag in (("+", ""), ("-", "_rc")) for r in regions))
    return kx.explain(MODEL, GenomeIntervals(FASTA, str(path), use_strand=True),
                      method="deepshap", target="CTCF")


def _panels(fig):
    """(logo, heat map) axes of each sequence drawn, top first."""
    logos = [ax for ax in fig.axes if ax.get_label() == "logo"]
    heat_maps = [ax for ax in fig.axes if ax.get_label() == "heat map"]
    assert len(logos) == len(heat_maps)
    return list(zip(logos, heat_maps))


def _close(fig):
    import matplotlib.pyplot as plt

    plt.close(fig)


@pytest.mark.slow
def test_logo_draws_logomakers_glyphs(quick_start):
    import logomaker
    import matplotlib.pyplot as plt
    import pandas as pd

    present = quick_start.inputs[6] * quick_start.position_importance()[6][:, None]
    fig, (theirs, ours) = plt.subplots(2)
    logo = logomaker.Logo(pd.DataFrame(present, columns=list("ACGT")), ax=theirs)
    assert draw_logo(ours, present) == pytest.approx(theirs.get_ylim())
    letters = {c.get_gid(): c for c in ours.collections}
    assert sorted(letters) == list("ACGT")
    for k, letter in enumerate("ACGT"):
        drawn = np.flatnonzero(present[:, k])
        glyphs = letters[letter].get_paths()[0].vertices.reshape(
            len(drawn), len(letter_outline(letter)[0]), 2)
        # The same outline at the same place and size as logomaker's patch of that glyph...
        expected = np.stack([logo.glyph_df.loc[p, letter].patch.get_path().vertices
                             for p in drawn])
        np.testing.assert_allclose(glyphs, expected, atol=1e-9)
        # ... which is as tall as the base's contribution, in its column.
        heights = glyphs[..., 1].max(axis=1) - glyphs[..., 1].min(axis=1)
        np.testing.assert_allclose(heights, np.abs(present[drawn, k]), rtol=1e-9)
        np.testing.assert_allclose(glyphs[..., 0].mean(axis=1), drawn, atol=0.3)
    _close(fig)


def test_forward_axis_is_the_genome(quick_start):
    fig = attribution_figure(quick_start, indices=[6, 4])
    for (logo, heat), i in zip(_panels(fig), (6, 4)):
        interval = quick_start.intervals[i]
        labels = [int(t.get_text().replace(",", "")) for t in heat.get_xticklabels()]
        assert len(labels) >= 4 and labels == sorted(labels)
        np.testing.assert_array_equal(np.array(labels) - interval.start, heat.get_xticks())
        assert interval.chrom in heat.get_xlabel() and str(interval) in logo.get_title()
        assert logo.get_xlim() == (-0.5, 199.5)
    _close(fig)


def test_reverse_strand_coordinates_fall_to_the_right(both_strands):
    genome = kx.from_bed(BED, FASTA, 200)  # the forward reads of the same windows
    fig = attribution_figure(both_strands, indices=[0, 2])
    (_, forward), (_, reverse) = _panels(fig)
    interval = both_strands.intervals[2]
    assert interval.reverse and not both_strands.intervals[0].reverse
    assert "reverse complement" in reverse.get_xlabel()
    assert "reverse complement" not in forward.get_xlabel()
    labels = np.array([int(t.get_text().replace(",", "")) for t in reverse.get_xticklabels()])
    positions = reverse.get_xticks().astype(int)
    assert np.all(np.diff(labels) < 0)
    np.testing.assert_array_equal(labels, interval.end - 1 - positions)
    # The base drawn at each tick is the complement of the genome's base at the label.
    row = [i for i, r in enumerate(read_bed(BED)) if r.start == interval.start][0]
    offsets = labels - interval.start
    np.testing.assert_array_equal(both_strands.inputs[2][positions],
                                  genome.onehot[row][offsets][:, ::-1])
    _close(fig)


def test_genome_ticks_stay_in_the_window(both_strands):
    for interval in both_strands.intervals:
        positions, coordinates = genome_ticks(interval, 50, 120)
        assert len(positions) >= 3 and np.all(np.diff(positions) > 0)
        assert positions.min() >= 50 and positions.max() < 120
        first, stop = interval.to_genome(50, 120)
        assert coordinates.min() >= first and coordinates.max() < stop


def test_sequences_without_intervals_keep_positions(quick_start):
    import dataclasses

    plain = dataclasses.replace(quick_start, intervals=None)
    fig = attribution_figure(plain, indices=[6])
    [(logo, heat)] = _panels(fig)
    assert heat.get_xlabel() == "position" and "chr1" not in logo.get_title()
    ticks = [t for t in heat.get_xticks() if -0.5 <= t <= 199.5]
    assert ticks and all(float(t).is_integer() for t in ticks)
    _close(fig)


def test_long_sequence_draws_the_window_around_its_peak(quick_start):
    fig = attribution_figure(quick_start, indices=[6], window=50)
    [(logo, heat)] = _panels(fig)
    lo, hi = (round(x + 0.5) for x in logo.get_xlim())
    assert hi - lo == 50
    peak = int(np.argmax(np.abs(quick_start.position_importance()[6])))
    assert lo <= peak < hi
    start = quick_start.intervals[6].start
    assert f"chr1:{start + lo}-{start + hi}, 50 of 200 bp" in logo.get_title()
    assert heat.images[0].get_array().shape == (4, 50)
    _close(fig)


def test_hits_are_marked_where_they_were_called(quick_start):
    hits = kx.hits(MODEL, GenomeIntervals(FASTA, BED), motifs="jaspar", motif_ids=["CTCF"],
                   method="deepshap", target="CTCF")
    assert len(hits)
    # The hits and their BED-like table name the same spans.
    spans = mark_spans(hits, quick_start)
    from_table = mark_spans(hits.table(), quick_start)
    assert sorted(map(tuple, spans.to_numpy())) == sorted(map(tuple, from_table.to_numpy()))
    drawn = sorted(set(spans.seq))[:3]
    fig = attribution_figure(quick_start, indices=drawn, marks=hits)
    for (logo, _), i in zip(_panels(fig), drawn):
        called = spans[spans.seq == i]
        shaded = sorted((p.get_x(), p.get_x() + p.get_width()) for p in logo.patches)
        assert shaded == sorted(zip(called.start - 0.5, called.end - 0.5))
        assert [t.get_text() for t in logo.texts] == ["CTCF"] * len(called)
    _close(fig)
    # Hits of other sequences are named, not drawn at a wrong place.
    table = hits.table()
    table.loc[0, "sequence"] = "elsewhere"
    with pytest.raises(InputError, match="marks: hits on sequence\\(s\\) 'elsewhere'"):
        mark_spans(table, quick_start)


def test_seqlets_are_marked_with_their_best_match(quick_start):
    called = kx.seqlets(quick_start)
    table = called.table
    i = int(table.seq.iloc[0])
    fig = attribution_figure(quick_start, indices=[i], marks=called)
    [(logo, _)] = _panels(fig)
    mine = table[table.seq == i]
    shaded = sorted((p.get_x(), p.get_x() + p.get_width()) for p in logo.patches)
    assert shaded == sorted(zip(mine.start - 0.5, mine.end - 0.5))
    expected = [name if group != "unmatched" else f"{name}?"
                for name, group in zip(mine.match_name, mine.group)]
    assert sorted(t.get_text() for t in logo.texts) == sorted(expected)
    _close(fig)


def test_progress_is_called_once_per_figure(quick_start, tmp_path):
    calls = []
    plot_attribution(quick_start, tmp_path / "a.png", max_sequences=3,
                     progress=lambda: calls.append("sequence"))
    assert calls == ["sequence"] * 3
    calls.clear()
    found = kx.motifs(MODEL, method="weights")
    written = write_logos(found.motifs[:4], tmp_path / "logos",
                          progress=lambda: calls.append("logo"))
    assert calls == ["logo"] * 4 and all(p.stat().st_size > 2000 for p in written)
    calls.clear()
    plot_scores(quick_start, tmp_path / "s.png", max_sequences=2,
                progress=lambda: calls.append("sample"))
    assert calls == ["sample"] * 2


@pytest.mark.slow
def test_explain_marks_seqlets_only_when_asked(tmp_path):
    from kipoi_explain.cli.main import main
    from kipoi_explain.writers.figures import pyplot

    # The first seqlet call of a process compiles tangermeme's caller (10-40 s): slow.
    bed = tmp_path / "two.bed"
    bed.write_text("".join(Path(BED).read_text().splitlines(keepends=True)[:2]))
    pictures = {}
    for name, flag in (("plain", []), ("marked", ["--mark-seqlets"])):
        assert main(["explain", MODEL, "--fasta", FASTA, "--bed", str(bed), "--method",
                     "deepshap", "--target", "CTCF", "--seed", "0", "--no-progress",
                     "-o", str(tmp_path / f"{name}.h5"), *flag]) == 0
        pictures[name] = pyplot().imread(tmp_path / f"{name}.png")
    # The same scores drawn twice; only the shaded, labelled spans differ.
    assert pictures["plain"].shape == pictures["marked"].shape
    changed = np.any(pictures["plain"] != pictures["marked"], axis=-1)
    assert 0.001 < changed.mean() < 0.5


@pytest.mark.parametrize("model, flags, message", [
    (MODEL, ["--no-plot"], "not with --no-plot"),
    (str(EXAMPLES / "models" / "gennet"), [], "whose input is no DNA"),
])
def test_mark_seqlets_without_a_dna_plot_is_refused_before_any_work(model, flags, message,
                                                                     tmp_path, capsys):
    from kipoi_explain.cli.main import main

    given = ["--sequences", str(EXAMPLES / "data" / "sequences.fa")] if model == MODEL else \
        ["--input", str(EXAMPLES / "data" / "genotypes.tsv")]
    assert main(["explain", model, *given, "--method", "saliency", "--mark-seqlets",
                 "-o", str(tmp_path / "a.h5"), *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--mark-seqlets" in err and message in err
    assert not list(tmp_path.iterdir())
