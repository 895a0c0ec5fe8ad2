use capscope::{drop_caps_after, requires_caps};

#[derive(Debug)]
enum AppError {
    Caps,
    Parse,
}

impl From<capscope::Error> for AppError {
    fn from(_: capscope::Error) -> Self {
        AppError::Caps
    }
}

impl From<std::num::ParseIntError> for AppError {
    fn from(_: std::num::ParseIntError) -> Self {
        AppError::Parse
    }
}

#[requires_caps(net_raw)]
fn parse(text: &str) -> Result<u32, AppError> {
    if text.is_empty() {
        return Ok(0);
    }
    let n: u32 = text.parse()?;
    Ok(n)
}

#[requires_caps(net_raw)]
async fn parse_async(text: &str) -> Result<u32, AppError> {
    if text.is_empty() {
        return Ok(0);
    }
    let n: u32 = text.parse()?;
    Ok(n)
}

#[requires_caps(net_raw)]
fn diverges() -> ! {
    loop {}
}

#[drop_caps_after]
fn init(text: &str) -> Result<u32, AppError> {
    if text.is_empty() {
        return Ok(0);
    }
    Ok(text.parse()?)
}

fn main() {
    let _ = (parse, parse_async, diverges, init);
    let _ = (AppError::Caps, AppError::Parse);
}
