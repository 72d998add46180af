"""What a caller needs to know of a model and of the commands, wherever they run.

:class:`ModelInfo` describes a loaded model (its input layout, outputs, extra inputs, the
attribution methods that apply, ...): the command line reads its samples with it, in this
process or for a server, and a server lists its models with it. :class:`CommandInfo` is a
command's declaration as a server lists it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..attention_maps import attention_layers
from ..entity_map import declared_map, input_names
from ..errors import InputError
from ..layouts import ExtraInput, FeatureLayout, InputLayout, TokenLayout
from ..methods import available_methods
from ..outputs import Head
from ..outputs import describe as describe_heads
from ..samples import TOKENS, input_kind


@dataclass
class ModelInfo:
    """A model as its callers see it.

    Attributes
    ----------
    name, framework : str
    layout : InputLayout, FeatureLayout or TokenLayout
        The main input (token layouts carry their vocabulary and pad id).
    input_length : int or None
    output_names : list of str
    output_shape : list of int
    extra_inputs : list of ExtraInput
        Inputs besides the main one, each needed by every call.
    feature_names : list of str or None
        Names of the input features in input order (the input level of the model's
        ``entities.yaml``): a table's columns are put in this order.
    methods : list of str
        Attribution methods that explain this model.
    attention_layers : list of str
    entity_levels : list of str
        Levels of the model's ``entities.yaml``, from the input towards the output.
    fingerprint : str
        Hash of the weights, as in every result's model description.
    heads : list of Head
        The outputs of a model returning several arrays (:mod:`kipoi_explain.outputs`);
        empty for a model of one.
    """

    name: str
    framework: str
    layout: InputLayout | FeatureLayout | TokenLayout
    input_length: int | None
    output_names: list[str]
    output_shape: list[int]
    extra_inputs: list[ExtraInput] = field(default_factory=list)
    feature_names: list[str] | None = None
    methods: list[str] = field(default_factory=list)
    attention_layers: list[str] = field(default_factory=list)
    entity_levels: list[str] = field(default_factory=list)
    fingerprint: str = ""
    heads: list[Head] = field(default_factory=list)

    @property
    def input(self) -> str:
        """``dna``, ``features`` or ``tokens``."""
        return input_kind(self.layout)

    @property
    def takes_dna(self) -> bool:
        return isinstance(self.layout, InputLayout)

    @property
    def vocabulary(self) -> list[str] | None:
        return list(self.layout.vocabulary) if self.input == TOKENS else None

    def as_dict(self) -> dict:
        """The plain description (what ``Client.models()`` lists): ``input`` and
        ``input_shape`` of the main input, ``input_features``, ``extra_inputs`` as dicts,
        ``vocabulary`` and ``pad`` for token ids."""
        return {"name": self.name, "framework": self.framework,
                "input_length": self.input_length or 0, "output_names": self.output_names,
                "output_shape": self.output_shape, "methods": self.methods,
                "fingerprint": self.fingerprint, "input": self.input,
                "input_shape": [] if self.takes_dna else list(self.layout.shape),
                "attention_layers": self.attention_layers,
                "entity_levels": self.entity_levels,
                "input_features": list(self.feature_names or []),
                "extra_inputs": [{"name": e.name, "shape": list(e.shape), "kind": e.kind}
                                 for e in self.extra_inputs],
                "vocabulary": self.vocabulary or [],
                "heads": describe_heads(self.heads),
                "pad": self.layout.pad if self.input == TOKENS else 0}


def model_info(model, name: str | None = None, fingerprint: str | None = None) -> ModelInfo:
    """The description of a loaded model, under ``name`` (default its own: a server names its
    models itself), with its ``fingerprint`` when already known."""
    try:
        mapping = declared_map(model)
    except InputError:
        # A malformed entities.yaml is reported when entities are asked for.
        mapping = None
    return ModelInfo(
        name or model.name, model.framework, model.layout, model.input_length,
        list(model.output_names), list(model.output_shape), list(model.extra_inputs),
        input_names(model, mapping), available_methods(model), attention_layers(model),
        [level.name for level in mapping.levels] if mapping else [],
        fingerprint or model.fingerprint(), list(model.heads))


@dataclass
class ParamInfo:
    """One option of a command, as a server lists it."""

    name: str
    kind: str
    default: object = None
    help: str = ""


@dataclass
class CommandInfo:
    """A command, as a server lists it: its name, the models and samples it takes, its
    options."""

    name: str
    help: str
    accepts: list[str]
    samples: str
    params: list[ParamInfo]
