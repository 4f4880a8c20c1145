"""run, load and compute against what the `trialflow` command writes: the same objects,
bitwise; the same errors, with the CLI's message and class."""

import textwrap

import numpy as np
import pytest

from conftest import same_bits

import trialflow as tf

STEPS = [
    {"routine": "detrend", "type": "linear"},
    {"routine": "gaussian", "sigma": 2.5, "save": True, "name": "smooth"},
    {"routine": "find_peaks", "height": [0.0, None], "prominence": 0.1, "width": [None, None], "save": True},
]
SPECTRAL_STEPS = [{"routine": "welch", "nperseg": 64, "save": True}, ]


def pipeline(recording, output, steps=STEPS, execution=None):
    return {
        "input": str(recording),
        "output": str(output),
        "execution": execution or {"mode": "parallel", "workers": 2},
        "steps": steps,
    }


def yaml_text(doc):
    import json

    # JSON is YAML: the same tree as a pipeline file.
    return json.dumps(doc)


def read_all(h5py, path):
    with h5py.File(path, "r") as f:
        return {name: f[name][()] for name in f if isinstance(f[name], h5py.Dataset)}


def cli_run(cli, tmp_path, doc, name="cli"):
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml_text(doc))
    cli("run", "-q", path)
    return doc["output"]


def assert_same_containers(h5py, a, b):
    ca, cb = tf.load(a), tf.load(b)
    assert list(ca) == list(cb)
    for tag in ca:
        da, db = read_all(h5py, ca[tag].path), read_all(h5py, cb[tag].path)
        assert sorted(da) == sorted(db)
        for name in da:
            assert same_bits(da[name], db[name]), (tag, name)


@pytest.mark.parametrize("form", ["dict", "yaml", "file"])
def test_run_writes_what_the_cli_writes(cli, recording, tmp_path, h5py, form):
    expected = cli_run(cli, tmp_path, pipeline(recording, tmp_path / "cli.spy"))
    doc = pipeline(recording, tmp_path / "py.spy")
    if form == "dict":
        result = tf.run(doc)
    elif form == "yaml":
        result = tf.run(yaml_text(doc))
    else:
        path = tmp_path / "p.yaml"
        path.write_text(yaml_text(doc))
        result = tf.run(path)
    assert [o.tag for o in result.objects] == ["smooth", "find_peaks"]
    assert [o.cls for o in result.objects] == ["AnalogData", "SpikeData"]
    assert result.objects[0].shape == tf.load(result.objects[0].path).shape
    assert result.trials == 6 and result.tasks == 6
    assert result["smooth"].path.exists()
    assert_same_containers(h5py, expected, tmp_path / "py.spy")


def test_run_set_edits_and_shards_as_the_cli(cli, recording, tmp_path, h5py):
    doc = pipeline(recording, tmp_path / "cli.spy")
    path = tmp_path / "p.yaml"
    path.write_text(yaml_text(doc))
    cli("run", "-q", path, "--set", "steps.1.sigma=4", "--set", "execution.mode=sequential")
    py_doc = pipeline(recording, tmp_path / "py.spy")
    for index in range(3):
        part = tf.run(py_doc, set={"steps.1.sigma": 4}, shard=(index, 3))
        assert part.shard == (index, 3)
    merged = tf.merge(py_doc, set={"steps.1.sigma": 4})
    assert merged.shard is None
    assert_same_containers(h5py, tmp_path / "cli.spy", tmp_path / "py.spy")


def test_load_reads_trials_lazily_and_exactly(recording, tmp_path, h5py):
    tf.run(pipeline(recording, tmp_path / "out.spy"))
    tf.run(pipeline(recording, tmp_path / "spectra.spy", steps=SPECTRAL_STEPS))
    container = tf.load(tmp_path / "out.spy")
    assert sorted(container) == ["find_peaks", "smooth"]
    smooth = container["smooth"]
    with h5py.File(smooth.path, "r") as f:
        data = f["data"][()]
        trl = f["trialdefinition"][()]
    assert smooth.samplerate == 1000.0
    assert len(smooth.trials) == 6 and len(smooth.channel) == 5
    for i, trial in enumerate(smooth.trials):
        start, stop = int(trl[i, 0]), int(trl[i, 1])
        assert same_bits(trial, data[start:stop])
        np.testing.assert_allclose(smooth.time[i], (np.arange(stop - start) + trl[i, 2]) / 1000.0)
    assert same_bits(smooth.trials[-1], smooth.trials[5])
    with pytest.raises(IndexError):
        smooth.trials[6]

    welch = tf.load(tmp_path / "spectra.spy")["welch"]
    assert welch.cls == "SpectralData"
    assert welch.freq is not None and len(welch.freq) == 33
    assert list(welch.taper) and welch.trials[0].shape == (1, 1, 33, 5)

    peaks = container["find_peaks"]
    assert peaks.cls == "SpikeData"
    with h5py.File(peaks.path, "r") as f:
        rows = f["data"][()]
        heights = f["peak_heights"][()]
    assert same_bits(peaks.data, rows)
    assert "peak_heights" in peaks.property_names
    assert same_bits(peaks.peak_heights, heights)
    assert same_bits(peaks.properties["widths"], read_all(h5py, peaks.path)["widths"])
    total = sum(len(t) for t in peaks.trials)
    assert total == len(rows)
    raw = tf.load(recording)["raw"]
    assert raw.cls == "AnalogData" and raw.dtype == "float64"


def test_compute_gives_the_numbers_run_stores(recording, tmp_path, h5py):
    result = tf.run(pipeline(recording, tmp_path / "out.spy"))
    raw = tf.load(recording)["raw"]
    trials = list(raw.trials)
    for mode in ("sequential", "parallel", "debug"):
        out = tf.compute(STEPS, trials, samplerate=raw.samplerate, mode=mode, workers=2)
        assert sorted(out) == ["find_peaks", "smooth"]
        smooth = out["smooth"]
        with h5py.File(result["smooth"].path, "r") as f:
            stored = f["data"][()]
        assert same_bits(np.concatenate(smooth, axis=0), stored)
        events, props = out["find_peaks"]
        stored = read_all(h5py, result["find_peaks"].path)
        assert same_bits(events, stored["data"])
        for name, values in props.items():
            assert np.array_equal(values, stored[name]), name

    # One 2-D array plus a trialdefinition, channels in groups: the same numbers.
    stacked = np.concatenate(trials, axis=0)
    lengths = [len(t) for t in trials]
    ends = np.cumsum(lengths)
    trl = np.column_stack([ends - lengths, ends, np.zeros(len(lengths))])
    again = tf.compute(STEPS[:2], stacked, samplerate=1000.0, trialdefinition=trl, chan_per_worker=2)
    assert isinstance(again, tf.Trials) and len(again) == 6
    assert same_bits(np.concatenate(again), np.concatenate(out["smooth"]))


def test_compute_keeptrials_false_averages_like_run(recording, tmp_path, h5py):
    doc = pipeline(recording, tmp_path / "avg.spy", steps=[{"routine": "welch", "nperseg": 64}],
                   execution={"keeptrials": False})
    result = tf.run(doc)
    raw = tf.load(recording)["raw"]
    out = tf.compute([{"routine": "welch", "nperseg": 64}], list(raw.trials), samplerate=1000.0, keeptrials=False)
    assert len(out) == 1
    with h5py.File(result.objects[0].path, "r") as f:
        assert same_bits(out[0], f["data"][()])
    assert out.freq is not None and out.freq.shape == (33,)


def test_routines_lists_the_registry(cli):
    listed = tf.routines()
    names = [r.name for r in listed]
    assert names == sorted(names)
    _, stdout, _ = cli("routines")
    for name in names:
        assert name in stdout
    gaussian = next(r for r in listed if r.name == "gaussian")
    assert gaussian.input == "AnalogData" and gaussian.output == "AnalogData"
    assert gaussian.defaults["truncate"] == "4.0" and gaussian.defaults["sigma"] == "required"
    assert "scipy.ndimage.gaussian_filter1d" in gaussian.__doc__
    assert "truncate" in gaussian.__doc__
    assert "python" not in names


@pytest.mark.parametrize(
    "edit",
    [
        {"steps": [{"routine": "gausian"}]},
        {"steps": [{"routine": "gaussian", "sigma": 2, "sgima": 3}]},
        {"steps": [{"routine": "gaussian", "sigma": -2}]},
        {"execution": {"wokers": 2}},
        {"input": "does-not-exist.spy"},
        {"steps": []},
    ],
)
def test_errors_carry_the_cli_message_and_class(cli, recording, tmp_path, edit):
    doc = dict(pipeline(recording, tmp_path / "out.spy", steps=[{"routine": "gaussian", "sigma": 2}]), **edit)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml_text(doc))
    code, _, stderr = cli("run", "-q", path, check=False)
    assert code in (1, 2)
    with pytest.raises(tf.TrialflowError) as caught:
        tf.run(path)
    expected = tf.UserError if code == 2 else tf.RunError
    assert type(caught.value) is expected
    message = str(caught.value)
    assert "\n" not in message
    assert message in stderr


def test_yaml_text_resolves_paths_against_the_current_folder(recording, tmp_path, monkeypatch):
    monkeypatch.chdir(recording.parent)
    text = textwrap.dedent(f"""
        input: {recording.name}
        output: {tmp_path / 'rel.spy'}
        steps:
          - routine: zscore
        """)
    result = tf.run(text, progress=False)
    assert result.objects[0].path.exists()


def test_progress_callback_sees_every_task(recording, tmp_path):
    seen = []
    tf.run(pipeline(recording, tmp_path / "p.spy"), progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1] == (6, 6)
    assert all(total == 6 for _, total in seen)
