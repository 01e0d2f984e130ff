"""nerve.keras on small synthetic data: compile/fit/evaluate/predict/summary, Python callbacks, errors, Ctrl-C."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import nerve as tf


def blobs(n=600):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, n)
    centers = np.array([[0, 0], [3, 3], [0, 4]], np.float32)
    x = centers[y] + rng.normal(0, 0.5, (n, 2)).astype(np.float32)
    return x, y.astype(np.uint8)


def model3():
    return tf.keras.models.Sequential([
        tf.keras.layers.Dense(16, activation="relu", input_shape=(2,)),
        tf.keras.layers.Dropout(0.1),
        tf.keras.layers.Dense(3),
    ])


def test_fit_evaluate_predict(capsys):
    x, y = blobs()
    m = model3()
    m.compile(optimizer=tf.keras.optimizers.Adam(learning_rate=0.01),
              loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    seen = []

    class Recorder(tf.keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs):
            seen.append((epoch, logs["loss"]))

    h = m.fit(x, y, epochs=8, batch_size=32, verbose=0, validation_split=0.2, callbacks=[Recorder()])
    assert [e for e, _ in seen] == list(range(8))
    assert sorted(h.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert h.history["loss"][-1] < h.history["loss"][0]
    loss, acc = m.evaluate(x, y, verbose=0)
    assert acc > 0.95, acc  # three separated blobs
    p = m.predict(x[:5])
    assert isinstance(p, np.ndarray) and p.shape == (5, 3)
    m.summary()
    out = capsys.readouterr().out
    assert "dense" in out and "Total params" in out


def test_stop_training_from_python_callback():
    x, y = blobs()
    m = model3()
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    class Stop(tf.keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs):
            if epoch == 1:
                self.model.stop_training = True

    h = m.fit(x, y, epochs=10, verbose=0, callbacks=[Stop()])
    assert len(h.history["loss"]) == 2


def test_keras_errors():
    m = model3()
    with pytest.raises(tf.Error, match="compile"):
        m.fit(*blobs(), epochs=1, verbose=0)
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.raises(RuntimeError):
        m.fit(np.zeros((10, 5), np.float32), np.zeros(10, np.uint8), verbose=0)  # 5 features, the model takes 2
    with pytest.raises(tf.Error, match="unknown optimizer"):
        model3().compile(optimizer="nadamx", loss="mse")


def test_ctrl_c_interrupts_fit():
    prog = (
        "import numpy as np, nerve as tf, sys\n"
        "m = tf.keras.models.Sequential([tf.keras.layers.Dense(256, activation='relu', input_shape=(64,)),"
        " tf.keras.layers.Dense(10)])\n"
        "m.compile(optimizer='adam', loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))\n"
        "x = np.random.rand(20000, 64).astype(np.float32); y = np.random.randint(0, 10, 20000)\n"
        "print('fitting', flush=True)\n"
        "try:\n"
        "    m.fit(x, y, epochs=100000, verbose=0)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted', flush=True); sys.exit(3)\n")
    p = subprocess.Popen([sys.executable, "-c", prog], stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    assert p.stdout.readline().strip() == "fitting"
    time.sleep(1.0)
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=60)
    assert p.returncode == 3 and "interrupted" in out


def test_early_stopping_runs_in_cpp():
    x, y = blobs()
    m = tf.keras.models.Sequential([tf.keras.layers.Dense(3, input_shape=(2,))])
    m.compile(optimizer=tf.keras.optimizers.SGD(learning_rate=0.0), loss="sparse_categorical_crossentropy")
    h = m.fit(x, y, epochs=20, verbose=0, shuffle=False,
              callbacks=[tf.keras.callbacks.EarlyStopping(monitor="loss", patience=1)])
    # lr 0: the loss never improves; as tf.keras, nerve's C++ EarlyStopping stops when patience is reached, after
    # epoch 2
    assert len(h.history["loss"]) == 2


def test_datasets_load_idx(tmp_path):
    def write(name, arr):
        arr = np.asarray(arr, np.uint8)
        head = bytes([0, 0, 8, arr.ndim]) + b"".join(d.to_bytes(4, "big") for d in arr.shape)
        (tmp_path / name).write_bytes(head + arr.tobytes())
    imgs = np.arange(2 * 28 * 28).reshape(2, 28, 28) % 251
    for split in ("train", "t10k"):
        write(f"{split}-images-idx3-ubyte", imgs)
        write(f"{split}-labels-idx1-ubyte", [3, 7])
    (x_train, y_train), (x_test, y_test) = tf.keras.datasets.mnist.load_data(str(tmp_path))
    assert x_train.dtype == np.uint8 and x_train.shape == (2, 28, 28) and y_test.tolist() == [3, 7]
    np.testing.assert_array_equal(x_test, imgs)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 9, 1]))
    with pytest.raises(ValueError, match="truncated"):
        tf.keras.datasets.mnist.load_data(str(tmp_path))
