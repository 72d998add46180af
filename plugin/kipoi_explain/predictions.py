"""Predictions: what the model outputs for some samples, with what they are of."""
from __future__ import annotations

from ._version import __version__
from .prepare import prepare
from .results import Prediction

#: Suffixes of the two files a prediction is written to: a table, or HDF5.
TABLE, HDF5 = ".tsv", ".h5"


def predict(model, seqs, batch_size: int | None = None, progress: bool = False,
            ambiguous: str = "uniform", inputs: dict | None = None) -> Prediction:
    """The model's outputs for some samples.

    Parameters
    ----------
    model : Model or anything :func:`~kipoi_explain.load_model` accepts
    seqs
        The samples: anything :func:`~kipoi_explain.explain` takes.
    batch_size : int, optional
        Rows per block (default: the model's).
    progress : bool
        Show a progress bar.
    ambiguous : {"uniform", "zeros", "error"}
        Encoding of IUPAC codes such as N in string input.
    inputs : dict of str to array or path, optional
        The model's extra inputs by name, one row per sample.

    Returns
    -------
    Prediction
        ``.predictions`` ``(N, *output_shape)``, with the samples' names and intervals.
    """
    work = prepare(model, seqs, what="predict", inputs=inputs, batch_size=batch_size,
                   progress=progress, ambiguous=ambiguous)
    model = work.model
    return Prediction(model.predict(work.x, work.batch_size, progress),
                      list(model.output_names), work.samples.names, work.samples.intervals,
                      {"ambiguous": ambiguous, "batch_size": work.batch_size,
                       "version": __version__}, model.describe())
