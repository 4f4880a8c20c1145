//! Removing the container an `overwrite` run replaced. The commit renames the old container
//! aside (`<name>.spy.replaced-<pid>-<n>`) and the new one into place, so the old output is
//! only gone once the new one is complete; what is left is to delete the old files.
//!
//! Deleting them is most of the commit's time for a small run (the kernel frees every
//! page and extent of files it may still cache: about 10 ms for 25 MB, 40 ms for 100 MB).
//! A process that is about to exit (the `trialflow` command line) may hand that to a
//! detached `rm -rf` ([`remove_replaced_in_background`]): the run then returns as soon as
//! the new container is in place, and the old name is already free. Everywhere else (a
//! library call, the Python extension, or when `rm` cannot be started) it is removed
//! before the commit returns, as before.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::error::StorageError;

static IN_BACKGROUND: AtomicBool = AtomicBool::new(false);

/// Lets every later commit of this process hand the removal of the container it replaced to
/// a detached `rm -rf` instead of deleting it itself. For a process that exits once its
/// command is done, so the removal need not delay it; the folder may then outlive the
/// process by the time the deletion takes.
pub fn remove_replaced_in_background(on: bool) {
    IN_BACKGROUND.store(on, Ordering::Relaxed);
}

/// The name the replaced container `dir` moves to: unique within the process and across
/// processes, so a folder left by an earlier removal never blocks the rename.
pub(super) fn aside_name(dir: &Path) -> PathBuf {
    static SEQUENCE: AtomicUsize = AtomicUsize::new(0);
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(format!(
        ".replaced-{}-{}",
        std::process::id(),
        SEQUENCE.fetch_add(1, Ordering::Relaxed)
    ));
    dir.with_file_name(name)
}

/// Deletes the replaced container `old` (already renamed aside), or hands it to a detached
/// `rm -rf` when the process asked for that and one starts.
pub(super) fn remove_replaced(old: &Path) -> Result<(), StorageError> {
    if IN_BACKGROUND.load(Ordering::Relaxed) && spawn_removal(old) {
        return Ok(());
    }
    std::fs::remove_dir_all(old).map_err(|e| StorageError::io(old, e))
}

/// Starts `rm -rf -- old` in a process group of its own (a Ctrl-C at the terminal right
/// after the run does not stop it half way) and reaps it on a thread, so a process that
/// lives on keeps no zombie; one that exits first leaves it to init. `false` if it could
/// not be started.
#[cfg(unix)]
fn spawn_removal(old: &Path) -> bool {
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    let child = Command::new("rm")
        .arg("-rf")
        .arg("--")
        .arg(old)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn();
    let Ok(mut child) = child else {
        return false;
    };
    let _ = std::thread::Builder::new()
        .name("trialflow-reap".into())
        .spawn(move || child.wait());
    true
}

#[cfg(not(unix))]
fn spawn_removal(_old: &Path) -> bool {
    false
}
