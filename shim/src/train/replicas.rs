//! The model's replicas, one per device, each served by its own thread.
//!
//! ```text
//!   training loop (host)                         device threads (one per device, scoped)
//!   ─────────────────────                        ───────────────────────────────────────
//!   gradients(shards) ──▶ Gradients{shards i ≡ d mod N} ──▶ thread d: per shard, in order:
//!                                                          MlpTrainer::gradients, download
//!                     ◀── (shard, loss, grads)…  ◀───────
//!   apply(update)     ──▶ Apply(update)          ──▶ every thread: upload, sgd(lr) on its replica
//!   params()          ──▶ Params                 ──▶ every thread: download its replica
//! ```
//!
//! Each thread owns its device and its [`MlpTrainer`] for the whole run (the trainer
//! borrows the device, so it cannot move between threads); the host talks to it over two
//! channels. Every request goes to all the threads it concerns before any reply is
//! awaited, so the devices compute in parallel; replies are put back in shard and device
//! order, so nothing the host computes depends on which device answered first.

use gpu::{Device, Limits};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use workloads::{MlpBatch, MlpTrainer, RunError};

/// Thread-instructions one launch may execute on a virtual GPU before it counts as a hang.
/// The largest launch of a training step (`mlp_hidden_grads`, 4,160 threads looping over
/// a shard of 8 samples) executes about 0.3 M; a fault that sends a kernel into an
/// endless loop is stopped after about 1,000 times that (≈0.5 s of the virtual GPU).
pub const LAUNCH_BUDGET: u64 = 300_000_000;

/// What one shard gave: its index, mean loss and gradients.
pub(crate) type ShardResult = (usize, f32, Vec<f32>);

enum Request {
    Gradients(Arc<Vec<MlpBatch>>),
    Apply(Arc<Vec<f32>>, f32),
    Params,
}

enum Reply {
    Ready,
    Gradients(Vec<ShardResult>),
    Done,
    Params(Vec<f32>),
    Failed(RunError),
}

/// A device that failed, and how.
#[derive(Debug, Clone)]
pub(crate) struct DeviceFailure {
    /// The device's name.
    pub device: String,
    /// Its error.
    pub error: RunError,
}

/// The host's handle on one device thread.
struct Replica {
    name: String,
    requests: Sender<Request>,
    replies: Receiver<Reply>,
}

/// The replicas of a run: one per device, in device (= shard assignment) order.
pub(crate) struct Replicas {
    replicas: Vec<Replica>,
}

impl Replicas {
    /// Starts one thread per device in `scope`, each loading the `mlp_train` module and
    /// a replica of `params` for shards of `shard_size` samples. Returns when every
    /// device is ready, or with the first device (in order) that could not get ready.
    pub(crate) fn start<'scope, 'env>(
        scope: &'scope std::thread::Scope<'scope, 'env>,
        devices: Vec<Box<dyn Device + Send>>,
        shard_size: usize,
        params: &[f32],
    ) -> Result<Replicas, DeviceFailure> {
        let replicas: Vec<Replica> = devices
            .into_iter()
            .map(|dev| {
                let name = dev.name().to_string();
                let (requests, inbox) = channel();
                let (outbox, replies) = channel();
                let params = params.to_vec();
                scope.spawn(move || serve(dev, shard_size, &params, inbox, outbox));
                Replica {
                    name,
                    requests,
                    replies,
                }
            })
            .collect();
        let replicas = Replicas { replicas };
        let all: Vec<usize> = (0..replicas.replicas.len()).collect();
        for (i, reply) in replicas.collect(&all) {
            match reply {
                Reply::Ready => {}
                other => return Err(replicas.failure(i, other)),
            }
        }
        Ok(replicas)
    }

    /// How many devices.
    pub(crate) fn len(&self) -> usize {
        self.replicas.len()
    }

    /// The devices' names, in order.
    pub(crate) fn names(&self) -> Vec<String> {
        self.replicas.iter().map(|r| r.name.clone()).collect()
    }

    /// Loss and gradients of every shard, in shard order: shard `i` on device `i mod N`.
    pub(crate) fn gradients(
        &self,
        shards: Vec<MlpBatch>,
    ) -> Result<Vec<ShardResult>, DeviceFailure> {
        let n = self.len();
        let count = shards.len();
        let mut per_device: Vec<Vec<MlpBatch>> = vec![Vec::new(); n];
        for (i, shard) in shards.into_iter().enumerate() {
            per_device[i % n].push(shard);
        }
        let mut busy = Vec::new();
        for (d, mine) in per_device.into_iter().enumerate() {
            if !mine.is_empty() {
                self.send(d, Request::Gradients(Arc::new(mine)));
                busy.push(d);
            }
        }
        let mut out: Vec<Option<ShardResult>> = (0..count).map(|_| None).collect();
        let mut failure = None;
        for (d, reply) in self.collect(&busy) {
            match reply {
                Reply::Gradients(list) => {
                    for (k, (_, loss, grads)) in list.into_iter().enumerate() {
                        // the device's k-th shard is shard d + k·N
                        let i = d + k * n;
                        out[i] = Some((i, loss, grads));
                    }
                }
                other => {
                    failure.get_or_insert_with(|| self.failure(d, other));
                }
            }
        }
        match failure {
            Some(f) => Err(f),
            None => Ok(out.into_iter().flatten().collect()),
        }
    }

    /// `params -= lr · update` on every replica.
    pub(crate) fn apply(&self, update: Vec<f32>, lr: f32) -> Result<(), DeviceFailure> {
        let update = Arc::new(update);
        let all: Vec<usize> = (0..self.len()).collect();
        for &d in &all {
            self.send(d, Request::Apply(update.clone(), lr));
        }
        self.expect_all(&all, |r| matches!(r, Reply::Done).then_some(()))
            .map(|_| ())
    }

    /// Every replica's parameters, in device order.
    pub(crate) fn params(&self) -> Result<Vec<Vec<f32>>, DeviceFailure> {
        let all: Vec<usize> = (0..self.len()).collect();
        for &d in &all {
            self.send(d, Request::Params);
        }
        self.expect_all(&all, |r| match r {
            Reply::Params(p) => Some(p),
            _ => None,
        })
    }

    /// The replies of `devices` turned into values by `want`, or the first failure in
    /// device order.
    fn expect_all<T>(
        &self,
        devices: &[usize],
        want: impl Fn(Reply) -> Option<T>,
    ) -> Result<Vec<T>, DeviceFailure> {
        let mut out = Vec::with_capacity(devices.len());
        let mut failure = None;
        for (d, reply) in self.collect(devices) {
            match reply {
                Reply::Failed(error) => {
                    failure.get_or_insert(DeviceFailure {
                        device: self.replicas[d].name.clone(),
                        error,
                    });
                }
                other => match want(other) {
                    Some(v) => out.push(v),
                    None => {
                        failure.get_or_insert_with(|| self.failure(d, Reply::Done));
                    }
                },
            }
        }
        match failure {
            Some(f) => Err(f),
            None => Ok(out),
        }
    }

    fn send(&self, d: usize, request: Request) {
        // a thread that ended has replied `Failed` or is gone; `collect` reports it
        let _ = self.replicas[d].requests.send(request);
    }

    /// One reply from each of `devices`, in that order (a thread that is gone replies
    /// `Failed`).
    fn collect(&self, devices: &[usize]) -> Vec<(usize, Reply)> {
        devices
            .iter()
            .map(|&d| {
                let reply = self.replicas[d].replies.recv().unwrap_or_else(|_| {
                    Reply::Failed(RunError::Device(gpu::GpuError::Driver {
                        detail: "the device's thread ended".into(),
                    }))
                });
                (d, reply)
            })
            .collect()
    }

    /// The failure a reply of device `d` stands for (its error, or an unexpected reply).
    fn failure(&self, d: usize, reply: Reply) -> DeviceFailure {
        let error = match reply {
            Reply::Failed(e) => e,
            _ => RunError::Device(gpu::GpuError::Driver {
                detail: "the device's thread answered out of turn".into(),
            }),
        };
        DeviceFailure {
            device: self.replicas[d].name.clone(),
            error,
        }
    }
}

/// The body of a device thread: load, then serve requests until the host hangs up. After
/// a failure it answers every request with the failure (the host stops at the first).
fn serve(
    mut dev: Box<dyn Device + Send>,
    shard_size: usize,
    params: &[f32],
    inbox: Receiver<Request>,
    outbox: Sender<Reply>,
) {
    dev.set_limits(Limits {
        instructions: Some(LAUNCH_BUDGET),
        wall: None,
    });
    let ptx = workloads::by_name("mlp_train")
        .expect("the mlp_train workload is bundled")
        .ptx();
    let module = match dev.load(ptx) {
        Ok(m) => m,
        Err(e) => return fail_forever(RunError::Device(e), &inbox, &outbox),
    };
    let mut trainer = match MlpTrainer::new(dev.as_mut(), module, shard_size, params) {
        Ok(t) => t,
        Err(e) => return fail_forever(e, &inbox, &outbox),
    };
    if outbox.send(Reply::Ready).is_err() {
        return;
    }
    while let Ok(request) = inbox.recv() {
        let reply = match request {
            Request::Gradients(shards) => shards
                .iter()
                .enumerate()
                .map(|(k, shard)| {
                    let loss = trainer.gradients(shard)?;
                    Ok((k, loss, trainer.download_gradients()?))
                })
                .collect::<Result<Vec<_>, RunError>>()
                .map(Reply::Gradients),
            Request::Apply(update, lr) => trainer
                .upload_gradients(&update)
                .and_then(|()| trainer.sgd(lr))
                .map(|()| Reply::Done),
            Request::Params => trainer.params().map(Reply::Params),
        };
        match reply {
            Ok(r) => {
                if outbox.send(r).is_err() {
                    return;
                }
            }
            Err(e) => return fail_forever(e, &inbox, &outbox),
        }
    }
}

fn fail_forever(error: RunError, inbox: &Receiver<Request>, outbox: &Sender<Reply>) {
    if outbox.send(Reply::Failed(error.clone())).is_err() {
        return;
    }
    while inbox.recv().is_ok() {
        if outbox.send(Reply::Failed(error.clone())).is_err() {
            return;
        }
    }
}
