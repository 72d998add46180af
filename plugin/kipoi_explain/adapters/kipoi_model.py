"""Kipoi models, loaded by Kipoi's own loader from a model directory or a local zoo checkout.

Kipoi's declarative model.yaml says everything an explanation needs: the framework model
(``PyTorchModel`` / ``KerasModel`` / ``SklearnModel``), the input layout (the default
dataloader's ``alphabet_axis``/``dummy_axis``/``alphabet``), the input length
(``auto_resize_len`` or the schema's input shape) and the output names (the targets'
``column_labels``). Nothing is fetched over the network: only ``source='dir'`` or a
:class:`kipoi.sources.LocalSource` is used.

A ``SklearnModel`` is wrapped as a :class:`~kipoi_explain.adapters.callable_model.CallableModel`
calling Kipoi's ``predict_on_batch`` (explained by perturbation methods only); scikit-learn
takes 2-D input only, so a one-hot DNA sample (the schema's ``(L, 4)``) reaches the estimator
flattened row-major, as ``(n, L * 4)``.
"""
from __future__ import annotations

import os

from ..errors import InputError
from .base import FeatureLayout, InputLayout, Model

SUPPORTED_TYPES = {"kipoi.model.PyTorchModel": "pytorch", "pytorch": "pytorch",
                   "kipoi.model.KerasModel": "keras", "keras": "keras",
                   "kipoi.model.SklearnModel": "sklearn", "sklearn": "sklearn"}


def kipoi_model(path: str | None = None, zoo: str | None = None, name: str | None = None,
                device: str | None = None, batch_size: int | None = None) -> Model:
    """Load a Kipoi model directory, or model ``name`` of a local zoo checkout ``zoo``.

    Raises
    ------
    InputError
        If the directory has no model.yaml, the model is not in the checkout, or its type,
        inputs or targets are of a kind not supported yet.
    """
    import kipoi
    from kipoi.sources import LocalSource

    if zoo is not None:
        if not os.path.isdir(zoo):
            raise InputError(f"Kipoi zoo checkout {zoo!r} is not a directory")
        source, ref = LocalSource(zoo), name
        where = f"model {name!r} of the zoo checkout {zoo!r}"
        try:
            model_dir = source.get_model_dir(ref)
        except ValueError:
            raise InputError(f"{where}: no model.yaml found") from None
    else:
        ref = model_dir = os.path.abspath(path)
        source, name = kipoi.config.get_source("dir"), os.path.basename(ref.rstrip("/"))
        where = f"Kipoi model directory {path!r}"
    if not os.path.isfile(os.path.join(model_dir, "model.yaml")):
        raise InputError(f"{where}: no model.yaml found")
    descr = source.get_model_descr(ref)
    kind = SUPPORTED_TYPES.get(descr.defined_as or descr.type)
    if kind is None:
        raise InputError(f"{where}: model type {descr.defined_as or descr.type} is not supported "
                         f"yet; supported: {', '.join(sorted(set(SUPPORTED_TYPES)))}")
    layout, input_length = _layout(descr, where)
    output_shape, output_names = _outputs(descr, where)
    loaded = kipoi.get_model(ref, source=source, with_dataloader=False)
    info = {"type": "kipoi", "kipoi_class": descr.defined_as or descr.type, "path": model_dir,
            "doc": descr.info.doc}
    if kind == "pytorch":
        from .torch_model import torch_model

        model = torch_model(loaded.model, input_length, output_names or None, layout, name,
                            device, batch_size, info)
    elif kind == "keras":
        from .keras_model import keras_model

        model = keras_model(loaded.model, output_names or None, layout, name, batch_size, info)
    else:
        from .callable_model import callable_model

        model = callable_model(loaded.predict_on_batch, input_length, output_names or None,
                               layout, name, batch_size, flatten=isinstance(layout, InputLayout),
                               state=loaded.model, source=info)
    if tuple(model.output_shape) != output_shape:
        raise InputError(f"{where}: model.yaml declares target shape {output_shape}, the model "
                         f"returns {model.output_shape}")
    return model


def _layout(descr, where: str) -> tuple[InputLayout | FeatureLayout, int | None]:
    schema = descr.schema.inputs
    if not hasattr(schema, "shape"):
        raise InputError(f"{where}: models with several inputs are not supported yet")
    args = dict(getattr(descr.default_dataloader, "default_args", None) or {})
    shape = tuple(schema.shape)
    dummy_axis = args.get("dummy_axis")
    sample = [s for i, s in enumerate(shape) if i != dummy_axis]
    if len(sample) != 2 or 4 not in sample or _special_type(schema) not in (None, "DNASeq"):
        if None in shape:
            raise InputError(f"{where}: input shape {shape} is neither one-hot DNA ((L, 4) or "
                             "(4, L)) nor features of a fixed shape")
        return FeatureLayout(shape), None
    # A dataloader that does not name its alphabet axis (not kipoiseq's) is read from the shape.
    axis = int(args["alphabet_axis"]) if "alphabet_axis" in args else (0 if sample[0] == 4 else 1)
    layout = InputLayout(alphabet=args.get("alphabet", "ACGT"), alphabet_axis=axis,
                         dummy_axis=dummy_axis)
    lengths = [s for s in shape if s not in (None, 1, 4)]
    length = args.get("auto_resize_len") or (lengths[0] if lengths else None)
    return layout, (int(length) if length else None)


def _special_type(schema) -> str | None:
    special = getattr(schema, "special_type", None)
    return getattr(special, "value", special)


def _outputs(descr, where: str) -> tuple[tuple[int, ...], list[str]]:
    schema = descr.schema.targets
    if not hasattr(schema, "shape"):
        raise InputError(f"{where}: models with several output arrays are not supported yet")
    labels = list(schema.column_labels or [])
    return tuple(schema.shape) or (1,), labels
