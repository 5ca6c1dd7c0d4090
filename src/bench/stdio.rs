//! Criterion's own chatter kept off the terminal: it prints each benchmark's analysis on
//! stdout and its warm-up lines on stderr, which would break `--json` (one JSON object on
//! stdout and nothing else) and the progress bar. While measuring, both descriptors point at a
//! log file; the run writes its own output through copies of the originals.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// While alive, stdout and stderr go to a log file.
pub struct Redirected {
    stdout: OwnedFd,
    stderr: OwnedFd,
}

fn duplicate(fd: i32) -> io::Result<OwnedFd> {
    // SAFETY: `dup` of a descriptor of this process; a negative result is an error.
    let copy = unsafe { libc::dup(fd) };
    if copy < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `copy` is a new descriptor nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(copy) })
}

fn point(target: i32, to: &impl AsRawFd) -> io::Result<()> {
    // SAFETY: `dup2` onto one of the standard descriptors, which stay open throughout.
    if unsafe { libc::dup2(to.as_raw_fd(), target) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

impl Redirected {
    /// Points stdout and stderr at `log`.
    pub fn to(log: &File) -> io::Result<Self> {
        let _ = io::stdout().flush();
        let _ = io::stderr().flush();
        let stdout = duplicate(libc::STDOUT_FILENO)?;
        let stderr = duplicate(libc::STDERR_FILENO)?;
        point(libc::STDOUT_FILENO, log)?;
        point(libc::STDERR_FILENO, log)?;
        Ok(Self { stdout, stderr })
    }

    /// The original stdout.
    pub fn stdout(&self) -> io::Result<File> {
        Ok(File::from(self.stdout.try_clone()?))
    }

    /// The original stderr.
    pub fn stderr(&self) -> io::Result<File> {
        Ok(File::from(self.stderr.try_clone()?))
    }
}

impl Drop for Redirected {
    fn drop(&mut self) {
        let _ = io::stdout().flush();
        let _ = io::stderr().flush();
        let _ = point(libc::STDOUT_FILENO, &self.stdout);
        let _ = point(libc::STDERR_FILENO, &self.stderr);
    }
}

/// Lowers this thread, and every thread it starts afterwards, to the lowest CPU priority:
/// nice 19 and Linux's `SCHED_IDLE` policy, which runs only when no other thread wants the
/// core. The Benchmarks pane's background run starts with it, so the live analysis it shares
/// the machine with is not slowed. Best effort: an error leaves the priority as it was.
pub fn lowest_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain system calls on the calling thread (0 = self); `param` outlives them.
        unsafe {
            libc::setpriority(libc::PRIO_PROCESS, 0, 19);
            let param = libc::sched_param { sched_priority: 0 };
            libc::sched_setscheduler(0, libc::SCHED_IDLE, &param);
        }
    }
}
