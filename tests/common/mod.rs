//! Helpers shared by the command-line integration tests (`tests/cli.rs`, `tests/bad_input.rs`):
//! a temporary folder per test, running the real `trialflow` binary, fingerprinting files
//! (SHA-1 via the system `sha1sum`, plus mtime) and reading result containers back with the
//! `hdf5` crate.

#![allow(dead_code)]

pub mod every_mode;
pub mod reference;
pub mod runs;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_trialflow");

/// Makes in-process HDF5 calls safe and quiet (once per test binary).
pub fn init() {
    static ONCE: Once = Once::new();
    ONCE.call_once(trialflow::hdf5::init_hdf5);
}

/// Opens an HDF5 file read-only the way trialflow does (file locking off). Tests open files
/// that trialflow processes also open, and HDF5 refuses a second open of one file with
/// another locking setting, or a locked one, even within one process.
pub fn h5_open(path: impl AsRef<Path>) -> hdf5::Result<hdf5::File> {
    hdf5::File::with_options()
        .with_fapl(|p| p.file_locking(false))
        .open(path)
}

/// Like [`h5_open`], read-write.
pub fn h5_open_rw(path: impl AsRef<Path>) -> hdf5::Result<hdf5::File> {
    hdf5::File::with_options()
        .with_fapl(|p| p.file_locking(false))
        .open_rw(path)
}

/// Like [`h5_open`], creating (truncating) the file.
pub fn h5_create(path: impl AsRef<Path>) -> hdf5::Result<hdf5::File> {
    hdf5::File::with_options()
        .with_fapl(|p| p.file_locking(false))
        .create(path)
}

/// A fresh folder under the system temp dir, removed when dropped.
pub struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "trialflow-clitest-{label}-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&path).unwrap();
        TempDir { path }
    }

    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.path.join(rel)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// What one invocation of the binary did.
#[derive(Debug)]
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    /// Panics with everything the process printed unless it exited 0.
    pub fn ok(self) -> Outcome {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Asserts a failure reported the trialflow way: the exit code, and one stderr line
    /// starting with `error:` (no panic, no backtrace hint) containing every needle.
    pub fn assert_error(&self, code: i32, needles: &[&str]) {
        let context = format!("stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        assert_eq!(self.code, code, "exit code\n{context}");
        assert_one_error_line(&self.stderr, needles);
    }
}

/// The stderr of a failure: exactly one line, starting with `error:`, no panic output, and
/// containing every needle.
pub fn assert_one_error_line(stderr: &str, needles: &[&str]) {
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "stderr must be exactly one line, got:\n{stderr}"
    );
    let line = lines[0];
    assert!(
        line.starts_with("error:"),
        "stderr must start with 'error:': {line}"
    );
    for banned in ["panicked", "RUST_BACKTRACE", "internal error"] {
        assert!(
            !stderr.contains(banned),
            "stderr mentions '{banned}': {stderr}"
        );
    }
    for needle in needles {
        assert!(
            line.contains(needle),
            "stderr should mention '{needle}': {line}"
        );
    }
}

/// Runs `trialflow ARGS` in `cwd` with a clean environment for trialflow's own variables.
pub fn trialflow(cwd: &Path, args: &[&str]) -> Outcome {
    trialflow_env(cwd, args, &[])
}

/// Like [`trialflow`], with extra environment variables.
pub fn trialflow_env(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Outcome {
    run_binary(Path::new(BIN), cwd, args, env)
}

/// Runs a trialflow-style binary (ours, or a user's built with `trialflow::cli::main_with`)
/// in `cwd` with a clean environment for trialflow's own variables.
pub fn run_binary(bin: &Path, cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Outcome {
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .current_dir(cwd)
        .env_remove("TRIALFLOW_AVAILABLE_MEMORY")
        .env_remove("TRIALFLOW_BACKTRACE")
        .env_remove("RUST_BACKTRACE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{} runs: {e}", bin.display()));
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Starts `bin run YAML -q EXTRA...` in `dir` and kills it with SIGKILL once its journal
/// shows more than `checkpoints` lines; returns false if the run finished first.
pub fn run_and_kill(
    bin: &Path,
    dir: &Path,
    yaml: &str,
    checkpoints: usize,
    extra: &[&str],
) -> bool {
    let mut child = Command::new(bin)
        .args(["run", yaml, "-q"])
        .args(extra)
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let journal = dir.join("out.spy.partial/progress.jsonl");
    let started = std::time::Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        let lines = std::fs::read_to_string(&journal)
            .map(|t| t.lines().count())
            .unwrap_or(0);
        if lines > checkpoints || started.elapsed() > std::time::Duration::from_secs(120) {
            // SIGKILL: no destructor, no cleanup, exactly like the OOM killer or a node loss.
            child.kill().unwrap();
            child.wait().unwrap();
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// The `custom_routine` example: a user's own binary (`trialflow::cli::main_with` with a
/// custom `clip` routine). `cargo test` builds examples next to the test binaries
/// (`target/<profile>/examples/`); a missing one is a build problem, reported as such.
pub fn custom_routine_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/<profile>/deps/<test> -> target/<profile>/examples/custom_routine
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binaries live in target/<profile>/deps");
    let bin = profile_dir.join("examples").join("custom_routine");
    assert!(
        bin.is_file(),
        "{} is missing: `cargo test` builds it (or run `cargo build --example custom_routine`)",
        bin.display()
    );
    bin
}

/// Like [`trialflow`], but kills the process (and returns `None`) after `limit`.
pub fn trialflow_timeout(cwd: &Path, args: &[&str], limit: std::time::Duration) -> Option<Outcome> {
    let dir = TempDir::new("timeout-io");
    let stdout = std::fs::File::create(dir.join("stdout")).unwrap();
    let stderr = std::fs::File::create(dir.join("stderr")).unwrap();
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .env_remove("TRIALFLOW_AVAILABLE_MEMORY")
        .env_remove("TRIALFLOW_BACKTRACE")
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .expect("the trialflow binary runs");
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(Outcome {
                code: status.code().unwrap_or(-1),
                stdout: std::fs::read_to_string(dir.join("stdout")).unwrap_or_default(),
                stderr: std::fs::read_to_string(dir.join("stderr")).unwrap_or_default(),
            });
        }
        if started.elapsed() > limit {
            let _ = child.kill(); // this child only, by its handle
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// `in.spy`: 60 unequal trials of about 4000 samples x 12 channels, long enough for a run
/// to span several checkpoints (the recording of the resume and durability tests).
pub fn generate_in_spy_for_resume(dir: &Path) {
    generate_in_spy_for_resume_with(dir, &[]);
}

/// [`generate_in_spy_for_resume`] with more `generate` arguments (`--seed`, `--overwrite`).
pub fn generate_in_spy_for_resume_with(dir: &Path, extra: &[&str]) {
    let mut args = vec![
        "generate",
        "in.spy",
        "--trials",
        "60",
        "--samples",
        "4000",
        "--channels",
        "12",
        "--unequal",
    ];
    args.extend_from_slice(extra);
    trialflow(dir, &args).ok();
}

/// `trialflow generate <dir>/<name> --trials 6 --samples 300 --channels 5 [--unequal]`;
/// returns the container folder.
pub fn generate(dir: &Path, name: &str, unequal: bool) -> PathBuf {
    let mut args = vec![
        "generate",
        name,
        "--trials",
        "6",
        "--samples",
        "300",
        "--channels",
        "5",
    ];
    if unequal {
        args.push("--unequal");
    }
    let out = trialflow(dir, &args).ok();
    let container = dir.join(name);
    assert!(
        out.stdout.contains("_raw.analog"),
        "generate prints the object path: {}",
        out.stdout
    );
    assert!(container.is_dir(), "{} was created", container.display());
    container
}

/// SHA-1 (hex) of a file, by the system `sha1sum`.
pub fn sha1sum(path: &Path) -> String {
    let out = Command::new("sha1sum")
        .arg(path)
        .output()
        .expect("sha1sum is installed");
    assert!(out.status.success(), "sha1sum {}", path.display());
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .expect("sha1sum prints a hash")
        .to_string()
}

/// Every file under `root` (recursively) with its SHA-1, size and mtime: two equal
/// fingerprints mean nothing was added, removed or modified.
pub fn fingerprint(root: &Path) -> BTreeMap<PathBuf, (String, u64, SystemTime)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let p = entry.path();
            if p.is_dir() {
                out.push(p.clone()); // folders count too (an empty `.partial` must show)
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    if root.is_dir() {
        walk(root, &mut files);
    } else {
        files.push(root.to_path_buf());
    }
    files
        .into_iter()
        .map(|p| {
            let meta = std::fs::metadata(&p).unwrap();
            let hash = if meta.is_dir() {
                "<dir>".to_string()
            } else {
                sha1sum(&p)
            };
            let mtime = if meta.is_dir() {
                UNIX_EPOCH
            } else {
                meta.modified().unwrap()
            };
            (p, (hash, meta.len(), mtime))
        })
        .collect()
}

/// The dense `data` of an object file: its dtype, shape and values (as f64, and the raw bit
/// patterns of the stored type widened to u64). Complex values come as (re, im) pairs.
#[derive(Debug, Clone)]
pub struct Dense {
    pub dtype: &'static str,
    pub shape: Vec<usize>,
    pub bits: Vec<u64>,
    pub values: Vec<f64>,
    pub is_virtual: bool,
}

pub fn read_data(file: &Path) -> Dense {
    init();
    let f = h5_open(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let ds = f.dataset("data").unwrap();
    let shape = ds.shape();
    let is_virtual = ds
        .dcpl()
        .map(|p| p.layout() == hdf5::plist::dataset_create::Layout::Virtual)
        .unwrap();
    let desc = ds.dtype().unwrap().to_descriptor().unwrap();
    match desc {
        hdf5::types::TypeDescriptor::Float(hdf5::types::FloatSize::U4) => {
            let v: Vec<f32> = ds.read_raw().unwrap();
            Dense {
                dtype: "float32",
                shape,
                bits: v.iter().map(|x| x.to_bits() as u64).collect(),
                values: v.iter().map(|&x| x as f64).collect(),
                is_virtual,
            }
        }
        hdf5::types::TypeDescriptor::Float(hdf5::types::FloatSize::U8) => {
            let v: Vec<f64> = ds.read_raw().unwrap();
            Dense {
                dtype: "float64",
                shape,
                bits: v.iter().map(|x| x.to_bits()).collect(),
                values: v,
                is_virtual,
            }
        }
        hdf5::types::TypeDescriptor::Compound(c) if c.size == 8 => {
            let v: Vec<num_complex::Complex32> = ds.read_raw().unwrap();
            let values: Vec<f64> = v.iter().flat_map(|z| [z.re as f64, z.im as f64]).collect();
            Dense {
                dtype: "complex64",
                shape,
                bits: values.iter().map(|x| x.to_bits()).collect(),
                values,
                is_virtual,
            }
        }
        hdf5::types::TypeDescriptor::Compound(c) if c.size == 16 => {
            let v: Vec<num_complex::Complex64> = ds.read_raw().unwrap();
            let values: Vec<f64> = v.iter().flat_map(|z| [z.re, z.im]).collect();
            Dense {
                dtype: "complex128",
                shape,
                bits: values.iter().map(|x| x.to_bits()).collect(),
                values,
                is_virtual,
            }
        }
        other => panic!("{}: unexpected data type {other}", file.display()),
    }
}

/// The trialdefinition of an object file: (shape, row-major values).
pub fn read_trialdefinition(file: &Path) -> (Vec<usize>, Vec<f64>) {
    init();
    let f = h5_open(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let ds = f.dataset("trialdefinition").unwrap();
    (ds.shape(), ds.read_raw().unwrap())
}

/// The `.info` JSON beside an object file.
pub fn read_info(file: &Path) -> Value {
    let path = PathBuf::from(format!("{}.info", file.display()));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Writes a hand-made AnalogData file with the `hdf5` crate: `data` (any shape, f32), an
/// optional trialdefinition (rows x 3) and a `samplerate` root attribute; no `.info`, so the
/// reader falls back to attributes.
pub fn write_handmade(
    path: &Path,
    data_shape: &[usize],
    trialdefinition: Option<(&[f64], usize)>,
    with_data: bool,
) {
    init();
    let f = h5_create(path).unwrap();
    if with_data {
        let n: usize = data_shape.iter().product();
        let values: Vec<f32> = (0..n).map(|i| ((i % 97) as f32 * 0.37).sin()).collect();
        let ds = f
            .new_dataset::<f32>()
            .shape(data_shape.to_vec())
            .create("data")
            .unwrap();
        ds.write_raw(&values).unwrap();
    }
    if let Some((values, rows)) = trialdefinition {
        let columns = values.len().checked_div(rows).unwrap_or(3);
        let ds = f
            .new_dataset::<f64>()
            .shape((rows, columns))
            .create("trialdefinition")
            .unwrap();
        if rows > 0 {
            ds.write_raw(values).unwrap();
        }
    }
    f.new_attr::<f64>()
        .create("samplerate")
        .unwrap()
        .write_scalar(&1000.0)
        .unwrap();
    f.close().unwrap();
}

/// Writes `text` to `<dir>/<name>` and returns the path.
pub fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Names of the entries of a folder, sorted.
pub fn list(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Rewrites the `.info` beside an object file through `edit` (which may set, remove or
/// retype keys).
pub fn edit_info(object_file: &Path, edit: impl FnOnce(&mut serde_json::Map<String, Value>)) {
    let path = PathBuf::from(format!("{}.info", object_file.display()));
    let text = std::fs::read_to_string(&path).unwrap();
    let mut doc: Value = serde_json::from_str(&text).unwrap();
    edit(doc.as_object_mut().expect("an .info is a JSON object"));
    std::fs::write(&path, doc.to_string()).unwrap();
}

/// Like [`fingerprint`], leaving out everything under `skip` (a staging folder a failed run
/// keeps for `--resume`, say).
pub fn fingerprint_without(
    root: &Path,
    skip: &Path,
) -> BTreeMap<PathBuf, (String, u64, SystemTime)> {
    let mut all = fingerprint(root);
    all.retain(|p, _| !p.starts_with(skip));
    all
}

/// Writes `in.analog` with a 100 x 2 float32 `data`, a samplerate attribute and the given
/// trialdefinition rows (any number of columns), for trial-definition cases.
pub fn write_with_trialdefinition(dir: &Path, rows: &[&[f64]]) {
    let values: Vec<f64> = rows.iter().flat_map(|r| r.iter().copied()).collect();
    write_handmade(
        &dir.join("in.analog"),
        &[100, 2],
        Some((&values, rows.len())),
        true,
    );
}

/// Every object file's data (bits), keyed by file name.
pub fn results(container: &Path) -> Vec<(String, Dense)> {
    let mut files: Vec<String> = list(container)
        .into_iter()
        .filter(|n| {
            [".analog", ".spike", ".spectral", ".crossspectral"]
                .iter()
                .any(|ext| n.ends_with(ext))
        })
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|name| {
            let data = read_data_any(&container.join(&name));
            (name, data)
        })
        .collect()
}

/// Dense float data, or SpikeData's int64 rows as f64.
pub fn read_data_any(file: &Path) -> Dense {
    init();
    let f = h5_open(file).unwrap();
    let ds = f.dataset("data").unwrap();
    if ds.dtype().unwrap().to_descriptor().unwrap()
        == hdf5::types::TypeDescriptor::Integer(hdf5::types::IntSize::U8)
    {
        let v: Vec<i64> = ds.read_raw().unwrap();
        return Dense {
            dtype: "int64",
            shape: ds.shape(),
            bits: v.iter().map(|&x| x as u64).collect(),
            values: v.iter().map(|&x| x as f64).collect(),
            is_virtual: false,
        };
    }
    read_data(file)
}

pub fn assert_same_results(a: &Path, b: &Path, context: &str) {
    let (ra, rb) = (results(a), results(b));
    assert_eq!(ra.len(), rb.len(), "{context}: objects");
    assert!(!ra.is_empty());
    for ((na, da), (nb, db)) in ra.iter().zip(&rb) {
        assert_eq!(
            na.split_once('_').map(|x| x.1),
            nb.split_once('_').map(|x| x.1),
            "{context}"
        );
        assert_eq!(da.shape, db.shape, "{context}: {na} shape");
        assert!(da.bits == db.bits, "{context}: {na} differs");
        if na.ends_with(".spike") {
            assert!(
                event_columns(&a.join(na)) == event_columns(&b.join(nb)),
                "{context}: {na}'s property columns differ"
            );
        }
    }
    for container in [a, b] {
        for (name, _) in results(container) {
            let path = container.join(&name);
            assert_eq!(
                read_info(&path)["file_checksum"],
                sha1sum(&path),
                "{context}: {name}'s .info records the SHA-1 of the file"
            );
        }
    }
}

/// A SpikeData file's property columns (every dataset but `data` and `trialdefinition`),
/// by name, as bits.
pub fn event_columns(file: &Path) -> Vec<(String, Vec<u64>)> {
    init();
    let f = h5_open(file).unwrap();
    let mut names = f.member_names().unwrap();
    names.sort();
    names
        .into_iter()
        .filter(|n| n != "data" && n != "trialdefinition")
        .map(|n| {
            let ds = f.dataset(&n).unwrap();
            let bits: Vec<u64> = match ds.read_raw::<i64>() {
                Ok(v) if ds.dtype().unwrap().is::<i64>() => v.iter().map(|&x| x as u64).collect(),
                _ => ds
                    .read_raw::<f64>()
                    .unwrap()
                    .iter()
                    .map(|x| x.to_bits())
                    .collect(),
            };
            (n, bits)
        })
        .collect()
}
