"""nerve.keras.models: Keras's Sequential over nerve's C++ keras::Sequential (the fit loop runs in C++ with the GIL
released; Ctrl-C stops it with KeyboardInterrupt after the current batch)."""
import sys

import numpy as np

from .. import _C
from . import callbacks as _cb
from . import losses as _losses
from . import optimizers as _opt


def _as_input(x):
    """numpy or tensor -> a tensor fit can read: uint8, float32 and float64 arrays are shared (no copy; the C++ model
    converts float64 to float32 batch by batch, so x / 255.0 costs no 188 MB copy per fit), other numbers become
    float32."""
    if isinstance(x, _C.Tensor):
        return x if x.dtype in (_C.dtype.float32, _C.dtype.uint8, _C.dtype.float64) else x.to(_C.dtype.float32)
    a = np.asarray(x)
    if a.dtype not in (np.uint8, np.float32, np.float64):
        a = a.astype(np.float32, copy=False)
    return _C.from_numpy(np.ascontiguousarray(a))


def _as_target(y):
    """Labels: integers become int64 (sparse class ids), the rest float32."""
    if isinstance(y, _C.Tensor):
        if y.dtype.is_floating_point:
            return y.to(_C.dtype.float32)
        return y.to(_C.dtype.int64)
    a = np.asarray(y)
    if a.dtype.kind in "iub":
        a = a.astype(np.int64, copy=False)
    else:
        a = a.astype(np.float32, copy=False)
    return _C.from_numpy(np.ascontiguousarray(a))


def _verbose(v):
    return 1 if v == "auto" else int(v)


class Sequential:
    """keras.models.Sequential([layers.Flatten(input_shape=(28, 28)), layers.Dense(128, activation="relu"), ...])."""

    def __init__(self, layers=None, name="sequential"):
        self._c = _C.keras.Sequential(list(layers or []), name)
        self.history = None

    def add(self, layer):
        self._c.add(layer)

    @property
    def layers(self):
        return list(self._c.layers())

    @property
    def stop_training(self):
        return self._c.stop_training

    @stop_training.setter
    def stop_training(self, v):
        self._c.stop_training = bool(v)

    def compile(self, optimizer="rmsprop", loss=None, metrics=None):
        if isinstance(optimizer, str):
            opt_name, opt_kw = optimizer.lower(), {}
        elif isinstance(optimizer, _opt.Optimizer):
            opt_name, opt_kw = optimizer.name, optimizer.kwargs
        else:
            raise TypeError(f"compile: optimizer must be a name or a keras.optimizers object, got {optimizer!r}")
        if loss is None:
            raise ValueError("compile: give a loss (a name such as 'sparse_categorical_crossentropy' or a "
                             "keras.losses object)")
        if isinstance(loss, str):
            loss_name, from_logits = loss, False
        elif isinstance(loss, _losses.Loss):
            loss_name, from_logits = loss.name, loss.from_logits
        else:
            raise TypeError(f"compile: loss must be a name or a keras.losses object, got {loss!r}")
        names = [m if isinstance(m, str) else getattr(m, "name", str(m)) for m in (metrics or [])]
        self._c.compile(opt_name, opt_kw, loss_name, from_logits, names)

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, initial_epoch=0):
        native, python = [], []
        for c in callbacks or []:
            (native if isinstance(c, _C.keras.Callback) else python).append(c)
        for c in python:
            c.set_model(self) if hasattr(c, "set_model") else setattr(c, "model", self)
        val = None
        if validation_data is not None:
            val = (_as_input(validation_data[0]), _as_target(validation_data[1]))
        sys.stdout.flush()
        hist, epochs_run = self._c.fit(_as_input(x), _as_target(y), epochs, batch_size or 32, _verbose(verbose),
                                       validation_split, val, shuffle, native,
                                       _cb._Dispatch(python) if python else None, initial_epoch)
        self.history = _cb.History({k: list(v) for k, v in hist.items()}, list(epochs_run))
        self.history.model = self
        return self.history

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", return_dict=False):
        sys.stdout.flush()
        loss, metrics = self._c.evaluate(_as_input(x), _as_target(y), batch_size or 32, _verbose(verbose))
        if return_dict:
            return {"loss": loss, **metrics}
        names = self._c.metrics_names()
        if not names:
            return loss
        return [loss] + [metrics["accuracy" if n == "acc" else n] if n in metrics or n == "acc" else metrics[n]
                         for n in names]

    def predict(self, x, batch_size=None, verbose="auto"):
        return self._c.predict(_as_input(x), batch_size or 32).numpy()

    def __call__(self, x, training=False):
        t = _as_input(x)
        if not self._c.built:
            self._c.build(tuple(t.shape[1:]))
        with _NoGrad(not training):
            return self._c(t)

    def summary(self):
        print(self._c.summary_text(), end="")

    def save(self, path):
        self._c.save(path)

    def count_params(self):
        return sum(t.numel() for _, t in self._c.named_parameters())

    def get_weights(self):
        return [t.detach().numpy() for _, t in self._c.named_parameters()]


class _NoGrad:
    def __init__(self, on):
        self.on = on

    def __enter__(self):
        self.prev = _C.is_grad_enabled()
        if self.on:
            _C.set_grad_enabled(False)

    def __exit__(self, *exc):
        _C.set_grad_enabled(self.prev)


def load_model(path):
    m = Sequential.__new__(Sequential)
    m._c = _C.keras.load_model(path)
    m.history = None
    return m
