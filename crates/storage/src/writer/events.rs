//! Event output: rows go to a flat sidecar file during the run (measured in bytes by the
//! journal), and are copied into the object's datasets at finalize.

use std::path::PathBuf;

use trialflow_core::engine::{ObjectId, ObjectSpec};
use trialflow_core::{Error, EventBlock};

use crate::error::StorageError;
use crate::event_sidecar::read_blocks;
use crate::hdf5_util::one_line;

use super::{SpyWriter, APPEND_CHUNK_ROWS};

impl SpyWriter {
    pub(super) fn sidecar_path(&self, tag: &str, shard: Option<(usize, usize)>) -> PathBuf {
        self.staging.join(match shard {
            None => format!("{tag}.events.part"),
            Some((i, n)) => format!("{tag}.events.shard-{i}-of-{n}.part"),
        })
    }

    pub(super) fn append_event_rows(
        &mut self,
        id: ObjectId,
        _trial: usize,
        events: &EventBlock,
    ) -> Result<(), Error> {
        if self.crashed {
            return Err(self.crashed_error());
        }
        let sidecar = self.objects[id.0]
            .events
            .as_mut()
            .expect("event objects have a sidecar");
        sidecar.append(events)?;
        Ok(())
    }

    fn create_events(
        spec: &ObjectSpec,
        file: &hdf5::File,
    ) -> hdf5::Result<(hdf5::Dataset, Vec<hdf5::Dataset>)> {
        let data = file
            .new_dataset::<i64>()
            .chunk((APPEND_CHUNK_ROWS, 3))
            .shape((0.., 3))
            .create("data")?;
        let mut columns = Vec::new();
        for col in &spec.schema.event_columns {
            let ds = if col.is_integer() {
                file.new_dataset::<i64>()
                    .chunk(APPEND_CHUNK_ROWS)
                    .shape(0..)
                    .create(col.name.as_str())?
            } else {
                file.new_dataset::<f64>()
                    .chunk(APPEND_CHUNK_ROWS)
                    .shape(0..)
                    .create(col.name.as_str())?
            };
            columns.push(ds);
        }
        Ok((data, columns))
    }

    /// Copies the event sidecars (one, or one per shard in shard order) into the object
    /// file's datasets, noting which channels and units occur.
    pub(super) fn write_events(&mut self, obj: usize) -> Result<(), Error> {
        let shards: Vec<Option<(usize, usize)>> = if self.merged_shards > 0 {
            (0..self.merged_shards)
                .map(|i| Some((i, self.merged_shards)))
                .collect()
        } else {
            vec![None]
        };
        let tag = self.objects[obj].spec.tag.clone();
        let sidecars: Vec<PathBuf> = shards
            .iter()
            .map(|&sh| self.sidecar_path(&tag, sh))
            .collect();
        let state = &mut self.objects[obj];
        let name = state.file_name.clone();
        let path = self.staging.join(&name);
        let file = state.file.as_ref().expect("created at finalize");
        let (data, columns) = Self::create_events(&state.spec, file)
            .map_err(|e| StorageError::io(&path, one_line(&e)))?;
        let n_columns = state.spec.schema.event_columns.len();
        let kinds: Vec<bool> = state
            .spec
            .schema
            .event_columns
            .iter()
            .map(|c| c.is_integer())
            .collect();
        let mut rows = 0usize;
        let (seen_channels, seen_units) = (&mut state.seen_channels, &mut state.seen_units);
        for sidecar in &sidecars {
            read_blocks(sidecar, n_columns, 1 << 16, |events| {
                let n = events.len();
                seen_channels.extend(events.channel.iter().copied());
                seen_units.extend(events.unit.iter().copied());
                let (start, end) = (rows, rows + n);
                let result = (|| -> hdf5::Result<()> {
                    data.resize((end, 3))?;
                    let mut table = ndarray::Array2::<i64>::zeros((n, 3));
                    for i in 0..n {
                        table[[i, 0]] = events.sample[i];
                        table[[i, 1]] = events.channel[i];
                        table[[i, 2]] = events.unit[i];
                    }
                    data.write_slice(&table, ndarray::s![start..end, ..])?;
                    for ((ds, &integer), values) in columns.iter().zip(&kinds).zip(&events.columns)
                    {
                        ds.resize(end)?;
                        if integer {
                            let ints: Vec<i64> = values.iter().map(|&v| v as i64).collect();
                            ds.write_slice(&ints, ndarray::s![start..end])?;
                        } else {
                            ds.write_slice(values.as_slice(), ndarray::s![start..end])?;
                        }
                    }
                    Ok(())
                })();
                rows = end;
                result.map_err(|e| StorageError::io(&path, one_line(&e)))
            })?;
        }
        Ok(())
    }
}
