"""nerve.utils.data: PyTorch's Dataset (subclassable in Python), TensorDataset and DataLoader(batch_size, shuffle,
drop_last). A TensorDataset is batched by one index_select per tensor; other datasets item by item, then stacked."""
import numpy as _np

from .. import _C


class Dataset:
    """Subclass and define __len__ and __getitem__(i) returning a sample (a tensor, a number, or a tuple of them)."""

    def __getitem__(self, index):
        raise NotImplementedError

    def __len__(self):
        raise NotImplementedError


class TensorDataset(Dataset):
    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset: give at least one tensor")
        n = tensors[0].shape[0]
        for t in tensors:
            if t.shape[0] != n:
                raise ValueError(f"TensorDataset: size mismatch between tensors ({n} vs {t.shape[0]} rows)")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0]


def default_collate(samples):
    first = samples[0]
    if isinstance(first, _C.Tensor):
        return _C.stack(samples)
    if isinstance(first, (tuple, list)):
        return type(first)(default_collate([s[k] for s in samples]) for k in range(len(first)))
    if isinstance(first, dict):
        return {k: default_collate([s[k] for s in samples]) for k in first}
    if isinstance(first, _np.ndarray):
        return _C._as_tensor(_np.stack(samples))
    return _C._as_tensor(list(samples))


class DataLoader:
    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, collate_fn=None, generator=None,
                 num_workers=0, pin_memory=False):
        # (num_workers and pin_memory are accepted for PyTorch programs; batches are made in this process)
        if batch_size < 1:
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size}")
        self.dataset, self.batch_size, self.shuffle, self.drop_last = dataset, batch_size, shuffle, drop_last
        self.collate_fn = collate_fn or default_collate

    def __len__(self):
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        n = len(self.dataset)
        # the order comes from nerve's seeded generator (nerve.manual_seed), as torch.randperm from torch's
        if self.shuffle and n > 0:  # a random permutation: the order of n uniform draws
            order = _C.topk(_C.rand(n, dtype=_C.dtype.float64), n)[1]
        else:
            order = _C.arange(n)
        for b in range(0, n, self.batch_size):
            idx = order[b:b + self.batch_size]
            if self.drop_last and idx.shape[0] < self.batch_size:
                return
            if isinstance(self.dataset, TensorDataset) and self.collate_fn is default_collate:
                yield tuple(_C.index_select(t, 0, idx) for t in self.dataset.tensors)
            else:
                yield self.collate_fn([self.dataset[i] for i in idx.tolist()])
