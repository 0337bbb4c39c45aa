/* user_valid.h: validation and normalisation of user-supplied account fields (pure). */
#ifndef CHORUS_USER_VALID_H
#define CHORUS_USER_VALID_H

#include <stddef.h>

/* Returns 1 when the len bytes at s (borrowed, not trimmed) form an acceptable e-mail
 * address, else 0. Deliberately narrower than RFC 5321/5322 and ASCII-only: no quoted local
 * parts, no comments, no IP-literal domains and no internationalised (UTF-8 or IDNA)
 * domains -- a user with a U-label domain must type its "xn--" A-label form. Rules:
 * 3..254 bytes; exactly one '@'; local part 1..64 bytes of printable ASCII (0x21..0x7E)
 * other than  " < > , ; \  ; domain of at least two dot-separated labels, each 1..63 of
 * [A-Za-z0-9-] not starting or ending with '-', the last (TLD) 2+ letters only. */
int user_email_valid(const char *s, size_t len);

/* Writes the len bytes at s, ASCII lower-cased, plus a NUL to out (len + 1 bytes).
 * The local part is lower-cased too: strictly it is case-sensitive, but treating
 * Bob@x.org and bob@x.org as two accounts confuses people far more often than it helps. */
void user_email_normalize(const char *s, size_t len, char *out);

/* Longest display name, in code points. */
#define USER_NAME_MAX_CP 32

/* Returns 1 when the len bytes at s (borrowed; the caller trims surrounding whitespace
 * first) are valid UTF-8 of 1..USER_NAME_MAX_CP code points, with no control characters
 * (C0 U+0000..U+001F, DEL U+007F, C1 U+0080..U+009F), no bidirectional formatting
 * characters (U+061C, U+200E, U+200F, U+202A..U+202E, U+2066..U+2069), no line or
 * paragraph separator (U+2028, U+2029), and not only whitespace (ASCII space, U+00A0,
 * U+1680, U+2000..U+200D, U+202F, U+205F, U+2060, U+3000, U+FEFF count as blank). A code
 * point is one character here, so a ZWJ emoji sequence counts as several. */
int user_name_valid(const char *s, size_t len);

/* Returns 1 when the len bytes at s are exactly "#rrggbb" (hex digits, either case). */
int user_color_valid(const char *s, size_t len);

/* Writes the len bytes at s ASCII lower-cased plus a NUL to out (len + 1 bytes): with a
 * valid color, the canonical "#rrggbb" (out holds 8). */
void user_color_normalize(const char *s, size_t len, char *out);

/* Returns one color of the palette below (a static string, never freed), chosen
 * deterministically from the seed_len bytes at seed (e.g. the user id) by FNV-1a.
 * The palette: 16 mid-luminance hues, each with WCAG contrast >= 3.3:1 against white and
 * >= 3.7:1 against #1e1e1e, so cursors and name tags read on light and dark themes:
 *   #d9534f red      #d9682a orange   #b8800a amber    #8a8c17 olive
 *   #55962a green    #2e9e57 emerald  #1f9e8f teal     #1b95b8 cyan
 *   #3b82f6 blue     #5b6ee8 indigo   #8060e0 violet   #a855d6 purple
 *   #c94fb0 magenta  #d94f86 pink     #a07050 brown    #6f8796 slate */
const char *user_color_pick(const unsigned char *seed, size_t seed_len);

/* Palette access (for tests and UIs): its size, and entry i (< size; asserts). */
size_t user_color_palette_size(void);
const char *user_color_palette_at(size_t i);

/* Password length bounds in bytes. The upper cap keeps a request from making the server
 * hash megabytes (argon2 pre-hashes the password, so cost grows with length) and is far
 * above any passphrase a person types. */
#define USER_PASSWORD_MIN 8
#define USER_PASSWORD_MAX 1024

/* Returns 1 when a password of len bytes is acceptable (USER_PASSWORD_MIN..MAX), else 0. */
int user_password_valid(size_t len);

#endif
