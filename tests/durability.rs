//! `execution.durable: false`: the same bits without a single sync, a killed run resumed
//! on the same boot, a resume refused once the machine may have lost what the journal
//! claims, and shards refused the option.

mod common;

use std::path::Path;

use common::*;

fn pipeline(durable: bool, output: &str) -> String {
    format!(
        "input: in.spy\noutput: {output}\nexecution:\n  mode: sequential\n  durable: {durable}\nsteps:\n  - routine: median_filter\n    size: 31\n    name: smooth\n    save: true\n  - routine: find_peaks\n    height: 0.5\n    name: peaks\n"
    )
}

#[test]
fn a_run_without_syncs_gives_the_same_bits_and_resumes_only_on_the_boot_that_wrote_it() {
    let tmp = TempDir::new("durability");
    generate_in_spy_for_resume(&tmp.path);
    write_file(&tmp.path, "whole.yaml", &pipeline(true, "whole.spy"));
    write_file(&tmp.path, "p.yaml", &pipeline(false, "out.spy"));
    trialflow(&tmp.path, &["run", "whole.yaml", "-q"]).ok();
    trialflow(&tmp.path, &["run", "p.yaml", "-q"]).ok();
    assert_same_results(
        &tmp.join("out.spy"),
        &tmp.join("whole.spy"),
        "durable: false",
    );

    std::fs::remove_dir_all(tmp.join("out.spy")).unwrap();
    assert!(run_and_kill(Path::new(BIN), &tmp.path, "p.yaml", 1, &[]));
    let journal = tmp.join("out.spy.partial/progress.jsonl");
    let recorded = std::fs::read_to_string(&journal).unwrap();
    let lines: Vec<&str> = recorded.lines().skip(1).collect();
    assert!(!lines.is_empty(), "{recorded}");
    assert!(
        lines.iter().all(|l| l.contains("\"unsynced_boot\"")),
        "every unsynced line names its boot:\n{recorded}"
    );

    // As if the machine had restarted: the journal's boot is not this one.
    let now = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok();
    let elsewhere = match &now {
        Some(id) => recorded.replace(id.trim(), "a-boot-before-a-power-loss"),
        None => recorded.clone(),
    };
    std::fs::write(&journal, elsewhere).unwrap();
    trialflow(&tmp.path, &["run", "p.yaml", "--resume"]).assert_error(
        2,
        &["cannot resume", "execution.durable: false", "restarted"],
    );
    assert!(journal.is_file(), "a refused resume keeps the work");

    // The same boot: the killed run resumes to the same bits.
    std::fs::write(&journal, &recorded).unwrap();
    let out = trialflow(&tmp.path, &["run", "p.yaml", "--resume"]);
    if now.is_none() {
        // Without a boot id no unsynced journal can be trusted.
        out.assert_error(2, &["cannot resume", "boot id"]);
        return;
    }
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("resumed an interrupted run"),
        "{}",
        out.stderr
    );
    assert_same_results(&tmp.join("out.spy"), &tmp.join("whole.spy"), "resumed");
}

#[test]
fn shards_and_mpi_ranks_refuse_durable_false() {
    let tmp = TempDir::new("durability-shards");
    generate_in_spy_for_resume(&tmp.path);
    write_file(&tmp.path, "p.yaml", &pipeline(false, "out.spy"));
    trialflow(&tmp.path, &["run", "p.yaml", "--shard", "0/2"])
        .assert_error(2, &["execution.durable: false", "shards"]);
    trialflow(&tmp.path, &["run", "p.yaml", "--set", "execution.mode=mpi"])
        .assert_error(2, &["execution.durable: false", "MPI"]);
    trialflow(
        &tmp.path,
        &["run", "p.yaml", "--set", "execution.durable=sometimes"],
    )
    .assert_error(2, &["execution.durable"]);
}

/// The paths `strace -y` names in the sync calls of `trialflow run <yaml>` (`None`: no
/// strace here).
fn synced_paths(dir: &Path, yaml: &str) -> Vec<String> {
    let log = dir.join(format!("{yaml}.strace"));
    let status = std::process::Command::new("strace")
        .args([
            "-f",
            "-y",
            "-qq",
            "-e",
            "trace=fsync,fdatasync,syncfs,sync_file_range",
        ])
        .arg("-o")
        .arg(&log)
        .arg(BIN)
        .args(["run", yaml, "-q"])
        .current_dir(dir)
        .status()
        .expect("strace runs: scripts/setup-system.sh --trace installs it");
    assert!(status.success(), "the traced run of {yaml} failed");
    std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .filter(|l| l.contains("sync") && !l.contains("= -1"))
        .filter_map(|l| Some(l.split_once('<')?.1.split_once('>')?.0.to_string()))
        .collect()
}

#[test]
#[ignore = "needs strace (scripts/setup-system.sh --trace); scripts/test.sh runs it"]
fn a_durable_run_syncs_its_finished_container_and_a_run_without_syncs_none() {
    let tmp = TempDir::new("durability-commit");
    generate_in_spy_for_resume(&tmp.path);
    write_file(&tmp.path, "durable.yaml", &pipeline(true, "durable.spy"));
    write_file(&tmp.path, "fast.yaml", &pipeline(false, "fast.spy"));
    let dir = std::fs::canonicalize(&tmp.path).unwrap();
    let staging = dir.join("durable.spy.partial");
    let synced = synced_paths(&dir, "durable.yaml");
    let was_synced = |path: &Path| synced.iter().any(|p| Path::new(p) == path);
    // Every file and the folder's entries are on disk before the folder takes its final
    // name, and the name itself after.
    for name in [
        "durable_smooth.analog",
        "durable_smooth.analog.info",
        "durable_peaks.spike",
        "durable_peaks.spike.info",
    ] {
        assert!(
            was_synced(&staging.join(name)),
            "{name} was not synced: {synced:?}"
        );
    }
    assert!(was_synced(&staging), "the staging folder: {synced:?}");
    assert!(
        was_synced(&dir),
        "the folder holding the output: {synced:?}"
    );
    assert!(dir.join("durable.spy/durable_peaks.spike").is_file());

    let none = synced_paths(&dir, "fast.yaml");
    assert!(none.is_empty(), "durable: false synced {none:?}");
}
