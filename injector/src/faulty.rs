//! Faulty virtual GPUs: the injector's [`gpu::FaultFactory`].
//!
//! A node config (`gpu::NodeConfig`, `--node-config FILE`) can give a virtual GPU a
//! fault spec (`"iat:sm=5,sp=1,warps=0x1,lanes=0x1,dim=x,mask=0x4,pol=sa1"`). With
//! [`InjectorFaults`] registered on the platform, that GPU becomes permanently faulty:
//! every module it loads is instrumented for the fault's model, and its descriptor
//! global is *initialised* with the fault (not written by a host), so every launch of
//! every kernel of that module runs with the fault armed, for the whole life of the
//! device, without the program knowing. It computes exactly what `run --fault SPEC`
//! computes on a healthy GPU (the same instrumented code, the same descriptor).
//!
//! A module with nothing the fault can touch (no candidate site of the model, or for
//! `ioc`/`ir`/`fu` none of the faulty opcode group) loads unchanged, as on the hardware
//! such a program would not notice the fault; never an error.
//!
//! A fault that *arrives* later (`fault_arrives_at` in the node config) uses the dormant
//! form ([`gpu::ModuleTransform::dormant`]): the same instrumented module with the
//! descriptor left zero (disabled: it computes exactly what the original does), and the
//! armed descriptor as the bytes the device writes into [`DESC_SYMBOL`] before every
//! launch from the arrival on.

use crate::instrument::{instrument, DESC_SYMBOL};
use crate::spec::{Descriptor, FaultSpec};
use gpu::{FaultFactory, FaultTarget, ModuleTransform};
use ptx::{Imm, Init, Item, Operand};
use std::sync::Arc;

/// The fault factory that makes virtual GPUs of a node config permanently faulty
/// (register it with [`gpu::Platform::with_fault_factory`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct InjectorFaults;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl FaultFactory for InjectorFaults {
    fn create(
        &self,
        fault: &str,
        target: &FaultTarget<'_>,
    ) -> Result<Arc<dyn ModuleTransform>, BoxError> {
        let spec = FaultSpec::parse(fault)?;
        if let Some(why) = transient(&spec) {
            return Err(why.into());
        }
        spec.check_device(target.sms, target.warp_slots)?;
        Ok(Arc::new(PermanentFault::new(spec)))
    }
}

/// Why a GPU cannot carry `fault`, when it is a transient one.
fn transient(fault: &FaultSpec) -> Option<String> {
    fault.model.is_transient().then(|| {
        format!(
            "`{}` is a transient fault model (one instance of one instruction of one run): a \
             GPU carries permanent faults; inject it with `gpufault run --fault` or a campaign",
            fault.model
        )
    })
}

/// A platform on which the one GPU `gpu` carries `fault` from its first load: a virtual
/// GPU through its node-config entry (armed by [`InjectorFaults`]), a CUDA GPU through
/// [`gpu::Platform::with_injected_fault`] (the same instrumented code and descriptor).
/// `gpu` names one GPU: not a node, not `auto`, no `@SEED` (a virtual GPU's scheduling
/// seed goes into the name it is opened with).
pub fn platform_with_fault(
    gpu: &gpu::DeviceSpec,
    fault: &FaultSpec,
) -> Result<gpu::Platform, String> {
    if let Some(why) = transient(fault) {
        return Err(why);
    }
    let base = gpu::Platform::new().with_fault_factory(Arc::new(InjectorFaults));
    match gpu {
        gpu::DeviceSpec::Cuda(sel) => Ok(base.with_injected_fault(
            sel,
            &fault.to_string(),
            Arc::new(PermanentFault::new(fault.clone())),
        )),
        gpu::DeviceSpec::Sim(sim) if !sim.is_node() && sim.scheduling_seed.is_none() => {
            let config =
                serde_json::json!({ "gpus": { gpu.to_string(): { "fault": fault.to_string() } } });
            let node = gpu::NodeConfig::parse(&config.to_string(), "(a GPU with an injected fault)")
                .map_err(|e| e.to_string())?;
            Ok(base.with_node_config(node))
        }
        other => Err(format!(
            "{other}: a fault is placed on one GPU (`cuda:0`, `cuda:GPU-…`, `sim:h100#1`; no node, no `auto`, no `@SEED`)"
        )),
    }
}

/// A platform with one permanently faulty virtual GPU, and that GPU's name: GPU 1 of
/// a virtual node of `device`'s profile, carrying `fault` ([`platform_with_fault`]) and
/// scheduling with `scheduling_seed` (`None`: the fixed rule). What coverage campaigns
/// run each fault's detector on.
pub fn faulty_gpu(
    device: &gpu::SimSpec,
    fault: &FaultSpec,
    scheduling_seed: Option<u64>,
) -> Result<(gpu::Platform, gpu::DeviceSpec), String> {
    let gpu = gpu::SimSpec {
        profile: device.profile.clone(),
        count: None,
        index: Some(1),
        scheduling_seed: None,
    };
    let platform = platform_with_fault(&gpu::DeviceSpec::Sim(gpu.clone()), fault)?;
    let spec = gpu::DeviceSpec::Sim(gpu::SimSpec {
        scheduling_seed,
        ..gpu
    });
    Ok((platform, spec))
}

/// The module transform of one permanent fault.
#[derive(Debug, Clone)]
pub struct PermanentFault {
    spec: FaultSpec,
    descriptor: [u8; crate::DESCRIPTOR_BYTES],
}

impl PermanentFault {
    /// The transform for `spec` (validated by [`FaultSpec::parse`]).
    pub fn new(spec: FaultSpec) -> PermanentFault {
        let descriptor = Descriptor::from_spec(&spec).to_bytes();
        PermanentFault { spec, descriptor }
    }

    /// The fault.
    pub fn spec(&self) -> &FaultSpec {
        &self.spec
    }

    /// `ptx` as the faulty GPU runs it: instrumented with the fault armed from load on,
    /// or unchanged when the fault has nothing to touch in it.
    pub fn apply(&self, ptx: &str) -> Result<String, String> {
        let Some(mut out) = self.instrumented(ptx)? else {
            return Ok(ptx.to_string());
        };
        let bytes = self
            .descriptor
            .iter()
            .map(|&b| Init::Value(Operand::Imm(Imm::int(i64::from(b)))))
            .collect();
        let desc = out
            .items
            .iter_mut()
            .filter_map(|item| match item {
                Item::Var(v) => Some(v),
                _ => None,
            })
            .flat_map(|v| v.names.iter_mut())
            .find(|d| d.name == DESC_SYMBOL)
            .ok_or_else(|| {
                format!("internal error: the instrumented module has no `{DESC_SYMBOL}`")
            })?;
        desc.init = Some(Box::new(Init::List(bytes)));
        Ok(ptx::print(&out))
    }

    /// `ptx` as the faulty GPU runs it before the fault arrives: instrumented with the
    /// descriptor disabled (it computes exactly what `ptx` does), with the write that
    /// arms it (the armed descriptor into [`DESC_SYMBOL`]); unchanged with no write when
    /// the fault has nothing to touch in it.
    pub fn dormant(&self, ptx: &str) -> Result<gpu::DormantModule, String> {
        Ok(match self.instrumented(ptx)? {
            Some(module) => gpu::DormantModule {
                ptx: ptx::print(&module),
                arm: vec![(DESC_SYMBOL.to_string(), self.descriptor.to_vec())],
            },
            None => gpu::DormantModule {
                ptx: ptx.to_string(),
                arm: Vec::new(),
            },
        })
    }

    /// `ptx` instrumented for the fault's model (descriptor not initialised), or `None`
    /// when the fault has nothing to touch in it.
    fn instrumented(&self, ptx: &str) -> Result<Option<ptx::Module>, String> {
        let module = ptx::parse(ptx).map_err(|e| format!("the module does not parse: {e}"))?;
        if module
            .globals()
            .any(|g| g.names.iter().any(|d| d.name == DESC_SYMBOL))
        {
            return Err(
                "the module is already instrumented for a fault injection; a faulty \
                 virtual GPU runs programs, it does not take a second injected fault \
                 (inject into a healthy GPU)"
                    .into(),
            );
        }
        let inst = instrument(&module, self.spec.model).map_err(|e| e.to_string())?;
        let touched = match self.spec.params.op() {
            Some(op) => inst.sites.iter().any(|s| &s.op_group == op),
            None => !inst.sites.is_empty(),
        };
        Ok(touched.then_some(inst.module))
    }
}

impl ModuleTransform for PermanentFault {
    fn transform(&self, ptx: &str) -> Result<String, BoxError> {
        self.apply(ptx)
            .map_err(|e| format!("fault `{}`: {e}", self.spec).into())
    }

    fn dormant(&self, ptx: &str) -> Result<Option<gpu::DormantModule>, BoxError> {
        PermanentFault::dormant(self, ptx)
            .map(Some)
            .map_err(|e| format!("fault `{}`: {e}", self.spec).into())
    }
}
