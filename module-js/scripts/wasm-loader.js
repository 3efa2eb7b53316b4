// Loads the wasm-pack output (`wasm/`) relative to this file, so the module works under any
// Foundry route prefix. A dynamic import keeps a missing or broken wasm from failing the
// whole ES module: the entry point can then report the failure instead of dying silently.

/**
 * Import the wasm-bindgen glue and instantiate the wasm binary.
 * @returns {Promise<Function>} the `GoldBoxCore` class
 */
export async function loadGoldBoxCore() {
  const glueUrl = new URL("../wasm/gold_box_wasm.js", import.meta.url);
  const wasmUrl = new URL("../wasm/gold_box_wasm_bg.wasm", import.meta.url);
  const bindings = await import(glueUrl.href);
  await bindings.default({ module_or_path: wasmUrl });
  if (typeof bindings.GoldBoxCore !== "function") {
    throw new Error("gold_box_wasm.js does not export GoldBoxCore");
  }
  return bindings.GoldBoxCore;
}
