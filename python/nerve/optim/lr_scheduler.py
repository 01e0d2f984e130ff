"""nerve.optim.lr_scheduler: PyTorch's schedulers over nerve's C++ ones (step() once per epoch or step)."""
from .. import _C


class _Sched:
    _cls = None

    def __init__(self, optimizer, *args, **kwargs):
        self.optimizer = optimizer
        self._c = self._cls(optimizer._c, *args, **kwargs)

    def step(self, *args):
        self._c.step(*args)

    def get_last_lr(self):
        return list(self._c.get_last_lr())

    @property
    def last_epoch(self):
        return self._c.last_epoch


def _make(name):
    return type(name, (_Sched,), {"_cls": getattr(_C.optim, name)})


StepLR = _make("StepLR")
ExponentialLR = _make("ExponentialLR")
CosineAnnealingLR = _make("CosineAnnealingLR")
LinearLR = _make("LinearLR")


class ReduceLROnPlateau(_Sched):
    _cls = _C.optim.ReduceLROnPlateau

    def step(self, metrics):
        self._c.step(float(metrics))
