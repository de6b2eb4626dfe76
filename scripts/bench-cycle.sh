#!/usr/bin/env bash
# The cost of one whole request/response cycle on a kept-alive connection, per scenario of
# benches/cycle.rs: callgrind instructions (Ir) per cycle, heap allocations per cycle and bytes
# allocated per cycle, in the steady state (after two warm-up cycles). Instruction and
# allocation counts repeat exactly on a busy machine, unlike wall time.
# Usage: scripts/bench-cycle.sh [scenario...]
#
# Ir: each scenario runs twice under callgrind, N1 and N2 cycles, collecting only inside
# `Driver::cycle` and not inside `socket_read` (a nested --toggle-collect switches collection
# off again): what the driver's read costs, the kernel's copy into the buffer and `reserve`,
# is left out. Per cycle = (Ir(N2) - Ir(N1)) / (N2 - N1), which cancels one-time costs.
# Allocations: counted natively by examples/cycle_cost.rs over N2 cycles, the reads included;
# allocs = alloc + realloc calls, bytes = what they asked for (a realloc: what it grew by).
# Per chunk (chunked-1mib): (Ir(chunked-1mib) - Ir(length-1mib)) / 64, both reading the same
# 1 MiB in 16 KiB reads, so what is left is the chunked framing: a size line and a CRLF per
# chunk, and the extra data piece where a chunk boundary splits a read.
set -euo pipefail
cd "$(dirname "$0")/.."

N1=${N1:-100}
N2=${N2:-500}
CHUNKS=64
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(small-get head20-1k length-1mib chunked-1mib)

# The bench profile is release with debug info: the same build `cargo bench` uses.
cargo build --quiet --profile bench -p ferry-proto --example cycle_cost
bin=target/release/examples/cycle_cost
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

collected() { # scenario cycles
    valgrind --tool=callgrind --callgrind-out-file="$out/$1.$2" \
        --toggle-collect='cycle_cost::cycle::Driver::cycle*' \
        --toggle-collect='cycle_cost::cycle::socket_read*' \
        "$bin" "$1" "$2" 2>&1 >/dev/null |
        sed -n 's/^==[0-9]*== Collected : \([0-9]*\)$/\1/p'
}

field() { # line name
    sed -n "s/.* $2=\([0-9]*\).*/\1/p" <<<"$1"
}

declare -A ir
printf '%-14s %12s %12s %14s\n' scenario Ir/cycle allocs/cycle bytes/cycle
for s in "${scenarios[@]}"; do
    a=$(collected "$s" "$N1")
    b=$(collected "$s" "$N2")
    ir[$s]=$(((b - a) / (N2 - N1)))
    line=$("$bin" "$s" "$N2")
    allocs=$(($(field "$line" allocations) + $(field "$line" reallocations)))
    bytes=$(field "$line" bytes)
    awk -v s="$s" -v ir="${ir[$s]}" -v a="$allocs" -v b="$bytes" -v n="$N2" \
        'BEGIN { printf "%-14s %12d %12.2f %14.1f\n", s, ir, a / n, b / n }'
done
if [ -n "${ir[chunked-1mib]:-}" ] && [ -n "${ir[length-1mib]:-}" ]; then
    printf 'chunked framing: %d Ir per chunk ((chunked-1mib - length-1mib) / %d)\n' \
        $(((ir[chunked-1mib] - ir[length-1mib]) / CHUNKS)) "$CHUNKS"
fi
# A profile of one scenario: callgrind_annotate --inclusive=yes <file> (kept with KEEP=dir).
if [ -n "${KEEP:-}" ]; then
    mkdir -p "$KEEP" && cp "$out"/*."$N2" "$KEEP"/ && echo "profiles in $KEEP"
fi
