// The `fqvit` Python module: include/fqvit/fqvit.h with numpy arrays in and out. Every call that computes releases
// the GIL (other Python threads run meanwhile, and concurrent calls on one model run in parallel, as in C++).
// fqvit::Error becomes fqvit.Error (a ValueError) with .file, .field, .found and .expected.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "fqvit/fqvit.h"

namespace py = pybind11;

namespace {

using UInt8Array = py::array_t<uint8_t, py::array::c_style>;

py::object g_error_type;  // fqvit.Error, created at import

[[noreturn]] void raise_error(const fqvit::Error& e) {
  py::object err = g_error_type(e.what());
  err.attr("file") = e.file();
  err.attr("field") = e.field();
  err.attr("found") = e.found();
  err.attr("expected") = e.expected();
  PyErr_SetObject(g_error_type.ptr(), err.ptr());
  throw py::error_already_set();
}

fqvit::RunOptions run_options(int threads) {
  fqvit::RunOptions run;
  run.threads = threads;
  return run;
}

py::array_t<float> to_numpy(fqvit::Logits&& logits) {
  py::array_t<float> out({logits.images, logits.classes});
  std::copy(logits.values.begin(), logits.values.end(), out.mutable_data());
  return out;
}

py::array_t<int32_t> codes_to_numpy(const fqvit::Logits& logits) {
  py::array_t<int32_t> out({logits.images, logits.classes});
  std::copy(logits.codes.begin(), logits.codes.end(), out.mutable_data());
  return out;
}

// [N, S, S, 3] or [S, S, 3] uint8, C-contiguous: a view of the caller's array (no copy).
std::span<const uint8_t> nhwc_view(const UInt8Array& images, int size) {
  const bool batch = images.ndim() == 4, single = images.ndim() == 3;
  const auto dim = [&](int i) { return images.shape(i); };
  const bool ok = (batch && dim(1) == size && dim(2) == size && dim(3) == 3) ||
                  (single && dim(0) == size && dim(1) == size && dim(2) == 3);
  if (!ok) {
    std::string shape = "(";
    for (py::ssize_t i = 0; i < images.ndim(); ++i) shape += (i ? ", " : "") + std::to_string(images.shape(i));
    shape += images.ndim() == 1 ? ",)" : ")";
    raise_error(fqvit::Error("fqvit.Model", "logits(images)", "shape " + shape,
                             "(N, " + std::to_string(size) + ", " + std::to_string(size) +
                                 ", 3) uint8 RGB images, already resized and cropped"));
  }
  return {images.data(), static_cast<size_t>(images.size())};
}

py::list scores_to_python(const std::vector<std::vector<fqvit::ClassScore>>& top) {
  py::list out;
  for (const auto& image : top) {
    py::list row;
    for (const fqvit::ClassScore& c : image) {
      py::dict d;
      d["index"] = c.index;
      d["name"] = c.name;
      d["logit"] = c.logit;
      d["probability"] = c.probability;
      row.append(d);
    }
    out.append(row);
  }
  return out;
}

std::vector<std::string> as_paths(const py::object& paths) {
  if (py::isinstance<py::str>(paths)) return {paths.cast<std::string>()};
  std::vector<std::string> out;
  for (const py::handle p : paths) out.push_back(py::str(p).cast<std::string>());  // str or os.PathLike
  return out;
}

// Calls `fn` with the GIL released, translating fqvit::Error once the GIL is back.
template <typename Fn>
auto without_gil(Fn&& fn) {
  try {
    py::gil_scoped_release release;
    return fn();
  } catch (const fqvit::Error& e) {
    raise_error(e);
  }
}

template <typename Fn>
auto with_errors(Fn&& fn) {
  try {
    return fn();
  } catch (const fqvit::Error& e) {
    raise_error(e);
  }
}

}  // namespace

PYBIND11_MODULE(fqvit, m) {
  m.doc() = "fqvit: fully quantized Vision Transformers (FQ-ViT) - load, classify, calibrate, evaluate (docs/api.md)";
  g_error_type = py::reinterpret_borrow<py::object>(
      py::handle(PyErr_NewExceptionWithDoc("fqvit.Error",
                                           "Bad input: a file, field, value found and value expected "
                                           "(attributes file, field, found, expected).",
                                           PyExc_ValueError, nullptr)));
  m.attr("Error") = g_error_type;

  py::class_<fqvit::Model>(m, "Model", "A loaded model; share one between threads (calls release the GIL).")
      .def_property_readonly("engine", &fqvit::Model::engine)
      .def_property_readonly("architecture", &fqvit::Model::architecture)
      .def_property_readonly("input_size", &fqvit::Model::input_size)
      .def_property_readonly("num_classes", &fqvit::Model::num_classes)
      .def_property_readonly("class_names", &fqvit::Model::class_names)
      .def(
          "logits",
          [](const fqvit::Model& model, const UInt8Array& images, int threads, bool integer) -> py::object {
            const std::span<const uint8_t> view = nhwc_view(images, model.input_size());
            fqvit::Logits logits = without_gil([&] { return model.logits(view, run_options(threads)); });
            if (!integer) return to_numpy(std::move(logits));
            if (logits.codes.empty()) {
              raise_error(fqvit::Error("fqvit.Model", "logits(integer=True)", "the " + model.engine() + " engine",
                                       "an engine with integer logits (int)"));
            }
            return py::make_tuple(codes_to_numpy(logits), logits.scale);
          },
          py::arg("images"), py::arg("threads") = -1, py::arg("integer") = false,
          "Logits [N, classes] float32 of uint8 RGB images [N, S, S, 3] (or [S, S, 3]) already resized and "
          "cropped to input_size; normalized with the model's mean/std. integer=True: (int32 codes, scale) from "
          "an integer engine.")
      .def(
          "logits_images",
          [](const fqvit::Model& model, const std::vector<UInt8Array>& images, int threads) {
            std::vector<fqvit::ImageView> views;
            for (size_t i = 0; i < images.size(); ++i) {
              const UInt8Array& a = images[i];
              if (a.ndim() != 3 || a.shape(2) != 3) {
                raise_error(fqvit::Error("fqvit.Model", "logits_images(images[" + std::to_string(i) + "])",
                                         std::to_string(a.ndim()) + " dimensions", "(height, width, 3) uint8 RGB"));
              }
              views.push_back({a.data(), static_cast<int>(a.shape(1)), static_cast<int>(a.shape(0))});
            }
            return to_numpy(without_gil([&] { return model.logits(views, run_options(threads)); }));
          },
          py::arg("images"), py::arg("threads") = -1,
          "Logits of decoded uint8 RGB images (H, W, 3) of any size, preprocessed with the model's eval "
          "transform.")
      .def(
          "logits_files",
          [](const fqvit::Model& model, const py::object& paths, int threads) {
            const std::vector<std::string> files = as_paths(paths);
            return to_numpy(without_gil([&] { return model.logits_files(files, run_options(threads)); }));
          },
          py::arg("paths"), py::arg("threads") = -1, "Logits of JPEG/PNG files (a path or a list of paths).")
      .def(
          "classify",
          [](const fqvit::Model& model, const py::object& paths, int k, int threads) {
            const std::vector<std::string> files = as_paths(paths);
            return scores_to_python(without_gil([&] { return model.classify_files(files, k, run_options(threads)); }));
          },
          py::arg("paths"), py::arg("k") = 5, py::arg("threads") = -1,
          "Top-k of each file: a list per image of {index, name, logit, probability}, best first.");

  m.def(
      "load",
      [](const std::string& path, const std::string& engine, const std::string& numerics,
         const std::string& class_list, int threads) {
        fqvit::LoadOptions options;
        options.engine = engine;
        options.numerics = numerics;
        options.class_list = class_list;
        options.threads = threads;
        return without_gil([&] { return fqvit::Model::load(path, options); });
      },
      py::arg("path"), py::arg("engine") = "", py::arg("numerics") = "", py::arg("class_list") = "",
      py::arg("threads") = 0,
      "Loads a quantized model file (engine int by default, or 'fake') or a checkpoint directory (fp32).");

  m.def(
      "calibrate",
      [](const std::string& model_dir, const py::object& images, const std::string& out,
         const std::string& class_list, const std::string& calib_list, int count, uint64_t seed,
         const std::string& config, const std::string& method, py::object ptf, py::object lis, int w_bits,
         int a_bits, int attn_bits, const std::string& numerics, int batch_size, int threads, int decode_threads,
         bool progress) {
        fqvit::CalibrateOptions o;
        o.model = model_dir;
        if (py::isinstance<py::str>(images) || py::hasattr(images, "__fspath__")) {
          o.images_dir = py::str(images).cast<std::string>();
        } else {
          o.image_paths = as_paths(images);
        }
        o.out = out;
        o.class_list = class_list;
        o.calib_list = calib_list;
        o.images = count;
        o.seed = seed;
        o.config = config;
        o.method = method;
        o.ptf = ptf.is_none() ? -1 : ptf.cast<bool>() ? 1 : 0;
        o.lis = lis.is_none() ? -1 : lis.cast<bool>() ? 1 : 0;
        o.w_bits = w_bits;
        o.a_bits = a_bits;
        o.attn_bits = attn_bits;
        o.numerics = numerics;
        o.batch = batch_size;
        o.threads = threads;
        o.decode_threads = decode_threads;
        o.progress = progress;
        const fqvit::CalibrationSummary s = without_gil([&] { return fqvit::calibrate(o); });
        py::dict d;
        d["out"] = s.out;
        d["images"] = s.images;
        d["seconds"] = s.seconds;
        return d;
      },
      py::arg("model_dir"), py::arg("images_dir"), py::arg("out"), py::kw_only(), py::arg("class_list") = "",
      py::arg("calib_list") = "", py::arg("images") = 1000, py::arg("seed") = 0, py::arg("config") = "",
      py::arg("method") = "", py::arg("ptf") = py::none(), py::arg("lis") = py::none(), py::arg("w_bits") = 0,
      py::arg("a_bits") = 0, py::arg("attn_bits") = 0, py::arg("numerics") = "torch", py::arg("batch_size") = 100,
      py::arg("threads") = 0, py::arg("decode_threads") = 1, py::arg("progress") = false,
      "FQ-ViT calibration of a checkpoint directory into a quantized model file, as fqvit-calibrate (keywords "
      "are its flags; 0 / None / '' keep the preset's value). images_dir: an ImageFolder, or a list of image "
      "paths used in order. Returns {out, images, seconds}.");

  m.def(
      "evaluate",
      [](const std::string& model, const std::string& data, const std::string& class_list,
         const std::string& labels, const std::string& engine, const std::string& numerics, int batch_size,
         int threads, int decode_threads, int limit, const std::string& shard) {
        fqvit::EvaluateOptions o;
        o.model = model;
        o.data = data;
        o.class_list = class_list;
        o.labels = labels;
        o.engine = engine;
        o.numerics = numerics;
        o.batch_size = batch_size;
        o.threads = threads;
        o.decode_threads = decode_threads;
        o.limit = limit;
        o.shard = shard;
        const fqvit::EvaluationReport r = without_gil([&] { return fqvit::evaluate(o); });
        return py::module_::import("json").attr("loads")(r.json);
      },
      py::arg("model"), py::arg("data"), py::kw_only(), py::arg("class_list") = "", py::arg("labels") = "",
      py::arg("engine") = "", py::arg("numerics") = "", py::arg("batch_size") = 8, py::arg("threads") = 0,
      py::arg("decode_threads") = 1, py::arg("limit") = 0, py::arg("shard") = "",
      "Top-1 / top-5 over an ImageFolder; returns the dict fqvit-eval --json writes (keywords are its flags).");

  m.def(
      "read_image",
      [](const std::string& path) {
        const fqvit::DecodedImage image = with_errors([&] { return fqvit::read_image(path); });
        UInt8Array out({image.height, image.width, 3});
        std::copy(image.rgb.begin(), image.rgb.end(), out.mutable_data());
        return out;
      },
      py::arg("path"), "A JPEG/PNG file as uint8 RGB (H, W, 3), the pixels Pillow's convert('RGB') gives.");
}
