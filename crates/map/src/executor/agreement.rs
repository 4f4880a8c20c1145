//! Keeping MPI ranks in step: errors and task outcomes are shared by every rank, so no rank
//! goes on to a collective that another has left, and every rank reports the same failures.

use crate::error::{MapError, TaskFailure, TextError};
use crate::executor::Executor;

/// All ranks' successes and failures, in task order. Failures of this rank keep their
/// original error; those of other ranks arrive as text.
pub(crate) fn merge<M: crate::Wire>(
    exec: &Executor,
    successes: Vec<(usize, M)>,
    failures: Vec<TaskFailure>,
) -> (Vec<(usize, M)>, Vec<TaskFailure>) {
    if exec.n_processes() == 1 {
        let mut failures = failures;
        failures.sort_by_key(|f| f.index);
        return (successes, failures);
    }
    let texts: Vec<(usize, String, String)> = failures
        .iter()
        .map(|f| (f.index, f.message(), f.args.clone()))
        .collect();
    let all_successes = exec.gather(successes);
    let mut all_failures = failures;
    let mine: std::collections::HashSet<usize> = all_failures.iter().map(|f| f.index).collect();
    for (index, message, args) in exec.gather(texts) {
        if !mine.contains(&index) {
            all_failures.push(TaskFailure {
                index,
                error: Box::new(TextError(message)),
                args,
            });
        }
    }
    all_failures.sort_by_key(|f| f.index);
    (all_successes, all_failures)
}

/// Makes every rank return an error if any rank has one: a rank must never go on to a
/// collective that another rank has left. Without MPI the local result is returned as is.
pub(crate) fn agree<T>(exec: &Executor, local: Result<T, MapError>) -> Result<T, MapError> {
    if exec.n_processes() == 1 {
        return local;
    }
    let messages = exec.gather(vec![local.as_ref().err().map(|e| e.to_string())]);
    match local {
        Err(e) => Err(e),
        Ok(value) => match messages
            .into_iter()
            .enumerate()
            .find_map(|(rank, m)| m.map(|m| (rank, m)))
        {
            Some((rank, message)) => Err(MapError::Mpi(format!("rank {rank}: {message}"))),
            None => Ok(value),
        },
    }
}
