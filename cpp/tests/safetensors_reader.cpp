#include "safetensors_reader.h"

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
  std::string string() {
    if (!eat('"')) bad("expected a string");
    std::string out;
    while (i < s.size() && s[i] != '"') {
      char c = s[i++];
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i >= s.size()) bad("bad escape");
      char e = s[i++];
      switch (e) {
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'u': {
          if (i + 4 > s.size()) bad("bad \\u escape");
          unsigned cp = unsigned(std::stoul(s.substr(i, 4), nullptr, 16));
          i += 4;
          if (cp >= 0xD800 && cp < 0xDC00 && i + 6 <= s.size() && s[i] == '\\' && s[i + 1] == 'u') {
            unsigned lo = unsigned(std::stoul(s.substr(i + 2, 4), nullptr, 16));
            i += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          if (cp < 0x80) {
            out += char(cp);
          } else if (cp < 0x800) {
            out += char(0xC0 | (cp >> 6));
            out += char(0x80 | (cp & 0x3F));
          } else if (cp < 0x10000) {
            out += char(0xE0 | (cp >> 12));
            out += char(0x80 | ((cp >> 6) & 0x3F));
            out += char(0x80 | (cp & 0x3F));
          } else {
            out += char(0xF0 | (cp >> 18));
            out += char(0x80 | ((cp >> 12) & 0x3F));
            out += char(0x80 | ((cp >> 6) & 0x3F));
            out += char(0x80 | (cp & 0x3F));
          }
          break;
        }
        default:
          out += e;
      }
    }
    if (i >= s.size()) bad("unterminated string");
    ++i;
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
