//! The guard's event log: one JSON object per line ([`reports::guard::GuardEventLine`]),
//! written and flushed as each thing happens.

use reports::guard::{GuardEvent, GuardEventLine};
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// Where events go.
pub struct EventLog {
    out: Box<dyn Write + Send>,
    /// Every event written, in order (the guard's own record, for its summary).
    pub lines: Vec<GuardEventLine>,
}

impl EventLog {
    /// A log that writes to `out`.
    pub fn new(out: Box<dyn Write + Send>) -> EventLog {
        EventLog {
            out,
            lines: Vec::new(),
        }
    }

    /// Writes `event` with the current time. A log that cannot be written loses the
    /// line, not the guard: the job is more important than its log.
    pub fn emit(&mut self, event: GuardEvent) {
        let now = SystemTime::now();
        let line = GuardEventLine {
            t: injector::rfc3339(now),
            unix: now
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or_default(),
            event,
        };
        if let Ok(text) = serde_json::to_string(&line) {
            let _ = writeln!(self.out, "{text}");
            let _ = self.out.flush();
        }
        self.lines.push(line);
    }
}
