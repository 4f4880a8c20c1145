//! NWB 2.x recordings (HDF5-backed), read with the HDF5 library: no Python involved.
//!
//! [`NwbFile`] opens a file read-only and lists its ElectricalSeries (in `/acquisition` and
//! in processing modules) and interval tables; [`NwbSource`] reads one series as trials cut
//! from the continuous recording, in the series' unit (`data x conversion x
//! channel_conversion + offset`) or as stored. `docs/inputs.md` maps each NWB field to what
//! trialflow does with it.

mod catalog;
mod source;

pub use catalog::{
    is_nwb, ColumnKind, NwbColumn, NwbFile, NwbIntervalTable, NwbSeries, StoredType, TimeBase,
    TIMESTAMP_TOLERANCE,
};
pub use source::{NwbSource, Scale};
