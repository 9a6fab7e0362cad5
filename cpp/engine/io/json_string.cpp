#include "io/json_string.h"

#include <cstdio>

namespace ovis {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Reads the 4 hex digits after "\u" at text[pos]; -1 when they are not 4 hex digits.
long read_hex4(const std::string& text, size_t pos) {
  if (pos + 4 > text.size()) return -1;
  long v = 0;
  for (size_t i = 0; i < 4; ++i) {
    int d = hex_value(text[pos + i]);
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

void append_utf8(std::string& out, unsigned long cp) {
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
}

}  // namespace

std::string parse_json_string(const std::string& text, size_t& pos, std::string& out) {
  out.clear();
  if (pos >= text.size() || text[pos] != '"') return "expected a JSON string starting with '\"'";
  size_t i = pos + 1;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '"') {
      pos = i + 1;
      return "";
    }
    if (c < 0x20) return "raw control character in a JSON string (must be escaped)";
    if (c != '\\') {
      out += char(c);
      ++i;
      continue;
    }
    if (i + 1 >= text.size()) break;
    const char e = text[i + 1];
    i += 2;
    switch (e) {
      case '"':
        out += '"';
        break;
      case '\\':
        out += '\\';
        break;
      case '/':
        out += '/';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        long cp = read_hex4(text, i);
        if (cp < 0) return "bad \\u escape (expected 4 hex digits)";
        i += 4;
        if (cp >= 0xDC00 && cp <= 0xDFFF) return "lone low surrogate in a \\u escape";
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          long low = text.compare(i, 2, "\\u") == 0 ? read_hex4(text, i + 2) : -1;
          if (low < 0xDC00 || low > 0xDFFF) return "lone high surrogate in a \\u escape";
          i += 6;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        }
        if (cp == 0) return "\\u0000 (NUL) cannot be part of a path";
        append_utf8(out, static_cast<unsigned long>(cp));
        break;
      }
      default:
        return std::string("unknown escape \\") + e;
    }
  }
  return "unterminated JSON string";
}

std::string json_quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += char(c);
    }
  }
  return out + "\"";
}

}  // namespace ovis
