# SPDX-License-Identifier: GPL-2.0
# kheaders: build the module against a kernel build tree, as any external module.
#
#   make [KDIR=<kernel build tree>] [LLVM=1] [ARCH=...] [CROSS_COMPILE=...]   build kheaders.ko
#   make modules_install [INSTALL_MOD_PATH=...]                             install it
#   make dkms-src                                                          DKMS source tree, packer prebuilt
#   make deb                                                               kheaders-dkms .deb (debhelper, dh-dkms)
#   make symbol-list                                                       the symbols kheaders.ko imports (GKI list)
#   make tree_install [DESTDIR=...]                                        install kheaders-tree (README)
#   make test | test-reliability | test-debian | test-7.3 | test-arm64 | test-riscv64 | test-gki | test-fresh | test-all
#   make demo | bench | test-kernel | clean
#
# KDIR defaults to the running kernel's /lib/modules/$(uname -r)/build. Before Kbuild runs,
# `cargo build` runs build.rs, which packs the tree's headers and build artifacts into
# target/kheaders/kheaders.tar.xz (only rewritten when an input changed); Kbuild links it in.
# A headers tree with Rust but without its Rust files (Debian's) is first completed by
# scripts/kernel-rust, from the kernel's source (docs/debian.md).

KDIR ?= /lib/modules/$(shell uname -r)/build
kdir := $(abspath $(KDIR))
# A headers tree with CONFIG_RUST=y but without the kernel crate's metadata (Debian's headers ship
# no rust/): the module is built against our tree instead, the headers plus the Rust files rebuilt
# from the kernel's source by scripts/kernel-rust (docs/debian.md). The tree's settings are read
# from KDIR itself (that tree is a copy of it), since the tree may not be made yet.
ifeq ($(wildcard $(kdir)/rust/libkernel.rmeta),)
ifneq ($(and $(wildcard $(kdir)/.config),$(wildcard $(kdir)/Module.symvers),$(shell grep -sx 'CONFIG_RUST=y' $(kdir)/.config)),)
kernel_rust := $(kdir)
kdir := $(shell $(CURDIR)/scripts/kernel-rust --where $(kdir))
endif
endif
blob := $(CURDIR)/target/kheaders/kheaders.tar.xz
CARGO ?= cargo
RUSTC ?= rustc
BINDGEN ?= bindgen
# The DKMS tree (make dkms-src, the .deb) carries the packer prebuilt: build.rs compiled once, as
# kheaders-pack. It is run instead of cargo, so DKMS needs no cargo and no crates.
packer := $(wildcard $(CURDIR)/kheaders-pack)

# The tree's own settings decide the toolchain: a kernel built with clang needs LLVM=1.
autoconf := $(or $(kernel_rust),$(kdir))/include/config/auto.conf
# With several LLVMs installed, the one of the kernel's major version: LLVM=1 when plain `clang`
# is that version (a distribution's default, or Android's clang prebuilt first on PATH), else
# LLVM=-<major> when clang-<major> exists (Debian's suffixed names). The archive's GNUmakefile
# makes the same choice on the machine that uses the archive.
clang_major := $(shell sed -n 's/^CONFIG_CLANG_VERSION=\([0-9]*\)[0-9][0-9][0-9][0-9]$$/\1/p' $(autoconf) 2>/dev/null)
ifeq ($(origin LLVM),undefined)
ifneq ($(shell grep -sx 'CONFIG_CC_IS_CLANG=y' $(autoconf)),)
LLVM := $(if $(filter $(clang_major),$(shell clang -dumpversion 2>/dev/null | cut -d. -f1)),1,$(if $(shell command -v clang-$(clang_major)),-$(clang_major),1))
export LLVM
endif
endif

# bindgen (procfs bindings) must load the libclang of the kernel's clang: with several LLVMs
# installed it picks the newest, which may reject flags the kernel's older clang needs.
ifeq ($(origin LIBCLANG_PATH),undefined)
ifneq ($(clang_major),)
ifneq ($(wildcard /usr/lib/llvm-$(clang_major)/lib),)
export LIBCLANG_PATH := /usr/lib/llvm-$(clang_major)/lib
endif
endif
endif

# Machine names to the kernel's arch directory, as its SUBARCH does (uname -m: aarch64, riscv64).
srcarch = $(strip $(if $(filter x86_64 i386,$(1)),x86,$(if $(filter aarch64,$(1)),arm64,$(if $(filter riscv32 riscv64,$(1)),riscv,$(1)))))
# auto.conf carries the same `# Linux/<arch>` line as .config, which headers packages leave out.
tree_arch = $(call srcarch,$(shell sed -n 's|^# Linux/\([^ ]*\) .*|\1|p' $(autoconf) 2>/dev/null))
# The source tree: O= build trees link to it; headers packages are one tree.
srctree := $(if $(wildcard $(kdir)/source),$(realpath $(kdir)/source),$(kdir))
bindgen_mk := $(CURDIR)/target/kheaders/bindgen.mk
# The kernel crate's metadata only loads in the rustc that wrote it.
rustc_want := $(shell sed -n 's/^CONFIG_RUSTC_VERSION_TEXT="\{0,1\}\([^"]*\)"\{0,1\}$$/\1/p' $(autoconf) 2>/dev/null)
rustc_have := $(shell $(RUSTC) --version 2>/dev/null)

.PHONY: all modules modules_install clean check-kdir kernel-rust pack bindgen-rules dkms-src deb tree_install symbol-list test test-reliability test-debian test-all test-7.3 demo bench test-kernel test-arm64 test-riscv64 test-gki test-fresh soak print-llvm help

# dkms appends CC=clang LD=ld.lld for a clang-built kernel; with LLVM=-<major> those plain names
# would be another clang: pass on the suffixed ones.
ifneq ($(filter -%,$(LLVM)),)
kbuild-tools := $(if $(filter clang,$(CC)),CC=clang$(LLVM)) $(if $(filter ld.lld,$(LD)),LD=ld.lld$(LLVM))
endif

all modules: pack bindgen-rules
	$(MAKE) -C $(kdir) M=$(CURDIR) $(kbuild-tools) modules

# The symbols kheaders.ko imports, as a GKI symbol list (`[abi_symbol_list]`, one name a line,
# indented): what a vendor adds to their list so that a kernel whose exports are trimmed to the
# list (TRIM_UNUSED_KSYMS, kleaf's KMI list) loads it (README, Android). Only the list goes to
# stdout; the build's output goes to stderr.
symbol-list:
	@$(MAKE) --no-print-directory all >&2
	@printf '[abi_symbol_list]\n'; $(or $(NM),$(if $(LLVM),$(if $(filter %/,$(LLVM)),$(LLVM))llvm-nm$(filter -%,$(LLVM)),$(CROSS_COMPILE)nm)) -u kheaders.ko | awk '{ print "  " $$NF }' | LC_ALL=C sort -u

modules_install: check-kdir
	$(MAKE) -C $(kdir) M=$(CURDIR) modules_install

# One clear message for each way a KDIR can be wrong, before anything is written. A build tree
# or a distribution's headers tree (linux-headers: no .config, no sources) both do.
check-kdir: $(if $(kernel_rust),kernel-rust)
	@test -d "$(kdir)" || { echo "kheaders: error: KDIR $(kdir) does not exist; give KDIR=<kernel build tree> (scripts/test-kernel prints one)" >&2; exit 1; }
	@test -f "$(kdir)/.config" -o -f "$(autoconf)" || { echo "kheaders: error: $(kdir) is not a configured kernel tree (no .config): configure and build it first" >&2; exit 1; }
	@test -f "$(autoconf)" -a -f "$(kdir)/Module.symvers" || { echo "kheaders: error: $(kdir) was configured but not built (no include/config/auto.conf or Module.symvers): run make there first" >&2; exit 1; }
	@grep -qx 'CONFIG_RUST=y' "$(autoconf)" || { echo "kheaders: error: the kernel in $(kdir) has no CONFIG_RUST=y: kheaders is a Rust module and needs a kernel built with Rust support" >&2; exit 1; }
	@test -f "$(kdir)/rust/libkernel.rmeta" || { echo "kheaders: error: $(kdir) has CONFIG_RUST=y but no rust/libkernel.rmeta: build the kernel (make) before the module, or install the distribution's Rust files for it (Ubuntu: linux-lib-rust-<release>)" >&2; exit 1; }
	@$(if $(packer),$(packer) >/dev/null 2>&1 || { echo "kheaders: error: $(packer) does not run on this machine (made for another architecture?): run make dkms-src here" >&2; exit 1; },command -v $(CARGO) >/dev/null || { echo "kheaders: error: $(CARGO) not found: install Rust with rustup (for DKMS: as root, or cargo in /root/.cargo/bin)" >&2; exit 1; })
	@command -v $(BINDGEN) >/dev/null || { echo "kheaders: error: $(BINDGEN) not found: cargo install --locked bindgen-cli (the kernel's Rust build needs it too)" >&2; exit 1; }
	@test -z "$(rustc_want)" -o "$(rustc_have)" = "$(rustc_want)" || { echo "kheaders: error: the kernel's Rust crates were built by $(rustc_want), but $(RUSTC) is $(or $(rustc_have),not found): a Rust module needs that exact version (rustup toolchain install <version>, then rustup default or override)" >&2; exit 1; }
	@$(if $(ARCH),test "$(call srcarch,$(ARCH))" = "$(tree_arch)" || { echo "kheaders: error: ARCH=$(ARCH) but $(kdir) is configured for $(tree_arch)" >&2; exit 1; })

# Builds our tree the first time, checks it every time (one line if it cannot).
kernel-rust:
	@RUSTC=$(RUSTC) $(CURDIR)/scripts/kernel-rust $(kernel_rust) >/dev/null

# Cargo reruns build.rs when an input, a setting or the archive file itself changed. The prebuilt
# packer runs every time and rewrites nothing when nothing changed; its cargo: lines are for
# cargo, but for the warnings.
pack: check-kdir
ifeq ($(packer),)
	@KHEADERS_KDIR=$(kdir) KHEADERS_OUT=$(blob) KHEADERS_OUT_ID="$$(stat -c '%i %s %.9Y %.9Z' $(blob) 2>/dev/null)" \
		$(CARGO) build --quiet --lib
else
	@out=$$(KHEADERS_KDIR=$(kdir) KHEADERS_OUT=$(blob) $(packer)) || exit 1; \
		printf '%s\n' "$$out" | sed -n '/^cargo:warning=PACK /d; s/^cargo:warning=/kheaders: warning: /p' >&2
endif
	@if [ -f $(blob).packed ]; then cat $(blob).packed; rm -f $(blob).packed; fi

# How this kernel derives bindgen's C flags from its C flags (see scripts/bindgen-rules), for the
# procfs bindings Kbuild generates; rewritten only when it changed.
bindgen-rules: check-kdir
	@mkdir -p $(dir $(bindgen_mk))
	@scripts/bindgen-rules $(srctree) >$(bindgen_mk).tmp && { cmp -s $(bindgen_mk).tmp $(bindgen_mk) && rm -f $(bindgen_mk).tmp || mv -f $(bindgen_mk).tmp $(bindgen_mk); }

# kheaders-tree (also in every archive, at scripts/kheaders-tree): the archive as the running
# kernel's /lib/modules/<release>/build.
tree_install:
	install -D -m 0755 src/pack/files/kheaders-tree $(DESTDIR)/usr/local/sbin/kheaders-tree

# The tree to copy to /usr/src/kheaders-<version> for DKMS: builds with no network and no cargo
# (a kernel upgrade is often offline), with the packer prebuilt. See scripts/dkms-src.
dkms-src:
	@scripts/dkms-src
# The kheaders-dkms package, which installs that tree (scripts/deb, scripts/debian).
deb:
	@scripts/deb

clean:
	-$(if $(wildcard $(kdir)/Makefile),$(MAKE) -C $(kdir) M=$(CURDIR) clean)
	rm -rf target/kheaders src/proc_bindings.rs

test:
	scripts/test
# The reliability suites (debug kernel: KASAN, kmemleak, lockdep, fault injection) with the rest;
# scripts/test runs them only when that kernel is cached (docs/testing.md).
test-reliability:
	KHEADERS_DEBUG=1 scripts/test
# Debian 13's own kernel (7.3.4+deb13-amd64), booted, in a debootstrapped trixie root (docs/debian.md).
test-debian:
	scripts/test-debian
# Every suite, each target in turn (hours): what CI runs, then what it leaves to make targets.
test-all:
	$(MAKE) test-reliability
	$(MAKE) test-debian
	$(MAKE) test-7.3
	$(MAKE) test-arm64
	$(MAKE) test-riscv64
	$(MAKE) test-gki
	$(MAKE) test-gki KVER=6.12
	$(MAKE) test-fresh
	$(MAKE) soak
test-7.3:
	KVER=7.3 scripts/setup && KVER=7.3 scripts/test
demo:
	scripts/demo
bench:
	scripts/bench
test-kernel:
	@scripts/test-kernel
# arm64 and riscv64 end to end under QEMU (TCG); long, not part of `make test`.
test-arm64:
	scripts/test-cross --arch arm64
test-riscv64:
	scripts/test-cross --arch riscv64
# An Android GKI-class arm64 kernel (README, Android): 7.3 by default (MODVERSIONS), KVER=6.12 too.
test-gki:
	KVER=$(or $(KVER),7.3) scripts/setup && KVER=$(or $(KVER),7.3) scripts/test-cross --arch arm64 --flavour gki
# README's set-up on a pristine Debian 12 root (debootstrap + chroot); long, not part of `make test`.
test-fresh:
	scripts/test-fresh
# 1000 load/unload cycles with readers of both files (tests/vm/soak.sh) on the debug kernel
# (KASAN, kmemleak, lockdep), with a copy of the module built against it; long (README,
# Reliability), not part of `make test`. KHEADERS_SOAK_CYCLES, KHEADERS_SOAK_READERS.
soak:
	@set -e; kdir=$$(scripts/test-kernel path --flavour debug); dir=$(CURDIR)/target/variant-soak; \
	bash -c '. tests/lib.sh && copy_sources "$$1"' copy $$dir; \
	env -u LLVM -u LIBCLANG_PATH $(MAKE) -s -C $$dir KDIR=$$kdir; \
	KH_MODULE=$$dir/kheaders.ko KH_BLOB=$$dir/target/kheaders/kheaders.tar.xz KH_KDIR=$$kdir \
		scripts/vm-run --flavour debug --timeout 14400 -- tests/vm/soak.sh
# The LLVM= this tree needs, for scripts that build other modules against it.
print-llvm:
	@echo $(LLVM)
help:
	@sed -n '2,/^$$/s/^# \{0,1\}//p' Makefile
