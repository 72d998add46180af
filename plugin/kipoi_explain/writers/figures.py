"""The one place writers get matplotlib from."""
from __future__ import annotations


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend: writers draw files, never windows, and must
    work on machines without a display."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
