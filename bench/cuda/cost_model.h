// A roofline cost model of one Ovis-Image generation on a GPU: FLOPs and bytes of every op of one
// denoising step (MMDiT forward at CFG batch), plus text encoding and VAE decode, each op timed as
// max(FLOPs / compute rate, bytes / memory bandwidth). Pure C++ (no CUDA), so it also runs here.
// The figures are a PREDICTION until a GPU measures them (bench/RESULTS.md says which is which).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ovis::bench {

enum class OpKind { Gemm, Attention, Memory };

// One op kind of the step, with how many times it runs per MMDiT forward (or per stage).
struct OpCost {
  std::string name;
  OpKind kind;
  double count;  // calls per forward (or per stage)
  double flops;  // per call
  double bytes;  // per call: minimal reads + writes (weights once, activations once)
};

// Rates of a card. Datasheet figures are peaks; the efficiencies say what fraction a kernel of each kind
// is assumed to reach (GEMM: 798 of 989 TFLOP/s was measured on an H100 for a large bf16 product).
struct DeviceRates {
  std::string name;
  double gemm_flops;       // FLOP/s, dense bf16
  double bandwidth;        // bytes/s of device memory
  double gemm_efficiency;  // fraction of gemm_flops a large GEMM reaches
  double attention_efficiency;
  double memory_efficiency;
};

DeviceRates h100_sxm_datasheet();

struct Workload {
  int64_t width = 1024, height = 1024;
  int64_t batch = 2;  // MMDiT batch per step (2 = CFG)
  int64_t steps = 50;
  int64_t text_tokens = 284, context_tokens = 256;
  int64_t bytes_per_value = 2;  // bf16
};

std::vector<OpCost> mmdit_forward_ops(const Workload& w);
std::vector<OpCost> text_encoder_ops(const Workload& w);
std::vector<OpCost> vae_decode_ops(const Workload& w);

double op_seconds(const OpCost& op, const DeviceRates& r);  // per call, at the assumed efficiencies
double total_flops(const std::vector<OpCost>& ops);         // count-weighted
double total_seconds(const std::vector<OpCost>& ops, const DeviceRates& r);

struct Prediction {
  double step_s, text_s, vae_s, image_s, floor_s;  // floor: all FLOPs at datasheet GEMM peak
};
Prediction predict_image(const Workload& w, const DeviceRates& r);

// The per-op table and the per-image sum, in Markdown, labelled as a prediction.
std::string cost_report(const Workload& w, const DeviceRates& r);

}  // namespace ovis::bench
