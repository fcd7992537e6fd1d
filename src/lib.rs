// SPDX-License-Identifier: GPL-2.0
//! Host view of the kheaders crate: the `no_std` logic that the kernel module includes, built
//! here so `cargo test` can exercise it. The packer lives in `src/pack/` and runs from `build.rs`.
#![no_std]

pub mod blob_io;
