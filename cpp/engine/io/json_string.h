// Strict parsing of one JSON string literal (RFC 8259): how the weight plan carries file paths, so
// that no character of a path (newline, space, quote) can change the meaning of the plan text.
#pragma once
#include <string>

namespace ovis {

// Parses the JSON string literal that starts at text[pos] (a '"'); on success stores the decoded
// UTF-8 in `out`, sets `pos` just past the closing quote and returns an empty string. Otherwise
// returns what is wrong (raw control characters, bad escapes, lone surrogates, \u0000, no end).
std::string parse_json_string(const std::string& text, size_t& pos, std::string& out);

// The JSON string literal of `s` (quotes included), escaping '"', '\\' and control characters.
std::string json_quote(const std::string& s);

}  // namespace ovis
