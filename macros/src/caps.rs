//! The capability names, from the same table the runtime uses (`core/src/caps.in`).

macro_rules! cap_table {
    ($($num:literal $name:ident $text:literal $desc:literal;)*) => {
        /// (libcap name, number) of every capability the library names.
        #[allow(dead_code)]
        pub(crate) const CAPS: &[(&str, u8)] = &[$(($text, $num)),*];
    };
}
include!("../../core/src/caps.in");
