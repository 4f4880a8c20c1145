//! Small helpers over the `hdf5` crate: opening files the way trialflow needs, reading
//! string attributes safely, and one-line error messages.

use std::path::Path;

use hdf5::plist::file_access::FileAccessBuilder;
use hdf5::types::{TypeDescriptor, VarLenUnicode};

use crate::error::StorageError;

/// Every file we open or create goes through a file access property list with HDF5 file
/// locking off (`H5Pset_file_locking(fapl, false, true)`): with it on, concurrent runs on
/// one input fail ("unable to lock file"), and so does reading a result while another
/// program has it open. A property list, unlike `HDF5_USE_FILE_LOCKING`, touches no
/// process-wide state. The `hdf5` crate applies the setting wherever the library has it
/// (HDF5 1.10.7 and later); `tests::the_access_list_turns_locking_off` checks this build
/// does.
fn without_locking() -> hdf5::FileBuilder {
    let mut builder = file_builder();
    builder.with_fapl(access_settings);
    builder
}

/// A file builder, after [`keep_freed_file_caches`].
fn file_builder() -> hdf5::FileBuilder {
    keep_freed_file_caches();
    hdf5::File::with_options()
}

/// Lets HDF5 keep a closed file's metadata cache for the next file instead of freeing it.
///
/// Every file opened or created allocates a cache header of about 1 MiB (`H5C_t`, mostly
/// its hash table) on one of HDF5's free lists, and a free list longer than 64 KiB (the
/// default limit) goes back to `malloc` at once. So each file, and a run creates one per
/// part lane and one per object, paid for 256 fresh pages faulted in and zeroed: about a
/// tenth of a small run's time. With room for a few caches on the list, a file after the
/// first reuses one (HDF5 still clears it, in memory that is already mapped). The other
/// limits stay at HDF5's defaults; the bound is what a handful of open files hold anyway.
fn keep_freed_file_caches() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        const MIB: std::ffi::c_int = 1 << 20;
        hdf5::sync::sync(|| {
            // SAFETY: plain integers; the call only records limits. `sync` has run the
            // crate's library initialisation first (so `H5dont_atexit` still comes before
            // anything else). Its status is not checked: a failure would leave HDF5's
            // defaults, which are correct, only slower.
            unsafe {
                hdf5_sys::h5::H5set_free_list_limits(
                    8 * MIB,  // regular lists, all together (default 1 MiB)
                    4 * MIB,  // one regular list (default 64 KiB)
                    4 * MIB,  // array lists, all together (the default)
                    MIB / 4,  // one array list (the default)
                    16 * MIB, // block lists, all together (the default)
                    MIB,      // one block list (the default)
                );
            }
        });
    });
}

fn access_settings(fapl: &mut FileAccessBuilder) -> &mut FileAccessBuilder {
    fapl.file_locking(false)
}

/// Creates (truncating) a file for writing, without file locking.
pub fn create_file(path: &Path) -> hdf5::Result<hdf5::File> {
    without_locking().create(path)
}

/// Opens an existing file for writing, without file locking.
pub fn open_rw(path: &Path) -> hdf5::Result<hdf5::File> {
    without_locking().open_rw(path)
}

/// Opens a file read-only without HDF5 file locking, so any number of processes can read it
/// while it is also open elsewhere. Failures become one-line messages naming the file.
pub fn open_read_only(path: &Path) -> Result<hdf5::File, StorageError> {
    open_read_only_with(path, without_locking())
}

/// HDF5's chunk cache for files whose chunks HDF5 itself inflates (NWB series whose chunks
/// are much longer than a trial): room for a row of large chunks, so consecutive trials in
/// one chunk inflate it once. HDF5's default (1 MiB) holds no chunk of a typical NWB series,
/// and then every trial would inflate its chunks again.
const READ_CHUNK_CACHE_BYTES: usize = 64 << 20;
/// Hash slots of that cache: a prime about 100 times the chunks it can hold, as HDF5 advises.
const READ_CHUNK_CACHE_SLOTS: usize = 12_421;

/// [`open_read_only`], with a chunk cache sized for reading long compressed series.
pub(crate) fn open_read_only_cached(path: &Path) -> Result<hdf5::File, StorageError> {
    let mut builder = file_builder();
    builder.with_fapl(|fapl| {
        access_settings(fapl).chunk_cache(READ_CHUNK_CACHE_SLOTS, READ_CHUNK_CACHE_BYTES, 1.0)
    });
    open_read_only_with(path, builder)
}

fn open_read_only_with(
    path: &Path,
    builder: hdf5::FileBuilder,
) -> Result<hdf5::File, StorageError> {
    builder.open(path).map_err(|e| {
        let message = if e.to_string().contains("file signature not found") {
            "is not an HDF5 file".to_string()
        } else if e.to_string().contains("truncated file") {
            "is a truncated HDF5 file".to_string()
        } else {
            format!("cannot be opened as HDF5: {}", one_line(&e))
        };
        StorageError::format(path, message)
    })
}

/// An HDF5 error message on one line.
pub fn one_line(e: &hdf5::Error) -> String {
    e.to_string().replace('\n', " ")
}

/// Reads a string attribute whatever its HDF5 string type; `None` if absent or not a string.
pub fn read_string_attr(location: &hdf5::Location, name: &str) -> Option<String> {
    let attr = location.attr(name).ok()?;
    let desc = attr.dtype().ok()?.to_descriptor().ok()?;
    match desc {
        TypeDescriptor::VarLenUnicode | TypeDescriptor::VarLenAscii => attr
            .read_scalar::<VarLenUnicode>()
            .ok()
            .map(|s| String::from_utf8_lossy(s.as_bytes()).into_owned()),
        TypeDescriptor::FixedAscii(_) | TypeDescriptor::FixedUnicode(_) => {
            attr.read_raw::<u8>().ok().map(|b| {
                String::from_utf8_lossy(&b)
                    .trim_end_matches('\0')
                    .to_string()
            })
        }
        _ => None,
    }
}

/// Writes a scalar UTF-8 string attribute (interior NULs are dropped: HDF5 cannot hold them).
pub fn write_string_attr(location: &hdf5::Location, name: &str, value: &str) -> hdf5::Result<()> {
    let clean: String = value.chars().filter(|&c| c != '\0').collect();
    let v: VarLenUnicode = clean.parse().expect("NUL characters removed");
    location
        .new_attr::<VarLenUnicode>()
        .create(name)?
        .write_scalar(&v)
}

/// Writes a 1-D array of UTF-8 strings as an attribute.
pub fn write_strings_attr(
    location: &hdf5::Location,
    name: &str,
    values: &[String],
) -> hdf5::Result<()> {
    let items: Vec<VarLenUnicode> = values
        .iter()
        .map(|s| {
            s.chars()
                .filter(|&c| c != '\0')
                .collect::<String>()
                .parse()
                .expect("NUL characters removed")
        })
        .collect();
    location
        .new_attr_builder()
        .with_data(&items)
        .create(name)
        .map(|_| ())
}

/// The source file names of a virtual dataset (empty for an ordinary dataset), as stored.
///
/// A missing source reads silently as the fill value, so readers must check the sources
/// themselves. (The crate's `get_virtual_map` fails on valid files, hence the raw calls.)
pub fn virtual_source_files(dataset: &hdf5::Dataset) -> hdf5::Result<Vec<String>> {
    use hdf5::plist::dataset_create::Layout;
    use hdf5_sys::h5p::{H5Pget_virtual_count, H5Pget_virtual_filename};

    let dcpl = dataset.dcpl()?;
    if dcpl.layout() != Layout::Virtual {
        return Ok(Vec::new());
    }
    let id = dcpl.id();
    hdf5::sync::sync(|| {
        let mut count = 0;
        // SAFETY: `id` is a live dataset-creation property list; the buffer is sized from
        // the length HDF5 reports, plus the terminating NUL.
        unsafe {
            if H5Pget_virtual_count(id, &mut count) < 0 {
                return Err(hdf5::Error::from(
                    "cannot read the virtual dataset's mappings",
                ));
            }
            let mut names = Vec::with_capacity(count);
            for i in 0..count {
                let len = H5Pget_virtual_filename(id, i, std::ptr::null_mut(), 0);
                if len < 0 {
                    return Err(hdf5::Error::from(
                        "cannot read a virtual dataset source name",
                    ));
                }
                let mut buf = vec![0u8; len as usize + 1];
                H5Pget_virtual_filename(id, i, buf.as_mut_ptr().cast(), buf.len());
                buf.truncate(len as usize);
                let name = String::from_utf8_lossy(&buf).into_owned();
                if !names.contains(&name) {
                    names.push(name);
                }
            }
            Ok(names)
        }
    })
}

/// Refuses a virtual dataset whose source files are missing or unreadable: HDF5 would
/// otherwise read their part as the fill value without any error.
pub fn check_virtual_sources(path: &Path, dataset: &hdf5::Dataset) -> Result<(), StorageError> {
    let sources = virtual_source_files(dataset)
        .map_err(|e| StorageError::format(path, format!("'data': {}", one_line(&e))))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    for name in sources {
        if name == "." {
            continue; // the file itself
        }
        let source = if Path::new(&name).is_absolute() {
            Path::new(&name).to_path_buf()
        } else {
            dir.join(&name)
        };
        if !source.is_file() {
            return Err(StorageError::format(
                path,
                format!(
                    "'data' is a virtual dataset whose source file {} is missing",
                    source.display()
                ),
            ));
        }
        open_read_only(&source).map_err(|e| {
            StorageError::format(
                path,
                format!("'data' is a virtual dataset whose source is unreadable: {e}"),
            )
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_access_list_turns_locking_off() {
        let mut fapl = FileAccessBuilder::new();
        access_settings(&mut fapl);
        let fapl = fapl.finish().unwrap();
        assert!(
            !fapl.get_file_locking().unwrap(),
            "the list keeps locking on"
        );
    }

    #[test]
    fn files_are_created_and_opened_through_the_access_list() {
        let dir = std::env::temp_dir().join(format!("trialflow-locking-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f.h5");
        create_file(&path).unwrap().close().unwrap();
        drop(open_rw(&path).unwrap());
        drop(open_read_only(&path).unwrap());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
