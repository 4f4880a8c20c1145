//! The kernels of `connectivity`: one trial's contribution (or, with `keeptrials`, its
//! output), written into the block the engine hands out, with buffers borrowed from the
//! worker's scratch so nothing is allocated per trial.

use ndarray::{s, ArrayView2, ArrayView3, ArrayViewMut2, ArrayViewMut3, Axis, Ix3, Ix4};
use trialflow_core::routine::ScratchSize;
use trialflow_core::{Kernel, OutputBlock, RoutineError, Scratch, TrialInput};

use super::routine::Contribution;
use super::{
    dyadic_product_into, dyadic_product_packed, pack, packed_stage_len, ppc, ChannelPairs,
    CorrPlan, CsdPlan, Packing,
};

/// One trial's cross-spectra for the pairs, from its samples (`csd`) or from the complex
/// spectra it arrives as.
pub(super) struct CrossKernel {
    pub(super) csd: Option<CsdPlan>,
    pub(super) n_freqs: usize,
    pub(super) pairs: ChannelPairs,
    pub(super) channels: usize,
    pub(super) contribution: Contribution,
    /// The layout of a `Packed` contribution.
    pub(super) packing: Packing,
}

impl CrossKernel {
    /// Scratch beyond the spectra's: the cross-spectra and both auto-spectra, or the
    /// staging of the packed products (spectra computed here, packed contribution).
    fn pair_len(&self) -> (usize, usize) {
        let (ni, nj) = (self.pairs.senders.len(), self.pairs.receivers.len());
        match (&self.csd, self.contribution) {
            (Some(plan), Contribution::Packed) => {
                (packed_stage_len(plan.n_tapers(), &self.pairs), 0)
            }
            _ => (self.n_freqs * (ni + nj), self.n_freqs * ni * nj),
        }
    }
}

impl Kernel for CrossKernel {
    fn scratch_size(&self) -> ScratchSize {
        let (real, complex) = self
            .csd
            .as_ref()
            .map_or((0, 0), |p| p.scratch_len(self.channels));
        let (pr, pc) = self.pair_len();
        ScratchSize {
            real: real + pr,
            complex: complex + pc,
            index: 0,
        }
    }

    fn compute(
        &self,
        input: &TrialInput<'_>,
        output: &mut OutputBlock<'_>,
        scratch: &mut Scratch,
    ) -> Result<(), RoutineError> {
        let (pr, pc) = self.pair_len();
        let (ni, nj) = (self.pairs.senders.len(), self.pairs.receivers.len());
        let nf = self.n_freqs;
        // The common case: spectra computed here, written straight into the contribution.
        if let (Some(plan), Contribution::Packed) = (&self.csd, self.contribution) {
            let mut out = output.complex_mut();
            let out = out
                .as_slice_mut()
                .ok_or_else(|| RoutineError::failed("connectivity block not contiguous"))?;
            let (stage, real) = scratch.real.split_at_mut(pr);
            let complex = &mut scratch.complex[pc..];
            let mut b = plan.buffers(self.channels, real, complex);
            plan.spectra(input.samples(), &mut b)?;
            dyadic_product_packed(b.spectra(), &self.pairs, self.packing, out, stage);
            return Ok(());
        }
        let (real, complex) = (&mut scratch.real[..], &mut scratch.complex[..]);
        let (autos, real) = real.split_at_mut(pr);
        let (cross, complex) = complex.split_at_mut(pc);
        let (auto_i, auto_j) = autos.split_at_mut(nf * ni);
        let cross = ArrayViewMut3::from_shape((nf, ni, nj), cross).expect("sized by scratch_size");
        let auto_i = ArrayViewMut2::from_shape((nf, ni), auto_i).expect("sized");
        let auto_j = ArrayViewMut2::from_shape((nf, nj), auto_j).expect("sized");
        match &self.csd {
            Some(plan) => {
                let mut b = plan.buffers(self.channels, real, complex);
                plan.spectra(input.samples(), &mut b)?;
                dyadic_product_into(b.spectra(), &self.pairs, cross, auto_i, auto_j);
            }
            None => {
                let x = input.complex_values();
                let x = x
                    .into_dimensionality::<Ix4>()
                    .map_err(|e| RoutineError::failed(format!("spectra: {e}")))?;
                dyadic_product_into(
                    x.index_axis_move(Axis(0), 0),
                    &self.pairs,
                    cross,
                    auto_i,
                    auto_j,
                );
            }
        }
        let cross = ArrayView3::from_shape((nf, ni, nj), &scratch.complex[..pc]).expect("sized");
        let auto_i = ArrayView2::from_shape((nf, ni), &scratch.real[..nf * ni]).expect("sized");
        let auto_j = ArrayView2::from_shape((nf, nj), &scratch.real[nf * ni..pr]).expect("sized");
        let mut out = output.complex_mut();
        match self.contribution {
            Contribution::Trial => {
                out.slice_mut(s![0, .., .., ..]).assign(&cross);
            }
            Contribution::Phasors => {
                let out = out
                    .view_mut()
                    .into_dimensionality::<Ix3>()
                    .map_err(|e| RoutineError::failed(format!("connectivity block: {e}")))?;
                ppc::contribution(cross, out);
            }
            Contribution::Packed => {
                let out = out
                    .as_slice_mut()
                    .ok_or_else(|| RoutineError::failed("connectivity block not contiguous"))?;
                pack(cross, auto_i, auto_j, self.packing, out);
            }
            Contribution::Covariance => unreachable!("corr has its own kernel"),
        }
        Ok(())
    }
}

/// One trial's cross-covariances at every lag (`corr`).
pub(super) struct CorrKernel {
    pub(super) plan: CorrPlan,
    pub(super) channels: usize,
}

impl Kernel for CorrKernel {
    fn scratch_size(&self) -> ScratchSize {
        let (real, complex) = self.plan.scratch_len(self.channels);
        ScratchSize {
            real,
            complex,
            index: 0,
        }
    }

    fn compute(
        &self,
        input: &TrialInput<'_>,
        output: &mut OutputBlock<'_>,
        scratch: &mut Scratch,
    ) -> Result<(), RoutineError> {
        let mut out = output.dense_mut();
        let out = out
            .view_mut()
            .into_dimensionality::<Ix3>()
            .map_err(|e| RoutineError::failed(format!("connectivity block: {e}")))?;
        self.plan.trial_into(
            input.samples(),
            out,
            &mut scratch.real,
            &mut scratch.complex,
        )
    }
}
