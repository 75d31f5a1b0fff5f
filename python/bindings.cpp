// vaead._core: the C++ library as Python sees it. Arrays are read in place (any numeric dtype,
// any strides); the GIL is released while the library trains or scores; Ctrl-C asks training to
// stop (the engines look between optimizer steps) and then raises KeyboardInterrupt; the
// library's InputError is ValueError with the message the CLI prints. Everything else is in the
// Python package (python/vaead/), which adds scikit-learn's conventions and nothing of the
// algorithm.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "util/text.hpp"
#include "vaead/data/table.hpp"
#include "vaead/detector/score.hpp"
#include "vaead/detector/train.hpp"
#include "vaead/eval/metrics.hpp"
#include "vaead/eval/threshold.hpp"
#include "vaead/io/model_file.hpp"
#include "vaead/io/onnx_export.hpp"
#include "vaead/study/experiment.hpp"
#include "vaead/study/sweep_summary.hpp"
#include "vaead/train/trainer.hpp"
#include "vaead/util/error.hpp"
#include "vaead/util/limits.hpp"
#include "vaead/util/version.hpp"

namespace nb = nanobind;
using namespace nb::literals;

namespace vaead::python {
namespace {

// A 2-D (or, for labels and scores, 1-D) array of any dtype, read in place.
using AnyMatrix = nb::ndarray<nb::ro, nb::ndim<2>, nb::device::cpu>;
using AnyVector = nb::ndarray<nb::ro, nb::ndim<1>, nb::device::cpu>;

template <class Array>
char kind_of(const Array& array, const std::string& source) {
  switch (static_cast<nb::dlpack::dtype_code>(array.dtype().code)) {
    case nb::dlpack::dtype_code::Float:
      return 'f';
    case nb::dlpack::dtype_code::Int:
      return 'i';
    case nb::dlpack::dtype_code::UInt:
      return 'u';
    case nb::dlpack::dtype_code::Bool:
      return 'b';
    default:
      throw InputError(source +
                       ": unsupported dtype (float32, float64, integers and bool are read)");
  }
}

ArrayView view_of(const AnyMatrix& x, const std::string& source) {
  const auto size = static_cast<int>(x.itemsize());
  return ArrayView{static_cast<const std::uint8_t*>(x.data()),
                   x.shape(0),
                   x.shape(1),
                   static_cast<std::ptrdiff_t>(x.stride(0)) * size,
                   static_cast<std::ptrdiff_t>(x.stride(1)) * size,
                   kind_of(x, source),
                   size};
}

// A column vector's view of a 1-D array.
ArrayView view_of(const AnyVector& y, const std::string& source) {
  const auto size = static_cast<int>(y.itemsize());
  return ArrayView{static_cast<const std::uint8_t*>(y.data()),
                   y.shape(0),
                   1,
                   static_cast<std::ptrdiff_t>(y.stride(0)) * size,
                   size,
                   kind_of(y, source),
                   size};
}

// Labels: every value 0 or 1, checked as a .npy file's label column is.
std::vector<std::uint8_t> labels_of(const AnyVector& y, const std::string& source) {
  const Table column = table_from_array(view_of(y, source), {"label"}, source);
  std::vector<std::uint8_t> labels(column.data.rows());
  for (std::size_t r = 0; r < labels.size(); ++r) {
    const float value = column.data.features(r, 0);
    if (value != 0.0f && value != 1.0f) {
      throw InputError(source + ": row " + std::to_string(r) + " (from 0): " + text::number(value) +
                       " is not a label (0 = normal, 1 = anomaly)");
    }
    labels[r] = value == 1.0f ? 1 : 0;
  }
  return labels;
}

std::vector<float> floats_of(const AnyVector& values, const std::string& source) {
  return table_from_array(view_of(values, source), {"score"}, source).data.features.values;
}

// A new NumPy array that owns `values`.
template <class T>
nb::ndarray<nb::numpy, T> numpy_of(std::vector<T> values,
                                   std::initializer_list<std::size_t> shape) {
  auto* owned = new std::vector<T>(std::move(values));
  nb::capsule owner(owned, [](void* p) noexcept { delete static_cast<std::vector<T>*>(p); });
  return nb::ndarray<nb::numpy, T>(owned->data(), shape, owner);
}

EngineKind device_of(const std::string& name) {
  static const std::map<std::string, DeviceChoice> choices{
      {"auto", DeviceChoice::automatic}, {"cpu", DeviceChoice::cpu}, {"cuda", DeviceChoice::cuda}};
  const auto found = choices.find(name);
  require(found != choices.end(), "device: '" + name + "' is not one of auto, cpu, cuda");
  return resolve_device(found->second);
}

// While alive on Python's main thread, SIGINT asks training to stop (request_stop) instead of
// waiting for the GIL; the handler before it comes back after. Python's own handler only runs
// when the GIL is held, so without this Ctrl-C would wait for the end of training.
class StopOnInterrupt {
 public:
  StopOnInterrupt() {
    nb::module_ threading = nb::module_::import_("threading");
    installed_ = threading.attr("current_thread")().is(threading.attr("main_thread")());
    if (!installed_) return;
    clear_stop_request();
    struct sigaction action {};
    action.sa_handler = [](int) { request_stop(); };
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &previous_);
  }
  ~StopOnInterrupt() {
    if (installed_) sigaction(SIGINT, &previous_, nullptr);
  }
  StopOnInterrupt(const StopOnInterrupt&) = delete;
  StopOnInterrupt& operator=(const StopOnInterrupt&) = delete;

  // KeyboardInterrupt when Ctrl-C came during the call.
  void raise_if_interrupted() const {
    if (!installed_ || !stop_requested()) return;
    clear_stop_request();
    PyErr_SetNone(PyExc_KeyboardInterrupt);
    throw nb::python_error();
  }

 private:
  bool installed_ = false;
  struct sigaction previous_ {};
};

// Runs `work` without the GIL, Ctrl-C asking it to stop.
template <class Work>
auto interruptible(Work&& work) {
  StopOnInterrupt guard;
  std::optional<decltype(work())> result;
  try {
    nb::gil_scoped_release release;
    result.emplace(work());
  } catch (const Interrupted&) {
    guard.raise_if_interrupted();
    throw;
  }
  guard.raise_if_interrupted();
  return std::move(*result);
}

struct TrainResult {
  ModelFile model;
  Schedule schedule;
  std::vector<std::string> notes;
  std::vector<std::size_t> holdout_rows;
  std::vector<float> holdout_scores;  // in holdout_rows' order
  double seconds = 0.0;
  double samples_per_second = 0.0;
  double final_loss = 0.0;
  std::string device;
};

TrainResult fit_model(const AnyMatrix& x, std::vector<std::string> names, const std::string& source,
                      int latent, std::vector<int> encoder_hidden, std::vector<int> decoder_hidden,
                      std::optional<std::vector<double>> betas, std::optional<int> members,
                      std::optional<int> epochs, std::optional<int> batch_size,
                      std::optional<int> kl_warmup, std::optional<double> holdout,
                      double learning_rate, const std::string& threshold, std::uint64_t seed,
                      int threads, const std::string& device) {
  DetectorOptions options;
  options.engine.architecture.latent_dim = latent;
  options.engine.architecture.encoder_hidden = std::move(encoder_hidden);
  options.engine.architecture.decoder_hidden = std::move(decoder_hidden);
  options.engine.adam.learning_rate = learning_rate;
  options.engine.seed = seed;
  options.engine.threads = threads;
  if (betas) options.betas = std::move(*betas);
  options.members = members;
  options.epochs = epochs;
  options.batch_size = batch_size;
  options.kl_warmup_epochs = kl_warmup;
  options.holdout_fraction = holdout;
  options.threshold = ThresholdRule::parse(threshold);
  options.device = device_of(device);
  const ArrayView view = view_of(x, source);
  return interruptible([&] {
    const Table table = table_from_array(view, std::move(names), source);
    TrainedDetector trained = train_detector(table, options);
    TrainResult out;
    out.model = std::move(trained.model);
    out.schedule = trained.schedule;
    out.notes = std::move(trained.notes);
    out.notes.insert(out.notes.begin(), table.notes.begin(), table.notes.end());
    out.holdout_rows = std::move(trained.holdout_rows);
    out.holdout_scores = std::move(trained.holdout_scores);
    out.seconds = trained.report.seconds;
    out.samples_per_second = trained.report.samples_per_second();
    out.final_loss = trained.report.epochs.back().mean.loss;
    out.device = engine_kind_name(options.device);
    return out;
  });
}

nb::dict score_array(const ModelFile& model, const AnyMatrix& x, std::vector<std::string> names,
                     const std::string& source, bool per_feature, const std::string& device,
                     int threads, std::optional<std::string> threshold) {
  const ThresholdRule rule = threshold ? ThresholdRule::parse(*threshold) : model.threshold_rule;
  const EngineKind engine = device_of(device);
  const ArrayView view = view_of(x, source);
  ScoredRows scored = interruptible([&] {  // the array read in place, a chunk at a time
    return score_rows(model, array_rows(view, std::move(names), source), engine, rule, per_feature,
                      threads);
  });
  const std::size_t rows = scored.scores.size();
  nb::dict out;
  out["scores"] = numpy_of(std::move(scored.scores), {rows});
  out["flagged"] = numpy_of(std::move(scored.flagged), {rows});
  out["threshold"] = scored.threshold;
  if (per_feature)
    out["per_feature"] =
        numpy_of(std::move(scored.per_feature.values), {rows, scored.per_feature.cols});
  return out;
}

nb::dict spread_dict(const Spread& spread) {
  nb::dict out;
  out["mean"] = spread.mean;
  out["std"] = spread.std;
  return out;
}

// A sweep's cells as dicts, with the configurations each choice picks.
nb::list cell_rows(const std::vector<SweepCell>& cells) {
  const SweepChoice choice = choose_configuration(cells);
  nb::list rows;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    const SweepCell& cell = cells[i];
    nb::dict row;
    row["latent"] = cell.latent_dim;
    row["beta"] = cell.beta;
    row["runs"] = cell.runs;
    row["failed"] = cell.failed;
    row["roc_auc"] = spread_dict(cell.roc_auc);
    row["pr_auc"] = spread_dict(cell.pr_auc);
    row["precision"] = spread_dict(cell.precision);
    row["recall"] = spread_dict(cell.recall);
    row["f1"] = spread_dict(cell.f1);
    row["validation_error"] = spread_dict(cell.validation_error);
    row["label_free_choice"] = i == choice.label_free;
    row["best_roc_auc"] = choice.best_roc_auc && i == *choice.best_roc_auc;
    rows.append(row);
  }
  return rows;
}

// A sweep's runs as dicts.
nb::list run_rows(const ExperimentResult& result) {
  nb::list runs;
  for (const RunResult& run : result.runs) {
    nb::dict row;
    row["latent"] = run.latent_dim;
    row["beta"] = run.beta;
    row["seed"] = run.seed;
    row["failure"] = run.failure;
    row["roc_auc"] = run.roc_auc;
    row["pr_auc"] = run.pr_auc;
    row["validation_error"] = run.validation_error;
    row["threshold"] = run.threshold;
    row["precision"] = run.at_threshold.precision();
    row["recall"] = run.at_threshold.recall();
    row["f1"] = run.at_threshold.f1();
    row["train_seconds"] = run.training.seconds;
    runs.append(row);
  }
  return runs;
}

nb::dict run_sweep(const AnyMatrix& x, std::optional<AnyVector> y, std::vector<std::string> names,
                   const std::string& source, std::vector<int> latents, std::vector<double> betas,
                   int seeds, std::uint64_t seed, double validation_share, double test_share,
                   std::optional<int> epochs, std::optional<int> batch_size,
                   std::optional<int> kl_warmup, std::vector<int> encoder_hidden,
                   std::vector<int> decoder_hidden, double learning_rate,
                   const std::string& threshold, int threads, const std::string& device) {
  ExperimentConfig config;
  config.latent_dims = std::move(latents);
  config.betas = std::move(betas);
  config.seed_count = seeds;
  config.first_seed = seed;
  config.engine.architecture.encoder_hidden = std::move(encoder_hidden);
  config.engine.architecture.decoder_hidden = std::move(decoder_hidden);
  config.engine.adam.learning_rate = learning_rate;
  config.engine.threads = threads;
  config.threshold = ThresholdRule::parse(threshold);
  config.device = device_of(device);
  const ArrayView view = view_of(x, source);
  std::vector<std::uint8_t> labels;
  if (y) {
    labels = labels_of(*y, "y");
    require(labels.size() == view.rows, "y has " + std::to_string(labels.size()) + " labels for " +
                                            std::to_string(view.rows) + " rows of " + source);
  }
  const ExperimentResult result = interruptible([&] {
    Table table = table_from_array(view, std::move(names), source);
    table.data.labels = std::move(labels);
    use_table(config, table, validation_share, test_share, seed, batch_size, epochs, kl_warmup);
    return run_experiment(config);
  });
  nb::dict out;
  out["cells"] = cell_rows(summarize_sweep(result));
  out["runs"] = run_rows(result);
  out["epochs"] = config.train.epochs;
  out["batch_size"] = config.engine.batch_size;
  return out;
}

nb::dict confusion(const AnyVector& labels, const AnyVector& scores, double threshold) {
  const Confusion c =
      confusion_at(floats_of(scores, "scores"), labels_of(labels, "y_true"), threshold);
  nb::dict out;
  out["true_positives"] = c.true_positives;
  out["false_positives"] = c.false_positives;
  out["true_negatives"] = c.true_negatives;
  out["false_negatives"] = c.false_negatives;
  out["precision"] = c.precision();
  out["recall"] = c.recall();
  out["f1"] = c.f1();
  return out;
}

nb::bytes model_bytes(const ModelFile& model) {
  const std::vector<std::uint8_t> bytes = serialize_model(model);
  return nb::bytes(bytes.data(), bytes.size());
}

// The ONNX scoring graph's bytes, also written to `path` (atomically) when one is given.
nb::bytes onnx_bytes(const ModelFile& model, const std::optional<std::string>& path) {
  const std::vector<std::uint8_t> bytes = onnx_model(model);
  if (path) write_onnx(*path, bytes);
  return nb::bytes(bytes.data(), bytes.size());
}

ModelFile model_from_bytes(const nb::bytes& bytes, const std::string& source) {
  const auto* data = static_cast<const std::uint8_t*>(bytes.data());
  return parse_model(std::span<const std::uint8_t>(data, bytes.size()), source);
}

}  // namespace
}  // namespace vaead::python

namespace vaead::python {
namespace {

// InputError as ValueError, TrainingError as _core.TrainingError (a RuntimeError), and the
// library's ceilings (vaead/util/limits.hpp), so that the package names the parameter first.
void bind_errors_and_limits(nb::module_& m) {
  nb::exception<TrainingError>(m, "TrainingError", PyExc_RuntimeError);
  nb::register_exception_translator([](const std::exception_ptr& error, void*) {
    try {
      std::rethrow_exception(error);
    } catch (const InputError& input) {
      PyErr_SetString(PyExc_ValueError, input.what());
    }
  });

  nb::dict ceilings;
  ceilings["threads"] = limits::kThreads;
  ceilings["width"] = limits::kWidth;
  ceilings["hidden_layers"] = limits::kHiddenLayers;
  ceilings["epochs"] = limits::kEpochs;
  ceilings["batch_size"] = limits::kBatchSize;
  ceilings["seeds"] = limits::kSeeds;
  ceilings["members"] = static_cast<int>(kMaxMembers);
  m.attr("limits") = ceilings;
}

// Small helpers the package calls: the version, devices, message wording, threshold rules.
void bind_helpers(nb::module_& m) {
  m.def("version", [] { return std::string(version()); });
  m.def("cuda_built", &cuda_built);
  m.def("resolve_device",
        [](const std::string& name) { return std::string(engine_kind_name(device_of(name))); });
  m.def("not_a_number", [](const std::string& source, std::size_t row, const std::string& column,
                           const std::string& cell) {
    return source + ": row " + std::to_string(row) + " (from 0), column " + text::quote(column) +
           ": " + text::quote(cell) + " is not a number";
  });
  m.def("check_threshold",
        [](const std::string& text) { return ThresholdRule::parse(text).to_string(); });
}

// A model file (one model or an ensemble), and what training returns.
void bind_model(nb::module_& m) {
  nb::class_<ModelFile>(m, "Model")
      .def_prop_ro("feature_names", [](const ModelFile& model) { return model.feature_names; })
      .def_prop_ro("threshold", [](const ModelFile& model) { return model.threshold; })
      .def_prop_ro("threshold_rule",
                   [](const ModelFile& model) { return model.threshold_rule.to_string(); })
      .def_prop_ro(
          "holdout_scores",
          [](const ModelFile& model) {
            return numpy_of(model.holdout_scores, {model.holdout_scores.size()});
          },
          nb::rv_policy::move)
      .def_prop_ro("latent",
                   [](const ModelFile& model) { return model.engine.architecture.latent_dim; })
      .def_prop_ro("encoder_hidden",
                   [](const ModelFile& model) { return model.engine.architecture.encoder_hidden; })
      .def_prop_ro("decoder_hidden",
                   [](const ModelFile& model) { return model.engine.architecture.decoder_hidden; })
      .def_prop_ro("betas",
                   [](const ModelFile& model) {
                     return model.member_betas.empty() ? std::vector<double>{model.train.beta}
                                                       : model.member_betas;
                   })
      .def_prop_ro("members", &ModelFile::members)
      .def_prop_ro("training_rows", [](const ModelFile& model) { return model.training_rows; })
      .def_prop_ro("holdout_rows", [](const ModelFile& model) { return model.holdout_rows; })
      .def("to_bytes", &model_bytes)
      .def("to_onnx", &onnx_bytes, "path"_a.none() = nb::none())
      .def("save",
           [](const ModelFile& model, const std::string& path) { write_model(path, model); })
      .def_static("from_bytes", &model_from_bytes, "data"_a, "source"_a)
      .def_static("load", [](const std::string& path) { return read_model(path); });

  nb::class_<TrainResult>(m, "TrainResult")
      .def_ro("model", &TrainResult::model)
      .def_ro("notes", &TrainResult::notes)
      .def_ro("holdout_rows", &TrainResult::holdout_rows)
      .def_prop_ro(
          "holdout_scores",
          [](const TrainResult& r) {
            return numpy_of(r.holdout_scores, {r.holdout_scores.size()});
          },
          nb::rv_policy::move)
      .def_ro("seconds", &TrainResult::seconds)
      .def_ro("samples_per_second", &TrainResult::samples_per_second)
      .def_ro("final_loss", &TrainResult::final_loss)
      .def_ro("device", &TrainResult::device)
      .def_prop_ro("epochs", [](const TrainResult& r) { return r.schedule.epochs; })
      .def_prop_ro("batch_size", [](const TrainResult& r) { return r.schedule.batch_size; })
      .def_prop_ro("members", [](const TrainResult& r) { return r.schedule.members; });
}

// Training, scoring, sweeps and the metrics.
void bind_functions(nb::module_& m) {
  m.def("train", &fit_model, "x"_a, "names"_a, "source"_a, "latent"_a, "encoder_hidden"_a,
        "decoder_hidden"_a, "betas"_a.none(), "members"_a.none(), "epochs"_a.none(),
        "batch_size"_a.none(), "kl_warmup"_a.none(), "holdout"_a.none(), "learning_rate"_a,
        "threshold"_a, "seed"_a, "threads"_a, "device"_a);
  m.def("score", &score_array, "model"_a, "x"_a, "names"_a, "source"_a, "per_feature"_a, "device"_a,
        "threads"_a, "threshold"_a.none());
  m.def("sweep", &run_sweep, "x"_a, "y"_a.none(), "names"_a, "source"_a, "latents"_a, "betas"_a,
        "seeds"_a, "seed"_a, "validation_share"_a, "test_share"_a, "epochs"_a.none(),
        "batch_size"_a.none(), "kl_warmup"_a.none(), "encoder_hidden"_a, "decoder_hidden"_a,
        "learning_rate"_a, "threshold"_a, "threads"_a, "device"_a);
  m.def("roc_auc", [](const AnyVector& y, const AnyVector& scores) {
    return roc_auc(floats_of(scores, "scores"), labels_of(y, "y_true"));
  });
  m.def("average_precision", [](const AnyVector& y, const AnyVector& scores) {
    return average_precision(floats_of(scores, "scores"), labels_of(y, "y_true"));
  });
  m.def("confusion", &confusion, "y_true"_a, "scores"_a, "threshold"_a);
}

}  // namespace
}  // namespace vaead::python

NB_MODULE(_core, m) {
  m.doc() = "vaead's C++ library; use the vaead package, not this module";
  vaead::python::bind_errors_and_limits(m);
  vaead::python::bind_helpers(m);
  vaead::python::bind_model(m);
  vaead::python::bind_functions(m);
}
