use capscope::requires_caps;
use std::fmt::Debug;

#[requires_caps(chown)]
fn generic<'a, T, U: Clone, const N: usize>(t: &'a T, u: U, arr: [u8; N]) -> capscope::Result<(&'a T, U, usize)>
where
    T: Debug + ?Sized,
{
    Ok((t, u, arr.len()))
}

#[requires_caps(chown)]
async fn generic_async<T: Send>(t: T) -> capscope::Result<T>
where
    T: Debug,
{
    Ok(t)
}

/// # Safety
/// `p` must be valid.
#[requires_caps(chown)]
unsafe fn unsafe_fn(p: *const u8) -> u8 {
    unsafe { *p }
}

fn assert_send<F: std::future::Future + Send>(_: F) {}

fn main() {
    let _ = generic::<str, u8, 2>;
    assert_send(generic_async(5u8));
    let _ = unsafe_fn;
}
