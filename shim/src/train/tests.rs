//! The trainer on virtual GPUs: determinism across device counts, agreement with the CPU
//! reference, checkpoints (round trip, refusal, bit-exact resume), the self-checks, signals
//! and device failures.

use super::*;
use gpu::NodeConfig;
use injector::InjectorFaults;
use std::path::Path;

/// A fresh directory for one test.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gpufault-train-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn platform() -> Platform {
    Platform::new().with_visible_devices(None)
}

/// Trains on the devices `list` names; the report and the loss of every step (bits).
fn train_on(
    platform: &Platform,
    list: &str,
    config: &TrainConfig,
    options: &TrainOptions,
    stop: &AtomicUsize,
    on_step: &mut dyn FnMut(&StepEvent),
) -> (TrainReport, Vec<u32>) {
    let specs = devices(Some(list), platform).unwrap();
    let mut losses = Vec::new();
    let report = train(platform, &specs, config, options, stop, &mut |e| {
        losses.push(e.loss.to_bits());
        on_step(e);
    })
    .unwrap();
    (report, losses)
}

fn quick(list: &str, config: &TrainConfig, options: &TrainOptions) -> (TrainReport, Vec<u32>) {
    train_on(
        &platform(),
        list,
        config,
        options,
        &AtomicUsize::new(0),
        &mut |_| {},
    )
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn with_checkpoint(path: &Path, every: u64) -> TrainOptions {
    TrainOptions {
        checkpoint: Some(path.to_path_buf()),
        checkpoint_every: every,
        ..TrainOptions::default()
    }
}

#[test]
fn the_loss_curve_and_the_model_are_the_same_bits_on_1_2_and_4_devices() {
    let config = TrainConfig::new(6);
    let (one, curve) = quick("sim", &config, &TrainOptions::default());
    assert_eq!(one.exit, TrainExit::Finished, "{:?}", one.summary.detail);
    assert_eq!(curve.len(), 6);
    for list in ["sim*2", "sim:h100*4"] {
        let (r, c) = quick(list, &config, &TrainOptions::default());
        assert_eq!(c, curve, "the loss curve on {list}");
        assert_eq!(
            bits(r.params.as_deref().unwrap()),
            bits(one.params.as_deref().unwrap()),
            "the model on {list}"
        );
        assert_eq!(r.summary.eval_loss, one.summary.eval_loss);
    }
    // the model learns: the loss of the last step is well below the first
    let (first, last) = (f32::from_bits(curve[0]), f32::from_bits(curve[5]));
    assert!(last < 0.5 * first, "loss {first} -> {last}");
}

#[test]
fn the_device_run_agrees_with_the_cpu_reference() {
    // Not bit for bit: the kernels' expf/logf are CUDA's (within 2 ulp), the reference's
    // are Rust's. Stated tolerance after 5 steps of momentum SGD: 1e-6 relative on every
    // step's loss, 1e-6 absolute + 1e-5 relative on every parameter (measured: 6.1e-8
    // and 6.0e-8 absolute).
    let config = TrainConfig::new(5);
    let (r, curve) = quick("sim*2", &config, &TrainOptions::default());
    let (losses, params) = train_on_cpu(&config);
    let (mut worst_loss, mut worst_param) = (0.0f32, 0.0f32);
    for (i, (&d, &c)) in curve.iter().zip(&losses).enumerate() {
        let d = f32::from_bits(d);
        worst_loss = worst_loss.max((d - c).abs() / c.abs());
        assert!(
            (d - c).abs() <= 1e-6 * c.abs(),
            "step {}: device {d}, cpu {c}",
            i + 1
        );
    }
    for (i, (d, c)) in r.params.unwrap().iter().zip(&params).enumerate() {
        worst_param = worst_param.max((d - c).abs());
        assert!(
            (d - c).abs() <= 1e-6 + 1e-5 * c.abs(),
            "param {i}: device {d}, cpu {c}"
        );
    }
    eprintln!(
        "largest difference: loss {worst_loss:e} relative, parameters {worst_param:e} absolute"
    );
}

#[test]
fn a_checkpoint_round_trips_and_one_of_another_run_is_refused() {
    let dir = scratch("checkpoint");
    let path = dir.join("ckpt.json");
    let config = TrainConfig::new(4);
    let (r, _) = quick("sim", &config, &with_checkpoint(&path, 2));
    assert_eq!(r.summary.checkpoint_step, Some(4));
    let c = Checkpoint::read(&path).unwrap().unwrap();
    assert_eq!((c.step, &c.config), (4, &config));
    assert_eq!(bits(&c.params), bits(r.params.as_deref().unwrap()));
    assert_eq!(c.recent_losses.len(), 4);
    // written back and read again: the same bits
    let copy = dir.join("copy.json");
    c.write(&copy).unwrap();
    assert_eq!(Checkpoint::read(&copy).unwrap().unwrap(), c);
    assert!(Checkpoint::read(&dir.join("none.json")).unwrap().is_none());
    // a run with another configuration refuses it, naming the field
    for (other, field) in [
        (
            TrainConfig {
                batch: 32,
                ..config.clone()
            },
            "batch",
        ),
        (
            TrainConfig {
                seed: 2,
                ..config.clone()
            },
            "seed",
        ),
        (
            TrainConfig {
                lr: 0.1,
                ..config.clone()
            },
            "lr",
        ),
        (
            TrainConfig {
                steps: 8,
                ..config.clone()
            },
            "steps",
        ),
    ] {
        let specs = devices(Some("sim"), &platform()).unwrap();
        let e = train(
            &platform(),
            &specs,
            &other,
            &with_checkpoint(&path, 2),
            &AtomicUsize::new(0),
            &mut |_| {},
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(
            matches!(e, TrainError::ForeignCheckpoint { field: f, .. } if f == field),
            "{msg}"
        );
        assert!(
            msg.contains(&format!("its `{field}` is")) && msg.contains("ckpt.json"),
            "{msg}"
        );
    }
    // a damaged file is an error naming the file, never a fresh start
    let text = std::fs::read_to_string(&path).unwrap();
    for (bad, needle) in [
        (
            text.replace("\"step\":4", "\"step\":9"),
            "beyond the run's 4 steps",
        ),
        (text.replace("\"format\":1", "\"format\":7"), "format 7"),
        (text[..text.len() / 2].to_string(), "EOF"),
        (
            text.replace("\"devices\"", "\"gpus\""),
            "unknown field `gpus`",
        ),
    ] {
        std::fs::write(&path, bad).unwrap();
        let e = Checkpoint::read(&path).unwrap_err().to_string();
        assert!(e.contains("ckpt.json") && e.contains(needle), "{e}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_run_resumed_on_other_devices_equals_the_uninterrupted_one_bit_for_bit() {
    let dir = scratch("resume");
    let config = TrainConfig::new(12);
    let (whole, curve) = quick("sim*2", &config, &TrainOptions::default());
    // stopped after step 7 (as SIGTERM does), on four devices, checkpointing every 5
    let path = dir.join("ckpt.json");
    let progress = dir.join("progress.json");
    let stop = AtomicUsize::new(0);
    let options = TrainOptions {
        progress: Some(progress.clone()),
        ..with_checkpoint(&path, 5)
    };
    let (first, head) = train_on(&platform(), "sim*4", &config, &options, &stop, &mut |e| {
        if e.step == 7 {
            stop.store(signal_hook::consts::SIGTERM as usize, Ordering::SeqCst);
        }
    });
    assert_eq!(first.exit, TrainExit::Terminated);
    assert_eq!(
        (first.summary.step, first.summary.checkpoint_step),
        (7, Some(7))
    );
    let p: JobProgress = serde_json::from_slice(&std::fs::read(&progress).unwrap()).unwrap();
    assert_eq!((p.step, p.checkpoint_step, p.done), (7, Some(7), false));
    assert_eq!(p.devices.len(), 4);
    // resumed on one device
    let (second, tail) = quick("sim", &config, &options);
    assert_eq!(second.exit, TrainExit::Finished);
    assert_eq!(second.summary.resumed_from, Some(7));
    assert_eq!(second.summary.steps_run, 5);
    assert_eq!([head, tail].concat(), curve, "the loss curve");
    assert_eq!(
        bits(second.params.as_deref().unwrap()),
        bits(whole.params.as_deref().unwrap()),
        "the model"
    );
    let p: JobProgress = serde_json::from_slice(&std::fs::read(&progress).unwrap()).unwrap();
    assert_eq!((p.step, p.checkpoint_step, p.done), (12, Some(12), true));
    assert_eq!(p.total_steps, Some(12));
    assert_eq!(p.resumed_from, Some(7));
    assert!(p.checkpoint_load_ms.is_some() && p.checkpoint_loaded_unix.is_some());
    assert!(p.first_step_unix >= p.checkpoint_loaded_unix);
    assert!(p.process_started_unix <= p.checkpoint_loaded_unix);
    // a finished run started again has nothing left to do
    let (again, none) = quick("sim", &config, &options);
    assert_eq!(
        (again.exit, none.len(), again.summary.steps_run),
        (TrainExit::Finished, 0, 0)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_non_finite_loss_stops_the_run_and_keeps_nothing_of_the_step() {
    let dir = scratch("nonfinite");
    let path = dir.join("ckpt.json");
    // a learning rate that blows the parameters up within two steps
    let config = TrainConfig {
        lr: 1e20,
        ..TrainConfig::new(10)
    };
    let (r, curve) = quick("sim*2", &config, &with_checkpoint(&path, 1));
    assert_eq!(r.exit, TrainExit::NonFinite, "{:?}", r.summary);
    assert_eq!(r.summary.exit_code, 4);
    let detail = r.summary.detail.unwrap();
    assert!(detail.contains("nothing of the step is kept"), "{detail}");
    assert!(r.params.is_none() && r.summary.eval_loss.is_none());
    // the last checkpoint is the last finished step's, and finite
    let c = Checkpoint::read(&path).unwrap().unwrap();
    assert_eq!(c.step, curve.len() as u64);
    assert_eq!(Some(c.step), r.summary.checkpoint_step);
    assert!(c.step < 10);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_loss_jump_stops_the_run() {
    // a check so tight that the first step whose loss rises above the last one fires
    let options = TrainOptions {
        checks: SelfChecks {
            max_loss_jump: 1.0,
            window: 1,
            warmup: 0,
        },
        ..TrainOptions::default()
    };
    let config = TrainConfig::new(30);
    let (r, curve) = quick("sim", &config, &options);
    assert_eq!(r.exit, TrainExit::LossJump, "{:?}", r.summary);
    let (losses, _) = train_on_cpu(&config);
    let rise = losses.windows(2).position(|w| w[1] > w[0]).unwrap() + 1;
    assert_eq!(
        curve.len(),
        rise,
        "stopped at the first rise, step {}",
        rise + 1
    );
    assert!(r
        .summary
        .detail
        .unwrap()
        .contains(&format!("step {}", rise + 1)));
}

#[test]
fn sigterm_finishes_the_step_writes_a_checkpoint_and_exits_143() {
    let dir = scratch("sigterm");
    let path = dir.join("ckpt.json");
    let stop = stop_on_signals().unwrap();
    let config = TrainConfig::new(50);
    let (r, curve) = train_on(
        &platform(),
        "sim*2",
        &config,
        &with_checkpoint(&path, 25),
        &stop,
        &mut |e| {
            if e.step == 3 {
                nix::sys::signal::raise(nix::sys::signal::Signal::SIGTERM).unwrap();
            }
        },
    );
    assert_eq!(r.exit, TrainExit::Terminated);
    assert_eq!(r.exit.code(), 143);
    assert_eq!(curve.len(), 3);
    assert_eq!(Checkpoint::read(&path).unwrap().unwrap().step, 3);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn faulty_platform(gpu: &str, fault: &str) -> Platform {
    let text = format!(r#"{{"gpus": {{"{gpu}": {{"fault": "{fault}"}}}}}}"#);
    platform()
        .with_node_config(NodeConfig::parse(&text, "test").unwrap())
        .with_fault_factory(Arc::new(InjectorFaults))
}

#[test]
fn a_device_that_faults_exits_3_and_the_last_checkpoint_stays() {
    let dir = scratch("device");
    let path = dir.join("ckpt.json");
    let config = TrainConfig::new(6);
    let stop = AtomicUsize::new(0);
    let (r, _) = train_on(
        &platform(),
        "sim*2",
        &config,
        &with_checkpoint(&path, 0),
        &stop,
        &mut |e| {
            if e.step == 3 {
                stop.store(signal_hook::consts::SIGINT as usize, Ordering::SeqCst);
            }
        },
    );
    assert_eq!((r.exit, r.exit.code()), (TrainExit::Interrupted, 130));
    let before = std::fs::read(&path).unwrap();
    // resumed with GPU 1 trapping at its first fma on SM 0, warp slot 0 (its first shard)
    let p = faulty_platform("sim#1", "ir:sm=0,sp=0,warps=0x1,op=fma.f32");
    let (r, curve) = train_on(
        &p,
        "sim*2",
        &config,
        &with_checkpoint(&path, 1),
        &AtomicUsize::new(0),
        &mut |_| {},
    );
    assert_eq!(r.exit, TrainExit::DeviceFailed, "{:?}", r.summary);
    assert_eq!(r.summary.exit_code, 3);
    assert!(curve.is_empty());
    let detail = r.summary.detail.unwrap();
    assert!(
        detail.contains("device sim#1 failed in step 4") && detail.contains("trap"),
        "{detail}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the checkpoint of step 3 stays"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn replicas_that_disagree_name_the_odd_device() {
    let names: Vec<String> = (0..4).map(|i| format!("sim#{i}")).collect();
    let good = vec![1.0f32, 2.0];
    let bad = vec![1.0f32, 2.5];
    assert_eq!(
        disagreement(&[good.clone(), good.clone()], &names[..2]),
        None
    );
    let d = disagreement(
        &[good.clone(), good.clone(), bad.clone(), good.clone()],
        &names,
    )
    .unwrap();
    assert!(
        d.contains("sim#2 differs from the 3 others (sim#0, sim#1, sim#3)"),
        "{d}"
    );
    let d = disagreement(&[good.clone(), bad.clone()], &names[..2]).unwrap();
    assert!(d.contains("no majority: [sim#0] vs [sim#1]"), "{d}");
    // -0.0 and 0.0 are different bits: a replica is compared bit for bit
    assert!(disagreement(&[vec![0.0], vec![-0.0]], &names[..2]).is_some());
}

#[test]
fn device_lists_expand_nodes_and_refuse_repeats() {
    let p = platform();
    let names = |l: &str| {
        devices(Some(l), &p)
            .map(|v| v.iter().map(ToString::to_string).collect::<Vec<_>>())
            .map_err(|e| e.to_string())
    };
    assert_eq!(
        names("sim:h100*3").unwrap(),
        ["sim:h100#0", "sim:h100#1", "sim:h100#2"]
    );
    assert_eq!(names("sim#2, sim#0").unwrap(), ["sim#2", "sim#0"]);
    assert!(names("sim*2,sim#1")
        .unwrap_err()
        .contains("sim#1 is named twice"));
    assert!(names("gpu0")
        .unwrap_err()
        .starts_with("--devices: invalid device name `gpu0`"));
    let hidden = Platform::new().with_visible_devices(Some(""));
    let e = devices(Some("sim*4"), &hidden).unwrap_err().to_string();
    assert!(e.contains("names no visible device"), "{e}");
}

#[test]
fn bad_configurations_name_their_flag() {
    for (config, needle) in [
        (
            TrainConfig {
                steps: 0,
                ..TrainConfig::new(1)
            },
            "--steps: must be at least 1",
        ),
        (
            TrainConfig {
                shards: 5,
                ..TrainConfig::new(1)
            },
            "--shards: must divide the batch (64)",
        ),
        (
            TrainConfig {
                lr: -1.0,
                ..TrainConfig::new(1)
            },
            "--lr: must be a positive number",
        ),
        (
            TrainConfig {
                momentum: 1.0,
                ..TrainConfig::new(1)
            },
            "--momentum: must be in [0, 1)",
        ),
        (
            TrainConfig {
                batch: 0,
                ..TrainConfig::new(1)
            },
            "--batch: must be 1..=",
        ),
    ] {
        assert!(
            config
                .validate()
                .unwrap_err()
                .to_string()
                .starts_with(needle),
            "{needle}"
        );
    }
    assert!(TrainConfig::new(1).validate().is_ok());
}
