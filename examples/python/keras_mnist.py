#!/usr/bin/python3
# The TensorFlow beginner tutorial (tensorflow.org/tutorials/quickstart/beginner), line for line, with
# `import tensorflow as tf` replaced by `import nerve as tf` and mnist by fashion_mnist (Debian's
# dataset-fashion-mnist; NERVE_FASHION_MNIST_DIR elsewhere). NERVE_EPOCHS sets the epochs (default 5, as the
# tutorial); the last lines check the test accuracy (ctest runs 1 epoch).
# Run: PYTHONPATH=build/python /usr/bin/python3 examples/python/keras_mnist.py
import os

import nerve as tf

mnist = tf.keras.datasets.fashion_mnist

(x_train, y_train), (x_test, y_test) = mnist.load_data()
x_train, x_test = x_train / 255.0, x_test / 255.0

model = tf.keras.models.Sequential([
  tf.keras.layers.Flatten(input_shape=(28, 28)),
  tf.keras.layers.Dense(128, activation='relu'),
  tf.keras.layers.Dropout(0.2),
  tf.keras.layers.Dense(10)
])

predictions = model(x_train[:1]).numpy()
print(predictions)

print(tf.nn.softmax(predictions).numpy())

loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)

print(loss_fn(y_train[:1], predictions).numpy())

model.compile(optimizer='adam',
              loss=loss_fn,
              metrics=['accuracy'])

model.fit(x_train, y_train, epochs=int(os.environ.get("NERVE_EPOCHS", 5)))

loss, accuracy = model.evaluate(x_test,  y_test, verbose=2)

# (not in the tutorial) the check ctest relies on: 1 epoch reaches ~0.84, 5 epochs ~0.88 on Fashion-MNIST
assert accuracy > 0.80, f"test accuracy {accuracy:.4f} is below 0.80"
