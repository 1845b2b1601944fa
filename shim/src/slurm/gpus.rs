//! The GPUs of a Slurm job, from the environment slurmd gives its prolog and epilog.
//!
//! ```text
//!  SLURM_JOB_GPUS=1,3  (GRES indices on this node)   CUDA_VISIBLE_DEVICES=1,3 (the same, as CUDA reads them)
//!         │                                                    │
//!  configured `gpus = [d0, d1, d2, d3]` ──► d1, d3             │ (no list configured)
//!                                                              ▼
//!                                          cuda:0, cuda:1 — what CUDA shows a process with this
//!                                          CUDA_VISIBLE_DEVICES: the job's GPUs, as the job sees them
//! ```
//!
//! With a configured list (required for virtual GPUs; for real ones it pins the GRES
//! order), index *i* is entry *i*. Without one, the GPUs are the CUDA devices this
//! process sees under the `CUDA_VISIBLE_DEVICES` Slurm set for the job — CUDA does the
//! mapping exactly as it does for the job — or, when that is not set, `cuda:<index>`.
//! A UUID in `CUDA_VISIBLE_DEVICES` is taken as it is (`cuda:GPU-…`).

use super::SlurmError;

/// `SLURM_JOB_GPUS`: the GRES indices of the job's GPUs on this node (prolog, epilog).
pub const SLURM_JOB_GPUS: &str = "SLURM_JOB_GPUS";

/// One GPU as a job's environment names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobGpu {
    /// An index (a GRES index in `SLURM_JOB_GPUS`, an ordinal in `CUDA_VISIBLE_DEVICES`).
    Index(u32),
    /// A UUID (`GPU-…`, `MIG-…`) in `CUDA_VISIBLE_DEVICES`.
    Uuid(String),
}

/// Parses a comma-separated list of GPUs: indices, ranges of indices (`0-3`) and, when
/// `uuids` is true, UUIDs. Empty entries are skipped; an empty list (or Slurm's
/// `NoDevFiles`) is no GPUs. `var` names the variable in errors.
pub fn parse_gpu_list(var: &str, value: &str, uuids: bool) -> Result<Vec<JobGpu>, SlurmError> {
    let bad = |entry: &str, why: &str| SlurmError::Env {
        var: var.to_string(),
        detail: format!("`{entry}` in `{value}`: {why}"),
    };
    if value.trim() == "NoDevFiles" {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let lower = entry.to_ascii_lowercase();
        if lower.starts_with("gpu-") || lower.starts_with("mig-") {
            if !uuids {
                return Err(bad(entry, "expected a GPU index"));
            }
            out.push(JobGpu::Uuid(entry.to_string()));
            continue;
        }
        let index = |s: &str| {
            s.parse::<u32>()
                .map_err(|_| bad(entry, "not a GPU index (0, 1, …) or range (0-3)"))
        };
        match entry.split_once('-') {
            Some((lo, hi)) => {
                let (lo, hi) = (index(lo)?, index(hi)?);
                if lo > hi || hi - lo >= 4096 {
                    return Err(bad(entry, "not a range of GPU indices"));
                }
                out.extend((lo..=hi).map(JobGpu::Index));
            }
            None => out.push(JobGpu::Index(index(entry)?)),
        }
    }
    Ok(out)
}

/// The device names of the job's GPUs (see the module documentation): from
/// `slurm_job_gpus` and `cuda_visible_devices` (the variables' values, `None` when
/// unset) and the node's configured GPU list, in GRES index order. Each GPU once, in
/// the order named.
pub fn job_devices(
    slurm_job_gpus: Option<&str>,
    cuda_visible_devices: Option<&str>,
    configured: Option<&[String]>,
) -> Result<Vec<String>, SlurmError> {
    let cvd = "CUDA_VISIBLE_DEVICES";
    let mut names = match configured {
        Some(list) => {
            let gpus = match slurm_job_gpus {
                Some(v) => parse_gpu_list(SLURM_JOB_GPUS, v, false)?,
                None => parse_gpu_list(cvd, cuda_visible_devices.unwrap_or(""), true)?,
            };
            let var = if slurm_job_gpus.is_some() {
                SLURM_JOB_GPUS
            } else {
                cvd
            };
            gpus.into_iter()
                .map(|g| match g {
                    JobGpu::Index(i) => {
                        list.get(i as usize)
                            .cloned()
                            .ok_or_else(|| SlurmError::Env {
                                var: var.to_string(),
                                detail: format!(
                                "GPU index {i}, but the configuration lists {} GPU{} for this node",
                                list.len(),
                                if list.len() == 1 { "" } else { "s" }
                            ),
                            })
                    }
                    JobGpu::Uuid(u) => Ok(format!("cuda:{u}")),
                })
                .collect::<Result<Vec<_>, _>>()?
        }
        None => match cuda_visible_devices.filter(|v| !v.trim().is_empty()) {
            Some(v) => parse_gpu_list(cvd, v, true)?
                .into_iter()
                .enumerate()
                .map(|(position, g)| match g {
                    JobGpu::Index(_) => format!("cuda:{position}"),
                    JobGpu::Uuid(u) => format!("cuda:{u}"),
                })
                .collect(),
            None => parse_gpu_list(SLURM_JOB_GPUS, slurm_job_gpus.unwrap_or(""), false)?
                .into_iter()
                .map(|g| match g {
                    JobGpu::Index(i) => format!("cuda:{i}"),
                    JobGpu::Uuid(u) => format!("cuda:{u}"),
                })
                .collect(),
        },
    };
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| seen.insert(n.clone()));
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn lists_of_indices_ranges_and_uuids_parse() {
        use JobGpu::*;
        assert_eq!(
            parse_gpu_list("V", "0,2-4, 7,", false).unwrap(),
            [Index(0), Index(2), Index(3), Index(4), Index(7)]
        );
        assert_eq!(
            parse_gpu_list("V", "GPU-48793a87-8bc2-2290-87c2-1ad1800320a7,1", true).unwrap(),
            [
                Uuid("GPU-48793a87-8bc2-2290-87c2-1ad1800320a7".into()),
                Index(1)
            ]
        );
        assert_eq!(parse_gpu_list("V", "", false).unwrap(), []);
        assert_eq!(parse_gpu_list("V", "NoDevFiles", true).unwrap(), []);
        for bad in ["x", "-1", "1-", "3-1", "0-99999", "1.5", "GPU-1"] {
            let e = parse_gpu_list("SLURM_JOB_GPUS", bad, false)
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("SLURM_JOB_GPUS") && e.contains(bad),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn a_configured_list_maps_gres_indices_to_its_entries() {
        let node = list(&["sim:h100#2", "sim:h100#3"]);
        assert_eq!(
            job_devices(Some("1"), Some("1"), Some(&node)).unwrap(),
            ["sim:h100#3"]
        );
        assert_eq!(
            job_devices(Some("0,1"), Some("0,1"), Some(&node)).unwrap(),
            ["sim:h100#2", "sim:h100#3"]
        );
        // without SLURM_JOB_GPUS, CUDA_VISIBLE_DEVICES' indices are the GRES indices
        assert_eq!(
            job_devices(None, Some("1"), Some(&node)).unwrap(),
            ["sim:h100#3"]
        );
        let e = job_devices(Some("2"), None, Some(&node))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("GPU index 2") && e.contains("lists 2 GPUs"),
            "{e}"
        );
    }

    #[test]
    fn without_a_list_the_gpus_are_what_cuda_shows_under_the_jobs_cuda_visible_devices() {
        assert_eq!(
            job_devices(Some("1,3"), Some("1,3"), None).unwrap(),
            ["cuda:0", "cuda:1"]
        );
        assert_eq!(
            job_devices(
                Some("5"),
                Some("GPU-48793a87-8bc2-2290-87c2-1ad1800320a7"),
                None
            )
            .unwrap(),
            ["cuda:GPU-48793a87-8bc2-2290-87c2-1ad1800320a7"]
        );
        assert_eq!(
            job_devices(Some("1,3"), None, None).unwrap(),
            ["cuda:1", "cuda:3"]
        );
        assert_eq!(job_devices(None, None, None).unwrap(), Vec::<String>::new());
        assert_eq!(
            job_devices(Some(""), Some(""), None).unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(job_devices(Some("1,1"), None, None).unwrap(), ["cuda:1"]);
    }
}
