//! The state of a run's cross-trial folds (`keeptrials: false`, trial-reducing steps: the
//! engine's flat `[start, len, values...]` subtrees), kept across interruptions and handed
//! from each shard to the merge.
//!
//! The state cannot be recomputed from the output (only the final result is stored), so a
//! resumed run must start from exactly the state of the tasks its journal says are done:
//! fewer tasks lose trials, more count some twice. Each checkpoint therefore writes
//! its sums to a new file named by its generation (`sums.<generation>.bin`) and syncs it;
//! only then does the journal line naming that generation (with the file's size and SHA-1)
//! get written, and only once that line is durable are older generations removed. A kill
//! between the two leaves a newer file that no journal line names, which a resume ignores.
//! The file also records its generation and the completed-task count, so a file renamed or
//! copied from another checkpoint is refused rather than trusted. Shards share the staging
//! folder, so a shard's files carry its name (`sums.s<I>of<N>.<generation>.bin`); the merge
//! reads each shard's last generation, which its finished journal names.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use sha1::{Digest, Sha1};

use crate::error::StorageError;

/// What a journal line says about the sums written for its checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SumsRecord {
    pub generation: u64,
    pub bytes: u64,
    pub sha1: String,
}

impl SumsRecord {
    pub fn to_json(&self) -> Value {
        json!({ "generation": self.generation, "bytes": self.bytes, "sha1": self.sha1 })
    }

    pub fn from_json(value: &Value) -> Option<SumsRecord> {
        Some(SumsRecord {
            generation: value.get("generation")?.as_u64()?,
            bytes: value.get("bytes")?.as_u64()?,
            sha1: value.get("sha1")?.as_str()?.to_string(),
        })
    }
}

const MAGIC: &[u8; 8] = b"TFSUMS1\0";

/// The shard of a run whose sums a file holds (`None`: a whole run's).
pub(crate) type Shard = Option<(usize, usize)>;

/// The file holding generation `generation`'s sums of `shard`.
pub(crate) fn sums_path(staging: &Path, shard: Shard, generation: u64) -> PathBuf {
    match shard {
        None => staging.join(format!("sums.{generation}.bin")),
        Some((i, n)) => staging.join(format!("sums.s{i}of{n}.{generation}.bin")),
    }
}

/// Whether a staging-folder entry is a sums file (of any shard and generation, or the
/// pre-generation `sums.bin`), which the commit removes with the rest of the bookkeeping.
pub(crate) fn is_sums_file(name: &str) -> bool {
    name == "sums.bin" || generation_of(name).is_some()
}

/// The shard and generation a sums file name carries.
fn generation_of(name: &str) -> Option<(Shard, u64)> {
    let middle = name.strip_prefix("sums.")?.strip_suffix(".bin")?;
    if let Ok(generation) = middle.parse() {
        return Some((None, generation));
    }
    let (shard, generation) = middle.strip_prefix('s')?.split_once('.')?;
    let (i, n) = shard.split_once("of")?;
    Some((
        Some((i.parse().ok()?, n.parse().ok()?)),
        generation.parse().ok()?,
    ))
}

/// Writes generation `generation`'s sums (covering the first `completed` tasks): temporary
/// file, sync, rename, sync of the folder (the syncs only if `durable`). Returns what the
/// journal line records.
pub(crate) fn write_sums(
    staging: &Path,
    shard: Shard,
    generation: u64,
    completed: usize,
    sums: &[Option<Vec<f64>>],
    durable: bool,
) -> Result<SumsRecord, StorageError> {
    let bytes = encode(generation, completed, sums);
    let path = sums_path(staging, shard, generation);
    let tmp = path.with_extension("bin.tmp");
    let io = |e| StorageError::io(&path, e);
    let mut file = std::fs::File::create(&tmp).map_err(io)?;
    std::io::Write::write_all(&mut file, &bytes).map_err(io)?;
    if durable {
        file.sync_data().map_err(io)?;
    }
    drop(file);
    std::fs::rename(&tmp, &path).map_err(io)?;
    // The rename is durable only once the folder is.
    if durable {
        std::fs::File::open(staging)
            .and_then(|d| d.sync_all())
            .map_err(|e| StorageError::io(staging, e))?;
    }
    Ok(SumsRecord {
        generation,
        bytes: bytes.len() as u64,
        sha1: sha1_hex(&bytes),
    })
}

/// Reads the sums a journal line names, refusing a file that is missing, of another size or
/// checksum, of another generation or of another task count.
pub(crate) fn read_sums(
    staging: &Path,
    shard: Shard,
    record: &SumsRecord,
    completed: usize,
) -> Result<Vec<Option<Vec<f64>>>, StorageError> {
    let path = sums_path(staging, shard, record.generation);
    let refuse = |why: String| {
        StorageError::output(
            &path,
            format!(
                "{why}; the cross-trial state of the interrupted run is lost, run it again without --resume"
            ),
        )
    };
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(refuse(format!(
                "is missing (the journal names checkpoint {}'s sums)",
                record.generation
            )))
        }
        Err(e) => return Err(StorageError::io(&path, e)),
    };
    if bytes.len() as u64 != record.bytes {
        return Err(refuse(format!(
            "holds {} bytes, but the journal recorded {}",
            bytes.len(),
            record.bytes
        )));
    }
    if sha1_hex(&bytes) != record.sha1 {
        return Err(refuse(
            "does not match the checksum the journal recorded".into(),
        ));
    }
    let (generation, covered, sums) =
        decode(&bytes).ok_or_else(|| refuse("is not a sums file".into()))?;
    if generation != record.generation || covered != completed as u64 {
        return Err(refuse(format!(
            "holds the sums of checkpoint {generation} ({covered} tasks), but the journal expects checkpoint {} ({completed} tasks)",
            record.generation
        )));
    }
    Ok(sums)
}

/// Removes every sums file of `shard` but generation `keep`'s (call once the journal line
/// naming `keep` is durable); other shards' files are theirs. Leftovers are harmless, so
/// failures are ignored.
pub(crate) fn remove_other_generations(staging: &Path, shard: Shard, keep: u64) {
    let Ok(entries) = std::fs::read_dir(staging) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let stale = match generation_of(&name) {
            Some((of, g)) => of == shard && g != keep,
            None => {
                let tmp = name
                    .strip_suffix(".tmp")
                    .and_then(generation_of)
                    .is_some_and(|(of, _)| of == shard);
                tmp || (shard.is_none() && name == "sums.bin")
            }
        };
        if stale {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

fn sha1_hex(bytes: &[u8]) -> String {
    Sha1::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Layout: magic, generation, completed, object count, then per object its value count and
/// values (0 values: the object is not averaged). All little-endian u64/f64.
fn encode(generation: u64, completed: usize, sums: &[Option<Vec<f64>>]) -> Vec<u8> {
    let values: usize = sums.iter().flatten().map(Vec::len).sum();
    let mut bytes = Vec::with_capacity(32 + 8 * (sums.len() + values));
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&generation.to_le_bytes());
    bytes.extend_from_slice(&(completed as u64).to_le_bytes());
    bytes.extend_from_slice(&(sums.len() as u64).to_le_bytes());
    for sum in sums {
        let values = sum.as_deref().unwrap_or(&[]);
        bytes.extend_from_slice(&(values.len() as u64).to_le_bytes());
        for v in values {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
    }
    bytes
}

/// The inverse of [`encode`]; `None` for anything short, long or not starting with the magic.
#[allow(clippy::type_complexity)]
fn decode(bytes: &[u8]) -> Option<(u64, u64, Vec<Option<Vec<f64>>>)> {
    let rest = bytes.strip_prefix(MAGIC.as_slice())?;
    if !rest.len().is_multiple_of(8) {
        return None;
    }
    let mut words = rest
        .chunks_exact(8)
        .map(|w| <[u8; 8]>::try_from(w).expect("8 bytes"));
    let mut next = || words.next().map(u64::from_le_bytes);
    let generation = next()?;
    let completed = next()?;
    let objects = next()?;
    let mut sums = Vec::new();
    for _ in 0..objects {
        let len = next()? as usize;
        let mut values = Vec::with_capacity(len.min(rest.len() / 8));
        for _ in 0..len {
            values.push(f64::from_bits(next()?));
        }
        sums.push((len > 0).then_some(values));
    }
    next().is_none().then_some((generation, completed, sums))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Option<Vec<f64>>> {
        vec![Some(vec![1.5, -0.0, f64::NAN]), None, Some(vec![2.0])]
    }

    #[test]
    fn round_trips_bit_for_bit() {
        let bytes = encode(7, 12, &sample());
        let (generation, completed, sums) = decode(&bytes).unwrap();
        assert_eq!((generation, completed), (7, 12));
        let bits = |s: &[Option<Vec<f64>>]| -> Vec<Option<Vec<u64>>> {
            s.iter()
                .map(|o| o.as_ref().map(|v| v.iter().map(|x| x.to_bits()).collect()))
                .collect()
        };
        assert_eq!(bits(&sums), bits(&sample()));
    }

    #[test]
    fn short_long_and_foreign_bytes_are_refused() {
        let bytes = encode(1, 3, &sample());
        for cut in [0, 7, 8, 20, bytes.len() - 8, bytes.len() - 1] {
            assert!(decode(&bytes[..cut]).is_none(), "cut at {cut}");
        }
        let mut long = bytes.clone();
        long.extend_from_slice(&[0; 8]);
        assert!(decode(&long).is_none());
        let mut foreign = bytes;
        foreign[0] = b'X';
        assert!(decode(&foreign).is_none());
    }

    #[test]
    fn a_shard_removes_only_its_own_generations() {
        let dir = std::env::temp_dir().join(format!("tf-sums-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (shard, g) in [
            (None, 1),
            (Some((0, 2)), 1),
            (Some((0, 2)), 2),
            (Some((1, 2)), 1),
        ] {
            write_sums(&dir, shard, g, 0, &sample(), true).unwrap();
        }
        remove_other_generations(&dir, Some((0, 2)), 2);
        let mut left: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .collect();
        left.sort();
        assert_eq!(left, ["sums.1.bin", "sums.s0of2.2.bin", "sums.s1of2.1.bin"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn names_are_recognised() {
        assert!(is_sums_file("sums.bin"));
        assert!(is_sums_file("sums.42.bin"));
        assert!(is_sums_file("sums.s1of3.42.bin"));
        assert_eq!(generation_of("sums.s1of3.42.bin"), Some((Some((1, 3)), 42)));
        assert_eq!(generation_of("sums.7.bin"), Some((None, 7)));
        assert!(!is_sums_file("sums.s1x3.42.bin"));
        assert!(!is_sums_file("sums.x.bin"));
        assert!(!is_sums_file("results_x.analog"));
    }
}
