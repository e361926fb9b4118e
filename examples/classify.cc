// classify MODEL IMAGE [CLASS_LIST]: loads a quantized model file (or a checkpoint directory), classifies one image
// and prints the top-5 classes with their names. Built against the installed package (examples/CMakeLists.txt).
#include <fqvit/fqvit.h>

#include <cstdio>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 3 || argc > 4) {
    std::fprintf(stderr, "usage: %s MODEL.safetensors IMAGE [CLASS_LIST]\n", argv[0]);
    return 2;
  }
  try {
    fqvit::LoadOptions options;
    if (argc == 4) options.class_list = argv[3];
    const fqvit::Model model = fqvit::Model::load(argv[1], options);
    const std::vector<std::vector<fqvit::ClassScore>> top = model.classify_files({argv[2]}, 5);
    std::printf("%s (%s engine): %s\n", model.architecture().c_str(), model.engine().c_str(), argv[2]);
    for (const fqvit::ClassScore& c : top[0]) {
      std::printf("%5d  %6.2f%%  %s\n", c.index, 100.0 * c.probability, c.name.c_str());
    }
    return 0;
  } catch (const fqvit::Error& e) {  // bad input: one line, file / field / found / expected
    std::fprintf(stderr, "classify: error: %s\n", e.what());
    return 1;
  }
}
