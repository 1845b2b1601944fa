//! The manifest's TOML as serde reads it: every table denies unknown keys, and the
//! tables and arguments keep their byte spans for error positions. Meaning is given in
//! `load.rs`.

use serde::Deserialize;
use toml::{Spanned, Value};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ManifestToml {
    pub name: Option<Spanned<String>>,
    #[allow(dead_code)] // Documentation for people; read by no code.
    pub description: Option<String>,
    pub code: Spanned<CodeToml>,
    #[serde(default)]
    pub buffers: Vec<Spanned<BufferToml>>,
    #[serde(default)]
    pub launches: Vec<Spanned<LaunchToml>>,
    #[serde(default)]
    pub outputs: Vec<Spanned<OutputToml>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CodeToml {
    pub ptx: Option<String>,
    pub cu: Option<String>,
    pub options: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BufferToml {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
    pub len: u64,
    pub init: Option<Spanned<InitToml>>,
}

/// One table for every initialisation; which keys go together is checked in `load.rs`
/// (messages name the keys, where an untagged enum would only say "no variant matched").
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct InitToml {
    pub file: Option<String>,
    pub format: Option<String>,
    pub random: Option<String>,
    pub min: Option<Value>,
    pub max: Option<Value>,
    pub seed: Option<u64>,
    pub pattern: Option<String>,
    pub start: Option<Value>,
    pub step: Option<Value>,
    pub value: Option<Value>,
    pub values: Option<Vec<Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LaunchToml {
    pub kernel: String,
    pub grid: Spanned<Value>,
    pub block: Spanned<Value>,
    #[serde(default)]
    pub shared: u32,
    #[serde(default)]
    pub args: Vec<Spanned<Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OutputToml {
    pub buffer: String,
    pub reference: Option<String>,
    pub format: Option<String>,
    pub abs: Option<f64>,
    pub rel: Option<f64>,
    pub ulp: Option<u64>,
    pub nan: Option<String>,
}
