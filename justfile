# Recipes mirror CI (.ci/run → scripts/test).

default:
    @just --list

# Run the service with config/default.toml (extra arguments go to scaivault).
run *ARGS:
    cargo run --release -p scaivault -- {{ARGS}}

# Everything CI runs: peers, fmt check, clippy, tests (arguments go to cargo nextest run).
test *ARGS:
    scripts/test {{ARGS}}

# Side-by-side benchmarks against lego arrive with issue 9.
bench:
    @echo "no benchmarks yet: they arrive with issue 9" >&2
    @exit 1

lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

fmt:
    cargo fmt --all
