// Table formatting and the results/metrics writers declared in results.h.
#include "tools/common/results.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "engine/error.h"
#include "engine/io/atomic_file.h"

namespace brenier::tools {

// ---------------------------------------------------------------------------------------------
// Table

Table::Table(std::vector<std::string> columns, int decimals)
    : columns_(std::move(columns)), decimals_(decimals) {
  BRENIER_CHECK(!columns_.empty(),
                "Table: argument 'columns' must name at least one column, got none");
  BRENIER_CHECK(decimals_ >= 0 && decimals_ <= 17,
                "Table: argument 'decimals' must be in [0, 17], got {}", decimals_);
}

void Table::add_row(std::vector<Cell> cells) {
  BRENIER_CHECK(cells.size() == columns_.size(),
                "Table::add_row: argument 'cells' must have one cell per column ({}), got {}",
                columns_.size(), cells.size());
  rows_.push_back(std::move(cells));
}

std::string Table::format_cell(const Cell& cell) const {
  if (const auto* text = std::get_if<std::string>(&cell)) {
    // A '|' would end the cell early in Markdown.
    std::string escaped;
    for (char c : *text) {
      if (c == '|') escaped += '\\';
      escaped += c;
    }
    return escaped;
  }
  if (const auto* integer = std::get_if<int64_t>(&cell)) return fmt::format("{}", *integer);
  return fmt::format("{:.{}f}", std::get<double>(cell), decimals_);
}

std::string Table::to_markdown() const {
  const size_t n = columns_.size();
  std::vector<std::vector<std::string>> text(rows_.size(), std::vector<std::string>(n));
  std::vector<size_t> width(n, 3);  // "---" is the shortest separator Markdown accepts
  std::vector<bool> numeric(n, !rows_.empty());
  for (size_t c = 0; c < n; ++c) width[c] = std::max(width[c], columns_[c].size());
  for (size_t r = 0; r < rows_.size(); ++r) {
    for (size_t c = 0; c < n; ++c) {
      text[r][c] = format_cell(rows_[r][c]);
      width[c] = std::max(width[c], text[r][c].size());
      if (std::holds_alternative<std::string>(rows_[r][c])) numeric[c] = false;
    }
  }
  auto cell = [&](const std::string& s, size_t c) {
    return numeric[c] ? fmt::format(" {:>{}} |", s, width[c])
                      : fmt::format(" {:<{}} |", s, width[c]);
  };
  std::string out = "|";
  for (size_t c = 0; c < n; ++c) out += cell(columns_[c], c);
  out += "\n|";
  for (size_t c = 0; c < n; ++c) {
    out += numeric[c] ? fmt::format(" {:->{}}: |", "", width[c] - 1)
                      : fmt::format(" {:->{}} |", "", width[c]);
  }
  out += "\n";
  for (const auto& row : text) {
    out += "|";
    for (size_t c = 0; c < n; ++c) out += cell(row[c], c);
    out += "\n";
  }
  return out;
}

nlohmann::json Table::to_json() const {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& row : rows_) {
    nlohmann::json object = nlohmann::json::object();
    for (size_t c = 0; c < columns_.size(); ++c) {
      std::visit([&](const auto& v) { object[columns_[c]] = v; }, row[c]);
    }
    rows.push_back(std::move(object));
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Files

void write_json(const std::filesystem::path& path, const nlohmann::json& value) {
  io::write_file_atomic(path.string(), value.dump(2) + "\n");
}

void write_text(const std::filesystem::path& path, const std::string& text) {
  io::write_file_atomic(path.string(), text);
}

void append_jsonl(const std::filesystem::path& path, const nlohmann::json& record) {
  const std::string line = record.dump() + "\n";
  std::FILE* file = std::fopen(path.c_str(), "ab");
  BRENIER_CHECK(file != nullptr, "append_jsonl: cannot open '{}' for appending: {}", path.string(),
                std::strerror(errno));
  const bool wrote = std::fwrite(line.data(), 1, line.size(), file) == line.size();
  const bool flushed = std::fflush(file) == 0;
  const bool closed = std::fclose(file) == 0;
  BRENIER_CHECK(wrote && flushed && closed, "append_jsonl: writing to '{}' failed: {}",
                path.string(), std::strerror(errno));
}

namespace {

void check_path_component(const std::string& value, const char* arg) {
  BRENIER_CHECK(
      !value.empty() && value != "." && value != ".." && value.find('/') == std::string::npos,
      "make_run_dir: argument '{}' must be one non-empty folder name (no '/', '.' or '..'), "
      "got '{}'",
      arg, value);
}

std::string local_timestamp() {
  std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char text[32];
  std::strftime(text, sizeof text, "%Y%m%d-%H%M%S", &local);
  return text;
}

}  // namespace

std::filesystem::path make_run_dir(const std::filesystem::path& base, const std::string& tool,
                                   const std::string& experiment) {
  check_path_component(tool, "tool");
  check_path_component(experiment, "experiment");
  namespace fs = std::filesystem;
  const fs::path parent = base / tool / experiment;
  std::error_code ec;
  fs::create_directories(parent, ec);
  BRENIER_CHECK(!ec, "make_run_dir: cannot create '{}': {}", parent.string(), ec.message());

  // create_directory reports whether it made the folder, so two processes never share one.
  const std::string stamp = local_timestamp();
  fs::path run;
  for (int attempt = 1;; ++attempt) {
    BRENIER_CHECK(attempt <= 1000, "make_run_dir: too many runs named '{}' in '{}'", stamp,
                  parent.string());
    run = parent / (attempt == 1 ? stamp : fmt::format("{}-{}", stamp, attempt));
    bool created = fs::create_directory(run, ec);
    BRENIER_CHECK(!ec, "make_run_dir: cannot create '{}': {}", run.string(), ec.message());
    if (created) break;
  }
  for (const char* sub : {"figures", "checkpoints"}) {
    fs::create_directory(run / sub, ec);
    BRENIER_CHECK(!ec, "make_run_dir: cannot create '{}': {}", (run / sub).string(), ec.message());
  }
  return run;
}

}  // namespace brenier::tools
