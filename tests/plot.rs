//! `trialflow plot`: every figure kind rendered to PNG and SVG from hand-made objects whose
//! content is known, then checked as images: the requested size, not blank, the SVG's
//! titles and axis labels, a spectral peak on the pixel column its frequency maps to, and an
//! overlay marker on its sample. Bad selections exit 2 naming the flag and write nothing.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::{json, Value};
use trialflow::hdf5::objects::DenseObject;
use trialflow::plot::layout;

/// Writes a Syncopy object `<dir>/<name>` (f32 or int64 `data`, a trialdefinition and a
/// `.info` with `info` merged in).
fn write_object(dir: &Path, name: &str, data: Data, trl: &[[f64; 3]], info: Value) -> PathBuf {
    init();
    let path = dir.join(name);
    let f = h5_create(&path).unwrap();
    match data {
        Data::F32(shape, values) => f
            .new_dataset::<f32>()
            .shape(shape)
            .create("data")
            .unwrap()
            .write_raw(&values)
            .unwrap(),
        Data::Events(rows) => {
            let flat: Vec<i64> = rows.iter().flatten().copied().collect();
            f.new_dataset::<i64>()
                .shape((rows.len(), 3))
                .create("data")
                .unwrap()
                .write_raw(&flat)
                .unwrap()
        }
    }
    let flat: Vec<f64> = trl.iter().flatten().copied().collect();
    f.new_dataset::<f64>()
        .shape((trl.len(), 3))
        .create("trialdefinition")
        .unwrap()
        .write_raw(&flat)
        .unwrap();
    f.close().unwrap();
    let mut doc = json!({"samplerate": 1000.0, "cfg": {}});
    for (k, v) in info.as_object().unwrap() {
        doc[k] = v.clone();
    }
    std::fs::write(format!("{}.info", path.display()), doc.to_string()).unwrap();
    path
}

enum Data {
    F32(Vec<usize>, Vec<f32>),
    Events(Vec<[i64; 3]>),
}

/// Two trials of 1000 samples, t = 0 at sample 200, channels `a` and `b` (slow sines).
fn analog(dir: &Path) -> PathBuf {
    let values: Vec<f32> = (0..2000)
        .flat_map(|i| {
            let t = i as f32 / 1000.0;
            [(6.0 * t).sin(), 0.5 * (11.0 * t).cos()]
        })
        .collect();
    write_object(
        dir,
        "rec_raw.analog",
        Data::F32(vec![2000, 2], values),
        &[[0.0, 1000.0, -200.0], [1000.0, 2000.0, -200.0]],
        json!({"dataclass": "AnalogData", "dimord": ["time", "channel"], "channel": ["a", "b"]}),
    )
}

/// Events at samples 250 (channel a) and 700 (channel b) of trial 0, 100 of trial 1.
fn spikes(dir: &Path) -> PathBuf {
    write_object(
        dir,
        "rec_peaks.spike",
        Data::Events(vec![[250, 0, 0], [700, 1, 0], [1100, 0, 0]]),
        &[[0.0, 1000.0, -200.0], [1000.0, 2000.0, -200.0]],
        json!({"dataclass": "SpikeData", "dimord": ["sample", "channel", "unit"],
               "channel": ["a", "b"], "unit": ["unit0"]}),
    )
}

/// 3 trials x 1 taper x 101 frequencies (0..100 Hz) x 1 channel: a peak at 30 Hz.
fn spectrum(dir: &Path) -> PathBuf {
    let mut values = Vec::new();
    for trial in 0..3 {
        for f in 0..=100 {
            let d = (f as f32 - 30.0) / 2.0;
            values.push(0.1 + (1.0 + 0.1 * trial as f32) * (-d * d).exp());
        }
    }
    write_object(
        dir,
        "rec_spectrum.spectral",
        Data::F32(vec![3, 1, 101, 1], values),
        &[[0.0, 1.0, 0.0], [1.0, 2.0, 0.0], [2.0, 3.0, 0.0]],
        json!({"dataclass": "SpectralData", "dimord": ["time", "taper", "freq", "channel"],
               "channel": ["a"], "freq": (0..=100).map(f64::from).collect::<Vec<_>>(),
               "cfg": {"spectrum": {"routine": "mtmfft", "output": "pow"}}}),
    )
}

/// 2 trials x 40 time rows (100 Hz) x 1 taper x 20 frequencies x 2 channels.
fn time_frequency(dir: &Path) -> PathBuf {
    let mut values = Vec::new();
    for _trial in 0..2 {
        for t in 0..40 {
            for f in 0..20 {
                for c in 0..2 {
                    values.push((t * f + c) as f32 / 800.0);
                }
            }
        }
    }
    write_object(
        dir,
        "rec_tfr.spectral",
        Data::F32(vec![80, 1, 20, 2], values),
        &[[0.0, 40.0, -10.0], [40.0, 80.0, -10.0]],
        json!({"dataclass": "SpectralData", "dimord": ["time", "taper", "freq", "channel"],
               "samplerate": 100.0, "channel": ["a", "b"],
               "freq": (1..=20).map(|f| f as f64 * 2.0).collect::<Vec<_>>()}),
    )
}

/// A decoded RGB(A) PNG.
struct Image {
    width: u32,
    height: u32,
    channels: usize,
    pixels: Vec<u8>,
}

impl Image {
    fn read(path: &Path) -> Image {
        let decoder = png::Decoder::new(std::fs::File::open(path).unwrap());
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut pixels).unwrap();
        Image {
            width: info.width,
            height: info.height,
            channels: info.color_type.samples(),
            pixels,
        }
    }

    fn rgb(&self, x: i32, y: i32) -> (u8, u8, u8) {
        let i = (y as usize * self.width as usize + x as usize) * self.channels;
        (self.pixels[i], self.pixels[i + 1], self.pixels[i + 2])
    }

    /// Pixels whose colour is within `tolerance` of `c`, inside `r`.
    fn find(&self, r: layout::Rect, c: (u8, u8, u8), tolerance: i32) -> Vec<(i32, i32)> {
        let mut out = Vec::new();
        for y in r.y0..r.y1 {
            for x in r.x0..r.x1 {
                let p = self.rgb(x, y);
                let d = (p.0 as i32 - c.0 as i32).abs()
                    + (p.1 as i32 - c.1 as i32).abs()
                    + (p.2 as i32 - c.2 as i32).abs();
                if d <= tolerance {
                    out.push((x, y));
                }
            }
        }
        out
    }

    fn assert_not_blank(&self, what: &str) {
        let inked = (0..self.height as i32)
            .flat_map(|y| (0..self.width as i32).map(move |x| (x, y)))
            .filter(|&(x, y)| self.rgb(x, y) != (255, 255, 255))
            .count();
        let total = (self.width * self.height) as usize;
        assert!(
            inked * 100 > total,
            "{what}: only {inked} of {total} pixels are not white"
        );
    }
}

/// The contents of an SVG's `<text>` elements, trimmed and unescaped.
fn svg_texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|e| {
            let body = &e[e.find('>')? + 1..e.find("</text>")?];
            Some(
                body.trim()
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&amp;", "&"),
            )
        })
        .collect()
}

/// Renders `object` to PNG and SVG of `size` with `extra` flags; checks size, ink and that
/// the SVG shows each of `texts` (`=x`: a text element that is exactly `x`). Returns the PNG.
fn render_both(dir: &Path, object: &str, stem: &str, extra: &[&str], texts: &[&str]) -> Image {
    let (w, h) = (900u32, 600u32);
    let size = format!("{w}x{h}");
    for ext in ["png", "svg"] {
        let out = format!("{stem}.{ext}");
        let mut args = vec!["plot", object, "-o", &out, "--size", &size];
        args.extend_from_slice(extra);
        let run = trialflow(dir, &args).ok();
        assert!(run.stdout.contains(&out), "{}", run.stdout);
    }
    let svg = std::fs::read_to_string(dir.join(format!("{stem}.svg"))).unwrap();
    assert!(
        svg.contains(&format!("width=\"{w}\"")) && svg.contains(&format!("height=\"{h}\"")),
        "{stem}.svg has the requested size"
    );
    let shown = svg_texts(&svg);
    for text in texts {
        let found = match text.strip_prefix('=') {
            Some(exact) => shown.iter().any(|t| t == exact),
            None => shown.iter().any(|t| t.contains(text)),
        };
        assert!(found, "{stem}.svg shows '{text}' among {shown:?}");
    }
    assert!(shown.len() > 10, "{stem}.svg has tick labels: {shown:?}");
    let png = Image::read(&dir.join(format!("{stem}.png")));
    assert_eq!(
        (png.width, png.height),
        (w, h),
        "{stem}.png has the requested size"
    );
    png.assert_not_blank(stem);
    png
}

#[test]
fn every_figure_kind_renders_to_png_and_svg() {
    let tmp = TempDir::new("plot_kinds");
    let spy = tmp.join("rec.spy");
    std::fs::create_dir(&spy).unwrap();
    analog(&spy);
    spikes(&spy);
    spectrum(&spy);
    time_frequency(&spy);

    render_both(
        &tmp.path,
        "rec.spy/raw",
        "traces",
        &["--trials", "0-1"],
        &[
            "rec.spy/rec_raw.analog",
            "AnalogData",
            "time (s)",
            "trial 0",
            "trial 1",
            "=a",
            "=b",
            "a.u. apart",
        ],
    );
    render_both(
        &tmp.path,
        "rec.spy/spectrum",
        "spectrum",
        &[],
        &[
            "rec_spectrum.spectral",
            "mean ± SEM",
            "frequency (Hz)",
            "power (a.u.²/Hz)",
        ],
    );
    render_both(
        &tmp.path,
        "rec.spy/spectrum",
        "spectrum_log",
        &["--log", "--foilim", "10", "50"],
        &["log scale", "10 to 50 Hz"],
    );
    render_both(
        &tmp.path,
        "rec.spy/tfr",
        "tfmap",
        &["--latency", "-0.05", "0.2"],
        &[
            "time-frequency",
            "time (s)",
            "frequency (Hz)",
            "power (a.u.²/Hz)",
            "-0.05 to 0.2 s",
        ],
    );
    render_both(
        &tmp.path,
        "rec.spy/peaks",
        "raster",
        &[],
        &["SpikeData", "rate (1/s)", "trial", "time (s)"],
    );
}

/// `trialflow plot ARGS -o PNG --size 800x600` in `dir`; returns the image, the one panel's
/// area below its caption and that panel's data area.
fn plot_one_panel(dir: &Path, args: &[&str], png: &str) -> (Image, layout::Rect, layout::Rect) {
    let mut all = vec!["plot"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", png, "--size", "800x600"]);
    trialflow(dir, &all).ok();
    let image = Image::read(&dir.join(png));
    let area = layout::panels((800, 600), 1, false)[0].below(layout::CAPTION_H);
    (image, area, layout::plot_area(area))
}

/// The pixels of the mean line (the first colour) in `plot` and its highest pixel.
fn mean_line(png: &Image, plot: layout::Rect) -> (Vec<(i32, i32)>, (i32, i32)) {
    let line = png.find(plot, (31, 119, 180), 30);
    let top = *line
        .iter()
        .min_by_key(|p| p.1)
        .expect("the mean line is drawn");
    (line, top)
}

#[test]
fn a_spectral_peak_lands_on_its_frequency_column() {
    let tmp = TempDir::new("plot_peak");
    spectrum(&tmp.path);
    let (png, area, plot) = plot_one_panel(&tmp.path, &["rec_spectrum.spectral"], "s.png");
    let expected = layout::x_pixel(area, (0.0, 100.0), 30.0);
    let (_, top) = mean_line(&png, plot);
    assert!(
        (top.0 - expected).abs() <= 3,
        "the peak's highest pixel is at x = {}, 30 Hz maps to {expected}",
        top.0
    );
    // And it is the top of the data area (the peak is the maximum, 5% padding above it).
    assert!(top.1 < plot.y0 + plot.height() / 8, "peak at y = {}", top.1);
}

#[test]
fn overlay_markers_land_on_their_samples() {
    let tmp = TempDir::new("plot_overlay");
    analog(&tmp.path);
    spikes(&tmp.path);
    let (png, area, plot) = plot_one_panel(
        &tmp.path,
        &["rec_raw.analog", "--overlay", "rec_peaks.spike"],
        "t.png",
    );
    // Trial 0 shows samples 0..999, t = (sample - 200) / 1000.
    let range = (-0.2, 0.799);
    let red = png.find(plot, (214, 39, 40), 0);
    assert!(!red.is_empty(), "markers are drawn");
    for (sample, top_half) in [(250, true), (700, false)] {
        let x = layout::x_pixel(area, range, (sample as f64 - 200.0) / 1000.0);
        let near: Vec<&(i32, i32)> = red.iter().filter(|p| (p.0 - x).abs() <= 6).collect();
        assert!(
            !near.is_empty(),
            "a marker near x = {x} for sample {sample}"
        );
        let cx = near.iter().map(|p| p.0 as f64).sum::<f64>() / near.len() as f64;
        assert!(
            (cx - x as f64).abs() <= 1.5,
            "sample {sample}: marker centre x = {cx}, expected {x}"
        );
        // Channel a is stacked above channel b.
        let cy = near.iter().map(|p| p.1 as f64).sum::<f64>() / near.len() as f64;
        let middle = (plot.y0 + plot.y1) as f64 / 2.0;
        assert_eq!(cy < middle, top_half, "sample {sample}: marker at y = {cy}");
    }
    // Only the two events of trial 0 are marked (about 50 pixels per filled circle).
    assert!(red.len() < 150, "{} red pixels", red.len());
}

#[test]
fn bad_selections_exit_2_naming_the_flag_and_write_nothing() {
    let tmp = TempDir::new("plot_bad");
    analog(&tmp.path);
    spikes(&tmp.path);
    spectrum(&tmp.path);
    write_object(
        &tmp.path,
        "rec_coh.crossspectral",
        Data::F32(vec![1, 4, 2, 2], vec![0.5; 16]),
        &[[0.0, 1.0, 0.0]],
        json!({"dataclass": "CrossSpectralData", "dimord": ["time", "freq", "channel_i", "channel_j"], "channel_i": ["a", "b"], "channel_j": ["a", "b"], "freq": [1.0, 2.0, 3.0, 4.0]}),
    );
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["rec_raw.analog", "--channels", "zz"],
            &["--channels", "zz", "a, b"],
        ),
        (
            &["rec_raw.analog", "--channels", "7"],
            &["--channels", "'7'"],
        ),
        (
            &["rec_raw.analog", "--latency", "5", "6"],
            &["--latency", "outside every selected trial"],
        ),
        (&["rec_raw.analog", "--trials", "9"], &["--trials", "'9'"]),
        (
            &["rec_raw.analog", "--foilim", "1", "2"],
            &["--foilim", "SpectralData"],
        ),
        (
            &["rec_raw.analog", "--overlay", "rec_spectrum.spectral"],
            &["--overlay", "SpectralData"],
        ),
        (
            &["rec_spectrum.spectral", "--foilim", "200", "300"],
            &["--foilim", "no frequency"],
        ),
        (
            &["rec_spectrum.spectral", "--latency", "0", "1"],
            &["--latency", "no time axis"],
        ),
        (&["rec_peaks.spike", "--latency", "2", "3"], &["--latency"]),
        (
            &["rec_coh.crossspectral", "--latency", "0", "1"],
            &["--latency", "no time axis"],
        ),
        (
            &["rec_coh.crossspectral", "--channels", "c"],
            &["--channels", "'c'"],
        ),
        (&["rec_raw.analog", "--size", "10x10"], &["--size"]),
    ];
    for (i, (args, needles)) in cases.iter().enumerate() {
        for ext in ["png", "svg"] {
            let out = format!("bad{i}.{ext}");
            let mut all = vec!["plot"];
            all.extend_from_slice(args);
            all.extend_from_slice(&["-o", &out]);
            trialflow(&tmp.path, &all).assert_error(2, needles);
            assert!(!tmp.join(&out).exists(), "{args:?} wrote {out}");
        }
    }
    trialflow(&tmp.path, &["plot", "rec_raw.analog", "-o", "fig.pdf"])
        .assert_error(2, &["-o", ".png or .svg"]);
    let leftovers: Vec<String> = list(&tmp.path)
        .into_iter()
        .filter(|n| n.contains("partial") || n.ends_with(".png") || n.ends_with(".svg"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "no figure or temporary file: {leftovers:?}"
    );
}

#[test]
fn channel_first_analog_draws_the_same_traces() {
    let tmp = TempDir::new("plot_dimord");
    analog(&tmp.path);
    // The same values stored [channel, time], as Syncopy writes when asked.
    let values: Vec<f32> = (0..2)
        .flat_map(|c| {
            (0..2000).map(move |i| {
                let t = i as f32 / 1000.0;
                if c == 0 {
                    (6.0 * t).sin()
                } else {
                    0.5 * (11.0 * t).cos()
                }
            })
        })
        .collect();
    write_object(
        &tmp.path,
        "cf_raw.analog",
        Data::F32(vec![2, 2000], values),
        &[[0.0, 1000.0, -200.0], [1000.0, 2000.0, -200.0]],
        json!({"dataclass": "AnalogData", "dimord": ["channel", "time"], "channel": ["a", "b"]}),
    );
    // The readers give the same schema and blocks for both layouts.
    let tf = DenseObject::open(&tmp.join("rec_raw.analog")).unwrap();
    let cf = DenseObject::open(&tmp.join("cf_raw.analog")).unwrap();
    assert_eq!(cf.header().schema().trial_shapes, vec![vec![1000, 2]; 2]);
    assert_eq!(tf.header().schema(), cf.header().schema());
    let ranges = [200..700, 0..2];
    assert_eq!(
        tf.read_block::<f64>(1, &ranges).unwrap(),
        cf.read_block::<f64>(1, &ranges).unwrap()
    );
    for name in ["rec_raw.analog", "cf_raw.analog"] {
        let out = format!("{name}.png");
        trialflow(
            &tmp.path,
            &[
                "plot",
                name,
                "--trials",
                "1",
                "--latency",
                "0",
                "0.5",
                "-o",
                &out,
            ],
        )
        .ok();
    }
    let a = Image::read(&tmp.join("rec_raw.analog.png"));
    let b = Image::read(&tmp.join("cf_raw.analog.png"));
    // Everything below the title (which names the file) is identical.
    let start = layout::TITLE_H as usize * a.width as usize * a.channels;
    assert!(
        a.pixels[start..] == b.pixels[start..],
        "channel-first data gives the same figure"
    );
}

/// A 10 GB AnalogData object (40 million samples x 64 channels, float32) and a 10 GB
/// SpectralData object (1000 trials x 2501 frequencies x 1000 channels) in chunked
/// datasets that are never written (HDF5 allocates nothing, so the files are tiny): a figure
/// of a few trials and channels must take seconds, which it can only if nothing but the
/// selection is read.
#[test]
fn a_10_gb_container_plots_in_seconds() {
    init();
    let tmp = TempDir::new("plot_big");
    let trials = 1000usize;
    let samples = 40_000usize;
    let f = h5_create(tmp.join("big_raw.analog")).unwrap();
    f.new_dataset::<f32>()
        .chunk((4096, 64))
        .shape((trials * samples, 64))
        .create("data")
        .unwrap();
    let trl: Vec<f64> = (0..trials)
        .flat_map(|t| [(t * samples) as f64, ((t + 1) * samples) as f64, 0.0])
        .collect();
    f.new_dataset::<f64>()
        .shape((trials, 3))
        .create("trialdefinition")
        .unwrap()
        .write_raw(&trl)
        .unwrap();
    f.close().unwrap();
    let labels: Vec<String> = (0..64).map(|c| format!("ch{c}")).collect();
    std::fs::write(
        tmp.join("big_raw.analog.info"),
        json!({"dataclass": "AnalogData", "dimord": ["time", "channel"], "samplerate": 1000.0, "channel": labels}).to_string(),
    )
    .unwrap();

    let f = h5_create(tmp.join("big_psd.spectral")).unwrap();
    f.new_dataset::<f32>()
        .chunk((1, 1, 2501, 16))
        .shape((trials, 1, 2501, 1000))
        .create("data")
        .unwrap();
    let trl: Vec<f64> = (0..trials)
        .flat_map(|t| [t as f64, (t + 1) as f64, 0.0])
        .collect();
    f.new_dataset::<f64>()
        .shape((trials, 3))
        .create("trialdefinition")
        .unwrap()
        .write_raw(&trl)
        .unwrap();
    f.close().unwrap();
    let labels: Vec<String> = (0..1000).map(|c| format!("ch{c}")).collect();
    let freq: Vec<f64> = (0..2501).map(|f| f as f64 * 0.2).collect();
    std::fs::write(
        tmp.join("big_psd.spectral.info"),
        json!({"dataclass": "SpectralData", "dimord": ["time", "taper", "freq", "channel"],
               "samplerate": 1000.0, "channel": labels, "freq": freq})
        .to_string(),
    )
    .unwrap();

    let started = std::time::Instant::now();
    trialflow(
        &tmp.path,
        &[
            "plot",
            "big_raw.analog",
            "--trials",
            "500",
            "--channels",
            "0-3",
            "-o",
            "a.png",
        ],
    )
    .ok();
    trialflow(
        &tmp.path,
        &[
            "plot",
            "big_psd.spectral",
            "--trials",
            "0-9",
            "--channels",
            "ch7,ch500",
            "-o",
            "s.png",
        ],
    )
    .ok();
    let secs = started.elapsed().as_secs_f64();
    assert!(secs < 20.0, "two figures of 10 GB objects took {secs:.1} s");
    // All channels of the spectrum would be 1000 panels: refused, naming the flag.
    trialflow(&tmp.path, &["plot", "big_psd.spectral", "-o", "all.png"])
        .assert_error(2, &["--channels", "1000 channels", "at most 36"]);
    assert!(!tmp.join("all.png").exists());
}

/// `output: fourier` SpectralData (complex64) is drawn as power, |z|², averaged over
/// tapers: two tapers whose powers average to the peak of [`spectrum`] put the peak at
/// 30 Hz again.
#[test]
fn complex_spectra_are_drawn_as_power() {
    init();
    let tmp = TempDir::new("plot_fourier");
    let path = tmp.join("rec_fourier.spectral");
    let f = h5_create(&path).unwrap();
    let mut values = Vec::new();
    for _trial in 0..2 {
        for taper in 0..2 {
            for fq in 0..=100 {
                let d = (fq as f32 - 30.0) / 2.0;
                let power = 0.1 + (-d * d).exp() * if taper == 0 { 0.5 } else { 1.5 };
                // Same power, different phase per taper.
                let phase = taper as f32 * 0.7 + fq as f32 * 0.1;
                values.push(num_complex::Complex32::from_polar(power.sqrt(), phase));
            }
        }
    }
    f.new_dataset::<num_complex::Complex32>()
        .shape((2, 2, 101, 1))
        .create("data")
        .unwrap()
        .write_raw(&values)
        .unwrap();
    f.new_dataset::<f64>()
        .shape((2, 3))
        .create("trialdefinition")
        .unwrap()
        .write_raw(&[0.0, 1.0, 0.0, 1.0, 2.0, 0.0])
        .unwrap();
    f.close().unwrap();
    std::fs::write(
        format!("{}.info", path.display()),
        json!({"dataclass": "SpectralData", "dimord": ["time", "taper", "freq", "channel"],
               "samplerate": 1000.0, "channel": ["a"],
               "freq": (0..=100).map(f64::from).collect::<Vec<_>>(),
               "cfg": {"spectrum": {"routine": "mtmfft", "output": "fourier"}}})
        .to_string(),
    )
    .unwrap();
    trialflow(
        &tmp.path,
        &[
            "plot",
            "rec_fourier.spectral",
            "-o",
            "f.svg",
            "--size",
            "800x600",
        ],
    )
    .ok();
    let svg = std::fs::read_to_string(tmp.join("f.svg")).unwrap();
    assert!(
        svg_texts(&svg)
            .iter()
            .any(|t| t.contains("power of Fourier coefficients")),
        "the value axis says what is drawn"
    );
    let (png, area, plot) = plot_one_panel(&tmp.path, &["rec_fourier.spectral"], "f.png");
    let expected = layout::x_pixel(area, (0.0, 100.0), 30.0);
    let (line, top) = mean_line(&png, plot);
    assert!(
        (top.0 - expected).abs() <= 3,
        "peak at x = {}, expected {expected}",
        top.0
    );
    // Mean power at the peak is 1.1 (taper mean of 0.6 and 1.6), at the floor 0.1: the
    // peak is at the top of the data area and the floor near its bottom.
    let floor = line
        .iter()
        .filter(|p| (p.0 - layout::x_pixel(area, (0.0, 100.0), 80.0)).abs() <= 1)
        .map(|p| p.1)
        .min()
        .expect("the line at 80 Hz");
    assert!(top.1 < plot.y0 + plot.height() / 8, "peak at y = {}", top.1);
    assert!(floor > plot.y1 - plot.height() / 8, "floor at y = {floor}");
}

/// A connectivity result (CrossSpectralData) is a channel_i x channel_j grid of spectra,
/// labelled with the pair and the method's output; a channel's coherence with itself is
/// drawn at 1.
#[test]
fn cross_spectra_render_as_a_grid_of_channel_pairs() {
    let tmp = TempDir::new("plot_cross");
    trialflow(
        &tmp.path,
        &[
            "generate",
            "in.spy",
            "--trials",
            "6",
            "--samples",
            "500",
            "--channels",
            "3",
        ],
    )
    .ok();
    write_file(
        &tmp.path,
        "coh.yaml",
        "input: in.spy\noutput: coh.spy\nsteps:\n  - routine: connectivity\n    method: coh\n    tapsmofrq: 3\n    foilim: [1, 60]\n",
    );
    trialflow(&tmp.path, &["run", "coh.yaml", "-q"]).ok();
    render_both(
        &tmp.path,
        "coh.spy",
        "coh",
        &["--channels", "0,2"],
        &[
            "CrossSpectralData",
            "=channel001 – channel003",
            "=channel003 – channel001",
            "coherence (abs)",
            "frequency (Hz)",
        ],
    );
}

/// A `timelock` result (TimeLockData) is the evoked response per channel with a ±1 SD band,
/// on the time axis with the data's unit; a grid for many channels. Flags that do not apply
/// or select nothing exit 2 naming the flag and write nothing.
#[test]
fn timelock_data_renders_as_an_evoked_response_per_channel() {
    let tmp = TempDir::new("plot_timelock");
    trialflow(
        &tmp.path,
        &[
            "generate",
            "in.spy",
            "--trials",
            "8",
            "--samples",
            "400",
            "--channels",
            "6",
        ],
    )
    .ok();
    write_file(
        &tmp.path,
        "tl.yaml",
        "input: in.spy\noutput: tl.spy\nsteps:\n  - routine: timelock\n    latency: [0.0, 0.3]\n    covariance: true\n",
    );
    trialflow(&tmp.path, &["run", "tl.yaml", "-q"]).ok();
    render_both(
        &tmp.path,
        "tl.spy",
        "evoked",
        &[],
        &[
            "tl.spy/tl_timelock.timelock",
            "TimeLockData",
            "avg ± 1 SD",
            "6 of 6 channels",
            "=channel001",
            "=channel006",
            "time (s)",
            "amplitude (",
        ],
    );
    render_both(
        &tmp.path,
        "tl.spy",
        "evoked_sel",
        &["--channels", "0,2", "--latency", "0.05", "0.1"],
        &["2 of 6 channels", "0.05 to 0.1 s", "=channel003"],
    );
    // `data` holds the cut trials: --trials draws them beneath the average.
    render_both(
        &tmp.path,
        "tl.spy",
        "evoked_trials",
        &["--trials", "0-2", "--channels", "0"],
        &["with 3 of 8 trials", "1 of 6 channels"],
    );
    // A PSTH (TimeLockData from psth) shows its rate.
    write_file(
        &tmp.path,
        "ps.yaml",
        "input: in.spy\noutput: ps.spy\nsteps:\n  - routine: find_peaks\n    height: 1.0\n  - routine: psth\n    binsize: 0.02\n",
    );
    trialflow(&tmp.path, &["run", "ps.yaml", "-q"]).ok();
    render_both(
        &tmp.path,
        "ps.spy",
        "psth",
        &["--channels", "0-3"],
        &["TimeLockData", "=channel0_unit0", "rate (1/s)", "time (s)"],
    );
    let cases: &[(&[&str], &[&str])] = &[
        (&["--latency", "5", "6"], &["--latency", "outside"]),
        (&["--channels", "zz"], &["--channels", "zz"]),
        (&["--trials", "30"], &["--trials", "'30'"]),
        (&["--foilim", "1", "2"], &["--foilim", "TimeLockData"]),
    ];
    for (i, (args, needles)) in cases.iter().enumerate() {
        let out = format!("bad{i}.png");
        let mut all = vec!["plot", "tl.spy", "-o", &out];
        all.extend_from_slice(args);
        trialflow(&tmp.path, &all).assert_error(2, needles);
        assert!(!tmp.join(&out).exists(), "{args:?} wrote {out}");
    }
}
