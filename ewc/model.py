"""The report's Appendix A CNN and a fully connected alternative; both map (B, S, S, 1) floats in [0, 1] to
(B, 10) class probabilities (softmax). S is the image side: MNIST's 28, or 32 for zero-padded images."""

from __future__ import annotations

from ewc.backend import require_tensorflow_backend

require_tensorflow_backend()  # before Keras picks its backend: it cannot switch once imported
import keras  # noqa: E402
from keras import ops  # noqa: E402

from ewc.config import ARCHS  # noqa: E402
from ewc.errors import ConfigError  # noqa: E402

CNN_PARAMETERS = 13_906_570  # Appendix A, counted by hand: 640 + 12544*1024+1024 + 1024*1024+1024 + 1024*10+10


class MaxPool2x2(keras.layers.MaxPooling2D):
    """``MaxPooling2D(pool_size=(2, 2))`` computed as a reshape (B, H/2, 2, W/2, 2, C) and a max over the two 2-axes.

    The same function (H and W even, channels last), but its gradient is an elementwise mask that XLA fuses, where
    Keras' pooling lowers to select-and-scatter, which XLA on the CPU runs as a separate, unfused loop.
    Gradients differ only on exact ties inside a window, which after a ReLU are zeros whose gradient is zero anyway.
    """

    def __init__(self, **kwargs):
        super().__init__(pool_size=(2, 2), **kwargs)

    def call(self, inputs):
        _, h, w, c = inputs.shape
        return ops.max(ops.reshape(inputs, (-1, h // 2, 2, w // 2, 2, c)), axis=(2, 4))

    def get_config(self):
        config = super().get_config()
        for key in ("pool_size", "strides", "padding", "data_format"):
            config.pop(key, None)
        return config


def appendix_a_cnn(keras_pooling: bool = False, image_size: int = 28) -> keras.Sequential:
    """The report's Appendix A model (13,906,570 parameters on 28 x 28 images), layer for layer; its max-pool is
    ``MaxPool2x2`` (the same function, faster to train) unless ``keras_pooling`` asks for Keras' own ``MaxPooling2D``
    (the report's code). On ``image_size`` 32 the same layers see 32 x 32 inputs, so fc1 takes 16 * 16 * 64 inputs."""
    layers = keras.layers
    pool = layers.MaxPooling2D(pool_size=(2, 2), name="pool1") if keras_pooling else MaxPool2x2(name="pool1")
    return keras.Sequential(
        [
            keras.Input(shape=(image_size, image_size, 1), name="input"),
            layers.Dropout(rate=0.2, name="dropout1"),
            layers.Conv2D(64, (3, 3), padding="same", activation="relu", name="conv1-1"),
            pool,
            layers.Flatten(name="flatten"),
            layers.Dense(1024, activation="relu", name="fc1"),
            layers.Dropout(rate=0.5, name="dropout2"),
            layers.Dense(1024, activation="relu", name="fc2"),
            layers.Dropout(rate=0.5, name="dropout3"),
            layers.Dense(10, activation="softmax", name="output"),
        ],
        name="appendix_a_cnn",
    )


def mlp(hidden: tuple[int, ...] = (400, 400), image_size: int = 28) -> keras.Sequential:
    """A fully connected ReLU network (image_size^2)-hidden...-10, for the report's 'a fully connected network'
    question."""
    layers = [keras.Input(shape=(image_size, image_size, 1), name="input"), keras.layers.Flatten(name="flatten")]
    layers += [keras.layers.Dense(h, activation="relu", name=f"fc{i + 1}") for i, h in enumerate(hidden)]
    layers += [keras.layers.Dense(10, activation="softmax", name="output")]
    return keras.Sequential(layers, name="mlp_" + "_".join(map(str, hidden)))


def build_model(arch: str, mlp_hidden: tuple[int, ...] = (400, 400), image_size: int = 28) -> keras.Sequential:
    """``arch`` is ``"cnn"`` (Appendix A) or ``"mlp"``, for ``image_size`` x ``image_size`` images."""
    if arch == "cnn":
        return appendix_a_cnn(image_size=image_size)
    if arch == "mlp":
        return mlp(tuple(mlp_hidden), image_size)
    raise ConfigError(f"unknown arch {arch!r}; choose from {', '.join(ARCHS)}")
