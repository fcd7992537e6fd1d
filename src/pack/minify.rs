// SPDX-License-Identifier: GPL-2.0
//! C-aware, line-preserving minifier for kernel headers.
//!
//! The output lexes to the same preprocessing tokens, with the same whitespace separation and
//! the same directive lines, for a C compiler, the assembler's preprocessor and clang (BPF). It
//! works on bytes (headers need not be UTF-8), follows the C translation phases (a backslash
//! before a newline splices lines before comments are removed; a comment is one space) and:
//!
//! 1. removes `/* */` and `//` comments outside literals, except those that contain
//!    `SPDX-License-Identifier`, which are kept verbatim;
//! 2. keeps every newline, so line numbers do not change (those inside a comment too, and the
//!    splices of a `//` comment whose line ends with a backslash);
//! 3. turns a newline inside a comment inside a `#` directive into `\` + newline, so the
//!    directive still goes on after the comment;
//! 4. drops blanks (space, tab, `\f`, `\v`, `\r`) at the end of a line and at the start of a
//!    line that does not continue the previous one, and turns any other run of blanks and
//!    comments into one space: whitespace between two tokens never disappears and none is
//!    inserted where there was none (a continuation line keeps one leading space unless one
//!    already precedes the `\`);
//! 5. copies string and char literals and `#include <...>` names verbatim, splices included;
//!    an unterminated literal ends at the end of its line (`#error don't`, assembler);
//! 6. ends the output with a newline if and only if the input ends with one (a blank stands in
//!    for trailing blanks or comments after the last newline).

const SPDX: &[u8] = b"SPDX-License-Identifier";

fn is_blank(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\x0b' | b'\x0c')
}

/// Length of the splice (`\`, blanks, newline) at `i`, or 0 if there is none.
fn splice_len(s: &[u8], i: usize) -> usize {
    if s.get(i) != Some(&b'\\') {
        return 0;
    }
    let mut j = i + 1;
    while s.get(j).is_some_and(|&c| is_blank(c)) {
        j += 1;
    }
    if s.get(j) == Some(&b'\n') {
        j + 1 - i
    } else {
        0
    }
}

/// First index at or after `i` that does not start a splice.
fn skip_splices(s: &[u8], mut i: usize) -> usize {
    loop {
        match splice_len(s, i) {
            0 => return i,
            n => i += n,
        }
    }
}

/// End of the literal opened at `i` and closed by `close`: after the closing byte, or at the
/// unspliced newline (or end of input) that leaves it unterminated.
fn literal_end(s: &[u8], i: usize, close: u8, escapes: bool) -> usize {
    let mut j = i + 1;
    loop {
        j = skip_splices(s, j);
        match s.get(j) {
            None | Some(b'\n') => return j,
            Some(&c) if c == close => return j + 1,
            Some(b'\\') if escapes => {
                j = skip_splices(s, j + 1);
                if !matches!(s.get(j), None | Some(b'\n')) {
                    j += 1;
                }
            }
            Some(_) => j += 1,
        }
    }
}

/// End of the comment whose opener's second byte (`*` or `/`) is at `i`: after the `*/` of a
/// block comment, before the unspliced newline that ends a line comment, or the end of input.
fn comment_end(s: &[u8], i: usize) -> usize {
    let block = s.get(i) == Some(&b'*');
    let mut j = i + 1;
    loop {
        if !block {
            j = skip_splices(s, j);
        }
        match s.get(j) {
            None => return j,
            Some(b'\n') if !block => return j,
            Some(b'*') if block && s.get(skip_splices(s, j + 1)) == Some(&b'/') => {
                return skip_splices(s, j + 1) + 1;
            }
            Some(_) => j += 1,
        }
    }
}

/// Whether the directive written so far (`line`) is one that takes a `<header>` name.
fn takes_header_name(line: &[u8]) -> bool {
    let word: Vec<u8> = line
        .iter()
        .copied()
        .filter(|&c| !is_blank(c) && c != b'\\' && c != b'\n')
        .collect();
    matches!(&word[..], b"#include" | b"#include_next" | b"#import")
}

/// Returns `input` with comments removed and blanks collapsed, preserving line count.
pub fn minify(input: &[u8]) -> Vec<u8> {
    let s = input;
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    let mut pending = false; // blanks or a comment since the last output byte
    let mut sep = true; // the last output (splices aside) separates tokens, or starts a line
    let mut tokens = false; // the logical line has a token
    let mut directive = false; // the logical line starts with `#`
    let mut line_start = 0; // where the logical line starts in `out`
    while let Some(&c) = s.get(i) {
        let splice = splice_len(s, i);
        let after_slash = s.get(skip_splices(s, i + 1));
        if splice > 0 {
            if pending && !sep {
                out.push(b' ');
                sep = true;
            }
            pending = false;
            out.extend_from_slice(b"\\\n");
            i += splice;
        } else if c == b'\n' {
            out.push(b'\n');
            (pending, sep, tokens, directive) = (false, true, false, false);
            line_start = out.len();
            i += 1;
        } else if is_blank(c) {
            pending = true;
            i += 1;
        } else if c == b'/' && matches!(after_slash, Some(b'*' | b'/')) {
            let end = comment_end(s, skip_splices(s, i + 1));
            let text = s.get(i..end).unwrap_or_default();
            if text.windows(SPDX.len()).any(|w| w == SPDX) {
                if pending && !sep {
                    out.push(b' ');
                }
                out.extend_from_slice(text);
                (pending, sep) = (false, false);
            } else {
                pending = true;
                let block = after_slash == Some(&b'*');
                for _ in text.iter().filter(|&&b| b == b'\n') {
                    if block && directive {
                        if !sep {
                            out.push(b' ');
                        }
                        out.push(b'\\');
                    }
                    out.push(b'\n');
                    sep = true;
                }
            }
            i = end;
        } else {
            if pending && !sep {
                out.push(b' ');
            }
            if !tokens {
                (tokens, directive) = (true, c == b'#');
            }
            let end = match c {
                b'"' | b'\'' => literal_end(s, i, c, true),
                b'<' if directive
                    && takes_header_name(out.get(line_start..).unwrap_or_default()) =>
                {
                    literal_end(s, i, b'>', false)
                }
                _ => i + 1,
            };
            out.extend_from_slice(s.get(i..end).unwrap_or_default());
            (pending, sep) = (false, false);
            i = end;
        }
    }
    if s.last().is_some_and(|&c| c != b'\n') && out.last() == Some(&b'\n') {
        out.push(b' ');
    }
    out
}
