"""nerve.keras.layers: Keras's layers (channels-last images), made by nerve's C++ Keras layers."""
from .. import _C

_k = _C.keras
Layer = _k.Layer


def _shape(input_shape, kwargs):
    if kwargs:
        raise TypeError(f"unexpected keyword arguments {sorted(kwargs)}")
    return None if input_shape is None else tuple(input_shape)


def Dense(units, activation=None, use_bias=True, input_shape=None, **kwargs):
    return _k.Dense(units, activation, use_bias, _shape(input_shape, kwargs))


def Flatten(input_shape=None, **kwargs):
    return _k.Flatten(_shape(input_shape, kwargs))


def Dropout(rate, **kwargs):
    _shape(None, kwargs)
    return _k.Dropout(rate)


def Activation(activation, **kwargs):
    _shape(None, kwargs)
    return _k.Activation(activation)


def Rescaling(scale, offset=0.0, input_shape=None, **kwargs):
    return _k.Rescaling(scale, offset, _shape(input_shape, kwargs))


def Conv2D(filters, kernel_size, strides=(1, 1), padding="valid", activation=None, use_bias=True, input_shape=None,
           **kwargs):
    return _k.Conv2D(filters, kernel_size, strides, padding, activation, use_bias, _shape(input_shape, kwargs))


def MaxPooling2D(pool_size=(2, 2), strides=None, **kwargs):
    _shape(None, kwargs)
    return _k.MaxPooling2D(pool_size, strides)


MaxPool2D = MaxPooling2D


def AveragePooling2D(pool_size=(2, 2), strides=None, **kwargs):
    _shape(None, kwargs)
    return _k.AveragePooling2D(pool_size, strides)


def GlobalAveragePooling2D(**kwargs):
    _shape(None, kwargs)
    return _k.GlobalAveragePooling2D()


def BatchNormalization(momentum=0.99, epsilon=1e-3, input_shape=None, **kwargs):
    return _k.BatchNormalization(momentum, epsilon, _shape(input_shape, kwargs))


def Reshape(target_shape, input_shape=None, **kwargs):
    return _k.Reshape(tuple(target_shape), _shape(input_shape, kwargs))
