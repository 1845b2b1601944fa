//! The training checkpoint: one JSON file, written all or nothing.
//!
//! ```json
//! {
//!   "format": 1,
//!   "step": 250,
//!   "config": {"steps": 400, "batch": 64, "shards": 8, "seed": 1, "lr": 0.05, "momentum": 0.9},
//!   "params": "3f1a…",            // 4,810 f32, little-endian bytes as hex
//!   "momentum_buffer": "00a1…",   // 4,810 f32, likewise
//!   "recent_losses": [0.094, 0.101, …],
//!   "devices": ["sim:h100#0", "sim:h100#1", "sim:h100#2", "sim:h100#3"],
//!   "written_unix": 1767225600.25
//! }
//! ```
//!
//! - `step`: steps finished; training resumes at step `step` (counting from 0).
//! - `config`: the run's configuration ([`TrainConfig`]); a checkpoint of a run with
//!   another configuration is refused, naming the field.
//! - `params`: the model (every replica's, which agreed when it was written);
//!   `momentum_buffer`: the optimiser state. Hex of the little-endian bytes, so a resumed
//!   run continues bit for bit (decimal text would round-trip too, but hex needs no
//!   argument).
//! - `recent_losses`: the loss window of the loss-jump check, oldest first, so a resumed
//!   run checks exactly as the uninterrupted one would.
//! - `devices`, `written_unix`: where and when (information only: a checkpoint resumes on
//!   any number of devices).
//!
//! Unknown fields are errors.

use super::{TrainConfig, TrainError};
use serde::{Deserialize, Serialize};
use std::path::Path;
use workloads::MLP_PARAMS;

/// The checkpoint layout's version.
pub const CHECKPOINT_FORMAT: u32 = 1;

/// A training checkpoint (see the module documentation for the file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// [`CHECKPOINT_FORMAT`].
    pub format: u32,
    /// Steps finished.
    pub step: u64,
    /// The run's configuration.
    pub config: TrainConfig,
    /// The model's parameters.
    #[serde(with = "hex_f32")]
    pub params: Vec<f32>,
    /// The optimiser's momentum buffer.
    #[serde(with = "hex_f32")]
    pub momentum_buffer: Vec<f32>,
    /// The loss window of the loss-jump check, oldest first.
    pub recent_losses: Vec<f32>,
    /// The devices that wrote it.
    pub devices: Vec<String>,
    /// When it was written (Unix time, seconds).
    pub written_unix: f64,
}

impl Checkpoint {
    /// Reads the checkpoint at `path`: `Ok(None)` when there is no file.
    pub fn read(path: &Path) -> Result<Option<Checkpoint>, TrainError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(TrainError::Checkpoint {
                    path: path.to_path_buf(),
                    detail: e.to_string(),
                })
            }
        };
        let bad = |detail: String| TrainError::Checkpoint {
            path: path.to_path_buf(),
            detail,
        };
        let c: Checkpoint = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        if c.format != CHECKPOINT_FORMAT {
            return Err(bad(format!(
                "format {} (this build reads format {CHECKPOINT_FORMAT})",
                c.format
            )));
        }
        for (name, v) in [
            ("params", &c.params),
            ("momentum_buffer", &c.momentum_buffer),
        ] {
            if v.len() != MLP_PARAMS {
                return Err(bad(format!(
                    "`{name}` holds {} values, the model has {MLP_PARAMS}",
                    v.len()
                )));
            }
            if let Some(i) = v.iter().position(|x| !x.is_finite()) {
                return Err(bad(format!("`{name}`[{i}] is not finite")));
            }
        }
        if c.step > c.config.steps {
            return Err(bad(format!(
                "step {} is beyond the run's {} steps",
                c.step, c.config.steps
            )));
        }
        Ok(Some(c))
    }

    /// Writes the checkpoint to `path` all or nothing, durably
    /// ([`crate::sys::write_atomic`]: temporary file, fsync, rename, directory fsync).
    pub fn write(&self, path: &Path) -> Result<(), TrainError> {
        let text = serde_json::to_vec(self).map_err(|e| TrainError::Checkpoint {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
        crate::sys::write_atomic(path, &text).map_err(|e| TrainError::Checkpoint {
            path: path.to_path_buf(),
            detail: format!("cannot write it: {e}"),
        })
    }

    /// An error naming the first field of the configuration in which this checkpoint's
    /// run differs from `config`, if any.
    pub fn check_config(&self, config: &TrainConfig, path: &Path) -> Result<(), TrainError> {
        let (a, b) = (&self.config, config);
        let differs: [(&str, String, String); 6] = [
            ("steps", a.steps.to_string(), b.steps.to_string()),
            ("batch", a.batch.to_string(), b.batch.to_string()),
            ("shards", a.shards.to_string(), b.shards.to_string()),
            ("seed", a.seed.to_string(), b.seed.to_string()),
            ("lr", a.lr.to_string(), b.lr.to_string()),
            ("momentum", a.momentum.to_string(), b.momentum.to_string()),
        ];
        match differs.into_iter().find(|(_, x, y)| x != y) {
            None => Ok(()),
            Some((field, theirs, ours)) => Err(TrainError::ForeignCheckpoint {
                path: path.to_path_buf(),
                field,
                theirs,
                ours,
            }),
        }
    }
}

/// `Vec<f32>` as the hex of its little-endian bytes.
mod hex_f32 {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[f32], s: S) -> Result<S::Ok, S::Error> {
        let mut text = String::with_capacity(v.len() * 8);
        for x in v {
            for b in x.to_le_bytes() {
                text.push_str(&format!("{b:02x}"));
            }
        }
        s.serialize_str(&text)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f32>, D::Error> {
        let text = String::deserialize(d)?;
        if !text.len().is_multiple_of(8) || !text.is_ascii() {
            return Err(D::Error::custom(
                "not the hex of whole f32 values (8 hex digits each)",
            ));
        }
        text.as_bytes()
            .chunks_exact(8)
            .map(|c| {
                let mut bytes = [0u8; 4];
                for (i, b) in bytes.iter_mut().enumerate() {
                    let pair = std::str::from_utf8(&c[2 * i..2 * i + 2]).unwrap_or("");
                    *b = u8::from_str_radix(pair, 16)
                        .map_err(|_| D::Error::custom(format!("`{pair}` is not hex")))?;
                }
                Ok(f32::from_le_bytes(bytes))
            })
            .collect()
    }
}
