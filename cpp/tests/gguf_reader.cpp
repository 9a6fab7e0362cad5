// Walks a GGUF v2/v3 header: key/value metadata (skipped, except general.alignment), tensor infos.
#include "gguf_reader.h"

#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace ovis::test {

namespace {

struct Cursor {
  const std::vector<uint8_t>& b;
  size_t at = 0;
  template <class T>
  T take() {
    if (at + sizeof(T) > b.size()) throw std::runtime_error("gguf: header runs past the end");
    T v;
    std::memcpy(&v, b.data() + at, sizeof(T));
    at += sizeof(T);
    return v;
  }
  std::string str() {
    uint64_t n = take<uint64_t>();
    if (at + n > b.size()) throw std::runtime_error("gguf: string runs past the end");
    std::string s(reinterpret_cast<const char*>(b.data() + at), size_t(n));
    at += size_t(n);
    return s;
  }
};

// Skips one metadata value of type t; returns it as an integer when it is one (for general.alignment).
uint64_t skip_value(Cursor& c, uint32_t t) {
  static const size_t sizes[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
  if (t == 8) {
    c.str();
    return 0;
  }
  if (t == 9) {
    uint32_t inner = c.take<uint32_t>();
    uint64_t n = c.take<uint64_t>();
    for (uint64_t i = 0; i < n; ++i) skip_value(c, inner);
    return 0;
  }
  if (t > 12) throw std::runtime_error("gguf: unknown metadata type");
  uint64_t v = 0;
  std::memcpy(&v, c.b.data() + c.at, sizes[t]);
  c.at += sizes[t];
  return v;
}

}  // namespace

GgufFile read_gguf(const std::string& path) {
  GgufFile f;
  f.path = path;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  f.bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  Cursor c{f.bytes};
  if (c.take<uint32_t>() != 0x46554747u) throw std::runtime_error(path + ": not GGUF");
  c.take<uint32_t>();  // version
  uint64_t tensors = c.take<uint64_t>(), kvs = c.take<uint64_t>();
  uint64_t alignment = 32;
  for (uint64_t i = 0; i < kvs; ++i) {
    std::string key = c.str();
    uint64_t v = skip_value(c, c.take<uint32_t>());
    if (key == "general.alignment") alignment = v;
  }
  std::vector<std::pair<std::string, GgufEntry>> infos;
  for (uint64_t i = 0; i < tensors; ++i) {
    std::string name = c.str();
    GgufEntry e;
    uint32_t n = c.take<uint32_t>();
    for (uint32_t d = 0; d < n; ++d) e.dims.push_back(int64_t(c.take<uint64_t>()));
    e.type = c.take<uint32_t>();
    e.offset = c.take<uint64_t>();
    infos.emplace_back(name, e);
  }
  const uint64_t data_start = (c.at + alignment - 1) / alignment * alignment;
  for (auto& kv : infos) {
    kv.second.offset += data_start;
    f.entries[kv.first] = kv.second;
  }
  return f;
}

}  // namespace ovis::test
