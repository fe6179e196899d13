#!/usr/bin/env bash
# datasets/setup.sh - verify the data files named in manifest.tsv and link them
# into datasets/data/ (where tlm finds them without flags).
#
# Source folder, first found: $TLM_SHARED_DATASETS, ../shared/datasets next to
# the checkout, ../../shared/datasets. A file that is missing or fails its
# sha256 is an error; where a network exists and TLM_DOWNLOAD=1, missing
# TinyStories files are fetched from the dataset's home and verified.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(dirname "$here")
src=""
for cand in "${TLM_SHARED_DATASETS:-}" "$top/../shared/datasets" "$top/../../shared/datasets"; do
    if [ -n "$cand" ] && [ -d "$cand" ]; then src=$(cd "$cand" && pwd); break; fi
done
out="$here/data"
mkdir -p "$out"
fail=0; linked=0
while IFS=$'\t' read -r name path sha bytes source licence; do
    [ "$name" = name ] && continue
    file="${src:+$src/$path}"
    if [ -z "$file" ] || [ ! -f "$file" ]; then
        if [ "${TLM_DOWNLOAD:-0}" = 1 ] && [[ $path == tinystories/* ]]; then
            mkdir -p "$out/$(dirname "$path")"
            echo "datasets: downloading $path ($source)" >&2
            curl -fsSL -o "$out/$path" "https://huggingface.co/datasets/roneneldan/TinyStories/resolve/main/$name" || true
            file="$out/$path"
        fi
        if [ ! -f "${file:-/nonexistent}" ]; then
            echo "datasets: missing $path (looked in ${src:-no shared/datasets folder})" >&2
            fail=1; continue
        fi
    fi
    got=$(sha256sum "$file" | cut -d' ' -f1)
    if [ "$got" != "$sha" ]; then
        echo "datasets: $path: sha256 $got, manifest says $sha" >&2
        fail=1; continue
    fi
    if [ "$file" != "$out/$path" ]; then
        mkdir -p "$out/$(dirname "$path")"
        ln -sfn "$file" "$out/$path"
    fi
    linked=$((linked + 1))
done < "$here/manifest.tsv"
if [ $fail -ne 0 ]; then
    echo "datasets: some files are missing or corrupt (see above)" >&2
    exit 1
fi
echo "datasets: $linked files verified and linked under $out"
