// SPDX-License-Identifier: GPL-2.0
//! Reading and seeking in a read-only, fixed-size blob: the arithmetic of a file read, with no
//! kernel in it. The kernel module includes this file; `cargo test` checks it on the host.

use core::ops::Range;

/// Why an offset was refused (the module turns both into kernel error codes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeekError {
    /// The resulting offset would be negative or overflow, or `whence` is unknown: `EINVAL`.
    Invalid,
    /// `SEEK_DATA` / `SEEK_HOLE` at or past the end: `ENXIO`, as for regular files.
    NoData,
}

/// Where an `lseek` counts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Whence {
    Set,
    Cur,
    End,
    /// Next data at or after the offset: the blob is all data, so the offset itself.
    Data,
    /// Next hole at or after the offset: only the implicit one at the end.
    Hole,
}

/// The bytes a read of `count` at `pos` returns from a blob of `size` bytes: empty at or past
/// the end, clamped at the end otherwise. `None` for a negative position.
pub fn read_range(pos: i64, count: usize, size: usize) -> Option<Range<usize>> {
    let start = usize::try_from(pos).ok()?.min(size);
    let end = start.saturating_add(count).min(size);
    Some(start..end)
}

/// The new file position after `lseek(offset, whence)` from `pos` in a blob of `size` bytes.
/// Seeking past the end is allowed (reads there return 0), as for regular files.
pub fn seek(pos: i64, offset: i64, whence: Whence, size: i64) -> Result<i64, SeekError> {
    let new = match whence {
        Whence::Set => Some(offset),
        Whence::Cur => pos.checked_add(offset),
        Whence::End => size.checked_add(offset),
        Whence::Data | Whence::Hole if offset < 0 => return Err(SeekError::Invalid),
        Whence::Data | Whence::Hole if offset >= size => return Err(SeekError::NoData),
        Whence::Data => Some(offset),
        Whence::Hole => Some(size),
    };
    match new {
        Some(n) if n >= 0 => Ok(n),
        _ => Err(SeekError::Invalid),
    }
}
