// SPDX-License-Identifier: GPL-2.0
//! A Rust module for the tests, built against the extracted kheaders archive only.

use kernel::prelude::*;

module! {
    type: RustHello,
    name: "rust_hello",
    description: "Rust module built from /proc/kheaders.tar.xz",
    license: "GPL",
}

struct RustHello;

impl kernel::Module for RustHello {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        pr_info!("rust hello from a module built against kheaders\n");
        Ok(RustHello)
    }
}
