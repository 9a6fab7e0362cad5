// Text-encoder release/reload (EngineOptions::keep_text_encoder) and engines built from in-memory
// tensors, on the golden tiny model and the CPU backend: both must give exactly the file-based answers.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <memory>

#include "counting_backend.h"
#include "engine.h"
#include "golden_plan.h"
#include "io/canonical_tensors.h"
#include "io/mapped_file.h"
#include "io/weights.h"
#include "safetensors_reader.h"
#include "tests/testing.h"

using namespace ovis;
using ovis::test::SafetensorsFile;

namespace {

const WeightPlan& plan() {
  static const WeightPlan p = ovis::test::golden_tiny_plan();
  return p;
}

Engine& file_engine() {
  static std::unique_ptr<Engine> e(new Engine(plan(), EngineOptions{}));
  return *e;
}

SafetensorsFile golden(const std::string& rel) {
  return ovis::test::read_safetensors(ovis::test::golden_dir() + "/" + rel);
}

Tensor as_i32(const Tensor& f) {
  Tensor t = host_alloc(f.shape, DType::I32);
  for (int64_t i = 0; i < f.numel(); ++i) t.ptr<int32_t>()[i] = int32_t(std::lround(f.ptr<float>()[i]));
  return t;
}

struct Prompt {
  Tensor ids, mask;
};
Prompt prompt(int i) {
  SafetensorsFile io = golden("text_encoder/io.safetensors");
  const std::string s = std::to_string(i);
  return {as_i32(io.load_f32("input_ids_" + s)), as_i32(io.load_f32("attention_mask_" + s))};
}

GenerateRequest small_request() {
  GenerateRequest req;
  Prompt p = prompt(0), n = prompt(2);
  req.ids = p.ids, req.mask = p.mask, req.neg_ids = n.ids, req.neg_mask = n.mask;
  req.noise = ovis_test::random_tensor({1, 16, 4, 4}, DType::F32, 11);
  req.sigmas = {1.0f, 0.6f, 0.0f};
  req.guidance = 3.0f;
  return req;
}

#define CHECK_SAME(a, b, what) CHECK_MSG(ovis_test::same_bytes((a), (b)), what << " differs")

void check_same_generate(Engine& a, Engine& b, const std::string& what) {
  GenerateRequest req = small_request();
  GenerateResult ra = a.generate(req, nullptr), rb = b.generate(req, nullptr);
  CHECK_SAME(ra.prompt_embeds, rb.prompt_embeds, what << " prompt embeds");
  CHECK_SAME(ra.negative_embeds, rb.negative_embeds, what << " negative embeds");
  CHECK_SAME(ra.latents, rb.latents, what << " latents");
  CHECK_SAME(ra.image, rb.image, what << " image");
}

// Host tensors that own copies of the plan's bytes (not views of its files), uploaded to `be`.
std::map<std::string, Tensor> copied_tensors(Backend& be, const WeightPlan& p) {
  std::vector<std::shared_ptr<MappedFile>> files;
  for (const std::string& f : p.files) files.push_back(std::make_shared<MappedFile>(f));
  std::map<std::string, Tensor> out;
  for (const PlanTensor& t : p.tensors) {
    Tensor view = assemble_host_tensor(t, files);
    Tensor own = host_copy(view);
    out[t.name] = be.upload(own);
  }
  return out;
}

std::unique_ptr<Engine> memory_engine(std::map<std::string, Tensor> tensors, std::unique_ptr<Backend> be,
                                      std::map<std::string, WeightStore::Loader> loaders = {},
                                      const EngineOptions& options = EngineOptions{}) {
  return std::make_unique<Engine>(std::move(be), std::make_unique<WeightStore>(std::move(tensors), std::move(loaders)),
                                  model_config(plan()), options);
}

std::unique_ptr<Engine> memory_engine() {
  auto be = create_cpu_backend(0);
  auto tensors = copied_tensors(*be, plan());
  return memory_engine(std::move(tensors), std::move(be));
}

// Expects OVIS_BAD_WEIGHTS naming `needle`.
void expect_bad_weights(const std::function<void()>& f, const std::string& needle) {
  try {
    f();
  } catch (const Error& e) {
    CHECK_MSG(e.code() == "OVIS_BAD_WEIGHTS", "code " << e.code() << ": " << e.what());
    CHECK_MSG(std::string(e.what()).find(needle) != std::string::npos, "'" << e.what() << "' lacks '" << needle << "'");
    return;
  }
  CHECK_MSG(false, "no error (expected one naming " << needle << ")");
}

}  // namespace

TEST(engine_text_release_reload_identical) {
  // bf16 views of the files (the default plan) and f32 copies made while assembling (the convert path).
  for (bool f32 : {false, true}) {
    WeightPlan p = plan();
    if (f32)
      for (PlanTensor& t : p.tensors)
        if (t.name.rfind("te.", 0) == 0) t.dtype = DType::F32;
    EngineOptions keep, drop;
    keep.keep_text_encoder = true;
    drop.keep_text_encoder = false;
    Engine kept(p, keep), released(p, drop);
    const std::string what = f32 ? "f32 text weights" : "bf16 text weights";
    CHECK(kept.text_encoder_resident() && released.text_encoder_resident());
    for (int round = 0; round < 2; ++round) {
      for (int i = 0; i < 3; ++i) {
        Prompt pr = prompt(i);
        CHECK_SAME(released.encode_text(pr.ids, pr.mask), kept.encode_text(pr.ids, pr.mask),
                   what << " encode_text case " << i << " round " << round);
        CHECK(!released.text_encoder_resident());
        CHECK(kept.text_encoder_resident());
      }
      check_same_generate(released, kept, what + " generate round " + std::to_string(round));
      CHECK(!released.text_encoder_resident());
    }
  }
}

TEST(engine_text_release_default_on_cpu_is_keep) {
  Engine e(plan(), EngineOptions{});
  Prompt pr = prompt(1);
  e.encode_text(pr.ids, pr.mask);
  CHECK(e.text_encoder_resident());
}

TEST(engine_text_release_after_cancel_and_error) {
  EngineOptions drop;
  drop.keep_text_encoder = false;
  Engine e(plan(), drop);
  Prompt pr = prompt(0);
  CancelFlag cancel{true};
  CHECK_THROWS_CODE(e.encode_text(pr.ids, pr.mask, &cancel), "ABORT_ERR");
  CHECK(!e.text_encoder_resident());  // released even though encoding threw
  GenerateRequest req = small_request();
  req.neg_ids = Tensor{};  // CFG without a negative prompt: fails after the prompt was encoded
  CHECK_THROWS_CODE(e.generate(req, nullptr), "OVIS_BAD_ARGUMENT");
  CHECK(!e.text_encoder_resident());
  CHECK_SAME(e.encode_text(pr.ids, pr.mask), file_engine().encode_text(pr.ids, pr.mask), "encode after cancel");
}

TEST(engine_from_memory_equals_file_engine) {
  auto mem = memory_engine();
  Engine& file = file_engine();
  CHECK(mem->plan().has_dit && mem->plan().has_text && mem->plan().has_vae && mem->plan().tensors.empty());
  CHECK(mem->backend_name() == file.backend_name());
  for (const char* c : {"t1", "t2"}) {
    SafetensorsFile io = golden(std::string("transformer/") + c + "/io.safetensors");
    auto run = [&](Engine& e) {
      return e.dit_forward(io.load_f32("hidden_states"), io.load_f32("encoder_hidden_states"), io.load_f32("timestep"),
                           io.load_f32("img_ids"), io.load_f32("txt_ids"));
    };
    Tensor out = run(*mem);
    CHECK_SAME(out, run(file), "dit_forward " << c);
    CHECK_REL(out, ovis_test::to_f64(io.load_f32("output")), 1e-5, "dit_forward vs golden " << c);
  }
  SafetensorsFile vio = golden("vae/v1/io.safetensors");
  CHECK_SAME(mem->vae_decode(vio.load_f32("latent")), file.vae_decode(vio.load_f32("latent")), "vae_decode");
  Tensor ma, la, mb, lb;
  mem->vae_encode(vio.load_f32("image"), &ma, &la);
  file.vae_encode(vio.load_f32("image"), &mb, &lb);
  CHECK_SAME(ma, mb, "vae_encode mean");
  CHECK_SAME(la, lb, "vae_encode logvar");
  for (int i = 0; i < 3; ++i) {
    Prompt pr = prompt(i);
    CHECK_SAME(mem->encode_text(pr.ids, pr.mask), file.encode_text(pr.ids, pr.mask), "encode_text case " << i);
  }
  check_same_generate(*mem, file, "generate");
}

TEST(engine_from_memory_text_release) {
  auto be = create_cpu_backend(0);
  Backend* raw = be.get();
  auto tensors = copied_tensors(*be, plan());
  EngineOptions drop;
  drop.keep_text_encoder = false;
  // No loaders: the weights cannot come back, so they are kept whatever the option says.
  {
    auto e = memory_engine(tensors, create_cpu_backend(0), {}, drop);
    Prompt pr = prompt(0);
    e->encode_text(pr.ids, pr.mask);
    CHECK(e->text_encoder_resident());
  }
  // Loaders that re-upload the host copies: released after each encode, same answers.
  std::map<std::string, WeightStore::Loader> loaders;
  int loads = 0;
  for (const auto& kv : tensors)
    if (kv.first.rfind("te.", 0) == 0) {
      Tensor host = kv.second;
      loaders[kv.first] = [raw, host, &loads] {
        ++loads;
        return raw->upload(host);
      };
    }
  auto e = memory_engine(tensors, std::move(be), loaders, drop);
  for (int i = 0; i < 3; ++i) {
    Prompt pr = prompt(i);
    CHECK_SAME(e->encode_text(pr.ids, pr.mask), file_engine().encode_text(pr.ids, pr.mask), "encode_text " << i);
    CHECK(!e->text_encoder_resident());
  }
  CHECK_MSG(loads == 2 * int(loaders.size()), "loads " << loads << ", " << loaders.size() << " loaders");
  check_same_generate(*e, file_engine(), "generate with released text weights");
}

TEST(engine_text_release_trims_backend) {
  // The backend is asked to return its cached memory after each release, and only then.
  for (bool keep : {true, false}) {
    auto counting = std::make_unique<ovis::test::CountingBackend>(create_cpu_backend(0));
    ovis::test::CountingBackend* spy = counting.get();
    auto tensors = copied_tensors(*spy, plan());
    std::map<std::string, WeightStore::Loader> loaders;
    for (const auto& kv : tensors)
      if (kv.first.rfind("te.", 0) == 0) {
        Tensor host = kv.second;
        loaders[kv.first] = [spy, host] { return spy->upload(host); };
      }
    EngineOptions options;
    options.keep_text_encoder = keep;
    auto e = memory_engine(tensors, std::move(counting), loaders, options);
    tensors.clear();  // the store holds the only references now
    CHECK(spy->trims == 0);
    Prompt pr = prompt(0);
    e->encode_text(pr.ids, pr.mask);
    CHECK_MSG(spy->trims == (keep ? 0 : 1), "keep " << keep << ": " << spy->trims << " trims after encode_text");
    // generate encodes two prompts with one reload and one release: one trim.
    e->generate(small_request(), nullptr);
    CHECK_MSG(spy->trims == (keep ? 0 : 2), "keep " << keep << ": " << spy->trims << " trims after generate");
    CHECK(e->text_encoder_resident() == keep);
    CancelFlag cancel{true};
    CHECK_THROWS_CODE(e->encode_text(pr.ids, pr.mask, &cancel), "ABORT_ERR");
    CHECK_MSG(spy->trims == (keep ? 0 : 3), "keep " << keep << ": " << spy->trims << " trims after a cancelled encode");
  }
}

TEST(engine_from_memory_validates_tensors) {
  auto be = create_cpu_backend(1);
  const auto all = copied_tensors(*be, plan());
  for (const char* name : {"dit.single.1.linear2.bias", "te.layers.0.qkv.weight", "vae.dec.mid.attn.qkv.weight"}) {
    auto t = all;
    t.erase(name);
    expect_bad_weights([&] { memory_engine(t, create_cpu_backend(1)); }, name);
  }
  // Wrong shape: named with both shapes.
  auto t = all;
  const Shape s = t["dit.txt_in.weight"].shape;  // [D, context] with D != context in the tiny model
  t["dit.txt_in.weight"] = t["dit.txt_in.weight"].view({s[1], s[0]});
  expect_bad_weights([&] { memory_engine(t, create_cpu_backend(1)); },
                     "dit.txt_in.weight has shape " + Shape({s[1], s[0]}).str());
  // A partial VAE encoder is named, not silently ignored.
  t = all;
  t.erase("vae.enc.conv_out.bias");
  expect_bad_weights([&] { memory_engine(t, create_cpu_backend(1)); }, "vae.enc.conv_out.bias");
  // I32 weights and tensors without data.
  t = all;
  t["te.norm.weight"] = host_alloc(t["te.norm.weight"].shape, DType::I32);
  expect_bad_weights([&] { memory_engine(t, create_cpu_backend(1)); }, "te.norm.weight");
  t = all;
  t["te.norm.weight"].data = nullptr;
  t["te.norm.weight"].storage.reset();
  expect_bad_weights([&] { memory_engine(t, create_cpu_backend(1)); }, "te.norm.weight");
  // A null backend or store is a bad argument.
  CHECK_THROWS_CODE(Engine(nullptr, std::make_unique<WeightStore>(all), model_config(plan())), "OVIS_BAD_ARGUMENT");
}

TEST(engine_file_plan_validates_shapes_first) {
  // A canonical tensor of the wrong shape in the plan is named before any file is mapped.
  WeightPlan p = plan();
  for (PlanTensor& t : p.tensors)
    if (t.name == "te.layers.1.o.weight") std::swap(t.shape[0], t.shape[1]);
  p.files.assign(p.files.size(), "/nonexistent/never/mapped.safetensors");
  expect_bad_weights([&] { Engine e(p, EngineOptions{}); }, "te.layers.1.o.weight");
}

// The stored q/k/v (and up/gate) matrices of the golden model are not copied into a fused tensor: the
// store holds row-part views of the mapping, and they upload to another backend as one assembled tensor.
TEST(weight_store_keeps_stacked_matrices_as_stored) {
  const WeightPlan p = plan();
  auto be = create_cpu_backend(1);
  WeightStore ws(p, *be);
  int stacked = 0;
  for (const PlanTensor& t : p.tensors) {
    if (t.pieces.size() < 2 || t.shape.rank < 2) continue;
    const Tensor& w = ws.get(t.name);
    CHECK_MSG(w.row_parts && w.row_parts->size() == t.pieces.size() && w.data == nullptr, t.name);
    ++stacked;
    // Uploads copy the parts in order (for_each_host_piece): that gives the stacked bytes.
    const Tensor whole = host_copy(w);
    size_t at = 0;
    for (const Tensor& part : *w.row_parts) {
      CHECK(std::memcmp(static_cast<uint8_t*>(whole.data) + at, part.data, part.nbytes()) == 0);
      at += part.nbytes();
    }
    CHECK(at == w.nbytes());
  }
  CHECK(stacked > 0);
}

TEST(weight_store_release_reload) {
  auto be = create_cpu_backend(1);
  Tensor a = ovis_test::random_tensor({2, 3}, DType::BF16, 1), b = ovis_test::random_tensor({4}, DType::F32, 2);
  int loads = 0;
  std::map<std::string, WeightStore::Loader> loaders;
  loaders["g.a"] = [&] {
    ++loads;
    return be->upload(a);
  };
  WeightStore ws({{"g.a", a}, {"h.b", b}}, loaders);
  CHECK(ws.can_reload("g.") && !ws.can_reload("h.") && !ws.can_reload("x.") && !ws.can_reload(""));
  CHECK_THROWS_CODE(ws.release("h."), "OVIS_INTERNAL");
  const Tensor* pa = ws.find("g.a");
  ws.release("g.");
  CHECK(!ws.resident("g.") && ws.resident("h.") && pa->data == nullptr && pa->shape == Shape({2, 3}));
  ws.reload("g.");
  ws.reload("g.");  // already resident: no second load
  CHECK(loads == 1 && ws.resident("") && ws.find("g.a") == pa && ovis_test::same_bytes(*pa, a));
  // A loader that returns another shape is refused.
  WeightStore bad({{"g.a", a}}, {{"g.a", [&] { return b; }}});
  bad.release("g.");
  CHECK_THROWS_CODE(bad.reload("g."), "OVIS_BAD_WEIGHTS");
  // Forgetting loaders: released tensors keep theirs.
  ws.release("g.");
  ws.forget_loaders([](const std::string&) { return false; });
  ws.reload("g.");
  CHECK(loads == 2);
  ws.forget_loaders([](const std::string&) { return false; });
  CHECK(!ws.can_reload("g."));
  auto loader_without_tensor = [&] {
    std::map<std::string, WeightStore::Loader> l;
    l["missing"] = [&] { return a; };
    WeightStore store({{"g.a", a}}, l);
  };
  CHECK_THROWS_CODE(loader_without_tensor(), "OVIS_BAD_WEIGHTS");
}
