//! [`WasmEngine`]: the one wasmtime engine of the process, its epoch ticker, and loading of
//! components — built-ins from their embedded precompiled artifacts, other plugins compiled
//! once and cached under `$DAGU_HOME/cache/wasm`, keyed by the component's sha256 and the
//! engine's compatibility hash.

use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// How often the epoch advances: the granularity of deadlines and stop requests.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Why a component could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum WasmError {
    /// The engine could not be created.
    #[error("cannot start the WASM runtime: {0}")]
    Engine(String),
    /// The component file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The bytes are not a valid component, or compiling them failed.
    #[error("{what} is not a valid WASM component: {message}")]
    Compile { what: String, message: String },
    /// The component needs something it was not granted or the host does not provide.
    #[error("{0}")]
    Refused(String),
}

/// The process's wasmtime engine. Cheap to share; one per process.
pub struct WasmEngine {
    engine: Engine,
    /// Where compiled artifacts of non-built-in components are cached, if anywhere.
    cache_dir: Option<PathBuf>,
}

impl WasmEngine {
    /// The process's engine, created on first use with its epoch ticker; it caches
    /// nothing (see [`WasmEngine::with_cache_dir`]).
    pub fn shared() -> Result<Arc<WasmEngine>, WasmError> {
        static SHARED: OnceLock<Result<Arc<WasmEngine>, String>> = OnceLock::new();
        SHARED
            .get_or_init(|| WasmEngine::new().map(Arc::new))
            .clone()
            .map_err(WasmError::Engine)
    }

    /// The same engine, caching compiled components in `dir`.
    pub fn with_cache_dir(&self, dir: &Path) -> WasmEngine {
        WasmEngine {
            engine: self.engine.clone(),
            cache_dir: Some(dir.to_path_buf()),
        }
    }

    fn new() -> Result<WasmEngine, String> {
        // The pooling allocator reserves address space up front; where that is not
        // allowed (a low `ulimit -v`), fall back to allocating on demand.
        let engine = Engine::new(&dagu_builtins::engine_config(true))
            .or_else(|_| Engine::new(&dagu_builtins::engine_config(false)))
            .map_err(|e| e.to_string())?;
        let ticker = engine.weak();
        std::thread::Builder::new()
            .name("wasm-epoch".into())
            .spawn(move || {
                while let Some(engine) = ticker.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })
            .map_err(|e| e.to_string())?;
        Ok(WasmEngine {
            engine,
            cache_dir: None,
        })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// A built-in component: its precompiled artifact when it fits this machine, else
    /// the embedded component compiled now.
    pub fn builtin(&self, builtin: &dagu_builtins::Builtin) -> Result<Component, WasmError> {
        // SAFETY: the artifact was produced by `Engine::precompile_component` in this
        // crate's build and is embedded read-only in the binary; wasmtime checks that it
        // fits this engine's configuration and CPU before using it.
        match unsafe { Component::deserialize(&self.engine, builtin.precompiled) } {
            Ok(c) => Ok(c),
            Err(_) => self.compile(
                builtin.component,
                &format!("built-in plugin '{}'", builtin.name),
            ),
        }
    }

    /// A component from a file, compiled once and then loaded from the cache.
    pub fn load_file(&self, path: &Path) -> Result<Component, WasmError> {
        let bytes = fs::read(path).map_err(|source| WasmError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let what = path.display().to_string();
        let Some(cached) = self.cache_path(&bytes) else {
            return self.compile(&bytes, &what);
        };
        if cached.exists() {
            // SAFETY: files in the cache folder are written only by `store_in_cache` below
            // (atomically, in a folder only this user can write), from
            // `Engine::precompile_component` of these exact bytes (the name is their
            // sha256) with this engine's compatibility hash.
            if let Ok(c) = unsafe { Component::deserialize_file(&self.engine, &cached) } {
                return Ok(c);
            }
        }
        let compiled = self
            .engine
            .precompile_component(&bytes)
            .map_err(|e| compile_error(&what, e))?;
        let _ = store_in_cache(&cached, &compiled);
        // SAFETY: the bytes were just produced by this engine.
        unsafe { Component::deserialize(&self.engine, &compiled) }
            .map_err(|e| compile_error(&what, e))
    }

    fn compile(&self, bytes: &[u8], what: &str) -> Result<Component, WasmError> {
        Component::new(&self.engine, bytes).map_err(|e| compile_error(what, e))
    }

    /// `<cache>/<sha256 of the component>-<engine compatibility hash>.cwasm`.
    fn cache_path(&self, bytes: &[u8]) -> Option<PathBuf> {
        let dir = self.cache_dir.as_ref()?;
        let mut hasher = DefaultHasher::new();
        self.engine
            .precompile_compatibility_hash()
            .hash(&mut hasher);
        let digest = Sha256::digest(bytes);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        Some(dir.join(format!("{hex}-{:016x}.cwasm", hasher.finish())))
    }
}

fn compile_error(what: &str, e: wasmtime::Error) -> WasmError {
    WasmError::Compile {
        what: what.to_string(),
        message: format!("{e:#}"),
    }
}

/// Writes a compiled artifact: a private temporary file, fsynced, renamed into place.
fn store_in_cache(path: &Path, compiled: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let tmp = dir.join(format!(".{}.tmp", std::process::id()));
    let mut file = fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(compiled)?;
    file.sync_all()?;
    fs::rename(&tmp, path)
}
