"""Test fixture (put on PYTHONPATH): make ``import tensorflow`` print the C++ start-up lines that TensorFlow prints on
some hosts, straight to descriptor 2 as its absl logging does, so tests see that case on every machine."""

import importlib.abc
import importlib.util
import os
import sys

NOISE = (
    b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    b"I0000 00:00:1796118876.859249    2333 port.cc:153] oneDNN custom operations are on. You may see slightly "
    b"different numerical results due to floating-point round-off errors from different computation orders.\n"
    b"I0000 00:00:1796118876.901234    2333 cpu_feature_guard.cc:210] This TensorFlow binary is optimized to use "
    b"available CPU instructions in performance-critical operations.\n"
)


class NoisyTensorFlow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec("tensorflow")
        exec_module = spec.loader.exec_module

        def noisy_exec_module(module):
            os.write(2, NOISE)
            exec_module(module)

        spec.loader.exec_module = noisy_exec_module
        return spec


sys.meta_path.insert(0, NoisyTensorFlow())
