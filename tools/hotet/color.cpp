// hotet color: color transfer on photographs (paper §IV-D, spec/algorithms.md §1.9). Each image's pixel
// colors, scaled to [0, 1]³, are a point cloud; HOTET maps a source's colors onto a reference's colors and
// the recolored image keeps the source's pixels in place with the mapped colors. Three parts, one after the
// other, each in the same run folder:
//
//   one-to-one    one source → the reference (B = 1 distribution per step).
//   many-to-one   ≥ 4 sources → the reference, one model (the paper: 8 images per step, §1.6). With fewer
//                 images than that, quadrant crops of the images (and of the reference) are added as sources.
//   in-context    the many-to-one model, fine-tuned for 50 steps (paper §IV-D) on images it never saw;
//                 the maps before fine-tuning (zero-shot: embedding + hypernetwork only) are shown too.
//
// Training subsamples `batch` pixels per image per step (§1.6: 1024); the output maps every pixel (§1.9,
// clipped to [0, 1]). Solver: MM-B by default, as the paper's text says (§IV-D); the reference code trains color
// transfer with a W2GN-style cycle loss instead (§1.4): --method w2gn (HotetMethod::W2GN). ICNN sizes are the W2B
// ones (§1.1), hypernetwork hidden [max(2D, 64)] × 3 = [64, 64, 64] (§1.2). At D = 3 the reference
// transformer's LayerNorm over 3 channels collapses the points (NOTES.md, "HOTET layers"), so the embedding
// lifts to --embed-width first (ours: 16, 4 heads).
//
// Score per panel: the exact W2 (Hungarian, ot/discrete/assignment.h) between `eval_points` random mapped
// pixels and as many random reference pixels, beside the identity's (source vs reference) and a floor, the W2
// between two independent reference subsamples (what sampling alone costs). RGB units in [0, 1].
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cctype>
#include <cmath>
#include <iostream>
#include <memory>

#include "engine/ops/ops.h"
#include "ot/discrete/assignment.h"
#include "tools/common/cli.h"
#include "tools/common/image.h"
#include "tools/common/progress.h"
#include "tools/common/stop_signal.h"
#include "tools/common/results.h"
#include "tools/common/run_folder.h"
#include "tools/common/seed_mix.h"
#include "tools/common/shared_data.h"
#include "tools/hotet/gm_world.h"
#include "tools/hotet/tool.h"

namespace brenier::hotet_tool {
namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kExperiment = "color";
constexpr int64_t kDim = 3;
constexpr double kPretrainTolerance = 1e-2;  // color variant of identity pre-training (§1.5)

// Each part draws from its own streams: the `dim` slot of stream() carries the part's tag.
enum class Part : int64_t { OneToOne = 1, ManyToOne = 2, InContext = 3 };
int64_t tag(Part part) { return kDim + 1000 * static_cast<int64_t>(part); }
const char* part_name(Part part) {
  return part == Part::OneToOne ? "one-to-one" : part == Part::ManyToOne ? "many-to-one" : "in-context";
}
const char* part_file(Part part) {
  return part == Part::OneToOne ? "one_to_one" : part == Part::ManyToOne ? "many_to_one" : "in_context";
}

struct Picture {
  std::string name;  // how results.md names it: a file name, or "china.jpg, top-left quadrant"
  tools::RgbImage image;
  Tensor colors;     // [pixels, 3] f32 in [0, 1]
};

Tensor colors_of(const tools::RgbImage& image) {
  std::vector<float> v(image.pixels.size());
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(image.pixels[i]) / 255.0f;
  return Tensor::from_vector(v, {image.width * image.height, kDim});
}

Picture picture(std::string name, tools::RgbImage image) {
  BRENIER_CHECK(image.width * image.height >= 2, "hotet color: image '{}' has {} pixels; at least 2 are needed", name,
                image.width * image.height);
  Tensor colors = colors_of(image);
  return {std::move(name), std::move(image), std::move(colors)};
}

// The image with `colors` [pixels, 3] (clipped to [0, 1], §1.9) in its pixels' places.
tools::RgbImage recolored(const tools::RgbImage& image, const Tensor& colors) {
  const std::vector<float> c = colors.to(DType::F32).to_vector<float>();
  tools::RgbImage out = image;
  for (size_t i = 0; i < out.pixels.size(); ++i)
    out.pixels[i] = static_cast<uint8_t>(std::lround(std::clamp(c[i], 0.0f, 1.0f) * 255.0f));
  return out;
}

tools::RgbImage crop(const tools::RgbImage& image, int64_t x0, int64_t y0, int64_t w, int64_t h) {
  tools::RgbImage out{w, h, std::vector<uint8_t>(static_cast<size_t>(w * h * 3))};
  for (int64_t y = 0; y < h; ++y)
    std::copy_n(image.pixels.begin() + ((y0 + y) * image.width + x0) * 3, w * 3, out.pixels.begin() + y * w * 3);
  return out;
}

enum class Quadrant { TopLeft, TopRight, BottomLeft, BottomRight };
Picture quadrant(const Picture& p, Quadrant q) {
  const int64_t w = p.image.width / 2, h = p.image.height / 2;
  const bool right = q == Quadrant::TopRight || q == Quadrant::BottomRight;
  const bool bottom = q == Quadrant::BottomLeft || q == Quadrant::BottomRight;
  const char* where = q == Quadrant::TopLeft ? "top-left" : q == Quadrant::TopRight ? "top-right"
                    : q == Quadrant::BottomLeft ? "bottom-left" : "bottom-right";
  return picture(fmt::format("{}, {} quadrant", p.name, where),
                 crop(p.image, right ? p.image.width - w : 0, bottom ? p.image.height - h : 0, w, h));
}

// The image with its channels reversed (RGB → BGR): same shapes, a different palette.
Picture channels_reversed(const Picture& p) {
  tools::RgbImage out = p.image;
  for (size_t i = 0; i + 2 < out.pixels.size(); i += 3) std::swap(out.pixels[i], out.pixels[i + 2]);
  return picture(p.name + ", channels reversed (BGR)", out);
}

tools::RgbImage fit_height(const tools::RgbImage& image, int64_t height) {
  if (image.height == height) return image;
  const int64_t width = std::max<int64_t>(1, std::lround(static_cast<double>(image.width) * height / image.height));
  return tools::resize_bilinear(image, width, height);
}

Picture load(const std::string& path, int64_t max_side) {
  tools::RgbImage image = tools::load_rgb_image(path);
  if (max_side > 0 && std::max(image.width, image.height) > max_side) {
    const double scale = static_cast<double>(max_side) / static_cast<double>(std::max(image.width, image.height));
    image = tools::resize_bilinear(image, std::max<int64_t>(2, std::lround(image.width * scale)),
                                   std::max<int64_t>(2, std::lround(image.height * scale)));
  }
  return picture(fs::path(path).filename().string(), std::move(image));
}

// `n` random rows of `colors` (with replacement).
Tensor subsample(const Tensor& colors, int64_t n, Generator& gen) {
  NoGradGuard no_grad;
  return index_select(Var(colors), 0, gen.randint({n}, 0, colors.size(0))).data();
}

// FNV-1a: a string's hash that is the same on every platform (std::hash is not), for seeding.
uint64_t fnv1a(const std::string& text) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

double exact_w2(const Tensor& a, const Tensor& b) { return std::sqrt(ot::exact_ot_uniform(a, b).w2_squared); }

ot::HotetSolverConfig color_config(const ColorOptions& opt) {
  ot::HotetSolverConfig c = base_solver_config(opt.common, kDim);
  c.hyper_hidden = {64, 64, 64};  // [max(2D, 64)] × 3 for color transfer (§1.2)
  return c;                       // icnn_hidden empty: the W2B sizes (§1.1)
}

struct Trained {
  std::unique_ptr<ot::HotetSolver> solver;
  double seconds = 0;
  bool resumed = false;
};

// Trains (or resumes) `solver` on `sources` → `reference` until it has done `until` steps, `per_step`
// sources per step, checkpointing to `checkpoint`.
void train(ot::HotetSolver& solver, Part part, const std::vector<Picture>& sources, const Picture& reference,
           int64_t until, const ColorOptions& opt, const fs::path& out, double& seconds) {
  const fs::path checkpoint = out / "checkpoints" / fmt::format("{}.safetensors", part_file(part));
  const fs::path metrics = out / "metrics.jsonl";
  const int64_t first = solver.steps_done();
  if (first >= until) return;
  const int64_t per_step = std::min<int64_t>(opt.per_step, static_cast<int64_t>(sources.size()));
  const auto start = Clock::now();
  const double before = seconds;
  auto elapsed = [&] { return before + std::chrono::duration<double>(Clock::now() - start).count(); };
  tools::Progress progress(fmt::format("color {}", part_name(part)), until - first, opt.common.quiet);
  while (solver.steps_done() < until) {
    Generator gen = stream(opt.common.seed, tag(part), Stream::Training, training_offset(solver.steps_done() + 1));
    std::vector<int64_t> index = gen.permutation(static_cast<int64_t>(sources.size())).to_vector<int64_t>();
    index.resize(static_cast<size_t>(per_step));
    auto targets = [&] {
      std::vector<Tensor> ys;
      for (size_t b = 0; b < index.size(); ++b) ys.push_back(subsample(reference.colors, opt.batch, gen));
      return stack_sets(ys);
    };
    std::vector<Tensor> xs;
    for (int64_t i : index) xs.push_back(subsample(sources[static_cast<size_t>(i)].colors, opt.batch, gen));
    const Tensor x = stack_sets(xs), y = targets();
    ot::HotetStepStats stats;
    try {
      stats = solver.step(x, y, targets);
    } catch (const Error& e) {
      throw TrainingDiverged(fmt::format("color {}: training diverged at step {} (the last checkpoint is {}): {}",
                                         part_name(part), solver.steps_done() + 1, checkpoint.string(), e.what()));
    }
    progress.update(stats.step - first, {{"loss", stats.loss}, {"w2", stats.w2_estimate}});
    const bool stop = tools::stop_requested();  // Ctrl-C / SIGTERM: save this step and stop
    if (stats.step % opt.common.checkpoint_every == 0 || stats.step == until || stop) {
      solver.save(checkpoint.string());
      tools::append_jsonl(metrics, {{"dim", tag(part)}, {"part", part_name(part)}, {"step", stats.step},
                                    {"loss", stats.loss}, {"w2", stats.w2_estimate}, {"elapsed", elapsed()}});
    }
    if (stop)
      throw tools::Stopped(
          tools::stopped_message(fmt::format("color {}", part_name(part)), stats.step, until, checkpoint));
  }
  progress.finish();
  seconds = elapsed();
}

// A fresh solver pre-trained to the identity (§1.5, color variant: X ~ 3·N(0, I), tolerance 1e-2), or the
// part's checkpoint under --resume.
Trained start_part(Part part, const ColorOptions& opt, const fs::path& out) {
  Trained t{std::make_unique<ot::HotetSolver>(color_config(opt)), 0, false};
  const fs::path checkpoint = out / "checkpoints" / fmt::format("{}.safetensors", part_file(part));
  if (opt.common.resume && fs::exists(checkpoint)) {
    t.solver->load(checkpoint.string());
    t.seconds = recorded_seconds(out / "metrics.jsonl", tag(part), t.solver->steps_done());
    t.resumed = true;
    return t;
  }
  if (opt.common.pretrain) {
    Generator gen = stream(opt.common.seed, tag(part), Stream::Pretrain);
    const auto start = Clock::now();
    t.solver->pretrain([&] { return gen.normal({1, 1024, kDim}, 0.0, 3.0); }, kPretrainTolerance);
    t.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  }
  return t;
}

struct Mapped {
  tools::RgbImage image;
  nlohmann::json score;  // w2_identity, w2_mapped, w2_floor, map_seconds
};

// The source's map, predicted from `batch` of its pixels, applied to every pixel (forward: onto the
// reference's colors; inverse: the reference onto the source's colors), and scored by exact W2. The
// context sample and the scored subsamples depend only on the pair of images, so a panel scored before and
// after fine-tuning is scored on the same pixels.
Mapped transfer(const ot::HotetSolver& solver, const Picture& source, const Picture& reference, bool inverse,
                const ColorOptions& opt) {
  const uint64_t key = tools::mix(fnv1a(source.name + (inverse ? "|inverse|" : "|") + reference.name));
  Generator gen = stream(opt.common.seed, kDim, Stream::Evaluation, training_offset(static_cast<int64_t>(key >> 40)));
  const Tensor context = subsample(source.colors, opt.batch, gen);
  const Picture& moved = inverse ? reference : source;
  const Picture& goal = inverse ? source : reference;
  const Tensor rows = gen.randint({opt.eval_points}, 0, moved.colors.size(0));
  const Tensor goal_a = subsample(goal.colors, opt.eval_points, gen), goal_b = subsample(goal.colors, opt.eval_points, gen);
  const auto t0 = Clock::now();
  const ot::HotetMaps maps = solver.predict(context);
  const Tensor colors = inverse ? maps.inverse_transport(moved.colors) : maps.transport(moved.colors);
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  NoGradGuard no_grad;
  const Tensor clipped = clamp(Var(colors), 0.0, 1.0).data();
  const Tensor before = index_select(Var(moved.colors), 0, rows).data();
  const Tensor after = index_select(Var(clipped), 0, rows).data();
  return {recolored(moved.image, clipped),
          {{"w2_identity", exact_w2(before, goal_a)},
           {"w2_mapped", exact_w2(after, goal_a)},
           {"w2_floor", exact_w2(goal_b, goal_a)},
           {"map_seconds", seconds}}};
}

std::string slug(const std::string& name) {
  std::string s;
  for (char c : name) s += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(c)) : '_';
  while (s.find("__") != std::string::npos) s.erase(s.find("__"), 1);
  while (!s.empty() && s.back() == '_') s.pop_back();
  return s;
}

// Writes figures/<file>.png: the images side by side at the first one's height.
std::string save_panel(const fs::path& out, const std::string& file, const std::vector<tools::RgbImage>& images) {
  std::vector<tools::RgbImage> row;
  for (const auto& image : images) row.push_back(fit_height(image, images.front().height));
  const std::string relative = "figures/" + file + ".png";
  tools::save_rgb_png(tools::hstack(row), out / relative);
  return relative;
}

nlohmann::json options_json(const ColorOptions& opt, const std::vector<std::string>& images,
                            const std::string& reference, const std::vector<std::string>& unseen) {
  nlohmann::json j = common_json(opt.common);
  j.erase("dims");
  j["steps"] = opt.common.iters;
  j.erase("iters");
  j["images"] = images;
  j["reference"] = reference;
  j["unseen"] = unseen;
  j["batch"] = opt.batch;
  j["per_step"] = opt.per_step;
  j["min_sources"] = opt.min_sources;
  j["finetune_steps"] = opt.finetune_steps;
  j["eval_points"] = opt.eval_points;
  j["max_side"] = opt.max_side;
  return j;
}

std::string fmt3(const nlohmann::json& j, const char* key) { return fmt::format("{:.4f}", j[key].get<double>()); }

}  // namespace

// The three parts, after the images are loaded and the run folder is prepared (defined below run_color).
int color_parts(const ColorOptions& opt, const std::vector<Picture>& given, const Picture& reference,
                const std::vector<Picture>& sources, const std::vector<Picture>& unseen,
                const nlohmann::json& options_j);

int run_color(const ColorOptions& options) {
  ColorOptions opt = options;
  opt.common.dims = {kDim};
  BRENIER_CHECK(opt.common.iters >= 1, "--steps: must be >= 1, got {}", opt.common.iters);
  validate_common(opt.common);
  BRENIER_CHECK(opt.common.method == "mmb" || opt.common.method == "mmv2" || opt.common.method == "w2gn",
                "--method: must be mmb, mmv2 or w2gn, got {}", opt.common.method);
  BRENIER_CHECK(opt.batch >= 2, "--batch: must be >= 2 (MM-B pairs points within a batch), got {}", opt.batch);
  BRENIER_CHECK(opt.per_step >= 1, "--per-step: must be >= 1, got {}", opt.per_step);
  BRENIER_CHECK(opt.min_sources >= 1, "--min-sources: must be >= 1, got {}", opt.min_sources);
  BRENIER_CHECK(opt.finetune_steps >= 1, "--finetune-steps: must be >= 1, got {}", opt.finetune_steps);
  BRENIER_CHECK(opt.eval_points >= 2, "--eval-points: must be >= 2, got {}", opt.eval_points);
  BRENIER_CHECK(opt.max_side == 0 || opt.max_side >= 4, "--max-side: must be 0 (keep) or >= 4, got {}", opt.max_side);

  // Default images: the shipped photographs.
  std::vector<std::string> image_paths = opt.images;
  std::string reference_path = opt.reference;
  if (image_paths.empty() || reference_path.empty()) {
    const fs::path dir = fs::path(tools::resolve_shared_dir(opt.shared, "data/images", "hotet color")) / "data/images";
    if (image_paths.empty()) image_paths = {(dir / "china.jpg").string()};
    if (reference_path.empty()) reference_path = (dir / "flower.jpg").string();
  }
  // Every image is decoded before the run folder is touched, so a bad path fails fast (exit 2, naming it).
  std::vector<Picture> given;
  for (const std::string& path : image_paths) given.push_back(load(path, opt.max_side));
  const Picture reference = load(reference_path, opt.max_side);
  std::vector<Picture> unseen;
  for (const std::string& path : opt.unseen) unseen.push_back(load(path, opt.max_side));

  // Many-to-one sources: the given images, then quadrant crops (top-left and bottom-right of each image,
  // then the reference's top-left) until there are min_sources. In-context images (when --unseen is not
  // given): the first image's other two quadrants and the first image with its channels reversed.
  std::vector<Picture> sources = given;
  std::vector<Picture> pool;
  for (const Picture& p : given) {
    pool.push_back(quadrant(p, Quadrant::TopLeft));
    pool.push_back(quadrant(p, Quadrant::BottomRight));
  }
  pool.push_back(quadrant(reference, Quadrant::TopLeft));
  for (size_t k = 0; static_cast<int64_t>(sources.size()) < opt.min_sources; ++k) {
    BRENIER_CHECK(k < pool.size(), "--min-sources: {} sources asked for, but the images and their crops give {}",
                  opt.min_sources, sources.size());
    sources.push_back(pool[k]);
  }
  if (unseen.empty()) {
    unseen.push_back(quadrant(given[0], Quadrant::TopRight));
    unseen.push_back(quadrant(given[0], Quadrant::BottomLeft));
    unseen.push_back(channels_reversed(given[0]));
  }

  if (opt.common.out.empty()) opt.common.out = tools::make_run_dir("runs", "hotet", kExperiment);
  const fs::path out = opt.common.out;
  const nlohmann::json options_j = options_json(opt, image_paths, reference_path, opt.unseen);
  tools::prepare_run_folder("hotet", kExperiment, out, opt.common.resume, options_j,
                            {"method", "seed", "steps", "images", "reference", "unseen", "batch", "per_step",
                             "min_sources", "finetune_steps", "max_side", "pretrain", "embed_width", "embed_heads",
                             "embed_layers", "inner_iters"},
                            {"checkpoints", "figures"});
  tools::write_json(out / "config.json", {{"tool", "hotet"}, {"experiment", kExperiment}, {"options", options_j}});

  try {
    return color_parts(opt, given, reference, sources, unseen, options_j);
  } catch (const TrainingDiverged& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kExitDiverged;
  }
}

int color_parts(const ColorOptions& opt, const std::vector<Picture>& given, const Picture& reference,
                const std::vector<Picture>& sources, const std::vector<Picture>& unseen,
                const nlohmann::json& options_j) {
  const fs::path out = opt.common.out;
  nlohmann::json parts = nlohmann::json::object();
  tools::Table table({"part", "image", "W2 identity", "W2 mapped", "W2 floor", "map s", "figure"});
  auto add = [&](const char* part, const std::string& image, const nlohmann::json& s, const std::string& figure) {
    table.add_row({std::string(part), image, fmt3(s, "w2_identity"), fmt3(s, "w2_mapped"), fmt3(s, "w2_floor"),
                   fmt::format("{:.2f}", s["map_seconds"].get<double>()), figure});
  };

  // (a) one-to-one.
  {
    Trained t = start_part(Part::OneToOne, opt, out);
    train(*t.solver, Part::OneToOne, {given[0]}, reference, opt.common.iters, opt, out, t.seconds);
    const Mapped fwd = transfer(*t.solver, given[0], reference, false, opt);
    const Mapped inv = transfer(*t.solver, given[0], reference, true, opt);
    const std::string f1 = save_panel(out, "one_to_one", {given[0].image, fwd.image, reference.image});
    const std::string f2 = save_panel(out, "one_to_one_inverse", {reference.image, inv.image, given[0].image});
    add("one-to-one", given[0].name + " → reference", fwd.score, f1);
    add("one-to-one (inverse)", "reference → " + given[0].name, inv.score, f2);
    parts["one_to_one"] = {{"source", given[0].name}, {"steps", t.solver->steps_done()}, {"train_seconds", t.seconds},
                           {"resumed", t.resumed}, {"forward", fwd.score}, {"inverse", inv.score},
                           {"figures", {f1, f2}}};
  }
  // (b) many-to-one, then (c) in-context from its model.
  {
    Trained t = start_part(Part::ManyToOne, opt, out);
    train(*t.solver, Part::ManyToOne, sources, reference, opt.common.iters, opt, out, t.seconds);
    nlohmann::json panels = nlohmann::json::array();
    for (size_t i = 0; i < sources.size(); ++i) {
      const Mapped m = transfer(*t.solver, sources[i], reference, false, opt);
      const std::string f = save_panel(out, fmt::format("many_to_one_{}_{}", i, slug(sources[i].name)),
                                       {sources[i].image, m.image, reference.image});
      add("many-to-one", sources[i].name, m.score, f);
      nlohmann::json p = m.score;
      p["source"] = sources[i].name;
      p["figure"] = f;
      panels.push_back(p);
    }
    const int64_t trained_steps = t.solver->steps_done();
    parts["many_to_one"] = {{"sources", panels.size()}, {"steps", trained_steps}, {"train_seconds", t.seconds},
                            {"resumed", t.resumed}, {"per_step", std::min<int64_t>(opt.per_step, sources.size())},
                            {"panels", panels}};

    // Zero-shot maps of the unseen images (the many-to-one model as it is), then fine-tuning.
    std::vector<Mapped> zero_shot;
    for (const Picture& u : unseen) zero_shot.push_back(transfer(*t.solver, u, reference, false, opt));
    const fs::path tuned = out / "checkpoints" / "in_context.safetensors";
    bool resumed = false;
    double seconds = 0;
    if (opt.common.resume && fs::exists(tuned)) {
      t.solver->load(tuned.string());
      seconds = recorded_seconds(out / "metrics.jsonl", tag(Part::InContext), t.solver->steps_done());
      resumed = true;
    }
    train(*t.solver, Part::InContext, unseen, reference, trained_steps + opt.finetune_steps, opt, out, seconds);
    nlohmann::json tuned_panels = nlohmann::json::array();
    for (size_t i = 0; i < unseen.size(); ++i) {
      const Mapped m = transfer(*t.solver, unseen[i], reference, false, opt);
      const std::string f = save_panel(out, fmt::format("in_context_{}_{}", i, slug(unseen[i].name)),
                                       {unseen[i].image, zero_shot[i].image, m.image, reference.image});
      add("in-context, zero-shot", unseen[i].name, zero_shot[i].score, f);
      add("in-context, fine-tuned", unseen[i].name, m.score, f);
      tuned_panels.push_back({{"source", unseen[i].name}, {"zero_shot", zero_shot[i].score}, {"fine_tuned", m.score},
                              {"figure", f}});
    }
    parts["in_context"] = {{"images", unseen.size()}, {"finetune_steps", opt.finetune_steps},
                           {"train_seconds", seconds}, {"resumed", resumed}, {"panels", tuned_panels}};
  }

  tools::write_json(out / "results.json", {{"tool", "hotet"},
                                           {"experiment", kExperiment},
                                           {"status", "done"},
                                           {"config", options_j},
                                           {"reference", reference.name},
                                           {"results", parts}});
  std::string md = fmt::format(
      "# hotet color: color transfer with HOTET (paper §IV-D)\n\n"
      "Reference: {} ({}×{}). Method {}, {} steps per model (the paper: 5000, §1.6), {} pixels per image per step, "
      "seed {}. Many-to-one: {} sources, {} per step. In-context: the many-to-one model fine-tuned for {} steps on "
      "{} images it never saw (the paper: 50 steps, §IV-D).\n\n"
      "Training times (s, this machine): one-to-one {:.1f}, many-to-one {:.1f}, in-context fine-tuning {:.1f}.\n\n"
      "Scores: exact W2 (Hungarian) between {} random pixels' colors and as many random reference pixels' colors, RGB "
      "in [0, 1]; `identity` = before the map, `mapped` = after, `floor` = between two subsamples of the goal "
      "image (sampling noise alone). Lower is better; `mapped` near `floor` means the colors match. Panels: source | "
      "mapped | reference (in-context: source | zero-shot | fine-tuned | reference); one-to-one inverse: the "
      "reference recolored with the source's palette. `map s`: predicting the map (embedding + hypernetwork) and "
      "applying it to every pixel.\n\n{}\n",
      reference.name, reference.image.width, reference.image.height, opt.common.method, opt.common.iters, opt.batch,
      opt.common.seed, sources.size(), std::min<int64_t>(opt.per_step, sources.size()), opt.finetune_steps,
      unseen.size(), parts["one_to_one"]["train_seconds"].get<double>(),
      parts["many_to_one"]["train_seconds"].get<double>(), parts["in_context"]["train_seconds"].get<double>(),
      opt.eval_points, table.to_markdown());
  md += "\n## Sources\n\n";
  if (opt.images.empty() || opt.reference.empty())
    md += "The shipped photographs (`../shared/data/images`, CC BY 2.0: china.jpg by danielbuechele, flower.jpg by "
          "vultilion on Flickr) stand in for the paper's WikiArt paintings.\n";
  if (sources.size() > given.size())
    md += fmt::format("Only {} image(s) were given, so {} quadrant crop(s) were added as many-to-one sources; crops of "
                      "one photograph share much of its palette, so these sources are less varied than the paper's.\n",
                      given.size(), sources.size() - given.size());
  if (opt.unseen.empty())
    md += "The in-context images are derived from the first image: its two quadrants not used in training and "
          "the whole image with its channels reversed (a palette the model never saw).\n";
  md += opt.common.method == "w2gn"
            ? "The paper trains color transfer by MM-B (its text); this run uses the reference code's W2GN-style cycle "
              "loss instead (`--method w2gn`, spec §1.4).\n"
            : fmt::format("The paper trains color transfer by MM-B (its text; this run: {}); the reference code uses "
                          "a W2GN-style cycle loss (spec §1.4), which `--method w2gn` runs.\n",
                          opt.common.method);
  tools::write_text(out / "results.md", md);
  std::cout << "color results in " << out.string() << " (results.md, results.json, figures/)\n";
  const nlohmann::json& one = parts["one_to_one"]["forward"];
  std::cout << fmt::format("one-to-one W2: identity {:.4f}, mapped {:.4f}, floor {:.4f}\n",
                           one["w2_identity"].get<double>(), one["w2_mapped"].get<double>(),
                           one["w2_floor"].get<double>());
  return tools::kExitOk;
}

}  // namespace brenier::hotet_tool
