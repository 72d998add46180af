"""Labels for ``constraint_cost`` read from a table (the command line's labels file)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError

#: Cell values (case-insensitive, after stripping spaces) that mean "no label".
MISSING = frozenset({"", "na", "nan", "n/a"})


def read_labels(path, names, output_names) -> dict[str, np.ndarray]:
    """Read true values per sequence and output from a TSV (or ``.csv``) file with a header.

    With a ``name`` column, rows are matched to the sequences by name (every sequence needs
    exactly one row; rows for other names are ignored); without one, rows are the sequences in
    input order. Every other column is an output name; its cells are numbers, with an empty cell
    or ``NA`` for a missing label.

    Parameters
    ----------
    path : str or Path
    names : list of str
        The sequences' names, in input order.
    output_names : sequence of str
        The model's outputs.

    Returns
    -------
    dict of str to numpy.ndarray
        Per output column, ``(len(names),)`` float64 labels in sequence order, NaN where missing.

    Raises
    ------
    InputError
        For an unreadable file, an unknown column, rows that do not match the sequences, or a
        cell that is not a number (naming its line and column).
    """
    path = Path(path)
    table = _read_table(path)
    # pandas row i is line i + 2 (after the header), since blank lines are kept until here
    table.insert(0, "_line", table.index + 2)
    table = table[(table.drop(columns="_line") != "").any(axis=1)]
    columns = [c for c in table.columns if c not in ("_line", "name")]
    unknown = [c for c in columns if c not in output_names]
    if unknown:
        raise InputError(f"labels file {path}: column(s) {', '.join(map(repr, unknown))} are not "
                         f"outputs of the model; outputs are {', '.join(output_names)} "
                         "(and 'name' matches rows to sequences)")
    if not columns:
        raise InputError(f"labels file {path}: no output columns; expected a header naming "
                         f"some of {', '.join(output_names)}")
    if "name" in table.columns:
        table = _by_name(table, list(names), path)
        rows = [f"sequence {n!r} (line {line})" for n, line in zip(table["name"], table["_line"])]
    else:
        if len(table) != len(names):
            raise InputError(f"labels file {path}: {len(table)} rows; there are {len(names)} "
                             "sequences (rows are taken in sequence order; add a 'name' column "
                             "to match them by name)")
        rows = [f"line {line}" for line in table["_line"]]
    return {column: _numeric(table[column].to_numpy(), rows, column, path)
            for column in columns}


def _read_table(path: Path) -> pd.DataFrame:
    sep = "," if path.name.lower().endswith((".csv", ".csv.gz")) else "\t"
    try:
        table = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, na_filter=False,
                            skip_blank_lines=False)
    except FileNotFoundError:
        raise InputError(f"labels file {path}: not found") from None
    except pd.errors.EmptyDataError:
        raise InputError(f"labels file {path}: empty; expected a header line naming the "
                         "outputs") from None
    except pd.errors.ParserError as error:
        raise InputError(f"labels file {path}: {error}") from None
    table.columns = [str(c).strip() for c in table.columns]
    return table.apply(lambda column: column.str.strip())


def _by_name(table: pd.DataFrame, names: list[str], path: Path) -> pd.DataFrame:
    """The table's rows in the order of ``names``."""
    repeated = table["name"][table["name"].duplicated()].unique().tolist()
    if repeated:
        raise InputError(f"labels file {path}: sequence name(s) {_some(repeated)} appear on more "
                         "than one row")
    indexed = table.set_index("name", drop=False)
    missing = [n for n in dict.fromkeys(names) if n not in indexed.index]
    if missing:
        raise InputError(f"labels file {path}: no row for {len(missing)} sequence(s): "
                         f"{_some(missing)}")
    return indexed.loc[names]


def _numeric(cells: np.ndarray, rows: list[str], column: str, path: Path) -> np.ndarray:
    missing = np.array([c.lower() in MISSING for c in cells], dtype=bool)
    values = pd.to_numeric(pd.Series(cells).where(~missing), errors="coerce").to_numpy(
        dtype=np.float64)
    bad = np.flatnonzero(~missing & ~np.isfinite(values))
    if len(bad):
        raise InputError(f"labels file {path}, {rows[bad[0]]}, column {column!r}: "
                         f"{cells[bad[0]]!r} is not a number (expected a finite number, or an "
                         "empty cell or NA for a missing label)")
    return values


def _some(items: list[str], shown: int = 10) -> str:
    more = f" and {len(items) - shown} more" if len(items) > shown else ""
    return ", ".join(map(repr, items[:shown])) + more
