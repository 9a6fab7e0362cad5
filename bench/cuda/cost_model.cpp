// Op lists of the Ovis-Image networks (docs/MODEL.md) with their FLOPs and minimal bytes, and the roofline
// sums. The glue ops are counted as the fused kernels issue 13 asks for (q/k norm + RoPE in one pass,
// SwiGLU in place, modulated LayerNorm fused), so the figure is what the fused engine should reach.
#include "cost_model.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace ovis::bench {
namespace {

constexpr double kD = 3072, kMlp = 12288, kDouble = 6, kSingle = 27;
constexpr double kTeHidden = 2048, kTeLayers = 28, kTeKv = 1024, kTeMlp = 6144;

// Adds an op, or adds its count to an identical one already listed (VAE layers repeat).
void add(std::vector<OpCost>& ops, OpCost op) {
  for (auto& o : ops)
    if (o.name == op.name && o.flops == op.flops && o.bytes == op.bytes) {
      o.count += op.count;
      return;
    }
  ops.push_back(std::move(op));
}

// y[M, N] = x[M, K] W[K, N]: weights, input and output each read or written once.
OpCost gemm(const std::string& name, double count, double m, double k, double n, double v) {
  return {name, OpKind::Gemm, count, 2 * m * k * n, v * (k * n + m * k + m * n)};
}

// Flash attention: Q, K, V read once and O written once; S x S scores never reach memory.
OpCost attention(const std::string& name, double count, double batch, double seq, double width, double v) {
  return {name, OpKind::Attention, count, batch * 4 * seq * seq * width, v * 4 * batch * seq * width};
}

OpCost memory(const std::string& name, double count, double bytes) { return {name, OpKind::Memory, count, 0, bytes}; }

OpCost conv(const std::string& name, double hw, double cin, double cout, double k, double v) {
  return {name, OpKind::Gemm, 1, 2 * hw * cin * cout * k * k, v * (hw * cin + hw * cout + cin * cout * k * k)};
}

std::string at(int64_t side_h, int64_t side_w) { return " @" + std::to_string(side_h) + "x" + std::to_string(side_w); }

void add_resnet(std::vector<OpCost>& ops, double cin, double cout, int64_t h, int64_t w, double v) {
  const double hw = double(h) * w;
  const std::string where = at(h, w);
  const std::string io = std::to_string(int(cin)) + "->" + std::to_string(int(cout));
  add(ops, memory("vae groupnorm+silu " + std::to_string(int(cin)) + where, 1, v * 3 * hw * cin));
  add(ops, conv("vae conv3x3 " + io + where, hw, cin, cout, 3, v));
  add(ops, memory("vae groupnorm+silu " + std::to_string(int(cout)) + where, 1, v * 3 * hw * cout));
  add(ops, conv("vae conv3x3 " + std::to_string(int(cout)) + "->" + std::to_string(int(cout)) + where, hw, cout, cout,
                3, v));
  if (cin != cout) add(ops, conv("vae conv1x1 shortcut " + io + where, hw, cin, cout, 1, v));
  add(ops, memory("vae residual add " + std::to_string(int(cout)) + where, 1, v * 3 * hw * cout));
}

void add_upsample(std::vector<OpCost>& ops, double c, int64_t h, int64_t w, double v) {
  const double hw = double(h) * w;  // the input side; output is 4x
  add(ops, memory("vae upsample 2x " + std::to_string(int(c)) + at(h, w), 1, v * 5 * hw * c));
  add(ops, conv("vae conv3x3 " + std::to_string(int(c)) + "->" + std::to_string(int(c)) + at(2 * h, 2 * w), 4 * hw, c,
                c, 3, v));
}

}  // namespace

DeviceRates h100_sxm_datasheet() {
  // H100 SXM5 datasheet: 989 TFLOP/s dense bf16, 3.35 TB/s HBM3. GEMM efficiency from the 798 TFLOP/s
  // measured here (docs/MODEL.md); attention at issue 13's aim (350 TFLOP/s); memory at 80% of peak.
  return {"H100 SXM (datasheet rates)", 989e12, 3.35e12, 798.0 / 989.0, 350.0 / 989.0, 0.8};
}

std::vector<OpCost> mmdit_forward_ops(const Workload& w) {
  const double v = double(w.bytes_per_value), n = double(w.batch);
  const double img = double(w.width / 16) * double(w.height / 16), txt = double(w.context_tokens);
  const double seq = img + txt, d = kD, f = kMlp;
  std::vector<OpCost> ops;
  ops.push_back(gemm("x_embedder 64->D", 1, n * img, 64, d, v));
  ops.push_back(memory("context RMSNorm", 1, v * 2 * n * txt * 2048));
  ops.push_back(gemm("context_embedder 2048->D", 1, n * txt, 2048, d, v));
  ops.push_back(gemm("time embedding MLP (2 linears)", 2, n, d, d, v));
  for (const auto& [stream, rows] : {std::pair<const char*, double>{"img", img}, {"txt", txt}}) {
    const std::string p = std::string("double ") + stream + ": ";
    const double m = n * rows;
    ops.push_back(gemm(p + "modulation D->6D", kDouble, n, d, 6 * d, v));
    ops.push_back(memory(p + "LayerNorm+modulation (x2)", 2 * kDouble, v * 2 * m * d));
    ops.push_back(gemm(p + "qkv D->3D", kDouble, m, d, 3 * d, v));
    ops.push_back(memory(p + "q/k RMSNorm+RoPE", kDouble, v * 4 * m * d));
    ops.push_back(gemm(p + "attention out D->D", kDouble, m, d, d, v));
    ops.push_back(memory(p + "gated residual add (x2)", 2 * kDouble, v * 3 * m * d));
    ops.push_back(gemm(p + "MLP [up|gate] D->2F", kDouble, m, d, 2 * f, v));
    ops.push_back(memory(p + "SwiGLU", kDouble, v * 3 * m * f));
    ops.push_back(gemm(p + "MLP down F->D", kDouble, m, f, d, v));
  }
  ops.push_back(attention("double: joint attention", kDouble, n, seq, d, v));
  const double m = n * seq;
  ops.push_back(gemm("single: modulation D->3D", kSingle, n, d, 3 * d, v));
  ops.push_back(memory("single: LayerNorm+modulation", kSingle, v * 2 * m * d));
  ops.push_back(gemm("single: linear1 D->3D+2F", kSingle, m, d, 3 * d + 2 * f, v));
  ops.push_back(memory("single: q/k RMSNorm+RoPE", kSingle, v * 4 * m * d));
  ops.push_back(attention("single: attention", kSingle, n, seq, d, v));
  ops.push_back(memory("single: SwiGLU into the proj_out input", kSingle, v * 3 * m * f));
  ops.push_back(gemm("single: proj_out D+F->D", kSingle, m, d + f, d, v));
  ops.push_back(memory("single: gated residual add", kSingle, v * 3 * m * d));
  ops.push_back(gemm("final: modulation D->2D", 1, n, d, 2 * d, v));
  ops.push_back(memory("final: LayerNorm+modulation", 1, v * 2 * n * img * d));
  ops.push_back(gemm("final: linear D->64", 1, n * img, d, 64, v));
  // Sampler on f32 latents: read the two velocities and the latents, write the latents.
  ops.push_back(memory("CFG combine + Euler update", 1, 4.0 * 4 * img * 64));
  return ops;
}

std::vector<OpCost> text_encoder_ops(const Workload& w) {
  const double v = double(w.bytes_per_value), n = double(w.batch), t = double(w.text_tokens);
  const double m = n * t, h = kTeHidden, layers = kTeLayers;
  return {
      memory("text: RMSNorm (x2)", 2 * layers, v * 2 * m * h),
      gemm("text: qkv 2048->4096", layers, m, h, h + 2 * kTeKv, v),
      memory("text: q/k RMSNorm+RoPE", layers, v * 2 * m * (h + kTeKv)),
      attention("text: causal GQA attention", layers, n, t, h, v),
      gemm("text: o 2048->2048", layers, m, h, h, v),
      gemm("text: MLP [up|gate] 2048->12288", layers, m, h, 2 * kTeMlp, v),
      memory("text: SwiGLU", layers, v * 3 * m * kTeMlp),
      gemm("text: MLP down 6144->2048", layers, m, kTeMlp, h, v),
  };
}

std::vector<OpCost> vae_decode_ops(const Workload& w) {
  const double v = double(w.bytes_per_value);
  const int64_t h = w.height / 8, wd = w.width / 8;
  const double tokens = double(h) * wd;
  std::vector<OpCost> ops;
  add(ops, conv("vae conv_in 16->512" + at(h, wd), tokens, 16, 512, 3, v));
  add_resnet(ops, 512, 512, h, wd, v);
  add(ops, memory("vae mid groupnorm" + at(h, wd), 1, v * 3 * tokens * 512));
  add(ops, gemm("vae mid q/k/v 512->1536" + at(h, wd), 1, tokens, 512, 1536, v));
  add(ops, attention("vae mid attention (1 head, 512)" + at(h, wd), 1, 1, tokens, 512, v));
  add(ops, gemm("vae mid out 512->512" + at(h, wd), 1, tokens, 512, 512, v));
  add_resnet(ops, 512, 512, h, wd, v);
  const double channels[4] = {512, 512, 256, 128};
  double cin = 512;
  int64_t sh = h, sw = wd;
  for (int b = 0; b < 4; ++b) {
    for (int r = 0; r < 3; ++r) add_resnet(ops, r == 0 ? cin : channels[b], channels[b], sh, sw, v);
    cin = channels[b];
    if (b < 3) {
      add_upsample(ops, cin, sh, sw, v);
      sh *= 2, sw *= 2;
    }
  }
  add(ops, memory("vae norm_out+silu 128" + at(sh, sw), 1, v * 3 * double(sh) * sw * 128));
  add(ops, conv("vae conv_out 128->3" + at(sh, sw), double(sh) * sw, 128, 3, 3, v));
  return ops;
}

double op_seconds(const OpCost& op, const DeviceRates& r) {
  const double eff = op.kind == OpKind::Attention ? r.attention_efficiency : r.gemm_efficiency;
  const double compute = op.flops / (r.gemm_flops * eff);
  const double memory = op.bytes / (r.bandwidth * r.memory_efficiency);
  return std::max(compute, memory);
}

double total_flops(const std::vector<OpCost>& ops) {
  double s = 0;
  for (const auto& o : ops) s += o.count * o.flops;
  return s;
}

double total_seconds(const std::vector<OpCost>& ops, const DeviceRates& r) {
  double s = 0;
  for (const auto& o : ops) s += o.count * op_seconds(o, r);
  return s;
}

Prediction predict_image(const Workload& w, const DeviceRates& r) {
  const auto step = mmdit_forward_ops(w), text = text_encoder_ops(w), vae = vae_decode_ops(w);
  Prediction p;
  p.step_s = total_seconds(step, r);
  p.text_s = total_seconds(text, r);
  p.vae_s = total_seconds(vae, r);
  p.image_s = double(w.steps) * p.step_s + p.text_s + p.vae_s;
  p.floor_s = (double(w.steps) * total_flops(step) + total_flops(text) + total_flops(vae)) / r.gemm_flops;
  return p;
}

namespace {

const char* kind_name(OpKind k) { return k == OpKind::Gemm ? "GEMM" : k == OpKind::Attention ? "attention" : "memory"; }

void table(std::ostringstream& out, const std::string& title, const std::vector<OpCost>& ops, const DeviceRates& r) {
  char line[256];
  out << "\n#### " << title << "\n\n| op | kind | calls | GFLOP/call | MB/call | µs/call | ms total |\n"
      << "|---|---|---|---|---|---|---|\n";
  for (const auto& o : ops) {
    const double s = op_seconds(o, r);
    std::snprintf(line, sizeof line, "| %s | %s | %g | %.2f | %.1f | %.1f | %.2f |\n", o.name.c_str(),
                  kind_name(o.kind), o.count, o.flops / 1e9, o.bytes / 1e6, s * 1e6, o.count * s * 1e3);
    out << line;
  }
  std::snprintf(line, sizeof line, "| **sum** | | | %.1f TFLOP | | | **%.1f** |\n", total_flops(ops) / 1e12,
                total_seconds(ops, r) * 1e3);
  out << line;
  for (OpKind k : {OpKind::Gemm, OpKind::Attention, OpKind::Memory}) {
    std::vector<OpCost> part;
    for (const auto& o : ops)
      if (o.kind == k) part.push_back(o);
    std::snprintf(line, sizeof line, "| sum of %s ops | | | %.1f TFLOP | | | %.1f |\n", kind_name(k),
                  total_flops(part) / 1e12, total_seconds(part, r) * 1e3);
    out << line;
  }
}

}  // namespace

std::string cost_report(const Workload& w, const DeviceRates& r) {
  std::ostringstream out;
  char line[320];
  std::snprintf(line, sizeof line,
                "### PREDICTION (cost model, not a measurement): %lldx%lld, %lld steps, MMDiT batch %lld, on %s\n"
                "Rates: %.0f TFLOP/s bf16 and %.2f TB/s peak; assumed GEMM %.0f%%, attention %.0f%%, memory %.0f%% "
                "of peak; each op takes max(FLOPs/rate, bytes/bandwidth).\n",
                (long long)w.width, (long long)w.height, (long long)w.steps, (long long)w.batch, r.name.c_str(),
                r.gemm_flops / 1e12, r.bandwidth / 1e12, r.gemm_efficiency * 100, r.attention_efficiency * 100,
                r.memory_efficiency * 100);
  out << line;
  table(out, "one denoising step (one MMDiT forward at the CFG batch + sampler update)", mmdit_forward_ops(w), r);
  table(out, "text encoding (prompt + negative)", text_encoder_ops(w), r);
  table(out, "VAE decode", vae_decode_ops(w), r);
  const Prediction p = predict_image(w, r);
  std::snprintf(line, sizeof line,
                "\nPredicted per image: %lld steps x %.1f ms + text %.1f ms + VAE %.1f ms = **%.2f s** "
                "(compute floor at datasheet peak: %.2f s).\n",
                (long long)w.steps, p.step_s * 1e3, p.text_s * 1e3, p.vae_s * 1e3, p.image_s, p.floor_s);
  out << line;
  return out.str();
}

}  // namespace ovis::bench
