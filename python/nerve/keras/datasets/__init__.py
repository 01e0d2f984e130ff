"""nerve.keras.datasets: mnist and fashion_mnist load_data() from local IDX files (nothing is downloaded)."""
from . import mnist, fashion_mnist
