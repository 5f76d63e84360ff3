"""The report's Appendix A CNN, layer by layer, and the MLP."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from ewc.errors import ConfigError
from ewc.model import MaxPool2x2, appendix_a_cnn, build_model, mlp


def test_appendix_a_layers_and_parameter_count():
    model = build_model("cnn")
    summary = [(type(layer).__name__, layer.name) for layer in model.layers]
    assert summary == [
        ("Dropout", "dropout1"),
        ("Conv2D", "conv1-1"),
        ("MaxPool2x2", "pool1"),
        ("Flatten", "flatten"),
        ("Dense", "fc1"),
        ("Dropout", "dropout2"),
        ("Dense", "fc2"),
        ("Dropout", "dropout3"),
        ("Dense", "output"),
    ]
    layers = {layer.name: layer for layer in model.layers}
    assert [layers[n].rate for n in ("dropout1", "dropout2", "dropout3")] == [0.2, 0.5, 0.5]
    conv = layers["conv1-1"]
    assert (conv.filters, conv.kernel_size, conv.padding) == (64, (3, 3), "same")
    assert [layers[n].activation for n in ("conv1-1", "fc1", "fc2")] == [keras.activations.relu] * 3
    assert isinstance(layers["pool1"], keras.layers.MaxPooling2D) and layers["pool1"].pool_size == (2, 2)
    assert [layers[n].units for n in ("fc1", "fc2", "output")] == [1024, 1024, 10]
    assert layers["output"].activation is keras.activations.softmax
    assert model.input_shape == (None, 28, 28, 1) and model.output_shape == (None, 10)
    assert model.name == "appendix_a_cnn"
    by_hand = (3 * 3 * 1 * 64 + 64) + (14 * 14 * 64 * 1024 + 1024) + (1024 * 1024 + 1024) + (1024 * 10 + 10)
    assert model.count_params() == by_hand == 13_906_570


def test_mlp_layer_by_layer_and_count():
    """Flatten, one ReLU Dense per hidden width (named fc1, fc2, ... as the book's layer tables print them), a softmax
    output; the name says the widths."""
    model = build_model("mlp", (400, 300, 200))
    summary = [(type(layer).__name__, layer.name, getattr(layer, "units", None)) for layer in model.layers]
    assert summary == [
        ("Flatten", "flatten", None),
        ("Dense", "fc1", 400),
        ("Dense", "fc2", 300),
        ("Dense", "fc3", 200),
        ("Dense", "output", 10),
    ]
    assert [layer.activation for layer in model.layers[1:]] == [keras.activations.relu] * 3 + [
        keras.activations.softmax
    ]
    assert model.name == "mlp_400_300_200"
    assert build_model("mlp").layers[0].name == "flatten"  # named, not numbered by how many Keras made before
    assert model.input_shape == (None, 28, 28, 1) and model.output_shape == (None, 10)
    assert build_model("mlp", (400, 400)).count_params() == (784 * 400 + 400) + (400 * 400 + 400) + (400 * 10 + 10)
    x = np.random.default_rng(0).random((4, 28, 28, 1)).astype(np.float32)
    np.testing.assert_allclose(model(x).numpy().sum(axis=1), 1.0, rtol=1e-6)  # probabilities, per image


def test_report_pooling_variant_has_keras_maxpool_and_same_weights():
    ours, report = appendix_a_cnn(), appendix_a_cnn(keras_pooling=True)
    assert ours.input_shape == report.input_shape == mlp().input_shape == (None, 28, 28, 1)  # MNIST's side by default
    assert type(report.get_layer("pool1")) is keras.layers.MaxPooling2D
    assert [v.shape for v in ours.trainable_variables] == [v.shape for v in report.trainable_variables]


def test_maxpool2x2_equals_keras_maxpooling_values_and_gradients():
    """Same outputs and same input gradients as Keras' MaxPooling2D, on continuous inputs (no ties) and after a ReLU
    (ties at zero, whose gradient the ReLU zeroes either way)."""
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(3, 28, 28, 5)).astype(np.float32))
    upstream = tf.constant(rng.normal(size=(3, 14, 14, 5)).astype(np.float32))
    for pre in (tf.identity, tf.nn.relu):
        grads, outs = [], []
        for layer in (MaxPool2x2(), keras.layers.MaxPooling2D(pool_size=(2, 2))):
            with tf.GradientTape() as tape:
                tape.watch(x)
                out = layer(pre(x))
                loss = tf.reduce_sum(out * upstream)
            outs.append(out.numpy())
            grads.append(tape.gradient(loss, x).numpy())
        np.testing.assert_array_equal(outs[0], outs[1])
        np.testing.assert_array_equal(grads[0], grads[1])
    windows = tf.nn.relu(x).numpy().reshape(3, 14, 2, 14, 2, 5).max(axis=(2, 4))
    assert (windows == 0).mean() > 0.03  # the ReLU case really had all-zero windows (ties)


def test_32_by_32_inputs_widen_only_the_first_dense_layer():
    cnn = build_model("cnn", image_size=32)
    assert cnn.input_shape == (None, 32, 32, 1) and cnn.output_shape == (None, 10)
    by_hand = (3 * 3 * 1 * 64 + 64) + (16 * 16 * 64 * 1024 + 1024) + (1024 * 1024 + 1024) + (1024 * 10 + 10)
    assert cnn.count_params() == by_hand
    net = build_model("mlp", (400, 400), image_size=32)
    assert net.input_shape == (None, 32, 32, 1)
    assert net.count_params() == (1024 * 400 + 400) + (400 * 400 + 400) + (400 * 10 + 10)


def test_maxpool2x2_is_rebuilt_from_its_config():
    """The Fisher's fast path rebuilds layers from their configs: the config holds no argument the layer sets itself
    (a second ``pool_size`` would be refused), keeps the name, and the copy computes the same function."""
    layer = MaxPool2x2(name="pool1")
    config = layer.get_config()
    assert config["name"] == "pool1" and not {"pool_size", "strides", "padding", "data_format"} & set(config)
    copy = MaxPool2x2.from_config(config)
    x = tf.constant(np.random.default_rng(1).normal(size=(2, 6, 4, 3)).astype(np.float32))
    np.testing.assert_array_equal(copy(x).numpy(), layer(x).numpy())
    assert copy(x).shape == (2, 3, 2, 3)


def test_an_unknown_architecture_is_refused_with_the_choices():
    with pytest.raises(ConfigError, match=r"^unknown arch 'resnet'; choose from cnn, mlp$"):
        build_model("resnet")
