// SPDX-License-Identifier: GPL-2.0
//! C-aware header minifier (placeholder: owned by the minifier work, replaced there).

/// Returns `input` with comments removed and blanks collapsed, preserving line count.
pub fn minify(input: &[u8]) -> alloc_free::Bytes {
    input.to_vec()
}
mod alloc_free {
    pub type Bytes = Vec<u8>;
}
