//! Reading only what a figure shows: per trial, the selected rows, channels and
//! frequencies as hyperslabs (channels in runs of consecutive indices), accumulated into
//! what is drawn, so memory holds one trial's selection plus the figure's own data.

pub mod events;
pub mod spectra;
pub mod traces;
