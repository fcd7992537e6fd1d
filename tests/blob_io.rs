// SPDX-License-Identifier: GPL-2.0
//! Host tests of the read and seek arithmetic the kernel module uses.

use kheaders::blob_io::{read_range, seek, SeekError, Whence};
use proptest::prelude::*;

#[test]
fn read_inside_at_and_past_the_end() {
    assert_eq!(read_range(0, 10, 100), Some(0..10));
    assert_eq!(read_range(95, 10, 100), Some(95..100));
    assert_eq!(read_range(100, 10, 100), Some(100..100));
    assert_eq!(read_range(1 << 40, 10, 100), Some(100..100));
    assert_eq!(read_range(0, usize::MAX, 100), Some(0..100));
    assert_eq!(read_range(-1, 10, 100), None);
    assert_eq!(read_range(0, 0, 0), Some(0..0));
}

#[test]
fn seek_each_whence() {
    assert_eq!(seek(5, 7, Whence::Set, 100), Ok(7));
    assert_eq!(seek(5, 7, Whence::Cur, 100), Ok(12));
    assert_eq!(seek(5, -5, Whence::Cur, 100), Ok(0));
    assert_eq!(seek(5, -10, Whence::End, 100), Ok(90));
    assert_eq!(
        seek(5, 10, Whence::End, 100),
        Ok(110),
        "past the end is allowed"
    );
    assert_eq!(seek(5, 10, Whence::Data, 100), Ok(10));
    assert_eq!(seek(5, 10, Whence::Hole, 100), Ok(100));
}

#[test]
fn seek_refusals() {
    assert_eq!(seek(5, -1, Whence::Set, 100), Err(SeekError::Invalid));
    assert_eq!(seek(5, -6, Whence::Cur, 100), Err(SeekError::Invalid));
    assert_eq!(seek(5, -101, Whence::End, 100), Err(SeekError::Invalid));
    assert_eq!(seek(i64::MAX, 1, Whence::Cur, 100), Err(SeekError::Invalid));
    assert_eq!(seek(0, i64::MAX, Whence::End, 100), Err(SeekError::Invalid));
    assert_eq!(seek(0, 100, Whence::Data, 100), Err(SeekError::NoData));
    assert_eq!(seek(0, 100, Whence::Hole, 100), Err(SeekError::NoData));
    assert_eq!(seek(0, -1, Whence::Data, 100), Err(SeekError::Invalid));
}

proptest! {
    /// Any read stays inside the blob and returns exactly what a slice of it would.
    #[test]
    fn read_matches_slice_semantics(pos in -10i64..300, count in 0usize..400, size in 0usize..200) {
        let blob: Vec<u8> = (0..size).map(|i| i as u8).collect();
        match read_range(pos, count, size) {
            None => prop_assert!(pos < 0),
            Some(r) => {
                prop_assert!(r.start <= r.end && r.end <= size);
                let expected: Vec<u8> = blob.iter().copied().skip(pos as usize).take(count).collect();
                prop_assert_eq!(&blob[r], &expected[..]);
            }
        }
    }

    /// Sequential reads in chunks of any size reassemble the blob exactly.
    #[test]
    fn chunked_reads_reassemble(size in 0usize..5000, chunk in 1usize..700) {
        let blob: Vec<u8> = (0..size).map(|i| (i * 7) as u8).collect();
        let (mut pos, mut out) = (0i64, Vec::new());
        loop {
            let r = read_range(pos, chunk, size).unwrap();
            if r.is_empty() { break; }
            pos += r.len() as i64;
            out.extend_from_slice(&blob[r]);
        }
        prop_assert_eq!(out, blob);
    }

    /// lseek never yields a negative offset, and agrees with plain arithmetic when it succeeds.
    #[test]
    fn seek_is_plain_arithmetic(pos in 0i64..1000, off in any::<i64>(), size in 0i64..1000) {
        for (w, base) in [(Whence::Set, Some(0)), (Whence::Cur, Some(pos)), (Whence::End, Some(size))] {
            let want = base.and_then(|b: i64| b.checked_add(off)).filter(|n| *n >= 0);
            prop_assert_eq!(seek(pos, off, w, size).ok(), want);
        }
    }
}
