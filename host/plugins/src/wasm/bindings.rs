//! Host bindings of the `step-plugin` world: the `host` interface the host implements
//! (log lines, cancellation) and the `plugin` interface it calls (`describe`, `run`).

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "step-plugin",
    exports: { default: async },
});

pub use dagu::plugin::types as wit;
pub use exports::dagu::plugin::plugin::Guest;
