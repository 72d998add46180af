"""Path methods: integrated gradients and expected gradients (gradient SHAP)."""
from __future__ import annotations

import numpy as np

from ..draws import sample_indices, uniforms
from ..engine import accumulate_sorted, run_batches
from ..errors import InputError
from ..results import MethodScores
from .over_references import attribute_over_references
from .references import references

#: Quadrature rules, named as in Captum's ``approximation_methods`` and equal to them, except
#: ``riemann_trapezoid``: here the exact trapezoid rule (weights ``1/(n-1)``, ends halved),
#: whose weights sum to 1 so completeness holds; Captum's weights sum to ``(n-1)/n``.
QUADRATURES = ("gausslegendre", "riemann_trapezoid", "riemann_left", "riemann_right",
               "riemann_middle")


def quadrature(name: str, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Interpolation points ``alpha`` in [0, 1] and their weights for ``n_steps`` steps."""
    if n_steps < 1:
        raise InputError(f"n_steps={n_steps}: expected at least 1")
    if name == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(n_steps)
        return 0.5 * (nodes + 1), 0.5 * weights
    if name == "riemann_trapezoid":
        if n_steps < 2:
            raise InputError("riemann_trapezoid needs n_steps >= 2")
        weights = np.full(n_steps, 1.0 / (n_steps - 1))
        weights[[0, -1]] /= 2
        return np.linspace(0, 1, n_steps), weights
    offsets = {"riemann_left": 0.0, "riemann_right": 1.0, "riemann_middle": 0.5}
    if name not in offsets:
        raise InputError(f"quadrature {name!r}: expected one of {', '.join(QUADRATURES)}")
    return (np.arange(n_steps) + offsets[name]) / n_steps, np.full(n_steps, 1.0 / n_steps)


def integrated_gradients(model, x, target, batch_size, progress, baseline="zeros",
                         n_steps: int = 50, quadrature_rule: str = "gausslegendre",
                         n_references: int = 1, seed: int = 0,
                         correct_gradients: bool = False,
                         inputs_baseline: str | None = None, sample_index=0) -> MethodScores:
    """Integrated gradients (Sundararajan et al. 2017) from each reference to the input.

    Parameters
    ----------
    baseline : {"zeros", "uniform", "shuffle", "mean"} or array
        See :func:`~kipoi_explain.methods.references.references`.
    n_steps : int
        Points of the path integral.
    quadrature_rule : str
        One of :data:`QUADRATURES` (Captum's default is ``"gausslegendre"``).
    n_references, seed : int
        Dinucleotide shuffles per sequence and their seed, for ``baseline="shuffle"``.
    inputs_baseline : {None, "zeros"}
        For a model with differentiable extra inputs: None holds them at each sample's values
        (the main input alone is attributed); ``"zeros"`` integrates them too, from all-zero
        values along the same path as the main input (Captum's integrated gradients over a
        tuple of inputs), and attributes to each of them; completeness then covers every
        input, ``f(x, e) - f(reference, 0)``.
    """
    if inputs_baseline not in (None, "zeros"):
        raise InputError(f"inputs_baseline={inputs_baseline!r}: expected None or 'zeros'")
    alphas, weights = quadrature(quadrature_rule, n_steps)
    alphas, weights = alphas.astype(np.float32), weights.astype(np.float32)
    refs = references(x, baseline, n_references, seed, sample_index)
    k = refs.shape[1]
    joint = model.differentiable_extras() if inputs_baseline == "zeros" else []
    extra_total = {spec.name: np.zeros((len(x), *spec.shape)) for spec in joint}

    def multipliers(x_rows, ref_rows, pairs):
        n, shape = len(x_rows), x_rows.shape[1:]
        steps = alphas.reshape(n_steps, *(1,) * len(shape))
        path = (ref_rows[:, None] + steps * (x_rows - ref_rows)[:, None]).reshape(
            n * n_steps, *shape)
        seq = pairs // k
        owner, scale = np.repeat(seq, n_steps), np.tile(alphas, n)

        def gradients(lo, hi):
            context = model.rows(owner[lo:hi])
            for spec in joint:
                context[spec.name] = context[spec.name] * scale[lo:hi].reshape(
                    -1, *(1,) * len(spec.shape))
            grads, _, *extra = model.gradients.input_gradient(path[lo:hi], target,
                                                              context=context)
            return (grads, *extra)

        # One pair's steps can outnumber a block's rows: they run in blocks too.
        grads, *extra = run_batches(gradients, n * n_steps, batch_size)
        grads = grads.reshape(n, n_steps, *shape)
        f_ref = None
        if joint:
            values = model.rows(seq)
            for spec, grad in zip(model.differentiable_extras(), extra):
                mean = np.einsum("s,ns...->n...", weights, grad.reshape(n, n_steps, *spec.shape))
                accumulate_sorted(extra_total[spec.name], seq, mean * values[spec.name])
            at_zero = {**values, **{spec.name: np.zeros_like(values[spec.name])
                                    for spec in joint}}
            f_ref = target.apply(model.predictor.forward(ref_rows, context=at_zero))
        return np.einsum("s,ns...->n...", weights, grads), f_ref

    result = attribute_over_references(model, x, refs, target, multipliers, batch_size,
                                       progress, "integrated_gradients", correct_gradients,
                                       n_steps)
    if not joint:
        return result
    extra = {name: (total / k).astype(np.float32) for name, total in extra_total.items()}
    delta = result.delta + sum(v.reshape(len(x), -1).sum(axis=1) for v in extra.values())
    return MethodScores(result.scores, result.hypothetical, delta.astype(np.float32), extra,
                        result.predictions)


def expected_gradients(model, x, target, batch_size, progress, baseline="shuffle",
                       n_references: int = 20, seed: int = 0,
                       correct_gradients: bool = False, sample_index=0) -> MethodScores:
    """Expected gradients / gradient SHAP (Erion et al. 2021; Lundberg & Lee 2017).

    For each of ``n_references`` references, the gradient at one random point of the straight
    path from the reference to the input, times ``input - reference``, averaged. The random
    points are drawn from ``seed``, one per (sequence, reference) pair: reference ``k`` of the
    sequence of index ``i`` in the whole set takes draw ``i * n_references + k``.
    """
    refs = references(x, baseline, n_references, seed, sample_index)
    alphas = uniforms(seed, sample_indices(sample_index, len(x)),
                      refs.shape[1]).ravel().astype(np.float32)

    def multipliers(x_rows, ref_rows, pairs):
        alpha = alphas[pairs].reshape(-1, *(1,) * (x_rows.ndim - 1))
        grads = model.gradients.input_gradient(ref_rows + alpha * (x_rows - ref_rows), target,
                                               context=model.rows(pairs // refs.shape[1]))[0]
        return grads, None

    return attribute_over_references(model, x, refs, target, multipliers, batch_size, progress,
                                     "expected_gradients", correct_gradients)


def layer_integrated_gradients(model, x, layer, target, act, ref, batch_size, progress,
                               n_steps: int = 50, quadrature_rule: str = "gausslegendre"):
    """Integrated gradients in the activation space of ``layer`` (at the input if None): the
    layer outputs points of the straight path from ``ref`` to ``act`` and the rest of the model
    runs from there (Captum's ``LayerIntegratedGradients``).

    Parameters
    ----------
    layer : str or None
    act : numpy.ndarray
        The layer's activations for ``x`` (:meth:`~kipoi_explain.Model.activations` layout),
        or ``x`` itself at the input.
    ref : numpy.ndarray
        One sample's baseline activations, or one per sample.

    Returns
    -------
    attributions : numpy.ndarray
        Same shape as ``act``.
    delta : numpy.ndarray
        ``(N,)`` completeness gap ``sum(attributions) - (f(x) - f(baseline))``.
    """
    alphas, weights = quadrature(quadrature_rule, n_steps)
    alphas, weights = alphas.astype(np.float32), weights.astype(np.float32)
    refs = np.ascontiguousarray(np.broadcast_to(ref, act.shape), dtype=np.float32)
    total = np.zeros_like(act)
    sample = np.repeat(np.arange(len(x)), n_steps)
    step = np.tile(np.arange(n_steps), len(x))

    def gradients(lo, hi):
        rows = sample[lo:hi]
        alpha = alphas[step[lo:hi]].reshape(-1, *[1] * (act.ndim - 1))
        path = refs[rows] + alpha * (act[rows] - refs[rows])
        if layer is None:
            grad = model.gradients.input_gradient(path, target, context=model.rows(rows))[0]
        else:
            grad = model.layers.layer_gradient(x[rows], layer, target, path,
                                               context=model.rows(rows))[0]
        weight = weights[step[lo:hi]].reshape(alpha.shape)
        accumulate_sorted(total, rows, grad * weight)

    run_batches(gradients, len(sample), batch_size, progress, "integrated gradients")
    attributions = total * (act - refs)
    f_x = target.apply(model.predict(x, batch_size))
    if layer is None:
        f_ref = target.apply(model.predict(refs, batch_size))
    else:
        f_ref = run_batches(lambda lo, hi: model.layers.layer_gradient(
            x[lo:hi], layer, target, refs[lo:hi], context=model.rows(slice(lo, hi)))[2],
            len(x), batch_size)
    delta = attributions.reshape(len(x), -1).sum(axis=1) - (f_x - f_ref)
    return attributions.astype(np.float32), delta
