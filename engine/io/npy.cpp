// .npy reading and writing. The header is a Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (4096, 2), }
// padded with spaces and a final '\n' so the data starts on a 64-byte boundary; a tiny parser for exactly
// that literal grammar (strings, True/False, tuples of ints) keeps us from needing a Python evaluator.
#include "engine/io/npy.h"

#include <bit>
#include <charconv>
#include <cstring>
#include <map>
#include <string_view>

#include "engine/io/atomic_file.h"
#include "engine/io/input_file.h"

namespace brenier::io {
namespace {

static_assert(std::endian::native == std::endian::little, "brenier::io assumes a little-endian host");

constexpr char kMagic[] = "\x93NUMPY";  // 6 bytes, then major and minor version bytes
constexpr size_t kMagicLen = 6;
constexpr size_t kAlign = 64;

struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  Shape shape;
};

// Parses the header dict; every complaint names the file and quotes the header.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& path) : s_(text), path_(path) {}

  NpyHeader parse() {
    NpyHeader h;
    std::map<std::string, bool> seen;
    expect('{');
    while (skip_space(), peek() != '}') {
      std::string key = string_literal();
      expect(':');
      if (key == "descr") {
        skip_space();
        if (peek() != '\'' && peek() != '"')
          fail("'descr' must be a string (structured dtypes are not supported)");
        h.descr = string_literal();
      } else if (key == "fortran_order") {
        h.fortran_order = bool_literal();
      } else if (key == "shape") {
        h.shape = int_tuple();
      } else {
        fail(fmt::format("unexpected key '{}'", key));
      }
      if (seen[key]) fail(fmt::format("key '{}' appears twice", key));
      seen[key] = true;
      skip_space();
      if (peek() == ',')
        ++i_;
      else if (peek() != '}')
        fail("expected ',' or '}'");
    }
    ++i_;
    skip_space();
    if (i_ != s_.size()) fail("unexpected text after '}'");
    for (const char* key : {"descr", "fortran_order", "shape"})
      if (!seen[key]) fail(fmt::format("key '{}' is missing", key));
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(
        fmt::format("load_npy: '{}' has a malformed header ({} at offset {}): {}", path_, what, i_, s_));
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void skip_space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\t')) ++i_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) fail(fmt::format("expected '{}'", c));
    ++i_;
  }
  std::string string_literal() {
    skip_space();
    char quote = peek();
    if (quote != '\'' && quote != '"') fail("expected a quoted string");
    size_t end = s_.find(quote, i_ + 1);
    if (end == std::string_view::npos) fail("unterminated string");
    std::string out(s_.substr(i_ + 1, end - i_ - 1));
    i_ = end + 1;
    return out;
  }
  bool bool_literal() {
    skip_space();
    for (auto [word, value] : {std::pair{"True", true}, std::pair{"False", false}}) {
      if (s_.substr(i_).starts_with(word)) {
        i_ += std::strlen(word);
        return value;
      }
    }
    fail("expected True or False");
  }
  Shape int_tuple() {
    Shape shape;
    expect('(');
    while (skip_space(), peek() != ')') {
      int64_t v = -1;
      auto [next, ec] = std::from_chars(s_.data() + i_, s_.data() + s_.size(), v);
      if (ec != std::errc() || v < 0) fail("expected a non-negative integer in 'shape'");
      i_ = static_cast<size_t>(next - s_.data());
      shape.push_back(v);
      skip_space();
      if (peek() == ',')
        ++i_;
      else if (peek() != ')')
        fail("expected ',' or ')' in 'shape'");
    }
    ++i_;
    return shape;
  }

  std::string_view s_;
  const std::string& path_;
  size_t i_ = 0;
};

uint32_t little_endian_u32(const unsigned char* p, int bytes) {
  uint32_t v = 0;
  for (int k = bytes - 1; k >= 0; --k) v = (v << 8) | p[k];
  return v;
}

// The element type as stored in the file, and what it becomes in memory.
struct StoredType {
  size_t item_size;
  DType dtype;
  bool widen_i32;
};

StoredType stored_type(const std::string& descr, const std::string& path) {
  if (descr == "<f4") return {4, DType::F32, false};
  if (descr == "<f8") return {8, DType::F64, false};
  if (descr == "<i8") return {8, DType::I64, false};
  if (descr == "<i4") return {4, DType::I64, true};
  BRENIER_CHECK(descr.empty() || descr[0] != '>',
                "load_npy: '{}' holds big-endian data (descr '{}'); only little-endian is supported", path,
                descr);
  throw Error(fmt::format("load_npy: '{}' has unsupported descr '{}' (supported: '<f4', '<f8', '<i8', '<i4')",
                          path, descr));
}

std::string python_tuple(const Shape& shape) {
  if (shape.size() == 1) return fmt::format("({},)", shape[0]);
  return fmt::format("({})", fmt::join(shape, ", "));
}

}  // namespace

Tensor load_npy(const std::string& path) {
  InputFile file(path, "load_npy");
  unsigned char prefix[12] = {};
  BRENIER_CHECK(file.size() >= 10, "load_npy: '{}' is not a .npy file (only {} bytes long)", path,
                file.size());
  file.read_at(0, prefix, 10);
  BRENIER_CHECK(std::memcmp(prefix, kMagic, kMagicLen) == 0,
                "load_npy: '{}' is not a .npy file (bad magic bytes; expected \\x93NUMPY)", path);
  int major = prefix[6], minor = prefix[7];
  BRENIER_CHECK((major == 1 || major == 2) && minor == 0,
                "load_npy: '{}' has unsupported .npy format version {}.{} (supported: 1.0, 2.0)", path, major,
                minor);
  // Version 1.0 stores the header length in 2 bytes, 2.0 in 4.
  int len_bytes = major == 1 ? 2 : 4;
  uint64_t header_start = kMagicLen + 2 + static_cast<uint64_t>(len_bytes);
  BRENIER_CHECK(file.size() >= header_start, "load_npy: '{}' is truncated inside its prefix", path);
  file.read_at(8, prefix + 8, static_cast<size_t>(len_bytes));
  uint64_t header_len = little_endian_u32(prefix + 8, len_bytes);
  uint64_t data_start = header_start + header_len;
  BRENIER_CHECK(data_start <= file.size(),
                "load_npy: '{}' declares a {}-byte header but the file has only {} bytes (file truncated?)",
                path, header_len, file.size());
  std::string text(header_len, '\0');
  file.read_at(header_start, text.data(), text.size());

  NpyHeader h = HeaderParser(text, path).parse();
  StoredType stored = stored_type(h.descr, path);
  BRENIER_CHECK(!h.fortran_order,
                "load_npy: '{}' is in Fortran order (fortran_order: True); only C order is supported "
                "(save it with np.ascontiguousarray)",
                path);
  uint64_t expected = stored.item_size;
  for (int64_t d : h.shape) {
    BRENIER_CHECK(d == 0 || expected <= (uint64_t{1} << 62) / static_cast<uint64_t>(d),
                  "load_npy: '{}' has an impossibly large shape {}", path, shape_str(h.shape));
    expected *= static_cast<uint64_t>(d);
  }
  uint64_t found = file.size() - data_start;
  BRENIER_CHECK(found == expected, "load_npy: '{}' ({} {}) should hold {} bytes of data, found {}{}", path,
                h.descr, shape_str(h.shape), expected, found, found < expected ? " (file truncated?)" : "");

  Tensor t = Tensor::empty(h.shape, stored.dtype);
  if (!stored.widen_i32) {
    if (expected > 0) file.read_at(data_start, t.raw_data(), expected);
    return t;
  }
  std::vector<int32_t> narrow(static_cast<size_t>(t.numel()));
  if (expected > 0) file.read_at(data_start, narrow.data(), expected);
  int64_t* out = t.data<int64_t>();
  for (size_t i = 0; i < narrow.size(); ++i) out[i] = narrow[i];
  return t;
}

void save_npy(const std::string& path, const Tensor& t) {
  check_defined(t, "save_npy", "t");
  Tensor host = t.to(Device::cpu());
  const char* descr = host.dtype() == DType::F32 ? "<f4" : host.dtype() == DType::F64 ? "<f8" : "<i8";
  std::string header = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr,
                                   python_tuple(host.shape()));
  // Pad with spaces so prefix (10 bytes) + header + '\n' is a multiple of 64, as NumPy does.
  size_t used = kMagicLen + 4 + header.size() + 1;
  header.append((kAlign - used % kAlign) % kAlign, ' ');
  header.push_back('\n');
  BRENIER_CHECK(header.size() <= UINT16_MAX, "save_npy: the header for {} is too long for format 1.0",
                t.str());

  AtomicFile file(path);
  file.write(kMagic, kMagicLen);
  const unsigned char version_and_len[4] = {1, 0, static_cast<unsigned char>(header.size() & 0xff),
                                            static_cast<unsigned char>(header.size() >> 8)};
  file.write(version_and_len, 4);
  file.write(header);
  if (host.nbytes() > 0) file.write(host.raw_data(), host.nbytes());
  file.commit();
}

}  // namespace brenier::io
