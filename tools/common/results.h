// Results files every tool writes into its run folder: a Markdown/JSON Table, results.json and
// results.md (written atomically), metrics.jsonl (one JSON object per line), and the run folder
// itself (runs/<tool>/<experiment>/<YYYYmmdd-HHMMSS>/ with figures/ and checkpoints/).
#pragma once
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <variant>
#include <vector>

namespace brenier::tools {

// A small results table: named columns, rows of text or numbers. Doubles print with a fixed number
// of decimals; a column whose cells are all numbers is right-aligned.
class Table {
 public:
  using Cell = std::variant<std::string, int64_t, double>;

  explicit Table(std::vector<std::string> columns, int decimals = 4);

  // One cell per column, in column order. Throws brenier::Error when the count differs.
  void add_row(std::vector<Cell> cells);

  const std::vector<std::string>& columns() const { return columns_; }
  size_t num_rows() const { return rows_.size(); }

  // "| a | b |\n|---|--:|\n| x | 1.0000 |\n": cells padded so the source reads as a table too.
  std::string to_markdown() const;
  // [{"a": "x", "b": 1.0}, ...]: numbers stay numbers (full precision) for scripts reading
  // results.json.
  nlohmann::json to_json() const;

 private:
  std::string format_cell(const Cell& cell) const;

  std::vector<std::string> columns_;
  std::vector<std::vector<Cell>> rows_;
  int decimals_;
};

// Whole-file writes, atomic (temp file in the same folder, fsync, rename). JSON is indented by 2.
void write_json(const std::filesystem::path& path, const nlohmann::json& value);
void write_text(const std::filesystem::path& path, const std::string& text);

// Appends `record` as one line (compact JSON + '\n') and flushes, so metrics.jsonl can be tailed
// while a run is going and survives a crash up to the last full line.
void append_jsonl(const std::filesystem::path& path, const nlohmann::json& record);

// Creates <base>/<tool>/<experiment>/<YYYYmmdd-HHMMSS>/ (local time) with figures/ and checkpoints/
// inside, and returns it. Two runs started in the same second get "-2", "-3", ... suffixes.
// `tool` and `experiment` must be single, non-empty path components.
std::filesystem::path make_run_dir(const std::filesystem::path& base, const std::string& tool,
                                   const std::string& experiment);

}  // namespace brenier::tools
