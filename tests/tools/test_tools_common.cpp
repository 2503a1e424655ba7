// Tests for tools/common: results files, the PNG canvas (re-read through libpng's reader), the CLI
// exit-code policy and the progress line. Expected values are worked out by hand, not by the code.
#include <doctest/doctest.h>
#include <png.h>
#include <pty.h>
#include <unistd.h>

#include <csignal>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "engine/error.h"
#include "tools/common/cli.h"
#include "tools/common/png.h"
#include "tools/common/progress.h"
#include "tools/common/results.h"
#include "tools/common/stop_signal.h"

namespace fs = std::filesystem;
using namespace brenier::tools;

// Failed colour checks print "(r,g,b,a)" instead of "{?}".
template <>
struct doctest::StringMaker<Rgba> {
  static doctest::String convert(const Rgba& c) {
    return ("(" + std::to_string(c.r) + "," + std::to_string(c.g) + "," + std::to_string(c.b) +
            "," + std::to_string(c.a) + ")")
        .c_str();
  }
};

namespace {

// A fresh folder under the system temp dir, removed with everything in it at scope exit.
struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() /
           ("brenier-test-tools-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  static int& counter() {
    static int n = 0;
    return n;
  }
};

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string read_all(std::FILE* file) {
  std::fflush(file);
  std::rewind(file);
  std::string text;
  for (int c; (c = std::fgetc(file)) != EOF;) text += static_cast<char>(c);
  return text;
}

// The brenier::Error message `f` throws, or nothing when it does not throw one.
template <class F>
std::optional<std::string> error_message(F&& f) {
  try {
    f();
  } catch (const brenier::Error& e) {
    return std::string(e.what());
  }
  return std::nullopt;
}

size_t count_lines(const std::string& text) {
  size_t n = 0;
  for (char c : text) n += c == '\n';
  return n;
}

// Decodes a PNG with libpng's reader into 8-bit RGBA.
struct DecodedPng {
  int width = 0, height = 0;
  std::vector<uint8_t> rgba;
  Rgba at(int x, int y) const {
    const uint8_t* p = &rgba[(static_cast<size_t>(y) * width + x) * 4];
    return {p[0], p[1], p[2], p[3]};
  }
};

DecodedPng read_png(const fs::path& path) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  REQUIRE_MESSAGE(png_image_begin_read_from_file(&image, path.c_str()) != 0, image.message);
  image.format = PNG_FORMAT_RGBA;
  DecodedPng out;
  out.width = static_cast<int>(image.width);
  out.height = static_cast<int>(image.height);
  out.rgba.resize(PNG_IMAGE_SIZE(image));
  REQUIRE_MESSAGE(png_image_finish_read(&image, nullptr, out.rgba.data(), 0, nullptr) != 0,
                  image.message);
  return out;
}

bool near(Rgba a, Rgba b, int tolerance = 1) {
  return std::abs(a.r - b.r) <= tolerance && std::abs(a.g - b.g) <= tolerance &&
         std::abs(a.b - b.b) <= tolerance && std::abs(a.a - b.a) <= tolerance;
}

std::string str(Rgba c) {
  return "(" + std::to_string(c.r) + "," + std::to_string(c.g) + "," + std::to_string(c.b) + "," +
         std::to_string(c.a) + ")";
}

// Unsets CI for the scope, so the TTY test sees a terminal even when the suite runs under CI.
struct WithoutCiEnv {
  std::optional<std::string> saved;
  WithoutCiEnv() {
    if (const char* ci = std::getenv("CI")) saved = ci;
    ::unsetenv("CI");
  }
  ~WithoutCiEnv() {
    if (saved) ::setenv("CI", saved->c_str(), 1);
  }
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// results

TEST_CASE("tools: Table renders an aligned Markdown table") {
  Table table({"method", "W2", "iters"}, 3);
  table.add_row({std::string("hotet"), 0.12345, int64_t{100}});
  table.add_row({std::string("otnet"), 2.5, int64_t{20000}});
  CHECK(table.to_markdown() ==
        "| method |    W2 | iters |\n"
        "| ------ | ----: | ----: |\n"
        "| hotet  | 0.123 |   100 |\n"
        "| otnet  | 2.500 | 20000 |\n");
}

TEST_CASE("tools: Table escapes pipes, keeps mixed columns left-aligned, rejects short rows") {
  Table table({"a", "b"}, 1);
  table.add_row({std::string("x|y"), 1.25});
  table.add_row({std::string("z"), std::string("n/a")});
  CHECK(table.to_markdown() ==
        "| a    | b   |\n"
        "| ---- | --- |\n"
        "| x\\|y | 1.2 |\n"
        "| z    | n/a |\n");
  auto message = error_message([&] { table.add_row({std::string("only one")}); });
  REQUIRE(message);
  CHECK(message->find("one cell per column (2), got 1") != std::string::npos);
  CHECK(table.num_rows() == 2);
}

TEST_CASE("tools: Table to_json keeps full-precision numbers") {
  Table table({"name", "value", "count"}, 2);
  table.add_row({std::string("w2"), 0.123456789, int64_t{7}});
  CHECK(table.to_json() ==
        nlohmann::json::parse(R"([{"name": "w2", "value": 0.123456789, "count": 7}])"));
}

TEST_CASE("tools: write_json and write_text replace files and leave no temp files") {
  TempDir dir;
  const fs::path path = dir.path / "results.json";
  nlohmann::json first = {{"w2", 0.5}, {"dims", {2, 4, 8}}, {"name", "hotet"}};
  write_json(path, first);
  CHECK(nlohmann::json::parse(read_all(path)) == first);

  nlohmann::json second = {{"w2", 0.25}};
  write_json(path, second);
  CHECK(nlohmann::json::parse(read_all(path)) == second);

  write_text(dir.path / "results.md", "# Results\n");
  CHECK(read_all(dir.path / "results.md") == "# Results\n");

  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir.path)) {
    ++files;
    CHECK_MESSAGE(entry.path().filename().string().find(".tmp") == std::string::npos,
                  entry.path().string());
  }
  CHECK(files == 2);

  auto message = error_message([&] { write_text(dir.path / "no-such-dir" / "x.md", "x"); });
  REQUIRE(message);
  CHECK(message->find("no-such-dir") != std::string::npos);
}

TEST_CASE("tools: append_jsonl writes one JSON object per line") {
  TempDir dir;
  const fs::path path = dir.path / "metrics.jsonl";
  append_jsonl(path, {{"step", 1}, {"loss", 2.5}});
  append_jsonl(path, {{"step", 2}, {"loss", 1.5}});
  std::ifstream in(path);
  std::string line;
  std::vector<nlohmann::json> records;
  while (std::getline(in, line)) records.push_back(nlohmann::json::parse(line));
  REQUIRE(records.size() == 2);
  CHECK(records[0]["step"] == 1);
  CHECK(records[1]["loss"] == 1.5);
}

TEST_CASE("tools: make_run_dir creates runs/<tool>/<experiment>/<stamp>/ with subfolders") {
  TempDir dir;
  fs::path first = make_run_dir(dir.path / "runs", "hotet", "gaussians");
  fs::path second = make_run_dir(dir.path / "runs", "hotet", "gaussians");
  CHECK(first != second);
  for (const fs::path& run : {first, second}) {
    CHECK(run.parent_path() == dir.path / "runs" / "hotet" / "gaussians");
    CHECK(fs::is_directory(run / "figures"));
    CHECK(fs::is_directory(run / "checkpoints"));
  }
  // YYYYmmdd-HHMMSS: 8 digits, '-', 6 digits.
  const std::string stamp = first.filename().string();
  REQUIRE(stamp.size() == 15);
  CHECK(stamp[8] == '-');
  for (size_t i : {0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14}) CHECK(std::isdigit(stamp[i]));

  CHECK(error_message([&] { make_run_dir(dir.path, "../evil", "x"); }));
  CHECK(error_message([&] { make_run_dir(dir.path, "hotet", ""); }));
}

// ---------------------------------------------------------------------------------------------
// PNG canvas

TEST_CASE("tools: Canvas draws points, lines and alpha blends; PNG round-trips through libpng") {
  TempDir dir;
  // 40x30 pixels, no padding, data [0, 4] x [0, 3]: 10 pixels per data unit, y up.
  Canvas canvas(40, 30, colors::white, 0);
  canvas.set_bounds({0, 4, 0, 3});
  const Rgba red{255, 0, 0, 255};
  canvas.point({1, 1}, red, 3);                           // centre pixel (10, 20)
  canvas.point({3, 2}, Rgba{0, 0, 255, 128}, 3);          // half-transparent, centre (30, 10)
  canvas.line({0, 2.45}, {4, 2.45}, colors::black, 1.0);  // pixel row 5 (centre y = 5.5)
  canvas.point({1e300, -1e300}, red, 3);                  // far outside: clipped, no crash
  canvas.line({2, 0.05}, {2, -1e300}, red, 1.0);          // ends far below: clipped to the canvas

  const fs::path path = dir.path / "figure.png";
  canvas.save(path);
  DecodedPng png = read_png(path);
  REQUIRE(png.width == 40);
  REQUIRE(png.height == 30);

  CHECK_MESSAGE(png.at(10, 20) == red, str(png.at(10, 20)));
  CHECK_MESSAGE(png.at(35, 25) == colors::white, str(png.at(35, 25)));  // untouched background
  // Blue at alpha 128/255 over white: r = g = 255 * (1 - 128/255) = 127, b = 255, opaque.
  CHECK_MESSAGE(near(png.at(30, 10), Rgba{127, 127, 255, 255}), str(png.at(30, 10)));
  CHECK_MESSAGE(png.at(20, 5) == colors::black, str(png.at(20, 5)));
  CHECK_MESSAGE(png.at(20, 3) == colors::white, str(png.at(20, 3)));
  // The point has radius 3: 5 pixels from its centre is background again.
  CHECK_MESSAGE(png.at(15, 20) == colors::white, str(png.at(15, 20)));
  // The clipped vertical line through pixel column 20 (centre x = 20.0 covers 19 and 20 half each).
  CHECK_MESSAGE(png.at(20, 29) != colors::white, str(png.at(20, 29)));
  CHECK_MESSAGE(png.at(22, 29) == colors::white, str(png.at(22, 29)));
  // The decoded image equals what the canvas holds.
  CHECK(png.at(30, 10) == canvas.pixel(30, 10));
}

TEST_CASE("tools: Canvas arrow reaches its tip; frame surrounds the plot area") {
  Canvas canvas(50, 50, colors::white, 5);
  canvas.set_bounds({-1, 1, -1, 1});
  canvas.frame(colors::black, true);
  // Frame lines sit just outside the 40x40 plotting area starting at pixel 5.
  CHECK(canvas.pixel(4, 20) == colors::black);
  CHECK(canvas.pixel(45, 20) == colors::black);
  CHECK(canvas.pixel(20, 4) == colors::black);
  CHECK(canvas.pixel(20, 45) == colors::black);
  CHECK(canvas.pixel(20, 20) == colors::white);
  CHECK(canvas.pixel(25, 10) == colors::light_gray);  // x = 0 maps to pixel column 25

  // Arrow from (-0.5, -0.5) to (0.5, -0.5): pixel x 15 -> 35 along y = 35.0 (between rows 34 and
  // 35); the 8-pixel head has its base at x = 27 and is 6.4 pixels wide there.
  const Rgba green{0, 160, 0, 255};
  canvas.arrow({-0.5, -0.5}, {0.5, -0.5}, green, 2.0, 8.0);
  CHECK(canvas.pixel(18, 34) == green);  // shaft, 2 pixels thick
  CHECK(canvas.pixel(18, 35) == green);
  CHECK(canvas.pixel(18, 37) == colors::white);
  CHECK(canvas.pixel(28, 33) == green);  // head, wider than the shaft
  CHECK(canvas.pixel(28, 36) == green);
  CHECK(canvas.pixel(34, 35) != colors::white);  // near the tip (partly covered)
  CHECK(canvas.pixel(34, 32) == colors::white);  // the head narrows toward the tip
  CHECK(canvas.pixel(37, 35) == colors::white);  // nothing past the tip
}

TEST_CASE("tools: bounds_of and scatter_plot fit the data with a margin") {
  std::vector<Point2> points = {{0, 0}, {10, 20}};
  Bounds b = bounds_of(points, 0.1);
  CHECK(b.xmin == doctest::Approx(-1));
  CHECK(b.xmax == doctest::Approx(11));
  CHECK(b.ymin == doctest::Approx(-2));
  CHECK(b.ymax == doctest::Approx(22));

  std::vector<Point2> single = {{3, 3}};
  Bounds s = bounds_of(single, 0.0);
  CHECK(s.xmin == doctest::Approx(2.5));
  CHECK(s.xmax == doctest::Approx(3.5));

  Canvas plot = scatter_plot({points, {{5, 10}}}, 100, 100, 2.0, 1.0);
  CHECK(plot.bounds().xmin < 0);
  CHECK(plot.bounds().ymax > 20);
  Point2 centre = plot.to_pixel({5, 10});
  CHECK(plot.pixel(static_cast<int>(centre.x), static_cast<int>(centre.y)) == palette_color(1));

  CHECK(error_message([] {
    Canvas c(10, 10, colors::white, 0);
    c.set_bounds({1, 1, 0, 1});
  }));
  CHECK(error_message([] { Canvas c(0, 10); }));
}

// ---------------------------------------------------------------------------------------------
// CLI

namespace {

struct CliRun {
  int code = -1;
  bool body_ran = false;
  int64_t iters = 0;
  std::string out, err;
};

// Runs a tiny tool with an --iters flag; `body` decides what the run does.
CliRun run_tool(
    std::vector<const char*> args, const std::function<int()>& body = [] { return 0; }) {
  CLI::App app("test tool", "tool");
  CliRun result;
  app.add_option("--iters", result.iters, "iterations");
  args.insert(args.begin(), "tool");
  std::ostringstream out, err;
  result.code = run_cli(
      app, static_cast<int>(args.size()), args.data(),
      [&] {
        result.body_ran = true;
        return body();
      },
      out, err);
  result.out = out.str();
  result.err = err.str();
  return result;
}

}  // namespace

TEST_CASE("tools: the first SIGTERM / SIGINT only raises the stop flag; run_cli maps Stopped to 128 + signal") {
  struct sigaction before {};
  sigaction(SIGTERM, nullptr, &before);
  {
    const StopOnSignal guard;
    CHECK_FALSE(stop_requested());
    std::raise(SIGTERM);  // handled: the process goes on
    CHECK(stop_requested());
    CHECK(stop_signal() == SIGTERM);
    CliRun r = run_tool({}, []() -> int { throw Stopped("train: stopped at step 7, saved in 'ck'"); });
    CHECK(r.code == 128 + SIGTERM);
    CHECK(r.err == "stopped: train: stopped at step 7, saved in 'ck'\n");
    // The handler ran once (SA_RESETHAND): a second signal would take the default action.
    struct sigaction now {};
    sigaction(SIGTERM, nullptr, &now);
    const bool default_action = now.sa_handler == SIG_DFL;
    CHECK(default_action);
  }
  struct sigaction after {};
  sigaction(SIGTERM, nullptr, &after);
  const bool restored = after.sa_handler == before.sa_handler;
  CHECK(restored);  // the guard restored what was there
  const StopOnSignal fresh;                      // a new guard starts unflagged
  CHECK_FALSE(stop_requested());
  CHECK(Stopped("x").exit_code() == 128 + SIGINT);  // no signal seen: Ctrl-C's code
}

TEST_CASE("tools: run_cli maps parse errors and thrown errors to exit codes") {
  SUBCASE("good flags run the body and return its code") {
    CliRun r = run_tool({"--iters", "12"}, [] { return 0; });
    CHECK(r.code == 0);
    CHECK(r.body_ran);
    CHECK(r.iters == 12);
  }
  SUBCASE("unknown flag is a usage error") {
    CliRun r = run_tool({"--bogus"});
    CHECK(r.code == 2);
    CHECK_FALSE(r.body_ran);
    CHECK_MESSAGE(r.err.find("--bogus") != std::string::npos, r.err);
  }
  SUBCASE("non-numeric value is a usage error") {
    CliRun r = run_tool({"--iters", "abc"});
    CHECK(r.code == 2);
    CHECK_FALSE(r.body_ran);
    CHECK_MESSAGE(r.err.find("abc") != std::string::npos, r.err);
  }
  SUBCASE("brenier::Error from the body prints 'error: ' and returns 2") {
    CliRun r = run_tool(
        {}, []() -> int { throw brenier::Error("hotet: argument 'dim' must be > 0, got 0"); });
    CHECK(r.code == 2);
    CHECK(r.err == "error: hotet: argument 'dim' must be > 0, got 0\n");
  }
  SUBCASE("any other exception is an internal error, code 1") {
    CliRun r = run_tool({}, []() -> int { throw std::runtime_error("boom"); });
    CHECK(r.code == 1);
    CHECK(r.err == "internal error: boom\n");
  }
  SUBCASE("--help prints usage and returns 0 without running") {
    CliRun r = run_tool({"--help"});
    CHECK(r.code == 0);
    CHECK_FALSE(r.body_ran);
    CHECK(r.out.find("--iters") != std::string::npos);
  }
}

TEST_CASE("tools: parse_int_list accepts integer lists and names the flag on bad input") {
  CHECK(parse_int_list("2,4,8", "--dims") == std::vector<int64_t>{2, 4, 8});
  CHECK(parse_int_list(" 16 , -3,+5", "--dims") == std::vector<int64_t>{16, -3, 5});
  CHECK(parse_int_list("7", "--dims") == std::vector<int64_t>{7});
  CHECK(parse_int_list("9223372036854775807", "--dims") ==
        std::vector<int64_t>{9223372036854775807LL});

  for (const char* bad : {"", " ", "2,,4", "2,4,", ",2", "a", "2.5", "1e3", "4x", "+-3", "--3",
                          "99999999999999999999"}) {
    auto message = error_message([&] { parse_int_list(bad, "--dims"); });
    REQUIRE_MESSAGE(message, "no error for '" << bad << "'");
    CHECK_MESSAGE(message->rfind("--dims: ", 0) == 0, *message);
  }
  auto message = error_message([] { parse_int_list("2,x,8", "--dims"); });
  REQUIRE(message);
  CHECK(*message ==
        "--dims: expected a comma-separated list of integers such as 2,4,8, got '2,x,8' (item 2 "
        "'x' is "
        "not an integer)");
}

// ---------------------------------------------------------------------------------------------
// Progress

TEST_CASE("tools: progress line text, durations and ETA") {
  CHECK(format_duration(7) == "0:07");
  CHECK(format_duration(754) == "12:34");
  CHECK(format_duration(3723) == "1:02:03");
  // 250 steps in 5 s is 50 it/s; 750 steps left take 15 s.
  CHECK(format_progress_line("train", 250, 1000, {{"loss", 0.1234}}, 5.0) ==
        "train 250/1000 25% loss=0.1234 | 50.0 it/s | ETA 0:15");
  // Slower than one step a second shows seconds per step.
  CHECK(format_progress_line("fit", 2, 10, {}, 8.0) == "fit 2/10 20% | 4.00 s/it | ETA 0:32");
  CHECK(format_progress_line("fit", 0, 10, {}, 0.0) == "fit 0/10 0%");
  // Resumed at step 6: 2 steps in 8 s this session, 2 left.
  CHECK(format_progress_line("fit", 8, 10, {}, 8.0, 6) == "fit 8/10 80% | 4.00 s/it | ETA 0:08");
  CHECK(format_progress_line("fit", 6, 10, {}, 1.0, 6) == "fit 6/10 60%");
}

TEST_CASE("tools: Progress in a log (not a TTY) prints every 10%, or nothing when quiet") {
  SUBCASE("quiet") {
    std::FILE* log = std::tmpfile();
    REQUIRE(log);
    {
      Progress progress("train", 100, /*quiet=*/true, log);
      CHECK_FALSE(progress.interactive());
      for (int64_t step = 1; step <= 100; ++step) progress.update(step, {{"loss", 1.0 / step}});
      progress.finish();
    }
    CHECK(read_all(log).empty());
    std::fclose(log);
  }
  SUBCASE("not quiet") {
    std::FILE* log = std::tmpfile();
    REQUIRE(log);
    {
      Progress progress("train", 100, /*quiet=*/false, log);
      for (int64_t step = 1; step <= 100; ++step) progress.update(step, {{"loss", 0.5}});
      progress.finish();
    }
    const std::string text = read_all(log);
    CHECK_MESSAGE(count_lines(text) == 11, text);  // 10%, 20%, ..., 100%, then "done"
    CHECK(text.find('\r') == std::string::npos);
    CHECK(text.rfind("train 10/100 10% loss=0.5", 0) == 0);
    CHECK(text.find("train 100/100 100%") != std::string::npos);
    CHECK(text.find("train done: 100/100 steps in") != std::string::npos);
    std::fclose(log);
  }
  SUBCASE("step out of range") {
    std::FILE* log = std::tmpfile();
    REQUIRE(log);
    Progress progress("train", 10, false, log);
    auto message = error_message([&] { progress.update(11); });
    REQUIRE(message);
    CHECK(*message == "Progress::update: argument 'step' must be in [0, 10], got 11");
    std::fclose(log);
  }
}

TEST_CASE("tools: Progress on a terminal redraws one line with '\\r', rate-limited") {
  WithoutCiEnv no_ci;
  int leader = -1, follower = -1;
  if (::openpty(&leader, &follower, nullptr, nullptr, nullptr) != 0) {
    MESSAGE("skipped: no pseudo-terminal available (openpty failed)");
    return;
  }
  std::FILE* terminal = ::fdopen(follower, "w");
  REQUIRE(terminal);
  {
    Progress progress("train", 1000, false, terminal);
    CHECK(progress.interactive());
    // 1000 updates in well under 200 ms: the first and the last are drawn, the rest skipped.
    for (int64_t step = 1; step <= 1000; ++step) progress.update(step);
    progress.finish();
  }
  std::fclose(terminal);
  std::string text;
  char buffer[4096];
  for (ssize_t n; (n = ::read(leader, buffer, sizeof buffer)) > 0;) text.append(buffer, n);
  ::close(leader);
  const size_t redraws =
      std::count(text.begin(), text.end(), '\r') - count_lines(text);  // tty adds \r before \n
  CHECK_MESSAGE(redraws <= 5, text);
  CHECK(text.find("train 1/1000") != std::string::npos);
  CHECK(text.find("train 1000/1000 100%") != std::string::npos);
  CHECK(text.back() == '\n');
}
