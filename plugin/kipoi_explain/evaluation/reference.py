"""Reference models for the benchmark: small CNNs trained here on the simulated task, so that a
user can see what a network built to be readable (an exponential first layer) gives against
one that is not (relu), on the same sequences and methods."""
from __future__ import annotations

from ..diagnostics.stats import auroc
from ..errors import InputError
from ..requirements import require_package
from .simulate import NEGATIVE, POSITIVE, simulate

#: First-layer activations of the reference CNNs.
ACTIVATIONS = ("relu", "exponential")
#: The prefix that names a reference model where a model is named (``reference:relu``).
PREFIX = "reference:"


def reference_model(activation: str = "exponential", n: int = 20000, length: int = 200,
                    positive=POSITIVE, negative=NEGATIVE, n_motifs: tuple[int, int] = (3, 7),
                    epochs: int = 10, seed: int = 1, progress: bool = False):
    """Train Koo & Ploenzke's shallow CNN (Keras) on ``n`` simulated sequences.

    The training sequences are drawn with ``seed`` (default 1), apart from the evaluation's
    (default 0). The held-out AUROC, on 2,000 sequences of ``seed + 1``, is in the model's
    description (``describe()["heldout_auroc"]``). Keras sets its global seeds
    (Python, NumPy, TensorFlow) from ``seed`` while it builds and trains.

    Raises
    ------
    InputError
        For another activation.
    MissingDependency
        Without TensorFlow/Keras (the ``keras`` extra).
    """
    if activation not in ACTIVATIONS:
        raise InputError(f"reference activation {activation!r}: expected one of "
                         f"{', '.join(ACTIVATIONS)}")
    require_package("keras", "reference models")
    from ..backends.keras import keras_model
    from ..backends.keras.reference import fit, shallow_cnn

    train = simulate(n, length, positive, negative, n_motifs, seed=seed)
    network = shallow_cnn(length, activation, seed)
    fit(network, train.x, train.labels, epochs, seed, progress)
    heldout = simulate(2000, length, positive, negative, n_motifs, seed=seed + 1)
    source = {"type": "reference CNN", "activation": activation,
              "trained_on": train.settings, "epochs": epochs}
    trained = keras_model(network, output_names=["positive"], name=network.name, source=source)
    # Wrapped again to carry its held-out AUROC, which needs the wrapped model to predict.
    return keras_model(network, output_names=["positive"], name=network.name,
                       source={**source, "heldout_auroc": auroc(
                           heldout.labels, trained.predict(heldout.x)[:, 0])})


def named_reference(name: str) -> str | None:
    """The activation of a model named ``reference:ACTIVATION``, else None."""
    if not isinstance(name, str) or not name.startswith(PREFIX):
        return None
    activation = name[len(PREFIX):]
    if activation not in ACTIVATIONS:
        raise InputError(f"model {name!r}: a reference model is {PREFIX}relu or "
                         f"{PREFIX}exponential")
    return activation
