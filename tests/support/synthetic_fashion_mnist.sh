# Synthetic Fashion-MNIST IDX files for the tools' command-line checks (no dataset package needed).
# Source it, then
#   synthetic_fashion_mnist DIR N_TRAIN N_TEST
# writes DIR/{train,t10k}-{images-idx3,labels-idx1}-ubyte (train gzip-compressed, test plain, so both
# readings are exercised) whose image i has label i mod 10 and pixels that depend on the label (so a
# classifier has something to learn).

# be32 N: N as 4 big-endian bytes.
be32() { printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 >> 24 & 255)) $(($1 >> 16 & 255)) $(($1 >> 8 & 255)) $(($1 & 255)))"; }
# idx_images FILE N / idx_labels FILE N: one synthetic IDX file.
idx_images() {
  { printf '\x00\x00\x08\x03'; be32 "$2"; be32 28; be32 28
    LC_ALL=C awk -v n="$2" 'BEGIN { for (i = 0; i < n; i++) for (p = 0; p < 784; p++)
      printf "%c", ((i % 10) * 23 * (p % 28 < 14) + p * 7 + i * 13) % 256 }'; } >"$1"
}
idx_labels() {
  { printf '\x00\x00\x08\x01'; be32 "$2"; LC_ALL=C awk -v n="$2" 'BEGIN { for (i = 0; i < n; i++) printf "%c", i % 10 }'; } >"$1"
}
synthetic_fashion_mnist() {
  local dir=$1
  mkdir -p "$dir"
  idx_images "$dir/train-images-idx3-ubyte" "$2" && gzip -f "$dir/train-images-idx3-ubyte"
  idx_labels "$dir/train-labels-idx1-ubyte" "$2" && gzip -f "$dir/train-labels-idx1-ubyte"
  idx_images "$dir/t10k-images-idx3-ubyte" "$3"
  idx_labels "$dir/t10k-labels-idx1-ubyte" "$3"
}
