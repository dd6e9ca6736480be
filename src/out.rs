//! Standard output that a reader may close (`packer list | head -1`).
//!
//! std's `println!` panics when stdout is a closed pipe. Every command writes its output
//! through [`outln!`] and [`out!`] instead, which return the `io::Error` so that it travels up
//! with `?` like any other; `cli::main` ends quietly, exit 0, on a broken pipe in the error
//! chain, as the tools that write to pipes do. One path, no panic hook.

/// `writeln!` to stdout, returning `io::Result<()>`.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}

/// `write!` to stdout, returning `io::Result<()>`.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout().lock(), $($arg)*)
    }};
}

pub(crate) use out;
pub(crate) use outln;
