"""keras.datasets.mnist.load_data(path=None): ((x_train, y_train), (x_test, y_test)) as uint8 numpy arrays, from the
MNIST IDX files in `path` or $NERVE_MNIST_DIR (nerve downloads nothing)."""
import os

from ._idx import load


def load_data(path=None):
    d = path or os.environ.get("NERVE_MNIST_DIR")
    hint = ("Put train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte "
            "(optionally .gz) in a directory and pass it as load_data(path) or set NERVE_MNIST_DIR")
    if not d:
        raise FileNotFoundError(f"mnist: no directory given. {hint}")
    return load(d, "mnist", hint)
