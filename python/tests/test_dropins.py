"""The SciPy drop-ins against SciPy itself, on the cases of the Rust reference tests
(fixtures/reference) and on N-D input along different axes."""

import warnings

import numpy as np
import pytest

from conftest import array, case_input, cases, reference

import trialflow as tf

scipy_signal = pytest.importorskip("scipy.signal", reason="skipped: SciPy is not installed")
scipy_ndimage = pytest.importorskip("scipy.ndimage", reason="skipped: SciPy is not installed")

SMOOTHING = reference("smoothing")
PEAKS = reference("peaks")
PREPROCESSING = reference("preprocessing")
SPECTRAL = reference("spectral_scipy")
FILTERS = reference("filters")


def close(ours, theirs):
    theirs = np.asarray(theirs)
    assert ours.shape == theirs.shape
    assert ours.dtype == theirs.dtype, (ours.dtype, theirs.dtype)
    finite = np.abs(theirs[np.isfinite(theirs)]) if theirs.size else np.zeros(1)
    scale = max(1.0, float(finite.max())) if finite.size else 1.0
    # float32 results may differ by one rounding of a float64 value that differs in ~1e-16.
    tol = 1e-10 if ours.dtype in (np.float64, np.complex128) else 2.4e-7
    np.testing.assert_allclose(ours, theirs, rtol=tol, atol=tol * scale, equal_nan=True)


def _params(case):
    p = case["params"]
    return dict(eval(p) if isinstance(p, str) else p)


def _smoothing(module, case, x):
    p = _params(case)
    routine = case["routine"]
    if routine == "gaussian":
        return module[0].gaussian_filter1d(x, axis=0, **p)
    if routine == "savgol":
        return module[1].savgol_filter(x, axis=0, **p)
    if routine == "moving_average":
        return module[0].uniform_filter1d(x, axis=0, **p)
    size = p.pop("size")
    origin = p.pop("origin", 0)
    return module[0].median_filter(x, size=(size, 1), origin=(origin, 0), **p)


def recorded(value):
    return None if value is None else array(value)


@pytest.mark.parametrize("case", cases(SMOOTHING, "gaussian", "savgol", "moving_average", "median_filter"), ids=lambda c: c["name"])
def test_smoothing_matches_scipy(case):
    """Against the SciPy output the Rust reference tests use (recorded with the pinned
    reference SciPy); where SciPy refused, the drop-in must refuse too."""
    x = case_input(SMOOTHING, case)
    expected = recorded(case["expected"])
    if expected is None:
        with pytest.raises(ValueError):
            _smoothing((tf.ndimage, tf.signal), case, x)
        return
    ours = _smoothing((tf.ndimage, tf.signal), case, x)
    assert ours.dtype == x.dtype
    # float32 input: SciPy's call on the float64 copy, rounded to float32 (the recording).
    close(ours, expected.astype(x.dtype))


def _scipy_peak_params(params):
    return {k: tuple(v) if isinstance(v, list) and k not in ("widths", "max_distances") else v for k, v in params.items()}


@pytest.mark.parametrize("case", cases(PEAKS, "find_peaks", "find_peaks_cwt"), ids=lambda c: c["name"])
def test_peaks_match_scipy(case):
    """Peaks and every property SciPy returns, per trial and channel, against the recorded
    SciPy output of the Rust reference tests."""
    x = case_input(PEAKS, case)
    params = _scipy_peak_params(_params(case))
    trials = case["trials"]
    expected = case["expected"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for t, (start, stop) in enumerate(eval(trials) if isinstance(trials, str) else trials):
            segment = x[start:stop]
            if case["routine"] == "find_peaks":
                ours = tf.signal.find_peaks(segment, axis=0, **params)
            else:
                ours = [(p, {}) for p in tf.signal.find_peaks_cwt(segment, axis=0, **params)]
            for c, (peaks, props) in enumerate(ours):
                want = expected[t][c]
                np.testing.assert_array_equal(peaks, np.asarray(want["peaks"], dtype=np.intp))
                assert peaks.dtype == np.intp
                assert sorted(props) == sorted(want["properties"])
                for key, values in want["properties"].items():
                    np.testing.assert_allclose(props[key], array(values), rtol=1e-10, atol=1e-12)


def test_find_peaks_property_dtypes_match_scipy():
    x = case_input(PEAKS, cases(PEAKS, "find_peaks")[0])[:, 0]
    everything = dict(height=-10, threshold=0, prominence=0, width=0, plateau_size=1)
    ours = tf.signal.find_peaks(x, **everything)
    theirs = scipy_signal.find_peaks(x, **everything)
    np.testing.assert_array_equal(ours[0], theirs[0])
    assert list(ours[1]) == list(theirs[1]) or sorted(ours[1]) == sorted(theirs[1])
    for key, values in theirs[1].items():
        assert ours[1][key].dtype == values.dtype, key
        np.testing.assert_allclose(ours[1][key], values, rtol=1e-12)


@pytest.mark.parametrize("case", cases(PREPROCESSING, "detrend"), ids=lambda c: c["name"])
def test_detrend_matches_scipy(case):
    x = case_input(PREPROCESSING, case)
    if case.get("dtype") == "float32":
        x = x.astype(np.float32)
    expected = recorded(case["expected"])
    kind = _params(case)["type"]
    if expected is None:
        with pytest.raises(ValueError):
            tf.signal.detrend(x, axis=0, type=kind)
        return
    ours = tf.signal.detrend(x, axis=0, type=kind)
    assert ours.dtype == x.dtype
    # SciPy's linear detrend goes through LAPACK lstsq: residues of ~1e-16 x the input's
    # scale (float32 input: SciPy computes in float32, trialflow in float64 rounded once).
    eps = 1e-6 if x.dtype == np.float32 else 1e-12
    scale = max(1.0, float(np.nanmax(np.abs(x))))
    np.testing.assert_allclose(ours, expected, rtol=0, atol=eps * scale * x.shape[0])


@pytest.mark.parametrize("case", cases(SPECTRAL, "welch"), ids=lambda c: c["name"])
def test_welch_matches_scipy(case):
    """Against SciPy itself: the recorded spectra are per trial of the Rust test's input."""
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in _params(case).items()}
    if params.get("window") == "hann_symmetric":
        pytest.skip("skipped: 'hann_symmetric' is trialflow's name for a window SciPy takes as an array")
    source = SPECTRAL["inputs"][case["input"]]
    x = case_input(SPECTRAL, case)
    fs = source["samplerate"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            theirs = scipy_signal.welch(x, fs=fs, axis=0, **params)
        except ValueError:
            with pytest.raises(ValueError):
                tf.signal.welch(x, fs=fs, axis=0, **params)
            return
        ours = tf.signal.welch(x, fs=fs, axis=0, **params)
    close(ours[0], theirs[0])
    close(ours[1], theirs[1])


CONVERSIONS = {
    "abs": np.abs,
    "real": np.real,
    "imag": np.imag,
    "absreal": lambda z: np.abs(z.real),
    "absimag": lambda z: np.abs(z.imag),
    "angle": np.angle,
}


@pytest.mark.parametrize("case", cases(FILTERS, "hilbert"), ids=lambda c: c["name"])
def test_hilbert_matches_scipy(case):
    x = case_input(FILTERS, case)
    output = _params(case)["output"]
    z = tf.signal.hilbert(x, axis=0)
    if output == "complex":
        want = np.asarray(case["expected"], dtype=np.float64)
        close(z, want[..., 0] + 1j * want[..., 1])
    else:
        close(CONVERSIONS[output](z), recorded(case["expected"]))


# --- N-D input along an axis -------------------------------------------------------------

RNG = np.random.default_rng(20261207)
CUBE = RNG.standard_normal((9, 257, 10)).cumsum(axis=1)


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize(
    "name, call",
    [
        ("gaussian_filter1d", lambda m, x, a: m.gaussian_filter1d(x, 2.5, axis=a, mode="nearest")),
        ("uniform_filter1d", lambda m, x, a: m.uniform_filter1d(x, 4, axis=a, origin=1)),
        ("median_filter", lambda m, x, a: m.median_filter(x, size=5, axes=(a,))),
    ],
)
def test_ndimage_nd(name, call, axis):
    close(call(tf.ndimage, CUBE, axis), call(scipy_ndimage, CUBE, axis))


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize(
    "name, call",
    [
        ("savgol_filter", lambda m, x, a: m.savgol_filter(x, 7, 2, axis=a)),
        ("detrend", lambda m, x, a: m.detrend(x, axis=a)),
        ("hilbert", lambda m, x, a: m.hilbert(x, axis=a)),
        ("welch", lambda m, x, a: m.welch(x, fs=100.0, nperseg=64, axis=a)[1]),
    ],
)
def test_signal_nd(name, call, axis):
    close(call(tf.signal, CUBE, axis), call(scipy_signal, CUBE, axis))


def test_find_peaks_nd_gives_one_result_per_slice():
    x = RNG.standard_normal((2, 3, 500))
    ours = tf.signal.find_peaks(x, height=0.1, prominence=0.3, width=2, axis=-1)
    assert len(ours) == 6
    for k, (peaks, props) in enumerate(ours):
        i, j = divmod(k, 3)
        q, qprops = scipy_signal.find_peaks(x[i, j], height=0.1, prominence=0.3, width=2)
        np.testing.assert_array_equal(peaks, q)
        for key in qprops:
            np.testing.assert_allclose(props[key], qprops[key], rtol=1e-12)
    along0 = tf.signal.find_peaks_cwt(x[0].T, [1, 2, 4], axis=0)
    for j in range(3):
        np.testing.assert_array_equal(along0[j], scipy_signal.find_peaks_cwt(x[0, j], [1, 2, 4]))


def test_float32_keeps_its_dtype_like_scipy():
    x = CUBE.astype(np.float32)
    ours = tf.ndimage.gaussian_filter1d(x, 2.0, axis=1)
    theirs = scipy_ndimage.gaussian_filter1d(x, 2.0, axis=1)
    assert ours.dtype == theirs.dtype == np.float32
    np.testing.assert_array_equal(ours, theirs)


def test_non_contiguous_input_is_copied():
    x = CUBE[:, ::2, ::-1]
    assert not x.flags.c_contiguous
    close(tf.ndimage.gaussian_filter1d(x, 1.5, axis=1), scipy_ndimage.gaussian_filter1d(x, 1.5, axis=1))
    close(tf.signal.detrend(x.T, axis=0), scipy_signal.detrend(x.T, axis=0))


def test_nan_is_passed_through_where_scipy_accepts_it():
    x = CUBE.copy()
    x[1, 100, 2] = np.nan
    close(tf.ndimage.gaussian_filter1d(x, 2.0, axis=1), scipy_ndimage.gaussian_filter1d(x, 2.0, axis=1))
    close(tf.signal.detrend(x, axis=1, type="constant"), scipy_signal.detrend(x, axis=1, type="constant"))


def test_unsupported_parameters_raise_not_implemented_naming_them():
    x = CUBE[0]
    with pytest.raises(NotImplementedError, match="bp"):
        tf.signal.detrend(x, bp=[10])
    with pytest.raises(NotImplementedError, match="footprint"):
        tf.ndimage.median_filter(x, footprint=np.ones((3, 1)))
    with pytest.raises(NotImplementedError, match="size"):
        tf.ndimage.median_filter(x, size=3)
    with pytest.raises(NotImplementedError, match="return_onesided"):
        tf.signal.welch(x, return_onesided=False)
    with pytest.raises(NotImplementedError, match="wavelet"):
        tf.signal.find_peaks_cwt(x[:, 0], [1, 2], wavelet=np.hanning)
    with pytest.raises(NotImplementedError, match="N="):
        tf.signal.hilbert(x, N=512)
    with pytest.raises(NotImplementedError, match="input dtype"):
        tf.ndimage.gaussian_filter1d(np.arange(10), 1.0)
