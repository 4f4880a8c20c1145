//! Corrupted containers: proptest generates byte-level damage to the `.analog` HDF5 file (bit
//! flips, zeroed, random or 0xFF ranges, truncation), to the per-task source files of a
//! virtual dataset, and edits of the `.info` JSON (wrong types, missing keys, absurd shapes
//! and trial counts, cut or garbled text). Each damaged container is opened with
//! `SpyReader`, every trial is read, and `trialflow info`'s `inspect_path` summarises it. The
//! outcome must be `Ok` or a one-line error, never a panic, an abort, a hang or an
//! out-of-memory allocation, and the damaged file must be byte-for-byte unchanged afterwards.
//!
//! HDF5 is a C library, and a corrupted file can make it crash or loop: an abort would take
//! the whole test binary down and hide which input did it. So the cases run in a child
//! process (this test binary again, running the ignored `reader_child` test) under a 3 GB
//! address-space limit (`ulimit -v`), which turns an absurd allocation into an immediate
//! failure instead of swapping. The child reports each case as it goes; when it dies, the
//! parent records the case that was running and restarts it after that case.
//!
//! Every crash found becomes a regression test at the end of this file.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{json, Value};
use trialflow::engine::TrialSource;
use trialflow::hdf5::{inspect_path, SpyReader};

/// Cases per run: about 4 s on a shared 2-core machine. `TRIALFLOW_FUZZ_CASES=N` and
/// `TRIALFLOW_FUZZ_SEED=S` run a longer or different search.
const CASES: usize = 240;
/// Environment variable naming the case list that the child process works through.
const CASES_ENV: &str = "TRIALFLOW_FUZZ_CONTAINER_CASES";
/// Starts the child's report lines.
const MARK: &str = "fuzz-case:";
/// A child that reports nothing for this long is hung.
const HANG: Duration = Duration::from_secs(30);

// ---- the damage --------------------------------------------------------------------------

/// One edit of an HDF5 file's bytes. Offsets are fractions of the file length, so a case
/// means the same thing for files of any size.
#[derive(Debug, Clone)]
enum ByteEdit {
    /// XOR one byte with a nonzero mask.
    Flip { at: f64, mask: u8 },
    /// Set a range to one byte value (0x00 zeroes, 0xFF saturates lengths and addresses).
    Fill { at: f64, len: usize, byte: u8 },
    /// Overwrite a range with the given bytes.
    Overwrite { at: f64, bytes: Vec<u8> },
    /// Cut the file to a fraction of its length.
    Truncate { keep: f64 },
}

/// One edit of the `.info` JSON.
#[derive(Debug, Clone)]
enum InfoEdit {
    /// `value` is JSON text, so a printed case can be pasted into a regression test.
    Set {
        key: String,
        value: String,
    },
    Remove {
        key: String,
    },
    /// Keep only the first fraction of the text (invalid JSON, usually).
    Cut {
        keep: f64,
    },
    /// Replace the whole file.
    Replace {
        text: String,
    },
}

/// Which file of the container the byte edits hit.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// `in.spy/in_raw.analog` of a float32 recording.
    Float32,
    /// `in.spy/in_raw.analog` of a float64 recording.
    Float64,
    /// The object file of a parallel_store result (its `data` is a virtual dataset).
    VirtualObject,
    /// Per-task source file 2 of that virtual dataset.
    VirtualPart,
}

#[derive(Debug, Clone)]
struct Damage {
    target: Target,
    bytes: Vec<ByteEdit>,
    info: Vec<InfoEdit>,
}

/// Offsets biased towards where HDF5 keeps its metadata: the superblock and object headers
/// at the start (before `data_offset`, 2048 in generated files) and the trialdefinition and
/// heaps at the end. Damage to sample values alone is not interesting.
fn position() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => 0.0..0.06f64,
        1 => 0.0..1.0f64,
        2 => 0.9..1.0f64,
    ]
}

fn byte_edit() -> impl Strategy<Value = ByteEdit> {
    prop_oneof![
        4 => (position(), 1..=255u8).prop_map(|(at, mask)| ByteEdit::Flip { at, mask }),
        2 => (position(), 1..64usize, prop_oneof![Just(0u8), Just(0xFF), any::<u8>()])
            .prop_map(|(at, len, byte)| ByteEdit::Fill { at, len, byte }),
        2 => (position(), prop::collection::vec(any::<u8>(), 1..32))
            .prop_map(|(at, bytes)| ByteEdit::Overwrite { at, bytes }),
        1 => (0.0..1.0f64).prop_map(|keep| ByteEdit::Truncate { keep }),
    ]
}

/// Keys of the `.info` that matter to the reader, plus some that must not.
const INFO_KEYS: &[&str] = &[
    "samplerate",
    "channel",
    "dataclass",
    "data_shape",
    "trl_shape",
    "data_dtype",
    "_log",
    "cfg",
    "filename",
    "dimord",
    "file_checksum",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        prop_oneof![
            Just(0.0),
            Just(-1.0),
            Just(1e308),
            Just(-1e308),
            Just(5e-324),
            any::<f64>().prop_filter("JSON holds finite numbers", |v| v.is_finite()),
        ]
        .prop_map(Value::from),
        Just(json!(u64::MAX)),
        "[a-zA-Z0-9_ ]{0,12}".prop_map(Value::from),
        Just(Value::from("AnalogData")),
        Just(Value::from("SpectralData")),
        Just(Value::from("\u{1F600}\u{0}\u{202E}")),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Shapes and counts that are absurd but well-typed: what a hostile or buggy writer produces.
fn absurd_shape() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!([u64::MAX, 5])),
        Just(json!([1_000_000_000_000u64, 3])),
        Just(json!([0, 0])),
        Just(json!([-1, 5])),
        Just(json!([1854])),
        Just(json!([1854, 5, 7])),
        Just(json!([])),
    ]
}

fn info_edit() -> impl Strategy<Value = InfoEdit> {
    let key = prop_oneof![
        8 => prop::sample::select(INFO_KEYS).prop_map(str::to_string),
        1 => "[a-z_]{1,10}",
    ];
    prop_oneof![
        5 => (key.clone(), json_value()).prop_map(|(key, value)| InfoEdit::Set { key, value: value.to_string() }),
        2 => (prop::sample::select(&["data_shape", "trl_shape"][..]), absurd_shape())
            .prop_map(|(key, value)| InfoEdit::Set { key: key.to_string(), value: value.to_string() }),
        1 => prop::collection::vec("[a-z0-9]{1,6}", 0..12)
            .prop_map(|labels| InfoEdit::Set { key: "channel".into(), value: json!(labels).to_string() }),
        2 => key.prop_map(|key| InfoEdit::Remove { key }),
        1 => (0.0..1.0f64).prop_map(|keep| InfoEdit::Cut { keep }),
        1 => prop_oneof![
            Just(String::new()),
            Just("null".to_string()),
            Just("[]".to_string()),
            Just("\"AnalogData\"".to_string()),
            Just("{\"samplerate\": 1e999}".to_string()),
            "\\PC{0,40}",
        ]
        .prop_map(|text| InfoEdit::Replace { text }),
    ]
}

fn damage() -> impl Strategy<Value = Damage> {
    (
        prop_oneof![
            3 => Just(Target::Float32),
            1 => Just(Target::Float64),
            1 => Just(Target::VirtualObject),
            1 => Just(Target::VirtualPart),
        ],
        prop::collection::vec(byte_edit(), 0..4),
        prop::collection::vec(info_edit(), 0..3),
    )
        .prop_map(|(target, bytes, info)| Damage {
            target,
            bytes,
            info,
        })
}

fn apply_bytes(file: &Path, edits: &[ByteEdit]) {
    let mut bytes = std::fs::read(file).unwrap();
    let offset = |at: f64, len: usize| ((at * len as f64) as usize).min(len.saturating_sub(1));
    for edit in edits {
        let len = bytes.len();
        if len == 0 {
            break;
        }
        match edit {
            ByteEdit::Flip { at, mask } => bytes[offset(*at, len)] ^= mask,
            ByteEdit::Fill { at, len: n, byte } => {
                let start = offset(*at, len);
                let end = (start + n).min(len);
                bytes[start..end].fill(*byte);
            }
            ByteEdit::Overwrite { at, bytes: new } => {
                let start = offset(*at, len);
                let end = (start + new.len()).min(len);
                bytes[start..end].copy_from_slice(&new[..end - start]);
            }
            ByteEdit::Truncate { keep } => bytes.truncate((keep * len as f64) as usize),
        }
    }
    std::fs::write(file, bytes).unwrap();
}

fn apply_info(info_file: &Path, edits: &[InfoEdit]) {
    let mut text = std::fs::read_to_string(info_file).unwrap();
    for edit in edits {
        match edit {
            InfoEdit::Set { key, value } => {
                if let Ok(Value::Object(mut map)) = serde_json::from_str::<Value>(&text) {
                    map.insert(key.clone(), serde_json::from_str(value).unwrap());
                    text = Value::Object(map).to_string();
                }
            }
            InfoEdit::Remove { key } => {
                if let Ok(Value::Object(mut map)) = serde_json::from_str::<Value>(&text) {
                    map.remove(key);
                    text = Value::Object(map).to_string();
                }
            }
            InfoEdit::Cut { keep } => {
                let mut cut = (keep * text.len() as f64) as usize;
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                text.truncate(cut);
            }
            InfoEdit::Replace { text: new } => text = new.clone(),
        }
    }
    std::fs::write(info_file, text).unwrap();
}

// ---- the pristine containers -------------------------------------------------------------

/// A float32 and a float64 recording and a parallel_store result, written once per run.
struct Pristine {
    dir: TempDir,
}

impl Pristine {
    fn new() -> Pristine {
        let dir = TempDir::new("fuzz-pristine");
        for (name, dtype) in [("f32.spy", "f32"), ("f64.spy", "f64")] {
            trialflow(
                &dir.path,
                &[
                    "generate",
                    name,
                    "--trials",
                    "6",
                    "--samples",
                    "300",
                    "--channels",
                    "5",
                    "--unequal",
                    "--dtype",
                    dtype,
                ],
            )
            .ok();
        }
        write_file(
            &dir.path,
            "vds.yaml",
            "input: f32.spy\noutput: vds.spy\nexecution:\n  parallel_store: true\nsteps:\n  - routine: rectify\n",
        );
        trialflow(&dir.path, &["run", "vds.yaml", "-q"]).ok();
        Pristine { dir }
    }

    /// Copies the container the damage targets into `case_dir` as `in.spy`, damages it and
    /// returns the object file to open.
    fn damaged_copy(&self, damage: &Damage, case_dir: &Path) -> PathBuf {
        let (source, object) = match damage.target {
            Target::Float32 => ("f32.spy", "f32_raw.analog"),
            Target::Float64 => ("f64.spy", "f64_raw.analog"),
            Target::VirtualObject | Target::VirtualPart => ("vds.spy", "vds_rectify.analog"),
        };
        let container = case_dir.join("in.spy");
        copy_dir(&self.dir.join(source), &container);
        let object = container.join(object);
        let hit = match damage.target {
            Target::VirtualPart => {
                let parts = container.join("vds_rectify.parts");
                parts.join(list(&parts).into_iter().next().expect("a part file"))
            }
            _ => object.clone(),
        };
        apply_bytes(&hit, &damage.bytes);
        apply_info(
            &PathBuf::from(format!("{}.info", object.display())),
            &damage.info,
        );
        object
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

// ---- what is checked for one damaged container (in the child) ---------------------------

/// Opens, reads every trial and inspects; returns a one-line summary, or `Err` when the
/// outcome breaks a rule (a multi-line or empty message, a modified file).
fn read_everything(object: &Path, container: &Path) -> Result<String, String> {
    let before = snapshot(container);
    let mut outcome = match SpyReader::open(object) {
        Ok(mut reader) => {
            let trials = reader.schema().n_trials();
            let mut buffer = Vec::new();
            let mut failed = None;
            for trial in 0..trials {
                if let Err(e) = reader.read_trial(trial, &mut buffer) {
                    failed = Some(format!("trial {trial}: {e}"));
                    break;
                }
            }
            match failed {
                Some(message) => check_message("read_trial", &message)?,
                None => format!("read {trials} trials"),
            }
        }
        Err(e) => check_message("open", &e.to_string())?,
    };
    match inspect_path(container) {
        Ok(objects) => outcome.push_str(&format!("; info: {} object(s)", objects.len())),
        Err(e) => outcome.push_str(&format!(
            "; info {}",
            check_message("inspect", &e.to_string())?
        )),
    }
    if snapshot(container) != before {
        return Err(format!("{outcome}; but the container's bytes changed"));
    }
    Ok(outcome)
}

fn check_message(what: &str, message: &str) -> Result<String, String> {
    if message.trim().is_empty() || message.contains('\n') {
        return Err(format!(
            "{what} gave a message that is not one line: {message:?}"
        ));
    }
    Ok(format!("{what} refused: {message}"))
}

fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap();
                files.push((p, bytes));
            }
        }
    }
    files.sort();
    files
}

/// The child: works through the case folders listed in `CASES_ENV` (one `index path` per
/// line), printing `start i` before and `done i ok|bad ...` after each.
#[test]
#[ignore = "entry point of the child process of corrupted_containers_never_crash_the_reader"]
fn reader_child() {
    // Not a test of its own: run alone it has nothing to check, and passing would claim
    // otherwise. scripts/test.sh skips it (`--skip _child`).
    let list = std::env::var_os(CASES_ENV).unwrap_or_else(|| {
        panic!("reader_child is the child process of corrupted_containers_never_crash_the_reader, which spawns it; run that test instead")
    });
    init();
    std::panic::set_hook(Box::new(|_| {}));
    let list = std::fs::read_to_string(list).unwrap();
    let mut out = std::io::stdout().lock();
    for line in list.lines() {
        let (index, case_dir) = line.split_once(' ').unwrap();
        let case_dir = Path::new(case_dir);
        let object = PathBuf::from(std::fs::read_to_string(case_dir.join("object")).unwrap());
        writeln!(out, "{MARK}start {index}").unwrap();
        out.flush().unwrap();
        let container = case_dir.join("in.spy");
        let result = std::panic::catch_unwind(|| read_everything(&object, &container));
        let report = match result {
            Ok(Ok(summary)) => format!("ok {summary}"),
            Ok(Err(rule)) => format!("bad {rule}"),
            Err(payload) => format!(
                "bad panicked: {}",
                payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default()
            ),
        };
        writeln!(out, "{MARK}done {index} {}", report.replace('\n', "\\n")).unwrap();
        out.flush().unwrap();
    }
}

/// What happened to one case, as the parent saw it.
#[derive(Debug)]
enum Verdict {
    Fine(String),
    Broken(String),
}

/// Runs the child over `cases` (index, case folder), restarting it after a crash or hang.
fn run_children(cases: &[(usize, PathBuf)], scratch: &Path) -> Vec<(usize, Verdict)> {
    let exe = std::env::current_exe().unwrap();
    let mut verdicts = Vec::new();
    let mut next = 0;
    while next < cases.len() {
        let list = scratch.join(format!("cases-from-{next}.txt"));
        let text: String = cases[next..]
            .iter()
            .map(|(i, dir)| format!("{i} {}\n", dir.display()))
            .collect();
        std::fs::write(&list, text).unwrap();
        // `ulimit -v`: an allocation beyond 3 GB fails at once (and aborts) instead of
        // swapping the machine to death.
        let mut child = Command::new("sh")
            .arg("-c")
            .arg("ulimit -v 3000000 && exec \"$0\" \"$@\"")
            .arg(&exe)
            .args([
                "reader_child",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CASES_ENV, &list)
            .env("HDF5_USE_FILE_LOCKING", "FALSE")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut running: Option<usize> = None;
        let mut hung = false;
        let mut last = Instant::now();
        loop {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(line) => {
                    last = Instant::now();
                    // libtest prints `test reader_child ... ` before the first line.
                    let Some(at) = line.find(MARK) else { continue };
                    let line = &line[at + MARK.len()..];
                    if let Some(i) = line.strip_prefix("start ") {
                        running = Some(i.parse().unwrap());
                    } else if let Some(rest) = line.strip_prefix("done ") {
                        let (i, report) = rest.split_once(' ').unwrap();
                        let i: usize = i.parse().unwrap();
                        let verdict = match report.strip_prefix("bad ") {
                            Some(why) => Verdict::Broken(why.to_string()),
                            None => Verdict::Fine(report.to_string()),
                        };
                        verdicts.push((i, verdict));
                        running = None;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if last.elapsed() > HANG {
                        hung = true;
                        let _ = child.kill(); // our own child, by its handle
                        break;
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        let output = child.wait_with_output().unwrap();
        let _ = reader.join();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        match running {
            Some(i) => {
                let why = if hung {
                    format!("hung for more than {HANG:?}")
                } else {
                    format!(
                        "the child died ({}): {}",
                        output.status,
                        stderr
                            .lines()
                            .filter(|l| {
                                l.contains("failed")
                                    || l.contains("fatal")
                                    || l.contains("trialflow")
                                    || l.contains("hdf5")
                            })
                            .take(12)
                            .collect::<Vec<_>>()
                            .join(" | ")
                    )
                };
                verdicts.push((i, Verdict::Broken(why)));
                next = cases.iter().position(|(j, _)| *j == i).unwrap() + 1;
            }
            None => {
                let done = verdicts.len();
                assert!(
                    done >= next,
                    "the child stopped without running a case: {} {stderr}",
                    output.status
                );
                if verdicts.last().map(|(i, _)| *i) == cases.last().map(|(i, _)| *i) {
                    break;
                }
                panic!("the child stopped early: {} {stderr}", output.status);
            }
        }
    }
    verdicts
}

/// Generates the damaged containers, runs the child over them, and lists every rule broken
/// with the damage that broke it (paste it into a regression test below).
fn fuzz(damages: &[Damage]) -> Vec<String> {
    let pristine = Pristine::new();
    let work = TempDir::new("fuzz-cases");
    let mut cases = Vec::new();
    for (i, damage) in damages.iter().enumerate() {
        let case_dir = work.join(format!("case-{i}"));
        std::fs::create_dir_all(&case_dir).unwrap();
        let object = pristine.damaged_copy(damage, &case_dir);
        std::fs::write(case_dir.join("object"), object.display().to_string()).unwrap();
        cases.push((i, case_dir));
    }
    let verdicts = run_children(&cases, &work.path);
    let mut refused = 0;
    let mut broken = Vec::new();
    for (i, verdict) in &verdicts {
        match verdict {
            Verdict::Fine(summary) => refused += usize::from(summary.contains("refused")),
            Verdict::Broken(why) => {
                broken.push(format!("case {i}: {why}\n  damage: {:?}", damages[*i]))
            }
        }
    }
    eprintln!(
        "{} damaged containers: {} refused somewhere, {} read whole, {} broke a rule",
        damages.len(),
        refused,
        verdicts.len() - refused - broken.len(),
        broken.len()
    );
    broken
}

#[test]
fn corrupted_containers_never_crash_the_reader() {
    let mut runner = TestRunner::new_with_rng(Config::default(), seeded_rng());
    let strategy = damage();
    let damages: Vec<Damage> = (0..case_count())
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .collect();
    let broken = fuzz(&damages);
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

/// The fixed generator of the suite, or the one `TRIALFLOW_FUZZ_SEED` asks for.
fn seeded_rng() -> TestRng {
    match std::env::var("TRIALFLOW_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    {
        Some(seed) => {
            let mut bytes = [0u8; 32];
            bytes[..8].copy_from_slice(&seed.to_le_bytes());
            TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
        }
        None => TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    }
}

fn case_count() -> usize {
    std::env::var("TRIALFLOW_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(CASES)
}

// ---- regressions: damage the fuzzer found to crash or mislead the reader -----------------

/// Runs recorded damage (as the fuzzer prints it) through the same checks.
fn regression(damage: Damage) {
    let broken = fuzz(&[damage]);
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

#[test]
fn flipped_byte_in_the_object_header_region() {
    regression(Damage {
        target: Target::Float32,
        bytes: vec![ByteEdit::Flip {
            at: 0.03003841465970847,
            mask: 229,
        }],
        info: vec![],
    });
}
