//! The Gaussian's interior loop is compiled for several instruction sets and one is picked at
//! run time. Every path must give the same bits, or results would depend on the machine: this
//! runs each path the CPU has on varied inputs and compares them with the scalar path bit for
//! bit (NaNs by position, not by sign or payload). A path this CPU lacks cannot be checked
//! here; it is printed as skipped, and the test fails outright if nothing but the scalar path
//! could run (nothing would be compared).

use ndarray::Array2;
use trialflow_core::{
    DType, DataSchema, OutputBlock, Planner, Scratch, TrialDefinition, TrialInput,
};
use trialflow_routines::smoothing::{ExtendMode, Gaussian, GaussianParams, Simd};

/// Values that stress the arithmetic: smooth and rough signals, large and tiny magnitudes,
/// subnormals, signed zeros, infinities and NaN.
fn signal(n: usize, ch: usize, seed: usize) -> Array2<f64> {
    Array2::from_shape_fn((n, ch), |(i, c)| {
        let k = i * 31 + c * 7 + seed * 101;
        match (k * 2654435761) % 97 {
            0 => f64::NAN,
            1 => f64::INFINITY,
            2 => -0.0,
            3 => 5e-310, // subnormal
            4 => 1e300,
            5 => -1e-300,
            _ => ((i as f64) * (0.13 + 0.01 * c as f64)).sin() * 10f64.powi((k % 9) as i32 - 4),
        }
    })
}

fn run(routine: &Gaussian, x: &Array2<f64>) -> Vec<u64> {
    let (n, ch) = x.dim();
    let schema = DataSchema::analog(
        DType::Float64,
        1000.0,
        (0..ch).map(|c| format!("c{c}")).collect(),
        TrialDefinition::from_trials(&[(0, n, 0.0)], &[]),
    );
    let plan =
        trialflow_core::ComputationalRoutine::plan(routine, &[n, ch], &schema, &mut Planner::new())
            .expect("plans");
    let mut scratch = Scratch::default();
    scratch.reserve(plan.scratch_size());
    let mut out = Array2::from_elem((n, ch), f64::NAN);
    let task = TrialInput {
        data: x.view().into_dyn(),
        data_f32: None,
        events: None,
        trial_len: x.nrows(),
        trial: 0,
        channels: 0..ch,
        samplerate: 1000.0,
        offset: 0.0,
    };
    plan.compute(
        &task,
        &mut OutputBlock::Dense(out.view_mut().into_dyn()),
        &mut scratch,
    )
    .expect("computes");
    // A NaN's sign and payload are not part of the result: Rust (like C) leaves them to the
    // instruction and operand order LLVM picks, so an optimised scalar loop and a vector one
    // may give NaNs of opposite signs (seen on AMD EPYC, release build). Every NaN counts as
    // one value; where the NaNs are, and every other bit, must match.
    out.iter()
        .map(|v| {
            if v.is_nan() {
                f64::NAN.to_bits()
            } else {
                v.to_bits()
            }
        })
        .collect()
}

#[test]
fn every_available_path_gives_the_scalar_bits() {
    let mut compared = Vec::new();
    for simd in Simd::ALL {
        if !simd.available() {
            eprintln!("skipped: this CPU cannot run the {} path", simd.name());
        } else if simd != Simd::Scalar {
            compared.push(simd);
        }
    }
    assert!(
        !compared.is_empty(),
        "this CPU has no SIMD path besides scalar, so the dispatch cannot be tested here"
    );
    let modes = [
        ExtendMode::Reflect,
        ExtendMode::Mirror,
        ExtendMode::Nearest,
        ExtendMode::Constant,
        ExtendMode::Wrap,
    ];
    let mut cases = 0;
    // Sigmas give kernels shorter and longer than the trials; orders 0 and 2 give symmetric
    // kernels, 1 and 3 antisymmetric ones; channel counts cover full groups of 32 outputs,
    // remainders, and one channel.
    for (s, &sigma) in [0.4, 1.0, 2.7, 9.0].iter().enumerate() {
        for order in 0..4 {
            for (m, &mode) in modes.iter().enumerate() {
                for &(n, ch) in &[(7, 1), (64, 3), (301, 16), (97, 33)] {
                    let x = signal(n, ch, s * 17 + order as usize * 5 + m);
                    let base = GaussianParams::new()
                        .sigma(sigma)
                        .order(order)
                        .mode(mode)
                        .cval(-1.25)
                        .check()
                        .expect("valid");
                    let scalar = run(&base.clone().force_simd(Simd::Scalar).unwrap(), &x);
                    for &simd in &compared {
                        let got = run(&base.clone().force_simd(simd).unwrap(), &x);
                        assert!(
                            got == scalar,
                            "{} differs from scalar: sigma {sigma}, order {order}, {mode:?}, {n}x{ch}",
                            simd.name()
                        );
                    }
                    cases += 1;
                }
            }
        }
    }
    eprintln!(
        "compared {} against scalar on {cases} inputs",
        compared
            .iter()
            .map(|s| s.name())
            .collect::<Vec<_>>()
            .join(", ")
    );
}

#[test]
fn forcing_a_path_the_cpu_lacks_is_refused() {
    let g = GaussianParams::new().sigma(1.0).check().unwrap();
    for simd in Simd::ALL {
        assert_eq!(g.clone().force_simd(simd).is_some(), simd.available());
    }
    assert!(Simd::detect().available());
}
