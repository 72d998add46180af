"""The verdict of a diagnosis: which attribution methods to trust for this model, and why.

Derived from the findings alone (as :meth:`~kipoi_explain.results.Finding.as_dict` writes them),
so a saved report can be judged again without the model:

- ``gradient_saturation``: a flagged finding (dead or saturated units, a saturated output,
  vanishing gradients, gradients that understate the prediction or rank positions unlike ISM)
  rules out the local-slope methods (saliency, grad x input) in favour of the methods that
  measure differences (DeepSHAP, integrated gradients, DeepLIFT, ISM); gradients that agree
  with ISM count for them.
- ``randomization_sanity``: a method whose maps survive randomizing every weight is ruled out;
  one whose maps change passes.
- ``method_agreement``: agreement with ISM (a direct measurement) counts for a method,
  disagreement against it; disagreement between two other methods is a caveat of both.
- ISM, where it was measured, is trusted as the reference (at the cost of ``3 L`` model calls per
  sequence).
"""
from __future__ import annotations

from collections import defaultdict

from ..results import advises

#: Methods the verdict speaks about; ties among trusted methods are broken in this order.
PREFERENCE = ("deepshap", "integrated_gradients", "deeplift", "ism", "grad_x_input", "saliency")

#: Methods that read the local slope of the model, which saturation and dead units hide.
LOCAL = ("saliency", "grad_x_input")

#: The check that measures the gradient itself (saliency's map).
SLOPE_CHECK = "gradient_saturation"


def _flagged(finding: dict) -> bool:
    return finding["severity"] != "info" or (finding["value"] is not None
                                             and advises(finding["recommendation"]))


def _number(value) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def verdict(findings: list[dict], checks=()) -> dict:
    """Which methods to trust for the diagnosed model, from its findings.

    Parameters
    ----------
    findings : list of dict
        The findings, as :meth:`~kipoi_explain.results.Finding.as_dict` gives them.
    checks : sequence of str
        The checks that ran (a method no check looked at is "not checked").

    Returns
    -------
    dict
        ``trust`` and ``avoid``: lists of ``{"method", "why": [reasons]}``, ``trust`` ordered
        by agreement with ISM (then by :data:`PREFERENCE`; ISM itself last);
        ``not_checked``: ``{"method", "why"}`` for the methods no check measured or that do
        not apply to the model; ``notes``: findings about the model that
        concern every method; ``evaluate``: the command that puts numbers on the methods;
        ``text``: the verdict in a few sentences.
    """
    good, bad, caveats = defaultdict(list), defaultdict(list), defaultdict(list)
    left_out, notes, seen, with_ism = {}, [], set(), {}
    checks = set(checks) | {f["check"] for f in findings}
    for f in findings:
        check, where, value = f["check"], f["where"] or {}, f["value"]
        if check == SLOPE_CHECK:
            seen.update(LOCAL)
            if _flagged(f):
                for method in LOCAL:
                    bad[method].append(f"{f['message']} ({f['recommendation']})")
            elif value is not None and "with ISM" in f["message"]:
                for method in LOCAL:
                    good[method].append(f"its gradients agree with ISM ({_number(value)})")
            elif "never fire" in f["message"] and value:
                notes.append(f"{f['message']}: they play no part in these predictions, so no "
                             "explanation shows what they detect")
        elif check == "randomization_sanity" and "method" in where:
            method = where["method"]
            if value is None:
                left_out[method] = f["message"]
                continue
            seen.add(method)
            if _flagged(f):
                bad[method].append(f"fails the randomization check: {f['message']}")
            else:
                good[method].append(f"passes the randomization check (its maps keep a rank "
                                    f"correlation of {_number(value)} under a random model)")
        elif check == "method_agreement":
            names = where.get("methods") or []
            if value is None:
                if "method" in where:
                    left_out[where["method"]] = f["message"]
                continue
            if len(names) != 2:
                continue
            seen.update(names)
            if "ism" in names and names[0] != names[1]:
                other = names[1] if names[0] == "ism" else names[0]
                good["ism"].append("a direct measurement of each mutation's effect, the "
                                   "reference the other methods are compared to")
                with_ism[other] = value
                if _flagged(f):
                    bad[other].append(f"disagrees with ISM (median Spearman {_number(value)})")
                else:
                    good[other].append(f"agrees with ISM (median Spearman {_number(value)})")
            elif _flagged(f):
                for method, partner in (names, names[::-1]):
                    caveats[method].append(f"disagrees with {partner} (median Spearman "
                                           f"{_number(value)})")
    methods = [m for m in PREFERENCE if m in seen or m in left_out]
    methods += sorted((seen | set(left_out)) - set(methods))
    trust, avoid, not_checked = [], [], []
    for method in methods:
        why = list(dict.fromkeys(bad[method] or good[method] + caveats[method]))
        if bad[method]:
            avoid.append({"method": method, "why": why})
        elif good[method]:
            trust.append({"method": method, "why": why})
        elif method in left_out:
            not_checked.append({"method": method, "why": left_out[method]})
        else:
            not_checked.append({"method": method, "why": "no check measured it; "
                                + "; ".join(caveats[method]) if caveats[method]
                                else "no check measured it"})
    # The methods that agree best with ISM first, ISM (the costly reference) last.
    trust.sort(key=lambda e: (e["method"] == "ism", -with_ism.get(e["method"], -2.0),
                              methods.index(e["method"])))
    for method in PREFERENCE:
        if method not in methods:
            not_checked.append({"method": method, "why": "no check that ran measured it"})
    named = [m["method"] for m in trust + avoid] or list(PREFERENCE[:3])
    evaluate = f"kipoi-explain evaluate MODEL --methods {','.join(named)} -o OUTDIR"
    return {"trust": trust, "avoid": avoid, "not_checked": not_checked, "notes": notes,
            "evaluate": evaluate, "text": _text(trust, avoid, notes, evaluate)}


def _names(entries) -> str:
    names = [e["method"] for e in entries]
    return names[0] if len(names) < 2 else ", ".join(names[:-1]) + " and " + names[-1]


def _text(trust, avoid, notes, evaluate) -> str:
    sentences = []
    if trust:
        lead = trust[0]
        sentences.append(f"Trust {_names(trust)} for this model; prefer {lead['method']}: "
                         f"{'; '.join(lead['why'])}.")
    else:
        sentences.append("No attribution method passed the checks that ran: trust none of "
                         "them as is.")
    by_reason = {}
    for entry in avoid:
        by_reason.setdefault(entry["why"][0], []).append(entry)
    for reason, entries in by_reason.items():
        sentences.append(f"Do not rely on {_names(entries)}: {reason}.")
    sentences += [note[0].upper() + note[1:] + "." for note in notes]
    sentences.append(f"For numbers, run `{evaluate}`.")
    return " ".join(sentences)
