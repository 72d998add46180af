"""Attribution tracks: regions read and tiled so every base is explained once, the bigWig
(read back with pyBigWig) equal to the in-process attribution of the same bases, written in
parts as they come."""
import subprocess
import sys

import h5py
import numpy as np
import pyBigWig
import pytest

import kipoi_explain as kx
from kipoi_explain.errors import InputError
from kipoi_explain.tracks import read_regions, tile

from conftest import EXAMPLE_DIR

ROOT = EXAMPLE_DIR.parent
GENOME = EXAMPLE_DIR / "data" / "genome.fa"
MODEL = EXAMPLE_DIR / "models" / "pytorch_cnn"


def cli(*args):
    return subprocess.run([sys.executable, "-m", "kipoi_explain", *map(str, args)],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)


def test_regions_are_read_sorted_and_merged(tmp_path):
    bed = tmp_path / "r.bed"
    bed.write_text("chr2\t100\t300\tb\nchr1\t500\t700\ta\t0\t-\nchr1\t650\t900\tc\n"
                   "chr1\t900\t950\td\n")
    regions = read_regions(GENOME, bed=bed)
    assert [(r.chrom, r.start, r.end) for r in regions] == [("chr1", 500, 950),
                                                           ("chr2", 100, 300)]
    assert all(r.strand == "." for r in regions)
    (region,) = read_regions(GENOME, region="chr1:1,001-2,000")
    assert (region.start, region.end) == (1000, 2000)
    (whole,) = read_regions(GENOME, chrom="chr2")
    assert (whole.start, whole.end) == (0, 30000)


@pytest.mark.parametrize("kwargs, message", [
    ({}, "give the regions one way"),
    ({"region": "chr1:5-1"}, "expected 1 <= start <= end"),
    ({"region": "chr1:1-"}, "expected chr:start-end"),
    ({"chrom": "chrZ"}, "contig 'chrZ' is not in FASTA"),
    ({"region": "chr1:29000-31000"}, "past the end of contig 'chr1'"),
])
def test_bad_regions_are_named(kwargs, message):
    with pytest.raises(InputError, match=message):
        read_regions(GENOME, **kwargs)


@pytest.mark.parametrize("stride", [200, 100, 37, 1])
def test_tiles_cover_every_base_once(stride):
    regions = read_regions(GENOME, region="chr1:1-1000") + \
        read_regions(GENOME, region="chr2:29500-30000")
    tiles = tile(regions, GENOME, 200, stride)
    chroms, starts, ends = tiles.kept()
    for region in regions:
        mine = [(s, e) for c, s, e in zip(chroms, starts, ends) if c == region.chrom]
        assert mine[0][0] == region.start and mine[-1][1] == region.end
        assert all(a[1] == b[0] for a, b in zip(mine, mine[1:]))
    assert tiles.n_bases == 1000 + 501
    for window, (lo, hi) in zip(tiles.windows, tiles.keep):
        assert window.end - window.start == 200 and 0 <= window.start and window.end <= 30000
        assert 0 <= lo < hi <= 200
    # Away from the contigs' ends each window is centred on what it keeps.
    middle = [(w, k) for w, k in zip(tiles.windows, tiles.keep)
              if 200 <= w.start and w.end <= 29800]
    assert all(k[0] == (200 - stride) // 2 for _, k in middle)


def test_tiling_refuses_a_bad_stride():
    with pytest.raises(InputError, match="stride=300: expected 1 <= stride <= 200"):
        tile(read_regions(GENOME, chrom="chr1"), GENOME, 200, 300)


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    out = tmp_path_factory.mktemp("track")
    bed = out / "r.bed"
    bed.write_text("chr1\t1000\t1630\tp\nchr2\t29700\t30000\tq\n")
    proc = cli("tracks", MODEL, "--fasta", GENOME, "--bed", bed, "--n-references", 3,
               "--target", "CTCF", "--stride", 50, "--shard-size", 4, "-o", out / "t.bw",
               "--hypothetical", out / "t.h5", "--modisco", out / "modisco", "--no-progress")
    return proc, out, bed


def in_process(bed, stride=50):
    model = kx.load_model(str(MODEL))
    tiles = tile(read_regions(GENOME, bed=bed), GENOME, 200, stride)
    result = kx.explain(model, tiles.samples(), "deepshap", target="CTCF", n_references=3)
    rows = [(w.chrom, w.start + lo, w.start + hi, i, lo, hi)
            for i, (w, (lo, hi)) in enumerate(zip(tiles.windows, tiles.keep))]
    return result, rows


@pytest.mark.slow
def test_bigwig_holds_the_in_process_attribution(tracked):
    proc, out, bed = tracked
    assert proc.returncode == 0, proc.stderr
    assert "tracked 930 bases of 2 region(s) with 19 windows of 200 bases" in proc.stdout
    result, rows = in_process(bed)
    importance = result.position_importance()
    with pyBigWig.open(str(out / "t.bw")) as track:
        assert track.chroms() == {"chr1": 30000, "chr2": 30000}
        for chrom, start, end, i, lo, hi in rows:
            np.testing.assert_allclose(track.values(chrom, int(start), int(end), numpy=True),
                                       importance[i, lo:hi], rtol=1e-5, atol=1e-7)
        # Nothing outside the regions.
        assert np.isnan(track.values("chr1", 990, 1000, numpy=True)).all()
        assert track.intervals("chr2")[-1][1] == 30000


def test_hypothetical_scores_of_the_same_bases(tracked):
    _, out, bed = tracked
    result, rows = in_process(bed)
    expected = np.concatenate([result.hypothetical[i, lo:hi] for *_, i, lo, hi in rows])
    with h5py.File(out / "t.h5") as store:
        np.testing.assert_allclose(store["hypothetical"][()], expected, rtol=1e-5, atol=1e-7)
        assert store["segments/start"][0] == 1000 and store["segments/end"][-1] == 30000
    modisco = np.load(out / "modisco" / "hypothetical.npz")["arr_0"]
    onehot = np.load(out / "modisco" / "onehot.npz")["arr_0"]
    assert modisco.shape == onehot.shape == (19, 4, 50)
    # The region's last part (1600-1630) is 30 bases: the rest of its row is zeros.
    last = [k for k, row in enumerate(rows) if row[2] == 1630][0]
    assert not onehot[last, :, 30:].any() and onehot[last, :, :30].sum() == 30


@pytest.mark.slow
def test_track_refusals(tmp_path):
    proc = cli("tracks", MODEL, "--fasta", GENOME, "--chrom", "chr1", "--method", "ism",
               "-o", tmp_path / "t.bw", "--hypothetical", tmp_path / "h.h5", "--no-progress",
               "--start", 0, "--end", 2)
    assert proc.returncode == 2
    assert "method 'ism' gives no hypothetical contributions" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not list(tmp_path.iterdir())                      # nothing half-written is left
    proc = cli("tracks", MODEL, "--fasta", GENOME, "--region", "chr1:1-100", "-o",
               tmp_path / "t.txt")
    assert proc.returncode == 2 and "expected a .bw or .bigwig or .bigWig path" in proc.stderr
