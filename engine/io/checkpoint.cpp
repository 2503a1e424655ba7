// Safetensors checkpoints: the header is built and parsed with nlohmann-json; loading checks every
// entry (dtype, shape, offsets) against the file before trusting it, so a truncated or hand-edited file
// fails with a message naming the tensor, never with a crash or silently wrong weights.
#include "engine/io/checkpoint.h"

#include <algorithm>
#include <bit>
#include <nlohmann/json.hpp>

#include "engine/io/atomic_file.h"
#include "engine/io/input_file.h"

namespace brenier::io {
namespace {

using nlohmann::json;
static_assert(std::endian::native == std::endian::little, "brenier::io assumes a little-endian host");

constexpr const char* kMetadataKey = "__metadata__";

const char* safetensors_dtype(DType t) { return t == DType::F32 ? "F32" : t == DType::F64 ? "F64" : "I64"; }

// One header entry, checked against the data section.
struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;
};

class HeaderReader {
 public:
  explicit HeaderReader(const std::string& path) : path_(path) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw Error(fmt::format("checkpoint '{}': {}", path_, what));
  }

  Entry entry(const std::string& name, const json& j, uint64_t data_size) const {
    auto where = fmt::format("tensor '{}'", name);
    if (!j.is_object()) fail(fmt::format("{} must be a JSON object, got {}", where, j.dump()));
    Entry e{name, DType::F32, {}, 0, 0};
    const json& dtype = j.contains("dtype") ? j["dtype"] : json();
    if (!dtype.is_string()) fail(fmt::format("{} has no string 'dtype'", where));
    std::string d = dtype.get<std::string>();
    if (d == "F32")
      e.dtype = DType::F32;
    else if (d == "F64")
      e.dtype = DType::F64;
    else if (d == "I64")
      e.dtype = DType::I64;
    else
      fail(fmt::format("{} has unsupported dtype '{}' (supported: F32, F64, I64)", where, d));

    const json& shape = j.contains("shape") ? j["shape"] : json();
    if (!shape.is_array()) fail(fmt::format("{} has no array 'shape'", where));
    uint64_t bytes = dtype_size(e.dtype);
    for (const json& s : shape) {
      if (!s.is_number_unsigned()) fail(fmt::format("{} has a bad shape {}", where, shape.dump()));
      uint64_t v = s.get<uint64_t>();
      if (v > (uint64_t{1} << 62) || (v != 0 && bytes > (uint64_t{1} << 62) / v))
        fail(fmt::format("{} has an impossibly large shape {}", where, shape.dump()));
      bytes *= v;
      e.shape.push_back(static_cast<int64_t>(v));
    }

    const json& off = j.contains("data_offsets") ? j["data_offsets"] : json();
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      fail(fmt::format("{} needs 'data_offsets' [begin, end] of non-negative integers, got {}", where,
                       off.dump()));
    e.begin = off[0].get<uint64_t>();
    e.end = off[1].get<uint64_t>();
    auto offsets = fmt::format("data_offsets [{}, {}]", e.begin, e.end);
    if (e.begin > e.end) fail(fmt::format("{} has {} with begin after end", where, offsets));
    if (e.end > data_size)
      fail(fmt::format("{} {} exceed the {}-byte data section (file truncated?)", where, offsets, data_size));
    if (e.end - e.begin != bytes)
      fail(fmt::format("{} is {}{} ({} bytes) but its {} span {} bytes", where, d, shape.dump(), bytes,
                       offsets, e.end - e.begin));
    return e;
  }

  std::map<std::string, std::string> metadata(const json& j) const {
    if (!j.is_object()) fail(fmt::format("'{}' must be a JSON object, got {}", kMetadataKey, j.dump()));
    std::map<std::string, std::string> out;
    for (const auto& [key, value] : j.items()) {
      if (!value.is_string())
        fail(fmt::format("'{}' value for '{}' must be a string, got {}", kMetadataKey, key, value.dump()));
      out[key] = value.get<std::string>();
    }
    return out;
  }

 private:
  const std::string& path_;
};

}  // namespace

void save_checkpoint(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                     const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  std::vector<Tensor> host;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    BRENIER_CHECK(!name.empty() && name != kMetadataKey,
                  "save_checkpoint: tensor name '{}' is reserved or empty", name);
    BRENIER_CHECK(!header.contains(name), "save_checkpoint: tensor name '{}' appears twice", name);
    check_defined(t, "save_checkpoint", name.c_str());
    host.push_back(t.to(Device::cpu()));
    header[name] = {{"dtype", safetensors_dtype(t.dtype())},
                    {"shape", t.shape()},
                    {"data_offsets", {offset, offset + t.nbytes()}}};
    offset += t.nbytes();
  }
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // keeps the data 8-byte aligned, as safetensors does
  unsigned char len[8];
  for (int k = 0; k < 8; ++k)
    len[k] = static_cast<unsigned char>(static_cast<uint64_t>(text.size()) >> (8 * k));

  AtomicFile file(path);
  file.write(len, 8);
  file.write(text);
  for (const Tensor& t : host)
    if (t.nbytes() > 0) file.write(t.raw_data(), t.nbytes());
  file.commit();
}

Checkpoint load_checkpoint(const std::string& path) {
  InputFile file(path, "load_checkpoint");
  HeaderReader reader(path);
  if (file.size() < 8)
    reader.fail(fmt::format("file is {} bytes, too short for the 8-byte header length", file.size()));
  unsigned char len[8];
  file.read_at(0, len, 8);
  uint64_t header_len = 0;
  for (int k = 7; k >= 0; --k) header_len = (header_len << 8) | len[k];
  if (header_len > file.size() - 8)
    reader.fail(
        fmt::format("header length {} exceeds the {} bytes after it (file truncated or not a "
                    "safetensors file?)",
                    header_len, file.size() - 8));
  std::string text(header_len, '\0');
  file.read_at(8, text.data(), text.size());
  json header = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded()) reader.fail("header is not valid JSON");
  if (!header.is_object()) reader.fail("header must be a JSON object");

  Checkpoint out;
  uint64_t data_start = 8 + header_len, data_size = file.size() - data_start;
  std::vector<Entry> entries;
  for (const auto& [name, value] : header.items()) {
    if (name == kMetadataKey)
      out.metadata = reader.metadata(value);
    else
      entries.push_back(reader.entry(name, value, data_size));
  }
  // The tensors must tile the data section exactly: no overlaps, no gaps, nothing after the last one.
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::pair(a.begin, a.end) < std::pair(b.begin, b.end);
  });
  uint64_t covered = 0;
  const Entry* previous = nullptr;
  for (const Entry& e : entries) {
    if (e.begin < covered)
      reader.fail(fmt::format("tensor '{}' data_offsets [{}, {}] overlap tensor '{}' (ending at {})", e.name,
                              e.begin, e.end, previous->name, covered));
    if (e.begin > covered)
      reader.fail(fmt::format("bytes [{}, {}) of the data section belong to no tensor", covered, e.begin));
    covered = e.end;
    previous = &e;
  }
  if (covered != data_size)
    reader.fail(fmt::format("data section is {} bytes but the tensors cover {} (trailing bytes)", data_size,
                            covered));

  for (const Entry& e : entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype);
    if (e.end > e.begin) file.read_at(data_start + e.begin, t.raw_data(), e.end - e.begin);
    out.tensors.emplace(e.name, std::move(t));
  }
  return out;
}

}  // namespace brenier::io
