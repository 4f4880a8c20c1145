//! `channelcmb`: which (channel_i, channel_j) combinations a connectivity measure is
//! computed for, as Syncopy's `[senders, receivers]` (names or indices).

use serde::Deserialize;

use super::ConnectivityError;

/// One channel of `channelcmb`: a label or a 0-based index, as Syncopy accepts either.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum ChannelRef {
    Index(usize),
    Name(String),
}

impl std::fmt::Display for ChannelRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChannelRef::Index(i) => write!(f, "{i}"),
            ChannelRef::Name(s) => write!(f, "'{s}'"),
        }
    }
}

/// `channelcmb: [senders, receivers]` as given.
pub type ChannelCmb = Vec<Vec<ChannelRef>>;

/// The channel combinations resolved against the input's labels: output row `a` is
/// channel `senders[a]`, column `b` is `receivers[b]`. Without `channelcmb` both are every
/// channel in order and `full` is set (Granger then factorises the whole matrix at once, as
/// Syncopy does; with `channelcmb` it factorises each pair on its own).
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelPairs {
    pub senders: Vec<usize>,
    pub receivers: Vec<usize>,
    pub full: bool,
}

impl ChannelPairs {
    /// Every channel against every channel.
    pub fn all(channels: usize) -> ChannelPairs {
        ChannelPairs {
            senders: (0..channels).collect(),
            receivers: (0..channels).collect(),
            full: true,
        }
    }

    /// Resolves `channelcmb` (or all channels without it) against `labels`; an unknown
    /// name or an index past the last channel is named in the error.
    pub fn resolve(
        channelcmb: Option<&ChannelCmb>,
        labels: &[String],
    ) -> Result<ChannelPairs, ConnectivityError> {
        let Some(cmb) = channelcmb else {
            return Ok(ChannelPairs::all(labels.len()));
        };
        if cmb.len() != 2 || cmb.iter().any(|side| side.is_empty()) {
            let shown: Vec<String> = cmb
                .iter()
                .map(|s| format!("[{}]", join(s.iter().map(|c| c.to_string()))))
                .collect();
            return Err(ConnectivityError::ChannelCmbShape(format!(
                "[{}]",
                shown.join(", ")
            )));
        }
        let find = |side: &'static str, c: &ChannelRef| -> Result<usize, ConnectivityError> {
            let hit = match c {
                ChannelRef::Index(i) => (*i < labels.len()).then_some(*i),
                ChannelRef::Name(name) => labels.iter().position(|l| l == name),
            };
            hit.ok_or_else(|| ConnectivityError::UnknownChannel {
                side,
                channel: c.to_string(),
                known: join(labels.iter().map(|l| format!("'{l}'"))),
            })
        };
        let senders = cmb[0]
            .iter()
            .map(|c| find("senders", c))
            .collect::<Result<_, _>>()?;
        let receivers = cmb[1]
            .iter()
            .map(|c| find("receivers", c))
            .collect::<Result<_, _>>()?;
        Ok(ChannelPairs {
            senders,
            receivers,
            full: false,
        })
    }

    /// Every channel the combinations read, once, ascending.
    pub fn channels(&self) -> Vec<usize> {
        let mut all: Vec<usize> = self
            .senders
            .iter()
            .chain(&self.receivers)
            .copied()
            .collect();
        all.sort_unstable();
        all.dedup();
        all
    }

    /// The labels of the output's `channel_i` and `channel_j` axes.
    pub fn labels(&self, labels: &[String]) -> (Vec<String>, Vec<String>) {
        let pick = |idx: &[usize]| idx.iter().map(|&i| labels[i].clone()).collect();
        (pick(&self.senders), pick(&self.receivers))
    }
}

fn join(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_indices_resolve_and_unknown_ones_are_named() {
        let labels: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let cmb: ChannelCmb = serde_json::from_str(r#"[["c", "a"], [1, 2]]"#).unwrap();
        let p = ChannelPairs::resolve(Some(&cmb), &labels).unwrap();
        assert_eq!(
            (p.senders, p.receivers, p.full),
            (vec![2, 0], vec![1, 2], false)
        );
        let bad: ChannelCmb = serde_json::from_str(r#"[["a"], ["x"]]"#).unwrap();
        let msg = ChannelPairs::resolve(Some(&bad), &labels)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("receivers") && msg.contains("'x'"), "{msg}");
        let bad: ChannelCmb = serde_json::from_str(r#"[[3], [0]]"#).unwrap();
        let msg = ChannelPairs::resolve(Some(&bad), &labels)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("senders") && msg.contains(" 3,"), "{msg}");
        let bad: ChannelCmb = serde_json::from_str(r#"[[0]]"#).unwrap();
        assert!(ChannelPairs::resolve(Some(&bad), &labels).is_err());
        assert!(ChannelPairs::resolve(None, &labels).unwrap().full);
    }
}
