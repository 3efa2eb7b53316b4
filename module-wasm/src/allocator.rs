//! The core's global allocator in the browser: talc, in place of the standard library's
//! dlmalloc.
//!
//! Decision (issue 11, size): dlmalloc was 7.2 KB of the .wasm; talc's single-threaded
//! WebAssembly allocator does the same job in less (the bytes are in docs/BENCHMARKS.md).
//! It is built by a safe `const fn` (`new_wasm_dynamic_allocator`, which refuses to build
//! anywhere but single-threaded WebAssembly), so the crate's `forbid(unsafe_code)` holds.
//!
//! Fragmentation over a long session: talc, like dlmalloc, is a boundary-tag allocator
//! that merges a freed chunk with its free neighbours at once and takes the first fit
//! from size bins, and `WasmGrowAndExtend` extends the one heap when memory grows instead
//! of starting a new one. The core's allocations are short-lived (a frame's text, its
//! parsed value, the commands of one input) beside a few long-lived, small structures,
//! so freed memory is reused rather than left in holes. Judged by the browser test
//! `long_session_memory_stays_flat` (tests/browser_memory.rs): 1000 turns of varied
//! sizes grow the wasm memory from 1,310,720 to 1,507,328 bytes, then 4000 more turns
//! add not one page; dlmalloc gave the very same three figures on the same test.
//!
//! On the host (tests), the system allocator is used.

#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
