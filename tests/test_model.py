"""The report's Appendix A CNN, layer by layer, and the MLP."""

import keras

from ewc.model import build_model


def test_appendix_a_layers_and_parameter_count():
    model = build_model("cnn")
    summary = [(type(layer).__name__, layer.name) for layer in model.layers]
    assert summary == [("Dropout", "dropout1"), ("Conv2D", "conv1-1"), ("MaxPooling2D", "pool1"),
                       ("Flatten", "flatten"), ("Dense", "fc1"), ("Dropout", "dropout2"), ("Dense", "fc2"),
                       ("Dropout", "dropout3"), ("Dense", "output")]
    layers = {layer.name: layer for layer in model.layers}
    assert [layers[n].rate for n in ("dropout1", "dropout2", "dropout3")] == [0.2, 0.5, 0.5]
    conv = layers["conv1-1"]
    assert (conv.filters, conv.kernel_size, conv.padding) == (64, (3, 3), "same")
    assert conv.activation is keras.activations.relu
    assert layers["pool1"].pool_size == (2, 2)
    assert [layers[n].units for n in ("fc1", "fc2", "output")] == [1024, 1024, 10]
    assert layers["output"].activation is keras.activations.softmax
    assert model.input_shape == (None, 28, 28, 1) and model.output_shape == (None, 10)
    by_hand = (3 * 3 * 1 * 64 + 64) + (14 * 14 * 64 * 1024 + 1024) + (1024 * 1024 + 1024) + (1024 * 10 + 10)
    assert model.count_params() == by_hand == 13_906_570


def test_mlp_shape_and_count():
    model = build_model("mlp", (400, 400))
    assert model.count_params() == (784 * 400 + 400) + (400 * 400 + 400) + (400 * 10 + 10)
    assert model.output_shape == (None, 10)
