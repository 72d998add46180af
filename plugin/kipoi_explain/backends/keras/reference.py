"""The CNNs of Koo & Ploenzke (2021) that the evaluation benchmark trains as references: the
shallow network of ``../shared/models/koo2023`` (its README), with a relu or exponential first
layer. Keras, so that DeepLIFT's rules cover the exponential as any elementwise activation."""
from __future__ import annotations

import keras
import numpy as np

#: First-layer activations a reference network may have.
ACTIVATIONS = ("relu", "exponential")


def shallow_cnn(length: int, activation: str, seed: int = 0) -> keras.Model:
    """Conv 24 x 19 (same) -> batch norm -> ``activation`` -> dropout 0.1 -> max-pool 50 ->
    conv 48 x 3 -> batch norm -> relu -> dropout 0.2 -> max-pool 2 -> dense 96 -> batch norm ->
    relu -> dropout 0.5 -> dense 1 -> sigmoid; weights drawn from ``seed``."""
    keras.utils.set_random_seed(seed)
    layers = keras.layers
    inputs = keras.Input((length, 4))
    h = inputs
    for filters, width, act, drop, pool in ((24, 19, activation, 0.1, 50),
                                           (48, 3, "relu", 0.2, 2)):
        h = layers.Conv1D(filters, width, padding="same")(h)
        h = layers.BatchNormalization()(h)
        h = layers.Activation(act)(h)
        h = layers.Dropout(drop)(h)
        h = layers.MaxPool1D(min(pool, int(h.shape[1])))(h)
    h = layers.Flatten()(h)
    h = layers.Dense(96)(h)
    h = layers.BatchNormalization()(h)
    h = layers.Activation("relu")(h)
    h = layers.Dropout(0.5)(h)
    outputs = layers.Activation("sigmoid")(layers.Dense(1)(h))
    return keras.Model(inputs, outputs, name=f"reference_cnn_{activation}")


def fit(model: keras.Model, x: np.ndarray, y: np.ndarray, epochs: int, seed: int = 0,
        progress: bool = False) -> None:
    """Adam (learning rate 1e-3), binary cross-entropy, batches of 100, ``epochs`` passes;
    the stage ``training``, its progress counted in epochs."""
    from ...stages import stage

    keras.utils.set_random_seed(seed)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
    with stage("training", total=epochs, unit="epoch", progress=progress) as advance:
        model.fit(x, y.astype(np.float32)[:, None], batch_size=100, epochs=epochs, verbose=0,
                  shuffle=True,
                  callbacks=[keras.callbacks.LambdaCallback(on_epoch_end=lambda *_: advance())])
