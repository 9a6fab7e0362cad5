#include "safetensors_reader.h"

#include "io/json_string.h"

#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace ovis::test {

const Json* Json::get(const std::string& key) const {
  if (kind != Object) return nullptr;
  for (const auto& f : fields)
    if (f.first == key) return &f.second;
  return nullptr;
}

const Json& Json::at(const std::string& key) const {
  const Json* j = get(key);
  if (!j) throw std::runtime_error("JSON key missing: " + key);
  return *j;
}

namespace {

struct Parser {
  const std::string& s;
  size_t i = 0;
  [[noreturn]] void bad(const char* what) {
    throw std::runtime_error(std::string("JSON parse error at ") + std::to_string(i) + ": " + what);
  }
  void ws() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t')) ++i;
  }
  bool eat(char c) {
    ws();
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  }
  // Strings are read by the engine's strict JSON string parser (the plan's paths use it too).
  std::string string() {
    ws();
    std::string out;
    const std::string error = parse_json_string(s, i, out);
    if (!error.empty()) bad(error.c_str());
    return out;
  }
  Json value() {
    ws();
    if (i >= s.size()) bad("unexpected end");
    Json j;
    char c = s[i];
    if (c == '{') {
      ++i;
      j.kind = Json::Object;
      if (eat('}')) return j;
      do {
        ws();
        std::string k = string();
        if (!eat(':')) bad("expected ':'");
        j.fields.emplace_back(k, value());
      } while (eat(','));
      if (!eat('}')) bad("expected '}'");
    } else if (c == '[') {
      ++i;
      j.kind = Json::Array;
      if (eat(']')) return j;
      do j.items.push_back(value());
      while (eat(','));
      if (!eat(']')) bad("expected ']'");
    } else if (c == '"') {
      j.kind = Json::String;
      j.str = string();
    } else if (s.compare(i, 4, "true") == 0) {
      j.kind = Json::Bool, j.b = true, i += 4;
    } else if (s.compare(i, 5, "false") == 0) {
      j.kind = Json::Bool, i += 5;
    } else if (s.compare(i, 4, "null") == 0) {
      i += 4;
    } else {
      size_t used = 0;
      j.kind = Json::Number;
      j.num = std::stod(s.substr(i, 40), &used);
      if (used == 0) bad("expected a value");
      i += used;
    }
    return j;
  }
};

}  // namespace

Json parse_json(const std::string& text) {
  Parser p{text};
  Json j = p.value();
  p.ws();
  if (p.i != text.size()) p.bad("trailing characters");
  return j;
}

std::string read_text_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + path);
  std::ostringstream o;
  o << f.rdbuf();
  return o.str();
}

const SafetensorsEntry& SafetensorsFile::entry(const std::string& name) const {
  auto it = entries.find(name);
  if (it == entries.end()) throw std::runtime_error(path + " has no tensor " + name);
  return it->second;
}

SafetensorsFile read_safetensors(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + path);
  uint64_t n = 0;
  f.read(reinterpret_cast<char*>(&n), 8);
  if (!f || n > (100u << 20)) throw std::runtime_error("bad safetensors header in " + path);
  std::string header(size_t(n), '\0');
  f.read(&header[0], std::streamsize(n));
  if (!f) throw std::runtime_error("truncated safetensors header in " + path);
  SafetensorsFile out;
  out.path = path;
  out.data_start = 8 + n;
  Json j = parse_json(header);
  for (const auto& kv : j.fields) {
    if (kv.first == "__metadata__") continue;
    SafetensorsEntry e;
    e.dtype = kv.second.at("dtype").str;
    for (const Json& d : kv.second.at("shape").items) e.shape.push_back(int64_t(d.num));
    const Json& off = kv.second.at("data_offsets");
    e.begin = uint64_t(off.items.at(0).num);
    e.end = uint64_t(off.items.at(1).num);
    out.names.push_back(kv.first);
    out.entries[kv.first] = e;
  }
  return out;
}

Tensor SafetensorsFile::load_f32(const std::string& name) const {
  const SafetensorsEntry& e = entry(name);
  DType t = dtype_from_name(e.dtype);
  std::vector<int64_t> shape = e.shape;
  if (shape.empty()) shape.push_back(1);
  Tensor out = host_f32(Shape(shape));
  std::vector<char> raw(e.end - e.begin);
  if (raw.size() != size_t(out.numel()) * dtype_size(t)) throw std::runtime_error("size mismatch for " + name);
  std::ifstream f(path, std::ios::binary);
  f.seekg(std::streamoff(data_start + e.begin));
  f.read(raw.data(), std::streamsize(raw.size()));
  if (!f) throw std::runtime_error("cannot read " + name + " from " + path);
  convert_to_f32(raw.data(), t, out.ptr<float>(), size_t(out.numel()));
  return out;
}

}  // namespace ovis::test
