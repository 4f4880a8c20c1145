//! What ACME users will do with our output: open it with h5py. The containers are moved
//! to another folder first, so only relative links and virtual-dataset sources resolve.
//! Needs Python with h5py, so `#[ignore]`d in a plain `cargo test`; `scripts/test.sh` runs
//! it with `TRIALFLOW_INTEROP_PYTHON` pointing at the interop venv.

use std::path::Path;
use std::process::Command;

use ndarray::Array2;
use trialflow_map::{Executor, Extent, ParallelMap, Stacking, Storage, TaskContext};

const READER: &str = r#"
import json, sys, h5py
out = {}
with h5py.File(sys.argv[1] + "/files.h5", "r") as f:
    out["files"] = [f[f"comp_{i}/result_0"][()].tolist() for i in range(4)]
    out["extra"] = [int(f[f"comp_{i}/result_1"][()]) for i in range(4)]
with h5py.File(sys.argv[1] + "/virtual.h5", "r") as f:
    d = f["result_0"]
    out["virtual"] = d[()].tolist()
    out["is_virtual"] = d.is_virtual
    out["sources"] = sorted({s.file_name for s in d.virtual_sources()})
with h5py.File(sys.argv[1] + "/single.h5", "r") as f:
    out["single"] = [[[None if v != v else v for v in row] for row in t] for t in f["result_0"][()].tolist()]
    out["maxshape"] = list(f["result_0"].maxshape)
print(json.dumps(out))
"#;

fn block(ctx: &TaskContext, n: &usize) -> Result<(Array2<f64>, i32), String> {
    Ok((
        Array2::from_shape_fn((*n, 2), |(s, c)| {
            ctx.index as f64 * 10.0 + s as f64 + c as f64 / 4.0
        }),
        -(ctx.index as i32),
    ))
}

fn store_all(dir: &Path) {
    let map = ParallelMap::new(block)
        .per_task(vec![3, 3, 3, 3])
        .executor(Executor::Threads(2));
    map.store(&Storage::per_task_files(dir, "files")).unwrap();
    map.store(&Storage::virtual_stack(
        dir,
        "virtual",
        Stacking::new(0, [3usize, 2]),
    ))
    .unwrap();
    let ragged = ParallelMap::new(block).per_task(vec![1, 3, 2, 3]);
    ragged
        .store(&Storage::single_file(
            dir,
            "single",
            Stacking::new(0, [Extent::Unlimited, Extent::Fixed(2)]),
        ))
        .unwrap();
}

#[test]
#[ignore = "needs Python with h5py: run scripts/test.sh"]
fn h5py_reads_every_layout_after_a_move() {
    let python = std::env::var("TRIALFLOW_INTEROP_PYTHON").expect(
        "set TRIALFLOW_INTEROP_PYTHON to a python with h5py (scripts/python-env.sh prints it)",
    );
    let written = tempfile::tempdir().unwrap();
    store_all(written.path());
    let moved = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(written.path()).unwrap() {
        let entry = entry.unwrap();
        std::fs::rename(entry.path(), moved.path().join(entry.file_name())).unwrap();
    }
    let output = Command::new(python)
        .arg("-c")
        .arg(READER)
        .arg(moved.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let expected = |i: usize, n: usize| -> serde_json::Value {
        (0..n)
            .map(|s| {
                (0..2)
                    .map(|c| i as f64 * 10.0 + s as f64 + c as f64 / 4.0)
                    .collect::<Vec<_>>()
            })
            .collect::<Vec<_>>()
            .into()
    };
    for i in 0..4 {
        assert_eq!(json["files"][i], expected(i, 3));
        assert_eq!(json["virtual"][i], expected(i, 3));
        assert_eq!(json["extra"][i], -(i as i64));
    }
    assert_eq!(json["is_virtual"], true);
    // Relative source names, as written (ACME stored absolute ones).
    assert_eq!(
        json["sources"],
        serde_json::json!([
            "virtual_payload/virtual_0.h5",
            "virtual_payload/virtual_1.h5",
            "virtual_payload/virtual_2.h5",
            "virtual_payload/virtual_3.h5"
        ])
    );
    // The single file grows along the unlimited axis; short results are NaN-padded (NaN
    // comes through JSON as null).
    assert_eq!(json["maxshape"], serde_json::json!([4, null, 2]));
    assert_eq!(json["single"][1], expected(1, 3));
    assert_eq!(json["single"][0][0], expected(0, 1)[0]);
    assert_eq!(json["single"][0][1], serde_json::json!([null, null]));
    assert_eq!(json["single"][2][2], serde_json::json!([null, null]));
}
