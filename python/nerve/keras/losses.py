"""nerve.keras.losses: Keras's loss classes (from_logits as in Keras), passed to Sequential.compile."""


from .. import _C


def _t(x):
    return x if isinstance(x, _C.Tensor) else _C._as_tensor(x)


class Loss:
    """A Keras loss: a name and from_logits for compile, and loss(y_true, y_pred) -> a scalar tensor (mean)."""
    name = None

    def __init__(self, from_logits=False):
        self.from_logits = from_logits

    def __call__(self, y_true, y_pred):
        y_true, y_pred = _t(y_true), _t(y_pred).to(_C.dtype.float32)
        F = _C.functional
        if self.name == "sparse_categorical_crossentropy":
            y = y_true.to(_C.dtype.int64).reshape(-1)
            if self.from_logits:
                return F.cross_entropy(y_pred, y)
            return F.nll_loss(_C.log(_C.clamp(y_pred, 1e-7, 1 - 1e-7)), y)
        if self.name == "categorical_crossentropy":
            logp = _C.log_softmax(y_pred, -1) if self.from_logits else _C.log(_C.clamp(y_pred, 1e-7, 1 - 1e-7))
            return -(_C.sum(logp * y_true.to(_C.dtype.float32), -1)).mean()
        if self.name == "binary_crossentropy":
            y = y_true.to(_C.dtype.float32)
            if self.from_logits:
                return F.binary_cross_entropy_with_logits(y_pred, y)
            return F.binary_cross_entropy(_C.clamp(y_pred, 1e-7, 1 - 1e-7), y)
        if self.name == "mse":
            return F.mse_loss(y_pred, y_true.to(_C.dtype.float32))
        return F.l1_loss(y_pred, y_true.to(_C.dtype.float32))


class SparseCategoricalCrossentropy(Loss):
    name = "sparse_categorical_crossentropy"


class CategoricalCrossentropy(Loss):
    name = "categorical_crossentropy"


class BinaryCrossentropy(Loss):
    name = "binary_crossentropy"


class MeanSquaredError(Loss):
    name = "mse"

    def __init__(self):
        super().__init__(False)


class MeanAbsoluteError(Loss):
    name = "mae"

    def __init__(self):
        super().__init__(False)
