#!/usr/bin/python3
# The Keras program from Python, timed as bench/mnist_torch.py times its PyTorch peer: Fashion-MNIST,
# Flatten(28, 28) -> Dense(128, relu) -> Dense(10, softmax), Adam, sparse categorical cross-entropy, batch 32, x/255.0;
# prints one JSON line (samples_per_second of fit, test accuracy).
# Usage: PYTHONPATH=build/python /usr/bin/python3 bench/python_keras.py [--epochs 5] [--threads 2]
import argparse
import json
import time

import nerve as tf

ap = argparse.ArgumentParser()
ap.add_argument("--epochs", type=int, default=5)
ap.add_argument("--batch-size", type=int, default=32)
ap.add_argument("--threads", type=int, default=2)
a = ap.parse_args()
tf.set_num_threads(a.threads)
tf.manual_seed(42)

(x_train, y_train), (x_test, y_test) = tf.keras.datasets.fashion_mnist.load_data()
x_train, x_test = x_train / 255.0, x_test / 255.0
model = tf.keras.models.Sequential([
    tf.keras.layers.Flatten(input_shape=(28, 28)),
    tf.keras.layers.Dense(128, activation='relu'),
    tf.keras.layers.Dense(10, activation='softmax'),
])
model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
t0 = time.perf_counter()
model.fit(x_train, y_train, epochs=a.epochs, batch_size=a.batch_size, verbose=0)
train_s = time.perf_counter() - t0
loss, acc = model.evaluate(x_test, y_test, verbose=0)
print(json.dumps({"impl": "nerve-python", "samples_per_second": len(x_train) * a.epochs / train_s,
                  "train_seconds": train_s, "test_accuracy": acc, "test_loss": loss}))
