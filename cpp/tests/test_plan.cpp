// Plan text parsing/formatting and WeightStore assembly (docs/WEIGHTS.md).
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <unistd.h>

#include "core/backend.h"
#include "core/finite.h"
#include "io/json_string.h"
#include "io/plan.h"
#include "io/weights.h"
#include "tests/testing.h"

using namespace ovis;

namespace {

// Expects parse_plan(text) to throw OVIS_BAD_WEIGHTS with a message containing `needle`.
void expect_plan_error(const std::string& text, const std::string& needle) {
  try {
    parse_plan(text);
  } catch (const Error& e) {
    CHECK_MSG(e.code() == "OVIS_BAD_WEIGHTS", "code " << e.code());
    CHECK_MSG(std::string(e.what()).find(needle) != std::string::npos,
              "message '" << e.what() << "' lacks '" << needle << "'");
    return;
  }
  CHECK_MSG(false, "no error for plan text:\n" << text);
}

std::string sample_plan_text() {
  return "ovis-plan 2\n"
         "# a comment\n"
         "file 0 0 0 0 0 \"/models/a dir/with spaces.safetensors\"\n"
         "file 1 12 1700000000123456789 2049 18446744073709551615 \"/models/b.safetensors\"\n"
         "config dit.num_heads 2\n"
         "config dit.head_dim 32\n"
         "config dit.axes_dims 8,12,12\n"
         "config dit.theta 10000\n"
         "config te.hidden 16\n"
         "config te.rope_theta 1000000\n"
         "config vae.block_out_channels 32,32,64,64\n"
         "config vae.scaling_factor 0.3611\n"
         "config vae.mid_attention 0\n"
         "config future.key 7\n"
         "tensor dit.img_in.weight bf16 64,64\n"
         "piece 0 1024 bf16 64,64\n"
         "tensor dit.final.mod.weight f32 128,64\n"
         "piece 1 8 bf16 64,64\n"
         "piece 0 99 f16 64,64\n"
         "end\n";
}

// A scratch file under /tmp removed at scope exit.
struct TempFile {
  std::string path;
  explicit TempFile(const std::vector<unsigned char>& bytes) {
    char name[] = "/tmp/ovis_plan_testXXXXXX";
    int fd = mkstemp(name);
    if (fd < 0) throw std::runtime_error("mkstemp failed");
    ::close(fd);
    path = name;
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  }
  ~TempFile() { std::remove(path.c_str()); }
};

// The `file` line of an existing file, with the identity it has now.
std::string file_line(int index, const std::string& path) {
  const FileIdentity id = file_identity(path);
  return "file " + std::to_string(index) + " " + std::to_string(id.size) + " " + std::to_string(id.mtime_ns) + " " +
         std::to_string(id.dev) + " " + std::to_string(id.ino) + " " + json_quote(path) + "\n";
}

void append_bf16(std::vector<unsigned char>& out, float v) {
  uint16_t b = f32_to_bf16(v);
  out.push_back(uint8_t(b & 0xFF));
  out.push_back(uint8_t(b >> 8));
}

}  // namespace

TEST(plan_parse_fields) {
  WeightPlan p = parse_plan(sample_plan_text());
  CHECK(p.files.size() == 2);
  CHECK(p.files[0] == "/models/a dir/with spaces.safetensors");
  CHECK(p.has_dit && p.has_text && p.has_vae);
  CHECK(p.dit.num_heads == 2 && p.dit.head_dim == 32 && p.dit.dim() == 64);
  CHECK((p.dit.axes_dims == std::vector<int>{8, 12, 12}));
  CHECK(p.text.hidden == 16 && p.text.rope_theta == 1000000.f);
  CHECK((p.vae.block_out_channels == std::vector<int>{32, 32, 64, 64}));
  CHECK(!p.vae.mid_attention);
  CHECK(std::fabs(p.vae.scaling_factor - 0.3611f) < 1e-7f);
  CHECK(p.tensors.size() == 2);
  const PlanTensor* t = p.find("dit.final.mod.weight");
  CHECK(t && t->dtype == DType::F32 && t->shape == Shape({128, 64}) && t->pieces.size() == 2);
  CHECK(t->pieces[0].file == 1 && t->pieces[0].offset == 8 && t->pieces[0].dtype == DType::BF16);
  CHECK(t->pieces[1].file == 0 && t->pieces[1].offset == 99 && t->pieces[1].dtype == DType::F16);
  CHECK(p.find("missing") == nullptr);
}

TEST(plan_format_round_trip) {
  WeightPlan a = parse_plan(sample_plan_text());
  std::string text = format_plan(a);
  WeightPlan b = parse_plan(text);
  CHECK(format_plan(b) == text);
  CHECK(b.files == a.files);
  CHECK(b.tensors.size() == a.tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    CHECK(b.tensors[i].name == a.tensors[i].name && b.tensors[i].shape == a.tensors[i].shape);
    CHECK(b.tensors[i].pieces.size() == a.tensors[i].pieces.size());
  }
  CHECK(b.vae.scaling_factor == a.vae.scaling_factor && b.dit.theta == a.dit.theta);
  CHECK(b.vae.mid_attention == a.vae.mid_attention);
}

TEST(plan_errors_name_the_line) {
  const std::string h = "ovis-plan 2\nfile 0 0 0 0 0 \"/x\"\n";
  expect_plan_error("", "empty");
  expect_plan_error("ovis-plan 3\nend\n", "line 1");
  expect_plan_error("ovis-plan 1\nend\n", "unsupported plan version 1");
  expect_plan_error("tensor a bf16 2\n", "line 1");
  expect_plan_error(h + "tensor a bf16 2,x\npiece 0 0 bf16 2\nend\n", "line 3");
  expect_plan_error(h + "tensor a bf17 2\npiece 0 0 bf16 2\nend\n", "line 3");
  expect_plan_error(h + "piece 0 0 bf16 2\nend\n", "line 3");
  expect_plan_error(h + "tensor a bf16 2\npiece 3 0 bf16 2\nend\n", "line 4");
  expect_plan_error(h + "tensor a bf16 2\npiece 0 -5 bf16 2\nend\n", "line 4");
  expect_plan_error(h + "tensor a bf16 2\npiece 0 0 bf16 2\nbogus 1\nend\n", "line 5");
  expect_plan_error(h + "config dit.num_heads many\nend\n", "line 3");
  expect_plan_error(h + "tensor a bf16 2\npiece 0 0 bf16 2\ntensor a bf16 2\npiece 0 0 bf16 2\nend\n", "line 5");
  expect_plan_error(h + "tensor a bf16 2\npiece 0 0 bf16 2\n", "without 'end'");
  expect_plan_error(h + "tensor a bf16 2\nend\n", "no piece");
  expect_plan_error(h + "tensor a bf16 0,2\npiece 0 0 bf16 2\nend\n", "line 3");
  expect_plan_error("ovis-plan 2\nfile 1 0 0 0 0 \"/x\"\nend\n", "file index 0");
  expect_plan_error(h + "config dit.head_dim 30\nend\n", "axes_dims");
}

TEST(plan_piece_sizes_must_add_up) {
  const std::string h = "ovis-plan 2\nfile 0 0 0 0 0 \"/x\"\n";
  expect_plan_error(h + "tensor w bf16 4,3\npiece 0 0 bf16 2,3\nend\n", "tensor w");
  expect_plan_error(
      h + "tensor w bf16 4,3\npiece 0 0 bf16 2,3\npiece 0 12 bf16 3,3\ntensor v f32 1\npiece 0 0 f32 1\nend\n",
      "line 3");
  parse_plan(h + "tensor w bf16 4,3\npiece 0 0 bf16 2,3\npiece 0 12 bf16 6\nend\n");  // counts add up: fine
}

TEST(weights_missing_file) {
  WeightPlan p = parse_plan(
      "ovis-plan 2\nfile 0 0 0 0 0 \"/nonexistent/ovis/weights.safetensors\"\ntensor a bf16 2\npiece 0 0 bf16 "
      "2\nend\n");
  auto be = create_cpu_backend(1);
  try {
    WeightStore ws(p, *be);
    CHECK_MSG(false, "no error for a missing file");
  } catch (const Error& e) {
    CHECK(e.code() == "OVIS_BAD_WEIGHTS");
    CHECK_MSG(std::string(e.what()).find("/nonexistent/ovis/weights.safetensors") != std::string::npos, e.what());
  }
}

TEST(weights_file_too_short) {
  TempFile f(std::vector<unsigned char>(10, 0));
  WeightPlan p =
      parse_plan("ovis-plan 2\n" + file_line(0, f.path) + "tensor dit.x.weight bf16 4\npiece 0 4 bf16 4\nend\n");
  auto be = create_cpu_backend(1);
  try {
    WeightStore ws(p, *be);
    CHECK_MSG(false, "no error for a short file");
  } catch (const Error& e) {
    CHECK(e.code() == "OVIS_BAD_WEIGHTS");
    const std::string m = e.what();
    CHECK_MSG(m.find(f.path) != std::string::npos && m.find("dit.x.weight") != std::string::npos, m);
  }
}

TEST(weights_assemble_view_concat_convert) {
  // File: 2 pad bytes, then 6 bf16 values, then 4 f32 values.
  std::vector<unsigned char> bytes = {0xAA, 0xBB};
  const float bvals[6] = {1.5f, -2.f, 0.25f, 3.f, -0.5f, 8.f};
  for (float v : bvals) append_bf16(bytes, v);
  const float fvals[4] = {0.1f, -7.f, 2.5f, 1e-3f};
  for (float v : fvals) {
    unsigned char b[4];
    std::memcpy(b, &v, 4);
    bytes.insert(bytes.end(), b, b + 4);
  }
  TempFile f(bytes);
  const std::string text = "ovis-plan 2\n" + file_line(0, f.path) +
                           "tensor single bf16 2,3\npiece 0 2 bf16 2,3\n"                     // zero-copy view
                           "tensor fused bf16 3,2\npiece 0 6 bf16 1,2\npiece 0 2 bf16 2,2\n"  // reordered rows
                           "tensor up f32 2,3\npiece 0 2 bf16 2,3\n"                          // bf16 -> f32
                           "tensor down bf16 4\npiece 0 14 f32 4\n"                           // f32 -> bf16
                           "end\n";
  auto be = create_cpu_backend(1);
  WeightStore ws(parse_plan(text), *be);
  auto values = [&](const char* name) { return ovis_test::to_f64(be->to_host_f32(ws.get(name))); };
  CHECK((values("single") == std::vector<double>{1.5, -2, 0.25, 3, -0.5, 8}));
  CHECK((values("fused") == std::vector<double>{0.25, 3, 1.5, -2, 0.25, 3}));
  CHECK((values("up") == std::vector<double>{1.5, -2, 0.25, 3, -0.5, 8}));
  CHECK(ws.get("up").dtype == DType::F32 && ws.get("down").dtype == DType::BF16);
  std::vector<double> down = values("down");
  for (int i = 0; i < 4; ++i) CHECK(std::fabs(down[size_t(i)] - fvals[i]) <= std::fabs(fvals[i]) * 4e-3);
  CHECK(ws.get("single", {2, 3}).shape == Shape({2, 3}));
  CHECK_THROWS_CODE(ws.get("absent.weight"), "OVIS_BAD_WEIGHTS");
  CHECK_THROWS_CODE(ws.get("single", {3, 2}), "OVIS_BAD_WEIGHTS");
  try {
    ws.get("absent.weight");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("absent.weight") != std::string::npos);
  }
}

TEST(plan_paths_are_json_strings) {
  // A newline, quotes, a backslash and non-ASCII in a path change nothing else in the plan.
  const std::string odd = "/models/new\nline \"q\" back\\slash/\xC3\xA9/x.safetensors";
  WeightPlan p;
  p.files = {odd};
  p.file_ids = {FileIdentity{1, 2, 3, 4}};
  const std::string text = format_plan(p);
  CHECK_MSG(text.find("\\n") != std::string::npos, text);
  WeightPlan back = parse_plan(text);
  CHECK(back.files.size() == 1 && back.files[0] == odd);
  CHECK(back.file_ids[0] == (FileIdentity{1, 2, 3, 4}));
  CHECK(format_plan(back) == text);
  const std::string v = "ovis-plan 2\n";
  expect_plan_error(v + "file 0 0 0 0 0 /raw/path\nend\n", "line 2");
  expect_plan_error(v + "file 0 0 0 0 0 \"/a\" \"/b\"\nend\n", "after the file path");
  expect_plan_error(v + "file 0 0 0 0 0 \"/a\nend\n", "unterminated");
  expect_plan_error(v + "file 0 0 0 0 0 \"/a\\x\"\nend\n", "unknown escape");
  expect_plan_error(v + "file 0 0 0 0 0 \"/a\\ud800\"\nend\n", "surrogate");
  expect_plan_error(v + "file 0 0 0 0 0 \"/a\\u0000b\"\nend\n", "NUL");
  expect_plan_error(v + "file 0 0 0 0 0 \"relative/x\"\nend\n", "absolute");
  expect_plan_error(v + "file 0 0 0 0 \"/x\"\nend\n", "line 2");
  expect_plan_error(v + "file 0 0 0 0 0 \"/a\tb\"\nend\n", "control character");
  std::string decoded;
  size_t pos = 0;
  CHECK(parse_json_string("\"\\ud83d\\ude00\\u00e9\"", pos, decoded).empty());
  CHECK(decoded == "\xF0\x9F\x98\x80\xC3\xA9");
}

TEST(plan_config_floats_and_counts_are_bounded) {
  const std::string h = "ovis-plan 2\nfile 0 0 0 0 0 \"/x\"\n";
  const std::string one = "tensor a bf16 2\npiece 0 0 bf16 2\n";
  expect_plan_error(h + "config dit.theta 1e-300\n" + one + "end\n", "dit.theta");
  expect_plan_error(h + "config te.eps 1e39\n" + one + "end\n", "te.eps");
  expect_plan_error(h + "config te.rope_theta inf\n" + one + "end\n", "te.rope_theta");
  expect_plan_error(h + "config vae.scaling_factor 0\n" + one + "end\n", "vae.scaling_factor");
  expect_plan_error(h + "config te.layers 1000000\n" + one + "end\n", "te.layers");
  expect_plan_error(h + "config dit.num_double 20000\n" + one + "end\n", "dit.num_double");
}

TEST(weights_file_must_be_the_checked_one) {
  TempFile f(std::vector<unsigned char>(16, 0));
  const FileIdentity id = file_identity(f.path);
  const std::string tensor = "tensor a bf16 2\npiece 0 0 bf16 2\nend\n";
  auto be = create_cpu_backend(1);
  WeightStore ok(parse_plan("ovis-plan 2\n" + file_line(0, f.path) + tensor), *be);
  ok.check_files_unchanged();
  const std::string wrong = "ovis-plan 2\nfile 0 " + std::to_string(id.size + 1) + " " + std::to_string(id.mtime_ns) +
                            " " + std::to_string(id.dev) + " " + std::to_string(id.ino) + " " + json_quote(f.path) +
                            "\n";
  CHECK_THROWS_CODE(WeightStore(parse_plan(wrong + tensor), *be), "OVIS_WEIGHTS_CHANGED");
}

TEST(weights_changed_after_mapping_are_refused) {
  TempFile f(std::vector<unsigned char>(4096, 0));
  auto be = create_cpu_backend(1);
  WeightStore ws(parse_plan("ovis-plan 2\n" + file_line(0, f.path) + "tensor a bf16 2048\npiece 0 0 bf16 2048\nend\n"),
                 *be);
  ws.check_files_unchanged();
  CHECK(::truncate(f.path.c_str(), 100) == 0);
  CHECK_THROWS_CODE(ws.check_files_unchanged(), "OVIS_WEIGHTS_CHANGED");
  try {
    ws.check_files_unchanged();
  } catch (const Error& e) {
    CHECK_MSG(std::string(e.what()).find(f.path) != std::string::npos &&
                  std::string(e.what()).find("size") != std::string::npos,
              e.what());
  }
}

TEST(finite_check_names_the_kind) {
  Tensor t = host_f32({4});
  float* d = t.ptr<float>();
  d[0] = 1.f, d[1] = 2.f, d[2] = 3.f, d[3] = 4.f;
  CHECK(first_non_finite(t) == nullptr);
  require_finite(t, "x");
  d[2] = std::nanf("");
  CHECK(std::string(first_non_finite(t)) == "NaN");
  d[2] = -INFINITY;
  CHECK(std::string(first_non_finite(t)) == "Inf");
  CHECK_THROWS_CODE(require_finite(t, "the stage"), "OVIS_NON_FINITE");
}
