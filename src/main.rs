//! The `packer` command: parse, dispatch, print the error once, exit with a named code.

fn main() {
    std::process::exit(packer::cli::main());
}
