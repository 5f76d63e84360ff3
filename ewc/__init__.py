"""Elastic Weight Consolidation on permuted MNIST: data, tasks, models, Fisher, penalties, trainer, results, plots."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter out of logs and notebooks
# TensorFlow's pooling (BFC) CPU allocator instead of malloc: the CNN step's large gradient and Adam temporaries are
# otherwise mapped and page-faulted afresh every step (see the training-time chapter).
# Read when TensorFlow starts, so it takes effect when ewc is imported before tensorflow.
os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")
# Keras' backend is TensorFlow's whatever keras.json says (the environment overrides it); an explicit other request in
# the environment is left for ewc.backend.require_tensorflow_backend to refuse in one line.
if not os.environ.get("KERAS_BACKEND"):
    os.environ["KERAS_BACKEND"] = "tensorflow"

__version__ = "0.1.0"
