#include "golden_cases.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "golden_plan.h"
#include "model/schedule.h"

namespace ovis::test {

SafetensorsFile golden_file(const std::string& rel) { return read_safetensors(golden_dir() + "/" + rel); }

Tensor ids_as_i32(const Tensor& f) {
  Tensor t = host_alloc(f.shape, DType::I32);
  for (int64_t i = 0; i < f.numel(); ++i) t.ptr<int32_t>()[i] = int32_t(std::lround(f.ptr<float>()[i]));
  return t;
}

std::vector<float> golden_schedule(int steps, int64_t image_tokens) { return flow_match_sigmas(steps, image_tokens); }

GoldenPipelineCase golden_pipeline_case(const std::string& name) {
  Json manifest = parse_json(read_text_file(golden_dir() + "/manifest.json"));
  const Json& c = manifest.at("cases").at("pipeline/" + name);
  GoldenPipelineCase p{
      golden_file("pipeline/" + name + "/io.safetensors"), {}, int(c.at("height").num), int(c.at("width").num)};
  p.req.noise = p.io.load_f32("initial_noise");
  p.req.guidance = float(c.at("guidance").num);
  p.req.sigmas = golden_schedule(int(c.at("steps").num), int64_t(p.height / 16) * (p.width / 16));
  p.req.prompt_embeds = p.io.load_f32("prompt_embeds");
  p.req.negative_embeds = p.io.load_f32("negative_prompt_embeds");
  return p;
}

ImageDiff compare_image(const Tensor& image, const Tensor& ref) {
  if (image.shape.rank != 4 || image.shape[0] != 1 || image.shape[1] != 3 || ref.shape.rank != 3 ||
      ref.shape[0] != image.shape[2] || ref.shape[1] != image.shape[3] || ref.shape[2] != 3)
    throw std::runtime_error("compare_image: image " + image.shape.str() + " vs reference " + ref.shape.str());
  const int64_t h = image.shape[2], w = image.shape[3];
  ImageDiff d;
  double num = 0, den = 0;
  bool nan = false;
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      for (int64_t c = 0; c < 3; ++c, ++d.total) {
        const float raw = image.ptr<float>()[(c * h + y) * w + x];
        nan = nan || std::isnan(raw);
        const float v = std::min(1.0f, std::max(0.0f, (raw + 1) / 2));
        const double r = ref.ptr<float>()[(y * w + x) * 3 + c];
        const double diff = std::fabs(v - r);
        d.max_abs = std::max(d.max_abs, diff);
        if (diff > 1.0 / 255) ++d.beyond_1_255;
        num += diff * diff;
        den += r * r;
      }
  d.rel = nan ? INFINITY : den > 0 ? std::sqrt(num / den) : std::sqrt(num);
  if (nan) d.max_abs = INFINITY;
  return d;
}

}  // namespace ovis::test
