// Canvas rasterisation (signed-distance coverage gives cheap anti-aliasing) and PNG encoding
// through libpng's simplified API, whose bytes then go through the atomic writer.
#include "tools/common/png.h"

#include <fmt/format.h>
#include <png.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "engine/tensor.h"

namespace brenier::tools {
namespace {

// Matplotlib's "tab10" colour values: well known, readable on white, friendly to colour blindness.
constexpr Rgba kPalette[] = {
    {31, 119, 180, 255},  {255, 127, 14, 255}, {44, 160, 44, 255},   {214, 39, 40, 255},
    {148, 103, 189, 255}, {140, 86, 75, 255},  {227, 119, 194, 255}, {127, 127, 127, 255},
    {188, 189, 34, 255},  {23, 190, 207, 255},
};

uint8_t to_byte(double v) { return static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L)); }

double clamp01(double v) { return std::clamp(v, 0.0, 1.0); }

bool finite(Point2 p) { return std::isfinite(p.x) && std::isfinite(p.y); }

// Distance from q to the segment a-b (all in pixel space).
double distance_to_segment(Point2 q, Point2 a, Point2 b) {
  double dx = b.x - a.x, dy = b.y - a.y;
  double len2 = dx * dx + dy * dy;
  double t = len2 > 0 ? clamp01(((q.x - a.x) * dx + (q.y - a.y) * dy) / len2) : 0.0;
  return std::hypot(q.x - (a.x + t * dx), q.y - (a.y + t * dy));
}

}  // namespace

Rgba with_alpha(Rgba color, double alpha) {
  BRENIER_CHECK(alpha >= 0 && alpha <= 1, "with_alpha: argument 'alpha' must be in [0, 1], got {}",
                alpha);
  color.a = to_byte(alpha * 255.0);
  return color;
}

Rgba palette_color(int index, double alpha) {
  constexpr int n = static_cast<int>(std::size(kPalette));
  return with_alpha(kPalette[((index % n) + n) % n], alpha);
}

Bounds bounds_of(std::span<const Point2> points, double margin_fraction) {
  BRENIER_CHECK(margin_fraction >= 0 && std::isfinite(margin_fraction),
                "bounds_of: argument 'margin_fraction' must be a finite number >= 0, got {}",
                margin_fraction);
  Bounds b{INFINITY, -INFINITY, INFINITY, -INFINITY};
  for (Point2 p : points) {
    if (!finite(p)) continue;  // a diverged sample should not flatten the whole plot
    b.xmin = std::min(b.xmin, p.x), b.xmax = std::max(b.xmax, p.x);
    b.ymin = std::min(b.ymin, p.y), b.ymax = std::max(b.ymax, p.y);
  }
  if (b.xmin > b.xmax) return Bounds{};
  auto widen = [margin_fraction](double& lo, double& hi) {
    if (hi - lo <= 0) lo -= 0.5, hi += 0.5;
    double margin = (hi - lo) * margin_fraction;
    lo -= margin, hi += margin;
  };
  widen(b.xmin, b.xmax);
  widen(b.ymin, b.ymax);
  return b;
}

std::vector<Point2> points_from_tensor(const Tensor& points) {
  check_defined(points, "points_from_tensor", "points");
  BRENIER_CHECK(
      points.dim() == 2 && points.size(1) == 2 && is_floating(points.dtype()),
      "points_from_tensor: argument 'points' must be a floating tensor of shape [n, 2], got {}",
      points.str());
  std::vector<double> values = points.to_vector<double>();
  std::vector<Point2> out(values.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) out[i] = {values[2 * i], values[2 * i + 1]};
  return out;
}

Canvas::Canvas(int width, int height, Rgba background, int padding)
    : width_(width), height_(height), padding_(padding) {
  BRENIER_CHECK(width > 0 && height > 0 && width <= 16384 && height <= 16384,
                "Canvas: arguments 'width' and 'height' must be in [1, 16384], got {}x{}", width,
                height);
  BRENIER_CHECK(padding >= 0 && 2 * padding < std::min(width, height),
                "Canvas: argument 'padding' must be >= 0 and leave room to plot in {}x{}, got {}",
                width, height, padding);
  rgba_.resize(static_cast<size_t>(width) * height * 4);
  for (size_t i = 0; i < rgba_.size(); i += 4) {
    rgba_[i] = background.r, rgba_[i + 1] = background.g, rgba_[i + 2] = background.b,
    rgba_[i + 3] = background.a;
  }
}

void Canvas::set_bounds(const Bounds& b) {
  BRENIER_CHECK(
      std::isfinite(b.xmin) && std::isfinite(b.xmax) && std::isfinite(b.ymin) &&
          std::isfinite(b.ymax) && b.xmin < b.xmax && b.ymin < b.ymax,
      "Canvas::set_bounds: argument 'bounds' must be finite with xmin < xmax and ymin < ymax, "
      "got x [{}, {}], y [{}, {}]",
      b.xmin, b.xmax, b.ymin, b.ymax);
  bounds_ = b;
}

Point2 Canvas::to_pixel(Point2 p) const {
  double plot_w = width_ - 2.0 * padding_, plot_h = height_ - 2.0 * padding_;
  return {padding_ + (p.x - bounds_.xmin) / (bounds_.xmax - bounds_.xmin) * plot_w,
          padding_ + (bounds_.ymax - p.y) / (bounds_.ymax - bounds_.ymin) * plot_h};
}

Rgba Canvas::pixel(int x, int y) const {
  BRENIER_CHECK(x >= 0 && x < width_ && y >= 0 && y < height_,
                "Canvas::pixel: arguments 'x', 'y' must lie in {}x{}, got ({}, {})", width_,
                height_, x, y);
  const uint8_t* p = &rgba_[(static_cast<size_t>(y) * width_ + x) * 4];
  return {p[0], p[1], p[2], p[3]};
}

void Canvas::blend(int x, int y, Rgba color, double coverage) {
  if (x < 0 || x >= width_ || y < 0 || y >= height_ || coverage <= 0) return;
  uint8_t* p = &rgba_[(static_cast<size_t>(y) * width_ + x) * 4];
  // Porter-Duff "source over" with straight (non-premultiplied) alpha, as PNG stores it.
  double sa = color.a / 255.0 * clamp01(coverage);
  double da = p[3] / 255.0;
  double oa = sa + da * (1 - sa);
  if (oa <= 0) return;
  auto mix = [&](uint8_t s, uint8_t d) { return to_byte((s * sa + d * da * (1 - sa)) / oa); };
  p[0] = mix(color.r, p[0]), p[1] = mix(color.g, p[1]), p[2] = mix(color.b, p[2]);
  p[3] = to_byte(oa * 255.0);
}

template <class SignedDistance>
void Canvas::fill(double x0, double y0, double x1, double y1, Rgba color,
                  SignedDistance&& distance) {
  // Clamp in double first: points far outside the bounds map to pixel coordinates beyond int range.
  auto column = [&](double v) { return static_cast<int>(std::clamp(v, 0.0, width_ - 1.0)); };
  auto row = [&](double v) { return static_cast<int>(std::clamp(v, 0.0, height_ - 1.0)); };
  if (x1 < 0 || y1 < 0 || x0 > width_ || y0 > height_) return;
  int ix0 = column(std::floor(x0)), ix1 = column(std::ceil(x1));
  int iy0 = row(std::floor(y0)), iy1 = row(std::ceil(y1));
  for (int y = iy0; y <= iy1; ++y) {
    for (int x = ix0; x <= ix1; ++x) {
      // Half a pixel of soft edge: coverage 1 inside, 0 beyond half a pixel outside.
      blend(x, y, color, clamp01(0.5 - distance(Point2{x + 0.5, y + 0.5})));
    }
  }
}

void Canvas::point(Point2 p, Rgba color, double radius) {
  BRENIER_CHECK(radius > 0 && radius < 1000,
                "Canvas::point: argument 'radius' must be in (0, 1000) pixels, got {}", radius);
  if (!finite(p)) return;  // NaN samples are skipped rather than painted at the origin
  Point2 c = to_pixel(p);
  double r = radius + 1;
  fill(c.x - r, c.y - r, c.x + r, c.y + r, color,
       [&](Point2 q) { return std::hypot(q.x - c.x, q.y - c.y) - radius; });
}

void Canvas::scatter(std::span<const Point2> points, Rgba color, double radius) {
  for (Point2 p : points) point(p, color, radius);
}

void Canvas::line(Point2 from, Point2 to, Rgba color, double thickness) {
  BRENIER_CHECK(thickness > 0 && thickness < 1000,
                "Canvas::line: argument 'thickness' must be in (0, 1000) pixels, got {}",
                thickness);
  if (!finite(from) || !finite(to)) return;
  Point2 a = to_pixel(from), b = to_pixel(to);
  double r = thickness / 2 + 1;
  fill(std::min(a.x, b.x) - r, std::min(a.y, b.y) - r, std::max(a.x, b.x) + r,
       std::max(a.y, b.y) + r, color,
       [&](Point2 q) { return distance_to_segment(q, a, b) - thickness / 2; });
}

void Canvas::arrow(Point2 from, Point2 to, Rgba color, double thickness, double head_pixels) {
  BRENIER_CHECK(head_pixels > 0 && head_pixels < 1000,
                "Canvas::arrow: argument 'head_pixels' must be in (0, 1000), got {}", head_pixels);
  if (!finite(from) || !finite(to)) return;
  Point2 a = to_pixel(from), tip = to_pixel(to);
  double dx = tip.x - a.x, dy = tip.y - a.y, len = std::hypot(dx, dy);
  if (len < 1e-9) return;
  double ux = dx / len, uy = dy / len;
  double head = std::min(head_pixels, len);  // short arrows are all head
  Point2 base{tip.x - ux * head, tip.y - uy * head};
  // Shaft up to the head's base (drawn separately so alpha does not double up under the head).
  if (len > head) {
    double r = thickness / 2 + 1;
    fill(std::min(a.x, base.x) - r, std::min(a.y, base.y) - r, std::max(a.x, base.x) + r,
         std::max(a.y, base.y) + r, color,
         [&](Point2 q) { return distance_to_segment(q, a, base) - thickness / 2; });
  }
  double half_width = head * 0.4;
  Point2 corners[3] = {tip,
                       {base.x - uy * half_width, base.y + ux * half_width},
                       {base.x + uy * half_width, base.y - ux * half_width}};
  // Signed distance to a convex triangle, approximated by the largest signed edge distance.
  double orientation = (corners[1].x - corners[0].x) * (corners[2].y - corners[0].y) -
                       (corners[1].y - corners[0].y) * (corners[2].x - corners[0].x);
  double sign = orientation > 0 ? 1.0 : -1.0;
  auto edge_distance = [&](Point2 q, Point2 e0, Point2 e1) {
    double ex = e1.x - e0.x, ey = e1.y - e0.y, el = std::hypot(ex, ey);
    return -sign * (ex * (q.y - e0.y) - ey * (q.x - e0.x)) / el;  // > 0 outside
  };
  double xmin = std::min({corners[0].x, corners[1].x, corners[2].x}) - 1;
  double xmax = std::max({corners[0].x, corners[1].x, corners[2].x}) + 1;
  double ymin = std::min({corners[0].y, corners[1].y, corners[2].y}) - 1;
  double ymax = std::max({corners[0].y, corners[1].y, corners[2].y}) + 1;
  fill(xmin, ymin, xmax, ymax, color, [&](Point2 q) {
    return std::max({edge_distance(q, corners[0], corners[1]),
                     edge_distance(q, corners[1], corners[2]),
                     edge_distance(q, corners[2], corners[0])});
  });
}

void Canvas::frame(Rgba color, bool zero_axes) {
  // Crisp one-pixel lines just outside the plotting area, drawn in pixel space.
  int left = padding_ - 1, right = width_ - padding_, top = padding_ - 1,
      bottom = height_ - padding_;
  if (zero_axes) {
    Point2 origin = to_pixel({0, 0});
    if (bounds_.xmin < 0 && bounds_.xmax > 0) {
      int x = static_cast<int>(std::floor(origin.x));
      for (int y = top + 1; y < bottom; ++y) blend(x, y, colors::light_gray, 1);
    }
    if (bounds_.ymin < 0 && bounds_.ymax > 0) {
      int y = static_cast<int>(std::floor(origin.y));
      for (int x = left + 1; x < right; ++x) blend(x, y, colors::light_gray, 1);
    }
  }
  for (int x = left; x <= right; ++x) blend(x, top, color, 1), blend(x, bottom, color, 1);
  for (int y = top + 1; y < bottom; ++y) blend(left, y, color, 1), blend(right, y, color, 1);
}

void Canvas::save(const std::filesystem::path& path) const {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(width_);
  image.height = static_cast<png_uint_32>(height_);
  image.format = PNG_FORMAT_RGBA;
  png_alloc_size_t size = 0;
  // First call sizes the buffer, second fills it.
  bool ok = png_image_write_to_memory(&image, nullptr, &size, 0, rgba_.data(), 0, nullptr) != 0;
  std::string bytes;
  if (ok) {
    bytes.resize(size);
    ok = png_image_write_to_memory(&image, bytes.data(), &size, 0, rgba_.data(), 0, nullptr) != 0;
    bytes.resize(size);
  }
  std::string message = image.message;
  png_image_free(&image);
  BRENIER_CHECK(ok, "Canvas::save: encoding PNG for '{}' failed: {}", path.string(), message);
  io::write_file_atomic(path.string(), bytes);
}

Canvas scatter_plot(const std::vector<std::vector<Point2>>& series, int width, int height,
                    double point_radius, double alpha) {
  std::vector<Point2> all;
  for (const auto& s : series) all.insert(all.end(), s.begin(), s.end());
  Canvas canvas(width, height);
  canvas.set_bounds(bounds_of(all));
  canvas.frame();
  for (size_t i = 0; i < series.size(); ++i) {
    canvas.scatter(series[i], palette_color(static_cast<int>(i), alpha), point_radius);
  }
  return canvas;
}

}  // namespace brenier::tools
