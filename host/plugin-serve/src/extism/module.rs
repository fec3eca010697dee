//! What the module file is: a core WebAssembly module (not a component), and whether it
//! imports WASI (`wasi_snapshot_preview1`), which decides whether the plugin gets WASI at
//! all.

use wasmparser::{Encoding, Parser, Payload};

use crate::LoadError;

/// The import module of WASI preview 1, which the PDKs of Go, JavaScript, Python, ... and
/// Rust's `wasm32-wasip1` target import.
pub const WASI_PREVIEW1: &str = "wasi_snapshot_preview1";

/// Whether the core module `bytes` imports anything from [`WASI_PREVIEW1`]; an error when
/// the bytes are not a core module.
pub fn imports_wasi(bytes: &[u8]) -> Result<bool, LoadError> {
    let invalid =
        |e: wasmparser::BinaryReaderError| LoadError(format!("not a WebAssembly module: {e}"));
    let mut wasi = false;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.map_err(invalid)? {
            Payload::Version {
                encoding: Encoding::Component,
                ..
            } => {
                return Err(LoadError(
                    "this is a WebAssembly component; Extism runs core modules (use kind = \
                     \"wasm-component\" for a component)"
                        .into(),
                ));
            }
            Payload::ImportSection(imports) => {
                for import in imports.into_imports() {
                    wasi |= import.map_err(invalid)?.module == WASI_PREVIEW1;
                }
            }
            _ => {}
        }
    }
    Ok(wasi)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A module with one function import from `module`: magic, version, a type section
    /// with `() -> ()`, an import section with `module`.`f`.
    fn module_importing(module: &str) -> Vec<u8> {
        let mut bytes = b"\0asm\x01\0\0\0".to_vec();
        bytes.extend_from_slice(&[1, 4, 1, 0x60, 0, 0]);
        let mut import = vec![1, module.len() as u8];
        import.extend_from_slice(module.as_bytes());
        import.extend_from_slice(&[1, b'f', 0, 0]);
        bytes.push(2);
        bytes.push(import.len() as u8);
        bytes.extend_from_slice(&import);
        bytes
    }

    #[test]
    fn wasi_imports_are_seen() {
        assert!(imports_wasi(&module_importing(WASI_PREVIEW1)).unwrap());
        assert!(!imports_wasi(&module_importing("extism:host/env")).unwrap());
        assert!(!imports_wasi(b"\0asm\x01\0\0\0").unwrap());
    }

    #[test]
    fn components_and_garbage_are_refused() {
        let e = imports_wasi(b"\0asm\x0d\0\x01\0").unwrap_err();
        assert!(e.0.contains("component"), "{e}");
        let e = imports_wasi(b"#!/bin/sh\n").unwrap_err();
        assert!(e.0.starts_with("not a WebAssembly module"), "{e}");
    }
}
