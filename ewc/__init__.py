"""Elastic Weight Consolidation on permuted MNIST: data, tasks, models, Fisher, penalties, trainer, results, plots."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter out of logs and notebooks

__version__ = "0.1.0"
