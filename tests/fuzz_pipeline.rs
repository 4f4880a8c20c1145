//! The pipeline parser under random input (proptest, a few hundred cases per property, fixed
//! seed; `TRIALFLOW_FUZZ_SEED=S` searches elsewhere): random YAML-like text, random value
//! trees, and pipelines built from the registry's own parameter lists, then damaged (types
//! swapped, keys renamed or dropped, values out of range, deep nesting, huge numbers,
//! unicode) and edited with random `--set`s. Everything goes through
//! `trialflow::pipeline::load_pipeline` (what `trialflow run` calls) and, when that accepts it,
//! through the dry run `prepare` against a real recording, which checks the parameters
//! against every trial and builds every plan. The rules: never a panic, and every refusal is
//! one non-empty line.
//!
//! Crashes found here are regression tests at the end of the file.

mod common;

use common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError};
use serde_json::{json, Map, Value};
use trialflow::engine::{prepare, TrialSource};
use trialflow::hdf5::SpyReader;
use trialflow::pipeline::load_pipeline;
use trialflow::DataSchema;
use trialflow::Registry;

fn config(cases: u32) -> Config {
    let seed = std::env::var("TRIALFLOW_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_260_601);
    Config {
        cases,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(seed),
        ..Config::default()
    }
}

// ---- what every case must satisfy --------------------------------------------------------

/// A recording on disk and its schema, shared by every case of a property.
struct Bench {
    dir: TempDir,
    schema: DataSchema,
    registry: Registry,
}

impl Bench {
    fn new() -> Bench {
        let dir = TempDir::new("fuzz-pipeline");
        generate(&dir.path, "in.spy", true);
        init();
        let reader = SpyReader::open(&dir.join("in.spy")).unwrap();
        Bench {
            schema: reader.schema().clone(),
            dir,
            registry: Registry::builtin(),
        }
    }

    /// Parses `text` with `sets` as `trialflow run` does, then dry-runs what it accepts.
    fn check(&self, text: &str, sets: &[String]) -> Result<(), TestCaseError> {
        let file = self.dir.join("pipeline.yaml");
        std::fs::write(&file, text).unwrap();
        let outcome = std::panic::catch_unwind(|| {
            let config = match load_pipeline(&file, sets, &self.registry) {
                Ok(config) => config,
                Err(e) => return Err(("load_pipeline", e.to_string())),
            };
            prepare(&config.pipeline, &self.schema, "")
                .map(|_| ())
                .map_err(|e| ("prepare", e.to_string()))
        });
        match outcome {
            Err(payload) => Err(TestCaseError::fail(format!(
                "panicked: {}",
                payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default()
            ))),
            Ok(Ok(())) => Ok(()),
            Ok(Err((stage, message))) => {
                prop_assert!(
                    !message.trim().is_empty() && !message.contains('\n'),
                    "{stage} refused with a message that is not one line: {message:?}"
                );
                Ok(())
            }
        }
    }
}

// ---- generators --------------------------------------------------------------------------

/// Numbers a user (or a typo) can produce, weighted towards the plausible.
fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        6 => (0..12i64).prop_map(Value::from),
        3 => (0.01..50.0f64).prop_map(Value::from),
        1 => Just(json!(0)),
        1 => Just(json!(-1)),
        1 => Just(json!(-0.0)),
        1 => Just(json!(0.5)),
        1 => Just(json!(1e9)),
        1 => Just(json!(1e308)),
        1 => Just(json!(-1e308)),
        1 => Just(json!(5e-324)),
        1 => Just(json!(i64::MAX)),
        1 => Just(json!(i64::MIN)),
        1 => Just(json!(u64::MAX)),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<f64>().prop_filter("finite", |v| v.is_finite()).prop_map(Value::from),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z_]{0,10}",
        1 => Just(String::new()),
        1 => Just("\u{1F9E0}\u{202E}\u{0301}é".to_string()),
        1 => Just("a\u{0}b".to_string()),
        1 => Just("../../etc".to_string()),
        1 => "\\PC{0,16}",
    ]
}

/// Any JSON value, nested a little.
fn any_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        number(),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// The quoted words of a documented kind (`"reflect" | "mirror"` gives both).
fn quoted_words(kind: &str) -> Vec<String> {
    kind.split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// Numbers a careful user writes: small counts and moderate reals.
fn plausible_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        2 => (1..12i64).prop_map(Value::from),
        1 => (0.5..20.0f64).prop_map(Value::from),
    ]
}

/// A plausible value of a documented kind: one of its quoted words, a number, or for list
/// kinds a short list of numbers. Damage comes later, from [`Mutation`]s.
fn param_value(kind: &'static str) -> BoxedStrategy<Value> {
    let words = quoted_words(kind);
    if kind == "bool" {
        any::<bool>().prop_map(Value::from).boxed()
    } else if kind == "false" {
        Just(Value::from(false)).boxed()
    } else if kind.starts_with("integer") {
        (0u32..12).prop_map(Value::from).boxed()
    } else if !words.is_empty() {
        prop::sample::select(words).prop_map(Value::from).boxed()
    } else if kind.contains('[') {
        prop_oneof![
            plausible_number(),
            prop::collection::vec(plausible_number(), 1..4).prop_map(Value::from),
        ]
        .boxed()
    } else {
        plausible_number().boxed()
    }
}

/// One step: a registered routine with a random subset of its documented parameters (so new
/// routine families are fuzzed as soon as they are registered), plus the step keys.
fn step(registry: &Registry) -> BoxedStrategy<Value> {
    // Routines on AnalogData only: the input is analog, and steps after a non-analog output
    // are cut off, so a routine on spectra or events (itc, psth) could never pass.
    let routines: Vec<BoxedStrategy<Value>> = registry
        .entries()
        .iter()
        .filter(|entry| entry.doc.input == trialflow::DataKind::Analog)
        .map(|entry| {
            let name = entry.doc.name;
            let params: Vec<BoxedStrategy<Option<(String, Value)>>> = entry
                .doc
                .params
                .iter()
                .map(|p| {
                    let key = p.name.to_string();
                    let required = p.default == "required";
                    let value = param_value(p.kind).prop_map(move |v| Some((key.clone(), v)));
                    if required {
                        prop_oneof![9 => value, 1 => Just(None)].boxed()
                    } else {
                        prop_oneof![1 => value, 1 => Just(None)].boxed()
                    }
                })
                .collect();
            params
                .prop_map(move |pairs| {
                    let mut map = Map::new();
                    map.insert("routine".into(), Value::from(name));
                    map.extend(pairs.into_iter().flatten());
                    Value::Object(map)
                })
                .boxed()
        })
        .collect();
    let routine = prop::strategy::Union::new(routines);
    (
        routine,
        prop::option::of("[a-z_]{1,8}".prop_map(Value::from)),
        prop::option::of(any::<bool>().prop_map(Value::from)),
        prop::option::of(prop::sample::select(vec!["float32", "float64"]).prop_map(Value::from)),
    )
        .prop_map(|(mut step, name, save, dtype)| {
            let map = step.as_object_mut().unwrap();
            for (key, value) in [("name", name), ("save", save), ("dtype", dtype)] {
                if let Some(v) = value {
                    map.insert(key.into(), v);
                }
            }
            step
        })
        .boxed()
}

fn execution() -> impl Strategy<Value = Value> {
    let entry = |key: &'static str, value: BoxedStrategy<Value>| {
        prop::option::of(value).prop_map(move |v| v.map(|v| (key.to_string(), v)))
    };
    (
        entry(
            "mode",
            prop::sample::select(vec!["sequential", "parallel", "debug", "mpi"])
                .prop_map(Value::from)
                .boxed(),
        ),
        entry("workers", (1..5u32).prop_map(Value::from).boxed()),
        entry("chan_per_worker", (1..7u32).prop_map(Value::from).boxed()),
        entry(
            "parallel_store",
            any::<bool>().prop_map(Value::from).boxed(),
        ),
        entry("keeptrials", any::<bool>().prop_map(Value::from).boxed()),
        entry("mem_thresh", (0.05..1.0f64).prop_map(Value::from).boxed()),
        entry(
            "on_error",
            prop::sample::select(vec!["stop", "continue"])
                .prop_map(Value::from)
                .boxed(),
        ),
    )
        .prop_map(|(a, b, c, d, e, f, g)| {
            Value::Object([a, b, c, d, e, f, g].into_iter().flatten().collect())
        })
}

fn pipeline(registry: &Registry) -> impl Strategy<Value = Value> {
    let registry = registry.clone();
    (
        prop::collection::vec(step(&registry), 1..4),
        prop::option::of(execution()),
    )
        .prop_map(move |(mut steps, execution)| {
            // A step whose output is not AnalogData (spectra, events) can only be last.
            let analog_out = |s: &Value| {
                s["routine"]
                    .as_str()
                    .and_then(|n| registry.get(n))
                    .is_none_or(|e| e.doc.output == trialflow::DataKind::Analog)
            };
            if let Some(first) = steps.iter().position(|s| !analog_out(s)) {
                steps.truncate(first + 1);
            }
            let mut map = Map::new();
            map.insert("input".into(), json!("in.spy"));
            map.insert("output".into(), json!("out.spy"));
            if let Some(e) = execution {
                map.insert("execution".into(), e);
            }
            map.insert("steps".into(), Value::from(steps));
            Value::Object(map)
        })
}

/// A damage to a value tree, addressed by a path of indices chosen modulo what is there.
#[derive(Debug, Clone)]
enum Mutation {
    /// Replace the node with another value (a type swap, mostly).
    Replace(Vec<usize>, Value),
    /// Rename a key of a mapping.
    Rename(Vec<usize>, String),
    /// Drop a key of a mapping or an item of a list.
    Remove(Vec<usize>),
    /// Wrap the node in `depth` lists.
    Nest(Vec<usize>, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let path = prop::collection::vec(any::<usize>(), 0..5);
    prop_oneof![
        4 => (path.clone(), any_value()).prop_map(|(p, v)| Mutation::Replace(p, v)),
        2 => (path.clone(), text()).prop_map(|(p, k)| Mutation::Rename(p, k)),
        2 => path.clone().prop_map(Mutation::Remove),
        1 => (path, 1..80usize).prop_map(|(p, d)| Mutation::Nest(p, d)),
    ]
}

/// Follows `path` (each index taken modulo the node's size) and applies `f` to the node's
/// parent and the chosen child position.
fn apply(root: &mut Value, mutation: &Mutation) {
    let (path, last) = match mutation {
        Mutation::Replace(p, _)
        | Mutation::Rename(p, _)
        | Mutation::Remove(p)
        | Mutation::Nest(p, _) => match p.split_last() {
            Some((last, rest)) => (rest, *last),
            None => (&p[..], 0),
        },
    };
    let mut node = root;
    for &i in path {
        let has_children = match &*node {
            Value::Object(map) => !map.is_empty(),
            Value::Array(items) => !items.is_empty(),
            _ => false,
        };
        if !has_children {
            break;
        }
        node = match node {
            Value::Object(map) => {
                let key = map.keys().nth(i % map.len()).unwrap().clone();
                map.get_mut(&key).unwrap()
            }
            Value::Array(items) => {
                let n = items.len();
                &mut items[i % n]
            }
            _ => unreachable!("checked above"),
        };
    }
    match node {
        Value::Object(map) if !map.is_empty() => {
            let key = map.keys().nth(last % map.len()).unwrap().clone();
            match mutation {
                Mutation::Replace(_, v) => {
                    map.insert(key, v.clone());
                }
                Mutation::Rename(_, new) => {
                    let v = map.remove(&key).unwrap();
                    map.insert(new.clone(), v);
                }
                Mutation::Remove(_) => {
                    map.remove(&key);
                }
                Mutation::Nest(_, depth) => {
                    let v = map.get_mut(&key).unwrap();
                    for _ in 0..*depth {
                        *v = Value::Array(vec![v.take()]);
                    }
                }
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let i = last % items.len();
            match mutation {
                Mutation::Replace(_, v) => items[i] = v.clone(),
                Mutation::Remove(_) => {
                    items.remove(i);
                }
                Mutation::Nest(_, depth) => {
                    for _ in 0..*depth {
                        items[i] = Value::Array(vec![items[i].take()]);
                    }
                }
                Mutation::Rename(..) => {}
            }
        }
        other => {
            if let Mutation::Replace(_, v) = mutation {
                *other = v.clone();
            }
        }
    }
}

/// Block-style YAML for a value tree (scalars as JSON, which YAML reads the same).
fn to_yaml(value: &Value) -> String {
    fn emit(value: &Value, indent: usize, out: &mut String) {
        let pad = " ".repeat(indent);
        match value {
            Value::Object(map) if !map.is_empty() => {
                for (k, v) in map {
                    out.push_str(&format!("{pad}{}:", Value::from(k.as_str())));
                    block_child(v, indent, out);
                }
            }
            Value::Array(items) if !items.is_empty() => {
                for v in items {
                    out.push_str(&format!("{pad}-"));
                    block_child(v, indent, out);
                }
            }
            scalar => out.push_str(&format!("{pad}{scalar}\n")),
        }
    }
    fn block_child(v: &Value, indent: usize, out: &mut String) {
        match v {
            Value::Object(m) if !m.is_empty() => {
                out.push('\n');
                emit(v, indent + 2, out);
            }
            Value::Array(a) if !a.is_empty() => {
                out.push('\n');
                emit(v, indent + 2, out);
            }
            scalar => out.push_str(&format!(" {scalar}\n")),
        }
    }
    let mut out = String::new();
    emit(value, 0, &mut out);
    out
}

/// `--set` edits: real keys and indices mostly, with any value as YAML text.
fn set_edit() -> impl Strategy<Value = String> {
    let path = prop_oneof![
        Just("execution.workers".to_string()),
        Just("execution.mode".to_string()),
        Just("execution.chan_per_worker".to_string()),
        Just("steps.0.sigma".to_string()),
        Just("steps.0.name".to_string()),
        Just("steps.1.size".to_string()),
        Just("steps.9.size".to_string()),
        Just("steps".to_string()),
        Just("input".to_string()),
        Just(String::new()),
        "[a-z0-9_.]{1,24}",
    ];
    let value = prop_oneof![
        3 => any_value().prop_map(|v| v.to_string()),
        1 => "\\PC{0,12}",
        1 => Just("[".to_string()),
        1 => Just("{a: [1, {b: ".to_string()),
    ];
    prop_oneof![
        8 => (path, value).prop_map(|(p, v)| format!("{p}={v}")),
        1 => "\\PC{0,20}",
    ]
}

// ---- the properties ----------------------------------------------------------------------

#[test]
fn random_yaml_text_is_refused_in_one_line() {
    let bench = Bench::new();
    let alphabet = "[ a-z0-9:\\-\\[\\]{},#&*!|>'\"%@`\n\t.?]{0,160}";
    let prefix = prop_oneof![
        Just(String::new()),
        Just("input: in.spy\noutput: out.spy\n".to_string()),
        Just("input: in.spy\noutput: out.spy\nsteps:\n  - routine: ".to_string()),
    ];
    proptest!(config(300), |(prefix in prefix, body in alphabet)| {
        bench.check(&format!("{prefix}{body}"), &[])?;
    });
}

#[test]
fn random_value_trees_are_refused_in_one_line() {
    let bench = Bench::new();
    proptest!(config(200), |(doc in any_value(), flow in any::<bool>())| {
        let text = if flow { doc.to_string() } else { to_yaml(&doc) };
        bench.check(&text, &[])?;
    });
}

#[test]
fn damaged_pipelines_never_panic_and_refuse_in_one_line() {
    let bench = Bench::new();
    let strategy = (
        pipeline(&bench.registry),
        prop::collection::vec(mutation(), 0..4),
        prop::collection::vec(set_edit(), 0..3),
        any::<bool>(),
    );
    proptest!(config(400), |((doc, mutations, sets, flow) in strategy)| {
        let mut doc = doc;
        for m in &mutations {
            apply(&mut doc, m);
        }
        let text = if flow { doc.to_string() } else { to_yaml(&doc) };
        bench.check(&text, &sets)?;
    });
}

/// A smaller sample through the real binary with `--dry-run -v`, which also prints the plan
/// (where an event output once made it panic): exit 0 or 2, no panic, and a refusal ends
/// with one `error:` line.
#[test]
fn damaged_pipelines_through_the_binary_dry_run() {
    let bench = Bench::new();
    let strategy = (
        pipeline(&bench.registry),
        prop::collection::vec(mutation(), 0..3),
    );
    proptest!(config(40), |((doc, mutations) in strategy)| {
        let mut doc = doc;
        for m in &mutations {
            apply(&mut doc, m);
        }
        std::fs::write(bench.dir.join("pipeline.yaml"), to_yaml(&doc)).unwrap();
        let out = trialflow(&bench.dir.path, &["run", "pipeline.yaml", "--dry-run", "-v"]);
        prop_assert!(out.code == 0 || out.code == 2, "exit {}: {}", out.code, out.stderr);
        for banned in ["panicked", "internal error", "RUST_BACKTRACE"] {
            prop_assert!(!out.stderr.contains(banned), "{}", out.stderr);
        }
        if out.code == 2 {
            let last = out.stderr.lines().last().unwrap_or_default();
            prop_assert!(last.starts_with("error:"), "{}", out.stderr);
            prop_assert_eq!(out.stderr.matches("error:").count(), 1, "{}", out.stderr);
        }
        prop_assert!(!bench.dir.join("out.spy").exists(), "a dry run wrote its output");
    });
}

/// The generators must reach the dry run often, or the damaged-pipeline property would test
/// little more than key checks.
#[test]
fn undamaged_generated_pipelines_are_mostly_valid() {
    let bench = Bench::new();
    let mut runner = proptest::test_runner::TestRunner::new(config(1));
    let strategy = pipeline(&bench.registry);
    let mut accepted = 0;
    let total = 200;
    for _ in 0..total {
        use proptest::strategy::ValueTree;
        let doc = strategy.new_tree(&mut runner).unwrap().current();
        let file = bench.dir.join("valid.yaml");
        std::fs::write(&file, to_yaml(&doc)).unwrap();
        if let Ok(config) = load_pipeline(&file, &[], &bench.registry) {
            if prepare(&config.pipeline, &bench.schema, "").is_ok() {
                accepted += 1;
            }
        }
    }
    eprintln!("{accepted} of {total} generated pipelines pass the dry run");
    assert!(
        accepted * 4 >= total,
        "only {accepted} of {total} generated pipelines pass the dry run"
    );
}

// ---- regressions -------------------------------------------------------------------------

/// A `--set` key path of 60,000 parts built a value tree that deep, and dropping it
/// overflowed the stack (the process aborted); the path also took quadratic time to check.
#[test]
fn very_deep_set_path_is_refused() {
    let bench = Bench::new();
    let path = vec!["a"; 60_000].join(".");
    let set = format!("execution.{path}=1");
    let file = bench.dir.join("p.yaml");
    std::fs::write(
        &file,
        "input: in.spy\noutput: out.spy\nsteps:\n  - routine: zscore\n",
    )
    .unwrap();
    let e = load_pipeline(&file, &[set], &bench.registry).unwrap_err();
    assert!(
        e.message.contains("--set") && e.message.contains("60001 parts"),
        "{}",
        e.message
    );
}

/// Nesting and alias expansion are bounded by the YAML parser; the message says so in words.
#[test]
fn deeply_nested_and_exploding_yaml_is_refused_in_words() {
    let bench = Bench::new();
    let deep = format!(
        "input: in.spy\noutput: out.spy\nsteps:\n  - routine: detrend\n    type: {}1{}\n",
        "{a: ".repeat(5000),
        "}".repeat(5000)
    );
    let mut bomb = String::from("a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1]\n");
    for i in 1..30 {
        bomb.push_str(&format!(
            "a{i}: &a{i} [{}]\n",
            vec![format!("*a{}", i - 1); 9].join(", ")
        ));
    }
    for (text, needle) in [(deep, "nested too deeply"), (bomb, "too many values")] {
        let file = bench.dir.join("p.yaml");
        std::fs::write(&file, &text).unwrap();
        let e = load_pipeline(&file, &[], &bench.registry).unwrap_err();
        assert!(
            e.message.contains(needle) && e.message.contains("line"),
            "{}",
            e.message
        );
    }
}
