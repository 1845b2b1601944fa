//! The job's processes: started in a process group of their own, found again wherever
//! they went, and stopped all together.
//!
//! A training launcher's workers do not always stay in the process group they were
//! started in: torchrun's workers call `setsid`, a daemonising helper forks twice. The
//! guard finds every process of the job by two marks that survive both:
//!
//! - the **run id** in its environment ([`GUARD_RUN`](crate::env::GUARD_RUN)), inherited
//!   by every process the job starts (`/proc/PID/environ` is the environment a process
//!   was started with);
//! - **ancestry**: the guard is a child subreaper (`PR_SET_CHILD_SUBREAPER`), so a
//!   process whose parent dies is re-parented to the guard, not to init, and stays in
//!   the tree under it (this catches a process that cleared its environment).
//!
//! Stopping: SIGTERM to the process group and to every member outside it, a grace
//! period for the job to checkpoint, then SIGKILL to all that is left, repeated until
//! `/proc` shows none (a process forked during the kill is found on the next pass), and
//! every member that is the guard's child reaped.

use nix::errno::Errno;
use nix::sys::signal::{kill, killpg, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::Pid;
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// Makes this process the child subreaper of its descendants: orphans of the job come
/// to it (and are reaped by it) instead of init.
pub fn become_subreaper() -> nix::Result<()> {
    nix::sys::prctl::set_child_subreaper(true)
}

/// A started job: its main process, leader of its own process group.
#[derive(Debug)]
pub struct Job {
    child: Child,
    run_id: String,
    exited: Option<ExitStatus>,
    /// Every process ever seen as a member (to reap those re-parented to this process,
    /// and only those: its other children, such as health-check workers, are reaped by
    /// their owners).
    seen: std::cell::RefCell<BTreeSet<Pid>>,
}

impl Job {
    /// Starts `command` (program and arguments) with `env` added to this process's
    /// environment, in a new process group whose id is its pid. It gets SIGTERM if the
    /// guard's main thread dies first (`PR_SET_PDEATHSIG`), so that a guard killed
    /// with SIGKILL does not leave a job running unguarded.
    pub fn spawn(
        command: &[OsString],
        env: &[(String, String)],
        run_id: &str,
    ) -> std::io::Result<Job> {
        let (program, args) = command
            .split_first()
            .ok_or_else(|| std::io::Error::other("no command to run"))?;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env(crate::env::GUARD_RUN, run_id)
            .process_group(0);
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(Signal::SIGTERM).map_err(std::io::Error::from)
            });
        }
        let child = cmd.spawn()?;
        Ok(Job {
            child,
            run_id: run_id.to_string(),
            exited: None,
            seen: Default::default(),
        })
    }

    /// The main process's id (= its process group id).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The main process's exit status once it has ended (reaped here; never blocks).
    pub fn try_wait(&mut self) -> std::io::Result<Option<ExitStatus>> {
        if self.exited.is_none() {
            self.exited = self.child.try_wait()?;
        }
        Ok(self.exited)
    }

    /// Every live process of the job (the main process included while it runs).
    pub fn members(&self) -> Vec<Pid> {
        let m = members(&self.run_id, Pid::from_raw(self.pid() as i32));
        self.seen.borrow_mut().extend(m.iter().copied());
        m
    }

    /// Asks every process of the job to stop (SIGTERM), waits up to `grace` for all to
    /// be gone, then kills what is left. Returns the pids signalled first and those
    /// killed after the grace period.
    pub fn stop(&mut self, grace: Duration) -> Stop {
        let started = Instant::now();
        let signalled = self.signal_all(Signal::SIGTERM);
        let deadline = started + grace;
        while Instant::now() < deadline {
            let _ = self.try_wait();
            self.reap_members();
            if self.exited.is_some() && self.members().is_empty() {
                return Stop {
                    signalled,
                    killed: Vec::new(),
                    duration: started.elapsed(),
                };
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let killed = self.kill_all();
        Stop {
            signalled,
            killed,
            duration: started.elapsed(),
        }
    }

    /// Kills every process of the job with SIGKILL until none is left, and reaps them.
    /// Returns the pids killed.
    pub fn kill_all(&mut self) -> Vec<u32> {
        let mut killed = BTreeSet::new();
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            let sent = self.signal_all(Signal::SIGKILL);
            killed.extend(sent);
            let _ = self.try_wait();
            self.reap_members();
            if self.members().is_empty() && self.exited.is_some() {
                break;
            }
            if Instant::now() > until {
                break; // a process in uninterruptible sleep: reported by the caller's check
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        if self.exited.is_none() {
            self.exited = self.child.wait().ok();
        }
        killed.into_iter().collect()
    }

    /// Sends `signal` to the process group and to every member outside it.
    fn signal_all(&mut self, signal: Signal) -> Vec<u32> {
        let group = Pid::from_raw(self.pid() as i32);
        if self.exited.is_none() {
            let _ = killpg(group, signal);
        }
        let mut sent = Vec::new();
        for pid in self.members() {
            if kill(pid, signal).is_ok() {
                sent.push(pid.as_raw() as u32);
            }
        }
        sent
    }

    /// Reaps processes once seen as members that are now this process's children
    /// (orphans re-parented to the subreaper) and have exited; never the main process
    /// (its `Child` does that) nor any other child of this process.
    fn reap_members(&self) {
        let me = nix::unistd::getpid();
        let seen = self.seen.borrow();
        for (pid, info) in processes() {
            if info.ppid == me
                && info.zombie
                && seen.contains(&pid)
                && pid.as_raw() as u32 != self.pid()
            {
                let _ = waitpid(pid, Some(WaitPidFlag::WNOHANG));
            }
        }
    }
}

/// What [`Job::stop`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stop {
    /// The processes sent SIGTERM.
    pub signalled: Vec<u32>,
    /// The processes killed after the grace period (empty: all exited in time).
    pub killed: Vec<u32>,
    /// From the first signal to the last process gone.
    pub duration: Duration,
}

/// A process as `/proc` shows it.
#[derive(Debug, Clone, Copy)]
struct ProcInfo {
    ppid: Pid,
    zombie: bool,
}

/// Every process of the system with its parent (from `/proc/PID/stat`).
fn processes() -> BTreeMap<Pid, ProcInfo> {
    let mut out = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue; // gone meanwhile
        };
        // `pid (comm) state ppid …`; comm may hold spaces and parentheses: split at the last `)`.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next().unwrap_or("");
        let Some(ppid) = fields.next().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        out.insert(
            Pid::from_raw(pid),
            ProcInfo {
                ppid: Pid::from_raw(ppid),
                zombie: state == "Z" || state == "X",
            },
        );
    }
    out
}

/// Whether `pid`'s environment holds `GPUFAULT_GUARD_RUN=<run_id>`.
fn has_run_id(pid: Pid, marker: &[u8]) -> bool {
    match std::fs::read(format!("/proc/{pid}/environ")) {
        Ok(env) => env.split(|&b| b == 0).any(|var| var == marker),
        Err(_) => false,
    }
}

/// The processes other than this one whose environment carries the guard run id
/// `run_id` (zombies included).
fn marked(procs: &BTreeMap<Pid, ProcInfo>, run_id: &str) -> BTreeSet<Pid> {
    let me = nix::unistd::getpid();
    let marker = format!("{}={run_id}", crate::env::GUARD_RUN).into_bytes();
    procs
        .keys()
        .copied()
        .filter(|&p| p != me && has_run_id(p, &marker))
        .collect()
}

/// The live processes (not zombies) that carry the guard run id `run_id`: after the
/// guard has ended, none may be left.
pub fn live_with_run_id(run_id: &str) -> Vec<u32> {
    let procs = processes();
    marked(&procs, run_id)
        .into_iter()
        .filter(|p| procs.get(p).is_some_and(|i| !i.zombie))
        .map(|p| p.as_raw() as u32)
        .collect()
}

/// The live processes of the job whose main process is `leader`: those carrying its run
/// id, and every descendant of the leader or of those. Zombies (already dead, waiting
/// to be reaped) are not members.
pub(crate) fn members(run_id: &str, leader: Pid) -> Vec<Pid> {
    let me = nix::unistd::getpid();
    let procs = processes();
    let mut set = marked(&procs, run_id);
    if procs.contains_key(&leader) {
        set.insert(leader);
    }
    // descendants, to a fixed point
    loop {
        let before = set.len();
        for (&pid, info) in &procs {
            if pid != me && set.contains(&info.ppid) {
                set.insert(pid);
            }
        }
        if set.len() == before {
            break;
        }
    }
    set.into_iter()
        .filter(|p| procs.get(p).is_some_and(|i| !i.zombie))
        .collect()
}

/// Whether `pid` is a live process (for tests and checks).
pub fn alive(pid: u32) -> bool {
    match kill(Pid::from_raw(pid as i32), None) {
        Ok(()) => !processes()
            .get(&Pid::from_raw(pid as i32))
            .is_some_and(|i| i.zombie),
        Err(Errno::EPERM) => true,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Vec<OsString> {
        vec!["sh".into(), "-c".into(), script.into()]
    }

    /// A job whose worker leaves the process group (`setsid`) and whose main process
    /// then exits: the worker is still found by its run id, and stopped.
    #[test]
    fn a_worker_that_called_setsid_is_found_and_stopped() {
        become_subreaper().unwrap();
        let dir = std::env::temp_dir().join(format!("gpufault-proc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pidfile = dir.join("worker.pid");
        let script = format!(
            "setsid sh -c 'echo $$ > {p}; trap \"\" TERM; while :; do sleep 0.05; done' & sleep 60",
            p = pidfile.display()
        );
        let mut job = Job::spawn(&sh(&script), &[], "test-run-setsid").unwrap();
        let worker = loop {
            if let Ok(s) = std::fs::read_to_string(&pidfile) {
                if let Ok(p) = s.trim().parse::<u32>() {
                    break p;
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let members: Vec<u32> = job.members().iter().map(|p| p.as_raw() as u32).collect();
        assert!(members.contains(&worker), "{members:?} lacks {worker}");
        assert!(members.contains(&job.pid()));
        // the worker ignores SIGTERM: it must be killed after the grace period
        let stop = job.stop(Duration::from_millis(300));
        assert!(stop.killed.contains(&worker), "{stop:?}");
        assert!(!alive(worker), "the setsid worker survived");
        assert!(job.members().is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_job_that_exits_on_sigterm_stops_within_the_grace_period() {
        let mut job = Job::spawn(
            &sh("trap 'exit 143' TERM; while :; do sleep 0.05; done"),
            &[],
            "test-run-term",
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let stop = job.stop(Duration::from_secs(5));
        assert!(stop.killed.is_empty(), "{stop:?}");
        assert_eq!(job.try_wait().unwrap().and_then(|s| s.code()), Some(143));
    }
}
