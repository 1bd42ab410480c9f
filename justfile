# Recipes mirror CI (.ci/run → scripts/test).

default:
    @just --list

# Run the service with config/default.toml (extra arguments go to scaivault).
run *ARGS:
    cargo run --release -p scaivault -- {{ARGS}}

# Everything CI runs: peers, fmt check, clippy, tests (arguments go to cargo nextest run).
test *ARGS:
    scripts/test {{ARGS}}

# Benchmarks (BENCHMARKS.md): latency and throughput beside lego, 100k certificates, wrk; --write updates it.
bench *ARGS:
    scripts/bench {{ARGS}}

lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

fmt:
    cargo fmt --all
