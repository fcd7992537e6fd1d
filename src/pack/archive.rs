// SPDX-License-Identifier: GPL-2.0
//! The archive's bytes: a tar with entries sorted by name, owner and group 0, modes 0644/0755
//! (0755 for directories), one mtime for all, no `./` prefix; compressed with xz. Nothing of the
//! build machine (paths, umask, users, time, directory order) reaches the output.

use super::tree::{self, read_beneath};
use super::{minify, Config, Data, Entry};
use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::fs;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::{Command, Stdio};
use xz2::stream::{Check, Filters, LzmaOptions, MtStreamBuilder};

/// liblzma's LZMA_PRESET_EXTREME (`xz -e`), which xz2 does not export.
const PRESET_EXTREME: u32 = 0x8000_0000;

/// LZMA2 dictionary: 16 MiB. Decompression needs about this much memory on the target (upstream's
/// `xz -6` archive needs 9 MiB); a larger dictionary would pack smaller but cost the target more.
const DICT: u32 = 16 << 20;
/// xz blocks are compressed in parallel; a fixed size keeps the output independent of the number
/// of CPUs. Each block starts with an empty dictionary, so blocks cost a little size.
const BLOCK: u64 = 32 << 20;

/// Returns the `.tar.xz` bytes and the size of the tar.
pub fn write(entries: &BTreeMap<String, Entry>, cfg: &Config) -> Result<(Vec<u8>, u64), String> {
    let tmp = super::with_suffix(&cfg.out, &format!(".strip{}", std::process::id()));
    if let Some(dir) = cfg.out.parent() {
        fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    let tar = tar(entries, cfg.mtime, &tmp).map_err(|e| format!("writing the tar: {e}"))?;
    let xz = xz(&tar).map_err(|e| format!("xz: {e}"))?;
    Ok((xz, tar.len() as u64))
}

fn io_err(name: &str) -> impl Fn(io::Error) -> String + '_ {
    move |e| format!("{name}: {e}")
}

fn tar(entries: &BTreeMap<String, Entry>, mtime: u64, tmp: &Path) -> Result<Vec<u8>, String> {
    // Every directory gets an entry of its own (mode 0755), before what is in it.
    let dirs: BTreeSet<&str> = entries
        .keys()
        .flat_map(|n| n.match_indices('/').map(|(i, _)| &n[..i]))
        .collect();
    let mut names: Vec<(&str, Option<&Entry>)> = dirs.into_iter().map(|d| (d, None)).collect();
    names.extend(entries.iter().map(|(n, e)| (n.as_str(), Some(e))));
    names.sort_by(|a, b| a.0.cmp(b.0));

    let mut b = tar::Builder::new(Vec::new());
    for (name, entry) in names {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(mtime);
        h.set_uid(0);
        h.set_gid(0);
        h.set_size(0);
        match entry.map(|e| (&e.data, e.mode)) {
            None => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                b.append_data(&mut h, format!("{name}/"), io::empty())
                    .map_err(io_err(name))?;
            }
            Some((Data::Link(target), _)) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_mode(0o777);
                b.append_link(&mut h, name, target).map_err(io_err(name))?;
            }
            Some((data, mode)) => {
                let bytes = match data {
                    Data::File {
                        root,
                        path,
                        minify,
                        size,
                        mtime_ns,
                    } => {
                        let raw = read(root, name, *size, *mtime_ns)
                            .map_err(|e| format!("{}: {e}", path.display()))?;
                        if *minify {
                            minify::minify(&raw)
                        } else if mode & 0o111 != 0 && raw.starts_with(b"\x7fELF") {
                            stripped(&raw, tmp).unwrap_or(raw)
                        } else {
                            raw
                        }
                    }
                    Data::Generated(bytes) => bytes.clone(),
                    Data::Link(_) => unreachable!("handled above"),
                };
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(mode);
                h.set_size(bytes.len() as u64);
                b.append_data(&mut h, name, &bytes[..])
                    .map_err(io_err(name))?;
            }
        }
    }
    b.into_inner().map_err(|e| e.to_string())
}

/// The file `name` beneath `root` as select saw it (size, mtime): else an error, for a tree that
/// changed while being packed (a build running in it, say), which would give a mixed archive.
fn read(root: &OwnedFd, name: &str, size: u64, mtime_ns: u128) -> Result<Vec<u8>, String> {
    let again = "the tree changed while it was being packed: run make again";
    let (data, meta) = read_beneath(root, name).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => format!("gone: {again}"),
        _ => e.to_string(),
    })?;
    if data.len() as u64 != size || meta.len() != size || tree::mtime_ns(&meta) != mtime_ns {
        return Err(format!("changed: {again}"));
    }
    Ok(data)
}

/// Host programs (fixdep, modpost, objtool, ...) go in without their symbol tables, which serve
/// nobody on the target (objtool: 579 kB -> 196 kB). Without a `strip` here, they go in as they
/// are. `strip` works on a copy of the bytes read, never on the tree's file.
fn stripped(raw: &[u8], tmp: &Path) -> Option<Vec<u8>> {
    let ok = fs::write(tmp, raw).is_ok()
        && ["strip", "llvm-strip"].iter().any(|tool| {
            Command::new(tool)
                .arg("-s")
                .arg(tmp)
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
    let data = if ok { fs::read(tmp).ok() } else { None };
    let _ = fs::remove_file(tmp);
    data
}

fn xz(data: &[u8]) -> Result<Vec<u8>, xz2::stream::Error> {
    // Preset 9e, then lc=4 pb=0: text wants more literal context and no position alignment.
    let mut opts = LzmaOptions::new_preset(9 | PRESET_EXTREME)?;
    opts.dict_size(DICT)
        .literal_context_bits(4)
        .literal_position_bits(0)
        .position_bits(0);
    let mut filters = Filters::new();
    filters.lzma2(&opts);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    let stream = MtStreamBuilder::new()
        .threads(threads)
        .block_size(BLOCK)
        .filters(filters)
        .check(Check::Crc64)
        .encoder()?;
    let mut enc = xz2::write::XzEncoder::new_stream(Vec::with_capacity(data.len() / 6), stream);
    let done = enc.write_all(data).and_then(|()| enc.finish());
    done.map_err(|_| xz2::stream::Error::Program)
}
