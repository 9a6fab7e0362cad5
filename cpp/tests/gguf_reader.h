// Test-only reader of GGUF tensor infos (the engine never parses GGUF: lib/model does, into the plan).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ovis::test {

struct GgufEntry {
  uint32_t type = 0;          // ggml type id
  std::vector<int64_t> dims;  // GGUF order: innermost first
  uint64_t offset = 0;        // absolute byte offset in the file
};

struct GgufFile {
  std::string path;
  std::vector<uint8_t> bytes;  // the whole file (fixtures are small)
  std::map<std::string, GgufEntry> entries;
  const uint8_t* data(const GgufEntry& e) const { return bytes.data() + e.offset; }
};

GgufFile read_gguf(const std::string& path);

}  // namespace ovis::test
