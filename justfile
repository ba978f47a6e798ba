# zab developer recipes. `just check` is the same gate as CI (read-only); `just fix` rewrites files.

default: check

# The CI gate: formatting, lints, every test.
check:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    cargo test --workspace

# Rewrite formatting and apply clippy's machine-applicable fixes.
fix:
    cargo fmt --all
    cargo clippy --workspace --all-targets --fix --allow-dirty --allow-staged

# Run a standalone server on 127.0.0.1:2181 with ./zab-data.
run:
    cargo run --release -p zab-net --bin zab -- server
