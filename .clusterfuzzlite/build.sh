#!/bin/bash -eu
# Builds every fuzz target of fuzz/ and copies it into $OUT together with its
# dictionary, its .options file and its seed corpus (<target>_seed_corpus.zip),
# as ClusterFuzzLite and OSS-Fuzz expect.
#
# In the ClusterFuzzLite image the sanitizer comes from the environment
# (AddressSanitizer by default, with the image's nightly toolchain).
# SEALWIRE_FUZZ_SANITIZER=none builds on stable without a sanitizer, which is
# how these steps are checked outside Docker:
#   SRC=$PWD/.. OUT=/tmp/cflite-out SEALWIRE_FUZZ_SANITIZER=none .clusterfuzzlite/build.sh
cd "$SRC/sealwire/fuzz"
# Seeds, dictionaries, options and past crash inputs live beside the oracles
# that read them (conformance/oracles/README.md).
data=../conformance/oracles

# fuzz/build.sh: `cargo fuzz build` with short memcmp kept as calls, so
# that comparison tracing sees their bytes (fuzz/README.md).
if [ "${SEALWIRE_FUZZ_SANITIZER:-}" = none ]; then
  ./build.sh -O --sanitizer none
else
  ./build.sh -O
fi

triple="$(rustc -vV | sed -n 's/^host: //p')"
for target in $(cargo fuzz list); do
  cp "target/$triple/release/$target" "$OUT/"
  cp "$data/dict/$target.dict" "$OUT/"
  cp "$data/options/$target.options" "$OUT/"
  rm -f "$OUT/${target}_seed_corpus.zip"
  if command -v zip >/dev/null 2>&1; then
    (cd "$data/seeds/$target" && zip -q -j "$OUT/${target}_seed_corpus.zip" ./*)
  else
    python3 - "$OUT/${target}_seed_corpus.zip" "$data/seeds/$target" <<'PY'
import os, sys, zipfile
archive, folder = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(archive, "w") as z:
    for name in sorted(os.listdir(folder)):
        z.write(os.path.join(folder, name), arcname=name)
PY
  fi
done
