"""Backends: any supported model in, one :class:`~kipoi_explain.Model` with its capabilities out.

``backends.torch`` and ``backends.keras`` are imported only when a model of that framework is
loaded, so ``import kipoi_explain`` loads neither PyTorch nor TensorFlow; a framework that is
not installed is a :class:`~kipoi_explain.errors.MissingDependency` naming the extra to
install (:func:`~kipoi_explain.requirements.require_package`).
"""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError
from ..model import Model

KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")

__all__ = ["KERAS_SUFFIXES", "load_model"]


def load_model(source, **options) -> Model:
    """Load a model, with the capabilities its framework supports.

    Parameters
    ----------
    source : str, Path, torch.nn.Module, keras.Model, callable or Model
        A Kipoi model directory (holding model.yaml); a Kipoi model name together with
        ``zoo=`` (a local checkout of the Kipoi model zoo); a ``torch.nn.Module``; a Keras 3
        model or a ``.keras`` / ``.h5`` file; any other callable ``predict(x) -> array`` (e.g.
        a scikit-learn ``estimator.predict_proba``), taking a numpy batch in ``layout`` and
        explained by perturbation methods only (see
        :mod:`~kipoi_explain.backends.predict_function`).
        A :class:`Model` is returned unchanged.
    **options
        ``zoo`` (Kipoi zoo checkout), ``device`` (PyTorch: "cpu", "cuda", "auto"), ``batch_size``
        (rows per block; by default, or ``"auto"``, PyTorch and Keras models size their blocks to
        the device's free memory and their activations), ``precision`` (PyTorch: ``"float32"``, or
        ``"mixed"`` for bfloat16 autocast), ``input_length`` (needed for a bare torch module or a
        callable of DNA), ``output_names``, ``layout`` (:class:`~kipoi_explain.InputLayout`, to
        override what is inferred; a callable defaults to one-hot ``(N, L, 4)`` A, C, G, T; give
        ``FeatureLayout((F,))`` for features, ``TokenLayout(length, vocabulary)`` for token ids),
        ``name``; for a torch module of several inputs, ``extra_inputs`` (a sequence of
        :class:`~kipoi_explain.ExtraInput`), ``input_names`` and ``keyword_inputs`` (see
        :func:`~kipoi_explain.backends.torch.torch_model`); ``output_layout`` (which axis of each
        output holds the tasks, e.g. ``"tasks,bins"``, or a dict by output name: see
        :mod:`~kipoi_explain.outputs`). ``output_names`` is a dict ``{output: [tasks]}`` or a list
        of output names for a model returning several arrays.

    Returns
    -------
    Model

    Raises
    ------
    InputError
        If the source is none of the above, or the options do not fit it.
    MissingDependency
        If the model's framework (or Kipoi) is not installed.
    """
    if isinstance(source, Model):
        return source
    if _is_instance(source, "torch.nn", "Module"):
        from .torch import torch_model

        return torch_model(source, **_only(options, "input_length", "output_names", "layout",
                                           "name", "device", "batch_size", "extra_inputs",
                                           "input_names", "keyword_inputs", "precision",
                                           "output_layout"))
    if _is_instance(source, "keras", "Model"):
        from .keras import keras_model

        return keras_model(source, **_only(options, "output_names", "layout", "name",
                                           "batch_size", "output_layout"))
    if isinstance(source, (str, os.PathLike)):
        zoo = options.pop("zoo", None)
        if zoo is not None:
            from .kipoi import kipoi_model

            return kipoi_model(zoo=zoo, name=str(source),
                               **_only(options, "device", "batch_size", "precision",
                                       "output_layout"))
        path = Path(source)
        if path.is_dir():
            from .kipoi import kipoi_model

            return kipoi_model(str(path), **_only(options, "device", "batch_size", "precision",
                                                  "output_layout"))
        if path.suffix in KERAS_SUFFIXES:
            from .keras import keras_model

            return keras_model(str(path), **_only(options, "output_names", "layout", "name",
                                                  "batch_size", "output_layout"))
        raise InputError(f"model {str(source)!r}: not a Kipoi model directory nor a "
                         f"{'/'.join(KERAS_SUFFIXES)} file (for a zoo model give zoo=CHECKOUT, "
                         "on the command line --zoo CHECKOUT)")
    if callable(source):
        from .predict_function import callable_model

        return callable_model(source, **_only(options, "input_length", "output_names", "layout",
                                              "name", "batch_size"))
    raise InputError(f"cannot load a model from {type(source).__name__}; expected a Kipoi model "
                     "directory, a torch.nn.Module, a Keras model, a .keras/.h5 file or a "
                     "predict function")


def _is_instance(obj, module_prefix: str, class_name: str) -> bool:
    """isinstance check by name, so neither framework is imported unless it is used."""
    return any(cls.__name__ == class_name and cls.__module__.startswith(module_prefix)
               for cls in type(obj).__mro__)


def _only(options: dict, *allowed: str) -> dict:
    unknown = sorted(k for k, v in options.items() if v is not None and k not in allowed)
    if unknown:
        raise InputError(f"option(s) {', '.join(unknown)} do not apply to this kind of model; "
                         f"it takes {', '.join(allowed)}")
    return {key: value for key, value in options.items() if value is not None}
