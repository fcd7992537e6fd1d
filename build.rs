// SPDX-License-Identifier: GPL-2.0
//! Cargo build script: packs the kernel tree named by `KHEADERS_KDIR` into the archive that
//! Kbuild links into kheaders.ko. Run by `make` (see Makefile); without `KHEADERS_KDIR` (plain
//! `cargo build` or `cargo test`) it does nothing. The packer itself is in src/pack/.

#[path = "src/pack/mod.rs"]
mod pack;

fn main() {
    if let Err(e) = pack::cargo_main() {
        eprintln!("kheaders: error: {e}");
        std::process::exit(1);
    }
}
