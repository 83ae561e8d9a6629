import json
import os

import numpy as np
import pytest

GOLDEN_DIR = os.path.join(os.path.dirname(__file__), "data", "golden_nb201")


@pytest.fixture(scope="session")
def golden():
    with open(os.path.join(GOLDEN_DIR, "golden.json")) as f:
        return json.load(f)["archs"]


@pytest.fixture(scope="session")
def golden_batch():
    batch = np.load(os.path.join(GOLDEN_DIR, "batch.npz"))
    return batch["x"], batch["y"]
