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

# The long soak of the real binary (needs root, iproute2, nftables): three servers in their own
# network namespaces under pipelined load from 16 sessions, `quiet` seconds in which nothing may
# go wrong, then every fault in turn (kill -9, SIGSTOP, partitions, slow disk), each measured;
# no acknowledged write may be lost. More options: the top of tests/src/bin/zab-soak.rs.
soak quiet="600" faults="all":
    cargo build --release -p zab-net --bin zab -p zab-tests --bin zab-soak
    target/release/zab-soak --quiet {{quiet}} --faults {{faults}}

# Run a standalone server on 127.0.0.1:2181 with ./zab-data.
run:
    cargo run --release -p zab-net --bin zab -- server

# Start a three-server ensemble on 127.0.0.1 (clients 2181-2183) with data in ./zab-ensemble.
ensemble:
    #!/usr/bin/env bash
    set -euo pipefail
    cargo build --release -p zab-net --bin zab
    for i in 1 2 3; do
        dir="$PWD/zab-ensemble/$i"
        mkdir -p "$dir/data"
        echo "$i" > "$dir/data/myid"
        {
            echo "tickTime=2000"
            echo "initLimit=10"
            echo "syncLimit=5"
            echo "dataDir=$dir/data"
            echo "clientPortAddress=127.0.0.1"
            echo "4lw.commands.whitelist=*"
            echo "admin.serverAddress=127.0.0.1"
            echo "admin.serverPort=$((8080 + i))"
            for j in 1 2 3; do
                echo "server.$j=127.0.0.1:$((2887 + j)):$((3887 + j));$((2180 + j))"
            done
        } > "$dir/zoo.cfg"
        nohup ./target/release/zab server --config "$dir/zoo.cfg" > "$dir/server.log" 2>&1 &
        echo $! > "$dir/pid"
        echo "server.$i: pid $(cat "$dir/pid"), client port $((2180 + i)), log $dir/server.log"
    done
    echo "check: echo srvr | nc 127.0.0.1 2181; stop: just ensemble-stop"

# Stop the servers started by `just ensemble`.
ensemble-stop:
    #!/usr/bin/env bash
    for i in 1 2 3; do
        pidfile="$PWD/zab-ensemble/$i/pid"
        if [ -f "$pidfile" ]; then
            kill "$(cat "$pidfile")" 2>/dev/null && echo "stopped server.$i (pid $(cat "$pidfile"))"
            rm -f "$pidfile"
        fi
    done

# Replay one simulation seed with its trace (tier 1), e.g. `just sim 9406`.
sim seed:
    cargo run --release -q -p zab-scenarios --bin zab-sim -- --seed {{seed}} --trace

# Runs `seeds` seeds of the 3- and the 5-server ensemble from `first`, then `checked` seeds of
# each twice (MADSIM_TEST_CHECK_DETERMINISM); replay lines go to target/sim-failures.txt, and
# any failing seed not in tests/tests/sim_e2e/known-failing-seeds.txt fails it.
# Tier 2: the real server code under madsim (built with --cfg madsim in target/madsim).
sim-e2e seeds="40" first="1" checked="2":
    bash .ci/sim-e2e run {{seeds}} {{first}} {{checked}}

# Passes only if the tier catches it, i.e. at least one seed fails.
# Tier 2 against each deliberately broken runtime (replies before their fsync; quorum links
# that close 10 s after they were accepted).
sim-e2e-broken seeds="60" first="1" links="5":
    bash .ci/sim-e2e broken {{seeds}} {{first}} {{links}}

# zab against Apache ZooKeeper 3.8 (the Debian package), one after the other on the same ports
# and zoo.cfg: every workload at pipeline 1 and 8, standalone and 3 servers, then the 1M-znode
# rows; prints the table and writes it to target/bench.md. Takes the machine's CPU for about
# 20 minutes. Options (e.g. `just bench --znodes 100000 --seconds 2`): top of bench/src/main.rs.
bench *args:
    cargo build --release -p zab-net --bin zab -p zab-bench
    nice -n 5 target/release/zab-bench --markdown target/bench.md {{args}}

# The same in a minute or two: 10,000 znodes, 1 s per row.
bench-quick:
    just bench --znodes 10000 --warmup 0.5 --seconds 1
