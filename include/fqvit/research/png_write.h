// 8-bit RGB PNG encoding (libpng) of a raster, for heat maps embedded in SVG or written as files.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fqvit {

// rgb: height * width * 3 bytes, row-major. Throws Error if libpng fails.
std::vector<unsigned char> encode_png_rgb(const std::vector<uint8_t>& rgb, int width, int height);

// A perceptually ordered colour map (viridis, 9 stops, linear between them) for t in [0, 1].
void viridis(double t, uint8_t* rgb);

}  // namespace fqvit
