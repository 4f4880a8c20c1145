//! The one place that calls MPI (rsmpi): initialisation, byte-level collectives over
//! `MPI_COMM_WORLD` for the parallel map (trialflow-map), and the tagged point-to-point
//! messages and probes that the trial engine's MPI front end (`trialflow-pipeline`'s
//! `mpi/ranks.rs`) coordinates its ranks with. Callers encode their own values; messages are
//! limited to 2 GiB per rank, MPI's `int` counts.

use std::fmt;
use std::sync::Arc;

use mpi::datatype::{Partition, PartitionMut};
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use mpi::{Count, Threading};

/// MPI could not be initialised: it already was in this process, or the library refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MpiInitError;

impl fmt::Display for MpiInitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MPI could not be initialised (it already is in this process)")
    }
}

impl std::error::Error for MpiInitError {}

/// An initialised MPI environment. Create it once at the start of `main` and keep it alive:
/// MPI is finalised when the last clone is dropped.
#[derive(Clone)]
pub struct MpiWorld {
    universe: Arc<Universe>,
    rank: usize,
    size: usize,
}

impl fmt::Debug for MpiWorld {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MpiWorld(rank {} of {})", self.rank, self.size)
    }
}

impl MpiWorld {
    /// Initialises MPI. Only the thread that initialised it calls MPI (`Funneled`), so thread
    /// pools and a run's worker threads may run alongside.
    pub fn init() -> Result<MpiWorld, MpiInitError> {
        let (universe, _threading) =
            mpi::initialize_with_threading(Threading::Funneled).ok_or(MpiInitError)?;
        let world = universe.world();
        Ok(MpiWorld {
            rank: world.rank() as usize,
            size: world.size() as usize,
            universe: Arc::new(universe),
        })
    }

    fn world(&self) -> SimpleCommunicator {
        self.universe.world()
    }

    pub fn rank(&self) -> usize {
        self.rank
    }

    pub fn size(&self) -> usize {
        self.size
    }

    pub fn is_root(&self) -> bool {
        self.rank == 0
    }

    /// Waits until every rank reaches this point.
    pub fn barrier(&self) {
        self.world().barrier();
    }

    /// The root's bytes on every rank (`bytes` is `Some` on the root only).
    pub fn broadcast_bytes(&self, bytes: Option<Vec<u8>>) -> Vec<u8> {
        let world = self.world();
        let root = world.process_at_rank(0);
        let mut len = bytes.as_ref().map_or(0, |b| b.len()) as u64;
        root.broadcast_into(&mut len);
        let mut buffer = bytes.unwrap_or_else(|| vec![0u8; len as usize]);
        root.broadcast_into(&mut buffer[..]);
        buffer
    }

    /// Rank `r` receives `parts[r]` (`parts` is `Some` on the root only).
    pub fn scatter_bytes(&self, parts: Option<Vec<Vec<u8>>>) -> Vec<u8> {
        let world = self.world();
        let root = world.process_at_rank(0);
        let mut my_len: Count = 0;
        match parts {
            Some(parts) => {
                let counts: Vec<Count> = parts.iter().map(|p| count(p.len())).collect();
                root.scatter_into_root(&counts[..], &mut my_len);
                let displs = displacements(&counts);
                let flat: Vec<u8> = parts.concat();
                let mut mine = vec![0u8; my_len as usize];
                let partition = Partition::new(&flat[..], &counts[..], &displs[..]);
                root.scatter_varcount_into_root(&partition, &mut mine[..]);
                mine
            }
            None => {
                root.scatter_into(&mut my_len);
                let mut mine = vec![0u8; my_len as usize];
                root.scatter_varcount_into(&mut mine[..]);
                mine
            }
        }
    }

    /// Every rank's bytes, in rank order, on the root (`None` on the other ranks).
    pub fn gather_bytes_to_root(&self, local: &[u8]) -> Option<Vec<Vec<u8>>> {
        let world = self.world();
        let root = world.process_at_rank(0);
        let len = count(local.len());
        if !self.is_root() {
            root.gather_into(&len);
            root.gather_varcount_into(local);
            return None;
        }
        let mut counts = vec![0 as Count; self.size];
        root.gather_into_root(&len, &mut counts[..]);
        let displs = displacements(&counts);
        let total: usize = counts.iter().map(|&c| c as usize).sum();
        let mut flat = vec![0u8; total];
        {
            let mut partition = PartitionMut::new(&mut flat[..], &counts[..], &displs[..]);
            root.gather_varcount_into_root(local, &mut partition);
        }
        Some(split(&flat, &counts, &displs))
    }

    /// Every rank's bytes, in rank order, on every rank.
    pub fn all_gather_bytes(&self, local: &[u8]) -> Vec<Vec<u8>> {
        let world = self.world();
        let mut counts = vec![0 as Count; self.size];
        world.all_gather_into(&count(local.len()), &mut counts[..]);
        let displs = displacements(&counts);
        let total: usize = counts.iter().map(|&c| c as usize).sum();
        let mut flat = vec![0u8; total];
        {
            let mut partition = PartitionMut::new(&mut flat[..], &counts[..], &displs[..]);
            world.all_gather_varcount_into(local, &mut partition);
        }
        split(&flat, &counts, &displs)
    }
}

/// Point-to-point messages, tagged so that kinds of message never mix.
impl MpiWorld {
    /// Sends `bytes` to rank `to` (blocking until MPI holds them).
    pub fn send_bytes(&self, to: usize, tag: i32, bytes: &[u8]) {
        self.world()
            .process_at_rank(rank_id(to))
            .send_with_tag(bytes, tag);
    }

    /// Receives the next message with `tag` from rank `from`, waiting for it.
    pub fn receive_bytes(&self, from: usize, tag: i32) -> Vec<u8> {
        let (bytes, _status) = self
            .world()
            .process_at_rank(rank_id(from))
            .receive_vec_with_tag::<u8>(tag);
        bytes
    }

    /// The rank that sent a pending message with `tag` (from `from`, or from any rank when
    /// `None`), without waiting and without receiving it.
    pub fn probe(&self, from: Option<usize>, tag: i32) -> Option<usize> {
        let world = self.world();
        let status = match from {
            Some(rank) => world
                .process_at_rank(rank_id(rank))
                .immediate_probe_with_tag(tag),
            None => world.any_process().immediate_probe_with_tag(tag),
        };
        status.map(|s| s.source_rank() as usize)
    }
}

fn rank_id(rank: usize) -> mpi::Rank {
    mpi::Rank::try_from(rank).expect("MPI ranks are ints")
}

fn split(flat: &[u8], counts: &[Count], displs: &[Count]) -> Vec<Vec<u8>> {
    counts
        .iter()
        .zip(displs)
        .map(|(&c, &d)| flat[d as usize..(d + c) as usize].to_vec())
        .collect()
}

fn count(len: usize) -> Count {
    Count::try_from(len).expect("an MPI message holds at most 2 GiB (MPI int counts)")
}

fn displacements(counts: &[Count]) -> Vec<Count> {
    counts
        .iter()
        .scan(0 as Count, |offset, &c| {
            let d = *offset;
            *offset += c;
            Some(d)
        })
        .collect()
}
