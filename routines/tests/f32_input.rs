//! A kernel that reads float32 input as stored (`Kernel::reads_f32`) must give the bits it
//! gives for the same values widened to f64 by the engine: the parallel executor hands it
//! the former, the sequential and chunked executors the latter, and every mode must agree.
//! This runs `mtmfft` and `butterworth` both ways over tapers, trends, outputs, whole trials and a strided
//! channel group, and compares every output value bit for bit.

use ndarray::{s, Array2, Array4, ArrayView2};
use trialflow_core::{
    Complex64, ComputationalRoutine, DType, DataSchema, OutputBlock, Planner, Scratch,
    TrialDefinition, TrialInput,
};
use trialflow_routines::filters::{Butterworth, ButterworthParams, FilterType, IirDirection};
use trialflow_routines::spectral::{
    Mtmfft, MtmfftParams, Padding, PolyRemoval, SpectralOutput, Taper,
};
use trialflow_routines::Numbers;

/// Float32 samples with varied magnitudes, an offset and a drift per channel.
fn signal(n: usize, ch: usize) -> Array2<f32> {
    Array2::from_shape_fn((n, ch), |(t, c)| {
        let x = t as f32;
        (x * (0.05 + 0.011 * c as f32)).sin() * 10f32.powi(c as i32 % 5 - 2)
            + 0.3 * c as f32
            + 1e-3 * x
    })
}

/// The schema of a float32 recording of `n` samples whose channels `first..first + ch` a
/// task holds.
fn schema(n: usize, first: usize, ch: usize) -> DataSchema {
    DataSchema::analog(
        DType::Float32,
        1000.0,
        (0..first + ch).map(|c| format!("c{c}")).collect(),
        TrialDefinition::from_trials(&[(0, n, 0.0)], &[]),
    )
}

/// `x` as a task's input: as stored (`as_f32`), or widened into `widened` as the engine
/// does for kernels that read f64 (`empty` stands in for the f64 values otherwise).
fn input<'a>(
    x: ArrayView2<'a, f32>,
    widened: &'a Array2<f64>,
    empty: &'a Array2<f64>,
    first: usize,
    as_f32: bool,
) -> TrialInput<'a> {
    let (n, ch) = x.dim();
    TrialInput {
        data: if as_f32 { empty.view() } else { widened.view() }.into_dyn(),
        data_f32: as_f32.then_some(x),
        events: None,
        trial_len: n,
        trial: 0,
        channels: first..first + ch,
        samplerate: 1000.0,
        offset: 0.0,
    }
}

/// The output values of one task as bits, from f32 input (`as_f32`) or its f64 widening.
fn run(routine: &Mtmfft, x: ArrayView2<'_, f32>, first: usize, as_f32: bool) -> Vec<u64> {
    let (n, ch) = x.dim();
    let schema = schema(n, first, ch);
    let layout = routine.layout(&schema).expect("layout");
    let plan = routine
        .plan(&[n, ch], &schema, &mut Planner::new())
        .expect("plans");
    assert!(plan.reads_f32(), "mtmfft reads float32 as stored");
    let widened = x.mapv(f64::from);
    let empty = Array2::<f64>::zeros((0, ch));
    let input = input(x, &widened, &empty, first, as_f32);
    let mut scratch = Scratch::default();
    scratch.reserve(plan.scratch_size());
    let dim = (1, layout.out_tapers, layout.bins.len(), ch);
    let mut real = Array4::<f64>::from_elem(dim, f64::NAN);
    let mut complex = Array4::<Complex64>::from_elem(dim, Complex64::new(f64::NAN, f64::NAN));
    let fourier = routine.cfg()["output"] == "fourier";
    let mut out = if fourier {
        OutputBlock::Complex(complex.view_mut().into_dyn())
    } else {
        OutputBlock::Dense(real.view_mut().into_dyn())
    };
    plan.compute(&input, &mut out, &mut scratch)
        .expect("computes");
    if fourier {
        complex
            .iter()
            .flat_map(|z| [z.re.to_bits(), z.im.to_bits()])
            .collect()
    } else {
        real.iter().map(|v| v.to_bits()).collect()
    }
}

#[test]
fn float32_as_stored_gives_the_bits_of_its_f64_widening() {
    let cases: Vec<(&str, MtmfftParams)> = vec![
        ("hann, mean removed", MtmfftParams::new().taper(Taper::Hann)),
        (
            "hann, line removed, abs",
            MtmfftParams::new()
                .taper(Taper::Hann)
                .polyremoval(PolyRemoval::Linear)
                .output(SpectralOutput::Abs),
        ),
        (
            "no trend, boxcar, padded",
            MtmfftParams::new()
                .taper(Taper::Boxcar)
                .polyremoval(PolyRemoval::None)
                .pad(Padding::NextPow2),
        ),
        (
            "dpss averaged, demeaned tapers",
            MtmfftParams::new().tapsmofrq(20.0).demean_taper(true),
        ),
        (
            "dpss kept, fourier, line removed",
            MtmfftParams::new()
                .tapsmofrq(20.0)
                .keeptapers(true)
                .polyremoval(PolyRemoval::Linear)
                .output(SpectralOutput::Fourier),
        ),
    ];
    let (n, ch) = (250, 21);
    let x = signal(n, ch);
    for (name, params) in cases {
        let routine = params.check().expect("valid parameters");
        // The whole trial (two full blocks of 8 channels and a partial one), and a channel
        // group as the executors cut it: a strided view of the stored rows.
        for (first, view) in [(0, x.view()), (3, x.slice(s![.., 3..14]))] {
            let stored = run(&routine, view, first, true);
            let widened = run(&routine, view, first, false);
            assert_eq!(stored.len(), widened.len());
            let differ = stored.iter().zip(&widened).filter(|(a, b)| a != b).count();
            assert_eq!(
                differ, 0,
                "{name}, channels from {first}: {differ} values differ"
            );
            assert!(
                stored.iter().all(|&b| !f64::from_bits(b).is_nan()),
                "{name}: every value written"
            );
        }
    }
}

/// `butterworth`'s output bits for one task, from f32 input or its f64 widening.
fn filtered(routine: &Butterworth, x: ArrayView2<'_, f32>, first: usize, as_f32: bool) -> Vec<u64> {
    let (n, ch) = x.dim();
    let schema = schema(n, first, ch);
    let plan = routine
        .plan(&[n, ch], &schema, &mut Planner::new())
        .expect("plans");
    assert!(plan.reads_f32(), "butterworth reads float32 as stored");
    let widened = x.mapv(f64::from);
    let empty = Array2::<f64>::zeros((0, ch));
    let input = input(x, &widened, &empty, first, as_f32);
    let mut scratch = Scratch::default();
    scratch.reserve(plan.scratch_size());
    let mut out = Array2::<f64>::from_elem((n, ch), f64::NAN);
    let mut block = OutputBlock::Dense(out.view_mut().into_dyn());
    plan.compute(&input, &mut block, &mut scratch)
        .expect("computes");
    out.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn butterworth_reads_float32_as_stored_with_the_same_bits() {
    let (n, ch) = (300, 21);
    let x = signal(n, ch);
    for direction in [IirDirection::TwoPass, IirDirection::OnePass] {
        let routine = ButterworthParams::new()
            .filter_type(FilterType::Bandpass)
            .freq(Numbers(vec![20.0, 120.0]))
            .order(4)
            .direction(direction)
            .check()
            .expect("valid parameters");
        // Standard layout (straight into the output) and a strided group (through scratch).
        for (first, view) in [(0, x.view()), (3, x.slice(s![.., 3..14]))] {
            let stored = filtered(&routine, view, first, true);
            let widened = filtered(&routine, view, first, false);
            assert!(
                stored == widened,
                "{direction:?}, channels from {first}: the bits differ"
            );
            assert!(stored.iter().all(|&b| !f64::from_bits(b).is_nan()));
        }
    }
}
