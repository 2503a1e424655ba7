// Canvas: a minimal plotting surface for the figures tools write (scatter plots of samples, arrows
// from x to T(x), an axes frame), saved as PNG with libpng. No text: captions go in results.md.
#pragma once
#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

namespace brenier {
class Tensor;
}

namespace brenier::tools {

struct Rgba {
  uint8_t r = 0, g = 0, b = 0, a = 255;
  bool operator==(const Rgba&) const = default;
};

struct Point2 {
  double x = 0, y = 0;
};

// Data-space rectangle mapped onto the canvas.
struct Bounds {
  double xmin = -1, xmax = 1, ymin = -1, ymax = 1;
};

namespace colors {
inline constexpr Rgba white{255, 255, 255, 255};
inline constexpr Rgba black{0, 0, 0, 255};
inline constexpr Rgba light_gray{210, 210, 210, 255};
}  // namespace colors

// Ten distinguishable series colours (blue, orange, green, red, purple, brown, pink, gray, olive,
// cyan); `index` wraps around. `alpha` in [0, 1] sets the opacity.
Rgba palette_color(int index, double alpha = 1.0);
Rgba with_alpha(Rgba color, double alpha);

// The points' bounding box grown by `margin_fraction` of its size on every side. A zero-width side
// is widened to 1 so a single point still gets a usable plot; no points gives [-1, 1]^2.
Bounds bounds_of(std::span<const Point2> points, double margin_fraction = 0.05);

// Rows of a CPU or GPU tensor of shape [n, 2] (any floating dtype) as points.
std::vector<Point2> points_from_tensor(const Tensor& points);

class Canvas {
 public:
  // Pixels start as `background`. Data bounds default to [-1, 1]^2 and map onto the area inside
  // `padding` pixels, with y pointing up.
  Canvas(int width, int height, Rgba background = colors::white, int padding = 10);

  int width() const { return width_; }
  int height() const { return height_; }
  const Bounds& bounds() const { return bounds_; }
  void set_bounds(const Bounds& bounds);

  // Data coordinates -> pixel coordinates (pixel (i, j) covers [i, i+1) x [j, j+1), row 0 on top).
  Point2 to_pixel(Point2 p) const;

  // Filled disc of `radius` pixels, anti-aliased; alpha-blended over what is there.
  void point(Point2 p, Rgba color, double radius = 2.0);
  void scatter(std::span<const Point2> points, Rgba color, double radius = 2.0);
  // Segment `thickness` pixels wide between two data points.
  void line(Point2 from, Point2 to, Rgba color, double thickness = 1.0);
  // Line with a filled triangular head of `head_pixels` length at `to`.
  void arrow(Point2 from, Point2 to, Rgba color, double thickness = 1.0, double head_pixels = 7.0);
  // Rectangle around the plotting area, plus light x = 0 / y = 0 lines when they fall inside it.
  void frame(Rgba color = colors::black, bool zero_axes = true);

  Rgba pixel(int x, int y) const;
  // Writes an 8-bit RGBA PNG, atomically.
  void save(const std::filesystem::path& path) const;

 private:
  // Blends `color` into pixel (x, y) with its alpha scaled by `coverage` in [0, 1].
  void blend(int x, int y, Rgba color, double coverage);
  // Calls blend for each pixel whose centre lies within `distance(centre) < 0.5` of the shape,
  // given as a signed-distance function in pixel space over a pixel bounding box.
  template <class SignedDistance>
  void fill(double x0, double y0, double x1, double y1, Rgba color, SignedDistance&& distance);

  int width_, height_, padding_;
  Bounds bounds_;
  std::vector<uint8_t> rgba_;
};

// A ready-made figure: one scatter series per palette colour, bounds fitted to all points with a
// margin, and a frame. Draw more (arrows, say) on the result before saving it.
Canvas scatter_plot(const std::vector<std::vector<Point2>>& series, int width = 600,
                    int height = 600, double point_radius = 2.0, double alpha = 0.6);

}  // namespace brenier::tools
