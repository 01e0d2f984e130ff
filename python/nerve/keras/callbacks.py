"""nerve.keras.callbacks: Keras's callbacks. EarlyStopping, ModelCheckpoint and CSVLogger run in C++; subclass
Callback (or use LambdaCallback) for Python hooks: on_train_begin/end, on_epoch_begin/end(epoch, logs),
on_batch_end(batch, logs). Setting self.model.stop_training = True ends fit after the epoch."""
from .. import _C

EarlyStopping = _C.keras.EarlyStopping
ModelCheckpoint = _C.keras.ModelCheckpoint
CSVLogger = _C.keras.CSVLogger


class Callback:
    model = None

    def set_model(self, model):
        self.model = model


class LambdaCallback(Callback):
    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_batch_end=None, on_train_begin=None,
                 on_train_end=None):
        for name, fn in (("on_epoch_begin", on_epoch_begin), ("on_epoch_end", on_epoch_end),
                         ("on_batch_end", on_batch_end), ("on_train_begin", on_train_begin),
                         ("on_train_end", on_train_end)):
            if fn is not None:
                setattr(self, name, fn)


class History(Callback):
    def __init__(self, history=None, epoch=None):
        self.history = history or {}
        self.epoch = epoch or []


class _Dispatch:
    """The one object fit's C++ hook calls: forwards each hook to the Python callbacks that define it."""

    def __init__(self, callbacks):
        self.callbacks = callbacks

    def _each(self, name, *args):
        for c in self.callbacks:
            fn = getattr(c, name, None)
            if fn is not None:
                fn(*args)

    def on_train_begin(self):
        self._each("on_train_begin")

    def on_train_end(self):
        self._each("on_train_end")

    def on_epoch_begin(self, epoch):
        self._each("on_epoch_begin", epoch)

    def on_epoch_end(self, epoch, logs):
        self._each("on_epoch_end", epoch, dict(logs))

    def on_batch_end(self, batch, logs):
        self._each("on_batch_end", batch, dict(logs))
