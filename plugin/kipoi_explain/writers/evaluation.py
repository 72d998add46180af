"""An evaluation as a JSON document (schema: ``kipoi_explain/evaluation/schema.json``), a
Markdown report with its plots beside it, and one self-contained HTML report."""
from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

import numpy as np

from ..evaluation.evaluate import CURVE_POINTS
from ..evaluation.metrics import CORRECTED, METRICS, RANDOM
from ..results import Evaluation, plain
from .report import escape, image, page, png, write_text

SCHEMA_VERSION = 1


def document(evaluation: Evaluation) -> dict:
    """The evaluation as the JSON document holds it (NaN as null)."""
    return plain({"schema_version": SCHEMA_VERSION, "model": evaluation.model,
                  "settings": evaluation.settings, "table": evaluation.table,
                  "verdict": evaluation.verdict, "cost": evaluation.cost,
                  "metrics": {name: {"title": info.title,
                                     "higher_is_better": info.higher_is_better,
                                     "definition": info.definition}
                              for name, info in METRICS.items()},
                  "curves": evaluation.curves, "names": evaluation.names,
                  "per_sequence": evaluation.per_sequence})


def schema() -> dict:
    """The JSON schema of :func:`document`."""
    return json.loads(files("kipoi_explain").joinpath("evaluation", "schema.json")
                      .read_text(encoding="utf-8"))


def write_evaluation(evaluation: Evaluation, outdir, dpi: int = 100) -> list[Path]:
    """Write ``report.json``, ``report.md`` (plots in ``plots/``) and ``report.html`` into
    ``outdir``; returns the files written."""
    outdir = Path(outdir)
    plots = outdir / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    figures = {name: png(figure, dpi) for name, figure in _figures(evaluation)}
    written = [write_text(outdir / "report.json", json.dumps(document(evaluation), indent=1))]
    for name, data in figures.items():
        (plots / f"{name}.png").write_bytes(data)
        written.append(plots / f"{name}.png")
    written.append(write_text(outdir / "report.md", _markdown(evaluation, figures)))
    written.append(write_text(outdir / "report.html", _html(evaluation, figures)))
    return written


def _number(value) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{value:.3f}"


def _tables(evaluation: Evaluation) -> dict[str, list[list[str]]]:
    """Per metric, rows of method, rank, mean, interval, n, cost; best first."""
    frame = evaluation.frame()
    frame["order"] = [list(METRICS).index(m) for m in frame["metric"]]
    frame = frame.sort_values(["order", "rank"])
    tables = {}
    for metric, rows in frame.groupby("metric", sort=False):
        tables[metric] = [[row.method, "" if not np.isfinite(row["rank"]) else
                           str(int(row["rank"])), _number(row["mean"]),
                           f"{_number(row.lo)}–{_number(row.hi)}", str(row.n),
                           f"{evaluation.cost.get(row.method, float('nan')):.1f}"]
                          for _, row in rows.iterrows()]
    return tables


HEADER = ["method", "rank", "mean", "95 % interval", "sequences", "cost (FPE)"]


def _markdown(evaluation: Evaluation, figures: dict) -> str:
    name = evaluation.model.get("name", "a model")
    truth = "ground truth: " + _truth(evaluation) if evaluation.settings.get("has_truth") \
        else "no ground truth"
    lines = [f"# Evaluation of explanation methods on `{name}`", "",
             f"**Verdict:** {evaluation.verdict.get('text', '')}.", "",
             f"{evaluation.settings.get('n_sequences')} sequences; {truth}.", ""]
    for metric, rows in _tables(evaluation).items():
        info = METRICS[metric]
        lines += [f"## {info.title} ({'higher' if info.higher_is_better else 'lower'} is "
                  "better)", "", info.definition, "",
                  "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
        lines += ["| " + " | ".join([f"`{row[0]}`", *row[1:]]) + " |" for row in rows]
        lines.append("")
    lines += ["## Notes", ""] + [f"- {note}" for note in _notes(evaluation)] + [""]
    for figure in figures:
        lines += [f"![{figure}](plots/{figure}.png)", ""]
    return "\n".join(lines)


def _html(evaluation: Evaluation, figures: dict) -> str:
    name = evaluation.model.get("name", "a model")
    body = [f"<h1>Evaluation of explanation methods on <code>{escape(name)}</code></h1>",
            f'<p class="verdict"><strong>Verdict:</strong> '
            f"{escape(evaluation.verdict.get('text', ''))}.</p>",
            f"<p>{evaluation.settings.get('n_sequences')} sequences; "
            + (f"ground truth: {escape(_truth(evaluation))}" if evaluation.settings.get(
                "has_truth") else "no ground truth") + ".</p>"]
    for metric, rows in _tables(evaluation).items():
        info = METRICS[metric]
        head = "".join(f"<th>{escape(h)}</th>" for h in HEADER)
        cells = "".join("<tr>" + f"<td><code>{escape(row[0])}</code></td>" + "".join(
            f"<td>{escape(cell)}</td>" for cell in row[1:]) + "</tr>" for row in rows)
        body += [f"<h2>{escape(info.title)} ({'higher' if info.higher_is_better else 'lower'}"
                 " is better)</h2>", f"<p>{escape(info.definition)}</p>",
                 f"<table><tr>{head}</tr>{cells}</table>"]
    body += ["<h2>Notes</h2><ul>" + "".join(f"<li>{escape(note)}</li>"
                                             for note in _notes(evaluation)) + "</ul>"]
    body += [f"<figure>{image(data, figure)}</figure>" for figure, data in figures.items()]
    return page(f"Evaluation of {name}", body)


def _notes(evaluation: Evaluation) -> list[str]:
    """Cost of each method and of each group of metrics, and every metric left out, why."""
    settings = evaluation.settings
    costs = ", ".join(f"{method} {cost:.1f}" for method, cost in evaluation.cost.items())
    notes = [f"Cost in forward-pass equivalents (one batched forward pass over the "
             f"{settings.get('n_sequences')} sequences took "
             f"{settings.get('forward_seconds', 0):.3g} s): {costs}"]
    if settings.get("group_cost"):
        notes.append("Metrics: " + ", ".join(f"{group} {cost:.1f}" for group, cost
                                             in settings["group_cost"].items()))
    notes += [f"{key.replace('|', ': ')} left out: {why}"
              for key, why in settings.get("skipped", {}).items()]
    return notes


def _truth(evaluation: Evaluation) -> str:
    settings = evaluation.settings
    if "simulation" in settings:
        sim = settings["simulation"]
        return (f"simulated ({sim['n']} sequences of {sim['length']} bp, "
                f"{sim['n_motifs'][0]}–{sim['n_motifs'][1]} planted motifs, positives from "
                f"{', '.join(sim['positive'])}; {sim['release']}, seed {sim['seed']})")
    return f"the sites of {settings.get('sites')}"


def _figures(evaluation: Evaluation):
    """(name, matplotlib Figure) of each plot there is data for; made without pyplot."""
    from matplotlib.figure import Figure

    grid = np.linspace(0, 1, CURVE_POINTS)
    for kind, xlabel, ylabel in (("roc", "false-positive rate", "true-positive rate"),
                                 ("pr", "recall", "precision")):
        curves = {key.split("|", 1)[1]: values for key, values in evaluation.curves.items()
                  if key.startswith(kind + "|")}
        if not curves:
            continue
        figure = Figure(figsize=(4.5, 4), layout="constrained")
        ax = figure.subplots()
        for method, values in curves.items():
            ax.plot(grid, values, label=method,
                    linestyle="--" if method.endswith(CORRECTED) else "-")
        if kind == "roc":
            ax.plot([0, 1], [0, 1], color="#7f8c8d", linewidth=0.8, label="chance")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(f"{'ROC' if kind == 'roc' else 'Precision-recall'}: all positions pooled",
                     fontsize=9)
        ax.legend(fontsize=7)
        yield kind, figure
    fractions = evaluation.curves.get("fractions")
    for kind in ("deletion", "insertion"):
        curves = {key.split("|", 1)[1]: values for key, values in evaluation.curves.items()
                  if key.startswith(kind + "|")}
        if not curves or fractions is None:
            continue
        figure = Figure(figsize=(4.5, 4), layout="constrained")
        ax = figure.subplots()
        for method, values in curves.items():
            ax.plot(fractions, values, label=method, color="#7f8c8d" if method == RANDOM
                    else None, linestyle="--" if method.endswith(CORRECTED) else "-")
        action = "removed" if kind == "deletion" else "put back"
        ax.set_xlabel(f"fraction of top-ranked positions {action}")
        ax.set_ylabel("target (mean over sequences)")
        ax.set_title(f"{kind.capitalize()} curves", fontsize=9)
        ax.legend(fontsize=7)
        yield kind, figure
    frame = evaluation.frame()
    for metric, rows in frame.groupby("metric", sort=False):
        figure = Figure(figsize=(5, 0.4 * len(rows) + 1.2), layout="constrained")
        ax = figure.subplots()
        rows = rows.sort_values("mean")
        y = np.arange(len(rows))
        ax.errorbar(rows["mean"], y, xerr=[rows["mean"] - rows["lo"], rows["hi"] - rows["mean"]],
                    fmt="o", color="#2e86c1", capsize=3)
        ax.set_yticks(y, rows["method"], fontsize=8)
        ax.set_xlabel(f"{METRICS[metric].title} (mean, 95 % interval)")
        yield f"metric_{metric}", figure
