#!/usr/bin/env bash
# Merges a night's corpus back into the checked-in seeds, minimised and
# capped, so that the seeds grow with what fuzzing found without bloating
# the repository.
#
#   fuzz/merge-seeds.sh                     # fuzz/corpus/<target> of every target
#   fuzz/merge-seeds.sh --dry-run decrypt   # say what would be added, add nothing
#   CAP_KIB=32 fuzz/merge-seeds.sh          # at most 32 KiB of new seeds per target
#   CORPUS=/path/to/corpora fuzz/merge-seeds.sh   # <dir>/<target> instead of fuzz/corpus
#
# Per target, libFuzzer's -merge=1 starts from the checked-in seeds
# (conformance/oracles/seeds/<target>, all kept, names unchanged) and adds
# only the corpus inputs that reach a feature the seeds do not. Of those,
# the smallest are kept first until the per-target cap (CAP_KIB, default
# 16) would be passed; the rest are left out and counted. New seeds are
# named `merged-<sha1 of the content>`. Review the diff before committing:
# a seed is replayed by every CI run (fuzz/ci.sh) and by the zoo.
set -euo pipefail
case "${1:-}" in
  -h|--help)
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
    exit 0
    ;;
esac
cd "$(dirname "$0")"
data=../conformance/oracles

dry_run=
if [ "${1:-}" = --dry-run ]; then
  dry_run=1
  shift
fi
CAP_KIB="${CAP_KIB:-16}"
CORPUS="${CORPUS:-corpus}"
cap_bytes=$((CAP_KIB * 1024))

command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz
./build.sh --sanitizer none -O
triple="$(rustc -vV | sed -n 's/^host: //p')"
bin_dir="target/$triple/release"

targets=("$@")
[ ${#targets[@]} -gt 0 ] || read -r -a targets <<< "$(cargo fuzz list | tr '\n' ' ')"

echo "| target | corpus inputs | new features from | added | added bytes | left out (cap ${CAP_KIB} KiB) |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
for target in "${targets[@]}"; do
  corpus="$CORPUS/$target"
  seeds="$data/seeds/$target"
  if [ ! -d "$corpus" ]; then
    echo "| $target | no $corpus | | | | |"
    continue
  fi
  max_len="$(sed -n 's/^max_len = //p' "$data/options/$target.options")"
  work="$(mktemp -d)"
  mkdir "$work/merged"
  cp "$seeds"/* "$work/merged/"
  # The first directory is the output: its inputs (the seeds) are kept,
  # and an input of the others is added only for a feature they lack.
  "$bin_dir/$target" -merge=1 -max_len="$max_len" "$work/merged" "$corpus" \
    > "$work/merge.log" 2>&1 || { cat "$work/merge.log"; exit 1; }
  # What the merge added: files not among the seeds (libFuzzer names them
  # by the SHA-1 of their content).
  : > "$work/new"
  for f in "$work/merged"/*; do
    name="$(basename "$f")"
    [ -e "$seeds/$name" ] || echo "$(wc -c < "$f") $f" >> "$work/new"
  done
  sort -n "$work/new" -o "$work/new"
  added=0
  added_bytes=0
  left_out=0
  while read -r size file; do
    [ -n "$file" ] || continue
    if [ $((added_bytes + size)) -gt "$cap_bytes" ]; then
      left_out=$((left_out + 1))
      continue
    fi
    added=$((added + 1))
    added_bytes=$((added_bytes + size))
    if [ -z "$dry_run" ]; then
      cp "$file" "$seeds/merged-$(sha1sum "$file" | cut -c1-40)"
    fi
  done < "$work/new"
  inputs="$(find "$corpus" -type f | wc -l)"
  echo "| $target | $inputs | $(wc -l < "$work/new") | $added | $added_bytes | $left_out |"
  rm -rf "$work"
done
[ -z "$dry_run" ] || echo "(dry run: nothing was copied)"
