// SPDX-License-Identifier: GPL-2.0
//! Empty on purpose: the kernel module (`src/kheaders.rs`) is built by Kbuild, not Cargo.
//! `make` builds this library only to run `build.rs`, which packs the archive; the packer's
//! tests are in `tests/`.
#![no_std]
