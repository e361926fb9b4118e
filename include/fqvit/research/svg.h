// A minimal SVG writer for the report and inspect pictures: self-contained files (no fonts or scripts fetched),
// coordinates in pixels, text escaped.
#pragma once

#include <string>
#include <vector>

namespace fqvit {

std::string xml_escape(const std::string& text);

// A categorical colour cycle that stays distinguishable on white (Tableau 10).
const std::string& series_colour(size_t index);

// Nice tick values whose span covers [lo, hi] (about `target` of them, steps of 1, 2 or 5 times a power of ten).
std::vector<double> nice_ticks(double lo, double hi, int target = 6);

class Svg {
 public:
  Svg(double width, double height);
  void rect(double x, double y, double w, double h, const std::string& fill, const std::string& extra = "");
  void line(double x1, double y1, double x2, double y2, const std::string& stroke, double width = 1,
            const std::string& extra = "");
  void polyline(const std::vector<std::pair<double, double>>& points, const std::string& stroke, double width = 2);
  void circle(double x, double y, double r, const std::string& fill);
  // anchor: start | middle | end; rotate: degrees about (x, y).
  void text(double x, double y, const std::string& text, double size = 12, const std::string& anchor = "start",
            double rotate = 0, const std::string& extra = "");
  // An embedded raster (PNG bytes), scaled to w x h without smoothing.
  void png(double x, double y, double w, double h, const std::vector<unsigned char>& png_bytes);
  void open_group(const std::string& attributes);
  void close_group();
  void title(const std::string& text);  // tooltip of the enclosing element
  std::string str() const;

 private:
  double width_, height_;
  std::string body_;
};

}  // namespace fqvit
