// File I/O: .npy arrays, safetensors checkpoints and atomic writes. Expected bytes are built by hand
// from the formats' specs (and compared with a file written by NumPy itself), not by our writers.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/io/atomic_file.h"
#include "engine/io/checkpoint.h"
#include "engine/io/npy.h"
#include "tests/support/shared_data.h"

using namespace brenier;
using namespace std::string_literals;
namespace fs = std::filesystem;

#define CHECK_ERROR(expr, text) \
  CHECK_THROWS_WITH_AS(expr, doctest::Contains(std::string(text).c_str()), brenier::Error)

namespace {

// A fresh directory under the system temp dir, removed with everything in it at scope exit.
struct TempDir {
  fs::path dir;
  TempDir() {
    static int count = 0;
    dir = fs::temp_directory_path() / fmt::format("brenier_test_io_{}_{}", getpid(), count++);
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  std::string operator/(const std::string& name) const { return (dir / name).string(); }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// A .npy file by hand: magic, version, header length, `dict` padded to 64 bytes, `data` bytes.
std::string npy_file(const std::string& dict, const std::string& data, int major = 1) {
  size_t prefix = major == 1 ? 10 : 12;
  std::string header = dict + std::string(63 - (prefix + dict.size()) % 64, ' ') + "\n";
  std::string out = "\x93NUMPY"s + char(major) + '\0';
  for (size_t k = 0; k < prefix - 8; ++k) out += char((header.size() >> (8 * k)) & 0xff);
  return out + header + data;
}

// A safetensors file by hand: u64 little-endian header length, header, `data_bytes` zero bytes.
std::string safetensors_file(const std::string& header, size_t data_bytes) {
  std::string out;
  for (int k = 0; k < 8; ++k) out += char((header.size() >> (8 * k)) & 0xff);
  return out + header + std::string(data_bytes, '\0');
}

}  // namespace

// ---------------------------------------------------------------------------------------------- npy

TEST_CASE("io: npy round trips f32, f64, i64, 0-d, empty and 4-D arrays") {
  TempDir tmp;
  std::vector<float> f = {1.5f, -2.25f, 3e-8f, 4e20f, 0.f, -0.f};
  std::vector<double> d = {1.0 / 3.0, -1e300, 5e-324};
  std::vector<int64_t> i = {-1, INT64_MAX, INT64_MIN, 0};
  std::vector<float> four(2 * 3 * 1 * 4);
  for (size_t k = 0; k < four.size(); ++k) four[k] = static_cast<float>(k) * 0.5f - 3.f;

  io::save_npy(tmp / "f.npy", Tensor::from_vector(f, {2, 3}));
  io::save_npy(tmp / "d.npy", Tensor::from_vector(d));
  io::save_npy(tmp / "i.npy", Tensor::from_vector(i, {4, 1}));
  io::save_npy(tmp / "scalar.npy", Tensor::from_vector(std::vector<double>{2.5}, {}));
  io::save_npy(tmp / "empty.npy", Tensor::from_vector(std::vector<float>{}, {3, 0}));
  io::save_npy(tmp / "four.npy", Tensor::from_vector(four, {2, 3, 1, 4}));

  Tensor tf = io::load_npy(tmp / "f.npy");
  CHECK(tf.dtype() == DType::F32);
  CHECK(tf.shape() == Shape{2, 3});
  CHECK(tf.to_vector<float>() == f);
  CHECK(io::load_npy(tmp / "d.npy").to_vector<double>() == d);
  Tensor ti = io::load_npy(tmp / "i.npy");
  CHECK(ti.dtype() == DType::I64);
  CHECK(ti.shape() == Shape{4, 1});
  CHECK(std::vector<int64_t>(ti.data<int64_t>(), ti.data<int64_t>() + 4) == i);
  Tensor s = io::load_npy(tmp / "scalar.npy");
  CHECK(s.shape() == Shape{});
  CHECK(s.item() == 2.5);
  Tensor e = io::load_npy(tmp / "empty.npy");
  CHECK(e.shape() == Shape{3, 0});
  CHECK(e.dtype() == DType::F32);
  Tensor t4 = io::load_npy(tmp / "four.npy");
  CHECK(t4.shape() == Shape{2, 3, 1, 4});
  CHECK(t4.to_vector<float>() == four);
  CHECK(tmp.names().size() == 6);  // no temp files left behind
}

TEST_CASE("io: save_npy writes NumPy's exact bytes") {
  TempDir tmp;
  // Version 1.0, header length 118 (0x76) so that 10 + 118 = 128 is a multiple of 64.
  auto expected_header = [](const std::string& dict) {
    return "\x93NUMPY\x01\x00\x76\x00"s + dict + std::string(118 - dict.size() - 1, ' ') + "\n";
  };
  io::save_npy(tmp / "a.npy", Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3}));
  CHECK(
      read_bytes(tmp / "a.npy") ==
      expected_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }") +
          "\x00\x00\x80\x3f\x00\x00\x00\x40\x00\x00\x40\x40\x00\x00\x80\x40\x00\x00\xa0\x40\x00\x00\xc0\x40"s);

  io::save_npy(tmp / "b.npy", Tensor::from_vector<int64_t>({-1, 258}));
  CHECK(read_bytes(tmp / "b.npy") ==
        expected_header("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }") +
            "\xff\xff\xff\xff\xff\xff\xff\xff\x02\x01\x00\x00\x00\x00\x00\x00"s);

  io::save_npy(tmp / "c.npy", Tensor::from_vector(std::vector<double>{1.0}, {}));
  CHECK(read_bytes(tmp / "c.npy") ==
        expected_header("{'descr': '<f8', 'fortran_order': False, 'shape': (), }") +
            "\x00\x00\x00\x00\x00\x00\xf0\x3f"s);
}

TEST_CASE("io: load_npy reads version 2.0 and hand-written headers") {
  TempDir tmp;
  write_bytes(tmp / "v2.npy", npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }",
                                       "\x00\x00\x00\x00\x00\x00\x04\xc0"s, 2));
  CHECK(io::load_npy(tmp / "v2.npy").to_vector<double>() == std::vector<double>{-2.5});
  // Keys in another order, double quotes, no trailing comma: still a valid Python dict literal.
  write_bytes(tmp / "odd.npy", npy_file("{\"shape\": (2, 1), \"fortran_order\": False, \"descr\": \"<i4\"}",
                                        "\x07\x00\x00\x00\xfe\xff\xff\xff"s));
  Tensor t = io::load_npy(tmp / "odd.npy");
  CHECK(t.dtype() == DType::I64);
  CHECK(t.shape() == Shape{2, 1});
  CHECK(t.to_vector<int64_t>() == std::vector<int64_t>{7, -2});
}

TEST_CASE("io: load_npy reads the shared w2bench files") {
  auto shared = shared_dir();
  if (!shared) {
    MESSAGE("skipped: no shared data directory (set BRENIER_SHARED)");
    return;
  }
  std::string dir = *shared + "/data/w2bench/mix3tomix10/dim002/validation/";
  if (!fs::exists(dir + "x.npy")) {
    MESSAGE("skipped: " << dir << "x.npy is absent");
    return;
  }
  Tensor x = io::load_npy(dir + "x.npy");
  CHECK(x.dtype() == DType::F32);
  CHECK(x.shape() == Shape{4096, 2});
  check_finite(x, "test", "x");
  Tensor c = io::load_npy(dir + "component.npy");  // int32 on disk
  CHECK(c.dtype() == DType::I64);
  CHECK(c.shape() == Shape{4096});
  auto labels = c.to_vector<int64_t>();
  CHECK(*std::min_element(labels.begin(), labels.end()) >= 0);
  CHECK(*std::max_element(labels.begin(), labels.end()) < 10);
  CHECK(std::count(labels.begin(), labels.end(), labels[0]) < 4096);  // really read, not zeros

  // Saving what NumPy wrote reproduces NumPy's file byte for byte.
  TempDir tmp;
  io::save_npy(tmp / "x.npy", x);
  CHECK(read_bytes(tmp / "x.npy") == read_bytes(dir + "x.npy"));
}

TEST_CASE("io: load_npy rejects corrupt and unsupported files") {
  TempDir tmp;
  const std::string good = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
  const std::string eight(8, '\0');
  auto load = [&](const std::string& name, const std::string& bytes) {
    write_bytes(tmp / name, bytes);
    return io::load_npy(tmp / name);
  };
  CHECK_ERROR(io::load_npy(tmp / "missing.npy"), "missing.npy': No such file or directory");
  CHECK_ERROR(load("tiny.npy", "\x93NUMPY"), "not a .npy file");
  CHECK_ERROR(load("magic.npy", "PK" + npy_file(good, eight).substr(2)),
              "magic.npy' is not a .npy file (bad magic");
  std::string v3 = npy_file(good, eight, 2);
  v3[6] = 3;
  CHECK_ERROR(load("v3.npy", v3), "unsupported .npy format version 3.0");
  CHECK_ERROR(
      load("fortran.npy", npy_file("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", eight)),
      "Fortran order");
  CHECK_ERROR(load("f2.npy", npy_file("{'descr': '<f2', 'fortran_order': False, 'shape': (4,), }", eight)),
              "unsupported descr '<f2'");
  CHECK_ERROR(load("big.npy", npy_file("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", eight)),
              "big-endian");
  CHECK_ERROR(load("struct.npy",
                   npy_file("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", eight)),
              "structured dtypes");
  CHECK_ERROR(load("noshape.npy", npy_file("{'descr': '<f4', 'fortran_order': False, }", eight)),
              "key 'shape' is missing");
  CHECK_ERROR(
      load("extra.npy", npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", eight)),
      "unexpected key 'x'");
  CHECK_ERROR(
      load("negative.npy", npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", eight)),
      "malformed header");
  CHECK_ERROR(
      load("garbage.npy", npy_file("{'descr': '<f4', 'fortran_order': Nope, 'shape': (2,), }", eight)),
      "expected True or False");
  CHECK_ERROR(load("after.npy", npy_file(good + " junk", eight)), "unexpected text after '}'");
  CHECK_ERROR(load("short.npy", npy_file(good, "\x01\x02\x03\x04\x05"s)),
              "should hold 8 bytes of data, found 5 (file truncated?)");
  CHECK_ERROR(load("long.npy", npy_file(good, eight + "x")), "should hold 8 bytes of data, found 9");
  CHECK_ERROR(load("cut.npy", npy_file(good, eight).substr(0, 40)), "declares a 118-byte header");

  // Every proper prefix of a valid file is rejected with a brenier::Error, never a crash.
  io::save_npy(tmp / "whole.npy", Tensor::from_vector<float>({1, 2, 3}, {3, 1}));
  std::string whole = read_bytes(tmp / "whole.npy");
  for (size_t n = 0; n < whole.size(); ++n) CHECK_THROWS_AS(load("prefix.npy", whole.substr(0, n)), Error);
}

// ---------------------------------------------------------------------------------------- checkpoint

TEST_CASE("io: checkpoints round trip tensors and metadata") {
  TempDir tmp;
  std::vector<float> w(2 * 1 * 3 * 2);
  for (size_t k = 0; k < w.size(); ++k) w[k] = static_cast<float>(k) - 5.5f;
  io::save_checkpoint(tmp / "c.safetensors",
                      {{"layer.0.w", Tensor::from_vector(w, {2, 1, 3, 2})},
                       {"layer.0.b", Tensor::from_vector(std::vector<double>{0.1, -0.2})},
                       {"step", Tensor::from_vector(std::vector<int64_t>{123456789012}, {})},
                       {"none", Tensor::from_vector(std::vector<float>{}, {0, 4})}},
                      {{"epoch", "3"}, {"config", "{\"lr\": 0.001}"}});
  io::Checkpoint c = io::load_checkpoint(tmp / "c.safetensors");
  REQUIRE(c.tensors.size() == 4);
  CHECK(c.tensors["layer.0.w"].shape() == Shape{2, 1, 3, 2});
  CHECK(c.tensors["layer.0.w"].to_vector<float>() == w);
  CHECK(c.tensors["layer.0.b"].dtype() == DType::F64);
  CHECK(c.tensors["layer.0.b"].to_vector<double>() == std::vector<double>{0.1, -0.2});
  CHECK(c.tensors["step"].shape() == Shape{});
  CHECK(c.tensors["step"].data<int64_t>()[0] == 123456789012);
  CHECK(c.tensors["none"].shape() == Shape{0, 4});
  CHECK(c.metadata == std::map<std::string, std::string>{{"epoch", "3"}, {"config", "{\"lr\": 0.001}"}});

  io::save_checkpoint(tmp / "empty.safetensors", {});
  CHECK(io::load_checkpoint(tmp / "empty.safetensors").tensors.empty());
  CHECK(tmp.names() == std::vector<std::string>{"c.safetensors", "empty.safetensors"});
}

TEST_CASE("io: checkpoints use the safetensors byte layout") {
  TempDir tmp;
  io::save_checkpoint(tmp / "c.safetensors",
                      {{"w", Tensor::from_vector<float>({1, 2, 3, 4}, {2, 2})},
                       {"n", Tensor::from_vector(std::vector<int64_t>{7}, {})}},
                      {{"epoch", "3"}});
  std::string bytes = read_bytes(tmp / "c.safetensors");
  uint64_t n = 0;
  for (int k = 7; k >= 0; --k) n = (n << 8) | static_cast<unsigned char>(bytes[k]);
  CHECK(n % 8 == 0);  // data 8-byte aligned, as safetensors writes it
  REQUIRE(bytes.size() == 8 + n + 16 + 8);
  auto header = nlohmann::json::parse(bytes.substr(8, n));
  CHECK(header["w"]["dtype"] == "F32");
  CHECK(header["w"]["shape"] == nlohmann::json::array({2, 2}));
  CHECK(header["w"]["data_offsets"] == nlohmann::json::array({0, 16}));
  CHECK(header["n"]["dtype"] == "I64");
  CHECK(header["n"]["shape"] == nlohmann::json::array());
  CHECK(header["n"]["data_offsets"] == nlohmann::json::array({16, 24}));
  CHECK(header["__metadata__"] == nlohmann::json{{"epoch", "3"}});
  CHECK(bytes.substr(8 + n) ==
        "\x00\x00\x80\x3f\x00\x00\x00\x40\x00\x00\x40\x40\x00\x00\x80\x40"
        "\x07\x00\x00\x00\x00\x00\x00\x00"s);
}

TEST_CASE("io: load_checkpoint rejects corrupt files") {
  TempDir tmp;
  auto load = [&](const std::string& name, const std::string& bytes) {
    write_bytes(tmp / name, bytes);
    return io::load_checkpoint(tmp / name);
  };
  auto one = [](const std::string& entry) { return "{\"a\": " + entry + "}"; };
  CHECK_ERROR(io::load_checkpoint(tmp / "missing.safetensors"), "No such file or directory");
  CHECK_ERROR(load("tiny", "abc"), "checkpoint '" + tmp / "tiny" + "': file is 3 bytes, too short");
  std::string long_len = safetensors_file("{}", 0);
  long_len[1] = 1;
  CHECK_ERROR(load("len", long_len), "header length 258 exceeds the 2 bytes after it");
  CHECK_ERROR(load("json", safetensors_file("{\"a\": ", 0)), "header is not valid JSON");
  CHECK_ERROR(load("array", safetensors_file("[1, 2]", 0)), "header must be a JSON object");
  CHECK_ERROR(
      load("f16", safetensors_file(one(R"({"dtype": "F16", "shape": [1], "data_offsets": [0, 2]})"), 2)),
      "tensor 'a' has unsupported dtype 'F16'");
  CHECK_ERROR(load("noshape", safetensors_file(one(R"({"dtype": "F32", "data_offsets": [0, 4]})"), 4)),
              "tensor 'a' has no array 'shape'");
  CHECK_ERROR(load("badshape",
                   safetensors_file(one(R"({"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]})"), 4)),
              "bad shape");
  CHECK_ERROR(
      load("size", safetensors_file(one(R"({"dtype": "F32", "shape": [3], "data_offsets": [0, 8]})"), 8)),
      "tensor 'a' is F32[3] (12 bytes) but its data_offsets [0, 8] span 8 bytes");
  CHECK_ERROR(
      load("reversed", safetensors_file(one(R"({"dtype": "F32", "shape": [0], "data_offsets": [4, 0]})"), 4)),
      "begin after end");
  CHECK_ERROR(
      load("offsets", safetensors_file(one(R"({"dtype": "F32", "shape": [1], "data_offsets": [0]})"), 4)),
      "needs 'data_offsets' [begin, end]");
  CHECK_ERROR(
      load("outside", safetensors_file(one(R"({"dtype": "F32", "shape": [4], "data_offsets": [0, 16]})"), 8)),
      "tensor 'a' data_offsets [0, 16] exceed the 8-byte data section (file truncated?)");
  auto with_b = [](int begin, int end) {  // 'a' holds bytes [0, 8); 'b' holds [begin, end)
    return R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
               "b": {"dtype": "F32", "shape": [2], "data_offsets": [)" +
           std::to_string(begin) + ", " + std::to_string(end) + "]}}";
  };
  CHECK_ERROR(load("overlap", safetensors_file(with_b(4, 12), 12)),
              "tensor 'b' data_offsets [4, 12] overlap tensor 'a'");
  CHECK_ERROR(load("gap", safetensors_file(with_b(12, 20), 20)),
              "bytes [8, 12) of the data section belong to no tensor");
  CHECK_ERROR(load("trailing", safetensors_file(with_b(8, 16), 20)),
              "data section is 20 bytes but the tensors cover 16");
  CHECK_ERROR(load("meta", safetensors_file(R"({"__metadata__": {"epoch": 3}})", 0)),
              "'__metadata__' value for 'epoch' must be a string");

  // A real checkpoint cut short names the tensor whose data is missing.
  io::save_checkpoint(tmp / "good", {{"layer.0.w", Tensor::zeros({4, 4})}});
  std::string good = read_bytes(tmp / "good");
  CHECK_ERROR(load("cut", good.substr(0, good.size() - 4)),
              "tensor 'layer.0.w' data_offsets [0, 64] exceed the 60-byte data section (file truncated?)");
  for (size_t n = 0; n < good.size(); ++n) CHECK_THROWS_AS(load("prefix", good.substr(0, n)), Error);
}

TEST_CASE("io: save_checkpoint rejects bad names and leaves the old file intact") {
  TempDir tmp;
  std::string path = tmp / "c.safetensors";
  io::save_checkpoint(path, {{"w", Tensor::ones({2})}});
  std::string before = read_bytes(path);
  CHECK_ERROR(io::save_checkpoint(path, {{"w", Tensor::zeros({2})}, {"w", Tensor::zeros({3})}}),
              "'w' appears twice");
  CHECK_ERROR(io::save_checkpoint(path, {{"__metadata__", Tensor::zeros({2})}}), "reserved");
  CHECK_ERROR(io::save_checkpoint(path, {{"w", Tensor()}}), "'w' is an undefined tensor");
  CHECK(read_bytes(path) == before);
  CHECK(tmp.names() == std::vector<std::string>{"c.safetensors"});
}

// -------------------------------------------------------------------------------------- atomic writes

TEST_CASE("io: write_file_atomic replaces the file and leaves no temp behind") {
  TempDir tmp;
  io::write_file_atomic(tmp / "f", "old contents");
  io::write_file_atomic(tmp / "f", "new");
  CHECK(read_bytes(tmp / "f") == "new");
  CHECK(tmp.names() == std::vector<std::string>{"f"});
}

TEST_CASE("io: a failed atomic write leaves the existing file intact") {
  TempDir tmp;
  std::string path = tmp / "f";
  io::write_file_atomic(path, "precious");

  CHECK_ERROR(io::write_file_atomic(tmp / "no_such_dir/f", "x"), "no_such_dir/f': No such file or directory");

  // rename() cannot replace a non-empty directory: the error names it and the temp is cleaned up.
  fs::create_directories(tmp.dir / "dir" / "inside");
  CHECK_ERROR(io::write_file_atomic(tmp / "dir", "x"), "over '" + tmp / "dir" + "' failed: Is a directory");
  CHECK(fs::is_directory(tmp.dir / "dir" / "inside"));

  {  // An error while streaming: readers see the old file throughout, and the temp disappears.
    io::AtomicFile file(path);
    file.write("partial");
    CHECK(fs::exists(file.temp_path()));
    CHECK(file.temp_path().starts_with(path + ".tmp."));
    CHECK(read_bytes(path) == "precious");
  }
  CHECK(read_bytes(path) == "precious");
  CHECK(tmp.names() == std::vector<std::string>{"dir", "f"});
}

TEST_CASE("io: a crash mid-write does not clobber the original") {
  TempDir tmp;
  std::string path = tmp / "model.safetensors";
  io::save_checkpoint(path, {{"w", Tensor::ones({3})}});
  std::string before = read_bytes(path);

  // The child starts replacing the file and dies without cleanup (no destructors, no commit).
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    io::AtomicFile file(path);
    file.write("half a checkpoint");
    _exit(0);
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));

  CHECK(read_bytes(path) == before);
  auto names = tmp.names();
  REQUIRE(names.size() == 2);  // the original and the dead writer's temp
  CHECK(names[1].starts_with("model.safetensors.tmp."));
  CHECK(io::load_checkpoint(path).tensors.at("w").to_vector<float>() == std::vector<float>{1, 1, 1});

  // The next save succeeds next to the stale temp (it may belong to a live writer, so it stays).
  io::save_checkpoint(path, {{"w", Tensor::zeros({2})}});
  CHECK(io::load_checkpoint(path).tensors.at("w").to_vector<float>() == std::vector<float>{0, 0});
  CHECK(tmp.names() == names);
}
