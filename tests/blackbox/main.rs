//! Black-box tests of the `dagu` binary: each test gets a fresh `DAGU_HOME`.

mod support;

mod cli;
mod docker;
mod engine;
mod examples;
mod http_plugin;
mod loader;
mod plugin_serve;
mod plugins;
mod signals;
mod ssh;
mod steps;
mod store;
mod values;
