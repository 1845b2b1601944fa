//! `gpufault models`: the fault models, their definitions and parameters.
//!
//! Exit codes: 0. JSON output (`--json`): an array of `reports::output::ModelDoc`,
//! documented field by field there.

use clap::Args;
use injector::{Model, RulePreset};
use reports::output::{ModelDoc, ParamDoc};
use std::process::ExitCode;

/// Arguments of `gpufault models`.
#[derive(Args)]
pub struct ModelsArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

fn docs() -> Vec<ModelDoc<'static>> {
    Model::EVERY
        .iter()
        .map(|m| ModelDoc {
            id: m.id(),
            unit: m.unit().into(),
            definition: m.definition().into(),
            all_lanes: m.all_lanes(),
            parameters: m
                .parameters()
                .iter()
                .map(|&(name, range)| ParamDoc {
                    name,
                    range: range.into(),
                })
                .collect(),
            sampling_faithful: RulePreset::Faithful.rules(*m).to_string(),
            sampling_v1: RulePreset::V1.rules(*m).to_string(),
            sampling_keys: injector::rule_keys(*m)
                .into_iter()
                .map(String::from)
                .collect(),
        })
        .collect()
}

/// Word-wraps `text` at `width` columns with `indent`.
fn wrap(text: &str, width: usize, indent: &str) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            out.push_str(indent);
            out.push_str(&line);
            out.push('\n');
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push_str(indent);
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// Runs `gpufault models`.
pub fn run(args: ModelsArgs) -> anyhow::Result<ExitCode> {
    super::print_json_or_text(args.json, &docs(), |out, docs| {
        writeln!(
            out,
            "Every model selects faulty hardware by sm, sp (sub-partition = %warpid % 4), warps\n\
             (bit k = warp slot 4k+sp) and lanes; see `gpufault run --fault` for the spec syntax.\n"
        )?;
        for d in docs {
            writeln!(out, "{}  {}", d.id, d.unit)?;
            out.write_all(wrap(&d.definition, 84, "    ").as_bytes())?;
            for p in &d.parameters {
                writeln!(out, "    {:<7} {}", p.name, p.range)?;
            }
            if d.all_lanes {
                writeln!(out, "    (always all 32 lanes of the selected warps)")?;
            }
            writeln!(
                out,
                "    campaigns, faithful rules: {}",
                d.sampling_faithful
            )?;
            if d.sampling_v1 != d.sampling_faithful {
                writeln!(out, "    campaigns, v1 rules:       {}", d.sampling_v1)?;
            }
            writeln!(
                out,
                "    --sampling-rule keys: {}",
                d.sampling_keys.join(", ")
            )?;
            writeln!(out)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_model_is_listed_with_its_parameters() {
        let d = docs();
        assert_eq!(d.len(), Model::EVERY.len());
        let iat = d.iter().find(|m| m.id == "iat").unwrap();
        assert!(iat.parameters.iter().any(|p| p.name == "mask"));
        assert_eq!(
            iat.sampling_faithful,
            "mask=blockdim,pol=stuck,lanes=subset:1..31,warps=subset"
        );
        assert_eq!(
            iat.sampling_v1,
            "mask=bit:0..10,pol=stuck,lanes=subset:1..31,warps=subset"
        );
        assert!(wrap("a b c", 3, "  ").lines().all(|l| l.len() <= 5));
    }
}
