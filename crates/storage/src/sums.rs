//! The state of a run's cross-trial folds (`keeptrials: false`, trial-reducing steps: the
//! engine's flat `[start, len, values...]` subtrees), kept across interruptions and handed
//! from each shard to the merge.
//!
//! The state cannot be recomputed from the output (only the final result is stored), so a
//! resumed run must start from exactly the state of the tasks its journal says are done:
//! fewer tasks lose trials, more count some twice. Each checkpoint therefore writes
//! its sums to a new file named by its generation (`sums.<generation>.bin`) and syncs it;
//! only then does the journal line naming that generation (with the file's size and
//! checksum) get written, and only once that line is durable are older generations removed.
//! A kill between the two leaves a newer file that no journal line names, which a resume
//! ignores. The file also records its generation and the completed-task count, so a file
//! renamed or copied from another checkpoint is refused rather than trusted. Shards share the
//! staging folder, so a shard's files carry its name (`sums.s<I>of<N>.<generation>.bin`); the
//! merge reads each shard's last generation, which its finished journal names.
//!
//! The checksum guards against a file whose bytes are not the ones written (a damaged disk,
//! a file cut short or edited by hand): it is XXH3-128, which any change of the bytes alters
//! except with a chance of about 2^-128, as SHA-1 did (2^-160). It is not meant to resist a
//! forger: whoever can replace the file can rewrite the journal line naming it too, so a
//! cryptographic hash bought nothing, and SHA-1 cost more than writing the file (a 64-channel
//! coherence run's state is hundreds of MB). Journals written before carry `sha1`, which is
//! still checked.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use sha1::{Digest, Sha1};
use xxhash_rust::xxh3::{xxh3_128, Xxh3};

use crate::error::StorageError;
use crate::raw_io::as_bytes;

/// What a journal line says about the sums written for its checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SumsRecord {
    pub generation: u64,
    pub bytes: u64,
    pub checksum: Checksum,
}

/// A sums file's checksum as a journal line records it (hex digits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Checksum {
    Xxh3(String),
    /// What journals written before XXH3 record.
    Sha1(String),
}

impl Checksum {
    fn of(&self, bytes: &[u8]) -> Checksum {
        match self {
            Checksum::Xxh3(_) => Checksum::Xxh3(xxh3_hex(xxh3_128(bytes))),
            Checksum::Sha1(_) => Checksum::Sha1(
                Sha1::digest(bytes)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect(),
            ),
        }
    }
}

impl SumsRecord {
    pub fn to_json(&self) -> Value {
        let (key, hex) = match &self.checksum {
            Checksum::Xxh3(hex) => ("xxh3_128", hex),
            Checksum::Sha1(hex) => ("sha1", hex),
        };
        json!({ "generation": self.generation, "bytes": self.bytes, key: hex })
    }

    pub fn from_json(value: &Value) -> Option<SumsRecord> {
        let hex = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_string);
        let checksum = match hex("xxh3_128") {
            Some(hex) => Checksum::Xxh3(hex),
            None => Checksum::Sha1(hex("sha1")?),
        };
        Some(SumsRecord {
            generation: value.get("generation")?.as_u64()?,
            bytes: value.get("bytes")?.as_u64()?,
            checksum,
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
/// journal line records. The values go to the file straight from `sums`, a slice at a time
/// that is hashed while it is in cache, with no copy of the whole state in between.
pub(crate) fn write_sums(
    staging: &Path,
    shard: Shard,
    generation: u64,
    completed: usize,
    sums: &[Option<Vec<f64>>],
    durable: bool,
) -> Result<SumsRecord, StorageError> {
    let path = sums_path(staging, shard, generation);
    let tmp = path.with_extension("bin.tmp");
    let io = |e| StorageError::io(&path, e);
    let mut file = std::fs::File::create(&tmp).map_err(io)?;
    let mut hasher = Xxh3::new();
    let mut bytes = 0u64;
    let mut scratch = Vec::new();
    encode_into(generation, completed, sums, &mut scratch, |chunk| {
        hasher.update(chunk);
        bytes += chunk.len() as u64;
        std::io::Write::write_all(&mut file, chunk)
    })
    .map_err(io)?;
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
        bytes,
        checksum: Checksum::Xxh3(xxh3_hex(hasher.digest128())),
    })
}

fn xxh3_hex(digest: u128) -> String {
    format!("{digest:032x}")
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
    if record.checksum.of(&bytes) != record.checksum {
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

/// How many values go to the file at a time: the slice is hashed and written while it is
/// in cache.
const CHUNK_VALUES: usize = 1 << 17;

/// Layout: magic, generation, completed, object count, then per object its value count and
/// values (0 values: the object is not averaged). All little-endian u64/f64. Hands the bytes
/// to `put` in order, the values a chunk at a time (`scratch` converts them on a big-endian
/// machine; on a little-endian one they are handed over where they lie).
fn encode_into(
    generation: u64,
    completed: usize,
    sums: &[Option<Vec<f64>>],
    scratch: &mut Vec<u8>,
    mut put: impl FnMut(&[u8]) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut header = Vec::with_capacity(32);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&generation.to_le_bytes());
    header.extend_from_slice(&(completed as u64).to_le_bytes());
    header.extend_from_slice(&(sums.len() as u64).to_le_bytes());
    put(&header)?;
    for sum in sums {
        let values = sum.as_deref().unwrap_or(&[]);
        put(&(values.len() as u64).to_le_bytes())?;
        for chunk in values.chunks(CHUNK_VALUES) {
            if cfg!(target_endian = "little") {
                put(as_bytes(chunk))?;
            } else {
                scratch.clear();
                scratch.extend(chunk.iter().flat_map(|v| v.to_le_bytes()));
                put(scratch)?;
            }
        }
    }
    Ok(())
}

/// The file's bytes in one vector (tests).
#[cfg(test)]
fn encode(generation: u64, completed: usize, sums: &[Option<Vec<f64>>]) -> Vec<u8> {
    let mut bytes = Vec::new();
    encode_into(generation, completed, sums, &mut Vec::new(), |chunk| {
        bytes.extend_from_slice(chunk);
        Ok(())
    })
    .expect("writing to a vector cannot fail");
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
    fn a_written_file_reads_back_and_a_changed_byte_is_refused() {
        let dir = std::env::temp_dir().join(format!("tf-sums-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let big: Vec<f64> = (0..3 * CHUNK_VALUES + 5).map(|i| i as f64 * 0.5).collect();
        let sums = vec![Some(big), None, Some(vec![2.0])];
        let record = write_sums(&dir, None, 3, 9, &sums, false).unwrap();
        let path = sums_path(&dir, None, 3);
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(
            bytes,
            encode(3, 9, &sums),
            "the file is the layout, streamed"
        );
        assert_eq!(record.bytes, bytes.len() as u64);
        let back = read_sums(&dir, None, &record, 9).unwrap();
        assert_eq!(back[0].as_ref().unwrap().len(), 3 * CHUNK_VALUES + 5);
        assert_eq!(back[2], Some(vec![2.0]));
        // A journal line of an older trialflow names the file's SHA-1 instead.
        let json = SumsRecord::from_json(&record.to_json()).unwrap();
        assert_eq!(json, record);
        let old = SumsRecord {
            checksum: Checksum::Sha1(String::new()).of(&bytes),
            ..record.clone()
        };
        let old = SumsRecord::from_json(&old.to_json()).unwrap();
        assert!(matches!(old.checksum, Checksum::Sha1(_)));
        assert!(read_sums(&dir, None, &old, 9).is_ok());
        let mut changed = bytes.clone();
        changed[8 * CHUNK_VALUES] ^= 1;
        std::fs::write(&path, &changed).unwrap();
        for record in [&record, &old] {
            let err = read_sums(&dir, None, record, 9).unwrap_err().to_string();
            assert!(err.contains("checksum"), "{err}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
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
