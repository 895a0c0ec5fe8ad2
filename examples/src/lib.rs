//! Runnable examples of capscope: see the `examples/` folder of this package.
//!
//! - `inspect`: print the calling thread's full capability state, as `capsh --print` does.
