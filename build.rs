// SPDX-License-Identifier: GPL-2.0
//! Cargo build script: packs the kernel tree named by `KHEADERS_KDIR` into the archive that
//! Kbuild links into kheaders.ko. Run by `make` (see Makefile); without `KHEADERS_KDIR` (plain
//! `cargo build` or `cargo test`) it does nothing. The packer itself is in src/pack/.
//!
//! It writes the archive to `KHEADERS_OUT` (target/kheaders/kheaders.tar.xz), not into Cargo's
//! `OUT_DIR`, whose path holds a hash: Kbuild links the archive in and the Makefile prints its
//! summary from there, and dkms and an out-of-tree Kbuild need a path they can name in advance.

#[path = "src/pack/mod.rs"]
mod pack;

fn main() {
    if let Err(e) = pack::cargo_main() {
        eprintln!("kheaders: error: {e}");
        std::process::exit(1);
    }
}
