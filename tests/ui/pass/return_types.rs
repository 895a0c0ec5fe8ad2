//! Every kind of return type compiles: aliases of `Result`, `Self`, generics with and without a
//! `Result` bound, `impl Trait` inside a `Result` and alone, `!`, references.
#![deny(warnings)]

use capscope::requires_caps;
use std::fmt::Display;

type Outcome = std::io::Result<()>;

#[requires_caps(net_raw)]
fn alias() -> Outcome {
    Ok(())
}

#[requires_caps(net_raw)]
async fn async_alias() -> Outcome {
    Ok(())
}

#[requires_caps(net_raw)]
fn generic<T: Default>() -> T {
    T::default()
}

#[requires_caps(net_raw)]
fn generic_result<T, E>(t: T) -> Result<T, E>
where
    E: From<capscope::Error>,
{
    Ok(t)
}

#[requires_caps(net_raw)]
fn impl_in_result() -> std::io::Result<impl Display> {
    Ok(5)
}

#[requires_caps(net_raw)]
async fn async_impl_in_result() -> std::io::Result<impl Display> {
    Ok(5)
}

#[requires_caps(net_raw)]
fn boxed() -> Result<Box<dyn Display>, capscope::Error> {
    Ok(Box::new(5))
}

#[requires_caps(net_raw)]
fn borrowed(s: &str) -> Result<&str, capscope::Error> {
    Ok(s)
}

#[requires_caps(net_raw)]
fn never() -> ! {
    std::process::exit(0)
}

#[requires_caps(net_raw)]
#[allow(unused_parens)] // the point of the case
fn parenthesized() -> (impl Display) {
    5
}

trait Make: Sized {
    fn make() -> Self;
    fn try_make() -> Result<Self, capscope::Error>;
}

struct Thing;

impl Make for Thing {
    #[requires_caps(net_raw)]
    fn make() -> Self {
        Thing
    }

    #[requires_caps(net_raw)]
    fn try_make() -> Result<Self, capscope::Error> {
        Ok(Thing)
    }
}

fn main() {
    let _ = (alias, async_alias, generic::<u8>, generic_result::<u8, capscope::Error>);
    let _ = (impl_in_result, async_impl_in_result, boxed, borrowed, never, parenthesized);
    let _ = (Thing::make, Thing::try_make);
}
