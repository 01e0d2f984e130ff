import numpy as np
import pytest

import nerve


@pytest.fixture(autouse=True)
def seed():
    nerve.manual_seed(0)
    np.random.seed(0)
