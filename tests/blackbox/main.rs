//! Black-box tests of the `dagu` binary: each test gets a fresh `DAGU_HOME`.

mod examples;
mod support;
