#!/usr/bin/env bash
# Instruction counts (callgrind Ir) per iteration of each variant of benches/parse.rs, and the
# ratio of ferry's head parse to bare httparse. Unlike wall time, these repeat exactly on a
# busy machine. Usage: scripts/bench-callgrind.sh [variant...]
#
# Each variant runs twice, N1 and N2 iterations, collecting only inside its `run_*` function
# (input set-up and dropping the output are outside it); per iteration = (Ir(N2) - Ir(N1)) /
# (N2 - N1), which cancels one-time costs such as CPU feature detection.
set -euo pipefail
cd "$(dirname "$0")/.."

N1=${N1:-1000}
N2=${N2:-5000}
variants=("$@")
[ ${#variants[@]} -gt 0 ] ||
    variants=(httparse32 httparse64 httparse100 httparse-uninit ferry ferry-fresh exchange exchange-chunked
        exchange-chunks2 exchange-chunks32)

# The bench profile is release with debug info: the same build `cargo bench` uses.
cargo build --quiet --profile bench -p ferry-proto --example parse_cost
bin=target/release/examples/parse_cost
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

collected() { # variant iterations
    local fn
    case $1 in
    httparse-uninit) fn=run_httparse_uninit ;;
    httparse*) fn=run_httparse ;;
    ferry*) fn=run_ferry ;;
    exchange*) fn=run_exchange ;;
    esac
    valgrind --tool=callgrind --callgrind-out-file="$out/$1.$2" \
        --toggle-collect="parse_cost::common::$fn*" "$bin" "$1" "$2" 2>&1 |
        sed -n 's/^==[0-9]*== Collected : \([0-9]*\)$/\1/p'
}

declare -A ir
printf '%-18s %12s\n' variant Ir/iter
for v in "${variants[@]}"; do
    a=$(collected "$v" "$N1")
    b=$(collected "$v" "$N2")
    ir[$v]=$(((b - a) / (N2 - N1)))
    printf '%-18s %12d\n' "$v" "${ir[$v]}"
done
for f in ferry ferry-fresh; do
    [ -n "${ir[$f]:-}" ] || continue
    for base in httparse32 httparse64 httparse100 httparse-uninit; do
        [ -n "${ir[$base]:-}" ] || continue
        awk -v f="${ir[$f]}" -v b="${ir[$base]}" -v n="$f / $base" \
            'BEGIN { printf "%-27s %6.3fx\n", n, f / b }'
    done
done
if [ -n "${ir[exchange-chunks2]:-}" ] && [ -n "${ir[exchange-chunks32]:-}" ]; then
    printf '%-27s %7d\n' "one more chunk" $(((ir[exchange-chunks32] - ir[exchange-chunks2]) / 30))
fi
# A profile of one variant: callgrind_annotate --inclusive=yes <file> (kept with KEEP=dir).
if [ -n "${KEEP:-}" ]; then
    mkdir -p "$KEEP" && cp "$out"/*."$N2" "$KEEP"/ && echo "profiles in $KEEP"
fi
