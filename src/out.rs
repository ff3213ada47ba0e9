//! Writing to stdout and stderr without dying when the reader went away.
//!
//! Rust's `println!` panics when the pipe it writes to is closed (`hakit setup | head`),
//! which would abort a setup half-way because its reader stopped reading. These macros
//! write the same text and drop write errors: output is a courtesy, the work (and the
//! journal that records it) is what matters, and the exit code still says how it went.

use std::io::Write;

/// Write `args` and a newline to `w`, ignoring a closed pipe or any other write error.
pub fn line(mut w: impl Write, args: std::fmt::Arguments) {
    let _ = w.write_fmt(args).and_then(|()| w.write_all(b"\n"));
}

/// Write `args` to `w` as they are, ignoring write errors.
pub fn text(mut w: impl Write, args: std::fmt::Arguments) {
    let _ = w.write_fmt(args).and_then(|()| w.flush());
}

/// `println!` that survives a closed stdout.
macro_rules! outln {
    ($($arg:tt)*) => { $crate::out::line(::std::io::stdout().lock(), format_args!($($arg)*)) };
}

/// `print!` that survives a closed stdout.
macro_rules! out {
    ($($arg:tt)*) => { $crate::out::text(::std::io::stdout().lock(), format_args!($($arg)*)) };
}

/// `eprintln!` that survives a closed stderr.
macro_rules! errln {
    ($($arg:tt)*) => { $crate::out::line(::std::io::stderr().lock(), format_args!($($arg)*)) };
}

#[cfg(test)]
mod tests {
    use std::io::{self, Write};

    /// A reader that went away: every write fails the way a closed pipe does.
    struct ClosedPipe;
    impl Write for ClosedPipe {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from(io::ErrorKind::BrokenPipe))
        }
        fn flush(&mut self) -> io::Result<()> {
            Err(io::Error::from(io::ErrorKind::BrokenPipe))
        }
    }

    #[test]
    fn a_closed_pipe_is_not_a_panic() {
        super::line(ClosedPipe, format_args!("step {} of {}", 1, 2));
        super::text(ClosedPipe, format_args!("plan"));
    }

    #[test]
    fn lines_are_written_whole_with_their_newline() {
        let mut buf = Vec::new();
        super::line(&mut buf, format_args!("a{}", 1));
        super::text(&mut buf, format_args!("b"));
        assert_eq!(buf, b"a1\nb");
    }
}
