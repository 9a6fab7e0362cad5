// Block-quantized weights: dequantization of every ggml type against the golden GGUF's reference
// values (test/fixtures/golden/gguf), the CPU GEMM on blocks, round-to-nearest quantizers, and plans
// with block dtypes.
#include <cstring>
#include <fstream>
#include <set>
#include <string>
#include <unistd.h>

#include "core/backend.h"
#include "cpu/quant/dequantize.h"
#include "cpu/quant/quantize.h"
#include "io/plan.h"
#include "io/weights.h"
#include "tests/golden_plan.h"
#include "tests/gguf_reader.h"
#include "tests/safetensors_reader.h"
#include "tests/testing.h"

using namespace ovis;

namespace {

// ggml type id -> engine dtype (only the block formats; floats are not this file's business).
bool block_dtype_of(uint32_t id, DType& out) {
  switch (id) {
    case 2:
      out = DType::Q4_0;
      return true;
    case 3:
      out = DType::Q4_1;
      return true;
    case 6:
      out = DType::Q5_0;
      return true;
    case 7:
      out = DType::Q5_1;
      return true;
    case 8:
      out = DType::Q8_0;
      return true;
    case 10:
      out = DType::Q2_K;
      return true;
    case 11:
      out = DType::Q3_K;
      return true;
    case 12:
      out = DType::Q4_K;
      return true;
    case 13:
      out = DType::Q5_K;
      return true;
    case 14:
      out = DType::Q6_K;
      return true;
    default:
      return false;
  }
}

struct GoldenGguf {
  test::GgufFile file;
  test::SafetensorsFile dequantized;
};

const GoldenGguf& golden() {
  static GoldenGguf g{test::read_gguf(test::golden_dir() + "/gguf/ovis_image-mixed.gguf"),
                      test::read_safetensors(test::golden_dir() + "/gguf/g1/dequantized.safetensors")};
  return g;
}

// The golden tensor as a [rows, K] view of its blocks (K = GGUF's innermost dim).
Tensor block_view(const test::GgufFile& f, const test::GgufEntry& e, DType t) {
  int64_t rows = 1;
  for (size_t i = 1; i < e.dims.size(); ++i) rows *= e.dims[i];
  return host_view(const_cast<uint8_t*>(f.data(e)), Shape{rows, e.dims[0]}, t);
}

Backend& cpu2() {
  static std::unique_ptr<Backend> b = create_cpu_backend(2);
  return *b;
}

}  // namespace

TEST(quant_dequantize_matches_reference_for_every_block_type) {
  const GoldenGguf& g = golden();
  std::set<DType> seen;
  for (const auto& kv : g.file.entries) {
    DType t;
    if (!block_dtype_of(kv.second.type, t)) continue;
    Tensor blocks = block_view(g.file, kv.second, t);
    std::vector<float> out(size_t(blocks.numel()));
    cpu::weights_to_f32(blocks.data, t, out.data(), blocks.numel());
    Tensor ref = g.dequantized.load_f32(kv.first);
    CHECK_MSG(ref.numel() == blocks.numel(), kv.first);
    for (int64_t i = 0; i < ref.numel(); ++i)
      CHECK_MSG(std::memcmp(&out[size_t(i)], ref.ptr<float>() + i, 4) == 0,
                kv.first << " (" << dtype_name(t) << ") value " << i << ": " << out[size_t(i)] << " vs "
                         << ref.ptr<float>()[i]);
    seen.insert(t);
  }
  CHECK_MSG(seen.size() == 10, "the fixture covers " << seen.size() << " of the 10 block types");
}

// linear() on blocks packs exactly the dequantized values: bitwise the result on f32 weights. Rows are
// regrouped to K >= 768 so that depth blocks (384) start inside quantization blocks.
TEST(quant_linear_on_blocks_equals_linear_on_dequantized_weights) {
  const GoldenGguf& g = golden();
  std::set<DType> seen;
  for (const auto& kv : g.file.entries) {
    DType t;
    if (!block_dtype_of(kv.second.type, t) || seen.count(t)) continue;
    seen.insert(t);
    Tensor blocks = block_view(g.file, kv.second, t);
    int64_t N = blocks.shape[0], K = blocks.shape[1];
    while (K < 768 && N % 2 == 0) N /= 2, K *= 2;
    blocks = blocks.view(Shape{N, K});
    Tensor ref = g.dequantized.load_f32(kv.first).view(Shape{N, K});
    Tensor x = ovis_test::random_tensor(Shape{7, K}, DType::F32, 11);
    Tensor bias = ovis_test::random_tensor(Shape{N}, DType::F32, 12);
    Tensor yq = cpu2().linear(x, blocks, &bias), yf = cpu2().linear(x, ref, &bias);
    CHECK_MSG(ovis_test::same_bytes(yq, yf), dtype_name(t) << " " << blocks.shape.str());
  }
  CHECK(seen.size() == 10);
}

TEST(quant_round_to_nearest_quantizers_round_trip) {
  const struct {
    DType t;
    double tol;
  } cases[] = {{DType::Q8_0, 0.01}, {DType::Q6_K, 0.03}, {DType::Q5_K, 0.05}, {DType::Q4_K, 0.1}, {DType::Q4_0, 0.12}};
  Tensor x = ovis_test::random_tensor(Shape{4, 512}, DType::F32, 5);
  for (const auto& c : cases) {
    CHECK(cpu::can_quantize(c.t));
    Tensor q = host_alloc(Shape{4, 512}, c.t);
    cpu::quantize_values(c.t, x.ptr<float>(), q.data, x.numel());
    Tensor back = host_f32(Shape{4, 512});
    cpu::weights_to_f32(q.data, c.t, back.ptr<float>(), x.numel());
    CHECK_REL(back, ovis_test::to_f64(x), c.tol, dtype_name(c.t));
    // What the quantizer writes is a fixed point of dequantize-then-quantize.
    Tensor again = host_alloc(Shape{4, 512}, c.t);
    cpu::quantize_values(c.t, back.ptr<float>(), again.data, x.numel());
    Tensor back2 = host_f32(Shape{4, 512});
    cpu::weights_to_f32(again.data, c.t, back2.ptr<float>(), x.numel());
    CHECK_REL(back2, ovis_test::to_f64(back), c.tol / 4, std::string(dtype_name(c.t)) + " requantized");
  }
  CHECK(!cpu::can_quantize(DType::Q2_K));
  CHECK_THROWS_CODE(cpu::quantize_values(DType::Q3_K, x.ptr<float>(), nullptr, 256), "OVIS_BAD_WEIGHTS");
  CHECK_THROWS_CODE(host_alloc(Shape{2, 100}, DType::Q8_0), "OVIS_BAD_WEIGHTS");  // 200 is not whole blocks
}

TEST(quant_dtypes_sizes_and_names) {
  CHECK(dtype_bytes(DType::Q4_0, 64) == 36 && dtype_bytes(DType::Q6_K, 512) == 420);
  CHECK(dtype_block_elems(DType::Q3_K) == 256 && dtype_block_elems(DType::BF16) == 1);
  CHECK(dtype_from_name("Q4_K") == DType::Q4_K && std::string(dtype_name(DType::Q5_1)) == "q5_1");
  CHECK_THROWS_CODE(dtype_size(DType::Q8_0), "OVIS_INTERNAL");
  CHECK(host_alloc(Shape{3, 256}, DType::Q4_K).nbytes() == 3 * 144);
}

namespace {

std::string write_temp(const std::vector<uint8_t>& bytes) {
  char path[] = "/tmp/ovis-quant-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  CHECK(write(fd, bytes.data(), bytes.size()) == ssize_t(bytes.size()));
  close(fd);
  return path;
}

}  // namespace

// Plans carry block dtypes: same-type pieces concatenate as blocks, mixed ones dequantize, a float
// piece under a block tensor is quantized (quantize on load), shapes must be whole blocks.
TEST(quant_plan_assembly) {
  Tensor a = ovis_test::random_tensor(Shape{2, 64}, DType::F32, 1),
         b = ovis_test::random_tensor(Shape{3, 64}, DType::F32, 2);
  Tensor qa = host_alloc(a.shape, DType::Q8_0), qb4 = host_alloc(b.shape, DType::Q4_0);
  cpu::quantize_values(DType::Q8_0, a.ptr<float>(), qa.data, a.numel());
  cpu::quantize_values(DType::Q4_0, b.ptr<float>(), qb4.data, b.numel());
  Tensor bf = host_alloc(b.shape, DType::BF16);
  for (int64_t i = 0; i < b.numel(); ++i) bf.ptr<uint16_t>()[i] = f32_to_bf16(b.ptr<float>()[i]);
  std::vector<uint8_t> bytes;
  auto append = [&](const Tensor& t) {
    const uint8_t* p = static_cast<const uint8_t*>(t.data);
    bytes.insert(bytes.end(), p, p + t.nbytes());
  };
  append(qa);   // at 0 (2 rows x 2 blocks x 34 = 136 bytes)
  append(qb4);  // at 136 (3 x 2 x 18 = 108 bytes)
  append(bf);   // at 244
  const std::string path = write_temp(bytes);
  const std::string text = "ovis-plan 2\nfile 0 0 0 0 0 \"" + path +
                           "\"\n"
                           "tensor same q8_0 4,64\npiece 0 0 q8_0 2,64\npiece 0 0 q8_0 2,64\n"
                           "tensor mixed f32 5,64\npiece 0 0 q8_0 2,64\npiece 0 136 q4_0 3,64\n"
                           "tensor onload q8_0 3,64\npiece 0 244 bf16 3,64\n"
                           "end\n";
  WeightPlan plan = parse_plan(text);
  CHECK(plan.tensors[0].dtype == DType::Q8_0 && parse_plan(format_plan(plan)).tensors.size() == 3);
  std::vector<std::shared_ptr<MappedFile>> files{std::make_shared<MappedFile>(path)};
  const Tensor same_parts = assemble_host_tensor(plan.tensors[0], files);
  CHECK(same_parts.row_parts && same_parts.row_parts->size() == 2);  // as stored, not copied
  const Tensor same = host_copy(same_parts);
  CHECK(same.dtype == DType::Q8_0 && same.nbytes() == 272);
  CHECK(std::memcmp(same.data, qa.data, 136) == 0 &&
        std::memcmp(static_cast<uint8_t*>(same.data) + 136, qa.data, 136) == 0);
  Tensor mixed = assemble_host_tensor(plan.tensors[1], files);
  std::vector<float> ref(5 * 64);
  cpu::weights_to_f32(qa.data, DType::Q8_0, ref.data(), 128);
  cpu::weights_to_f32(qb4.data, DType::Q4_0, ref.data() + 128, 192);
  CHECK(mixed.dtype == DType::F32 && std::memcmp(mixed.data, ref.data(), ref.size() * 4) == 0);
  Tensor onload = assemble_host_tensor(plan.tensors[2], files);
  std::vector<float> f(192), deq(192);
  convert_to_f32(bf.data, DType::BF16, f.data(), 192);
  Tensor expect = host_alloc(Shape{3, 64}, DType::Q8_0);
  cpu::quantize_values(DType::Q8_0, f.data(), expect.data, 192);
  CHECK(onload.dtype == DType::Q8_0 && ovis_test::same_bytes(onload, expect));
  unlink(path.c_str());

  CHECK_THROWS_CODE(parse_plan("ovis-plan 2\nfile 0 0 0 0 0 \"/x\"\ntensor t q4_k 2,64\npiece 0 0 q4_k 2,64\nend\n"),
                    "OVIS_BAD_WEIGHTS");
  CHECK_THROWS_CODE(parse_plan("ovis-plan 2\nfile 0 0 0 0 0 \"/x\"\ntensor t q8_0 64\npiece 0 0 q8_0 64\nend\n"),
                    "OVIS_BAD_WEIGHTS");
  CHECK_THROWS_CODE(parse_plan("ovis-plan 2\nfile 0 0 0 0 0 \"/x\"\ntensor t Q8_0 2,64\npiece 0 0 q8_0 2,64\nend\n"),
                    "OVIS_BAD_WEIGHTS");
}
