"""Keras inputs in float64 (numpy's x / 255.0) are read as they are and cast to float32 batch by batch: fit, evaluate
and predict give exactly what float32 inputs give."""
import numpy as np

import nerve
import nerve as tf


def model():
    m = tf.keras.models.Sequential([
        tf.keras.layers.Flatten(input_shape=(4, 4)),
        tf.keras.layers.Dense(8, activation="relu"),
        tf.keras.layers.Dense(3, activation="softmax"),
    ])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def test_float64_inputs_train_as_float32():
    rng = np.random.RandomState(0)
    x = rng.randint(0, 256, size=(96, 4, 4)).astype(np.uint8) / 255.0  # float64, as in the Keras program
    y = (x.reshape(96, -1).sum(1) * 3 / 16).astype(np.int64) % 3
    assert x.dtype == np.float64
    runs = []
    for data in (x, x.astype(np.float32)):
        nerve.manual_seed(3)
        m = model()
        h = m.fit(data, y, epochs=3, batch_size=16, verbose=0)
        runs.append((h.history["loss"], m.evaluate(data, y, verbose=0), m.predict(data[:5]),
                     m(data[:2]).numpy()))
    (h64, e64, p64, c64), (h32, e32, p32, c32) = runs
    assert h64 == h32  # the same float32 values reach the model, in the same order
    assert e64 == e32
    np.testing.assert_array_equal(p64, p32)
    np.testing.assert_array_equal(c64, c32)
    assert p64.dtype == np.float32


def test_other_input_dtypes_still_work():
    x = np.arange(2 * 16, dtype=np.int32).reshape(2, 4, 4)
    m = model()
    assert m.predict(x).shape == (2, 3)
    assert m.predict(nerve.tensor(x.astype(np.float64))).shape == (2, 3)
