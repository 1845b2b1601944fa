//! `wdrop`: the warp scheduler never issues the selected warp slots.

use super::FaultModel;
use crate::instrument::{code, count, r, InstrumentError, Pass, Site, SiteInfo};
use crate::model::{NoParams, Params};
use ptx::{Instruction, Statement};
use rand_chacha::ChaCha8Rng;

pub(crate) struct Wdrop;

impl FaultModel for Wdrop {
    fn id(&self) -> &'static str {
        "wdrop"
    }
    fn unit(&self) -> &'static str {
        "warp scheduler: a warp slot is never issued"
    }
    fn check_unit(&self) -> &'static str {
        "warp-scheduler"
    }
    fn definition(&self) -> &'static str {
        "The warp scheduler never issues the selected warp slots: their warps end \
         before their first instruction (missing output, or a barrier the rest of the \
         CTA waits at in vain)."
    }
    fn all_lanes(&self) -> bool {
        true
    }

    /// No per-instruction sites: the whole warp is the fault's.
    fn site(
        &self,
        _cx: &mut Pass<'_>,
        _i: &Instruction,
    ) -> Result<Option<Vec<Statement>>, InstrumentError> {
        Ok(None)
    }

    fn copies_bodies(&self) -> bool {
        false
    }

    /// A faulty warp counts once and exits; the kernel's first instruction stands for
    /// the whole warp as its one site.
    fn faulty_warp(
        &self,
        cx: &mut Pass<'_>,
        body: &[Statement],
    ) -> Result<Option<Vec<Statement>>, InstrumentError> {
        let (t, u0) = (r("true"), r("u0"));
        let out = code(&format!(
            "mov.u32 {lane}, %laneid;\nsetp.eq.u32 {t}, {u0}, {u0};\n{}exit;\n",
            count(&t),
            lane = r("lane"),
        ))?;
        let flat = ptx::flatten(body);
        if let Some(i) = flat.insts.first() {
            cx.add_site(0, i, SiteInfo::default());
        }
        Ok(Some(out))
    }

    fn draw(
        &self,
        _rng: &mut ChaCha8Rng,
        _site: &Site,
        _lane_on: bool,
        _cx: &crate::rules::Draw<'_>,
    ) -> Params {
        Params::Wdrop(NoParams {})
    }
}
