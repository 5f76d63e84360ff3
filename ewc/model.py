"""The report's Appendix A CNN and a fully connected alternative; both map (B, 28, 28, 1) floats in [0, 1] to
(B, 10) class probabilities (softmax)."""

from __future__ import annotations

import keras

from ewc.config import ARCHS
from ewc.errors import ConfigError

CNN_PARAMETERS = 13_906_570  # Appendix A, counted by hand: 640 + 12544*1024+1024 + 1024*1024+1024 + 1024*10+10


def appendix_a_cnn() -> keras.Sequential:
    """Exactly the report's Appendix A model (13,906,570 parameters)."""
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1), name="input"),
            layers.Dropout(rate=0.2, name="dropout1"),
            layers.Conv2D(64, (3, 3), padding="same", activation="relu", name="conv1-1"),
            layers.MaxPooling2D(pool_size=(2, 2), name="pool1"),
            layers.Flatten(name="flatten"),
            layers.Dense(1024, activation="relu", name="fc1"),
            layers.Dropout(rate=0.5, name="dropout2"),
            layers.Dense(1024, activation="relu", name="fc2"),
            layers.Dropout(rate=0.5, name="dropout3"),
            layers.Dense(10, activation="softmax", name="output"),
        ],
        name="appendix_a_cnn",
    )


def mlp(hidden: tuple[int, ...] = (400, 400)) -> keras.Sequential:
    """A fully connected ReLU network 784-hidden...-10, for the report's 'a fully connected network' question."""
    layers = [keras.Input(shape=(28, 28, 1), name="input"), keras.layers.Flatten(name="flatten")]
    layers += [keras.layers.Dense(h, activation="relu", name=f"fc{i + 1}") for i, h in enumerate(hidden)]
    layers += [keras.layers.Dense(10, activation="softmax", name="output")]
    return keras.Sequential(layers, name="mlp_" + "_".join(map(str, hidden)))


def build_model(arch: str, mlp_hidden: tuple[int, ...] = (400, 400)) -> keras.Sequential:
    """``arch`` is ``"cnn"`` (Appendix A) or ``"mlp"``."""
    if arch == "cnn":
        return appendix_a_cnn()
    if arch == "mlp":
        return mlp(tuple(mlp_hidden))
    raise ConfigError(f"unknown arch {arch!r}; choose from {', '.join(ARCHS)}")
