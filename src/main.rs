//! The `i2k` binary: the heap's allocator, then `cli::main`.

/// jemalloc serves Rust's heap. glibc's malloc took a quarter of i2k's CPU in the engine-bound
/// profile (`_int_malloc`, `malloc_consolidate`, `unlink_chunk`, `free`: JSON trees and bodies
/// built on one thread and freed on another); jemalloc's thread caches and size classes took
/// engine-bound `medium` from 140–157 s of i2k CPU to 108–120 s (BENCHMARKS.md, stop 22).
/// SQLite keeps glibc's malloc, tuned in `cli::tune_malloc`.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read before `main` (the variable `_RJEM_MALLOC_CONF` still overrides
/// them): four arenas rather than eight per core, and freed pages given back to the system
/// after a second rather than ten, which keeps peak RSS near glibc's (128 MiB on `medium`
/// against 142 MiB with jemalloc's defaults) at no measurable cost in CPU.
#[unsafe(export_name = "_rjem_malloc_conf")]
static JEMALLOC_CONF: MallocConf =
    MallocConf(c"narenas:4,dirty_decay_ms:1000,muzzy_decay_ms:0".as_ptr());

/// A C string pointer jemalloc reads as its `malloc_conf` (`const char *`).
#[repr(transparent)]
struct MallocConf(*const std::ffi::c_char);

// SAFETY: the pointer is to a static, immutable C string literal.
unsafe impl Sync for MallocConf {}

fn main() -> std::process::ExitCode {
    i2k::cli::main()
}
