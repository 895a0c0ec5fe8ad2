// User code that shadows the names the expansion relies on: a local `core` module, its own
// `Result` type and `Ok`/`Err`, `Option`, `From` and a `capscope` module.
#![allow(dead_code)]

mod core {
    pub mod result {
        pub enum Result {
            Ok,
            Err,
        }
    }
    pub fn concat() {}
}

mod capscope {}

#[derive(Debug)]
pub struct MyError;

impl ::std::convert::From<::capscope::Error> for MyError {
    fn from(_: ::capscope::Error) -> Self {
        MyError
    }
}

type Result<T> = std::result::Result<T, MyError>;

#[allow(non_camel_case_types)]
struct Ok;
#[allow(non_camel_case_types)]
struct Err;
trait From {}
struct Option;

#[::capscope::requires_caps(net_raw)]
fn uses_alias() -> Result<u8> {
    std::result::Result::Ok(1)
}

#[::capscope::requires_caps(net_raw)]
fn panics_on_missing() -> u8 {
    2
}

#[::capscope::requires_caps(net_raw)]
async fn async_alias() -> Result<u8> {
    std::result::Result::Ok(3)
}

#[::capscope::drop_caps_after(keep(net_raw))]
fn init() -> Result<()> {
    std::result::Result::Ok(())
}

fn main() {
    let _ = (uses_alias, panics_on_missing, async_alias, init);
}
