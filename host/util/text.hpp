// How values a user gave are shown in messages, and the small rules of message wording.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace vaead::text {

// 'text' for a message: at most 40 characters, control characters, quotes and bytes that are not
// UTF-8 as \xNN (a NUL never cuts the message; a 300-digit number never floods it).
std::string quote(std::string_view text);

// Whether `text` is valid UTF-8 (names end up in JSON, which holds nothing else).
bool valid_utf8(std::string_view text);

// A number for a message: six significant digits (%.6g), "NaN" for a NaN.
std::string number(double value);

// "1 field", "2 fields".
std::string plural(std::size_t count, const std::string& noun);

}  // namespace vaead::text
