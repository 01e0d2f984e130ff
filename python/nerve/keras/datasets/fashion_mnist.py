"""keras.datasets.fashion_mnist.load_data(path=None): ((x_train, y_train), (x_test, y_test)) as uint8 numpy arrays,
from `path`, $NERVE_FASHION_MNIST_DIR, or /usr/share/datasets/fashion-mnist (Debian dataset-fashion-mnist)."""
import os

from ._idx import load

DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"


def load_data(path=None):
    d = path or os.environ.get("NERVE_FASHION_MNIST_DIR") or DEFAULT_DIR
    return load(d, "fashion_mnist", "apt-get install dataset-fashion-mnist, or pass load_data(path) / set "
                                    "NERVE_FASHION_MNIST_DIR to a directory of the four IDX files")
