"""Kipoi models, loaded by Kipoi's own loader from a model directory or a local zoo checkout.

Kipoi's declarative model.yaml says everything an explanation needs: the framework model
(``PyTorchModel`` / ``KerasModel`` / ``SklearnModel``), the input layout (the default
dataloader's ``alphabet_axis``/``dummy_axis``/``alphabet``), the input length
(``auto_resize_len`` or the schema's input shape) and the output names (the targets'
``column_labels``). Nothing is fetched over the network: only ``source='dir'`` or a
:class:`kipoi.sources.LocalSource` is used.

A ``SklearnModel`` is wrapped as a model of one capability, the predictor
(:mod:`~kipoi_explain.backends.predict_function`), calling Kipoi's ``predict_on_batch``
(explained by perturbation methods only); scikit-learn takes 2-D input only, so a one-hot DNA
sample (the schema's ``(L, 4)``) reaches the estimator flattened row-major, as ``(n, L * 4)``.
"""
from __future__ import annotations

import os

from ..errors import InputError
from ..layouts import EXTRA_KINDS, ExtraInput, FeatureLayout, InputLayout, TokenLayout
from ..model import Model
from ..outputs import to_library_layout
from ..requirements import require_package
from .files import check_weights_file, load_error

SUPPORTED_TYPES = {"kipoi.model.PyTorchModel": "pytorch", "pytorch": "pytorch",
                   "kipoi.model.KerasModel": "keras", "keras": "keras",
                   "kipoi.model.SklearnModel": "sklearn", "sklearn": "sklearn"}


def kipoi_model(path: str | None = None, zoo: str | None = None, name: str | None = None,
                device: str | None = None, batch_size: int | str | None = None,
                precision: str = "float32", output_layout=None) -> Model:
    """Load a Kipoi model directory, or model ``name`` of a local zoo checkout ``zoo``.

    Which axis of each target holds the tasks is read from ``outputs.yaml`` beside
    model.yaml (:data:`OUTPUTS_FILE`) where the schema's labels do not settle it;
    ``output_layout`` overrides it.

    Raises
    ------
    InputError
        If the directory has no model.yaml, the model is not in the checkout, or its type,
        inputs or targets are of a kind not supported yet.
    """
    kipoi = require_package("kipoi", "a Kipoi model directory")
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
    _check_yaml(os.path.join(model_dir, "model.yaml"), where)
    try:
        descr = source.get_model_descr(ref)
    except Exception as err:  # noqa: BLE001 - Kipoi's words for any model.yaml it refuses
        raise load_error(where, err, "model.yaml") from None
    kind = SUPPORTED_TYPES.get(descr.defined_as or descr.type)
    if kind is None:
        raise InputError(f"{where}: model type {descr.defined_as or descr.type} is not supported "
                         f"yet; supported: {', '.join(sorted(set(SUPPORTED_TYPES)))}")
    layout, input_length, extras, names, keyword = _inputs(descr, model_dir, where)
    declared_shapes, output_names, declared_layout = _outputs(descr, model_dir, where)
    output_layout = output_layout if output_layout is not None else declared_layout
    info = {"type": "kipoi", "kipoi_class": descr.defined_as or descr.type, "path": model_dir,
            "doc": descr.info.doc}
    if kind != "pytorch" and precision != "float32":
        raise InputError(f"{where}: precision='mixed' applies to PyTorch models only; this is "
                         f"a {kind} model")
    if kind == "sklearn" and batch_size == "auto":
        raise InputError(f"{where}: batch_size='auto' sizes blocks to a network's activations; "
                         "give a number of rows for a scikit-learn model")
    if extras and kind != "pytorch":
        raise InputError(f"{where}: models with several inputs are supported for PyTorch "
                         f"only yet; this is a {kind} model")
    # The backend first: a framework that is not installed is named before Kipoi imports it.
    backend = _backend(kind)
    loaded = _load(kipoi, ref, source, descr, model_dir, where)
    if kind == "pytorch":
        model = backend(loaded.model, input_length, output_names, layout, name, device,
                        batch_size, info, extras, names, keyword, precision, output_layout)
    elif kind == "keras":
        model = backend(loaded.model, output_names, layout, name, batch_size, info,
                        output_layout)
    else:
        if len(declared_shapes) > 1:
            raise InputError(f"{where}: a {kind} model of several output arrays is not "
                             "supported; PyTorch and Keras models are")
        model = backend(loaded.predict_on_batch, input_length, output_names, layout,
                        name, batch_size, flatten=isinstance(layout, InputLayout),
                        state=loaded.model, source=info)
    _check_shapes(model, declared_shapes, where)
    return model


def _check_shapes(model: Model, declared: dict, where: str) -> None:
    """The shapes the model returns, against those model.yaml declares (in the model's own
    axis order: each is compared once its task axis is moved last)."""
    if model.heads and len(model.heads) != len(declared):
        raise InputError(f"{where}: model.yaml declares {len(declared)} target arrays, the "
                         f"model returns {len(model.heads)}")
    axes = getattr(model.predictor, "task_axes", None) or (None,)
    returned = [h.shape for h in model.heads] or [tuple(model.output_shape)]
    for (name, shape), axis, got in zip(declared.items(), axes, returned):
        if (to_library_layout(shape, axis) or (1,)) != got:
            label = f" {name!r}" if model.heads else ""
            raise InputError(f"{where}: model.yaml declares target{label} of shape {shape}, the "
                             f"model returns {got} (tasks last)")


def _check_yaml(path: str, where: str) -> None:
    """Refuse, naming the line, a model.yaml that is no YAML mapping with a model class
    (parsed, not constructed: Kipoi's own tags stay Kipoi's to read)."""
    import yaml

    if not os.path.isfile(path):
        raise InputError(f"{where}: no model.yaml found")
    try:
        with open(path) as handle:
            root = yaml.compose(handle)
    except yaml.YAMLError as err:
        raise _yaml_error(err, where, "model.yaml") from None
    if not isinstance(root, yaml.MappingNode):
        kind = "nothing" if root is None else f"a {root.id}"
        raise InputError(f"{where}: model.yaml holds {kind}; expected a mapping with "
                         "defined_as, args and schema")
    keys = {key.value for key, _ in root.value if isinstance(key, yaml.ScalarNode)}
    if not keys & {"defined_as", "type"}:
        raise InputError(f"{where}: model.yaml has no defined_as (the model's class, e.g. "
                         "kipoi.model.PyTorchModel)")


def _yaml_error(err, where: str, name: str) -> InputError:
    """A file that is no YAML, in one line naming it and the line of the problem."""
    mark = getattr(err, "problem_mark", None)
    line = f", line {mark.line + 1}" if mark is not None else ""
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    return InputError(f"{where}: {name}{line}: {problem}")


def _side_file(model_dir: str, name: str, where: str):
    """The content of the optional YAML file ``name`` beside model.yaml ({} when absent)."""
    import yaml

    path = os.path.join(model_dir, name)
    if not os.path.isfile(path):
        return {}
    try:
        with open(path) as handle:
            return yaml.safe_load(handle) or {}
    except yaml.YAMLError as err:
        raise _yaml_error(err, where, name) from None


def _load(kipoi, ref, source, descr, model_dir: str, where: str):
    """Kipoi's loaded model; a file it cannot load (the weights, the model's Python module)
    is a one-line error naming it."""
    args = descr.args if isinstance(descr.args, dict) else {}
    weights, module = args.get("weights"), args.get("module_file")
    if isinstance(weights, str):
        check_weights_file(os.path.join(model_dir, weights), where)
    try:
        return kipoi.get_model(ref, source=source, with_dataloader=False)
    except Exception as err:  # noqa: BLE001 - every failure of a bad file, said in one line
        code = isinstance(err, (SyntaxError, ImportError, AttributeError, NameError))
        raise load_error(where, err, module if code else weights) from None


def _backend(kind: str):
    """The function that wraps a loaded model of ``kind``."""
    if kind == "pytorch":
        from .torch import torch_model

        return torch_model
    if kind == "keras":
        from .keras import keras_model

        return keras_model
    from .predict_function import callable_model

    return callable_model


#: Optional file beside model.yaml saying what kind each input is, where the schema cannot:
#: ``{input name: {kind: dna | track | features | tokens, vocabulary: FILE, pad: TOKEN}}``.
INPUTS_FILE = "inputs.yaml"


def _inputs(descr, model_dir: str, where: str):
    """The main input's layout and length, the extra inputs, every input's name in call order,
    and whether the model takes its inputs by keyword (a dict schema)."""
    schema = descr.schema.inputs
    declared = _declared_kinds(model_dir, where)
    args = dict(getattr(descr.default_dataloader, "default_args", None) or {})
    if hasattr(schema, "shape"):
        layout, length = _main_layout(schema, declared.get(schema.name), model_dir, where, args)
        return layout, length, (), (), False
    keyword = isinstance(schema, dict)
    fields = list(schema.items()) if keyword else [(f.name, f) for f in schema]
    unnamed = [i for i, (name, _) in enumerate(fields) if not name]
    if unnamed:
        raise InputError(f"{where}: input {unnamed[0]} of the schema has no name")
    unknown = sorted(set(declared) - {name for name, _ in fields})
    if unknown:
        raise InputError(f"{where}: {INPUTS_FILE} declares input(s) {', '.join(unknown)} the "
                         f"schema does not have; it has {', '.join(n for n, _ in fields)}")
    kinds = {name: (declared.get(name) or {}).get("kind") or
             ("dna" if _is_dna(field, args) else None) for name, field in fields}
    main = next((name for name, _ in fields if kinds[name] == "dna"),
                next((name for name, _ in fields if kinds[name] == "tokens"), fields[0][0]))
    field_of = dict(fields)
    layout, length = _main_layout(field_of[main], declared.get(main), model_dir, where, args)
    extras = []
    for name, field in fields:
        if name == main:
            continue
        shape = tuple(field.shape)
        if None in shape:
            raise InputError(f"{where}: input {name!r} of shape {shape}: extra inputs need a "
                             "fixed shape")
        kind = kinds[name] or ("track" if length in shape and len(shape) == 2 else "features")
        if kind == "dna":
            raise InputError(f"{where}: inputs {main!r} and {name!r} are both DNA; one DNA "
                             "input is supported")
        if kind == "track" and layout.channels_first:
            shape = shape[::-1]
        extras.append(ExtraInput(name, shape, kind))
    return layout, length, tuple(extras), tuple(n for n, _ in fields), keyword


def _declared_kinds(model_dir: str, where: str) -> dict:
    content = _side_file(model_dir, INPUTS_FILE, where)
    if not isinstance(content, dict) or not all(isinstance(v, dict) for v in content.values()):
        raise InputError(f"{where}: {INPUTS_FILE}: expected a mapping of input names to "
                         "{kind: ..., ...}")
    for name, entry in content.items():
        if entry.get("kind") not in ("dna", *EXTRA_KINDS):
            raise InputError(f"{where}: {INPUTS_FILE}, input {name!r}: kind "
                             f"{entry.get('kind')!r}, expected one of dna, "
                             f"{', '.join(EXTRA_KINDS)}")
    return content


def _main_layout(schema, declared: dict | None, model_dir: str, where: str, args: dict):
    kind = (declared or {}).get("kind")
    if kind == "tokens":
        return _token_layout(schema, declared, model_dir, where), None
    if kind == "track":
        raise InputError(f"{where}: {INPUTS_FILE}, input {schema.name!r}: a track is an extra "
                         "input along a DNA input; the model's main input is DNA, features or "
                         "tokens")
    if kind == "features":
        shape = tuple(schema.shape)
        if None in shape:
            raise InputError(f"{where}: input {schema.name!r} of shape {shape}: features need "
                             "a fixed shape")
        return FeatureLayout(shape), None
    return _layout(schema, where, args)


def _token_layout(schema, declared: dict, model_dir: str, where: str) -> TokenLayout:
    shape = tuple(schema.shape)
    if len(shape) != 1 or shape[0] is None:
        raise InputError(f"{where}: token input {schema.name!r} of shape {shape}: expected "
                         "(length,)")
    vocab_file = declared.get("vocabulary")
    path = os.path.join(model_dir, str(vocab_file))
    if not vocab_file or not os.path.isfile(path):
        raise InputError(f"{where}: {INPUTS_FILE}, input {schema.name!r}: vocabulary "
                         f"{vocab_file!r} must name a file beside model.yaml, one token per line")
    with open(path) as handle:
        vocabulary = tuple(line.strip() for line in handle if line.strip())
    if not vocabulary:
        raise InputError(f"{where}: {INPUTS_FILE}, input {schema.name!r}: vocabulary "
                         f"{vocab_file} is empty; expected one token per line")
    pad = declared.get("pad", vocabulary[0])
    if pad not in vocabulary:
        raise InputError(f"{where}: {INPUTS_FILE}, input {schema.name!r}: pad token {pad!r} is "
                         f"not in the vocabulary {vocab_file}")
    return TokenLayout(int(shape[0]), vocabulary, vocabulary.index(pad))


def _sample_axes(schema, args: dict) -> list:
    """One sample's axes, without the dataloader's extra length-1 axis."""
    return [s for i, s in enumerate(tuple(schema.shape)) if i != args.get("dummy_axis")]


def _is_dna(schema, args: dict) -> bool:
    """One-hot DNA: two axes, one of them the 4 bases, and no special type but DNASeq."""
    sample = _sample_axes(schema, args)
    return len(sample) == 2 and 4 in sample and _special_type(schema) in (None, "DNASeq")


def _layout(schema, where: str, args: dict) -> tuple[InputLayout | FeatureLayout, int | None]:
    shape = tuple(schema.shape)
    if not _is_dna(schema, args):
        if None in shape:
            raise InputError(f"{where}: input shape {shape} is neither one-hot DNA ((L, 4) or "
                             "(4, L)) nor features of a fixed shape")
        return FeatureLayout(shape), None
    sample = _sample_axes(schema, args)
    # A dataloader that does not name its alphabet axis (not kipoiseq's) is read from the shape.
    axis = int(args["alphabet_axis"]) if "alphabet_axis" in args else (0 if sample[0] == 4 else 1)
    layout = InputLayout(alphabet=args.get("alphabet", "ACGT"), alphabet_axis=axis,
                         dummy_axis=args.get("dummy_axis"))
    lengths = [s for s in shape if s not in (None, 1, 4)]
    length = args.get("auto_resize_len") or (lengths[0] if lengths else None)
    return layout, (int(length) if length else None)


def _special_type(schema) -> str | None:
    special = getattr(schema, "special_type", None)
    return getattr(special, "value", special)


#: Optional file beside model.yaml saying which axis of each target holds the tasks, where
#: the schema cannot: ``{target name: {layout: "tasks,bins"}}`` (see
#: :mod:`kipoi_explain.outputs`).
OUTPUTS_FILE = "outputs.yaml"


def _outputs(descr, model_dir: str, where: str) -> tuple[dict, object, object]:
    """The targets' declared shapes by name (in the model's own axis order), the output names
    to load the model with (task labels; by target for several) and the output layout."""
    schema = descr.schema.targets
    several = not hasattr(schema, "shape")
    fields = (list(schema.items()) if isinstance(schema, dict) else
              [(f.name, f) for f in schema]) if several else [(schema.name or "targets", schema)]
    if several and any(not name for name, _ in fields):
        raise InputError(f"{where}: every target of a model of several needs a name in the "
                         "schema")
    shapes = {name: tuple(field.shape) for name, field in fields}
    layouts = _declared_layouts(model_dir, list(shapes), where)
    if several:
        labels = {name: list(field.column_labels) if field.column_labels else None
                  for name, field in fields}
        return shapes, labels, layouts or None
    return shapes, list(schema.column_labels or []) or None, next(iter(layouts.values()), None)


def _declared_layouts(model_dir: str, targets: list, where: str) -> dict:
    content = _side_file(model_dir, OUTPUTS_FILE, where)
    if not isinstance(content, dict) or not all(isinstance(v, dict) and "layout" in v
                                                for v in content.values()):
        raise InputError(f"{where}: {OUTPUTS_FILE}: expected a mapping of target names to "
                         "{layout: ...}, e.g. {profile: {layout: 'tasks,bins'}}")
    unknown = sorted(str(k) for k in content if k not in targets)
    if unknown:
        raise InputError(f"{where}: {OUTPUTS_FILE} names target(s) {', '.join(unknown)} the "
                         f"schema does not have; it has {', '.join(map(str, targets))}")
    return {str(name): str(entry["layout"]) for name, entry in content.items()}
