//! The `zab` binary.

fn main() {
    eprintln!("zab: the server is not built yet; see README.md");
    std::process::exit(2);
}
