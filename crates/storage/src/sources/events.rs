//! A SpikeData object as a trial source of events.

use serde_json::Value;
use trialflow_core::engine::TrialSource;
use trialflow_core::{DataSchema, Error, ErrorClass, EventBlock, EventSortScratch};

use super::provenance;
use crate::error::StorageError;
use crate::identity::file_identity;
use crate::objects::{EventObject, ObjectHeader};

/// Reads each trial's events with [`EventObject::trial_events`] (bisection, so a trial
/// costs its own rows), ordered by (sample, channel, unit) as the engine promises routines.
pub struct EventSource {
    object: EventObject,
    schema: DataSchema,
    log: String,
    cfg: Value,
    sort: EventSortScratch,
}

impl EventSource {
    pub fn new(header: ObjectHeader) -> Result<EventSource, StorageError> {
        let schema = header.schema();
        let (log, cfg) = provenance(&header);
        let object = EventObject::from_header(header)?;
        Ok(EventSource {
            object,
            schema,
            log,
            cfg,
            sort: EventSortScratch::default(),
        })
    }
}

impl TrialSource for EventSource {
    fn schema(&self) -> &DataSchema {
        &self.schema
    }

    fn read_trial(&mut self, trial: usize, _out: &mut Vec<f64>) -> Result<(), Error> {
        Err(Error::input(
            self.describe(),
            format!("trial {trial}: SpikeData holds events, not dense values"),
            ErrorClass::Runtime,
        ))
    }

    fn read_trial_events(&mut self, trial: usize, out: &mut EventBlock) -> Result<(), Error> {
        let rows = self.object.trial_events(trial).map_err(|e| {
            Error::input(
                format!("{} (trial {trial})", self.describe()),
                e,
                ErrorClass::Runtime,
            )
        })?;
        out.clear();
        out.columns.clear();
        let channels = self.schema.n_channels() as i64;
        for row in rows {
            if !(0..channels).contains(&row.channel) || row.unit < 0 {
                return Err(Error::input(
                    format!("{} (trial {trial})", self.describe()),
                    format!(
                        "an event at sample {} names channel {} and unit {}, but the object has {channels} channels",
                        row.sample, row.channel, row.unit
                    ),
                    ErrorClass::User,
                ));
            }
            out.push(row.sample, row.channel, row.unit, &[]);
        }
        out.sort_rows_with(&mut self.sort);
        Ok(())
    }

    fn log(&self) -> String {
        self.log.clone()
    }

    fn cfg(&self) -> Value {
        self.cfg.clone()
    }

    fn describe(&self) -> String {
        self.object.header().path.display().to_string()
    }

    fn identity(&self) -> Value {
        file_identity(&self.object.header().path)
    }
}
