"""nerve.keras: the Keras API (tf.keras) over nerve's C++ Keras model: `import nerve as tf` and the TensorFlow
tutorial programs run as written (models.Sequential, layers.*, compile/fit/evaluate/predict/summary, callbacks,
optimizers, losses, datasets.mnist / fashion_mnist)."""
from . import layers, optimizers, losses, callbacks, datasets, models
from .models import Sequential, load_model
