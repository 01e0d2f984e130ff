"""nerve.utils: data loading (nerve.utils.data)."""
from . import data
