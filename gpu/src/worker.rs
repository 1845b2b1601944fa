//! Devices in a child process: a hung or faulted CUDA context cannot be recovered
//! in-process, so the campaign runner runs kernels through a [`WorkerDevice`], whose
//! child process owns the device and is killed and replaced when a request misses its
//! deadline, the child dies, or its device reports itself poisoned.
//!
//! Protocol: the parent writes requests to the child's stdin and reads responses from
//! its stdout, strictly one response per request. Each message is a frame:
//!
//! ```text
//! u32 LE  header length    header: JSON of a Request or Response
//! u64 LE  payload length   payload: raw bytes (buffer and global contents), may be empty
//! ```
//!
//! The child first sends `Ready` (or `Failed` when it could not open its device), then
//! answers requests until its stdin closes or it receives `Exit`. It moves its stdout to
//! a private descriptor and points file descriptor 1 at stderr, so stray prints of a
//! driver cannot corrupt the protocol.

use crate::device::{
    Buffer, Device, GpuError, HangKind, KernelArg, LaunchConfig, LaunchStats, Limits, ModuleHandle,
};
use crate::node::{FaultHook, ModuleTransform};
use crate::spec::DeviceSpec;
use reports::exit::WorkerExit;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Largest header accepted (a module's PTX text travels in one).
const MAX_HEADER: u32 = 256 << 20;
/// How much of a child's stderr is kept for error messages.
const STDERR_TAIL: usize = 4096;

/// A kernel argument on the wire: floats as their bits, so NaN and infinities survive
/// JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum WireArg {
    U8(u8),
    U16(u16),
    U32(u32),
    U64(u64),
    I32(i32),
    I64(i64),
    F32Bits(u32),
    F64Bits(u64),
    Ptr(u64),
    Bytes(Vec<u8>),
}

impl From<&KernelArg> for WireArg {
    fn from(a: &KernelArg) -> Self {
        match *a {
            KernelArg::U8(v) => WireArg::U8(v),
            KernelArg::U16(v) => WireArg::U16(v),
            KernelArg::U32(v) => WireArg::U32(v),
            KernelArg::U64(v) => WireArg::U64(v),
            KernelArg::I32(v) => WireArg::I32(v),
            KernelArg::I64(v) => WireArg::I64(v),
            KernelArg::F32(v) => WireArg::F32Bits(v.to_bits()),
            KernelArg::F64(v) => WireArg::F64Bits(v.to_bits()),
            KernelArg::Ptr(p) => WireArg::Ptr(p),
            KernelArg::Bytes(ref b) => WireArg::Bytes(b.clone()),
        }
    }
}

impl From<WireArg> for KernelArg {
    fn from(a: WireArg) -> Self {
        match a {
            WireArg::U8(v) => KernelArg::U8(v),
            WireArg::U16(v) => KernelArg::U16(v),
            WireArg::U32(v) => KernelArg::U32(v),
            WireArg::U64(v) => KernelArg::U64(v),
            WireArg::I32(v) => KernelArg::I32(v),
            WireArg::I64(v) => KernelArg::I64(v),
            WireArg::F32Bits(v) => KernelArg::F32(f32::from_bits(v)),
            WireArg::F64Bits(v) => KernelArg::F64(f64::from_bits(v)),
            WireArg::Ptr(p) => KernelArg::Ptr(p),
            WireArg::Bytes(b) => KernelArg::Bytes(b),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Request {
    Load {
        ptx: String,
    },
    Alloc {
        len: usize,
    },
    Free {
        buf: Buffer,
    },
    /// Payload: the bytes.
    Write {
        buf: Buffer,
    },
    Read {
        buf: Buffer,
        len: usize,
    },
    /// Payload: the bytes.
    WriteGlobal {
        module: ModuleHandle,
        name: String,
    },
    ReadGlobal {
        module: ModuleHandle,
        name: String,
        len: usize,
    },
    Launch {
        module: ModuleHandle,
        kernel: String,
        config: LaunchConfig,
        args: Vec<WireArg>,
    },
    SetLimits {
        limits: Limits,
    },
    Exit,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Response {
    Ready {
        name: String,
    },
    Module {
        handle: ModuleHandle,
    },
    Buffer {
        buf: Buffer,
    },
    Done,
    /// Payload: the bytes read.
    Data,
    Launched {
        stats: LaunchStats,
    },
    Failed {
        error: GpuError,
        poisoned: bool,
    },
}

fn write_frame(w: &mut impl Write, header: &impl Serialize, payload: &[u8]) -> io::Result<()> {
    let h = serde_json::to_vec(header).map_err(io::Error::other)?;
    let len = u32::try_from(h.len())
        .ok()
        .filter(|&l| l <= MAX_HEADER)
        .ok_or_else(|| io::Error::other("frame header too large"))?;
    w.write_all(&len.to_le_bytes())?;
    w.write_all(&h)?;
    w.write_all(&(payload.len() as u64).to_le_bytes())?;
    w.write_all(payload)?;
    w.flush()
}

/// Reads one frame; `None` on a clean end of stream before a frame starts.
fn read_frame<T: DeserializeOwned>(r: &mut impl Read) -> io::Result<Option<(T, Vec<u8>)>> {
    let mut len = [0u8; 4];
    match r.read(&mut len[..1])? {
        0 => return Ok(None),
        _ => r.read_exact(&mut len[1..])?,
    }
    let len = u32::from_le_bytes(len);
    if len > MAX_HEADER {
        return Err(io::Error::other(format!("frame header of {len} bytes")));
    }
    let mut h = vec![0u8; len as usize];
    r.read_exact(&mut h)?;
    let mut plen = [0u8; 8];
    r.read_exact(&mut plen)?;
    let plen = usize::try_from(u64::from_le_bytes(plen))
        .map_err(|_| io::Error::other("frame payload too large"))?;
    let mut payload = Vec::new();
    r.take(plen as u64).read_to_end(&mut payload)?;
    if payload.len() != plen {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    let header = serde_json::from_slice(&h).map_err(io::Error::other)?;
    Ok(Some((header, payload)))
}

fn failed(device: &dyn Device, error: GpuError) -> Response {
    Response::Failed {
        error,
        poisoned: device.poisoned(),
    }
}

/// Answers one request on `device`.
fn handle(device: &mut dyn Device, req: Request, payload: Vec<u8>) -> (Response, Vec<u8>) {
    let r = match req {
        Request::Load { ptx } => device.load(&ptx).map(|handle| Response::Module { handle }),
        Request::Alloc { len } => device.alloc(len).map(|buf| Response::Buffer { buf }),
        Request::Free { buf } => device.free(buf).map(|()| Response::Done),
        Request::Write { buf } => device.write(buf, &payload).map(|()| Response::Done),
        Request::Read { buf, len } => {
            let mut out = vec![0u8; len];
            return match device.read(buf, &mut out) {
                Ok(()) => (Response::Data, out),
                Err(e) => (failed(device, e), Vec::new()),
            };
        }
        Request::WriteGlobal { module, name } => device
            .write_global(module, &name, &payload)
            .map(|()| Response::Done),
        Request::ReadGlobal { module, name, len } => {
            let mut out = vec![0u8; len];
            return match device.read_global(module, &name, &mut out) {
                Ok(()) => (Response::Data, out),
                Err(e) => (failed(device, e), Vec::new()),
            };
        }
        Request::Launch {
            module,
            kernel,
            config,
            args,
        } => {
            let args: Vec<KernelArg> = args.into_iter().map(KernelArg::from).collect();
            device
                .launch(module, &kernel, &config, &args)
                .map(|stats| Response::Launched { stats })
        }
        Request::SetLimits { limits } => {
            device.set_limits(limits);
            Ok(Response::Done)
        }
        Request::Exit => Ok(Response::Done),
    };
    match r {
        Ok(resp) => (resp, Vec::new()),
        Err(e) => (failed(device, e), Vec::new()),
    }
}

/// The child side: announces `device` and answers requests from `input` on `output`
/// until `input` ends or an `Exit` request arrives.
fn serve(device: &mut dyn Device, input: impl Read, output: impl Write) -> io::Result<()> {
    let mut input = BufReader::new(input);
    let mut output = BufWriter::new(output);
    write_frame(
        &mut output,
        &Response::Ready {
            name: device.name().to_string(),
        },
        &[],
    )?;
    while let Some((req, payload)) = read_frame::<Request>(&mut input)? {
        let exit = req == Request::Exit;
        let (resp, data) = handle(device, req, payload);
        write_frame(&mut output, &resp, &data)?;
        if exit {
            break;
        }
    }
    Ok(())
}

/// Moves the process's stdout to a new descriptor for the protocol and points
/// descriptor 1 at stderr. (Workers are Unix-only: the request channel is a Unix socket.)
fn protocol_stdout() -> io::Result<std::fs::File> {
    let protocol = nix::unistd::dup(io::stdout())?;
    nix::unistd::dup2_stdout(io::stderr())?;
    Ok(std::fs::File::from(protocol))
}

/// Exit status of a worker whose device could not be opened
/// (`reports::exit::WorkerExit::Unavailable`).
pub const WORKER_EXIT_UNAVAILABLE: u8 = WorkerExit::Unavailable.code();
/// Exit status of a worker whose protocol stream broke
/// (`reports::exit::WorkerExit::Protocol`).
pub const WORKER_EXIT_PROTOCOL: u8 = WorkerExit::Protocol.code();

/// The child side of a worker, on stdin/stdout: opens `spec` (a single device; `auto`
/// is resolved) and serves requests until the parent closes stdin. Returns the process
/// exit status: 0, [`WORKER_EXIT_UNAVAILABLE`] or [`WORKER_EXIT_PROTOCOL`].
///
/// This is what `gpufault __worker --device SPEC` runs.
pub fn serve_worker(spec: &DeviceSpec) -> u8 {
    let mut out = match protocol_stdout() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("gpufault worker: cannot set up its protocol stream: {e}");
            return WORKER_EXIT_PROTOCOL;
        }
    };
    let mut device = match crate::Platform::new().open(spec) {
        Ok(d) => d,
        Err(error) => {
            let _ = write_frame(
                &mut out,
                &Response::Failed {
                    error,
                    poisoned: false,
                },
                &[],
            );
            return WORKER_EXIT_UNAVAILABLE;
        }
    };
    match serve(&mut device, io::stdin().lock(), out) {
        Ok(()) => WorkerExit::Done.code(),
        Err(e) => {
            eprintln!("gpufault worker: protocol stream to the parent broke: {e}");
            WORKER_EXIT_PROTOCOL
        }
    }
}

/// The program a [`WorkerDevice`] starts: `program args… --device SPEC`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerCommand {
    /// The executable.
    pub program: PathBuf,
    /// Arguments before `--device SPEC`.
    pub args: Vec<OsString>,
}

impl WorkerCommand {
    /// `program args… --device SPEC`.
    pub fn new(program: impl Into<PathBuf>, args: &[&str]) -> WorkerCommand {
        WorkerCommand {
            program: program.into(),
            args: args.iter().map(OsString::from).collect(),
        }
    }

    /// The running `gpufault` binary's hidden subcommand: `gpufault __worker`.
    pub fn gpufault_self() -> Result<WorkerCommand, GpuError> {
        let exe = std::env::current_exe().map_err(|e| GpuError::Unavailable {
            detail: format!("cannot find the running executable to start a worker: {e}"),
        })?;
        Ok(WorkerCommand::new(exe, &["__worker"]))
    }
}

/// Deadlines of a [`WorkerDevice`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerOptions {
    /// Deadline of every request but launches with a wall limit: starting the child,
    /// loading (JIT-compiling) a module, copies, launches without [`Limits::wall`].
    pub request_timeout: Duration,
    /// Added to [`Limits::wall`] for the parent's own deadline of a launch, so the
    /// child's device can report the hang itself first.
    pub launch_grace: Duration,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            request_timeout: Duration::from_secs(120),
            launch_grace: Duration::from_secs(2),
        }
    }
}

/// A running child process.
struct Proc {
    child: Child,
    requests: std::os::unix::net::UnixStream,
    responses: Receiver<io::Result<(Response, Vec<u8>)>>,
    stderr: Arc<Mutex<VecDeque<u8>>>,
}

enum Failure {
    Timeout,
    Died(String),
}

impl Proc {
    fn spawn(cmd: &WorkerCommand, spec: &DeviceSpec) -> Result<Proc, GpuError> {
        // A socket, not a pipe, carries the requests: writing to a dead child then fails
        // with EPIPE instead of raising SIGPIPE in the parent.
        let (ours, theirs) =
            std::os::unix::net::UnixStream::pair().map_err(|e| GpuError::Unavailable {
                detail: format!("cannot create the worker's request channel: {e}"),
            })?;
        // Its own process group: a terminal's Ctrl-C (SIGINT to the foreground group)
        // reaches the parent only, which stops after the injections in flight; a worker
        // killed by it mid-launch would turn its injection into a false crash. A worker
        // whose parent dies reads end-of-file on its request channel and exits.
        let mut child = Command::new(&cmd.program)
            .process_group(0)
            .args(&cmd.args)
            .arg("--device")
            .arg(spec.to_string())
            .stdin(Stdio::from(std::os::fd::OwnedFd::from(theirs)))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| GpuError::Unavailable {
                detail: format!(
                    "cannot start worker {} for {spec}: {e}",
                    cmd.program.display()
                ),
            })?;
        let mut stdout = child.stdout.take().expect("piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || loop {
            let frame = read_frame::<Response>(&mut stdout);
            let end = !matches!(frame, Ok(Some(_)));
            let msg = match frame {
                Ok(Some(f)) => Ok(f),
                Ok(None) => Err(io::ErrorKind::UnexpectedEof.into()),
                Err(e) => Err(e),
            };
            if tx.send(msg).is_err() || end {
                return;
            }
        });
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        let tail = Arc::clone(&stderr_tail);
        let mut stderr = child.stderr.take().expect("piped");
        std::thread::spawn(move || {
            let mut buf = [0u8; 1024];
            while let Ok(n @ 1..) = stderr.read(&mut buf) {
                let mut t = tail.lock().unwrap_or_else(|p| p.into_inner());
                t.extend(&buf[..n]);
                let excess = t.len().saturating_sub(STDERR_TAIL);
                t.drain(..excess);
            }
        });
        Ok(Proc {
            child,
            requests: ours,
            responses: rx,
            stderr: stderr_tail,
        })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn exchange(
        &mut self,
        req: &Request,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<(Response, Vec<u8>), Failure> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Err(Failure::Died(self.death(Some(status))));
        }
        if let Err(e) = write_frame(&mut self.requests, req, payload) {
            return Err(Failure::Died(format!("{e}; {}", self.death(None))));
        }
        self.receive(timeout)
    }

    fn receive(&mut self, timeout: Duration) -> Result<(Response, Vec<u8>), Failure> {
        match self.responses.recv_timeout(timeout) {
            Ok(Ok(frame)) => Ok(frame),
            Ok(Err(e)) => Err(Failure::Died(format!("{e}; {}", self.death(None)))),
            Err(RecvTimeoutError::Disconnected) => Err(Failure::Died(self.death(None))),
            Err(RecvTimeoutError::Timeout) => Err(Failure::Timeout),
        }
    }

    /// How the child ended (waiting briefly for it), with the tail of its stderr.
    fn death(&mut self, status: Option<std::process::ExitStatus>) -> String {
        let status = status.or_else(|| {
            let until = Instant::now() + Duration::from_secs(2);
            loop {
                match self.child.try_wait() {
                    Ok(Some(s)) => return Some(s),
                    Ok(None) if Instant::now() < until => {
                        std::thread::sleep(Duration::from_millis(5))
                    }
                    _ => return None,
                }
            }
        });
        let how = match status {
            Some(s) => describe_status(s),
            None => "its output stream broke".to_string(),
        };
        // Give the stderr reader a moment to take the last words.
        std::thread::sleep(Duration::from_millis(20));
        let mut tail = self.stderr.lock().unwrap_or_else(|p| p.into_inner());
        let text = String::from_utf8_lossy(tail.make_contiguous())
            .trim()
            .to_string();
        if text.is_empty() {
            format!("worker process {} {how}", self.child.id())
        } else {
            format!(
                "worker process {} {how}; its stderr ends: {text}",
                self.child.id()
            )
        }
    }

    /// Kills the child (SIGKILL) and reaps it without blocking for long: a process stuck
    /// in the driver may take a while to go.
    fn kill(mut self) {
        let _ = self.child.kill();
        let until = Instant::now() + Duration::from_secs(2);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::spawn(move || {
            let _ = self.child.wait();
        });
    }

    /// Asks the child to exit, then kills it if it does not.
    fn close(mut self) {
        let _ = write_frame(&mut self.requests, &Request::Exit, &[]);
        let _ = self.requests.shutdown(std::net::Shutdown::Write);
        let until = Instant::now() + Duration::from_millis(500);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        self.kill();
    }
}

fn describe_status(s: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (s.code(), s.signal()) {
        (Some(c), _) => format!("exited with status {c}"),
        (None, Some(9)) => "was killed (signal 9)".into(),
        (None, Some(sig)) => format!("died of signal {sig}"),
        (None, None) => format!("ended ({s})"),
    }
}

/// A [`Device`] served by a child process that owns the real device: a hung or faulted
/// CUDA context cannot be recovered in-process, so the campaign runner runs kernels
/// through a worker, whose child is killed and replaced instead.
///
/// The child is `COMMAND… --device SPEC` ([`WorkerCommand`]: `gpufault __worker` or the
/// crate's test binary `gpufault-gpu-worker`), running [`serve_worker`]. Requests go to
/// its stdin, responses come from its stdout, one response per request, each a frame:
/// `u32` LE header length, the header (JSON of the request or response), `u64` LE payload
/// length, the payload (buffer and global contents). The child first announces itself
/// (or the error that kept it from opening its device) and moves its stdout aside,
/// pointing descriptor 1 at stderr, so stray prints cannot corrupt the protocol.
///
/// The parent enforces a deadline on every request (`Limits::wall` plus
/// [`WorkerOptions::launch_grace`] for launches, [`WorkerOptions::request_timeout`]
/// otherwise). When a request misses it, the child dies, or the child's device reports
/// itself poisoned (a sticky CUDA error), the child is killed and replaced: the new one
/// loads every module loaded so far again (handles stay valid, globals return to their
/// initial values) and gets the current limits. Buffers do not survive a replacement:
/// allocate and fill them again after a `Hang` or a fault.
///
/// Outcomes: a launch past its deadline is [`GpuError::Hang`]; a child that dies during a
/// launch is [`GpuError::LaunchFailed`], during anything else [`GpuError::Driver`]; the
/// child device's own errors pass through unchanged.
pub struct WorkerDevice {
    name: String,
    spec: DeviceSpec,
    command: WorkerCommand,
    options: WorkerOptions,
    proc: Option<Proc>,
    /// PTX as loaded (after the transform) and its handle in the current child.
    modules: Vec<(String, Option<ModuleHandle>)>,
    limits: Limits,
    /// A faulty virtual GPU's fault: how modules are transformed, when it arrives.
    fault: Option<FaultHook>,
    /// Children started successfully (the first one and its replacements).
    starts: u64,
    /// The child was replaced since the last launch began: buffers allocated before
    /// are gone ([`Device::poisoned`] says so).
    replaced: bool,
}

impl WorkerDevice {
    /// Starts `command … --device SPEC` and waits for it to open the device. `spec` must
    /// name one device; `auto` is resolved here, so parent and child agree on it.
    pub fn spawn(
        spec: &DeviceSpec,
        command: WorkerCommand,
        options: WorkerOptions,
    ) -> Result<WorkerDevice, GpuError> {
        let spec = &crate::Platform::new().resolve(spec);
        if spec.is_node() {
            return Err(GpuError::Invalid {
                detail: format!("{spec} names a node; a worker serves one GPU of it"),
            });
        }
        let mut w = WorkerDevice {
            name: spec.to_string(),
            spec: spec.clone(),
            command,
            options,
            proc: None,
            modules: Vec::new(),
            limits: Limits::default(),
            fault: None,
            starts: 0,
            replaced: false,
        };
        w.start()?;
        Ok(w)
    }

    /// Routes every module this device loads through `transform` (a faulty virtual GPU).
    pub fn with_transform(mut self, transform: Arc<dyn ModuleTransform>) -> Self {
        self.fault = Some(FaultHook::new(transform, None));
        self
    }

    /// Loads every module as `transform`'s dormant form and arms it before every launch
    /// at or after `arrives_at` (Unix time in seconds): a virtual GPU whose fault arrives
    /// later ([`Transformed::arriving`](crate::Transformed::arriving) in-process).
    pub fn with_arriving_transform(
        mut self,
        transform: Arc<dyn ModuleTransform>,
        arrives_at: f64,
    ) -> Self {
        self.fault = Some(FaultHook::new(transform, Some(arrives_at)));
        self
    }

    /// How many times the child process was replaced (by a child that started).
    pub fn replacements(&self) -> u64 {
        self.starts.saturating_sub(1)
    }

    /// The process id of the current child, if one runs.
    pub fn pid(&self) -> Option<u32> {
        self.proc.as_ref().map(Proc::pid)
    }

    /// Starts a child, waits for `Ready`, loads the known modules and sets the limits.
    fn start(&mut self) -> Result<(), GpuError> {
        let mut p = Proc::spawn(&self.command, &self.spec)?;
        let timeout = self.options.request_timeout;
        match p.receive(timeout) {
            Ok((Response::Ready { .. }, _)) => {}
            Ok((Response::Failed { error, .. }, _)) => {
                p.kill();
                return Err(error);
            }
            Ok((other, _)) => {
                p.kill();
                return Err(GpuError::Driver {
                    detail: format!(
                        "worker for {} answered {other:?} instead of Ready",
                        self.name
                    ),
                });
            }
            Err(Failure::Timeout) => {
                p.kill();
                return Err(GpuError::Unavailable {
                    detail: format!(
                        "worker for {} did not open its device within {timeout:?}",
                        self.name
                    ),
                });
            }
            Err(Failure::Died(how)) => {
                return Err(GpuError::Unavailable {
                    detail: format!("worker for {} failed to start: {how}", self.name),
                })
            }
        }
        let restore = |p: &mut Proc, req: &Request| {
            let what = match req {
                Request::Load { .. } => "a module reload",
                _ => "the limits",
            };
            match p.exchange(req, &[], timeout) {
                Ok((Response::Failed { error, .. }, _)) => Err(error),
                Ok((resp, _)) => Ok(resp),
                Err(Failure::Timeout) => Err(GpuError::Driver {
                    detail: format!("the new worker did not answer {what} within {timeout:?}"),
                }),
                Err(Failure::Died(how)) => Err(GpuError::Driver {
                    detail: format!("the new worker died during {what}: {how}"),
                }),
            }
        };
        let result = (|| {
            if self.limits != Limits::default() {
                restore(
                    &mut p,
                    &Request::SetLimits {
                        limits: self.limits,
                    },
                )?;
            }
            for (ptx, handle) in &mut self.modules {
                *handle = None;
                if let Response::Module { handle: h } =
                    restore(&mut p, &Request::Load { ptx: ptx.clone() })?
                {
                    *handle = Some(h);
                }
            }
            Ok(())
        })();
        match result {
            Ok(()) => {
                self.proc = Some(p);
                self.starts += 1;
                Ok(())
            }
            Err(e) => {
                p.kill();
                Err(e)
            }
        }
    }

    /// Kills the current child (if any) and starts a new one; a failure to start leaves
    /// no child, and the next request tries again.
    fn replace(&mut self) {
        self.replaced = true;
        if let Some(p) = self.proc.take() {
            p.kill();
        }
        let _ = self.start();
    }

    /// One request with the deadline, the outcome mapping and the replacement rules.
    fn call(
        &mut self,
        req: Request,
        payload: &[u8],
        what: &str,
    ) -> Result<(Response, Vec<u8>), GpuError> {
        if self.proc.is_none() {
            self.start()?;
        }
        let is_launch = matches!(req, Request::Launch { .. });
        let (timeout, limit_text) = match (is_launch, self.limits.wall) {
            (true, Some(wall)) => (
                wall + self.options.launch_grace,
                format!("{wall:?} (+{:?} grace)", self.options.launch_grace),
            ),
            _ => (
                self.options.request_timeout,
                format!("{:?}", self.options.request_timeout),
            ),
        };
        let p = self.proc.as_mut().expect("started above");
        let pid = p.pid();
        match p.exchange(&req, payload, timeout) {
            Ok((Response::Failed { error, poisoned }, _)) => {
                if poisoned {
                    self.replace();
                }
                Err(error)
            }
            Ok(frame) => Ok(frame),
            Err(Failure::Timeout) => {
                self.replace();
                let detail = format!(
                    "{what} on {} did not finish within {limit_text}; worker process {pid} killed and replaced",
                    self.name
                );
                Err(if is_launch {
                    GpuError::Hang {
                        kind: HangKind::Deadline,
                        detail,
                    }
                } else {
                    GpuError::Driver { detail }
                })
            }
            Err(Failure::Died(how)) => {
                self.replace();
                let detail = format!("{how} during {what} on {}; replaced", self.name);
                Err(if is_launch {
                    GpuError::LaunchFailed { detail }
                } else {
                    GpuError::Driver { detail }
                })
            }
        }
    }

    fn child_module(&self, m: ModuleHandle) -> Result<ModuleHandle, GpuError> {
        match self.modules.get(m.0 as usize) {
            Some((_, Some(h))) => Ok(*h),
            Some((_, None)) => Err(GpuError::Driver {
                detail: format!(
                    "module {} could not be loaded again after the worker of {} was replaced",
                    m.0, self.name
                ),
            }),
            None => Err(GpuError::Invalid {
                detail: format!("no module {} on {}", m.0, self.name),
            }),
        }
    }
}

fn unexpected(what: &str, resp: Response) -> GpuError {
    GpuError::Driver {
        detail: format!("worker answered {what} with {resp:?}"),
    }
}

impl Device for WorkerDevice {
    fn name(&self) -> &str {
        &self.name
    }

    fn load(&mut self, ptx: &str) -> Result<ModuleHandle, GpuError> {
        let (text, arm) = match &self.fault {
            Some(f) => f.prepare(&self.name, ptx)?,
            None => (ptx.to_string(), Vec::new()),
        };
        match self.call(Request::Load { ptx: text.clone() }, &[], "module load")? {
            (Response::Module { handle }, _) => {
                self.modules.push((text, Some(handle)));
                let m = ModuleHandle(self.modules.len() as u32 - 1);
                if let Some(f) = &mut self.fault {
                    f.loaded(m, arm);
                }
                Ok(m)
            }
            (r, _) => Err(unexpected("load", r)),
        }
    }

    fn alloc(&mut self, len: usize) -> Result<Buffer, GpuError> {
        match self.call(Request::Alloc { len }, &[], "alloc")? {
            (Response::Buffer { buf }, _) => Ok(buf),
            (r, _) => Err(unexpected("alloc", r)),
        }
    }

    fn free(&mut self, buf: Buffer) -> Result<(), GpuError> {
        match self.call(Request::Free { buf }, &[], "free")? {
            (Response::Done, _) => Ok(()),
            (r, _) => Err(unexpected("free", r)),
        }
    }

    fn write(&mut self, buf: Buffer, data: &[u8]) -> Result<(), GpuError> {
        match self.call(Request::Write { buf }, data, "write")? {
            (Response::Done, _) => Ok(()),
            (r, _) => Err(unexpected("write", r)),
        }
    }

    fn read(&mut self, buf: Buffer, out: &mut [u8]) -> Result<(), GpuError> {
        let req = Request::Read {
            buf,
            len: out.len(),
        };
        match self.call(req, &[], "read")? {
            (Response::Data, data) if data.len() == out.len() => {
                out.copy_from_slice(&data);
                Ok(())
            }
            (r, _) => Err(unexpected("read", r)),
        }
    }

    fn write_global(&mut self, m: ModuleHandle, name: &str, data: &[u8]) -> Result<(), GpuError> {
        let module = self.child_module(m)?;
        let req = Request::WriteGlobal {
            module,
            name: name.to_string(),
        };
        match self.call(req, data, "global write")? {
            (Response::Done, _) => Ok(()),
            (r, _) => Err(unexpected("global write", r)),
        }
    }

    fn read_global(&mut self, m: ModuleHandle, name: &str, out: &mut [u8]) -> Result<(), GpuError> {
        let module = self.child_module(m)?;
        let req = Request::ReadGlobal {
            module,
            name: name.to_string(),
            len: out.len(),
        };
        match self.call(req, &[], "global read")? {
            (Response::Data, data) if data.len() == out.len() => {
                out.copy_from_slice(&data);
                Ok(())
            }
            (r, _) => Err(unexpected("global read", r)),
        }
    }

    fn launch(
        &mut self,
        m: ModuleHandle,
        kernel: &str,
        cfg: &LaunchConfig,
        args: &[KernelArg],
    ) -> Result<LaunchStats, GpuError> {
        let arm = self
            .fault
            .as_ref()
            .and_then(|f| f.due(m))
            .map(<[_]>::to_vec);
        for (name, bytes) in arm.iter().flatten() {
            self.write_global(m, name, bytes)?;
        }
        self.replaced = false;
        let module = self.child_module(m)?;
        let req = Request::Launch {
            module,
            kernel: kernel.to_string(),
            config: *cfg,
            args: args.iter().map(WireArg::from).collect(),
        };
        match self.call(req, &[], &format!("launch of `{kernel}`"))? {
            (Response::Launched { stats }, _) => Ok(stats),
            (r, _) => Err(unexpected("launch", r)),
        }
    }

    fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
        // A child that cannot take the limits now gets them when it is replaced (which
        // `call` has then done).
        let _ = self.call(Request::SetLimits { limits }, &[], "set limits");
    }

    /// True when the child was killed and replaced since the last launch began (a hang
    /// past the deadline, a dead or poisoned child): the device works again, but every
    /// buffer allocated before is gone, so what the failed launch wrote cannot be read.
    fn poisoned(&self) -> bool {
        self.replaced
    }
}

impl Drop for WorkerDevice {
    fn drop(&mut self) {
        if let Some(p) = self.proc.take() {
            p.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_headers_and_payloads() {
        let mut wire = Vec::new();
        let req = Request::Launch {
            module: ModuleHandle(2),
            kernel: "k".into(),
            config: LaunchConfig::linear(3, 64),
            args: vec![
                (&KernelArg::F32(f32::NAN)).into(),
                (&KernelArg::F64(f64::NEG_INFINITY)).into(),
                (&KernelArg::I32(-5)).into(),
                (&KernelArg::Bytes(vec![1, 2, 255])).into(),
                (&KernelArg::Ptr(1 << 40)).into(),
            ],
        };
        write_frame(&mut wire, &req, b"payload").unwrap();
        write_frame(&mut wire, &Request::Exit, &[]).unwrap();
        let mut r = &wire[..];
        let (got, payload) = read_frame::<Request>(&mut r).unwrap().unwrap();
        assert_eq!(payload, b"payload");
        let Request::Launch { args, .. } = &got else {
            panic!("{got:?}")
        };
        let args: Vec<KernelArg> = args.iter().cloned().map(KernelArg::from).collect();
        assert!(matches!(args[0], KernelArg::F32(x) if x.is_nan()));
        assert_eq!(args[1], KernelArg::F64(f64::NEG_INFINITY));
        assert_eq!(args[2], KernelArg::I32(-5));
        assert_eq!(args[3], KernelArg::Bytes(vec![1, 2, 255]));
        assert_eq!(args[4], KernelArg::Ptr(1 << 40));
        assert_eq!(
            read_frame::<Request>(&mut r).unwrap().unwrap().0,
            Request::Exit
        );
        assert!(
            read_frame::<Request>(&mut r).unwrap().is_none(),
            "clean end"
        );
    }

    #[test]
    fn a_truncated_frame_is_an_error_not_an_end() {
        let mut wire = Vec::new();
        write_frame(&mut wire, &Request::Alloc { len: 4 }, b"abc").unwrap();
        for cut in 1..wire.len() {
            let mut r = &wire[..cut];
            assert!(read_frame::<Request>(&mut r).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn errors_cross_the_wire_as_typed_values() {
        let mut wire = Vec::new();
        let resp = Response::Failed {
            error: GpuError::IllegalAddress {
                detail: "ld.global at 0x10".into(),
            },
            poisoned: true,
        };
        write_frame(&mut wire, &resp, &[]).unwrap();
        assert_eq!(
            read_frame::<Response>(&mut &wire[..]).unwrap().unwrap().0,
            resp
        );
    }
}
