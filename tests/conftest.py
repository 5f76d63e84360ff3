import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def mnist():
    from ewc.data import load_mnist

    return load_mnist()
