//! Invariants of find_peaks and find_peaks_cwt on random recordings: peaks are sorted, at
//! least `ceil(distance)` apart and real local maxima; properties are consistent; a naive
//! transcription of SciPy's algorithm agrees; and results do not depend on the execution
//! mode or on how channels are grouped into tasks.

use ndarray::Array2;
use proptest::prelude::*;
use serde_json::{json, Value};
use trialflow::in_memory::{InMemoryRecording, MemorySink};
use trialflow::model::{EventBlock, EventColumn};
use trialflow::prelude::*;
use trialflow::Registry;

fn run(
    routine: &str,
    params: &Value,
    data: &Array2<f64>,
    lengths: &[usize],
    mode: ExecutionOptions,
) -> (EventBlock, Vec<EventColumn>) {
    let routine = Registry::builtin()
        .build(routine, params.as_object().unwrap().clone())
        .unwrap();
    let mut source = InMemoryRecording::contiguous(data.clone(), 500.0, lengths).unwrap();
    let mut sink = MemorySink::new();
    let step = Step {
        routine,
        name: "peaks".into(),
        save: false,
        dtype: None,
    };
    let pipeline = Pipeline::new(vec![step], mode);
    run_pipeline(&pipeline, &mut source, &mut sink, None).unwrap();
    let obj = &sink.objects[0];
    (obj.events.clone(), obj.spec.schema.event_columns.clone())
}

/// Signals with plateaus (values quantised to a coarse grid), occasional NaN and enough
/// structure to have peaks.
fn recording() -> impl Strategy<Value = (Array2<f64>, Vec<usize>)> {
    (
        proptest::collection::vec(1usize..120, 1..4),
        1usize..5,
        0u64..10_000,
        prop_oneof![Just(0.0), Just(0.5), Just(0.1)],
        any::<bool>(),
    )
        .prop_map(|(lengths, channels, seed, step, with_nan)| {
            let total: usize = lengths.iter().sum();
            let mut state = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let mut next = move || {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (state >> 11) as f64 / (1u64 << 53) as f64
            };
            let data = Array2::from_shape_fn((total, channels), |(i, c)| {
                let v = (i as f64 * (0.3 + 0.1 * c as f64)).sin() * 2.0 + (next() - 0.5) * 1.5;
                let v = if step > 0.0 {
                    (v / step).round() * step
                } else {
                    v
                };
                if with_nan && next() < 0.03 {
                    f64::NAN
                } else {
                    v
                }
            });
            (data, lengths)
        })
}

fn find_peaks_params() -> impl Strategy<Value = (Value, f64)> {
    (
        prop_oneof![Just(None), (1.0f64..30.0).prop_map(Some)],
        prop_oneof![Just(None), (2.0f64..40.0).prop_map(Some)],
        prop_oneof![Just(0.0), Just(0.5), Just(1.0), 0.0f64..2.0],
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(distance, wlen, rel_height, filter, plateau)| {
            let mut p = json!({
                "height": if filter { json!([-1.0, null]) } else { json!([null, null]) },
                "threshold": [null, null],
                "prominence": if filter { json!(0.1) } else { json!([null, null]) },
                "width": [null, null],
                "rel_height": rel_height,
            });
            if plateau {
                p["plateau_size"] = json!([null, null]);
            }
            if let Some(d) = distance {
                p["distance"] = json!(d);
            }
            if let Some(w) = wlen {
                p["wlen"] = json!(w);
            }
            (p, distance.unwrap_or(1.0))
        })
}

fn column(cols: &[EventColumn], ev: &EventBlock, name: &str) -> Option<Vec<f64>> {
    cols.iter()
        .position(|c| c.name == name)
        .map(|k| ev.columns[k].clone())
}

/// A direct transcription of SciPy's `find_peaks` for `distance` (and no other condition),
/// applying its steps one after another on separate arrays.
fn naive_find_peaks_distance(x: &[f64], distance: f64) -> Vec<usize> {
    let n = x.len();
    let mut peaks = Vec::new();
    let mut i = 1;
    while n >= 3 && i < n - 1 {
        if x[i - 1] < x[i] {
            let mut ahead = i + 1;
            while ahead < n - 1 && x[ahead] == x[i] {
                ahead += 1;
            }
            if x[ahead] < x[i] {
                peaks.push((i + ahead - 1) / 2);
                i = ahead;
            }
        }
        i += 1;
    }
    let d = distance.ceil() as usize;
    let mut order: Vec<usize> = (0..peaks.len()).collect();
    order.sort_by(|&a, &b| x[peaks[a]].partial_cmp(&x[peaks[b]]).unwrap()); // stable
    let mut keep = vec![true; peaks.len()];
    for &j in order.iter().rev() {
        if !keep[j] {
            continue;
        }
        for k in 0..peaks.len() {
            if k != j && peaks[j].abs_diff(peaks[k]) < d {
                keep[k] = false;
            }
        }
    }
    peaks
        .into_iter()
        .zip(keep)
        .filter_map(|(p, k)| k.then_some(p))
        .collect()
}

fn mode_strategy() -> impl Strategy<Value = ExecutionOptions> {
    (0usize..4, proptest::option::of(1usize..4)).prop_map(|(m, cpw)| {
        let mut o = match m {
            0 => ExecutionOptions::sequential(),
            w => ExecutionOptions::parallel(w),
        };
        o.chan_per_worker = cpw;
        o
    })
}

fn same_events(a: &EventBlock, b: &EventBlock) -> bool {
    let bits = |v: &Vec<f64>| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    a.sample == b.sample
        && a.channel == b.channel
        && a.unit == b.unit
        && a.columns.len() == b.columns.len()
        && a.columns
            .iter()
            .zip(&b.columns)
            .all(|(x, y)| bits(x) == bits(y))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn find_peaks_invariants_hold_in_every_mode(
        (data, lengths) in recording(),
        (params, distance) in find_peaks_params(),
        mode in mode_strategy(),
    ) {
        let (ev, cols) = run("find_peaks", &params, &data, &lengths, ExecutionOptions::sequential());
        let (other, _) = run("find_peaks", &params, &data, &lengths, mode);
        prop_assert!(same_events(&ev, &other), "mode changed the result");

        let starts: Vec<usize> = lengths.iter().scan(0, |s, &l| { let a = *s; *s += l; Some(a) }).collect();
        let d = distance.ceil() as i64;
        let prom = column(&cols, &ev, "prominences").unwrap();
        let lb = column(&cols, &ev, "left_bases").unwrap();
        let rb = column(&cols, &ev, "right_bases").unwrap();
        let lip = column(&cols, &ev, "left_ips").unwrap();
        let rip = column(&cols, &ev, "right_ips").unwrap();
        let heights = column(&cols, &ev, "peak_heights").unwrap();
        for i in 0..ev.len() {
            let (s, c) = (ev.sample[i], ev.channel[i] as usize);
            let t = starts.iter().rposition(|&a| a as i64 <= s).unwrap();
            let (a, b) = (starts[t] as i64, (starts[t] + lengths[t]) as i64);
            prop_assert!(a < s && s < b - 1, "peak at a trial's end sample");
            let x = |k: i64| data[[k as usize, c]];
            prop_assert_eq!(heights[i].to_bits(), x(s).to_bits());
            // A local maximum: the run of equal values around it is bordered by smaller ones.
            let (mut l, mut r) = (s, s);
            while x(l - 1) == x(s) { l -= 1; }
            while x(r + 1) == x(s) { r += 1; }
            prop_assert!(x(l - 1) < x(s) && x(r + 1) < x(s));
            prop_assert_eq!(s, (l + r) / 2, "plateau midpoint rounded down");
            if let Some(le) = column(&cols, &ev, "left_edges") {
                prop_assert_eq!((le[i] as i64, column(&cols, &ev, "right_edges").unwrap()[i] as i64), (l, r));
            }
            prop_assert!(prom[i] >= 0.0 || prom[i].is_nan());
            prop_assert!(a as f64 <= lb[i] && lb[i] <= s as f64 && s as f64 <= rb[i] && rb[i] < b as f64);
            prop_assert!(lip[i] <= s as f64 || lip[i].is_nan());
            prop_assert!(rip[i] >= s as f64 || rip[i].is_nan());
        }
        // Per trial and channel: sorted and at least ceil(distance) apart.
        for (t, &a) in starts.iter().enumerate() {
            for c in 0..data.ncols() {
                let samples: Vec<i64> = (0..ev.len())
                    .filter(|&i| ev.channel[i] as usize == c
                        && (a as i64..(a + lengths[t]) as i64).contains(&ev.sample[i]))
                    .map(|i| ev.sample[i])
                    .collect();
                prop_assert!(samples.windows(2).all(|w| w[1] - w[0] >= d),
                    "trial {} channel {}: {:?} closer than {}", t, c, samples, d);
            }
        }
    }

    #[test]
    fn find_peaks_distance_matches_a_naive_transcription(
        (data, lengths) in recording(),
        distance in 1.0f64..25.0,
    ) {
        let params = json!({ "distance": distance });
        let (ev, _) = run("find_peaks", &params, &data, &lengths, ExecutionOptions::parallel(2));
        let mut start = 0;
        let mut expected: Vec<(i64, i64)> = Vec::new();
        for &len in &lengths {
            for c in 0..data.ncols() {
                let x: Vec<f64> = (start..start + len).map(|i| data[[i, c]]).collect();
                for p in naive_find_peaks_distance(&x, distance) {
                    expected.push(((start + p) as i64, c as i64));
                }
            }
            start += len;
        }
        expected.sort();
        let got: Vec<(i64, i64)> = ev.sample.iter().copied().zip(ev.channel.iter().copied()).collect();
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn find_peaks_cwt_is_mode_independent_and_inside_trials(
        (data, lengths) in recording(),
        widths in proptest::collection::vec(0.5f64..12.0, 1..6),
        min_snr in 0.0f64..3.0,
        gap_thresh in prop_oneof![Just(None), Just(Some(-1.0)), Just(Some(0.0)), (0.0f64..5.0).prop_map(Some)],
        max_distances in proptest::option::of(0.0f64..12.0),
        window_size in proptest::option::of(0usize..30),
        min_length in proptest::option::of(0usize..4),
        mode in mode_strategy(),
    ) {
        let mut widths = widths;
        widths.sort_by(f64::total_cmp);
        let mut params = json!({ "widths": widths, "min_snr": min_snr });
        if let Some(g) = gap_thresh { params["gap_thresh"] = json!(g); }
        if let Some(d) = max_distances { params["max_distances"] = json!(d); }
        if let Some(w) = window_size { params["window_size"] = json!(w); }
        if let Some(m) = min_length { params["min_length"] = json!(m); }
        let (ev, cols) = run("find_peaks_cwt", &params, &data, &lengths, ExecutionOptions::sequential());
        prop_assert!(cols.is_empty());
        let (other, _) = run("find_peaks_cwt", &params, &data, &lengths, mode);
        prop_assert!(same_events(&ev, &other), "mode changed the result");
        let starts: Vec<usize> = lengths.iter().scan(0, |s, &l| { let a = *s; *s += l; Some(a) }).collect();
        for i in 0..ev.len() {
            let s = ev.sample[i];
            let t = starts.iter().rposition(|&a| a as i64 <= s).unwrap();
            // A relative maximum of some transform row: never a trial's first or last sample.
            prop_assert!((starts[t] as i64) < s && s < (starts[t] + lengths[t]) as i64 - 1);
            if i > 0 {
                prop_assert!((ev.sample[i - 1], ev.channel[i - 1]) <= (s, ev.channel[i]));
            }
        }
    }
}

/// proptest's minimal case from session 7: a negative `gap_thresh` closes every ridge line
/// at the end of each row, but the first row's lines are still open while the next row
/// starts its own, so the line table needs two rows' room (it had one, and panicked).
#[test]
fn find_peaks_cwt_negative_gap_thresh_needs_room_for_two_rows() {
    let values = [
        0.6674160798141653,
        0.5107913107307391,
        1.5587577430214827,
        0.8531169111566773,
        2.4111609993834744,
        1.7196017728865243,
        1.7020013905915645,
        1.3131139352407568,
        1.2078723646335707,
        1.3144217999225876,
    ];
    let data = Array2::from_shape_vec((10, 1), values.to_vec()).unwrap();
    let params = json!({"widths": [0.5, 0.5088298378256729], "min_snr": 0.0, "gap_thresh": -1.0});
    let (ev, _) = run(
        "find_peaks_cwt",
        &params,
        &data,
        &[10],
        ExecutionOptions::sequential(),
    );
    for &s in &ev.sample {
        assert!(0 < s && s < 9, "peak at an end sample: {s}");
    }
}
