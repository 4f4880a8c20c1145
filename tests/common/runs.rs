//! Running the command line the ways the mode tests compare: under `mpirun`, and split into
//! shards. Written once so every test starts MPI ranks with the same options and runs shards
//! in the same (reverse) order.

use std::path::Path;
use std::process::Command;

use super::{trialflow, Outcome};

/// Runs `bin ARGS` in `dir` under `mpirun -n RANKS --oversubscribe` (root allowed, as in the
/// containers CI uses; no memory override inherited). Needs OpenMPI, so callers are built
/// only with `--features mpi`.
pub fn mpirun(bin: &Path, dir: &Path, ranks: usize, args: &[&str]) -> Outcome {
    let out = Command::new("mpirun")
        .args(["-n", &ranks.to_string(), "--oversubscribe"])
        .arg(bin)
        .args(args)
        .current_dir(dir)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env_remove("TRIALFLOW_AVAILABLE_MEMORY")
        .output()
        .expect("mpirun runs (scripts/setup-system.sh --mpi installs it)");
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `trialflow run YAML --shard i/count -q` in `dir` for every shard, the last first (a
/// merge must not depend on which shard finished first). The caller merges.
pub fn run_shards(dir: &Path, yaml: &str, count: usize) {
    for index in (0..count).rev() {
        let shard = format!("{index}/{count}");
        trialflow(dir, &["run", yaml, "--shard", &shard, "-q"]).ok();
    }
}
