"""A :class:`~kipoi_explain.results.Diagnosis` as JSON (its layout is the JSON Schema
``kipoi_explain/diagnostics/schema.json``, documented in ``docs/diagnosis.md``) and as a summary a
person reads: Markdown with its plots as PNG files in a ``<stem>_plots/`` folder beside it, or
one self-contained HTML file.

Files are written under a ``.partial`` name and renamed when complete. The summaries are drawn
from the JSON document alone, so a saved report can be summarised again without the model.
"""
from __future__ import annotations

import json
import re
from functools import partial
from importlib.resources import files
from pathlib import Path
from urllib.parse import quote

import numpy as np

from ..errors import InputError
from ..results import SEVERITIES, Diagnosis
from .report import escape, image, page, png, write_text

#: What each check measures, one sentence under its heading in the summary.
ABOUT = {
    "filter_scaling": "Weight-derived PWMs of the filters reading the sequence: a filter with a "
                      "saturated softmax or an outlying weight norm has a PWM that shows the "
                      "scale of its weights, not its base preference.",
    "redundancy": "Correlated units: units that copy one another each look unimportant when "
                  "ablated alone, although together they matter.",
    "gradient_saturation": "Dead and saturated units, vanishing gradients along the network, "
                           "how much of the prediction the gradient accounts for, and whether "
                           "gradients rank positions as in-silico mutagenesis does.",
    "attention_conditioning": "Whether attention maps are determined by the input: "
                              "conditioning of each head's keys, and how much its maps move "
                              "under a small input perturbation.",
    "constraint_cost": "What the model's constraint costs in accuracy against a free model "
                       "with the same outputs, on labelled sequences.",
    "randomization_sanity": "Cascading model randomization (Adebayo et al. 2018): maps that "
                            "hardly change when the weights are random do not explain what "
                            "the model learned.",
    "method_agreement": "Per-sequence rank correlation of position importance between "
                        "attribution methods.",
}

GREY, RED, BLUE, ORANGE = "#7f8c8d", "#c0392b", "#2e86c1", "#d68910"

#: Correlated groups drawn per layer in the redundancy plot (largest group effect first).
MAX_GROUPS = 10

#: Coverage ratios outside this range are drawn in the histogram's edge bins.
COVERAGE_RANGE = (-1.0, 2.0)



def write_json(diagnosis: Diagnosis, path) -> Path:
    """Write ``diagnosis`` as strict JSON (no ``NaN`` tokens: missing numbers are ``null``).

    Returns
    -------
    Path
        The file written.
    """
    return write_text(Path(path), json.dumps(diagnosis.as_dict(), indent=2, allow_nan=False))


def schema() -> dict:
    """The JSON Schema (draft 2020-12) of the document :func:`write_json` writes."""
    # Read from the package's folder, without importing kipoi_explain.diagnostics.
    return json.loads(files("kipoi_explain").joinpath("diagnostics", "schema.json")
                      .read_text(encoding="utf-8"))


def validate(document: dict) -> None:
    """Check a diagnosis document (as :func:`write_json` writes it) against :func:`schema`.

    Needs the optional package ``jsonschema``.

    Raises
    ------
    jsonschema.ValidationError
        Naming the first part of ``document`` that does not follow the schema.
    """
    import jsonschema

    jsonschema.Draft202012Validator(schema()).validate(document)


def write_summary(diagnosis: Diagnosis | dict, path, dpi: int = 100) -> Path:
    """Write a readable summary: the model and settings, a count of findings per check and
    severity, then per check its flagged findings, its other findings and its plots.

    Parameters
    ----------
    diagnosis : Diagnosis or dict
        A diagnosis, or its document as read back from :func:`write_json`'s file.
    path : str or Path
        Ending ``.md``: Markdown, with the plots as PNG files in the folder ``<stem>_plots``
        beside it; ending ``.html``: one HTML file with the plots embedded.
    dpi : int
        Resolution of the plots.

    Returns
    -------
    Path
        The file written.
    """
    path = Path(path)
    kind = path.suffix.lower()
    if kind not in (".md", ".html"):
        raise InputError(f"summary path {str(path)!r}: expected a name ending .md or .html")
    document = diagnosis.as_dict() if isinstance(diagnosis, Diagnosis) else diagnosis
    blocks = _blocks(document, dpi)
    if kind == ".md":
        text = _markdown(blocks, path.with_name(f"{path.stem}_plots"))
    else:
        text = _html(blocks, f"Diagnosis of {document['model'].get('name', 'a model')}")
    return write_text(path, text)


# --- content, shared by both formats ---------------------------------------------------------
# A block is ("title", model name), ("section", check), ("text", text), ("fields", [(name, text,
# is_code)]), ("counts", [(check, {severity: n})]), ("finding", finding) or
# ("figure", name, caption, png bytes).


def _blocks(document: dict, dpi: int) -> list[tuple]:
    model, settings = document["model"], document["settings"]
    findings, measurements = document["findings"], document["measurements"]
    checks = list(dict.fromkeys([*settings.get("checks", []), *(f["check"] for f in findings),
                                 *measurements]))
    blocks = [("title", str(model.get("name", ""))),
              ("fields", _model_fields(model) + _settings_fields(settings)),
              ("counts", [(check, {s: sum(f["check"] == check and f["severity"] == s
                                          for f in findings) for s in SEVERITIES})
                          for check in checks])]
    if document.get("verdict"):
        blocks.append(("verdict", document["verdict"]))
    for check in checks:
        blocks += [("section", check), ("text", ABOUT.get(check, ""))]
        own = sorted((f for f in findings if f["check"] == check),
                     key=lambda f: -SEVERITIES.index(f["severity"]))
        blocks += [("finding", f) for f in own]
        measured = measurements.get(check)
        if measured and check in PLOTS:
            options = settings.get("options", {}).get(check, {})
            figure = PLOTS[check](measured, options)
            if figure is not None:
                blocks.append(("figure", check, f"{check} measurements", png(figure, dpi)))
    return blocks


def _model_fields(model: dict) -> list[tuple[str, str, bool]]:
    fields = [("model", str(model.get("name", "")), True),
              ("framework", str(model.get("framework", "")), False)]
    if model.get("fingerprint"):
        fields.append(("fingerprint", model["fingerprint"][:12], True))
    return fields


def _settings_fields(settings: dict) -> list[tuple[str, str, bool]]:
    fields = [("checks", ", ".join(settings.get("checks", [])), True)]
    target = settings.get("target")
    if target:
        names = list(target.get("names", []))
        fields.append(("target", " + ".join(names) + (f" ({target.get('reduce')})"
                                                      if len(names) > 1 else ""), False))
    if "n_sequences" in settings:
        used = settings.get("n_attribution")
        fields.append(("sequences", f"{settings['n_sequences']}" + (
            f" ({used} for the attribution-based checks)" if used is not None else ""), False))
    for key in ("seed", "version"):
        if key in settings:
            fields.append((key, str(settings[key]), False))
    return fields


def _number(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def _list(values, limit: int = 20) -> str:
    values = list(values)
    text = ", ".join(map(str, values[:limit]))
    return f"{text}, ... ({len(values)} in all)" if len(values) > limit else text


def _where(where: dict) -> list[tuple[str, list[str], bool]]:
    """``(key, texts, are_names)`` per entry of a finding's ``where``: names (layers, methods,
    outputs) one text each, to be shown as code; indices as one text."""
    parts = []
    for key, value in where.items():
        if value is None or value == []:
            continue
        if not isinstance(value, list):
            parts.append((key, [str(value)], isinstance(value, str)))
        elif all(isinstance(v, str) for v in value):
            parts.append((key, value, True))
        else:
            parts.append((key, [_list(value)], False))
    return parts


def _measured(finding: dict) -> str:
    if finding["value"] is None and finding["threshold"] is None:
        return ""
    return f"value {_number(finding['value'])}, threshold {_number(finding['threshold'])}"


# --- Markdown ---------------------------------------------------------------------------------

def _md(text: str) -> str:
    """Text with the characters Markdown would read as markup (or raw HTML) escaped."""
    return re.sub(r"([\\`*_\[\]<>|#])", r"\\\1", text)


def _md_parts(parts) -> str:
    return "; ".join(f"{key} " + (", ".join(f"`{t}`" for t in texts) if code
                                  else _md(", ".join(texts)))
                     for key, texts, code in parts)


def _markdown(blocks: list[tuple], plots: Path) -> str:
    lines = []
    for kind, *content in blocks:
        if kind == "title":
            lines += [f"# Diagnosis of `{content[0]}`", ""]
        elif kind == "fields":
            lines += [f"- **{name}**: " + (f"`{text}`" if code else _md(text))
                      for name, text, code in content[0]] + [""]
        elif kind == "counts":
            lines += ["## Findings per check", "", "| check | " + " | ".join(SEVERITIES) + " |",
                      "|---|" + "--:|" * len(SEVERITIES)]
            lines += [f"| `{check}` | " + " | ".join(str(n[s]) for s in SEVERITIES) + " |"
                      for check, n in content[0]] + [""]
        elif kind == "section":
            title = content[0].replace("_", " ").capitalize()
            lines += [f"## {title} (`{content[0]}`)", ""]
        elif kind == "text" and content[0]:
            lines += [_md(content[0]), ""]
        elif kind == "finding":
            lines += _md_finding(content[0])
        elif kind == "verdict":
            lines += _md_verdict(content[0])
        elif kind == "figure":
            name, caption, png_bytes = content
            plots.mkdir(parents=True, exist_ok=True)
            (plots / f"{name}.png").write_bytes(png_bytes)
            lines += [f"![{_md(caption)}]({quote(f'{plots.name}/{name}.png')})", ""]
    return "\n".join(lines)


def _verdict_rows(verdict: dict) -> list[tuple[str, str, list[str]]]:
    """``(heading, method, reasons)`` per method the verdict names."""
    rows = [("trust", e["method"], e["why"]) for e in verdict.get("trust", [])]
    rows += [("avoid", e["method"], e["why"]) for e in verdict.get("avoid", [])]
    return rows + [("not checked", e["method"], [e["why"]])
                   for e in verdict.get("not_checked", [])]


def _md_verdict(verdict: dict) -> list[str]:
    lines = ["## Verdict", "", _md(verdict.get("text", "")), ""]
    lines += [f"- **{heading}** `{method}`: {_md('; '.join(why))}"
              for heading, method, why in _verdict_rows(verdict)]
    return lines + [""]


def _html_verdict(verdict: dict) -> str:
    items = "".join(f"<li><b>{escape(heading)}</b> <code>{escape(method)}</code>: "
                    f"{escape('; '.join(why))}</li>"
                    for heading, method, why in _verdict_rows(verdict))
    return (f'<h2 id="verdict">Verdict</h2><p>{escape(verdict.get("text", ""))}</p>'
            f"<ul>{items}</ul>")


def _md_finding(finding: dict) -> list[str]:
    lines = [f"- **{finding['severity'].upper()}** {_md(finding['message'])}"]
    where = _where(finding["where"])
    if where:
        lines.append(f"  - where: {_md_parts(where)}")
    if _measured(finding):
        lines.append(f"  - {_measured(finding)}")
    if finding["recommendation"]:
        lines.append(f"  - recommendation: {_md(finding['recommendation'])}")
    return lines + [""]


# --- HTML -------------------------------------------------------------------------------------

def _html_parts(parts) -> str:
    return "; ".join(f"{escape(key)} " + (", ".join(f"<code>{escape(t)}</code>" for t in texts)
                                        if code else escape(", ".join(texts)))
                     for key, texts, code in parts)


def _html(blocks: list[tuple], title: str) -> str:
    body = []
    for kind, *content in blocks:
        if kind == "title":
            body.append(f"<h1>Diagnosis of <code>{escape(content[0])}</code></h1>")
        elif kind == "fields":
            body.append("<dl>" + "".join(
                f"<dt>{escape(name)}</dt><dd>" + (f"<code>{escape(text)}</code>" if code
                                                else escape(text)) + "</dd>"
                for name, text, code in content[0]) + "</dl>")
        elif kind == "counts":
            head = "".join(f"<th>{s}</th>" for s in SEVERITIES)
            rows = "".join(
                f'<tr><td><a href="#{escape(check)}"><code>{escape(check)}</code></a></td>'
                + "".join(
                    f'<td><span class="badge {s}">{n[s]}</span></td>' if n[s] and s != "info"
                    else f"<td>{n[s]}</td>" for s in SEVERITIES) + "</tr>"
                for check, n in content[0])
            body.append(f"<h2>Findings per check</h2><table><tr><th>check</th>{head}</tr>"
                        f"{rows}</table>")
        elif kind == "section":
            title_text = content[0].replace("_", " ").capitalize()
            body.append(f'<h2 id="{escape(content[0])}">{escape(title_text)} '
                        f"(<code>{escape(content[0])}</code>)</h2>")
        elif kind == "text" and content[0]:
            body.append(f"<p>{escape(content[0])}</p>")
        elif kind == "finding":
            body.append(_html_finding(content[0]))
        elif kind == "verdict":
            body.append(_html_verdict(content[0]))
        elif kind == "figure":
            _, caption, png_bytes = content
            body.append(f"<figure>{image(png_bytes, caption)}</figure>")
    return page(title, body)


def _html_finding(finding: dict) -> str:
    severity = finding["severity"]
    items = []
    where = _where(finding["where"])
    if where:
        items.append(f"where: {_html_parts(where)}")
    if _measured(finding):
        items.append(escape(_measured(finding)))
    if finding["recommendation"]:
        items.append(f"recommendation: {escape(finding['recommendation'])}")
    listed = "".join(f"<li>{item}</li>" for item in items)
    return (f'<div class="finding {severity}"><span class="badge {severity}">{severity}</span> '
            f"{escape(finding['message'])}<ul>{listed}</ul></div>")


# --- plots ------------------------------------------------------------------------------------
# Each takes a check's measurements (as in the JSON document: lists, None for missing numbers)
# and its options, and returns a matplotlib Figure or None when there is nothing to draw.
# Figures are made without pyplot, so writing a summary leaves the user's backend alone.


def _floats(values) -> np.ndarray:
    """Numbers from the document as float64, ``None`` as NaN."""
    return np.asarray(values if values is not None else [], dtype=np.float64)


def _figure(n_panels: int, ncols: int, width: float, height: float):
    from matplotlib.figure import Figure

    ncols = min(ncols, n_panels)
    nrows = -(-n_panels // ncols)
    figure = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = figure.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    return figure, axes[:n_panels]


def _no_data(ax, title: str, text: str) -> None:
    ax.set_axis_off()
    ax.set_title(title, fontsize=9)
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color=GREY)


def _names_axis(ax, names, axis: str = "x") -> None:
    ticks = np.arange(len(names))
    if axis == "y":
        ax.set_yticks(ticks, names, fontsize=7)
    elif len(names) > 3:
        ax.set_xticks(ticks, names, rotation=45, ha="right", fontsize=7)
    else:
        ax.set_xticks(ticks, names, fontsize=7)


def _plot_filter_scaling(measured: dict, options: dict):
    layers = measured.get("layers") or {}
    if not layers:
        return None
    figure, axes = _figure(len(layers), 3, 3.8, 3.2)
    limit = options.get("max_saturation")
    for ax, (name, m) in zip(axes, layers.items()):
        norm, saturation = _floats(m["weight_norm"]), _floats(m["saturation"])
        flagged = np.zeros(len(norm), dtype=bool)
        flagged[np.asarray(m["flagged"], dtype=np.int64)] = True
        ax.scatter(norm[~flagged], saturation[~flagged], s=14, color=GREY, label="filter")
        ax.scatter(norm[flagged], saturation[flagged], s=20, color=RED, label="flagged")
        if limit is not None:
            ax.axhline(limit, color=RED, linestyle="--", linewidth=0.8,
                       label=f"max_saturation {limit:g}")
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel("weight norm")
        ax.set_ylabel("saturation of weight PFM")
        ax.set_title(f"{name}: {int(flagged.sum())} of {len(norm)} filters flagged", fontsize=9)
        ax.legend(fontsize=7)
    return figure


def _plot_redundancy(measured: dict, options: dict):
    layers = measured.get("layers") or {}
    if not layers:
        return None
    figure, axes = _figure(2 * len(layers), 2, 4.4, 3.6)
    for row, (name, m) in enumerate(layers.items()):
        heat, bars = axes[2 * row], axes[2 * row + 1]
        corr = _floats(m["correlation"])
        if corr.ndim == 2 and corr.size:
            image = heat.imshow(corr, cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
            figure.colorbar(image, ax=heat, shrink=0.8, label="correlation")
            heat.set_xlabel("unit")
            heat.set_ylabel("unit")
            heat.set_title(f"{name}: activation correlation of units", fontsize=9)
        else:
            _no_data(heat, name, "no units")
        _group_bars(bars, m["groups"], name, options.get("max_single_share"))
    return figure


def _group_bars(ax, groups: list[dict], layer: str, max_share) -> None:
    """Per group: the largest single-unit ablation effect (all of them as dots) beside the
    effect of ablating the group."""
    if not groups:
        _no_data(ax, f"{layer}: ablation effects", "no correlated groups")
        return
    shown = sorted(groups, key=lambda g: -(g["group_effect"] or 0.0))[:MAX_GROUPS]
    x = np.arange(len(shown))
    singles = [_floats(g["single_effects"]) for g in shown]
    largest = [np.nanmax(s) if np.isfinite(s).any() else np.nan for s in singles]
    together = _floats([g["group_effect"] for g in shown])
    ax.bar(x - 0.2, largest, 0.4, color=GREY, label="largest single unit")
    for position, values in zip(x, singles):
        ax.scatter(np.full(len(values), position - 0.2), values, s=8, color="black", zorder=3)
    ax.bar(x + 0.2, together, 0.4, color=RED, label="group")
    if max_share is not None:
        ax.scatter(x + 0.2, together * max_share, marker="_", s=200, color="black",
                   label="max_single_share x group", zorder=3)
    ax.set_xticks(x, [f"units {_list(g['units'], 4)}" for g in shown], rotation=30, ha="right",
                  fontsize=7)
    ax.set_ylabel("|target change| (SD)")
    more = f", largest {len(shown)} of {len(groups)}" if len(groups) > len(shown) else ""
    ax.set_title(f"{layer}: ablation effect per group{more}", fontsize=9)
    ax.legend(fontsize=7)


def _plot_gradient_saturation(measured: dict, options: dict):
    panels = []
    norms = measured.get("gradient_norms") or {}
    if norms.get("median"):
        panels.append(partial(_norm_panel, norms, options.get("max_gradient_decay"),
                              measured.get("on_logits")))
    shared = {name: state for name, state in (measured.get("nonlinearities") or {}).items()
              if "dead_share" in state or "saturated_share" in state}
    if shared:
        panels.append(partial(_share_panel, shared, options))
    for key, title, limit, span in (
            ("coverage", "first-order share of f(x) - f(shuffled x)",
             options.get("min_coverage"), COVERAGE_RANGE),
            ("ism_agreement", "Spearman of gradient effects with ISM's",
             options.get("min_ism_agreement"), (-1.0, 1.0))):
        values = _floats(measured.get(key))
        if np.isfinite(values).any():
            panels.append(partial(_histogram, values, title, limit, span))
    if not panels:
        return None
    figure, axes = _figure(len(panels), 2, 4.4, 3.2)
    for ax, draw in zip(axes, panels):
        draw(ax)
    return figure


def _norm_panel(norms: dict, max_decay, on_logits, ax) -> None:
    median = _floats(norms["median"])
    names = norms["layers"]
    if not (median > 0).any():
        _no_data(ax, "median gradient norm", "all gradient norms are 0")
        return
    ax.plot(np.arange(len(median)), np.where(median > 0, median, np.nan), marker="o", color=BLUE)
    ax.set_yscale("log")
    if max_decay is not None:
        ax.axhline(max_decay * np.nanmax(median), color=RED, linestyle="--", linewidth=0.8,
                   label=f"max_gradient_decay {max_decay:g} x largest")
        ax.legend(fontsize=7)
    _names_axis(ax, names)
    ax.set_ylabel("median gradient norm")
    ax.set_title("gradient norm along the network" + (" (on logits)" if on_logits else ""),
                 fontsize=9)


def _share_panel(states: dict, options: dict, ax) -> None:
    names = list(states)
    shares = [state.get("dead_share", state.get("saturated_share")) for state in states.values()]
    limits = [options.get("max_dead_share" if "dead_share" in state else "max_saturated_share")
              for state in states.values()]
    colors = [BLUE if state["kind"] == "relu" else ORANGE for state in states.values()]
    x = np.arange(len(names))
    ax.bar(x, _floats(shares), color=colors)
    limits = _floats(limits)
    if np.isfinite(limits).any():
        ax.scatter(x, limits, marker="_", s=300, color=RED, label="threshold", zorder=3)
        ax.legend(fontsize=7)
    _names_axis(ax, [f"{n} ({s['kind']})" for n, s in states.items()])
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("share dead (relu) / saturated")
    ax.set_title("dead and saturated units per nonlinear layer", fontsize=9)


def _histogram(values: np.ndarray, label: str, limit, span: tuple[float, float], ax) -> None:
    from matplotlib.ticker import MaxNLocator

    finite = values[np.isfinite(values)]
    ax.hist(np.clip(finite, *span), bins=20, range=span, color=GREY)
    if limit is not None:
        ax.axvline(limit, color=RED, linestyle="--", linewidth=0.8, label=f"threshold {limit:g}")
        ax.legend(fontsize=7)
    ax.set_xlabel(label)
    ax.set_ylabel("sequences")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"{len(finite)} of {len(values)} sequences scored", fontsize=9)


def _plot_attention_conditioning(measured: dict, options: dict):
    layers = measured.get("layers") or {}
    if not layers:
        return None
    figure, axes = _figure(len(layers), 3, 3.6, 3.0)
    limit, error = options.get("max_condition"), options.get("error_condition")
    for ax, (name, m) in zip(axes, layers.items()):
        condition = _floats(m["condition_number"])
        if not (condition > 0).any():
            _no_data(ax, name, "no condition numbers")
            continue
        over = condition > limit if limit is not None else np.zeros(len(condition), dtype=bool)
        ax.bar(np.arange(len(condition)), condition, color=np.where(over, RED, BLUE))
        ax.set_yscale("log")
        for value, style, label in ((limit, "--", "max_condition"),
                                    (error, ":", "error_condition")):
            if value is not None:
                ax.axhline(value, color=RED, linestyle=style, linewidth=0.8,
                           label=f"{label} {value:g}")
        ax.set_xticks(np.arange(len(condition)))
        ax.set_xlabel("head")
        ax.set_ylabel("key condition number (median)")
        ax.set_title(f"{name} (head dim {m.get('head_dim')})", fontsize=9)
        ax.legend(fontsize=7)
    return figure


def _plot_constraint_cost(measured: dict, options: dict):
    outputs = measured.get("outputs") or {}
    if not outputs:
        return None
    figure, (metric_ax, diff_ax) = _figure(2, 2, 4.2, 3.2)
    names = [f"{name} ({m['metric']})" for name, m in outputs.items()]
    x = np.arange(len(outputs))
    metric_ax.bar(x - 0.2, _floats([m["constrained"] for m in outputs.values()]), 0.4,
                  color=BLUE, label="constrained")
    metric_ax.bar(x + 0.2, _floats([m["free"] for m in outputs.values()]), 0.4, color=GREY,
                  label="free")
    _names_axis(metric_ax, names)
    metric_ax.set_ylabel("metric")
    metric_ax.set_title("accuracy per output", fontsize=9)
    metric_ax.legend(fontsize=7)
    intervals = _floats([m["interval"] for m in outputs.values()]).reshape(len(outputs), 2)
    diff_ax.vlines(x, intervals[:, 0], intervals[:, 1], color=BLUE, linewidth=2,
                   label="bootstrap interval")
    difference = _floats([m["difference"] for m in outputs.values()])
    diff_ax.plot(x, difference, "o", color=BLUE, label="constrained - free")
    for position in x[np.isnan(difference)]:
        diff_ax.text(position, 0, "not measured", ha="center", va="bottom", fontsize=7,
                     color=GREY)
    diff_ax.axhline(0, color="black", linewidth=0.6)
    if options.get("max_drop") is not None:
        diff_ax.axhline(-options["max_drop"], color=RED, linestyle="--", linewidth=0.8,
                        label=f"-max_drop {options['max_drop']:g}")
    _names_axis(diff_ax, names)
    diff_ax.set_xlim(-0.5, len(outputs) - 0.5)
    diff_ax.set_ylabel("metric difference")
    diff_ax.set_title("constrained - free, with interval", fontsize=9)
    diff_ax.legend(fontsize=7)
    return figure


def _plot_randomization_sanity(measured: dict, options: dict):
    layers, methods = measured.get("layers") or [], measured.get("methods") or {}
    if not layers or not methods:
        return None
    figure, (ax,) = _figure(1, 1, max(5.0, 0.5 * len(layers) + 3), 3.6)
    x = np.arange(len(layers))
    for method, curve in methods.items():
        (line,) = ax.plot(x, _floats(curve["median"]), marker="o", label=method)
        ax.fill_between(x, _floats(curve["q25"]), _floats(curve["q75"]), alpha=0.2,
                        color=line.get_color(), linewidth=0)
    if options.get("max_correlation") is not None:
        ax.axhline(options["max_correlation"], color=RED, linestyle="--", linewidth=0.8,
                   label=f"max_correlation {options['max_correlation']:g}")
    ax.axhline(0, color="black", linewidth=0.5)
    _names_axis(ax, layers)
    ax.set_ylim(top=1.05)
    ax.set_xlabel("weights randomized from the output down to")
    ax.set_ylabel("rank correlation with original map")
    ax.set_title("cascading randomization (median, interquartile band)", fontsize=9)
    ax.legend(fontsize=7)
    return figure


def _plot_method_agreement(measured: dict, options: dict):
    methods = measured.get("methods") or []
    if not methods:
        return None
    median = _floats(measured["median"]).reshape(len(methods), len(methods))
    side = 0.9 * len(methods) + 2.2
    figure, (ax,) = _figure(1, 1, side + 1.0, side)
    image = ax.imshow(median, cmap="RdBu_r", vmin=-1, vmax=1)
    figure.colorbar(image, ax=ax, shrink=0.8, label="median Spearman")
    for (i, j), value in np.ndenumerate(median):
        ax.text(j, i, "n/a" if np.isnan(value) else f"{value:.2f}", ha="center",
                va="center", fontsize=8, color="white" if abs(np.nan_to_num(value)) > 0.6
                else "black")
    _names_axis(ax, methods)
    _names_axis(ax, methods, axis="y")
    ax.set_title("agreement of methods per sequence", fontsize=9)
    return figure


PLOTS = {
    "filter_scaling": _plot_filter_scaling,
    "redundancy": _plot_redundancy,
    "gradient_saturation": _plot_gradient_saturation,
    "attention_conditioning": _plot_attention_conditioning,
    "constraint_cost": _plot_constraint_cost,
    "randomization_sanity": _plot_randomization_sanity,
    "method_agreement": _plot_method_agreement,
}
