// Layer offload: the planner (windows under a budget, uploads ahead of use, the 'auto' choice) and the
// streamer on the golden tiny MMDiT through a counting backend that tracks the bytes of streamed blocks.
#include <algorithm>
#include <cstring>
#include <memory>

#include "counting_backend.h"
#include "engine.h"
#include "golden_cases.h"
#include "golden_plan.h"
#include "io/mapped_file.h"
#include "io/weights.h"
#include "model/mmdit.h"
#include "offload_plan.h"
#include "offload_streamer.h"
#include "safetensors_reader.h"
#include "tests/testing.h"

using namespace ovis;

namespace {

const std::vector<size_t> kBlocks = {100, 100, 300, 100, 100};

size_t window_sum(const OffloadPlan& p, int i) {
  size_t s = 0;
  for (int j : p.resident_during[size_t(i)]) s += kBlocks[size_t(j)];
  return s;
}

// The tiny model's tensors as owned host copies on `be`.
std::map<std::string, Tensor> tiny_tensors(Backend& be) {
  const WeightPlan plan = ovis::test::golden_tiny_plan();
  std::vector<std::shared_ptr<MappedFile>> files;
  for (const std::string& f : plan.files) files.push_back(std::make_shared<MappedFile>(f));
  std::map<std::string, Tensor> out;
  for (const PlanTensor& t : plan.tensors) {
    Tensor view = assemble_host_tensor(t, files);
    Tensor own = host_copy(view);
    out[t.name] = be.upload(own);
  }
  return out;
}

}  // namespace

TEST(offload_plan_uses_the_largest_window_within_budget) {
  const size_t fixed = 50;
  // Room for any three consecutive blocks: two ahead.
  OffloadPlan p = plan_layer_offload(kBlocks, fixed, fixed + 500);
  CHECK(p.ahead == 2 && p.peak_bytes == fixed + 500);
  // Two ahead would need 500 (100 + 300 + 100): one ahead (at most 400).
  p = plan_layer_offload(kBlocks, fixed, fixed + 499);
  CHECK(p.ahead == 1 && p.peak_bytes == fixed + 400);
  // Only the largest block alone fits.
  p = plan_layer_offload(kBlocks, fixed, fixed + 300);
  CHECK(p.ahead == 0 && p.peak_bytes == fixed + 300);
  CHECK_THROWS_CODE(plan_layer_offload(kBlocks, fixed, fixed + 299), "OVIS_OUT_OF_MEMORY");
  CHECK_THROWS_CODE(plan_layer_offload({}, 0, 1), "OVIS_BAD_ARGUMENT");
}

TEST(offload_plan_uploads_every_block_once_ahead_of_use) {
  for (int ahead : {0, 1, 2}) {
    OffloadPlan p = plan_layer_offload(kBlocks, 0, SIZE_MAX, ahead);
    CHECK(p.ahead == ahead);
    std::vector<int> started;
    for (int i = 0; i < int(kBlocks.size()); ++i) {
      for (int j : p.uploads_before[size_t(i)]) started.push_back(j);
      // Block i's upload started no later than just before it runs, and the next `ahead` are in flight.
      CHECK(std::count(started.begin(), started.end(), i) == 1);
      const int last = std::min(i + ahead, int(kBlocks.size()) - 1);
      CHECK(started.back() == last);
      CHECK(p.resident_during[size_t(i)].front() == i && p.resident_during[size_t(i)].back() == last);
      CHECK(window_sum(p, i) <= p.peak_bytes);
    }
    CHECK(started.size() == kBlocks.size());
    CHECK(p.uploads_before[0].size() == size_t(std::min<int>(ahead + 1, int(kBlocks.size()))));
  }
}

TEST(offload_auto_picks_from_free_memory) {
  OffloadSizes s;
  s.text_weights = 30;
  s.block_weights = 100;
  s.other_weights = 10;
  s.text_working = 5;
  s.dit_working = 20;
  CHECK(offload_peak_bytes(OffloadMode::None, s) == 160);
  CHECK(offload_peak_bytes(OffloadMode::TextEncoder, s) == 145);  // encoding: everything + text working
  CHECK(choose_offload(OffloadMode::Auto, s, 160) == OffloadMode::None);
  CHECK(choose_offload(OffloadMode::Auto, s, 159) == OffloadMode::TextEncoder);
  CHECK(choose_offload(OffloadMode::Auto, s, 145) == OffloadMode::TextEncoder);
  CHECK(choose_offload(OffloadMode::Auto, s, 144) == OffloadMode::Layers);
  CHECK(choose_offload(OffloadMode::None, s, 1) == OffloadMode::None);
  CHECK(parse_offload_mode("layers") == OffloadMode::Layers);
  CHECK(std::string(offload_mode_name(parse_offload_mode("text-encoder"))) == "text-encoder");
  CHECK_THROWS_CODE(parse_offload_mode("gpu"), "OVIS_BAD_ARGUMENT");
}

TEST(offload_streamer_keeps_the_window_within_budget_and_the_answer_exact) {
  auto counting = std::make_unique<ovis::test::CountingBackend>(create_cpu_backend(0));
  ovis::test::CountingBackend* spy = counting.get();
  WeightStore store(tiny_tensors(*spy));
  const ModelConfig model = model_config(ovis::test::golden_tiny_plan());
  MMDiT dit(model.dit, store);
  ovis::test::SafetensorsFile io = ovis::test::golden_file("transformer/t2/io.safetensors");
  RopeTables rope = dit.rope(*spy, io.load_f32("txt_ids"), io.load_f32("img_ids"));
  Tensor t = io.load_f32("timestep");
  std::vector<float> sigmas(t.ptr<float>(), t.ptr<float>() + t.numel());
  auto forward = [&] {
    return spy->to_host_f32(dit.forward(*spy, spy->upload(io.load_f32("hidden_states")),
                                        spy->upload(io.load_f32("encoder_hidden_states")), sigmas, rope, nullptr));
  };
  const Tensor resident = forward();

  std::vector<std::vector<std::string>> blocks;
  for (int b = 0; b < dit.block_count(); ++b) blocks.push_back(dit.block_tensor_names(store, b));
  const std::vector<size_t> bytes = block_bytes(store, blocks);
  const size_t largest = *std::max_element(bytes.begin(), bytes.end());
  const size_t budget = largest + largest / 2;  // never two blocks at once: no look-ahead fits
  LayerStreamer streamer(*spy, store, blocks, plan_layer_offload(bytes, 0, budget));
  CHECK(streamer.plan().peak_bytes <= budget);
  for (const auto& names : blocks)
    for (const std::string& n : names) CHECK_MSG(store.get(n).data == nullptr, n << " still resident");

  int before = 0, after = 0;
  BlockHooks hooks{[&](int b) { ++before, streamer.before(b); }, [&](int b) { ++after, streamer.after(b); },
                   [&] { streamer.reset(); }};
  dit.set_block_hooks(&hooks);
  for (int round = 0; round < 2; ++round) {
    const Tensor streamed = forward();
    CHECK_MSG(ovis_test::same_bytes(streamed, resident), "round " << round << ": streamed forward differs");
  }
  CHECK(before == 2 * dit.block_count() && after == before);
  size_t block_tensors = 0;
  for (const auto& names : blocks) block_tensors += names.size();
  CHECK(spy->async_uploads == 2 * int(block_tensors));  // every block streamed once per forward
  CHECK(spy->awaits == spy->async_uploads);
  CHECK_MSG(spy->peak_live_bytes <= budget, "peak " << spy->peak_live_bytes << " > budget " << budget);
  CHECK(*spy->live_bytes == 0);  // every block dropped after use

  // A roomier budget streams two ahead and stays within it too.
  WeightStore store2(tiny_tensors(*spy));
  MMDiT dit2(model.dit, store2);
  spy->peak_live_bytes = 0;
  size_t total = 0;
  for (size_t b : bytes) total += b;
  LayerStreamer wide(*spy, store2, blocks, plan_layer_offload(bytes, 0, total));
  CHECK(wide.plan().ahead == 2);
  BlockHooks hooks2{[&](int b) { wide.before(b); }, [&](int b) { wide.after(b); }, [&] { wide.reset(); }};
  dit2.set_block_hooks(&hooks2);
  const Tensor streamed =
      spy->to_host_f32(dit2.forward(*spy, spy->upload(io.load_f32("hidden_states")),
                                    spy->upload(io.load_f32("encoder_hidden_states")), sigmas, rope, nullptr));
  CHECK(ovis_test::same_bytes(streamed, resident));
  CHECK(spy->peak_live_bytes <= wide.plan().peak_bytes);
}

TEST(offload_streamer_drops_blocks_when_a_forward_stops) {
  auto counting = std::make_unique<ovis::test::CountingBackend>(create_cpu_backend(0));
  ovis::test::CountingBackend* spy = counting.get();
  WeightStore store(tiny_tensors(*spy));
  const ModelConfig model = model_config(ovis::test::golden_tiny_plan());
  MMDiT dit(model.dit, store);
  std::vector<std::vector<std::string>> blocks;
  for (int b = 0; b < dit.block_count(); ++b) blocks.push_back(dit.block_tensor_names(store, b));
  LayerStreamer streamer(*spy, store, blocks, plan_layer_offload(block_bytes(store, blocks), 0, SIZE_MAX));
  BlockHooks hooks{[&](int b) {
                     streamer.before(b);
                     if (b == 1) throw Error("ABORT_ERR", "aborted");
                   },
                   [&](int b) { streamer.after(b); }, [&] { streamer.reset(); }};
  dit.set_block_hooks(&hooks);
  ovis::test::SafetensorsFile io = ovis::test::golden_file("transformer/t1/io.safetensors");
  RopeTables rope = dit.rope(*spy, io.load_f32("txt_ids"), io.load_f32("img_ids"));
  CHECK_THROWS_CODE(dit.forward(*spy, spy->upload(io.load_f32("hidden_states")),
                                spy->upload(io.load_f32("encoder_hidden_states")), {0.73f}, rope, nullptr),
                    "ABORT_ERR");
  CHECK(*spy->live_bytes == 0);
}

namespace {

GenerateRequest tiny_request() {
  ovis::test::GoldenPipelineCase p = ovis::test::golden_pipeline_case("p1");
  return p.req;
}

EngineOptions with_offload(OffloadMode m) {
  EngineOptions o;
  o.offload = m;
  return o;
}

}  // namespace

TEST(offload_engine_modes_give_the_same_image) {
  const WeightPlan plan = ovis::test::golden_tiny_plan();
  Engine plain(plan, EngineOptions{});
  const GenerateResult ref = plain.generate(tiny_request(), nullptr);
  CHECK(plain.offload() == OffloadMode::None && plain.layer_plan() == nullptr);
  for (OffloadMode m : {OffloadMode::None, OffloadMode::TextEncoder, OffloadMode::Layers}) {
    Engine e(plan, with_offload(m));
    CHECK(e.offload() == m);
    CHECK((e.layer_plan() != nullptr) == (m == OffloadMode::Layers));
    const GenerateResult r = e.generate(tiny_request(), nullptr);
    CHECK_MSG(ovis_test::same_bytes(r.image, ref.image), offload_mode_name(m) << ": image differs");
    ovis::test::SafetensorsFile te = ovis::test::golden_file("text_encoder/io.safetensors");
    e.encode_text(ovis::test::ids_as_i32(te.load_f32("input_ids_0")),
                  ovis::test::ids_as_i32(te.load_f32("attention_mask_0")));
    CHECK_MSG(e.text_encoder_resident() == (m == OffloadMode::None), offload_mode_name(m)
                                                                         << ": text encoder residency");
  }
  // The CPU has plenty of room for the tiny model: 'auto' keeps everything.
  CHECK(Engine(plan, with_offload(OffloadMode::Auto)).offload() == OffloadMode::None);
}

TEST(offload_engine_layers_stream_within_the_budget) {
  auto counting = std::make_unique<ovis::test::CountingBackend>(create_cpu_backend(0));
  ovis::test::CountingBackend* spy = counting.get();
  const ModelConfig model = model_config(ovis::test::golden_tiny_plan());
  WeightStore probe(tiny_tensors(*spy));
  MMDiT dit(model.dit, probe);
  std::vector<std::vector<std::string>> blocks;
  for (int b = 0; b < dit.block_count(); ++b) blocks.push_back(dit.block_tensor_names(probe, b));
  const std::vector<size_t> bytes = block_bytes(probe, blocks);
  const size_t budget = *std::max_element(bytes.begin(), bytes.end());  // one block at a time
  // The engine keeps room for the denoising activations (estimated from the config) out of free memory.
  spy->free_bytes = budget + [&] {
    const size_t tokens = 4096 + 256;
    return tokens * size_t(model.dit.mlp_hidden + 6 * model.dit.dim()) * sizeof(float) * 2;
  }();
  Engine e(std::move(counting), std::make_unique<WeightStore>(tiny_tensors(*spy)), model,
           with_offload(OffloadMode::Layers));
  CHECK(e.layer_plan() != nullptr && e.layer_plan()->ahead == 0 && e.layer_plan()->peak_bytes <= budget);
  GenerateRequest req = tiny_request();
  const GenerateResult r = e.generate(req, nullptr);
  CHECK_MSG(spy->peak_live_bytes <= budget, "peak " << spy->peak_live_bytes << " > budget " << budget);
  CHECK(spy->async_uploads > 0 && *spy->live_bytes == 0);
  Engine plain(ovis::test::golden_tiny_plan(), EngineOptions{});
  CHECK(ovis_test::same_bytes(r.image, plain.generate(tiny_request(), nullptr).image));
  // Not even one block fits: a clear out-of-memory error at load.
  auto small = std::make_unique<ovis::test::CountingBackend>(create_cpu_backend(0));
  small->free_bytes = 1;
  CHECK_THROWS_CODE(Engine(std::move(small), std::make_unique<WeightStore>(tiny_tensors(*spy)), model,
                           with_offload(OffloadMode::Layers)),
                    "OVIS_OUT_OF_MEMORY");
}
