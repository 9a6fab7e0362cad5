// Plan text <-> WeightPlan (format in docs/WEIGHTS.md).
#include "io/plan.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <set>
#include <sstream>

#include "core/error.h"
#include "io/json_string.h"

namespace ovis {

const PlanTensor* WeightPlan::find(const std::string& name) const {
  for (const PlanTensor& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

namespace {

[[noreturn]] void bad_line(int line, const std::string& what) {
  fail("OVIS_BAD_WEIGHTS", "weight plan line " + std::to_string(line) + ": " + what);
}

std::vector<std::string> split_spaces(const std::string& s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = s.find(' ', i);
    if (j == std::string::npos) j = s.size();
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

int64_t parse_int(const std::string& s, int line, const char* what) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos)
    bad_line(line, std::string("expected a non-negative integer for ") + what + ", got '" + s + "'");
  errno = 0;
  unsigned long long v = std::strtoull(s.c_str(), nullptr, 10);
  if (errno == ERANGE || v > (1ull << 62)) bad_line(line, std::string(what) + " out of range: " + s);
  return int64_t(v);
}

// Any 64-bit unsigned value (inode and device numbers use the whole range).
uint64_t parse_u64(const std::string& s, int line, const char* what) {
  if (s.empty() || s.size() > 20 || s.find_first_not_of("0123456789") != std::string::npos)
    bad_line(line, std::string("expected a non-negative integer for ") + what + ", got '" + s + "'");
  errno = 0;
  unsigned long long v = std::strtoull(s.c_str(), nullptr, 10);
  if (errno == ERANGE) bad_line(line, std::string(what) + " out of range: " + s);
  return uint64_t(v);
}

float parse_float(const std::string& s, int line, const std::string& key) {
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != 0 || errno == ERANGE || !std::isfinite(v) || std::fabs(v) > 3.0e38)
    bad_line(line, "config " + key + ": expected a finite float32 number, got '" + s + "'");
  return float(v);
}

std::vector<int64_t> parse_list(const std::string& s, int line, const char* what) {
  std::vector<int64_t> out;
  size_t i = 0;
  while (true) {
    size_t j = s.find(',', i);
    if (j == std::string::npos) j = s.size();
    out.push_back(parse_int(s.substr(i, j - i), line, what));
    if (j == s.size()) break;
    i = j + 1;
  }
  return out;
}

Shape parse_shape(const std::string& s, int line) {
  std::vector<int64_t> d = parse_list(s, line, "a dimension");
  if (d.size() > 6) bad_line(line, "shape " + s + " has more than 6 dimensions");
  for (int64_t v : d)
    if (v <= 0) bad_line(line, "shape " + s + " has a zero dimension");
  return Shape(d);
}

// Weight dtypes: f32, f16, bf16 and ggml's block formats (q8_0, q4_k, ...), spelled in lower case.
DType parse_dtype(const std::string& s, int line) {
  DType t = DType::I32;
  try {
    t = dtype_from_name(s);
  } catch (const Error&) {
  }
  if (t == DType::I32 || dtype_name(t) != s)
    bad_line(line, "unknown dtype '" + s +
                       "' (expected f32, f16, bf16, q4_0, q4_1, q5_0, q5_1, q8_0, q2_k, q3_k, q4_k, q5_k or q6_k)");
  return t;
}

// A block-format tensor or piece is [rows, K] with K a whole number of blocks (blocks never span rows).
void check_blocks(DType t, const Shape& s, int line, const std::string& what) {
  if (!dtype_is_quantized(t)) return;
  if (s.rank != 2 || s[1] % dtype_block_elems(t))
    bad_line(line, what + " " + s.str() + " cannot be " + dtype_name(t) + ": needs [rows, K] with K a multiple of " +
                       std::to_string(dtype_block_elems(t)));
}

// Applies one `config` line. Unknown keys are ignored (forward compatibility); a wrong value in a
// known key is an error. Shape checks at load time catch configs that do not match the tensors.
void apply_config(WeightPlan& plan, const std::string& key, const std::string& value, int line) {
  auto as_int = [&](int& dst) {
    int64_t v = parse_int(value, line, key.c_str());
    if (v > (1 << 30)) bad_line(line, "config " + key + " too large: " + value);
    dst = int(v);
  };
  auto as_float = [&](float& dst) { dst = parse_float(value, line, key); };
  auto as_ints = [&](std::vector<int>& dst) {
    dst.clear();
    for (int64_t v : parse_list(value, line, key.c_str())) {
      if (v > (1 << 30)) bad_line(line, "config " + key + " value too large: " + value);
      dst.push_back(int(v));
    }
  };
  const std::map<std::string, std::function<void()>> setters = {
      {"dit.in_channels", [&] { as_int(plan.dit.in_channels); }},
      {"dit.out_channels", [&] { as_int(plan.dit.out_channels); }},
      {"dit.num_heads", [&] { as_int(plan.dit.num_heads); }},
      {"dit.head_dim", [&] { as_int(plan.dit.head_dim); }},
      {"dit.num_double", [&] { as_int(plan.dit.num_double); }},
      {"dit.num_single", [&] { as_int(plan.dit.num_single); }},
      {"dit.context_dim", [&] { as_int(plan.dit.context_dim); }},
      {"dit.mlp_hidden", [&] { as_int(plan.dit.mlp_hidden); }},
      {"dit.axes_dims", [&] { as_ints(plan.dit.axes_dims); }},
      {"dit.theta", [&] { as_float(plan.dit.theta); }},
      {"dit.eps", [&] { as_float(plan.dit.eps); }},
      {"te.hidden", [&] { as_int(plan.text.hidden); }},
      {"te.layers", [&] { as_int(plan.text.layers); }},
      {"te.heads", [&] { as_int(plan.text.heads); }},
      {"te.kv_heads", [&] { as_int(plan.text.kv_heads); }},
      {"te.head_dim", [&] { as_int(plan.text.head_dim); }},
      {"te.intermediate", [&] { as_int(plan.text.intermediate); }},
      {"te.vocab", [&] { as_int(plan.text.vocab); }},
      {"te.eps", [&] { as_float(plan.text.eps); }},
      {"te.rope_theta", [&] { as_float(plan.text.rope_theta); }},
      {"vae.in_channels", [&] { as_int(plan.vae.in_channels); }},
      {"vae.out_channels", [&] { as_int(plan.vae.out_channels); }},
      {"vae.latent_channels", [&] { as_int(plan.vae.latent_channels); }},
      {"vae.block_out_channels", [&] { as_ints(plan.vae.block_out_channels); }},
      {"vae.layers_per_block", [&] { as_int(plan.vae.layers_per_block); }},
      {"vae.groups", [&] { as_int(plan.vae.groups); }},
      {"vae.eps", [&] { as_float(plan.vae.eps); }},
      {"vae.scaling_factor", [&] { as_float(plan.vae.scaling_factor); }},
      {"vae.shift_factor", [&] { as_float(plan.vae.shift_factor); }},
      {"vae.mid_attention",
       [&] {
         int v = 0;
         as_int(v);
         plan.vae.mid_attention = v != 0;
       }},
  };
  if (key.rfind("dit.", 0) == 0) plan.has_dit = true;
  if (key.rfind("te.", 0) == 0) plan.has_text = true;
  if (key.rfind("vae.", 0) == 0) plan.has_vae = true;
  auto it = setters.find(key);
  if (it != setters.end()) it->second();
}

// `file <index> <size> <mtime-ns> <dev> <ino> <path as a JSON string>`: the path is the rest of the
// line and must be exactly one JSON string literal, so no character in it can change the plan.
void parse_file_line(WeightPlan& plan, const std::string& raw, int line, std::vector<bool>& seen) {
  std::vector<std::string> head;
  size_t pos = 0;
  for (int i = 0; i < 6; ++i) {
    size_t end = raw.find(' ', pos);
    if (end == std::string::npos) bad_line(line, "expected 'file <index> <size> <mtime-ns> <dev> <ino> \"<path>\"'");
    head.push_back(raw.substr(pos, end - pos));
    pos = end + 1;
  }
  int64_t index = parse_int(head[1], line, "the file index");
  if (index > 100000) bad_line(line, "file index too large");
  FileIdentity id;
  id.size = uint64_t(parse_int(head[2], line, "the file size"));
  id.mtime_ns = parse_u64(head[3], line, "the file mtime");
  id.dev = parse_u64(head[4], line, "the file device");
  id.ino = parse_u64(head[5], line, "the file inode");
  std::string path;
  std::string why = parse_json_string(raw, pos, path);
  if (!why.empty()) bad_line(line, "file path: " + why);
  if (pos != raw.size()) bad_line(line, "text after the file path's closing quote");
  if (path.empty() || path[0] != '/') bad_line(line, "file path must be absolute");
  if (size_t(index) >= plan.files.size()) {
    plan.files.resize(size_t(index) + 1);
    plan.file_ids.resize(size_t(index) + 1);
    seen.resize(size_t(index) + 1, false);
  }
  if (seen[size_t(index)]) bad_line(line, "file index " + std::to_string(index) + " given twice");
  seen[size_t(index)] = true;
  plan.files[size_t(index)] = path;
  plan.file_ids[size_t(index)] = id;
}

// Element count of a piece list must equal the tensor's.
void check_pieces(const PlanTensor& t, int line) {
  if (t.pieces.empty()) bad_line(line, "tensor " + t.name + " has no piece lines");
  int64_t total = 0;
  for (const PlanPiece& p : t.pieces) total += p.shape.numel();
  if (total != t.shape.numel())
    bad_line(line, "pieces of tensor " + t.name + " hold " + std::to_string(total) + " elements, the tensor " +
                       t.shape.str() + " needs " + std::to_string(t.shape.numel()));
}

std::string num_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

void check_config(const WeightPlan& plan) {
  auto positive = [](const char* key, int v) {
    if (v <= 0) fail("OVIS_BAD_WEIGHTS", std::string("weight plan: config ") + key + " must be positive");
  };
  // Same ranges as lib/model/config-limits.ts: beyond them float32 math overflows or underflows.
  auto within = [](const char* key, float v, double lo, double hi) {
    if (!(v >= lo && v <= hi))
      fail("OVIS_BAD_WEIGHTS", std::string("weight plan: config ") + key + " must be in [" + num_text(lo) + ", " +
                                   num_text(hi) + "], got " + num_text(v));
  };
  // The model code builds per-layer tables: a damaged count must not make it build millions.
  auto layers = [&](const char* key, int64_t v) {
    if (v > 1024)
      fail("OVIS_BAD_WEIGHTS", std::string("weight plan: config ") + key + " " + std::to_string(v) + " is over 1024");
  };
  if (plan.has_dit) {
    const DitConfig& c = plan.dit;
    positive("dit.in_channels", c.in_channels);
    positive("dit.out_channels", c.out_channels);
    positive("dit.num_heads", c.num_heads);
    positive("dit.head_dim", c.head_dim);
    positive("dit.context_dim", c.context_dim);
    positive("dit.mlp_hidden", c.mlp_hidden);
    layers("dit.num_double + dit.num_single", int64_t(c.num_double) + c.num_single);
    within("dit.theta", c.theta, 2, 1e12);
    within("dit.eps", c.eps, 1e-12, 0.1);
    int sum = 0;
    for (int d : c.axes_dims) {
      if (d <= 0 || d % 2) fail("OVIS_BAD_WEIGHTS", "weight plan: dit.axes_dims entries must be positive and even");
      sum += d;
    }
    if (sum != c.head_dim)
      fail("OVIS_BAD_WEIGHTS", "weight plan: dit.axes_dims add up to " + std::to_string(sum) + ", dit.head_dim is " +
                                   std::to_string(c.head_dim));
  }
  if (plan.has_text) {
    const TextConfig& c = plan.text;
    positive("te.hidden", c.hidden);
    positive("te.heads", c.heads);
    positive("te.kv_heads", c.kv_heads);
    positive("te.head_dim", c.head_dim);
    positive("te.intermediate", c.intermediate);
    positive("te.vocab", c.vocab);
    layers("te.layers", c.layers);
    within("te.rope_theta", c.rope_theta, 2, 1e12);
    within("te.eps", c.eps, 1e-12, 0.1);
    if (c.heads % c.kv_heads) fail("OVIS_BAD_WEIGHTS", "weight plan: te.heads must be a multiple of te.kv_heads");
    if (c.head_dim % 2) fail("OVIS_BAD_WEIGHTS", "weight plan: te.head_dim must be even");
  }
  if (plan.has_vae) {
    const VaeConfig& c = plan.vae;
    positive("vae.in_channels", c.in_channels);
    positive("vae.out_channels", c.out_channels);
    positive("vae.latent_channels", c.latent_channels);
    positive("vae.groups", c.groups);
    if (c.block_out_channels.empty() || c.block_out_channels.size() > 8)
      fail("OVIS_BAD_WEIGHTS", "weight plan: vae.block_out_channels must have 1 to 8 entries");
    if (c.layers_per_block < 1 || c.layers_per_block > 64)
      fail("OVIS_BAD_WEIGHTS", "weight plan: vae.layers_per_block must be in [1, 64]");
    within("vae.eps", c.eps, 1e-12, 0.1);
    within("vae.scaling_factor", c.scaling_factor, 1e-4, 1e4);
    within("vae.shift_factor", c.shift_factor, -1e4, 1e4);
    for (int ch : c.block_out_channels)
      if (ch <= 0 || ch % c.groups)
        fail("OVIS_BAD_WEIGHTS",
             "weight plan: vae.block_out_channels entries must be positive multiples of vae.groups");
  }
}

}  // namespace

WeightPlan parse_plan(const std::string& text) {
  WeightPlan plan;
  std::istringstream in(text);
  std::string raw;
  int line = 0;
  bool header = false, ended = false;
  std::set<std::string> names;
  std::vector<bool> file_seen;
  int tensor_line = 0;  // line of the tensor whose pieces are being read
  while (std::getline(in, raw)) {
    ++line;
    if (!raw.empty() && raw.back() == '\r') raw.pop_back();
    if (raw.empty() || raw[0] == '#') continue;
    if (ended) bad_line(line, "text after 'end'");
    std::vector<std::string> f = split_spaces(raw);
    if (f.empty()) continue;
    const std::string& kind = f[0];
    if (!header) {
      const std::string version = std::to_string(kPlanVersion);
      if (f.size() != 2 || kind != "ovis-plan") bad_line(line, "expected the header 'ovis-plan " + version + "'");
      if (f[1] != version)
        bad_line(line, "unsupported plan version " + f[1] + " (this engine reads version " + version +
                           "; the TypeScript package and the native addon do not match)");
      header = true;
      continue;
    }
    if (kind == "file") {
      parse_file_line(plan, raw, line, file_seen);
    } else if (kind == "config") {
      if (f.size() != 3) bad_line(line, "expected 'config <key> <value>'");
      apply_config(plan, f[1], f[2], line);
    } else if (kind == "tensor") {
      if (f.size() != 4) bad_line(line, "expected 'tensor <name> <dtype> <dims>'");
      if (!plan.tensors.empty()) check_pieces(plan.tensors.back(), tensor_line);
      if (!names.insert(f[1]).second) bad_line(line, "tensor " + f[1] + " given twice");
      PlanTensor t;
      t.name = f[1];
      t.dtype = parse_dtype(f[2], line);
      t.shape = parse_shape(f[3], line);
      check_blocks(t.dtype, t.shape, line, "tensor " + t.name);
      plan.tensors.push_back(std::move(t));
      tensor_line = line;
    } else if (kind == "piece") {
      if (f.size() != 5) bad_line(line, "expected 'piece <file-index> <byte-offset> <dtype> <dims>'");
      if (plan.tensors.empty()) bad_line(line, "piece before any tensor line");
      PlanPiece p;
      int64_t file = parse_int(f[1], line, "the file index");
      if (size_t(file) >= plan.files.size() || !file_seen[size_t(file)])
        bad_line(line, "piece names file " + f[1] + ", which no earlier 'file' line declares");
      p.file = int(file);
      p.offset = uint64_t(parse_int(f[2], line, "the byte offset"));
      p.dtype = parse_dtype(f[3], line);
      p.shape = parse_shape(f[4], line);
      check_blocks(p.dtype, p.shape, line, "a piece of tensor " + plan.tensors.back().name);
      plan.tensors.back().pieces.push_back(p);
    } else if (kind == "end") {
      if (f.size() != 1) bad_line(line, "expected 'end'");
      if (!plan.tensors.empty()) check_pieces(plan.tensors.back(), tensor_line);
      ended = true;
    } else {
      bad_line(line, "unknown record '" + kind + "'");
    }
  }
  if (!header)
    fail("OVIS_BAD_WEIGHTS",
         "weight plan is empty (expected the header 'ovis-plan " + std::to_string(kPlanVersion) + "')");
  if (!ended) fail("OVIS_BAD_WEIGHTS", "weight plan ends without 'end' (truncated?)");
  for (size_t i = 0; i < file_seen.size(); ++i)
    if (!file_seen[i]) fail("OVIS_BAD_WEIGHTS", "weight plan: file index " + std::to_string(i) + " is not declared");
  check_config(plan);
  return plan;
}

namespace {

std::string join_ints(const std::vector<int>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s;
}

std::string dims(const Shape& s) {
  std::string out;
  for (int i = 0; i < s.rank; ++i) out += (i ? "," : "") + std::to_string(s.dims[i]);
  return out;
}

std::string num(float v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", double(v));
  return buf;
}

const char* plan_dtype(DType t) {
  if (t == DType::I32) fail("OVIS_BAD_WEIGHTS", "weight plan: tensors must be float or block-quantized, not i32");
  return dtype_name(t);
}

}  // namespace

std::string format_plan(const WeightPlan& plan) {
  std::ostringstream o;
  o << "ovis-plan " << kPlanVersion << "\n";
  for (size_t i = 0; i < plan.files.size(); ++i) {
    const FileIdentity id = i < plan.file_ids.size() ? plan.file_ids[i] : file_identity(plan.files[i]);
    o << "file " << i << " " << id.size << " " << id.mtime_ns << " " << id.dev << " " << id.ino << " "
      << json_quote(plan.files[i]) << "\n";
  }
  if (plan.has_dit) {
    const DitConfig& c = plan.dit;
    o << "config dit.in_channels " << c.in_channels << "\nconfig dit.out_channels " << c.out_channels
      << "\nconfig dit.num_heads " << c.num_heads << "\nconfig dit.head_dim " << c.head_dim
      << "\nconfig dit.num_double " << c.num_double << "\nconfig dit.num_single " << c.num_single
      << "\nconfig dit.context_dim " << c.context_dim << "\nconfig dit.mlp_hidden " << c.mlp_hidden
      << "\nconfig dit.axes_dims " << join_ints(c.axes_dims) << "\nconfig dit.theta " << num(c.theta)
      << "\nconfig dit.eps " << num(c.eps) << "\n";
  }
  if (plan.has_text) {
    const TextConfig& c = plan.text;
    o << "config te.hidden " << c.hidden << "\nconfig te.layers " << c.layers << "\nconfig te.heads " << c.heads
      << "\nconfig te.kv_heads " << c.kv_heads << "\nconfig te.head_dim " << c.head_dim << "\nconfig te.intermediate "
      << c.intermediate << "\nconfig te.vocab " << c.vocab << "\nconfig te.eps " << num(c.eps)
      << "\nconfig te.rope_theta " << num(c.rope_theta) << "\n";
  }
  if (plan.has_vae) {
    const VaeConfig& c = plan.vae;
    o << "config vae.in_channels " << c.in_channels << "\nconfig vae.out_channels " << c.out_channels
      << "\nconfig vae.latent_channels " << c.latent_channels << "\nconfig vae.block_out_channels "
      << join_ints(c.block_out_channels) << "\nconfig vae.layers_per_block " << c.layers_per_block
      << "\nconfig vae.groups " << c.groups << "\nconfig vae.eps " << num(c.eps) << "\nconfig vae.scaling_factor "
      << num(c.scaling_factor) << "\nconfig vae.shift_factor " << num(c.shift_factor) << "\nconfig vae.mid_attention "
      << (c.mid_attention ? 1 : 0) << "\n";
  }
  for (const PlanTensor& t : plan.tensors) {
    o << "tensor " << t.name << " " << plan_dtype(t.dtype) << " " << dims(t.shape) << "\n";
    for (const PlanPiece& p : t.pieces)
      o << "piece " << p.file << " " << p.offset << " " << plan_dtype(p.dtype) << " " << dims(p.shape) << "\n";
  }
  o << "end\n";
  return o.str();
}

}  // namespace ovis
