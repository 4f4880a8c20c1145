"""Bad input raises the right exception, with a message naming the argument."""

import numpy as np
import pytest

import trialflow as tf

X = np.random.default_rng(3).standard_normal((200, 3))


@pytest.mark.parametrize(
    "call, exception, name",
    [
        (lambda: tf.compute([{"routine": "zscore"}], X.astype(complex), samplerate=1.0), TypeError, "data"),
        (lambda: tf.compute([{"routine": "zscore"}], X.astype(object), samplerate=1.0), TypeError, "data"),
        (lambda: tf.compute([{"routine": "zscore"}], [X, X.astype(complex)], samplerate=1.0), TypeError, r"data\[1\]"),
        (lambda: tf.signal.savgol_filter(X.astype(complex), 5, 2), TypeError, "x"),
        (lambda: tf.signal.find_peaks(np.array(["a", "b"], dtype=object)), TypeError, "x"),
        (lambda: tf.ndimage.gaussian_filter1d(X.astype(np.complex64), 1.0), TypeError, "input"),
        (lambda: tf.signal.detrend(np.array([[1, 2], [3, "x"]], dtype=object)), TypeError, "data"),
    ],
)
def test_wrong_dtypes(call, exception, name):
    with pytest.raises(exception, match=name):
        call()


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: tf.compute([{"routine": "zscore"}], X[:, 0], samplerate=1.0), "data"),
        (lambda: tf.compute([{"routine": "zscore"}], X[None], samplerate=1.0), "data"),
        (lambda: tf.compute([{"routine": "zscore"}], [X, X[:, :2]], samplerate=1.0), r"data\[1\]"),
        (lambda: tf.compute([{"routine": "zscore"}], X, samplerate=1.0, trialdefinition=[[0, 100]] * 1 + [[50, 300]]), "trialdefinition"),
        (lambda: tf.compute([{"routine": "zscore"}], X, samplerate=1.0, trialdefinition=[0, 100, 0]), "trialdefinition"),
        (lambda: tf.compute([{"routine": "zscore"}], X, samplerate=1.0, channels=["a"]), "channels"),
        (lambda: tf.compute([{"routine": "zscore"}], X, samplerate=-5.0), "samplerate"),
        (lambda: tf.compute([{"routine": "zscore"}], [], samplerate=1.0), "data"),
        (lambda: tf.signal.hilbert(np.empty((0, 3)), axis=0), "x"),
        (lambda: tf.ndimage.uniform_filter1d(X, 3, axis=2), "axis"),
    ],
)
def test_wrong_shapes(call, name):
    with pytest.raises((ValueError, IndexError), match=name):
        call()


def test_missing_samplerate_is_named():
    with pytest.raises(TypeError, match="samplerate"):
        tf.compute([{"routine": "zscore"}], X)


def test_non_contiguous_and_integer_arrays_are_copied():
    fortran = np.asfortranarray(X)
    strided = np.repeat(X, 2, axis=0)[::2]
    want = tf.compute([{"routine": "zscore"}], X, samplerate=1.0)[0]
    for data in (fortran, strided, X.astype(">f8")):
        assert np.array_equal(tf.compute([{"routine": "zscore"}], data, samplerate=1.0)[0], want)
    ints = (X * 100).astype(np.int32)
    assert np.array_equal(
        tf.compute([{"routine": "zscore"}], ints, samplerate=1.0)[0],
        tf.compute([{"routine": "zscore"}], ints.astype(np.float64), samplerate=1.0)[0],
    )


def test_nan_where_scipy_refuses_it_names_the_argument():
    y = X.copy()
    y[1, 0] = np.nan
    with pytest.raises(ValueError, match="x: .*NaN"):
        tf.signal.savgol_filter(y, 7, 2, axis=0)
    with pytest.raises(ValueError, match="data: .*NaN"):
        tf.signal.detrend(y, axis=0, type="linear")
    with pytest.raises(tf.RunError, match="NaN"):
        tf.compute([{"routine": "detrend"}], y, samplerate=1.0)


def test_unknown_routine_and_parameter_names():
    with pytest.raises(tf.UserError, match="unknown routine 'gausian'.*did you mean 'gaussian'"):
        tf.compute([{"routine": "gausian", "sigma": 1}], X, samplerate=1.0)
    with pytest.raises(tf.UserError, match="sgima"):
        tf.compute([{"routine": "gaussian", "sgima": 1}], X, samplerate=1.0)
    with pytest.raises(tf.UserError, match="sigma"):
        tf.ndimage.gaussian_filter1d(X, -1.0)
    with pytest.raises(ValueError, match="window_length"):
        tf.signal.savgol_filter(X, 3, 5)
    with pytest.raises(TypeError, match=r"steps\[1\]"):
        tf.compute([{"routine": "zscore"}, 42], X, samplerate=1.0)
    with pytest.raises(tf.UserError, match="execution.wokers"):
        tf.run({"input": "x.spy", "output": "y.spy", "execution": {"wokers": 1}, "steps": [{"routine": "zscore"}]})
    with pytest.raises(TypeError, match="pipeline"):
        tf.run(42)


def test_custom_routine_wrong_shape_names_the_trial():
    class Wrong(tf.Routine):
        def compute(self, trial):
            return trial.T

    with pytest.raises(tf.TrialflowError, match="trial 0.*shape"):
        tf.compute([Wrong()], [X, X], samplerate=1.0, mode="sequential")
