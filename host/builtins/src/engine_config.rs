//! The one wasmtime configuration of the plugin host. The build script precompiles the
//! built-in components with it and the runtime creates its engine with it, so the
//! precompiled artifacts are compatible with the engine that loads them.

use wasmtime::{Config, InstanceAllocationStrategy, PoolingAllocationConfig};

/// The largest linear memory any plugin instance may grow to, in bytes. A deployment can
/// set a lower limit per plugin; this is the ceiling the pooling allocator reserves.
pub const MAX_MEMORY_BYTES: usize = 1 << 30;

/// How many component instances (one per running WASM step) may exist at once.
pub const MAX_CONCURRENT_INSTANCES: u32 = 128;

/// The engine configuration: component model, epoch interruption for deadlines and stop
/// requests, and (when `pooling`) the pooling allocator so each step's fresh instance is
/// cheap. `pooling` does not change the compiled code, only how instances get memory.
pub fn engine_config(pooling: bool) -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.parallel_compilation(true);
    if pooling {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(MAX_CONCURRENT_INSTANCES)
            .total_core_instances(MAX_CONCURRENT_INSTANCES * 4)
            .total_memories(MAX_CONCURRENT_INSTANCES * 2)
            .total_tables(MAX_CONCURRENT_INSTANCES * 4)
            .total_stacks(MAX_CONCURRENT_INSTANCES)
            .max_memory_size(MAX_MEMORY_BYTES);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    config
}
