//! The test hook that ends a run at a numbered point, like a power cut: after a step
//! (`HAKIT_TEST_CRASH_AFTER_STEP`) or at a journal event (`HAKIT_TEST_CRASH_AT_EVENT`: each
//! intent persisted, each side effect about to be marked done). The real binary dies by
//! SIGKILL; in-process tests get an error and nothing more happens.

/// How the run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashMode {
    /// SIGKILL this process, after naming the point on stderr.
    Kill,
    /// Return an error (in-process tests with the fake host: no further side effect runs).
    Error,
}

/// The 1-based journal event at which the run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrashPoint {
    pub event: usize,
    pub mode: CrashMode,
}

/// The message printed (or returned) at a test crash; tests match on it.
pub const CRASH_MESSAGE: &str = "test crash: killed at";

impl CrashPoint {
    /// From `HAKIT_TEST_CRASH_AT_EVENT`, killing the process.
    pub fn from_env() -> Option<Self> {
        let event = std::env::var("HAKIT_TEST_CRASH_AT_EVENT")
            .ok()?
            .parse()
            .ok()?;
        Some(CrashPoint {
            event,
            mode: CrashMode::Kill,
        })
    }

    /// End the run at `point`.
    pub fn fire(self, point: &str) -> anyhow::Result<()> {
        match self.mode {
            CrashMode::Kill => kill(point),
            CrashMode::Error => anyhow::bail!("{CRASH_MESSAGE} {point}"),
        }
    }
}

/// Die like a power cut, with no cleanup, after saying where.
pub fn kill(point: &str) -> ! {
    errln!("{CRASH_MESSAGE} {point}");
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &std::process::id().to_string()])
        .status();
    std::process::abort();
}
